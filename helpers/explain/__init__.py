"""Explain: methods that turn a model and an input into an attribution map.

- :mod:`~helpers.explain.saliency`: M(x) = |dS_c(x)/dx| for a batch in one backward pass.
- :mod:`~helpers.explain.gradient_methods`: SmoothGrad, Gradient x Input, Integrated Gradients.
- :mod:`~helpers.explain.grad_cam`: Grad-CAM, a layer's feature maps weighted by the class's mean gradient.
- :mod:`~helpers.explain.guided_backprop`: Guided Backprop, the gradient through guided ReLUs.
- :mod:`~helpers.explain.guided_grad_cam`: Guided Grad-CAM, the two multiplied.
- :mod:`~helpers.explain.occlusion`: occlusion, the logit's drop when a square is covered.
- :mod:`~helpers.explain.contrast`: ``contrast=``, every explainer's "why this class rather than that one?".
- :mod:`~helpers.explain.baselines`: reference inputs x' for Integrated Gradients (black, blurred, noise, mean).
- :mod:`~helpers.explain.lime_maps`: LIME on superpixels (images) or features (tables).
- :mod:`~helpers.explain.shap_maps`: Deep, Gradient and Kernel SHAP.
- :mod:`~helpers.explain.kernels`: the coalition weights of LIME and KernelSHAP.
- :mod:`~helpers.explain.adapters`: the NumPy prediction function LIME and SHAP call.
- :mod:`~helpers.explain.segmentation`: grid superpixels and masking.
"""

from helpers.explain._gradient import REDUCTIONS, Reduce
from helpers.explain.adapters import numpy_predictor, to_model_input
from helpers.explain.baselines import BASELINE_KINDS, BaselineKind, make_baseline
from helpers.explain.grad_cam import grad_cam
from helpers.explain.gradient_methods import gradient_x_input, integrated_gradients, smoothgrad
from helpers.explain.guided_backprop import guided_backprop
from helpers.explain.guided_grad_cam import guided_grad_cam
from helpers.explain.kernels import lime_kernel, shapley_kernel
from helpers.explain.lime_maps import LimeResult, QuietLimeImageExplainer, lime_map
from helpers.explain.occlusion import occlusion
from helpers.explain.saliency import saliency
from helpers.explain.segmentation import GridSegmentation, grid_segments, mask_segments, paint_segments
from helpers.explain.shap_maps import SHAP_METHODS, ShapMethod, ShapResult, shap_map

__all__ = [
    "BASELINE_KINDS",
    "REDUCTIONS",
    "SHAP_METHODS",
    "BaselineKind",
    "GridSegmentation",
    "LimeResult",
    "QuietLimeImageExplainer",
    "Reduce",
    "ShapMethod",
    "ShapResult",
    "grad_cam",
    "gradient_x_input",
    "grid_segments",
    "guided_backprop",
    "guided_grad_cam",
    "integrated_gradients",
    "lime_kernel",
    "lime_map",
    "make_baseline",
    "mask_segments",
    "numpy_predictor",
    "occlusion",
    "paint_segments",
    "saliency",
    "shap_map",
    "shapley_kernel",
    "smoothgrad",
    "to_model_input",
]
