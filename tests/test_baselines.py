"""Tests of helpers.explain.baselines: the reference inputs of Integrated Gradients.

Each kind is checked against what it is defined to be (zeros, ``blurred(x, sigma=5.0)``, seeded
uniform noise, ``data.mean(0)``), for shape, dtype, device and gradient history, and the
arguments' errors are checked for their type and their message.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
import torch

from helpers import BASELINE_KINDS, blurred, make_baseline

from bad_arguments import int_error

IMAGES = (3, 1, 8, 8)


def images(*shape: int, seed: int = 1, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def build(x: torch.Tensor, kind: str, **kwargs) -> torch.Tensor:
    """``make_baseline`` with the data ``"mean"`` needs."""
    if kind == "mean":
        kwargs.setdefault("data", images(10, *x.shape[1:], seed=7, dtype=x.dtype))
    return make_baseline(x, kind, **kwargs)  # type: ignore[arg-type]


def test_the_kinds() -> None:
    assert BASELINE_KINDS == ("black", "blurred", "uniform", "mean")


@pytest.mark.parametrize("kind", BASELINE_KINDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_shape_dtype_device_and_no_gradient_history(kind, dtype, requires_grad) -> None:
    x = images(*IMAGES, dtype=dtype).requires_grad_(requires_grad)
    values = x.detach().clone()
    reference = build(x, kind)
    assert reference.shape == x.shape
    assert reference.dtype == dtype
    assert reference.device == x.device
    assert not reference.requires_grad and reference.grad_fn is None
    assert reference.is_contiguous()
    assert torch.equal(x.detach(), values)  # x untouched
    assert x.grad is None


@pytest.mark.parametrize("kind", ["black", "uniform", "mean"])
def test_tables_work_for_every_kind_but_blurred(kind) -> None:
    x = images(4, 6)
    assert build(x, kind).shape == (4, 6)


def test_black_is_zeros() -> None:
    x = images(*IMAGES)
    assert torch.equal(make_baseline(x, "black"), torch.zeros(IMAGES))


def test_blurred_is_blurred_with_sigma_five() -> None:
    x = images(*IMAGES)
    assert torch.equal(make_baseline(x, "blurred"), blurred(x, sigma=5.0))
    assert not torch.allclose(make_baseline(x, "blurred"), blurred(x, sigma=2.0))


def test_blurred_of_a_digit_is_a_faint_smudge(test_images) -> None:
    x = test_images[:8]
    smudge = make_baseline(x, "blurred")
    assert (smudge.amax(dim=(1, 2, 3)) < 0.5).all()  # no stroke survives
    kept = smudge.sum(dim=(1, 2, 3)) / x.sum(dim=(1, 2, 3))
    assert ((kept > 0.8) & (kept <= 1.0)).all()  # most of the ink stays (a little leaves at the border)


def test_blurred_of_a_constant_image_stays_constant_away_from_the_border() -> None:
    x = torch.full((1, 1, 40, 40), 0.3)
    assert torch.allclose(make_baseline(x, "blurred")[..., 16:24, 16:24], x[..., 16:24, 16:24])


def test_uniform_is_seeded_noise_in_zero_one() -> None:
    x = images(*IMAGES)
    noise = make_baseline(x, "uniform", seed=4)
    expected = torch.rand(IMAGES, generator=torch.Generator().manual_seed(4))
    assert torch.equal(noise, expected)
    assert noise.min() >= 0 and noise.max() < 1
    assert torch.equal(noise, make_baseline(x, "uniform", seed=4))
    assert not torch.equal(noise, make_baseline(x, "uniform", seed=5))
    assert torch.equal(make_baseline(x, "uniform"), make_baseline(x, "uniform", seed=0))  # the default seed


def test_uniform_gives_each_input_its_own_draw_independent_of_the_inputs_after_it() -> None:
    x = images(*IMAGES)
    noise = make_baseline(x, "uniform", seed=2)
    assert not torch.equal(noise[0], noise[1])
    assert torch.equal(make_baseline(x[:2], "uniform", seed=2), noise[:2])


def test_uniform_does_not_depend_on_x_values() -> None:
    assert torch.equal(make_baseline(images(*IMAGES, seed=1), "uniform"), make_baseline(torch.zeros(IMAGES), "uniform"))


def test_uniform_leaves_the_global_rng_untouched_and_ignores_it() -> None:
    x = images(*IMAGES)
    state = torch.get_rng_state()
    first = make_baseline(x, "uniform", seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(12345)
        assert torch.equal(make_baseline(x, "uniform", seed=3), first)


def test_uniform_accepts_numpy_seeds() -> None:
    x = images(*IMAGES)
    seed: Any = np.int64(6)
    assert torch.equal(make_baseline(x, "uniform", seed=seed), make_baseline(x, "uniform", seed=6))


def test_mean_equals_the_data_mean_for_every_input() -> None:
    x = images(*IMAGES)
    data = images(20, 1, 8, 8, seed=9)
    reference = make_baseline(x, "mean", data=data)
    for row in reference:
        assert torch.equal(row, data.mean(0))


def test_mean_of_float64_data_is_cast_to_xs_dtype() -> None:
    x = images(*IMAGES)
    data = images(20, 1, 8, 8, seed=9, dtype=torch.float64)
    reference = make_baseline(x, "mean", data=data)
    assert reference.dtype == torch.float32
    assert torch.equal(reference[0], data.mean(0).float())


def test_mean_of_the_training_images_is_a_blurry_average_digit(test_images) -> None:
    reference = make_baseline(test_images[:2], "mean", data=test_images)
    assert torch.allclose(reference[0], test_images.mean(0))
    assert 0.05 < float(reference.mean()) < 0.3  # mostly black, a grey blob in the middle


def test_mean_data_with_gradient_history_gives_none() -> None:
    data = images(5, 1, 8, 8).requires_grad_(True)
    reference = make_baseline(images(*IMAGES), "mean", data=data * 2)
    assert not reference.requires_grad


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("kind", BASELINE_KINDS)
def test_results_stay_on_cuda_and_match_the_cpu(kind) -> None:
    x = images(*IMAGES)
    cpu = build(x, kind)
    kwargs = {"data": images(10, 1, 8, 8, seed=7).cuda()} if kind == "mean" else {}
    gpu = make_baseline(x.cuda(), kind, **kwargs)  # type: ignore[arg-type]
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-6, rtol=1e-6)  # uniform: the same noise on every device


def test_the_result_is_a_fresh_tensor() -> None:
    x = images(*IMAGES)
    data = images(10, 1, 8, 8, seed=7)
    saved = copy.deepcopy(data)
    reference = make_baseline(x, "mean", data=data)
    reference += 1  # writable, shares no memory with data
    assert torch.equal(data, saved)


# ---------------------------------------------------------------------------
# Bad arguments
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "error", "message"),
    [
        (np.zeros(IMAGES, dtype=np.float32), TypeError, r"torch\.from_numpy"),
        ([[0.0, 1.0]], TypeError, r"x must be a torch\.Tensor"),
        (torch.zeros(IMAGES, dtype=torch.uint8), TypeError, r"x\.float\(\)"),
        (torch.zeros(5), ValueError, r"x\.unsqueeze\(0\)"),
        (torch.zeros(0, 1, 8, 8), ValueError, "empty batch"),
    ],
    ids=["numpy", "list", "uint8", "1-D", "empty"],
)
def test_bad_x(x, error, message) -> None:
    with pytest.raises(error, match=message):
        make_baseline(x, "black")


@pytest.mark.parametrize("kind", ["zeros", "Black", "", "gaussian"])
def test_unknown_kind_lists_the_kinds(kind) -> None:
    with pytest.raises(ValueError, match=r"kind must be one of 'black', 'blurred', 'uniform', 'mean'"):
        make_baseline(images(*IMAGES), kind)


@pytest.mark.parametrize("kind", [None, 0, torch.zeros(IMAGES)], ids=["none", "int", "tensor"])
def test_kind_not_a_string_is_a_type_error(kind) -> None:
    with pytest.raises(TypeError, match=r"kind must be one of 'black'"):
        make_baseline(images(*IMAGES), kind)


@pytest.mark.parametrize("seed", [-1, 2**63, 1.5, True, "0", None])
def test_bad_seed(seed) -> None:
    with pytest.raises(int_error(seed), match="seed must be an int between 0 and"):
        make_baseline(images(*IMAGES), "uniform", seed=seed)


def test_blurred_refuses_a_table() -> None:
    with pytest.raises(ValueError, match=r"kind='blurred' needs images \(N, C, H, W\).*'black', 'uniform' or 'mean'"):
        make_baseline(images(4, 6), "blurred")


def test_mean_without_data_says_to_pass_it() -> None:
    with pytest.raises(ValueError, match=r"kind='mean' needs data: pass data="):
        make_baseline(images(*IMAGES), "mean")


@pytest.mark.parametrize("kind", ["black", "blurred", "uniform"])
def test_data_is_refused_for_the_other_kinds(kind) -> None:
    with pytest.raises(ValueError, match=rf"data is used by kind='mean' only; leave it out for kind='{kind}'"):
        make_baseline(images(*IMAGES), kind, data=images(*IMAGES))


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (np.zeros((4, 1, 8, 8)), TypeError, r"data must be a torch\.Tensor.*torch\.from_numpy\(data\)\.float\(\)"),
        ([[0.0]], TypeError, r"data must be a torch\.Tensor"),
        (torch.zeros(4, 1, 8, 8, dtype=torch.uint8), TypeError, r"data\.float\(\)"),
        (torch.zeros(0, 1, 8, 8), ValueError, r"data is an empty batch"),
        (torch.zeros(4, 1, 8, 9), ValueError, r"x's per-input shape \(1, 8, 8\), got shape \(4, 1, 8, 9\)"),
        (torch.zeros(1, 8, 8), ValueError, r"x's per-input shape \(1, 8, 8\), got shape \(1, 8, 8\)"),
    ],
    ids=["numpy", "list", "uint8", "empty", "wrong-shape", "one-input-without-batch"],
)
def test_bad_data(data, error, message) -> None:
    with pytest.raises(error, match=message):
        make_baseline(images(*IMAGES), "mean", data=data)
