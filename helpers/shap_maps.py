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

import contextlib
import copy
import warnings
from collections.abc import Iterator
from typing import Literal, NamedTuple

import numpy as np
import shap
import torch
from torch import nn

from helpers._validation import (
    Target,
    call_model,
    check_batch,
    check_images_or_table,
    check_model,
    evaluation_mode,
    preserved_global_rng,
    resolve_target,
)
from helpers.adapters import numpy_predictor
from helpers.segmentation import grid_segments, mask_segments, paint_segments

Method = Literal["deep", "gradient", "kernel"]
METHODS: tuple[str, ...] = ("deep", "gradient", "kernel")


class ShapResult(NamedTuple):
    """``maps``: SHAP values for the target logit, the input's shape (``(N, 1, H, W)`` or ``(N, F)``);
    ``base_values``: ``(N,)``.

    Local accuracy: ``maps[i].sum() == logit_target(x_i) - base_values[i]`` (exactly for
    ``"kernel"`` and, up to float error, ``"deep"``; approximately for ``"gradient"``).
    """

    maps: torch.Tensor
    base_values: np.ndarray


@contextlib.contextmanager
def _private_random_state(seed: int) -> Iterator[None]:
    """Seed NumPy's and torch's global generators for SHAP, then put the caller's states back."""
    numpy_state = np.random.get_state()
    with preserved_global_rng(seed):
        np.random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(numpy_state)


def shap_map(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    *,
    method: Method = "deep",
    background: torch.Tensor | None = None,
    nsamples: int = 200,
    patch: int = 4,
    fill: float = 0.0,
    seed: int = 0,
) -> ShapResult:
    """SHAP values of each input's target logit, with the input's shape.

    Args:
        model: classifier returning logits ``(N, classes)``. A copy is explained, so the
            caller's model (its modes, hooks and gradients) is never touched.
        x: ``(N, 1, H, W)`` float image batch or ``(N, F)`` float table.
        target: as in :func:`helpers.saliency.saliency`; ``None`` for the predicted class.
        method: ``"deep"``, ``"gradient"`` or ``"kernel"`` (see the module docstring).
        background: reference inputs ``(B, 1, H, W)`` or ``(B, F)``, like ``x``; their mean
            output is the base value. Needed by every method except ``"kernel"`` on images,
            which hides superpixels with ``fill`` instead (e.g. 100 training rows).
        nsamples: samples per input for ``"gradient"`` and ``"kernel"``.
        patch: superpixel size for ``"kernel"`` on images (4 gives 49 on 28 x 28).
        fill: value of hidden superpixels for ``"kernel"`` on images (0 is black; the base
            value is the logit of an all-``fill`` image).
        seed: seeds SHAP's sampling; the caller's NumPy and torch random states are restored.
    """
    check_model(model)
    table = check_images_or_table(x, "x")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}.")
    if isinstance(nsamples, bool) or not isinstance(nsamples, int) or nsamples < 1:
        raise ValueError(f"nsamples must be a positive int, got {nsamples!r}.")
    if background is None and (table or method != "kernel"):
        layout = "(B, F), e.g. 100 training rows" if table else "(B, 1, H, W), e.g. 100 training images"
        raise ValueError(f"method {method!r} needs a background batch {layout}.")
    if background is not None:
        check_batch(background, "background")
        if background.shape[1:] != x.shape[1:]:
            kind = "rows" if table else "images"
            raise ValueError(f"background {kind} {tuple(background.shape[1:])} must match x's {tuple(x.shape[1:])}.")
    with evaluation_mode(model), torch.no_grad():
        logits = call_model(model, x.detach())
    classes = resolve_target(target, logits)
    explained = copy.deepcopy(model).eval()
    inputs = x.detach()
    with _private_random_state(seed), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "kernel" and not table:
            maps, base = _kernel_superpixels(explained, inputs, classes, nsamples=nsamples, patch=patch, fill=fill)
        else:
            bg = background.detach().to(inputs)
            maps = np.zeros(tuple(inputs.shape))
            base = np.zeros(len(inputs))
            for label in classes.unique().tolist():  # explain one logit at a time: 10x less work than all ten
                rows = (classes == label).nonzero().flatten()
                single = _TargetLogit(explained, label)
                if method == "deep":
                    values = shap.DeepExplainer(single, bg).shap_values(inputs[rows], check_additivity=True)
                elif method == "gradient":
                    values = shap.GradientExplainer(single, bg, batch_size=1000).shap_values(inputs[rows], nsamples=nsamples, rseed=seed)
                else:
                    values = _kernel_features(single, inputs[rows], bg, nsamples=nsamples)
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


def _kernel_features(single: nn.Module, rows: torch.Tensor, background: torch.Tensor, *, nsamples: int) -> np.ndarray:
    """KernelSHAP on a table's features: ``(n, F)`` values; hidden features take background values."""
    predict = numpy_predictor(single, output="logits", image_shape=None)
    explainer = shap.KernelExplainer(lambda table: predict(table)[:, 0], background.cpu().numpy())
    # l1_reg=False: every feature gets its value (SHAP's default keeps only 10 when sampling)
    return np.asarray(explainer.shap_values(rows.cpu().numpy(), nsamples=nsamples, silent=True, l1_reg=False))


def _kernel_superpixels(
    model: nn.Module, images: torch.Tensor, classes: torch.Tensor, *, nsamples: int, patch: int, fill: float
) -> tuple[np.ndarray, np.ndarray]:
    """KernelSHAP over grid superpixels, one image at a time: maps ``(N, 1, H, W)``, base values ``(N,)``."""
    height, width = images.shape[-2:]
    segments = grid_segments(height, width, patch)
    count = int(segments.max()) + 1
    predict = numpy_predictor(model, output="logits", image_shape=tuple(images.shape[1:]))
    maps, bases = [], []
    for image, label in zip(images.cpu().numpy()[:, 0], classes.tolist()):

        def logit_of_masked(keep: np.ndarray, image=image, label=label) -> np.ndarray:
            return predict(mask_segments(image, segments, keep, fill))[:, label]

        explainer = shap.KernelExplainer(logit_of_masked, np.zeros((1, count)))
        # l1_reg=False: every superpixel gets its value (SHAP's default keeps only 10 when sampling)
        values = np.asarray(
            explainer.shap_values(np.ones((1, count)), nsamples=nsamples, silent=True, l1_reg=False)
        ).reshape(-1)
        maps.append(paint_segments(values, segments)[None])
        bases.append(float(np.asarray(explainer.expected_value).reshape(-1)[0]))
    return np.stack(maps), np.array(bases)
