"""Measuring explanations: cost (passes through the model), faithfulness (deletion and insertion curves).

Stability and sanity reuse :mod:`helpers.evaluate.similarity` and :mod:`helpers.evaluate.randomization`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from helpers._checks import (
    Score,
    Target,
    check_batch,
    check_choice,
    check_int,
    check_model,
    check_score,
    resolve_target,
)
from helpers._running import BATCH_SIZE, batched_logits, call_model, evaluation_mode, scores_from_logits
from helpers.evaluate.substrates import ROAD_NOISE, _linear_imputation, resolve_substrate


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
    Used in notebook 08 to measure each method's cost.

    Examples::

        >>> import torch
        >>> from torch import nn
        >>> from helpers import count_passes, saliency
        >>> model = nn.Linear(4, 3)
        >>> with count_passes(model) as passes:
        ...     _ = saliency(model, torch.rand(5, 4))
        >>> passes.forward_inputs, passes.backward_inputs
        (5, 5)
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
ORDERS: tuple[str, ...] = ("most", "least", "random")
"""The order in which :func:`perturbation_curve` takes pixels: most relevant first, least relevant first, random."""


Ties = Literal["raster", "random"]
TIES: tuple[str, ...] = ("raster", "random")
"""How :func:`perturbation_curve` orders pixels of equal relevance: row by row, or at random."""


def _pixel_order(maps: torch.Tensor, order: Order, seed: int, ties: Ties) -> torch.Tensor:
    """``(N, D)`` pixel indices: most relevant first, least relevant first, or random."""
    flat = maps.detach().flatten(1)
    shuffle = None
    if order == "random" or ties == "random":
        generator = torch.Generator().manual_seed(seed)
        shuffle = torch.stack([torch.randperm(flat.shape[1], generator=generator) for _ in range(len(flat))])
        shuffle = shuffle.to(flat.device)
        if order == "random":
            return shuffle
    values = flat if shuffle is None else flat.gather(1, shuffle)  # a stable sort keeps ties in this order
    ranking = values.argsort(dim=1, descending=order == "most", stable=True)
    return ranking if shuffle is None else shuffle.gather(1, ranking)


def _imputed(
    flat: torch.Tensor,
    removed: torch.Tensor,
    shape: torch.Size,
    image: torch.Tensor,
    step: torch.Tensor,
    steps: int,
    seed: int,
) -> torch.Tensor:
    """``(chunk, D)`` images with their ``removed`` pixels imputed as ROAD does, noise included.

    Image i's noise at every step comes from its own generator (``seed``, ``i``), so the result
    does not depend on how the perturbed images are split into batches.
    """
    rows = len(flat)
    imputed = _linear_imputation(flat.reshape(rows, *shape), removed.reshape(rows, *shape)).flatten(1)
    noise = torch.empty(rows, flat.shape[1], dtype=torch.float64)
    for index in image.unique().tolist():
        draws = np.random.default_rng([seed, index]).standard_normal((steps + 1, flat.shape[1]))
        here = (image == index).cpu()
        noise[here] = torch.from_numpy(draws)[step.cpu()[here]]
    return imputed + ROAD_NOISE * noise.to(imputed) * removed


def perturbation_curve(
    model: nn.Module,
    x: torch.Tensor,
    maps: torch.Tensor,
    target: Target = None,
    *,
    mode: Literal["deletion", "insertion"] = "deletion",
    order: Order = "most",
    substrate: torch.Tensor | float | Literal["road"] = 0.0,
    ties: Ties = "raster",
    steps: int = 28,
    seed: int = 0,
    score: Score = "logit",
    batch_size: int = BATCH_SIZE,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Deletion or insertion curve (Petsiuk et al., 2018) of each image, and its area.

    Pixels are ranked by ``maps`` (``order="most"``: highest value first; pass ``|map|``
    to rank by magnitude). **Deletion** replaces them, a block of ``D / steps`` at a time,
    by the ``substrate``; **insertion** starts from the substrate and puts them back. After
    each step the model's score for the target class is recorded.

    Derived in notebook 08, section "Faithfulness".

    Args:
        model: classifier returning logits ``(N, classes)``; run in eval mode, restored.
        x: ``(N, C, H, W)`` images. maps: same shape.
        target: as in :func:`helpers.saliency`; ``None`` = the predicted class.
        mode: ``"deletion"`` or ``"insertion"``.
        order: ``"most"`` relevant pixels first, ``"least"`` relevant first, or ``"random"``.
        substrate: what "removed" means: a number (0 is black), images like ``x``
            (e.g. :func:`blurred`), or ``"road"``: ROAD's noisy linear imputation
            (:func:`noisy_linear_imputation`, noise 0.01), recomputed for the pixels removed
            at each step (for insertion: the pixels not yet put back).
        ties: how pixels of equal relevance are ordered among themselves (the zeros of a map
            that multiplies by the input, say): ``"raster"`` row by row, or ``"random"`` in a
            random order drawn from ``seed``. Many ties make the areas depend on this choice.
        steps: number of blocks; the curve has ``steps + 1`` points.
        seed: for ``order="random"``, the random baseline; for ``ties="random"``, the order of
            tied pixels; for ``substrate="road"``, the
            imputation's noise (drawn per image, so the curves do not depend on ``batch_size``).
        score: the target's ``"logit"`` or its softmax ``"probability"`` (Petsiuk et al.'s choice,
            bounded in [0, 1], so areas compare across images).
        batch_size: perturbed images per forward pass.

    Returns:
        ``(curves, areas)``: ``(N, steps + 1)`` scores from 0 % to 100 % of the pixels
        changed, and ``(N,)`` areas under them (trapezoid rule on [0, 1], i.e. normalised by
        the number of steps). Lower deletion area and higher insertion area mean a more
        faithful ranking; compare with ``order="random"``.

    Examples::

        >>> import torch
        >>> from torch import nn
        >>> from helpers import perturbation_curve
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
        >>> x = torch.ones(1, 1, 2, 2)
        >>> curves, areas = perturbation_curve(model, x, torch.rand(1, 1, 2, 2), target=0, steps=4)
        >>> curves.shape, torch.allclose(curves[0, -1], model(torch.zeros_like(x))[0, 0])  # ends on the substrate
        (torch.Size([1, 5]), True)
    """
    check_model(model)
    check_batch(x, "x")
    if not isinstance(maps, torch.Tensor) or maps.shape != x.shape:
        raise ValueError(
            f"maps must be a tensor of x's shape {tuple(x.shape)}, got {getattr(maps, 'shape', type(maps).__name__)}."
        )
    check_choice(mode, "mode", ("deletion", "insertion"))
    check_choice(order, "order", ORDERS)
    check_choice(ties, "ties", TIES)
    check_score(score)
    pixels = x[0].numel()
    steps = check_int(steps, "steps", maximum=pixels)
    seed = check_int(seed, "seed", minimum=0)
    batch_size = check_int(batch_size, "batch_size")
    x = x.detach()
    resolved = resolve_substrate(x, substrate)
    road = resolved is None
    base = x if resolved is None else resolved  # with ROAD, unused: each perturbed image is imputed
    ranking = _pixel_order(maps, order, seed, ties)
    n = len(x)
    # rank[i, p] = position of pixel p in image i's ordering
    rank = torch.empty_like(ranking)
    rank.scatter_(1, ranking, torch.arange(pixels, device=ranking.device).expand(n, -1))
    cut = torch.linspace(0, pixels, steps + 1, device=x.device).round().long()  # pixels changed after each step
    flat_x, flat_base = x.flatten(1), base.flatten(1)
    rows = torch.arange(n, device=x.device).repeat_interleave(steps + 1)  # image of each perturbed input
    columns = torch.arange(steps + 1, device=x.device).repeat(n)  # its step
    scores = []
    classes = resolve_target(target, batched_logits(model, x, batch_size))
    with evaluation_mode(model), torch.no_grad():
        for start in range(0, n * (steps + 1), batch_size):
            image, step = rows[start : start + batch_size], columns[start : start + batch_size]
            changed = rank[image] < cut[step][:, None]  # (chunk, D): pixels changed so far
            if road:
                removed = changed if mode == "deletion" else ~changed
                perturbed = _imputed(flat_x[image], removed, x.shape[1:], image, step, steps, seed)
            elif mode == "deletion":
                perturbed = torch.where(changed, flat_base[image], flat_x[image])
            else:
                perturbed = torch.where(changed, flat_x[image], flat_base[image])
            logits = call_model(model, perturbed.reshape(len(image), *x.shape[1:]))
            scores.append(scores_from_logits(logits, score).gather(1, classes[image][:, None])[:, 0])
    curves = torch.cat(scores).reshape(n, steps + 1)
    areas = torch.trapezoid(curves, dx=1.0 / steps, dim=1)
    return curves, areas


def median_and_spread(values: torch.Tensor | np.ndarray) -> tuple[float, float, float]:
    """Median and interquartile range (25th, 75th percentile) of a 1-D set of measurements; NaNs are skipped.

    Returns ``(median, low, high)``. Summarises timings and scores in notebook 08's table.

    Examples::

        >>> from helpers import median_and_spread
        >>> median_and_spread([1.0, 2.0, 3.0, 4.0, 5.0])
        (3.0, 2.0, 4.0)
    """
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    array = array[np.isfinite(array)]
    if array.size == 0:
        raise ValueError("no finite values to summarise.")
    low, median, high = np.percentile(array, [25, 50, 75])
    return float(median), float(low), float(high)
