"""How alike are two attribution maps? Rank correlation, SSIM and top-k overlap, per pair in a batch.

Every function takes two batches ``a`` and ``b`` of the same shape ``(N, ...)`` (tensors or
arrays) and returns a NumPy array of ``N`` similarities, one per pair of maps.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import rankdata
from skimage.metrics import structural_similarity

from helpers._checks import check_bool, check_int, check_real


def _pairs(
    a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, names: tuple[str, str] = ("a", "b")
) -> tuple[np.ndarray, np.ndarray]:
    """Two batches of maps as float64 arrays of one shape ``(N, ...)``; errors name the arguments ``names``."""
    arrays = []
    for name, value in zip(names, (a, b), strict=True):
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        if not isinstance(value, np.ndarray):
            raise TypeError(f"{name} must be a tensor or NumPy array of maps (N, ...), got {type(value).__name__}.")
        if value.ndim < 2:
            raise ValueError(
                f"{name} must be a batch of maps (N, ...), got shape {value.shape}; add a batch dimension."
            )
        arrays.append(value.astype(np.float64))
    if arrays[0].shape != arrays[1].shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape, got {arrays[0].shape} and {arrays[1].shape}."
        )
    return arrays[0], arrays[1]


def _centred_ranks(values: np.ndarray) -> np.ndarray:
    ranks = rankdata(values, axis=1)
    return ranks - ranks.mean(axis=1, keepdims=True)


def spearman(
    a: torch.Tensor | np.ndarray,
    b: torch.Tensor | np.ndarray,
    *,
    absolute: bool = True,
    ignore_zeros: bool = False,
) -> np.ndarray:
    """Spearman rank correlation of each pair of flattened maps, in [-1, 1] (ties get average ranks).

    ``absolute=True`` ranks ``|a|`` and ``|b|`` (which pixels matter); ``False`` ranks the signed
    values (which pixels push the score up or down). ``ignore_zeros=True`` ranks only the pixels
    where either map is non-zero: pixels that are exactly 0 in both maps (the black background,
    for methods that multiply by the input) are tied in both rankings and agree whatever the
    model learned, which inflates the plain correlation (see :func:`shared_zeros`). NaN where a
    map is constant on the pixels ranked, or fewer than two pixels are left.
    Used from notebook 03 on to compare maps; ``ignore_zeros`` in notebooks 03 and 08's sanity checks.

    Examples::

        >>> import numpy as np
        >>> from helpers import spearman
        >>> a = np.array([[0.1, 0.5, 0.9, 0.3]])
        >>> spearman(a, a**2), spearman(a, -a), spearman(a, -a, absolute=False)
        (array([1.]), array([1.]), array([-1.]))
        >>> padded_a, padded_b = np.array([[0, 0, 0, 0, 1, 2, 3]]), np.array([[0, 0, 0, 0, 3, 2, 1]])
        >>> spearman(padded_a, padded_b).round(2), spearman(padded_a, padded_b, ignore_zeros=True)
        (array([0.83]), array([-1.]))
    """
    check_bool(absolute, "absolute")
    check_bool(ignore_zeros, "ignore_zeros")
    first, second = _pairs(a, b)
    if absolute:
        first, second = np.abs(first), np.abs(second)
    first, second = first.reshape(len(first), -1), second.reshape(len(second), -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if not ignore_zeros:
            ranks_a, ranks_b = _centred_ranks(first), _centred_ranks(second)
            norms = np.sqrt((ranks_a**2).sum(axis=1) * (ranks_b**2).sum(axis=1))
            return (ranks_a * ranks_b).sum(axis=1) / norms
        result = np.full(len(first), np.nan)
        for index, (x, y) in enumerate(zip(first, second, strict=True)):
            kept = (x != 0) | (y != 0)
            if kept.sum() >= 2:
                result[index] = spearman(x[kept][None], y[kept][None], absolute=False)[0]
        return result


def shared_zeros(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> np.ndarray:
    """Fraction of the pixels that are exactly 0 in both maps of each pair, in [0, 1].

    Those pixels are tied in both rankings, so they raise Spearman's rho whatever the maps
    say elsewhere; report this share beside the correlation, or use
    ``spearman(..., ignore_zeros=True)``. Used in notebooks 03 and 08's sanity checks.

    Examples::

        >>> import numpy as np
        >>> from helpers import shared_zeros
        >>> shared_zeros(np.array([[0.0, 0.0, 1.0, 0.0]]), np.array([[0.0, 2.0, 3.0, 0.0]]))
        array([0.5])
    """
    a, b = _pairs(a, b)
    both = (a == 0) & (b == 0)
    return both.reshape(len(both), -1).mean(axis=1)


def top_k_overlap(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, k: int) -> np.ndarray:
    """Fraction of the ``k`` largest-``|value|`` pixels that two maps share, in [0, 1].

    Ties at the k-th place are broken by pixel order. Do two maps agree on what matters most?
    Used from notebook 03 on (stability, then LIME's seeds in notebook 05, the comparison in 08).

    Examples::

        >>> import numpy as np
        >>> from helpers import top_k_overlap
        >>> top_k_overlap(np.array([[4.0, 3.0, 2.0, 1.0]]), np.array([[4.0, 1.0, 3.0, 2.0]]), k=2)
        array([0.5])
    """
    a, b = _pairs(a, b)
    size = a[0].size
    k = check_int(k, "k", maximum=size)
    top_a = np.argsort(-np.abs(a.reshape(len(a), -1)), axis=1, kind="stable")[:, :k]
    top_b = np.argsort(-np.abs(b.reshape(len(b), -1)), axis=1, kind="stable")[:, :k]
    return np.array([len(np.intersect1d(x, y)) / k for x, y in zip(top_a, top_b, strict=True)])


def ssim(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, *, data_range: float | None = None) -> np.ndarray:
    """Structural similarity (scikit-image) of each pair of 2-D maps, ``(N, H, W)`` or ``(N, 1, H, W)``.

    ``data_range``: the value range of the maps; pass it when maps are normalised (1 for
    maps in [0, 1], 2 for [-1, 1]). ``None`` uses each pair's joint range ``max - min``.
    Used in notebook 03, section "Sanity checks", to compare trained and randomised maps.

    Examples::

        >>> import numpy as np
        >>> from helpers import ssim
        >>> maps = np.random.default_rng(0).random((2, 8, 8))
        >>> ssim(maps, maps)
        array([1., 1.])
    """
    a, b = _pairs(a, b)
    if a.ndim == 4 and a.shape[1] == 1:
        a, b = a[:, 0], b[:, 0]
    if a.ndim != 3:
        raise ValueError(f"ssim needs 2-D maps, (N, H, W) or (N, 1, H, W); got shape {a.shape}.")
    if min(a.shape[1:]) < 7:
        raise ValueError(f"ssim needs maps of at least 7 x 7 pixels (its window), got {a.shape[1:]}.")
    if data_range is not None:
        data_range = check_real(data_range, "data_range", positive=True)
    scores = []
    for x, y in zip(a, b, strict=True):
        joint = data_range if data_range is not None else max(x.max(), y.max()) - min(x.min(), y.min())
        scores.append(structural_similarity(x, y, data_range=joint if joint > 0 else 1.0))
    return np.array(scores)


def normalize_maps(maps: torch.Tensor) -> torch.Tensor:
    """Each map ``(N, ...)`` divided by its largest absolute value (all-zero maps stay zero).

    Puts maps of different methods or models on one scale; used in notebook 03.

    Examples::

        >>> import torch
        >>> from helpers import normalize_maps
        >>> normalize_maps(torch.tensor([[2.0, -4.0], [0.0, 0.0]]))
        tensor([[ 0.5000, -1.0000],
                [ 0.0000,  0.0000]])
    """
    if not isinstance(maps, torch.Tensor) or not maps.is_floating_point():
        raise TypeError(
            f"maps must be a float tensor (N, ...), got {type(maps).__name__}; convert with torch.as_tensor(maps).float()."
        )
    if maps.dim() < 2:
        raise ValueError(
            f"maps must be a batch (N, ...), got shape {tuple(maps.shape)}; use maps.unsqueeze(0) for one map."
        )
    scale = maps.detach().flatten(1).abs().max(dim=1).values.clamp_min(torch.finfo(maps.dtype).tiny)
    return maps.detach() / scale.reshape(-1, *[1] * (maps.dim() - 1))
