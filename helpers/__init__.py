"""Helpers for the course "Explaining an image classifier: saliency maps, LIME and SHAP".

One module per concept:

- :mod:`helpers.data`: offline MNIST from ``data/``; the breast-cancer table from scikit-learn.
- :mod:`helpers.models`: the seed's ``SimpleCNN``, a ``TabularMLP``, training, the shipped weights.
- :mod:`helpers.saliency`: M(x) = |dS_c(x)/dx| for a batch in one backward pass.
- :mod:`helpers.gradient_methods`: SmoothGrad, Gradient x Input, Integrated Gradients.
- :mod:`helpers.randomization`: randomised model copies for sanity checks.
- :mod:`helpers.similarity`: rank correlation, SSIM and top-k overlap of maps.
- :mod:`helpers.adapters`: the NumPy prediction function LIME and SHAP call.
- :mod:`helpers.segmentation`: grid superpixels and masking.
- :mod:`helpers.lime_maps`, :mod:`helpers.shap_maps`: LIME and SHAP for image batches and tables.
- :mod:`helpers.metrics`: cost counting and deletion/insertion curves.
- :mod:`helpers.plotting`: original | map | overlay figures, grids and feature bars.
- :mod:`helpers.environment`: the set-up cell every notebook starts with.
"""

from helpers.data import DATA_DIR, mnist, prepare_mnist
from helpers.environment import setup
from helpers.gradient_methods import gradient_x_input, integrated_gradients, smoothgrad
from helpers.models import SimpleCNN, accuracy, load_pretrained, predict, train
from helpers.plotting import show_explanation, show_grid
from helpers.saliency import saliency

__all__ = [
    "DATA_DIR",
    "SimpleCNN",
    "accuracy",
    "load_pretrained",
    "mnist",
    "predict",
    "prepare_mnist",
    "saliency",
    "setup",
    "show_explanation",
    "show_grid",
    "train",
    "gradient_x_input",
    "integrated_gradients",
    "smoothgrad",
]
