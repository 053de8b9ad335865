"""Guided Grad-CAM (Selvaraju et al., 2017): Guided Backprop's sharp map masked by Grad-CAM's coarse one."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from helpers._checks import Target, check_images, check_model
from helpers._running import BATCH_SIZE
from helpers.explain.contrast import explain_contrast
from helpers.explain.grad_cam import coarse_grad_cam
from helpers.explain.guided_backprop import check_guidable, guided_backprop


def guided_grad_cam(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    *,
    contrast: Target = None,
    layer: nn.Module | None = None,
    batch_size: int = BATCH_SIZE,
) -> torch.Tensor:
    """Guided Grad-CAM: :func:`helpers.guided_backprop` times the upsampled :func:`helpers.grad_cam`, ``(N, C, H, W)``.

    Derived in notebook 04. Equal to Captum's ``GuidedGradCam(model, layer).attribute(x, target)``
    with its defaults, whose two choices are kept here: the Grad-CAM map is **rectified** (the
    ReLU of ``grad_cam(..., relu=True)``) and upsampled from ``(h, w)`` to ``(H, W)`` by
    **nearest** neighbour (``F.interpolate(map, (H, W), mode="nearest")``, Captum's
    ``interpolate_mode="nearest"``), not bilinearly as :func:`helpers.grad_cam` returns it; the
    ``(N, 1, H, W)`` map multiplies every channel of the guided gradient. Where the layer's maps
    have the input's size, the two upsamplings agree. The Grad-CAM gradient is the plain one, from
    its own pass: two forward and two backward passes per ``batch_size`` inputs.

    Args:
        model, target: as in :func:`helpers.saliency`; ``target=None`` explains each input's predicted
            class. ``model`` must use ``nn.ReLU`` modules (see :func:`helpers.guided_backprop`).
        contrast: as in :func:`helpers.saliency`: explain ``S_target - S_contrast`` instead of ``S_target``.
        x: image batch ``(N, C, H, W)``; not modified.
        layer: as in :func:`helpers.grad_cam` (``None``: the last convolution's ReLU).
        batch_size: inputs per forward and backward pass.

    Returns:
        A detached tensor with ``x``'s shape, dtype and device, signed like the guided gradient.

    Examples::

        >>> import torch
        >>> from torch import nn
        >>> from helpers import grad_cam, guided_backprop, guided_grad_cam
        >>> _ = torch.manual_seed(0)
        >>> model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3))
        >>> x = torch.rand(2, 1, 8, 8)  # the conv keeps 8 x 8, so no upsampling is needed
        >>> torch.allclose(guided_grad_cam(model, x, 1), guided_backprop(model, x, 1) * grad_cam(model, x, 1))
        True
    """
    if contrast is not None:
        return explain_contrast(guided_grad_cam, model, x, target, contrast, batch_size=batch_size, layer=layer)
    check_model(model)
    check_images(x, "x", why="Guided Grad-CAM upsamples a layer's feature maps to the input's height and width")
    check_guidable(model)  # before the Grad-CAM pass, not after it
    cam, classes = coarse_grad_cam(model, x, target, layer, True, batch_size)
    guided = guided_backprop(model, x, classes, batch_size=batch_size)
    return guided * F.interpolate(cam, size=tuple(x.shape[2:]), mode="nearest")
