"""Coalition weights: how much LIME and KernelSHAP trust each perturbed sample in their weighted regression.

Both methods switch groups of features (superpixels) off, record the model's score, and fit a
weighted linear model to (coalition, score) pairs. They differ only in the weight a coalition
gets, and that weight depends only on how many of the M features it keeps, its ``size`` s:

- :func:`shapley_kernel`: (M - 1) / (C(M, s) s (M - s)) (Lundberg & Lee, 2017). With it the
  regression's coefficients are the Shapley values: KernelSHAP is LIME with this kernel.
- :func:`lime_kernel`: the weight LIME's image explainer gives by default, from the cosine
  distance between the coalition and the all-on vector.
"""

from __future__ import annotations

import math

from helpers._checks import check_int, check_real


def _features_and_size(features: object, size: object) -> tuple[int, int]:
    m = check_int(features, "features")
    s = check_int(size, "size", minimum=0)
    if s > m:
        raise ValueError(f"size must lie between 0 and features = {m} (features switched on), got {s}.")
    return m, s


def shapley_kernel(features: int, size: int) -> float:
    """The Shapley kernel: the weight KernelSHAP gives a coalition keeping ``size`` of ``features`` features.

    ``(M - 1) / (C(M, s) * s * (M - s))`` for ``0 < s < M`` (Lundberg & Lee, 2017). It is
    largest for the smallest and largest coalitions, which say most about a single feature,
    and symmetric in ``s <-> M - s``. The empty and the full coalition get ``math.inf``:
    KernelSHAP does not weight them, it enforces them exactly (the attributions sum to
    f(x) - E[f], and nothing is attributed when every feature is off). Used in notebook 06
    (KernelSHAP is LIME with the Shapley kernel).

    ``shap.KernelExplainer`` uses these weights up to a constant factor: it normalises the
    weights of the coalitions it evaluates to sum to 1, and gives a size's total weight in
    equal parts to each coalition of that size.

    Args:
        features: M, the number of features (superpixels), at least 1. Python or NumPy int.
        size: s, how many are switched on, ``0 <= s <= M``.

    Returns:
        The weight, a positive ``float``, or ``math.inf`` for ``s = 0`` and ``s = M``.

    Examples::

        >>> from helpers import shapley_kernel
        >>> [round(shapley_kernel(4, s), 4) for s in range(5)]
        [inf, 0.25, 0.125, 0.25, inf]
    """
    m, s = _features_and_size(features, size)
    if s in (0, m):
        return math.inf
    return (m - 1) / (math.comb(m, s) * s * (m - s))  # exact integers, one correctly rounded division


def lime_kernel(features: int, size: int, *, width: float = 0.25) -> float:
    """The weight LIME's image explainer gives a coalition with ``size`` of ``features`` superpixels switched on.

    LIME weights each sample by its distance to the image explained. ``lime_image`` measures it
    between binary vectors, the sample's against the all-ones one (every superpixel on), with
    the cosine distance, ``d = 1 - sqrt(s / M)``, and turns it into a weight with the kernel
    ``sqrt(exp(-d**2 / width**2))`` = ``exp(-d**2 / (2 width**2))``. This assumes
    ``lime_image.LimeImageExplainer``'s defaults, which :func:`helpers.lime_map` keeps:
    ``kernel_width=0.25``, ``kernel=None`` (that exponential kernel) and
    ``explain_instance(..., distance_metric="cosine")``. The weight depends only on how many
    superpixels are on, not which, nor on the fill colour. The empty coalition is at ``d = 1``
    (scikit-learn's cosine similarity of a zero vector is 0). Tables (``lime_tabular``) weight
    differently: Euclidean distance on standardised values, width ``0.75 * sqrt(F)``.
    Used in notebook 06 (KernelSHAP is LIME with the Shapley kernel).

    Args:
        features: M, the number of superpixels, at least 1. Python or NumPy int.
        size: s, how many are switched on, ``0 <= s <= M``.
        width: the kernel width (LIME's ``kernel_width``), positive.

    Returns:
        The weight, in (0, 1]: 1 for the image itself (``s = M``).

    Examples::

        >>> from helpers import lime_kernel
        >>> [round(lime_kernel(4, s), 4) for s in range(5)]  # the more superpixels on, the closer to the image
        [0.0003, 0.1353, 0.5034, 0.8662, 1.0]
        >>> round(lime_kernel(50, 25), 4), round(lime_kernel(50, 1), 4)  # half on: about 0.5 for any M
        (0.5034, 0.0027)
    """
    m, s = _features_and_size(features, size)
    width = check_real(width, "width", positive=True)
    distance = 1.0 - math.sqrt(s / m)
    return math.sqrt(math.exp(-(distance**2) / width**2))
