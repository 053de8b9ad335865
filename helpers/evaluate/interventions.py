"""Check by intervention: edit the input following a map, and see whether the prediction changes.

A map claims that some regions carry the prediction. :func:`intervention_check` hides the
``k`` grid cells the map ranks first and records what the model predicts for each edited
input; a map whose top cells flip the prediction sooner than a random order of cells does
(``order="random"``, the control) points at regions the model uses. Used in notebook 10 (the
capstone), section "Check by intervention".

Removal is not a clean experiment. An edited input is unlike any training image, so a changed
prediction may come from the edit's strangeness rather than from the information removed:
Hooker et al. (2019, "A benchmark for interpretability methods in deep neural networks", ROAR)
retrain the model on edited images for that reason, and Rong et al. (2022, "A consistent and
efficient evaluation strategy for attribution methods", ROAD) fill the hole by noisy linear
imputation (``substrate="road"``) so that its shape leaks less about the class. And the
substrate favours the methods that assume it: a black fill favours black-fill LIME and
Kernel SHAP, whose maps were fitted to exactly such edits. Compare maps under more than one
substrate before ranking them.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from helpers._checks import check_choice, check_images, check_int, check_model
from helpers._running import BATCH_SIZE, batched_logits, call_model, evaluation_mode
from helpers.evaluate.metrics import ORDERS, TIES, Order, Ties, _pixel_order
from helpers.evaluate.substrates import ROAD_NOISE, _linear_imputation, resolve_substrate
from helpers.explain.segmentation import grid_segments


@dataclass(frozen=True)
class InterventionResult:
    """What :func:`intervention_check` saw: the model on each input with its first ``k`` cells hidden.

    ``N`` inputs, ``K = len(k)`` edits each:

    - ``k``: the numbers of cells hidden, ascending, ``(K,)`` as a tuple;
    - ``original``: ``(N,)`` long, the prediction on each unedited input;
    - ``predictions``: ``(N, K)`` long, the prediction on each edited input (``logits.argmax(-1)``);
    - ``logits``: ``(N, K, classes)``, the model's logits on each edited input;
    - ``edited``: ``(N, K, C, H, W)``, the edited inputs themselves, to draw them.

    ``changed`` ``(N, K)`` says where the prediction differs from ``original``; ``changed_at``
    ``(N,)`` is the smallest ``k`` at which it does, 0 where no edit changed it.

    Examples::

        >>> import torch
        >>> from helpers import InterventionResult
        >>> result = InterventionResult(
        ...     k=(1, 2, 3), original=torch.tensor([7, 7]), predictions=torch.tensor([[7, 1, 1], [7, 7, 7]]),
        ...     logits=torch.zeros(2, 3, 10), edited=torch.zeros(2, 3, 1, 28, 28))
        >>> result.changed_at  # the first input flips when 2 cells are hidden, the second never does
        tensor([2, 0])
    """

    k: tuple[int, ...]
    original: torch.Tensor
    predictions: torch.Tensor
    logits: torch.Tensor
    edited: torch.Tensor

    @property
    def changed(self) -> torch.Tensor:
        """``(N, K)`` bool: whether hiding ``k[j]`` cells of input ``i`` changed its prediction."""
        return self.predictions != self.original[:, None]

    @property
    def changed_at(self) -> torch.Tensor:
        """``(N,)`` long: the smallest ``k`` whose edit changed the prediction, 0 where none did."""
        changed = self.changed
        ks = torch.tensor(self.k, device=changed.device)
        first = torch.where(changed, ks, max(self.k)).min(dim=1).values
        return torch.where(changed.any(dim=1), first, 0)


def _check_k(k: object, cells: int) -> tuple[int, ...]:
    """``k`` as an ascending tuple of distinct ints in ``[1, cells]``."""
    if isinstance(k, numbers.Integral) and not isinstance(k, (bool, np.bool_)):
        return (check_int(k, "k", maximum=cells),)
    if isinstance(k, (str, bytes)) or not isinstance(k, (Sequence, np.ndarray)):
        raise TypeError(f"k must be an int or a sequence of ints (numbers of cells to hide), got {type(k).__name__}.")
    values = [check_int(value, f"k[{index}]", maximum=cells) for index, value in enumerate(k)]
    if not values:
        raise ValueError("k is empty; pass at least one number of cells to hide, e.g. k=(1, 2, 3).")
    if len(set(values)) != len(values):
        raise ValueError(f"k must hold distinct numbers of cells, got {list(values)}; drop the repeats.")
    return tuple(sorted(values))


def intervention_check(
    model: nn.Module,
    x: torch.Tensor,
    maps: torch.Tensor,
    *,
    k: int | Sequence[int] = (1, 2, 3, 4, 5),
    patch: int = 4,
    order: Order = "most",
    substrate: torch.Tensor | float | Literal["road"] = 0.0,
    ties: Ties = "raster",
    seed: int = 0,
    batch_size: int = BATCH_SIZE,
) -> InterventionResult:
    """Hide the ``k`` grid cells a map ranks first and record the model's prediction on each edited input.

    The image is cut into ``patch x patch`` cells (:func:`grid_segments`; ``patch=1``: single
    pixels; edge cells are smaller when ``patch`` does not divide the size). A cell's relevance
    is the **sum** of the map over its pixels and channels, so a LIME or SHAP map that spreads a
    cell's weight over its pixels gives back that weight. For each input and each ``k``, the
    ``k`` first cells in ``order`` have all their pixels (every channel) replaced by the
    ``substrate``; no target: the check is about the predicted class. Used in notebook 10,
    section "Check by intervention" (see the module's caveats on removal).

    Args:
        model: classifier returning logits ``(N, classes)``; run in eval mode (restored), without gradients.
        x: ``(N, C, H, W)`` float images. maps: a tensor of ``x``'s shape.
        k: the numbers of cells to hide: an int or a sequence of distinct positive ints, each
            at most the number of cells (stored sorted).
        patch: the cells' side in pixels.
        order: ``"most"``: the highest cell first (pass ``maps.abs()`` to rank by magnitude;
            a signed map's most positive cells are what it credits the prediction to);
            ``"least"``: the lowest first (the most negative cells: what the map says is
            missing); ``"random"``: the control, a random order of cells per input drawn from
            ``seed``, whatever the map.
        substrate: what a hidden pixel becomes, as in :func:`perturbation_curve`: a number (0 is
            black, 1.0 is ink: ``order="least", substrate=1.0`` inks what the map says is
            missing), images of ``x``'s shape (e.g. :func:`blurred`), or ``"road"``: ROAD's
            noisy linear imputation of the hidden pixels (:func:`noisy_linear_imputation`),
            recomputed for each edited input.
        ties: how cells of equal relevance are ordered: ``"raster"`` row by row, or ``"random"``
            in an order drawn from ``seed``.
        seed: for ``order="random"`` and ``ties="random"``, the orders; for ``substrate="road"``,
            the noise (one draw per input, shared by its ``k`` edits, so nothing depends on
            ``batch_size`` or on the other ``k``).
        batch_size: edited inputs per forward pass.

    Returns:
        An :class:`InterventionResult` (``original``, ``predictions``, ``logits``, ``edited``,
        ``changed``, ``changed_at``).

    Examples::

        >>> import torch
        >>> from torch import nn
        >>> from helpers import intervention_check
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
        >>> x, maps = torch.rand(3, 1, 4, 4), torch.rand(3, 1, 4, 4)
        >>> result = intervention_check(model, x, maps, k=(1, 4), patch=2)  # 4 cells of 2 x 2
        >>> result.predictions.shape, result.edited.shape, result.changed_at.shape
        (torch.Size([3, 2]), torch.Size([3, 2, 1, 4, 4]), torch.Size([3]))
        >>> bool((result.edited[:, 1] == 0).all())  # k=4 hides every cell: all black
        True
    """
    check_model(model)
    x = check_images(x, "x", why="the edits hide grid cells of each image's height and width")
    if not isinstance(maps, torch.Tensor):
        raise TypeError(f"maps must be a torch.Tensor of x's shape {tuple(x.shape)}, got {type(maps).__name__}.")
    if maps.shape != x.shape:
        raise ValueError(
            f"maps must have x's shape {tuple(x.shape)} (one value per pixel and channel), got {tuple(maps.shape)}."
        )
    n, channels, height, width = x.shape
    patch = check_int(patch, "patch", maximum=max(height, width))
    segments = torch.from_numpy(grid_segments(height, width, patch)).flatten()  # (H W,) cell of each pixel
    cells = int(segments.max()) + 1
    ks = _check_k(k, cells)
    check_choice(order, "order", ORDERS)
    check_choice(ties, "ties", TIES)
    seed = check_int(seed, "seed", minimum=0, maximum=2**63 - 1)
    batch_size = check_int(batch_size, "batch_size")
    x = x.detach()
    resolved = resolve_substrate(x, substrate)
    road = resolved is None
    base = x if resolved is None else resolved  # with ROAD, unused: each edited input is imputed
    if road:
        noise = torch.stack(
            [
                torch.from_numpy(np.random.default_rng([seed, i]).standard_normal((channels, height, width)))
                for i in range(n)
            ]
        ).to(x)

    # Rank the cells: sum the map over each cell's pixels and channels (on the CPU, in float64, so equal cells tie).
    pixel_values = maps.detach().cpu().double().sum(dim=1).flatten(1)  # (N, H W)
    cell_values = torch.zeros(n, cells, dtype=torch.float64).index_add_(1, segments, pixel_values)
    ranking = _pixel_order(cell_values, order, seed, ties)  # (N, cells), the first to hide first
    rank = torch.empty_like(ranking).scatter_(1, ranking, torch.arange(cells).expand(n, -1))
    position = rank[:, segments].reshape(n, 1, height, width).to(x.device)  # each pixel's cell's place in the order

    original = batched_logits(model, x, batch_size).argmax(dim=1)
    image = torch.arange(n, device=x.device).repeat_interleave(len(ks))  # the input of each edited input
    hide = torch.tensor(ks, device=x.device).repeat(n)  # and its number of cells hidden
    edited, logits = [], []
    with evaluation_mode(model), torch.no_grad():
        for start in range(0, n * len(ks), batch_size):
            rows, count = image[start : start + batch_size], hide[start : start + batch_size]
            hidden = (position[rows] < count[:, None, None, None]).expand(-1, channels, -1, -1)
            if road:
                chunk = _linear_imputation(x[rows], hidden) + ROAD_NOISE * noise[rows] * hidden
            else:
                chunk = torch.where(hidden, base[rows], x[rows])
            edited.append(chunk)
            logits.append(call_model(model, chunk))
    all_logits = torch.cat(logits).reshape(n, len(ks), -1)
    return InterventionResult(
        k=ks,
        original=original,
        predictions=all_logits.argmax(dim=-1),
        logits=all_logits,
        edited=torch.cat(edited).reshape(n, len(ks), channels, height, width),
    )
