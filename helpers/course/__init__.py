"""Course: what the notebooks need around the methods.

- :mod:`~helpers.course.data`: offline MNIST from ``data/``; the breast-cancer table from scikit-learn.
- :mod:`~helpers.course.models`: ``SimpleCNN``, ``TabularMLP``, training, the shipped weights.
- :mod:`~helpers.course.plotting`: original | map | overlay figures, grids and feature bars.
- :mod:`~helpers.course.widgets`: the interactive explorer.
- :mod:`~helpers.course.environment`: the set-up cell every notebook starts with.
"""

from helpers.course.data import DATA_DIR, MNIST_MD5, Table, breast_cancer, mnist, prepare_mnist
from helpers.course.environment import environment_problems, setup
from helpers.course.models import (
    PRETRAINED_PATH,
    REFERENCE_RECIPE,
    SimpleCNN,
    TabularMLP,
    accuracy,
    load_pretrained,
    predict,
    train,
    train_reference_model,
)
from helpers.course.plotting import (
    MAP_CMAP,
    SIGNED_CMAP,
    draw_explanation,
    plot_feature_bars,
    plot_map,
    show_explanation,
    show_grid,
    to_image,
)
from helpers.course.widgets import EXPLORER_METHODS, REDUCTION_LABELS, Explorer, ExplorerMethod, explorer

__all__ = [
    "DATA_DIR",
    "EXPLORER_METHODS",
    "MAP_CMAP",
    "MNIST_MD5",
    "PRETRAINED_PATH",
    "REDUCTION_LABELS",
    "REFERENCE_RECIPE",
    "SIGNED_CMAP",
    "Explorer",
    "ExplorerMethod",
    "SimpleCNN",
    "Table",
    "TabularMLP",
    "accuracy",
    "breast_cancer",
    "draw_explanation",
    "environment_problems",
    "explorer",
    "load_pretrained",
    "mnist",
    "plot_feature_bars",
    "plot_map",
    "predict",
    "prepare_mnist",
    "setup",
    "show_explanation",
    "show_grid",
    "to_image",
    "train",
    "train_reference_model",
]
