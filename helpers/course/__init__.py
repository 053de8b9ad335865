"""Course: what the notebooks need around the methods.

- :mod:`~helpers.course.data`: offline MNIST from ``data/``; the breast-cancer table from scikit-learn.
- :mod:`~helpers.course.models`: ``SimpleCNN``, ``DeeperCNN``, ``TabularMLP``, training, the shipped weights.
- :mod:`~helpers.course.plotting`: the course's figure style, original | map | overlay figures, grids,
  feature bars, the digit's outline and result tables.
- :mod:`~helpers.course.widgets`: the interactive explorer.
- :mod:`~helpers.course.environment`: the set-up cell every notebook starts with.
- :mod:`~helpers.course.feedback`: exercises that answer back (the ``feedback`` cells).
"""

from helpers.course.data import (
    DATA_DIR,
    MARK_POSITIONS,
    MARK_SIZE,
    MNIST_MD5,
    ShortcutMNIST,
    Table,
    breast_cancer,
    mnist,
    prepare_mnist,
    shortcut_mnist,
)
from helpers.course.environment import environment_problems, setup
from helpers.course.feedback import Exercise, Feedback, Reference
from helpers.course.models import (
    PRETRAINED,
    RECIPES,
    DeeperCNN,
    SimpleCNN,
    TabularMLP,
    accuracy,
    load_pretrained,
    predict,
    train,
    train_reference_model,
)
from helpers.course.plotting import (
    COLUMN_WIDTH,
    COURSE_STYLE,
    FIGURE_DPI,
    INK_THRESHOLD,
    MAP_CMAP,
    SIGNED_CMAP,
    ResultTable,
    draw_explanation,
    draw_outline,
    plot_feature_bars,
    plot_map,
    show_explanation,
    show_grid,
    show_table,
    to_image,
)
from helpers.course.widgets import EXPLORER_METHODS, REDUCTION_LABELS, Explorer, ExplorerMethod, explorer

__all__ = [
    "COLUMN_WIDTH",
    "COURSE_STYLE",
    "DATA_DIR",
    "EXPLORER_METHODS",
    "FIGURE_DPI",
    "INK_THRESHOLD",
    "MAP_CMAP",
    "MARK_POSITIONS",
    "MARK_SIZE",
    "MNIST_MD5",
    "PRETRAINED",
    "RECIPES",
    "REDUCTION_LABELS",
    "SIGNED_CMAP",
    "DeeperCNN",
    "Exercise",
    "Explorer",
    "ExplorerMethod",
    "Feedback",
    "Reference",
    "ResultTable",
    "ShortcutMNIST",
    "SimpleCNN",
    "Table",
    "TabularMLP",
    "accuracy",
    "breast_cancer",
    "draw_explanation",
    "draw_outline",
    "environment_problems",
    "explorer",
    "load_pretrained",
    "mnist",
    "plot_feature_bars",
    "plot_map",
    "predict",
    "prepare_mnist",
    "setup",
    "shortcut_mnist",
    "show_explanation",
    "show_grid",
    "show_table",
    "to_image",
    "train",
    "train_reference_model",
]
