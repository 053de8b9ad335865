"""Grad-CAM (Selvaraju et al., 2017): a layer's feature maps weighted by the class's average gradient."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from helpers._checks import Target, check_bool, check_images, check_int, check_model, resolve_target, target_indices
from helpers._running import BATCH_SIZE, call_model, evaluation_mode
from helpers.explain.contrast import explain_contrast


def resolve_layer(model: nn.Module, layer: object) -> nn.Module:
    """``layer`` if it is one of ``model``'s own modules; ``None`` picks the last convolution's rectified output.

    That is the first ``nn.ReLU`` after the last ``nn.Conv2d`` in ``model.modules()`` order, if
    one comes before any other module with parameters, and the ``nn.Conv2d`` itself otherwise.
    """
    if layer is None:
        modules = list(model.modules())
        convolutions = [index for index, module in enumerate(modules) if isinstance(module, nn.Conv2d)]
        if not convolutions:
            raise ValueError(
                "the model has no nn.Conv2d layer for Grad-CAM to default to; pass layer=, the module "
                "(inside the model) whose (N, C, h, w) output is weighed, e.g. layer=model.features[-1]."
            )
        last = convolutions[-1]
        for module in modules[last + 1 :]:
            if isinstance(module, nn.ReLU):
                return module
            if next(module.parameters(recurse=False), None) is not None:
                break
        return modules[last]
    if not isinstance(layer, nn.Module):
        raise TypeError(f"layer must be an nn.Module inside the model (e.g. model.conv3), got {type(layer).__name__}.")
    if not any(module is layer for module in model.modules()):
        raise ValueError(
            f"layer ({type(layer).__name__}) is not a module of this model: pass one of the model's own "
            "modules, e.g. model.conv3, not a copy of it or a layer of another model."
        )
    return layer


def coarse_grad_cam(
    model: nn.Module, x: torch.Tensor, target: Target, layer: object, relu: bool, batch_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM at the layer's own resolution: ``(cam, classes)``, ``cam`` of shape ``(N, 1, h, w)``.

    One forward and one backward pass per ``batch_size`` inputs; ``x`` is checked to be ``(N, C, H, W)``.
    """
    check_model(model)
    check_images(x, "x", why="Grad-CAM upsamples a layer's feature maps to the input's height and width")
    batch_size = check_int(batch_size, "batch_size")
    relu = check_bool(relu, "relu")
    indices = target_indices(target, len(x))
    module = resolve_layer(model, layer)
    if torch.is_inference_mode_enabled():
        raise RuntimeError(
            "gradients cannot be taken inside torch.inference_mode(); call this outside it (torch.no_grad() is fine)."
        )
    outputs: list[torch.Tensor] = []

    def keep(_: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
        if not isinstance(output, torch.Tensor):
            raise ValueError(
                f"Grad-CAM needs a layer that returns one tensor (N, C, h, w); layer "
                f"{type(module).__name__} returned {type(output).__name__}."
            )
        outputs.append(output)
        return output.clone()  # later in-place operations (a ReLU(inplace=True)) change the clone, not the kept maps

    cams, all_classes = [], []
    handle = module.register_forward_hook(keep)
    try:
        with evaluation_mode(model), torch.enable_grad():
            for start in range(0, len(x), batch_size):
                outputs.clear()
                inputs = x[start : start + batch_size].detach().clone().requires_grad_(True)
                logits = call_model(model, inputs)
                maps = _the_one_output(outputs, module, len(inputs))
                classes = resolve_target(None if indices is None else indices[start : start + batch_size], logits)
                score = logits.gather(1, classes[:, None]).sum()
                if score.requires_grad and maps.requires_grad:
                    (gradient,) = torch.autograd.grad(score, maps, allow_unused=True, materialize_grads=True)
                else:  # the score does not depend on the layer
                    gradient = torch.zeros_like(maps)
                weights = gradient.mean(dim=(2, 3), keepdim=True)  # alpha_k: one weight per channel
                cams.append((weights * maps.detach()).sum(dim=1, keepdim=True))
                all_classes.append(classes)
                outputs.clear()
    finally:
        handle.remove()
    cam = torch.cat(cams)
    return (F.relu(cam) if relu else cam), torch.cat(all_classes)


def _the_one_output(outputs: list[torch.Tensor], layer: nn.Module, n: int) -> torch.Tensor:
    """The layer's single ``(n, C, h, w)`` output of this forward pass; ``ValueError`` otherwise."""
    name = type(layer).__name__
    if not outputs:
        raise ValueError(
            f"layer ({name}) did not run in the model's forward pass, so it has no feature maps to weigh; "
            "pass a layer that forward() calls."
        )
    if len(outputs) > 1:
        raise ValueError(
            f"layer ({name}) ran {len(outputs)} times in one forward pass, so its feature maps are ambiguous; "
            "pass a layer used once (give each use its own module)."
        )
    (maps,) = outputs
    if maps.dim() != 4 or maps.shape[0] != n:
        raise ValueError(
            f"Grad-CAM needs a layer whose output is feature maps (N, C, h, w) = ({n}, C, h, w), but layer "
            f"({name}) returned shape {tuple(maps.shape)}; pass a convolutional layer (or its activation or pooling)."
        )
    return maps


def grad_cam(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    *,
    contrast: Target = None,
    layer: nn.Module | None = None,
    relu: bool = True,
    batch_size: int = BATCH_SIZE,
) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al., 2017) at ``layer``, upsampled to the input: ``(N, 1, H, W)``.

    Derived in notebook 04. With ``A`` the layer's output ``(N, K, h, w)`` and ``S_c`` the target's
    logit, each channel's weight is the spatial mean of its gradient,
    ``alpha_k = mean_ij dS_c/dA_kij``; the map is ``ReLU(sum_k alpha_k A_k)`` (``(N, 1, h, w)``),
    upsampled to the input's ``H x W`` by ``F.interpolate(map, (H, W), mode="bilinear")``
    (``align_corners=False``), exactly as Captum's ``LayerAttribution.interpolate(map, (H, W),
    "bilinear")`` does after ``LayerGradCam(model, layer).attribute(x, target,
    relu_attributions=relu)``. The ReLU is applied before upsampling. One forward and one backward
    pass per ``batch_size`` inputs; the layer's hook is removed afterwards, even when the call raises.

    Args:
        model, target: as in :func:`helpers.saliency`.
        contrast: as in :func:`helpers.saliency`: explain ``S_target - S_contrast`` instead of ``S_target``.
        x: image batch ``(N, C, H, W)``; neither its values nor its ``requires_grad`` change.
        layer: the module (inside ``model``, called once per forward pass) whose output ``(N, K, h, w)``
            is weighed. ``None``: the **rectified** output of the last ``nn.Conv2d`` in ``model.modules()``
            order, as in the paper (its ``A^k`` are the last convolution's activations after their ReLU):
            the first ``nn.ReLU`` after that convolution, if one comes before any other layer with
            parameters, else the convolution itself. For :class:`helpers.DeeperCNN` that is ``relu3``
            (7 x 7 maps), for :class:`helpers.SimpleCNN` ``relu`` (26 x 26). Pass ``model.conv3`` for
            the maps before the ReLU, which can be negative (notebook 04 compares the two).
        relu: keep only the positive evidence (``True``, the paper's map), or return the signed map.
        batch_size: inputs per forward and backward pass.

    Returns:
        A detached ``(N, 1, H, W)`` tensor of ``x``'s dtype and device.

    Examples::

        >>> import torch
        >>> from torch import nn
        >>> from helpers import grad_cam
        >>> conv = nn.Conv2d(1, 2, 1, bias=False)  # two channels: A_0 = x and A_1 = -x
        >>> head = nn.Linear(2, 2, bias=False)  # S_0 = mean(A_0), S_1 = mean(A_1)
        >>> with torch.no_grad():
        ...     _ = conv.weight.copy_(torch.tensor([1.0, -1.0]).reshape(2, 1, 1, 1))
        ...     _ = head.weight.copy_(torch.eye(2))
        >>> model = nn.Sequential(conv, nn.AdaptiveAvgPool2d(1), nn.Flatten(), head)
        >>> x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])  # alpha = (1/4, 0) for class 0: the map is x / 4
        >>> grad_cam(model, x, 0).squeeze()
        tensor([[0.2500, 0.5000],
                [0.7500, 1.0000]])
        >>> grad_cam(model, x, 1, relu=False).squeeze()  # class 1 weighs A_1 = -x: the map is -x / 4
        tensor([[-0.2500, -0.5000],
                [-0.7500, -1.0000]])
        >>> grad_cam(model, x, 1).max()  # all negative: nothing is left after the ReLU
        tensor(0.)
    """
    if contrast is not None:
        return explain_contrast(grad_cam, model, x, target, contrast, batch_size=batch_size, layer=layer, relu=relu)
    cam, _ = coarse_grad_cam(model, x, target, layer, relu, batch_size)
    return F.interpolate(cam, size=tuple(x.shape[2:]), mode="bilinear")
