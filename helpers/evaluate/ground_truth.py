"""Measuring attribution maps against a known answer: relevance mass, relevance rank and the pointing game.

The known answer is a boolean mask of the pixels the model is known to use (a mark planted in
the training images, say). Every function takes a batch of ``maps`` ``(N, ...)`` and ``masks``
of the same shape, and returns one score per input, ``(N,)``. They read the maps as signed
values; pass ``maps.abs()`` to measure magnitude regardless of sign, as the course usually does.
"""

from __future__ import annotations

import numpy as np
import torch


def _as_tensor(value: object, name: str) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))  # a view where it can; copies reversed strides
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor (or NumPy array) of shape (N, ...), got {type(value).__name__}."
        )
    return value


def _maps_and_masks(maps: object, masks: object) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check ``maps`` and ``masks``; return the maps as given (a tensor), then both flattened on the CPU:
    the maps as float64 ``(N, D)``, the masks as bool ``(N, D)``."""
    maps = _as_tensor(maps, "maps")
    masks = _as_tensor(masks, "masks")
    if not maps.is_floating_point():
        raise TypeError(
            f"maps must hold floating-point attributions, got dtype {maps.dtype}; convert with maps.float()."
        )
    if masks.dtype != torch.bool:
        raise TypeError(
            f"masks must be a bool tensor (True on the pixels the model is known to use), got dtype {masks.dtype}; "
            "pass a comparison such as masks > 0."
        )
    if maps.dim() < 2:
        raise ValueError(
            f"maps must be a batch whose first dimension is N, got shape {tuple(maps.shape)}. "
            "For a single map, add the batch dimension with maps.unsqueeze(0) (and masks.unsqueeze(0))."
        )
    if maps.shape != masks.shape:
        raise ValueError(
            f"maps and masks must have the same shape, got {tuple(maps.shape)} and {tuple(masks.shape)}; "
            "for one mask shared by every input, pass masks.expand_as(maps)."
        )
    if maps.shape[0] == 0:
        raise ValueError("maps is an empty batch (N = 0); pass at least one map.")
    flat_maps = maps.detach().flatten(1).cpu().double()
    flat_masks = masks.detach().flatten(1).cpu()
    empty = (~flat_masks.any(dim=1)).nonzero()[:, 0].tolist()
    if empty:
        raise ValueError(
            f"masks[{empty[0]}] is empty (no True pixel){f', and {len(empty) - 1} more' if len(empty) > 1 else ''}: "
            "every input needs a known answer; leave out inputs without one."
        )
    broken = (~torch.isfinite(flat_maps).all(dim=1)).nonzero()[:, 0].tolist()
    if broken:
        raise ValueError(f"maps[{broken[0]}] holds NaN or infinite values; every attribution must be finite.")
    return maps, flat_maps, flat_masks


def relevance_mass(maps: torch.Tensor | np.ndarray, masks: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Share of each map's positive attribution that falls inside its mask, in [0, 1].

    For a map ``R`` and mask ``M`` (Arras, Osman & Samek, 2022, "CLEVR-XAI", relevance mass
    accuracy)::

        mass = sum over p in M of max(R_p, 0)  /  sum over all p of max(R_p, 0)

    Negative values are ignored (they count neither inside nor outside); pass ``maps.abs()``
    to count magnitude regardless of sign, as the course usually does. A map with no positive
    value (all zero, say) puts no relevance in the mask and scores 0.0, never NaN.
    1 means all the relevance lies on the known answer; a map that knows nothing about it
    (uniform) scores the mask's share of the pixels, ``K / D``.
    Used in notebook 07 (the known answer: a planted shortcut).

    Args:
        maps: ``(N, ...)`` finite float attributions (tensor or NumPy array; not modified).
        masks: bool, same shape: ``True`` on the pixels the model is known to use; none may be empty.

    Returns:
        ``(N,)`` scores in [0, 1], with ``maps``' dtype and device.

    Examples::

        >>> import torch
        >>> from helpers import relevance_mass
        >>> masks = torch.tensor([[True, True, False, False]])
        >>> relevance_mass(torch.tensor([[3.0, 1.0, 0.0, 0.0]]), masks)  # all of it on the answer
        tensor([1.])
        >>> relevance_mass(torch.tensor([[3.0, -5.0, 1.0, 0.0]]), masks)  # 3 of 4 positive; -5 ignored
        tensor([0.7500])
        >>> relevance_mass(torch.tensor([[3.0, -5.0, 1.0, 0.0]]).abs(), masks)  # magnitudes: 8 of 9
        tensor([0.8889])
    """
    given, flat, inside = _maps_and_masks(maps, masks)
    positive = flat.clamp_min(0.0)
    largest = positive.amax(dim=1, keepdim=True)
    positive = positive / torch.where(largest > 0, largest, 1.0)  # largest value 1 (or none): sums cannot overflow
    mass_in = (positive * inside).sum(dim=1)
    total = mass_in + (positive * ~inside).sum(dim=1)  # so that mass_in <= total after rounding too
    scores = torch.where(total > 0, mass_in / torch.where(total > 0, total, 1.0), 0.0)  # no positive value: 0
    return scores.to(device=given.device, dtype=given.dtype)


def relevance_rank(maps: torch.Tensor | np.ndarray, masks: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Relevance rank accuracy: the share of each map's ``K`` highest pixels that lie inside its mask, in [0, 1].

    ``K`` is the number of pixels in that input's mask (Arras, Osman & Samek, 2022, "CLEVR-XAI").
    Pixels are ranked by their signed value (pass ``maps.abs()`` to rank by magnitude).

    Ties do not depend on pixel order: where several pixels share the ``K``-th highest value,
    the tied group is counted fractionally, as the expected share under random tie-breaking.
    With ``G`` pixels above that value, of which ``G_in`` inside the mask, and ``T`` tied at it,
    of which ``T_in`` inside::

        rank = (G_in + (K - G) * T_in / T) / K

    So a constant map (all zero, or uniform) scores exactly ``K / D``, the mask's share of the
    ``D`` pixels: what a map that knows nothing about the answer gets by chance. Never NaN.
    Used in notebook 07 (the known answer: a planted shortcut).

    Args:
        maps: ``(N, ...)`` finite float attributions (tensor or NumPy array; not modified).
        masks: bool, same shape: ``True`` on the pixels the model is known to use; none may be empty.

    Returns:
        ``(N,)`` scores in [0, 1], with ``maps``' dtype and device.

    Examples::

        >>> import torch
        >>> from helpers import relevance_rank
        >>> masks = torch.tensor([[True, True, False, False]])  # K = 2
        >>> relevance_rank(torch.tensor([[0.9, 0.1, 0.5, 0.0]]), masks)  # top 2: 0.9 (in), 0.5 (out)
        tensor([0.5000])
        >>> relevance_rank(torch.zeros(1, 4), masks)  # all tied: K / D = 2 / 4
        tensor([0.5000])
    """
    given, flat, inside = _maps_and_masks(maps, masks)
    k = inside.sum(dim=1)
    kth = flat.sort(dim=1, descending=True).values.gather(1, (k - 1)[:, None])  # the K-th highest value
    above, tied = flat > kth, flat == kth
    above_count, tied_count = above.sum(dim=1), tied.sum(dim=1)
    above_in, tied_in = (above & inside).sum(dim=1), (tied & inside).sum(dim=1)
    expected_in = above_in + (k - above_count) * tied_in.double() / tied_count  # tied_count >= 1: the K-th pixel
    scores = expected_in / k
    return scores.to(device=given.device, dtype=given.dtype)


def pointing_game(maps: torch.Tensor | np.ndarray, masks: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Whether each map's largest value lies inside its mask (Zhang et al., 2018, "Top-down neural attention").

    Ties at the maximum count as a hit only if **every** pixel attaining the maximum lies
    inside the mask, so a constant or all-zero map does not hit unless its mask covers the
    whole image. The value compared is the signed one; pass ``maps.abs()`` to point with the
    largest magnitude. No tolerance margin (Zhang et al. allow 15 pixels on ImageNet-sized
    images); to allow slack, dilate the mask. The share of hits over a data set is the pointing
    game's accuracy: ``pointing_game(maps, masks).float().mean()``.
    Used in notebook 07 (the known answer: a planted shortcut).

    Args:
        maps: ``(N, ...)`` finite float attributions (tensor or NumPy array; not modified).
        masks: bool, same shape: ``True`` on the pixels the model is known to use; none may be empty.

    Returns:
        ``(N,)`` bool tensor on ``maps``' device: ``True`` for a hit.

    Examples::

        >>> import torch
        >>> from helpers import pointing_game
        >>> masks = torch.tensor([[True, True, False, False]] * 3)
        >>> maps = torch.tensor([[0.9, 0.1, 0.5, 0.0], [0.1, 0.2, 0.7, 0.0], [1.0, 1.0, 1.0, 1.0]])
        >>> pointing_game(maps, masks)  # a hit, a miss, a tie that reaches outside the mask
        tensor([ True, False, False])
    """
    given, flat, inside = _maps_and_masks(maps, masks)
    at_max = flat == flat.amax(dim=1, keepdim=True)
    hits = ~(at_max & ~inside).any(dim=1)
    return hits.to(given.device)
