"""Tests of helpers.evaluate.controls: control maps that use no model (noise, the input, its edges).

Checked for shapes and dtypes, determinism and the untouched global generators, the input's
copy, the edges against scikit-image's Sobel filter and closed forms, and the shared input checks.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.filters import sobel

from helpers import CONTROL_KINDS, control_map

from bad_arguments import int_error
from side_effects import global_rngs_untouched


def images(n: int = 3, channels: int = 1, size: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed))


def test_the_kinds_are_random_input_and_edges() -> None:
    assert CONTROL_KINDS == ("random", "input", "edges")


@pytest.mark.parametrize("kind", CONTROL_KINDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("channels", [1, 3])
def test_maps_have_the_inputs_shape_and_dtype(kind: str, dtype: torch.dtype, channels: int) -> None:
    x = images(channels=channels).to(dtype)
    result = control_map(x, kind)  # type: ignore[arg-type]
    assert isinstance(result, torch.Tensor)
    assert result.shape == x.shape and result.dtype == dtype and result.device == x.device
    assert bool(torch.isfinite(result).all())


@pytest.mark.parametrize("kind", CONTROL_KINDS)
def test_maps_have_no_gradient_history_and_leave_x_alone(kind: str) -> None:
    x = images().requires_grad_()
    before = x.detach().clone()
    result = control_map(x, kind)  # type: ignore[arg-type]
    assert not result.requires_grad and result.grad_fn is None
    assert torch.equal(x.detach(), before) and x.grad is None


@pytest.mark.parametrize("kind", CONTROL_KINDS)
def test_maps_are_deterministic_and_leave_the_global_generators_alone(kind: str) -> None:
    x = images(n=4)
    with global_rngs_untouched():
        first = control_map(x, kind, seed=3)  # type: ignore[arg-type]
        second = control_map(x, kind, seed=3)  # type: ignore[arg-type]
    assert torch.equal(first, second)


# ---------------------------------------------------------------------------
# random
# ---------------------------------------------------------------------------


def test_random_maps_are_uniform_noise_seeded_by_seed() -> None:
    x = images(n=4, size=28)
    noise = control_map(x, "random")
    assert bool((noise >= 0).all() and (noise < 1).all())
    assert abs(noise.mean().item() - 0.5) < 0.02 and abs(noise.var().item() - 1 / 12) < 0.01
    assert torch.equal(noise, control_map(x, "random", seed=0))  # seed=0 is the default
    assert not torch.equal(noise, control_map(x, "random", seed=1))


def test_random_maps_differ_between_inputs_and_ignore_the_pixel_values() -> None:
    x = torch.zeros(3, 1, 6, 6)  # three identical inputs
    noise = control_map(x, "random")
    assert not torch.equal(noise[0], noise[1]) and not torch.equal(noise[1], noise[2])
    assert torch.equal(noise, control_map(images(size=6), "random"))  # same shape, other values: same noise


def test_random_maps_are_drawn_on_the_cpu_generator_whatever_the_global_seed() -> None:
    x = images()
    torch.manual_seed(1)
    first = control_map(x, "random", seed=5)
    torch.manual_seed(2)
    assert torch.equal(first, control_map(x, "random", seed=5))
    assert torch.equal(first, torch.rand(x.shape, generator=torch.Generator().manual_seed(5)))


# ---------------------------------------------------------------------------
# input
# ---------------------------------------------------------------------------


def test_the_input_map_equals_x_but_is_a_copy() -> None:
    x = images()
    result = control_map(x, "input")
    assert torch.equal(result, x)
    assert result.data_ptr() != x.data_ptr()
    result.add_(1.0)
    assert torch.equal(x, images())  # changing the map leaves x alone


def test_the_input_map_works_for_tables_too() -> None:
    x = torch.rand(5, 12)
    assert torch.equal(control_map(x, "input"), x)
    assert control_map(x, "random").shape == (5, 12)


# ---------------------------------------------------------------------------
# edges
# ---------------------------------------------------------------------------


def test_edges_of_a_constant_image_are_zero() -> None:
    assert torch.equal(control_map(torch.full((2, 1, 7, 9), 0.6), "edges"), torch.zeros(2, 1, 7, 9))


def test_edges_lie_on_a_step_and_nowhere_else() -> None:
    x = torch.zeros(1, 1, 6, 8)
    x[..., 4:] = 1.0  # a vertical step between columns 3 and 4
    edges = control_map(x, "edges")[0, 0]
    assert bool((edges[:, 3:5] > 0).all())
    assert torch.equal(edges[:, :3], torch.zeros(6, 3)) and torch.equal(edges[:, 5:], torch.zeros(6, 3))
    torch.testing.assert_close(edges[:, 3:5], torch.full((6, 2), 0.5**0.5))  # skimage: sqrt of the mean square
    torch.testing.assert_close(control_map(x.transpose(2, 3), "edges")[0, 0], edges.T)  # and the same sideways


@pytest.mark.parametrize("channels", [1, 3])
def test_edges_equal_skimages_sobel_per_image_and_channel(channels: int) -> None:
    x = images(n=3, channels=channels, size=10, seed=7).double()
    edges = control_map(x, "edges")
    for i in range(3):
        for c in range(channels):
            np.testing.assert_allclose(edges[i, c].numpy(), sobel(x[i, c].numpy()), rtol=0, atol=0)


def test_edges_of_mnist_images(test_images: torch.Tensor) -> None:
    x = test_images[:8]
    edges = control_map(x, "edges")
    assert bool((edges >= 0).all()) and bool((edges.flatten(1).amax(dim=1) > 0.1).all())
    blank = x == 0  # far from the ink, no edges
    far = blank & (torch.nn.functional.max_pool2d(x, 3, stride=1, padding=1) == 0)
    assert torch.equal(edges[far], torch.zeros(int(far.sum())))


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Random", "saliency", "", None, 0])
def test_a_bad_kind_is_a_value_error_listing_the_kinds(kind) -> None:
    with pytest.raises(ValueError, match=r"kind must be one of 'random', 'input', 'edges'"):
        control_map(images(), kind)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0", None, np.float64(2.0)])
def test_a_bad_seed_is_a_type_or_value_error_naming_it(seed) -> None:
    with pytest.raises(int_error(seed), match="seed must be a non-negative int"):
        control_map(images(), "random", seed=seed)


def test_a_numpy_seed_is_accepted() -> None:
    numpy_seed = control_map(images(), "random", seed=np.int64(4))  # type: ignore[arg-type]
    assert torch.equal(numpy_seed, control_map(images(), "random", seed=4))


@pytest.mark.parametrize(
    ("x", "error", "message"),
    [
        (np.zeros((2, 1, 4, 4), dtype=np.float32), TypeError, r"x must be a torch.Tensor, got a NumPy array"),
        ([[0.0, 1.0]], TypeError, r"x must be a torch.Tensor"),
        (torch.zeros(2, 1, 4, 4, dtype=torch.uint8), TypeError, r"x has dtype torch.uint8"),
        (torch.zeros(4), ValueError, r"x must be a batch"),
        (torch.zeros(0, 1, 4, 4), ValueError, r"x is an empty batch"),
    ],
)
@pytest.mark.parametrize("kind", CONTROL_KINDS)
def test_bad_x_is_refused_by_the_shared_checks(x, error: type[Exception], message: str, kind: str) -> None:
    with pytest.raises(error, match=message):
        control_map(x, kind)  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", [(2, 16), (2, 4, 4), (2, 1, 1, 4, 4)])
def test_edges_need_images(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r'kind="edges" needs images \(N, C, H, W\)'):
        control_map(torch.zeros(shape), "edges")
