"""SHAP (Lundberg & Lee, 2017) on image batches or tables, returned with the input's shape.

Three explainers, all explaining the model's logit for the target class:

- ``"deep"``: ``shap.DeepExplainer`` (DeepLIFT rules averaged over a background set);
- ``"gradient"``: ``shap.GradientExplainer`` (expected gradients: gradients at random
  points between background inputs and the input, times the difference);
- ``"kernel"``: ``shap.KernelExplainer`` (model-agnostic: it only calls the model). On
  images it works on a grid of superpixels, hidden ones set to ``fill``; on a table
  ``(N, F)`` on the features, hidden ones taken from the background rows.
"""

from __future__ import annotations

import copy
import warnings
from typing import Literal, NamedTuple

import numpy as np
import shap
import torch
from torch import nn

from helpers._checks import (
    Target,
    check_batch,
    check_choice,
    check_images_or_table,
    check_int,
    check_model,
    check_real,
    check_unit_range,
    resolve_target,
)
from helpers._random import cuda_devices, forked_global_rng
from helpers._running import BATCH_SIZE, batched_logits
from helpers.explain.adapters import numpy_predictor
from helpers.explain.contrast import explain_contrast
from helpers.explain.segmentation import grid_segments, mask_segments, paint_segments

ShapMethod = Literal["deep", "gradient", "kernel"]
SHAP_METHODS: tuple[str, ...] = ("deep", "gradient", "kernel")
"""The SHAP explainers :func:`shap_map` runs (see the module docstring)."""


class ShapResult(NamedTuple):
    """``maps``: SHAP values for the target logit, the input's shape (``(N, 1, H, W)`` or ``(N, F)``);
    ``base_values``: ``(N,)``.

    Local accuracy: ``maps[i].sum() == logit_target(x_i) - base_values[i]`` (exactly for
    ``"kernel"`` and, up to float error, ``"deep"``; approximately for ``"gradient"``).
    """

    maps: torch.Tensor
    base_values: np.ndarray


def shap_map(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    *,
    contrast: Target = None,
    method: ShapMethod = "deep",
    background: torch.Tensor | None = None,
    samples: int = 200,
    patch: int = 4,
    fill: float = 0.0,
    seed: int = 0,
    batch_size: int = BATCH_SIZE,
) -> ShapResult:
    """SHAP values of each input's target logit, with the input's shape.

    Derived in notebook 06 (Shapley values from scratch, then the three explainers) and
    used on a table in notebook 09.

    Args:
        model: classifier returning logits ``(N, classes)``. A copy is explained, so the
            caller's model (its modes, hooks and gradients) is never touched. For
            ``"deep"``, every activation must be a module of its own (one ``nn.ReLU`` per
            use, not ``F.relu`` in ``forward``): DeepExplainer only replaces the gradient
            of the non-linearities it sees as modules, and otherwise fails its check that
            the values add up.
        x: ``(N, 1, H, W)`` float image batch or ``(N, F)`` float table.
        target: as in :func:`helpers.saliency`; ``None`` for the predicted class.
        contrast: as in :func:`helpers.saliency`: the values then add up to the change of
            ``S_target - S_contrast`` from its base value.
        method: ``"deep"``, ``"gradient"`` or ``"kernel"`` (see the module docstring).
        background: reference inputs ``(B, 1, H, W)`` or ``(B, F)`` like ``x`` (e.g. 100
            training images or rows); their mean output is the base value. Needed by every
            method except ``"kernel"`` on images, which hides superpixels with ``fill`` instead.
        samples: samples per input for ``"gradient"`` and ``"kernel"``.
        patch: superpixel size for ``"kernel"`` on images (4 gives 49 on 28 x 28).
        fill: value of hidden superpixels for ``"kernel"`` on images, whose values must lie in
            [0, 1] (0 is black; the base value is the logit of an all-``fill`` image).
        seed: seeds SHAP's sampling; the caller's NumPy and torch random states are restored.
        batch_size: inputs per forward pass for ``"gradient"`` and ``"kernel"``.

    Returns:
        :class:`ShapResult`: maps with ``x``'s shape, and the base values.

    Examples::

        >>> import torch
        >>> from torch import nn
        >>> from helpers import shap_map
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.ReLU(), nn.Linear(16, 10))
        >>> x, background = torch.rand(2, 1, 28, 28), torch.rand(8, 1, 28, 28)
        >>> result = shap_map(model, x, target=3, method="deep", background=background)
        >>> logit_change = model(x)[:, 3] - torch.tensor(result.base_values)
        >>> torch.allclose(result.maps.flatten(1).sum(1), logit_change.float(), atol=1e-4)  # local accuracy
        True
    """
    if contrast is not None:
        options = {"method": method, "background": background, "samples": samples, "patch": patch, "fill": fill}
        return explain_contrast(shap_map, model, x, target, contrast, batch_size=batch_size, seed=seed, **options)
    check_model(model)
    table = check_images_or_table(x, "x")
    check_choice(method, "method", SHAP_METHODS)
    samples = check_int(samples, "samples")
    batch_size = check_int(batch_size, "batch_size")
    patch = check_int(patch, "patch")
    fill = check_real(fill, "fill")
    seed = check_int(seed, "seed", minimum=0, maximum=2**32 - 1)  # NumPy's seeds
    if background is None and (table or method != "kernel"):
        layout = "(B, F), e.g. 100 training rows" if table else "(B, 1, H, W), e.g. 100 training images"
        raise ValueError(f"method {method!r} needs a background batch {layout}.")
    if background is not None:
        check_batch(background, "background")
        if background.shape[1:] != x.shape[1:]:
            kind = "rows" if table else "images"
            raise ValueError(f"background {kind} {tuple(background.shape[1:])} must match x's {tuple(x.shape[1:])}.")
    if method == "kernel" and not table:
        check_unit_range(x, "x", "Kernel SHAP hides a superpixel by setting it to fill (0 is black on that scale)")
        if not 0.0 <= fill <= 1.0:
            raise ValueError(f"fill must lie in [0, 1] like the images (0 is black), got {fill!r}.")
    logits = batched_logits(model, x.detach(), batch_size)
    classes = resolve_target(target, logits)
    explained = copy.deepcopy(model).eval()
    inputs = x.detach()
    with forked_global_rng(seed, devices=cuda_devices(inputs, explained)), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "kernel" and not table:
            maps, base = _kernel_superpixels(
                explained, inputs, classes, samples=samples, patch=patch, fill=fill, batch_size=batch_size
            )
        else:
            assert background is not None
            bg = background.detach().to(inputs)
            maps = np.zeros(tuple(inputs.shape))
            base = np.zeros(len(inputs))
            for label in classes.unique().tolist():  # explain one logit at a time: 10x less work than all ten
                rows = (classes == label).nonzero().flatten()
                single = _TargetLogit(explained, label)
                if method == "deep":
                    values = _deep(single, bg, inputs[rows])
                elif method == "gradient":
                    values = shap.GradientExplainer(single, bg, batch_size=batch_size).shap_values(
                        inputs[rows], nsamples=samples, rseed=seed
                    )
                else:
                    values = _kernel_features(single, inputs[rows], bg, samples=samples, batch_size=batch_size)
                maps[rows.cpu().numpy()] = np.asarray(values).reshape(len(rows), *inputs.shape[1:])
                with torch.no_grad():
                    base[rows.cpu().numpy()] = single(bg).mean().item()
    return ShapResult(torch.tensor(maps, dtype=x.dtype, device=x.device), np.asarray(base, dtype=float))


class _TargetLogit(nn.Module):
    """The wrapped model's logit for one class, ``(N, 1)``: SHAP then explains that output alone."""

    def __init__(self, model: nn.Module, label: int) -> None:
        super().__init__()
        self.model = model
        self.label = label
        parameter = next(model.parameters(), None)
        self.dtype = parameter.dtype if parameter is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.dtype is not None:  # GradientExplainer builds float32 samples, whatever the model's dtype
            x = x.to(self.dtype)
        return self.model(x)[:, self.label : self.label + 1]


def _deep(single: nn.Module, background: torch.Tensor, rows: torch.Tensor) -> np.ndarray:
    """DeepExplainer's values for ``rows``; its failed additivity check becomes a ``ValueError`` with the fix."""
    try:
        return np.asarray(shap.DeepExplainer(single, background).shap_values(rows, check_additivity=True))
    except AssertionError as err:
        if "do not sum up" not in str(err):
            raise
        raise ValueError(
            "DeepExplainer's SHAP values do not add up to the model's output minus the base value. "
            "Usually the model applies an activation as a function in forward (F.relu, torch.relu): "
            "DeepExplainer only replaces the gradients of non-linearities it sees as modules. Give the "
            "model one nn.ReLU module per use (notebook 06 shows the difference), or use method='gradient'."
        ) from err


def _kernel_features(
    single: nn.Module, rows: torch.Tensor, background: torch.Tensor, *, samples: int, batch_size: int
) -> np.ndarray:
    """KernelSHAP on a table's features: ``(n, F)`` values; hidden features take background values."""
    predict = numpy_predictor(single, score="logit", image_shape=None, batch_size=batch_size)
    explainer = shap.KernelExplainer(lambda table: predict(table)[:, 0], background.cpu().numpy())
    # l1_reg=False: every feature gets its value (SHAP's default keeps only 10 when sampling)
    return np.asarray(explainer.shap_values(rows.cpu().numpy(), nsamples=samples, silent=True, l1_reg=False))


def _kernel_superpixels(
    model: nn.Module,
    images: torch.Tensor,
    classes: torch.Tensor,
    *,
    samples: int,
    patch: int,
    fill: float,
    batch_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """KernelSHAP over grid superpixels, one image at a time: maps ``(N, 1, H, W)``, base values ``(N,)``."""
    height, width = images.shape[-2:]
    segments = grid_segments(height, width, patch)
    count = int(segments.max()) + 1
    predict = numpy_predictor(model, score="logit", image_shape=tuple(images.shape[1:]), batch_size=batch_size)
    maps, bases = [], []
    for image, label in zip(images.cpu().numpy()[:, 0], classes.tolist(), strict=True):

        def logit_of_masked(keep: np.ndarray, image: np.ndarray = image, label: int = label) -> np.ndarray:
            return predict(mask_segments(image, segments, keep, fill))[:, label]

        explainer = shap.KernelExplainer(logit_of_masked, np.zeros((1, count)))
        # l1_reg=False: every superpixel gets its value (SHAP's default keeps only 10 when sampling)
        values = np.asarray(
            explainer.shap_values(np.ones((1, count)), nsamples=samples, silent=True, l1_reg=False)
        ).reshape(-1)
        maps.append(paint_segments(values, segments)[None])
        bases.append(float(np.asarray(explainer.expected_value).reshape(-1)[0]))
    return np.stack(maps), np.array(bases)
