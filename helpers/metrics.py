"""Measuring explanations: cost (passes through the model), faithfulness (deletion and insertion curves).

Stability and sanity reuse :mod:`helpers.similarity` and :mod:`helpers.randomization`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from helpers._validation import Target, check_batch, check_model, evaluation_mode, resolve_target


@dataclass
class PassCount:
    """Passes through a model, counted by :func:`count_passes`.

    ``forward_calls``/``backward_calls``: how many times the model ran forward/backward;
    ``forward_inputs``/``backward_inputs``: how many inputs those passes carried in all.
    """

    forward_calls: int = 0
    forward_inputs: int = 0
    backward_calls: int = 0
    backward_inputs: int = 0


@contextlib.contextmanager
def count_passes(model: nn.Module) -> Iterator[PassCount]:
    """Count the forward and backward passes through ``model`` inside the ``with`` block.

    A forward hook counts each call and its batch size; a hook on the output counts each
    backward pass through it. Copies of the model made inside the block (SHAP explainers
    make them) carry the hooks and are counted too. The hooks are removed on exit.
    """
    check_model(model)
    count = PassCount()
    active = True  # copies of the model keep the hook after the block: they must stop counting

    def on_forward(module: nn.Module, inputs: tuple, output: object) -> None:
        if not active or not isinstance(output, torch.Tensor):
            return
        rows = output.shape[0] if output.dim() else 1
        count.forward_calls += 1
        count.forward_inputs += rows
        if output.requires_grad:

            def on_backward(gradient: torch.Tensor) -> None:
                if not active:
                    return
                count.backward_calls += 1
                count.backward_inputs += rows

            output.register_hook(on_backward)

    handle = model.register_forward_hook(on_forward)
    try:
        yield count
    finally:
        active = False
        handle.remove()


Order = Literal["most", "least", "random"]


def _pixel_order(maps: torch.Tensor, order: Order, seed: int) -> torch.Tensor:
    """``(N, D)`` pixel indices: most relevant first, least relevant first, or random."""
    flat = maps.detach().flatten(1)
    if order == "most":
        return flat.argsort(dim=1, descending=True, stable=True)
    if order == "least":
        return flat.argsort(dim=1, descending=False, stable=True)
    generator = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randperm(flat.shape[1], generator=generator) for _ in range(len(flat))]).to(flat.device)


def blurred(images: torch.Tensor, sigma: float = 2.0) -> torch.Tensor:
    """A Gaussian-blurred copy of ``(N, C, H, W)`` images: a less out-of-distribution substrate than black."""
    check_batch(images, "images")
    radius = max(1, int(3 * sigma))
    grid = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-(grid**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = images.shape[1]
    out = F.conv2d(images, kernel.reshape(1, 1, 1, -1).expand(channels, 1, 1, -1), padding=(0, radius), groups=channels)
    return F.conv2d(out, kernel.reshape(1, 1, -1, 1).expand(channels, 1, -1, 1), padding=(radius, 0), groups=channels)


def perturbation_curve(
    model: nn.Module,
    images: torch.Tensor,
    maps: torch.Tensor,
    target: Target = None,
    *,
    mode: Literal["deletion", "insertion"] = "deletion",
    order: Order = "most",
    substrate: torch.Tensor | float = 0.0,
    steps: int = 28,
    seed: int = 0,
    score: Literal["probability", "logit"] = "probability",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Deletion or insertion curve (Petsiuk et al., 2018) of each image, and its area.

    Pixels are ranked by ``maps`` (``order="most"``: highest value first; pass ``|map|``
    to rank by magnitude). **Deletion** replaces them, a block of ``D / steps`` at a time,
    by the ``substrate``; **insertion** starts from the substrate and puts them back. After
    each step the model's score for the target class is recorded.

    Args:
        model: classifier returning logits ``(N, classes)``; run in eval mode, restored.
        images: ``(N, C, H, W)``. maps: same shape.
        target: as in :func:`helpers.saliency.saliency`; ``None`` = the predicted class.
        substrate: what "removed" means: a number (0 is black) or images like ``images``
            (e.g. :func:`blurred`).
        steps: number of blocks; the curve has ``steps + 1`` points.
        seed: for ``order="random"``, the random baseline.
        score: the target's softmax ``"probability"`` or its ``"logit"``.

    Returns:
        ``(curves, areas)``: ``(N, steps + 1)`` scores from 0 % to 100 % of the pixels
        changed, and ``(N,)`` areas under them (trapezoid rule on [0, 1], i.e. normalised by
        the number of steps). Lower deletion area and higher insertion area mean a more
        faithful ranking; compare with ``order="random"``.
    """
    check_model(model)
    check_batch(images, "images")
    if not isinstance(maps, torch.Tensor) or maps.shape != images.shape:
        raise ValueError(f"maps must be a tensor of the images' shape {tuple(images.shape)}, got {getattr(maps, 'shape', type(maps).__name__)}.")
    if mode not in ("deletion", "insertion"):
        raise ValueError(f"mode must be 'deletion' or 'insertion', got {mode!r}.")
    if order not in ("most", "least", "random"):
        raise ValueError(f"order must be 'most', 'least' or 'random', got {order!r}.")
    if score not in ("probability", "logit"):
        raise ValueError(f"score must be 'probability' or 'logit', got {score!r}.")
    pixels = images[0].numel()
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= pixels:
        raise ValueError(f"steps must be an int from 1 to the number of pixels ({pixels}), got {steps!r}.")
    x = images.detach()
    if isinstance(substrate, torch.Tensor):
        if substrate.shape != x.shape:
            raise ValueError(f"substrate must be a number or a tensor of the images' shape {tuple(x.shape)}.")
        base = substrate.detach().to(x)
    else:
        base = torch.full_like(x, float(substrate))
    ranking = _pixel_order(maps, order, seed)
    n = len(x)
    # rank[i, p] = position of pixel p in image i's ordering
    rank = torch.empty_like(ranking)
    rank.scatter_(1, ranking, torch.arange(pixels, device=ranking.device).expand(n, -1))
    cut = torch.linspace(0, pixels, steps + 1, device=x.device).round().long()  # pixels changed after each step
    changed = rank[:, None, :] < cut[None, :, None]  # (N, steps + 1, D)
    flat_x, flat_base = x.flatten(1)[:, None, :], base.flatten(1)[:, None, :]
    if mode == "deletion":
        sequence = torch.where(changed, flat_base, flat_x)
    else:
        sequence = torch.where(changed, flat_x, flat_base)
    with evaluation_mode(model), torch.no_grad():
        classes = resolve_target(target, model(x))
        logits = model(sequence.reshape(n * (steps + 1), *x.shape[1:]))
    values = logits.softmax(dim=1) if score == "probability" else logits
    curves = values.reshape(n, steps + 1, -1).gather(2, classes.reshape(n, 1, 1).expand(n, steps + 1, 1))[..., 0]
    areas = torch.trapezoid(curves, dx=1.0 / steps, dim=1)
    return curves, areas


def median_and_spread(values: torch.Tensor | np.ndarray) -> tuple[float, float, float]:
    """Median and interquartile range (25th, 75th percentile) of a 1-D set of measurements."""
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    array = array[np.isfinite(array)]
    if array.size == 0:
        raise ValueError("no finite values to summarise.")
    low, median, high = np.percentile(array, [25, 50, 75])
    return float(median), float(low), float(high)

