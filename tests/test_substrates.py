"""Tests of helpers.evaluate.substrates: the blurred substrate and ROAD's noisy linear imputation.

The imputation is checked against hand-computed single holes and against an independent
sparse direct solve of ROAD's linear system (scipy.sparse, written here), then for its
noise, its batching and its argument checks.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pytest
import torch
from scipy import ndimage, sparse
from scipy.sparse.linalg import spsolve

from helpers.evaluate.substrates import ROAD_NOISE, blurred, noisy_linear_imputation

from side_effects import global_rngs_untouched

SOLVER_ATOL = 1e-4
"""How close the iterative solve gets to the exact solution (the helper documents about 1e-4 on 28 x 28 images)."""

# ROAD's neighbour weights: 1/6 for the four direct neighbours, 1/12 for the four diagonal ones.
WEIGHTS = {
    (di, dj): (1 / 6 if abs(di) + abs(dj) == 1 else 1 / 12)
    for di in (-1, 0, 1)
    for dj in (-1, 0, 1)
    if (di, dj) != (0, 0)
}


def random_images(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


def random_masks(*shape: int, fraction: float, seed: int = 0) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed + 1000)) < fraction


def reference_imputation(image: np.ndarray, removed: np.ndarray) -> np.ndarray:
    """ROAD's system for one (H, W) channel, solved directly with scipy.sparse.

    Removed pixels in a region that touches no kept pixel have nothing to interpolate from
    (their equations are singular); they are set to 0, as the helper documents.
    """
    height, width = image.shape
    result = image.astype(np.float64).copy()
    result[removed] = 0.0
    labels, _ = ndimage.label(removed, structure=np.ones((3, 3)))  # 8-connected regions of removed pixels
    touching = ndimage.binary_dilation(~removed, structure=np.ones((3, 3))) & removed
    solvable = removed & np.isin(labels, np.unique(labels[touching]))
    unknowns = np.argwhere(solvable)
    index = {tuple(pixel): n for n, pixel in enumerate(unknowns)}
    rows, columns, values = [], [], []
    right = np.zeros(len(unknowns))
    for n, (i, j) in enumerate(unknowns):
        degree = 0.0
        for (di, dj), weight in WEIGHTS.items():
            k, m = i + di, j + dj
            if not (0 <= k < height and 0 <= m < width):
                continue  # outside the image: ignored
            degree += weight
            if removed[k, m]:
                rows.append(n)
                columns.append(index[(k, m)])
                values.append(-weight)
            else:
                right[n] += weight * image[k, m]
        rows.append(n)
        columns.append(n)
        values.append(degree)
    if len(unknowns):
        matrix = sparse.csr_matrix((values, (rows, columns)), shape=(len(unknowns), len(unknowns)))
        result[solvable] = np.atleast_1d(spsolve(matrix, right))
    return result


# ---------------------------------------------------------------------------
# blurred
# ---------------------------------------------------------------------------


def test_blur_keeps_shape_keeps_mass_away_from_edges_and_leaves_zeros_alone():
    delta = torch.zeros(1, 1, 28, 28)
    delta[0, 0, 14, 14] = 1.0
    out = blurred(delta, sigma=2.0)
    assert out.shape == delta.shape
    assert out.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert out[0, 0, 14, 14] < 1.0 and out[0, 0, 14, 16] > 0
    assert torch.equal(blurred(torch.zeros(2, 1, 8, 8)), torch.zeros(2, 1, 8, 8))


@pytest.mark.parametrize("sigma", [0, 0.0, -1.0, float("nan"), float("inf")])
def test_blur_with_a_sigma_that_is_not_positive_and_finite_is_a_value_error(sigma):
    """sigma=0 used to return NaN images (a kernel of 0/0)."""
    with pytest.raises(ValueError, match="sigma must be"):
        blurred(torch.rand(1, 1, 8, 8), sigma=sigma)


@pytest.mark.parametrize("sigma", ["2", None, True, [2.0]])
def test_blur_with_a_sigma_that_is_not_a_number_is_a_type_error(sigma):
    with pytest.raises(TypeError, match="sigma must be a number"):
        blurred(torch.rand(1, 1, 8, 8), sigma=sigma)


def test_blur_accepts_numpy_numbers_and_small_sigmas():
    x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    float32: Any = np.float32(1.5)  # Any: the annotation says float, and NumPy numbers are accepted too
    int64: Any = np.int64(2)
    assert torch.equal(blurred(x, sigma=float32), blurred(x, sigma=1.5))
    assert torch.equal(blurred(x, sigma=int64), blurred(x, sigma=2.0))
    tiny = blurred(x, sigma=1e-3)  # a kernel of (almost) one pixel: the images come back
    assert torch.isfinite(tiny).all()
    torch.testing.assert_close(tiny, x)


# ---------------------------------------------------------------------------
# noisy_linear_imputation: the values
# ---------------------------------------------------------------------------


def test_kept_pixels_are_returned_unchanged_bit_for_bit():
    x = random_images(3, 2, 10, 10)
    masks = random_masks(3, 2, 10, 10, fraction=0.4)
    out = noisy_linear_imputation(x, masks)  # with the default noise
    assert out.shape == x.shape
    assert torch.equal(out[~masks], x[~masks])
    assert not torch.equal(out[masks], x[masks])


@pytest.mark.parametrize("fraction", [0.2, 0.7, 0.95])
def test_every_removed_pixel_of_a_constant_image_gets_that_constant(fraction):
    x = torch.full((2, 1, 12, 12), 0.37)
    masks = random_masks(2, 1, 12, 12, fraction=fraction)
    assert masks.any() and not masks.all()
    torch.testing.assert_close(noisy_linear_imputation(x, masks, noise=0.0), x, atol=SOLVER_ATOL, rtol=0)


@pytest.mark.parametrize(("i", "j"), [(3, 4), (0, 0), (0, 4), (6, 7)], ids=["interior", "corner", "edge", "corner2"])
def test_an_isolated_removed_pixel_is_the_weighted_mean_of_its_neighbours(i, j):
    """Interior: weights 1/6 and 1/12 summing to 1; at the border the weights of the neighbours inside are renormalised."""
    x = random_images(1, 1, 7, 8, seed=3)
    masks = torch.zeros(1, 1, 7, 8, dtype=torch.bool)
    masks[0, 0, i, j] = True
    value = noisy_linear_imputation(x, masks, noise=0.0)[0, 0, i, j].item()
    image = x[0, 0].double().numpy()
    inside = [(i + di, j + dj, w) for (di, dj), w in WEIGHTS.items() if 0 <= i + di < 7 and 0 <= j + dj < 8]
    expected = sum(w * image[k, m] for k, m, w in inside) / sum(w for _, _, w in inside)
    assert value == pytest.approx(expected, abs=1e-5)
    neighbours = [image[k, m] for k, m, _ in inside]
    assert min(neighbours) <= value <= max(neighbours)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("size", [(9, 9), (28, 28), (5, 11)])
def test_imputation_agrees_with_a_sparse_direct_solve(fraction, size):
    """Removed neighbours are unknowns too: the whole system is solved jointly, not pixel by pixel."""
    x = random_images(2, 2, *size, seed=7)
    masks = random_masks(2, 2, *size, fraction=fraction, seed=int(10 * fraction))
    out = noisy_linear_imputation(x, masks, noise=0.0).double().numpy()
    expected = np.stack(
        [
            np.stack([reference_imputation(x[n, c].double().numpy(), masks[n, c].numpy()) for c in range(2)])
            for n in range(2)
        ]
    )
    np.testing.assert_allclose(out, expected, atol=SOLVER_ATOL, rtol=0)


def test_a_removed_region_cut_off_from_every_kept_pixel_gets_zero():
    """An image removed entirely, or a channel removed entirely, has nothing to interpolate from."""
    x = random_images(2, 2, 6, 6) + 0.5
    masks = torch.zeros(2, 2, 6, 6, dtype=torch.bool)
    masks[0] = True  # the whole of image 0
    masks[1, 1] = True  # channel 1 of image 1 (channels are imputed separately)
    masks[1, 0, 2, 2] = True  # and one pixel of channel 0, which has neighbours
    out = noisy_linear_imputation(x, masks, noise=0.0)
    assert torch.equal(out[0], torch.zeros(2, 6, 6))
    assert torch.equal(out[1, 1], torch.zeros(6, 6))
    assert out[1, 0, 2, 2] > 0.5


def test_a_fully_removed_image_gets_only_the_noise():
    x = random_images(1, 1, 6, 6) + 0.5
    masks = torch.ones(1, 1, 6, 6, dtype=torch.bool)
    noisy = noisy_linear_imputation(x, masks, noise=0.1, seed=4)
    expected = 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    torch.testing.assert_close(noisy, expected.float())


def test_a_batch_gives_what_each_image_gives_alone():
    """Without noise (the noise of a batch is one draw over its whole shape)."""
    x = random_images(4, 1, 10, 10, seed=2)
    masks = torch.stack([random_masks(1, 10, 10, fraction=f, seed=n) for n, f in enumerate((0.1, 0.4, 0.8, 1.0))])
    batch = noisy_linear_imputation(x, masks, noise=0.0)
    for n in range(4):
        alone = noisy_linear_imputation(x[n : n + 1], masks[n : n + 1], noise=0.0)
        torch.testing.assert_close(batch[n : n + 1], alone, atol=SOLVER_ATOL, rtol=0)


def test_one_mask_per_image_removes_the_same_pixels_in_every_channel():
    x = random_images(2, 3, 8, 8)
    masks = random_masks(2, 1, 8, 8, fraction=0.5)
    expanded = masks.expand(-1, 3, -1, -1).clone()
    assert torch.equal(noisy_linear_imputation(x, masks), noisy_linear_imputation(x, expanded))
    assert torch.equal(noisy_linear_imputation(x, masks, noise=0.0), noisy_linear_imputation(x, expanded, noise=0.0))


# ---------------------------------------------------------------------------
# noisy_linear_imputation: the noise
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("noise", [ROAD_NOISE, 0.2])
def test_noise_of_the_given_std_is_added_to_removed_pixels_only(noise):
    x = random_images(4, 1, 28, 28)
    masks = random_masks(4, 1, 28, 28, fraction=0.5)
    change = noisy_linear_imputation(x, masks, noise=noise) - noisy_linear_imputation(x, masks, noise=0.0)
    assert torch.equal(change[~masks], torch.zeros(int((~masks).sum())))
    assert change[masks].std().item() == pytest.approx(noise, rel=0.1)
    assert abs(change[masks].mean().item()) < 0.1 * noise


def test_default_noise_is_roads():
    x = random_images(2, 1, 8, 8)
    masks = random_masks(2, 1, 8, 8, fraction=0.5)
    assert ROAD_NOISE == 0.01
    assert torch.equal(noisy_linear_imputation(x, masks), noisy_linear_imputation(x, masks, noise=0.01))


def test_noise_is_seeded_and_the_default_seed_is_zero():
    x = random_images(2, 1, 8, 8)
    masks = random_masks(2, 1, 8, 8, fraction=0.5)
    first = noisy_linear_imputation(x, masks, seed=3)
    assert torch.equal(first, noisy_linear_imputation(x, masks, seed=3))
    assert not torch.equal(first, noisy_linear_imputation(x, masks, seed=4))
    assert torch.equal(noisy_linear_imputation(x, masks), noisy_linear_imputation(x, masks, seed=0))
    assert torch.equal(noisy_linear_imputation(x, masks, seed=cast(Any, np.int64(3))), first)


def test_global_random_state_is_untouched():
    x = random_images(2, 1, 8, 8)
    masks = random_masks(2, 1, 8, 8, fraction=0.5)
    with global_rngs_untouched():
        noisy_linear_imputation(x, masks, noise=0.05, seed=1)


# ---------------------------------------------------------------------------
# noisy_linear_imputation: inputs and outputs
# ---------------------------------------------------------------------------


def test_input_is_not_modified_and_result_has_no_gradient_history():
    x = random_images(2, 1, 8, 8).requires_grad_()
    before = x.detach().clone()
    masks = random_masks(2, 1, 8, 8, fraction=0.5)
    out = noisy_linear_imputation(x, masks)
    assert torch.equal(x.detach(), before)
    assert not out.requires_grad and out.grad_fn is None
    assert x.grad is None
    assert torch.equal(masks, random_masks(2, 1, 8, 8, fraction=0.5))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_result_has_the_inputs_dtype(dtype):
    x = random_images(2, 1, 8, 8).to(dtype)
    masks = random_masks(2, 1, 8, 8, fraction=0.5)
    out = noisy_linear_imputation(x, masks)
    assert out.dtype == dtype
    assert torch.equal(out[~masks], x[~masks])


@pytest.mark.parametrize(("size", "fraction"), [(8, 0.5), (28, 0.5), (28, 0.95)])
def test_the_float32_solve_agrees_with_the_float64_solve(size, fraction):
    """Float images are solved in float32 (about twice as fast), float64 images in float64: the same values."""
    x = random_images(4, 1, size, size)
    masks = random_masks(4, 1, size, size, fraction=fraction)
    torch.testing.assert_close(
        noisy_linear_imputation(x.double(), masks).float(), noisy_linear_imputation(x, masks), atol=2e-6, rtol=0
    )


@pytest.mark.parametrize(
    "masks",
    [np.ones((1, 1, 4, 4), dtype=bool), [[[[True] * 4] * 4]], None],
    ids=["numpy", "list", "none"],
)
def test_masks_that_are_not_a_tensor_are_a_type_error(masks):
    with pytest.raises(TypeError, match="masks must be a bool tensor"):
        noisy_linear_imputation(torch.rand(1, 1, 4, 4), masks)


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.uint8])
def test_masks_of_another_dtype_are_a_type_error_asking_for_bool(dtype):
    with pytest.raises(TypeError, match="bool"):
        noisy_linear_imputation(torch.rand(1, 1, 4, 4), torch.ones(1, 1, 4, 4, dtype=dtype))


@pytest.mark.parametrize("shape", [(1, 2, 4, 4), (1, 3, 4, 5), (2, 3, 4, 4), (4, 4), (1, 4, 4), (3, 4, 4)], ids=str)
def test_masks_of_a_wrong_shape_are_a_value_error(shape):
    with pytest.raises(ValueError, match="masks must have x's shape"):
        noisy_linear_imputation(torch.rand(1, 3, 4, 4), torch.ones(shape, dtype=torch.bool))


@pytest.mark.parametrize("shape", [(1, 4, 4), (16,), (1, 1, 1, 4, 4)], ids=str)
def test_x_that_is_not_a_batch_of_images_is_a_value_error(shape):
    with pytest.raises(ValueError, match=r"x must be"):
        noisy_linear_imputation(torch.rand(shape), torch.ones(shape, dtype=torch.bool))


@pytest.mark.parametrize(("noise", "error"), [(-0.01, ValueError), (float("nan"), ValueError), ("a", TypeError)])
def test_bad_noise_is_named(noise, error):
    with pytest.raises(error, match="noise must be"):
        noisy_linear_imputation(torch.rand(1, 1, 4, 4), torch.ones(1, 1, 4, 4, dtype=torch.bool), noise=noise)


@pytest.mark.parametrize(("seed", "error"), [(-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_bad_seed_is_named(seed, error):
    with pytest.raises(error, match="seed must be"):
        noisy_linear_imputation(torch.rand(1, 1, 4, 4), torch.ones(1, 1, 4, 4, dtype=torch.bool), seed=seed)


def test_an_image_that_is_not_finite_is_refused_before_the_nan_spreads() -> None:
    x = torch.tensor([[[[float("nan"), 1.0, 2.0, 3.0]]]])
    masks = torch.tensor([[[[False, True, False, False]]]])
    with pytest.raises(ValueError, match="x must be finite"):
        noisy_linear_imputation(x, masks, noise=0.0)
