"""Tests of helpers.explain.kernels: the Shapley kernel and LIME's image kernel.

Each is checked against the formula by hand and against the library that uses it: the weights
``shap.KernelExplainer`` actually gives the coalitions it enumerates, and the distances and
kernel function ``lime_image`` builds.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from helpers import lime_kernel, shapley_kernel

from bad_arguments import int_error, real_error

# ---------------------------------------------------------------------------
# The Shapley kernel
# ---------------------------------------------------------------------------


def test_shapley_kernel_for_four_features_by_hand() -> None:
    # (M - 1) / (C(M, s) s (M - s)) with M = 4: 3 / (4 * 1 * 3), 3 / (6 * 2 * 2), 3 / (4 * 3 * 1)
    assert shapley_kernel(4, 1) == 0.25
    assert shapley_kernel(4, 2) == 0.125
    assert shapley_kernel(4, 3) == 0.25
    assert shapley_kernel(4, 0) == math.inf
    assert shapley_kernel(4, 4) == math.inf


@pytest.mark.parametrize("features", [2, 3, 5, 10, 31, 200])
def test_shapley_kernel_is_the_formula_correctly_rounded(features) -> None:
    for size in range(1, features):
        exact = Fraction(features - 1, math.comb(features, size) * size * (features - size))
        assert shapley_kernel(features, size) == float(exact)


@pytest.mark.parametrize("features", [1, 2, 3, 4, 7, 12])
def test_shapley_kernel_is_symmetric_and_infinite_at_the_ends(features) -> None:
    for size in range(features + 1):
        assert shapley_kernel(features, size) == shapley_kernel(features, features - size)
        assert (shapley_kernel(features, size) == math.inf) == (size in (0, features))
        assert shapley_kernel(features, size) > 0


def test_shapley_kernel_is_largest_for_the_smallest_and_largest_coalitions() -> None:
    weights = [shapley_kernel(8, s) for s in range(1, 8)]
    assert weights[:4] == sorted(weights[:4], reverse=True)  # falls to the middle, rises after
    assert weights[3] == min(weights)


def test_shapley_kernel_accepts_numpy_integers() -> None:
    four: Any = np.int64(4)
    two: Any = np.int32(2)
    assert shapley_kernel(four, two) == 0.125
    assert isinstance(shapley_kernel(four, two), float)


@pytest.mark.parametrize("features", [2, 3, 4, 5, 6])
def test_shapley_kernel_is_proportional_to_the_weights_shap_kernel_explainer_uses(features) -> None:
    """With nsamples = 2**M, KernelExplainer enumerates every coalition but the empty and full ones."""
    shap = pytest.importorskip("shap")
    slopes = np.arange(1.0, features + 1)

    def f(values: np.ndarray) -> np.ndarray:
        return values @ slopes

    background = np.zeros((1, features))
    x = np.ones((1, features))  # every feature differs from the background: shap drops those that do not
    explainer = shap.KernelExplainer(f, background)
    values = explainer.shap_values(x, nsamples=2**features, silent=True)
    np.testing.assert_allclose(np.ravel(values), slopes, atol=1e-9)  # a linear model's Shapley values

    masks, weights = explainer.maskMatrix, explainer.kernelWeights
    coalitions = {tuple(row) for row in masks.astype(int)}
    assert len(masks) == len(coalitions) == 2**features - 2  # each interior coalition once
    sizes = masks.sum(axis=1).astype(int)
    assert sizes.min() == 1 and sizes.max() == features - 1  # the ends are enforced, not weighted
    normalised = weights / weights.sum()
    ratios = normalised / np.array([shapley_kernel(features, s) for s in sizes])
    np.testing.assert_allclose(ratios, ratios[0], atol=1e-9, rtol=0)
    # shap's weights sum to 1, so the constant is 1 / sum over coalitions of the kernel
    total = sum(math.comb(features, s) * shapley_kernel(features, s) for s in range(1, features))
    assert ratios[0] == pytest.approx(1 / total, abs=1e-12)


# ---------------------------------------------------------------------------
# LIME's image kernel
# ---------------------------------------------------------------------------


def test_lime_kernel_by_hand() -> None:
    # cosine distance to the all-on vector: 1 - sqrt(s / M); kernel exp(-d^2 / (2 width^2))
    assert lime_kernel(4, 4) == 1.0
    assert lime_kernel(4, 1) == pytest.approx(math.exp(-(0.5**2) / (2 * 0.25**2)), abs=1e-15)
    assert lime_kernel(4, 0) == pytest.approx(math.exp(-1 / (2 * 0.25**2)), abs=1e-15)
    assert lime_kernel(9, 4, width=0.5) == pytest.approx(math.exp(-((1 / 3) ** 2) / 0.5), abs=1e-15)


@pytest.mark.parametrize("features", [1, 4, 10, 50])
def test_lime_kernel_grows_with_the_coalition_and_stays_in_zero_one(features) -> None:
    weights = [lime_kernel(features, s) for s in range(features + 1)]
    assert all(0 < w <= 1 for w in weights)
    assert weights == sorted(weights)
    assert weights[-1] == 1.0


@pytest.mark.parametrize("width", [0.1, 0.25, 1.0])
def test_lime_kernel_equals_lime_images_distances_and_kernel(width) -> None:
    """The distances lime_image.explain_instance builds, and the kernel_fn LimeImageExplainer gives lime_base."""
    lime_image = pytest.importorskip("lime.lime_image")
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    features = 12
    generator = np.random.default_rng(0)
    data = generator.integers(0, 2, size=(40, features))
    data[0, :] = 1  # lime_image's first row is the image itself: every superpixel on
    every_size = (np.arange(features) < np.arange(features + 1)[:, None]).astype(data.dtype)  # sizes 0..M
    data = np.vstack([data, generator.permuted(every_size, axis=1)])
    distances = sklearn_metrics.pairwise_distances(data, data[0].reshape(1, -1), metric="cosine").ravel()
    explainer = lime_image.LimeImageExplainer(kernel_width=width, random_state=0)
    expected = explainer.base.kernel_fn(distances)
    ours = np.array([lime_kernel(features, int(row.sum()), width=width) for row in data])
    np.testing.assert_allclose(ours, expected, atol=1e-12, rtol=0)
    assert np.ptp(expected) > 0.3  # not vacuous


def test_lime_kernels_default_width_is_lime_images() -> None:
    lime_image = pytest.importorskip("lime.lime_image")
    explainer = lime_image.LimeImageExplainer(random_state=0)
    distance = 1 - math.sqrt(3 / 7)
    assert lime_kernel(7, 3) == pytest.approx(float(explainer.base.kernel_fn(np.array([distance]))[0]), abs=1e-15)


def test_lime_kernel_accepts_numpy_numbers() -> None:
    four: Any = np.int64(4)
    two: Any = np.int32(2)
    assert lime_kernel(four, two, width=np.float64(0.25)) == lime_kernel(4, 2)


# ---------------------------------------------------------------------------
# Bad arguments
# ---------------------------------------------------------------------------

KERNELS = {"shapley_kernel": shapley_kernel, "lime_kernel": lime_kernel}


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("features", [0, -3, 4.0, True, "4", None])
def test_bad_features(kernel, features) -> None:
    with pytest.raises(int_error(features), match="features must be a positive int"):
        KERNELS[kernel](features, 1)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("size", [-1, 1.0, False, "1", None])
def test_bad_size_type_or_sign(kernel, size) -> None:
    with pytest.raises(int_error(size), match="size must be a non-negative int"):
        KERNELS[kernel](4, size)


@pytest.mark.parametrize("kernel", KERNELS)
def test_size_above_features_names_the_range(kernel) -> None:
    with pytest.raises(ValueError, match=r"size must lie between 0 and features = 4.*got 5"):
        KERNELS[kernel](4, 5)


@pytest.mark.parametrize("width", [0.0, -0.25, float("nan"), float("inf"), "0.25", None, True])
def test_bad_width(width) -> None:
    with pytest.raises(real_error(width), match="width must be"):
        lime_kernel(4, 2, width=width)
