"""Tests of helpers.evaluate.similarity: Spearman rank correlation, shared zeros, top-k overlap, SSIM, normalize_maps.

Spearman and SSIM are checked per pair against SciPy and scikit-image, top-k overlap
against hand-made cases, and every function against the shared input checks.
"""

from __future__ import annotations

import warnings
from typing import Any, cast

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr
from skimage.metrics import structural_similarity

from helpers.evaluate.similarity import normalize_maps, shared_zeros, spearman, ssim, top_k_overlap

from bad_arguments import int_error


def maps(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


# ---------------------------------------------------------------------------
# spearman
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("absolute", [True, False])
def test_spearman_of_identical_maps_is_one(absolute) -> None:
    a = maps(4, 1, 28, 28)
    result = spearman(a, a.copy(), absolute=absolute)
    assert isinstance(result, np.ndarray)
    assert result.shape == (4,)
    np.testing.assert_allclose(result, 1.0, atol=1e-12)
    np.testing.assert_allclose(spearman(torch.from_numpy(a).float(), torch.from_numpy(a).float()), 1.0, atol=1e-12)


def test_spearman_of_a_negated_map_is_minus_one_signed_and_one_absolute() -> None:
    a = maps(3, 5, 5)
    np.testing.assert_allclose(spearman(a, -a, absolute=False), -1.0, atol=1e-12)
    np.testing.assert_allclose(spearman(a, -a, absolute=True), 1.0, atol=1e-12)


def test_spearman_of_reversed_positive_ranks_is_minus_one() -> None:
    a = np.arange(1.0, 13.0).reshape(1, 3, 4)
    b = a[:, ::-1, ::-1].copy()  # the same values in reverse pixel order
    np.testing.assert_allclose(spearman(a, b), [-1.0], atol=1e-12)
    np.testing.assert_allclose(spearman(a, b, absolute=False), [-1.0], atol=1e-12)


def test_spearman_default_is_absolute() -> None:
    a, b = maps(3, 6, 6, seed=1), maps(3, 6, 6, seed=2)
    assert np.array_equal(spearman(a, b), spearman(a, b, absolute=True))
    assert np.array_equal(spearman(a, b), spearman(np.abs(a), np.abs(b), absolute=False))
    signs = np.where(maps(3, 6, 6, seed=3) > 0, 1.0, -1.0)
    np.testing.assert_allclose(spearman(a * signs, b), spearman(a, b), atol=1e-12)  # the sign is ignored
    assert not np.allclose(spearman(a * signs, b, absolute=False), spearman(a, b, absolute=False))


@pytest.mark.parametrize("absolute", [True, False])
@pytest.mark.parametrize("ties", [False, True])
def test_spearman_agrees_with_scipy_per_pair(absolute, ties) -> None:
    a, b = maps(6, 1, 7, 7, seed=4), maps(6, 1, 7, 7, seed=5) + 0.5 * maps(6, 1, 7, 7, seed=4)
    if ties:  # few distinct values: many ties, including ties between +v and -v under absolute
        a, b = np.round(2 * a), np.round(2 * b)
    result = spearman(a, b, absolute=absolute)
    transform = np.abs if absolute else (lambda v: v)
    expected = [spearmanr(transform(x).ravel(), transform(y).ravel()).statistic for x, y in zip(a, b, strict=True)]
    np.testing.assert_allclose(result, expected, atol=1e-12)
    assert np.ptp(result) > 0.01  # not all the same value


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 4), pixels=st.integers(2, 20), levels=st.integers(2, 6), seed=st.integers(0, 2**32 - 1))
def test_property_spearman_agrees_with_scipy(n, pixels, levels, seed) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(-levels, levels + 1, size=(n, pixels)).astype(float)
    b = rng.integers(-levels, levels + 1, size=(n, pixels)).astype(float)
    result = spearman(a, b, absolute=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on constant input
        expected = [spearmanr(x, y).statistic for x, y in zip(a, b, strict=True)]
    np.testing.assert_allclose(result, expected, atol=1e-12)  # NaN where scipy gives NaN


def test_spearman_of_a_constant_map_is_nan_without_a_warning() -> None:
    a = np.stack([np.zeros((4, 4)), maps(4, 4)])
    b = maps(2, 4, 4, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = spearman(a, b)
    assert np.isnan(result[0])
    assert np.isfinite(result[1])


def test_spearman_accepts_tensors_requiring_grad_and_mixed_inputs() -> None:
    a = torch.randn(3, 1, 5, 5, generator=torch.Generator().manual_seed(0), requires_grad=True)
    b = maps(3, 1, 5, 5)
    np.testing.assert_allclose(spearman(a, b), spearman(a.detach().numpy(), b), atol=1e-12)
    assert a.grad is None


def sparse_maps(*shape: int, zeros: float, seed: int = 0) -> np.ndarray:
    """Signed maps with about a ``zeros`` fraction of exact zeros, placed independently in each map."""
    rng = np.random.default_rng(seed)
    return np.where(rng.random(shape) < zeros, 0.0, rng.standard_normal(shape))


def test_spearman_ignore_zeros_hand_case() -> None:
    """Four shared zeros agree in both rankings and lift a reversed order to 0.83; ignored, it is -1."""
    a, b = np.array([[0, 0, 0, 0, 1, 2, 3]]), np.array([[0, 0, 0, 0, 3, 2, 1]])
    np.testing.assert_allclose(spearman(a, b), [spearmanr(a[0], b[0]).statistic], atol=1e-12)
    np.testing.assert_allclose(spearman(a, b).round(2), [0.83])
    np.testing.assert_allclose(spearman(a, b, ignore_zeros=True), [-1.0], atol=1e-12)
    np.testing.assert_allclose(spearman(a, b, absolute=False, ignore_zeros=True), [-1.0], atol=1e-12)


def test_spearman_ignore_zeros_keeps_pixels_that_are_zero_in_one_map_only() -> None:
    """The union of the non-zero pixels is ranked: [1, 2, 0] against [0, 2, 1], rho = 1 - 6 * 2 / 24 = 0.5."""
    a, b = np.array([[0.0, 1.0, 2.0, 0.0]]), np.array([[0.0, 0.0, 2.0, 1.0]])
    np.testing.assert_allclose(spearman(a, b, ignore_zeros=True), [0.5], atol=1e-12)


def test_spearman_ignore_zeros_with_absolute_and_signed_values() -> None:
    """|[-3, 1, 2]| and |[3, 1, 2]| rank alike (1); signed, the ranks [1, 2, 3] and [3, 1, 2] give 1 - 6 * 6 / 24 = -0.5."""
    a, b = np.array([[0.0, 0.0, -3.0, 1.0, 2.0]]), np.array([[0.0, 0.0, 3.0, 1.0, 2.0]])
    np.testing.assert_allclose(spearman(a, b, ignore_zeros=True), [1.0], atol=1e-12)
    np.testing.assert_allclose(spearman(a, b, absolute=True, ignore_zeros=True), [1.0], atol=1e-12)
    np.testing.assert_allclose(spearman(a, b, absolute=False, ignore_zeros=True), [-0.5], atol=1e-12)


@pytest.mark.parametrize("absolute", [True, False])
@pytest.mark.parametrize("zeros", [0.0, 0.5, 0.9])
def test_spearman_ignore_zeros_agrees_with_scipy_on_the_non_zero_union(absolute, zeros) -> None:
    a, b = sparse_maps(8, 1, 9, 9, zeros=zeros, seed=1), sparse_maps(8, 1, 9, 9, zeros=zeros, seed=2)
    b = np.where(b != 0, b + 0.5 * a, 0.0)  # correlated where both are non-zero
    result = spearman(a, b, absolute=absolute, ignore_zeros=True)
    transform = np.abs if absolute else (lambda v: v)
    expected = []
    for x, y in zip(a.reshape(8, -1), b.reshape(8, -1), strict=True):
        kept = (x != 0) | (y != 0)
        expected.append(spearmanr(transform(x[kept]), transform(y[kept])).statistic)
    np.testing.assert_allclose(result, expected, atol=1e-12)
    if zeros == 0.0:  # nothing to ignore: the plain correlation
        np.testing.assert_allclose(result, spearman(a, b, absolute=absolute), atol=1e-12)


def test_shared_zeros_inflate_the_plain_correlation_but_not_the_ignoring_one() -> None:
    """Independent maps on a shared black background: plain rho is high, ignoring the background it is near 0."""
    background = np.zeros((4, 28, 28))
    a, b = background.copy(), background.copy()
    a[:, 10:18, 10:18], b[:, 10:18, 10:18] = sparse_maps(4, 8, 8, zeros=0.0, seed=3), sparse_maps(4, 8, 8, zeros=0.0)
    assert (spearman(a, b) > 0.8).all()
    assert (np.abs(spearman(a, b, ignore_zeros=True)) < 0.3).all()


def test_spearman_ignore_zeros_is_nan_with_fewer_than_two_pixels_or_a_constant_map() -> None:
    a = np.array([[0.0, 0.0, 0.0, 0.0], [0.0, 5.0, 0.0, 0.0], [0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 2.0, 0.0]])
    b = np.array([[0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 2.0, 3.0, 0.0], [0.0, 2.0, 1.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = spearman(a, b, ignore_zeros=True)
    assert np.isnan(result[:3]).all()  # no pixel, one pixel, a constant on the two kept
    np.testing.assert_allclose(result[3], -1.0, atol=1e-12)  # the other pairs are unaffected


def test_spearman_ignore_zeros_accepts_tensors_and_numpy_bools() -> None:
    a, b = sparse_maps(3, 1, 6, 6, zeros=0.5, seed=4), sparse_maps(3, 1, 6, 6, zeros=0.5, seed=5)
    expected = spearman(a, b, ignore_zeros=True)
    np.testing.assert_allclose(spearman(torch.from_numpy(a), torch.from_numpy(b), ignore_zeros=True), expected)
    np.testing.assert_allclose(spearman(a, b, ignore_zeros=cast(Any, np.bool_(True))), expected)
    assert np.array_equal(spearman(a, b, ignore_zeros=False), spearman(a, b))  # the default


@pytest.mark.parametrize("name", ["ignore_zeros", "absolute"])
@pytest.mark.parametrize("value", ["yes", 1, None])
def test_spearman_flags_must_be_bools(name, value) -> None:
    a = maps(2, 4, 4)
    with pytest.raises(TypeError, match=f"{name} must be True or False"):
        spearman(a, a, **{name: value})


# ---------------------------------------------------------------------------
# shared_zeros
# ---------------------------------------------------------------------------


def test_shared_zeros_hand_cases() -> None:
    a = np.array([[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0]])
    b = np.array([[0.0, 2.0, 3.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(shared_zeros(a, b), [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(shared_zeros(b, a), [0.5, 1.0, 0.0])  # symmetric


def test_shared_zeros_counts_exact_zeros_only_of_either_sign() -> None:
    a, b = np.array([[-0.0, 1e-300, 0.0, 0.0]]), np.array([[0.0, 0.0, -1e-300, 0.0]])
    np.testing.assert_array_equal(shared_zeros(a, b), [0.5])


def test_shared_zeros_is_a_fraction_per_pair_over_all_pixels() -> None:
    a, b = sparse_maps(5, 2, 7, 7, zeros=0.6, seed=6), sparse_maps(5, 2, 7, 7, zeros=0.6, seed=7)
    result = shared_zeros(a, b)
    assert result.shape == (5,)
    assert ((result >= 0) & (result <= 1)).all()
    expected = [np.mean((x == 0) & (y == 0)) for x, y in zip(a, b, strict=True)]
    np.testing.assert_allclose(result, expected, atol=1e-12)
    assert abs(result.mean() - 0.36) < 0.1  # independent zeros: about 0.6 * 0.6 shared
    np.testing.assert_allclose(shared_zeros(torch.from_numpy(a).float(), b), result, atol=1e-12)


# ---------------------------------------------------------------------------
# top_k_overlap
# ---------------------------------------------------------------------------


def test_top_k_overlap_of_identical_maps_is_one() -> None:
    a = maps(3, 1, 6, 6)
    for k in (1, 5, 36):
        result = top_k_overlap(a, a.copy(), k)
        assert result.shape == (3,)
        np.testing.assert_array_equal(result, 1.0)


def test_top_k_overlap_hand_made_cases() -> None:
    a = np.zeros((3, 1, 3, 3))
    b = np.zeros((3, 1, 3, 3))
    a[0].flat[[0, 1, 2, 3]] = [9, 8, 7, 6]  # disjoint top 4
    b[0].flat[[4, 5, 6, 7]] = [9, 8, 7, 6]
    a[1].flat[[0, 1, 2, 3]] = [9, 8, 7, 6]  # 2 of 4 shared
    b[1].flat[[2, 3, 4, 5]] = [9, 8, 7, 6]
    a[2].flat[[0, 1, 2, 3]] = [9, 8, 7, 6]  # 3 of 4 shared, in another order
    b[2].flat[[3, 2, 1, 8]] = [9, 8, 7, 6]
    np.testing.assert_array_equal(top_k_overlap(a, b, 4), [0.0, 0.5, 0.75])
    np.testing.assert_array_equal(top_k_overlap(a, b, 1), [0.0, 0.0, 0.0])


def test_top_k_overlap_ranks_absolute_values() -> None:
    a = np.array([[-9.0, 1.0, 0.5, -0.1]])
    b = np.array([[9.0, 2.0, -8.0, 0.0]])
    np.testing.assert_array_equal(top_k_overlap(a, b, 1), [1.0])  # pixel 0 is the largest |value| in both
    np.testing.assert_array_equal(top_k_overlap(a, b, 2), [0.5])  # {0, 1} against {0, 2}
    np.testing.assert_array_equal(top_k_overlap(a, -a, 2), [1.0])


def test_top_k_overlap_breaks_ties_by_pixel_order() -> None:
    a = np.ones((1, 8))
    b = np.array([[5.0, 4.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(top_k_overlap(a, b, 3), [1.0])


def test_top_k_overlap_accepts_numpy_integer_k() -> None:
    a, b = maps(2, 4, 4), maps(2, 4, 4, seed=1)
    k: Any = np.int64(5)  # Any: annotated int, NumPy integers accepted too
    np.testing.assert_array_equal(top_k_overlap(a, b, k), top_k_overlap(a, b, 5))
    np.testing.assert_array_equal(top_k_overlap(a, b, 16), 1.0)


@pytest.mark.parametrize("k", [0, -1, 17, 2.0, True, "3", None])
def test_top_k_overlap_bad_k_names_the_range(k) -> None:
    with pytest.raises(int_error(k), match=r"k must be an int between 1 and 16"):
        top_k_overlap(maps(2, 4, 4), maps(2, 4, 4, seed=1), k)


# ---------------------------------------------------------------------------
# ssim
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 1, 12, 12), (3, 12, 12)], ids=["N1HW", "NHW"])
@pytest.mark.parametrize("data_range", [None, 1.0, 4.0])
def test_ssim_of_identical_maps_is_one(shape, data_range) -> None:
    a = maps(*shape)
    result = ssim(a, a.copy(), data_range=data_range)
    assert result.shape == (3,)
    np.testing.assert_allclose(result, 1.0, atol=1e-12)


@pytest.mark.parametrize("data_range", [1.0, 2.0])
def test_ssim_agrees_with_scikit_image(data_range) -> None:
    rng = np.random.default_rng(6)
    a = rng.uniform(0, 1, size=(4, 1, 14, 14))
    b = np.clip(a + rng.normal(0, 0.2, size=a.shape), 0, 1)
    result = ssim(torch.from_numpy(a), b, data_range=data_range)
    expected = [structural_similarity(x[0], y[0], data_range=data_range) for x, y in zip(a, b, strict=True)]
    np.testing.assert_allclose(result, expected, atol=1e-12)
    np.testing.assert_array_equal(ssim(a[:, 0], b[:, 0], data_range=data_range), result)  # (N, H, W) too


def test_ssim_without_data_range_uses_each_pairs_joint_range() -> None:
    a = maps(3, 10, 10, seed=7)
    b = maps(3, 10, 10, seed=8) * np.array([1.0, 3.0, 0.1])[:, None, None]
    expected = [
        structural_similarity(x, y, data_range=max(x.max(), y.max()) - min(x.min(), y.min()))
        for x, y in zip(a, b, strict=True)
    ]
    np.testing.assert_allclose(ssim(a, b), expected, atol=1e-12)


def test_ssim_falls_as_noise_grows() -> None:
    rng = np.random.default_rng(9)
    a = rng.uniform(0, 1, size=(3, 16, 16))
    scores = [ssim(a, a + rng.normal(0, level, size=a.shape), data_range=1.0) for level in (0.0, 0.05, 0.3)]
    assert (scores[0] > scores[1]).all() and (scores[1] > scores[2]).all()
    np.testing.assert_allclose(scores[0], 1.0)


def test_ssim_of_identical_constant_maps_is_one() -> None:
    a = np.full((2, 8, 8), 0.5)
    np.testing.assert_allclose(ssim(a, a.copy()), 1.0)


@pytest.mark.parametrize("shape", [(2, 64), (2, 3, 8, 8), (2, 1, 1, 8, 8)], ids=["1-D-maps", "3-channel-maps", "5-D"])
def test_ssim_needs_2d_maps(shape) -> None:
    with pytest.raises(ValueError, match=r"ssim needs 2-D maps, \(N, H, W\) or \(N, 1, H, W\)"):
        ssim(np.zeros(shape), np.zeros(shape))


@pytest.mark.parametrize("data_range", [0, -1.0, float("nan")])
def test_ssim_data_range_must_be_positive(data_range) -> None:
    with pytest.raises(ValueError, match="data_range must be"):
        ssim(maps(2, 8, 8), maps(2, 8, 8, seed=1), data_range=data_range)


# ---------------------------------------------------------------------------
# normalize_maps
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_normalize_maps_scales_each_map_to_max_abs_one(dtype) -> None:
    factors = torch.tensor([1.0, 100.0, 1e-3, 0.0], dtype=dtype).reshape(-1, 1, 1, 1)
    x = torch.from_numpy(maps(4, 1, 6, 6)).to(dtype) * factors
    x.requires_grad_(True)
    before = x.detach().clone()
    result = normalize_maps(x)
    assert result.shape == x.shape and result.dtype == dtype
    assert not result.requires_grad
    peaks = result.flatten(1).abs().max(dim=1).values
    torch.testing.assert_close(peaks[:3], torch.ones(3, dtype=dtype))
    assert torch.equal(result[3], torch.zeros_like(result[3]))  # an all-zero map stays zero, not NaN
    # one positive factor per map: signs and ratios are kept
    scale = before[:3].flatten(1).abs().max(dim=1).values.reshape(-1, 1, 1, 1)
    torch.testing.assert_close(result[:3] * scale, before[:3])
    assert torch.equal(x.detach(), before)
    assert x.requires_grad and x.grad is None


def test_normalize_maps_of_negative_peaks() -> None:
    x = torch.tensor([[[-4.0, 2.0], [1.0, 0.0]]])
    assert torch.equal(normalize_maps(x), torch.tensor([[[-1.0, 0.5], [0.25, 0.0]]]))


@pytest.mark.parametrize(
    ("maps_", "error"),
    [(np.ones((2, 4)), TypeError), ([[1.0, 2.0]], TypeError), (torch.ones(4), ValueError)],
    ids=["numpy", "list", "1-D"],
)
def test_normalize_maps_bad_input_is_a_clear_error(maps_, error) -> None:
    with pytest.raises(error, match="maps"):
        normalize_maps(maps_)


# ---------------------------------------------------------------------------
# Shared input checks
# ---------------------------------------------------------------------------

FUNCTIONS = {
    "spearman": spearman,
    "spearman-signed": lambda a, b: spearman(a, b, absolute=False),
    "spearman-ignore-zeros": lambda a, b: spearman(a, b, ignore_zeros=True),
    "shared_zeros": shared_zeros,
    "top_k_overlap": lambda a, b: top_k_overlap(a, b, 3),
    "ssim": ssim,
}


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize(
    ("a_shape", "b_shape"),
    [((2, 8, 8), (3, 8, 8)), ((2, 8, 8), (2, 8, 9)), ((2, 1, 8, 8), (2, 8, 8))],
    ids=["N", "W", "channel"],
)
def test_shape_mismatch_is_a_value_error(function, a_shape, b_shape) -> None:
    with pytest.raises(ValueError, match=r"a and b must have the same shape"):
        FUNCTIONS[function](np.zeros(a_shape), np.zeros(b_shape))


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("bad", [[[0.0] * 64] * 2, 3.0, None], ids=["list", "float", "none"])
@pytest.mark.parametrize("which", ["a", "b"])
def test_non_array_input_is_a_type_error_naming_it(function, bad, which) -> None:
    good = np.zeros((2, 8, 8))
    arguments = (bad, good) if which == "a" else (good, bad)
    with pytest.raises(TypeError, match=rf"{which} must be a tensor or NumPy array of maps \(N, \.\.\.\)"):
        FUNCTIONS[function](*arguments)


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("which", ["a", "b"])
def test_unbatched_input_is_a_value_error_naming_the_batch_dimension(function, which) -> None:
    single, batch = np.arange(64.0), np.arange(64.0)[None]
    arguments = (single, batch) if which == "a" else (batch, single)
    with pytest.raises(ValueError, match=rf"{which} must be a batch of maps \(N, \.\.\.\).*add a batch dimension"):
        FUNCTIONS[function](*arguments)


def test_ssim_rejects_a_non_numeric_data_range_and_tiny_maps() -> None:
    maps = np.random.default_rng(0).random((2, 8, 8))
    with pytest.raises(TypeError, match="data_range"):
        ssim(maps, maps, data_range="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="7 x 7"):
        ssim(maps[:, :5, :5], maps[:, :5, :5])
