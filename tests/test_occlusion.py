"""Tests of helpers.explain.occlusion.occlusion: the mean drop of the target's logit over the windows covering a pixel.

Correctness is checked against closed forms on linear models (one-pixel windows give
``W_c * (x - fill)``; windows that tile the image give block sums), a loop over hand-listed
windows (including one cut off at the edge), and Captum's ``Occlusion`` (a test-only oracle) on
the shipped SimpleCNN and a seeded, untrained DeeperCNN.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from oracles import assert_equal_to, predicted, seeded
from torch import nn

from helpers import occlusion

from bad_arguments import int_error, real_error
from side_effects import (
    MODE_SETTINGS,
    assert_no_hooks,
    dropout_cnn,
    dropout_cnn_in,
    global_rngs_untouched,
    input_untouched,
    modes,
    pass_sizes,
    snapshot,
)

TARGETS = [None, 3, [7, 2, 1, 0]]


def captum_occlusion(model: nn.Module, x: torch.Tensor, target, window: int, stride: int, fill: float) -> torch.Tensor:
    from captum.attr import Occlusion

    channels = x.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return (
            Occlusion(model)
            .attribute(
                x.clone(),
                sliding_window_shapes=(channels, window, window),
                strides=(channels, stride, stride),
                baselines=fill,
                target=target,
                perturbations_per_eval=256,
            )
            .detach()
        )


@pytest.fixture(scope="module")
def digits(test_images) -> torch.Tensor:
    """Four MNIST test digits (4, 1, 28, 28): 7 2 1 0 (occlusion sends 170 copies of each through the model)."""
    return test_images[:4]


def flat_linear(height: int, width: int, classes: int = 3, channels: int = 1) -> nn.Sequential:
    """Flatten, then a seeded linear layer: S_c(x) = <W_c, x> + b_c."""
    return seeded(lambda: nn.Sequential(nn.Flatten(), nn.Linear(channels * height * width, classes)))


def weight_image(model: nn.Sequential, target: int, shape: tuple[int, ...]) -> torch.Tensor:
    layer = model[1]
    assert isinstance(layer, nn.Linear)
    return layer.weight.detach()[target].reshape(1, *shape)


# ---------------------------------------------------------------------------
# Captum
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS, ids=["none", "int", "list"])
@pytest.mark.parametrize(("window", "stride", "fill"), [(4, 2, 0.0), (5, 2, 0.3)])
def test_agrees_with_captum_on_the_simple_cnn(trained_model, digits, target, window, stride, fill) -> None:
    classes = predicted(trained_model, digits) if target is None else target
    expected = captum_occlusion(trained_model, digits, classes, window, stride, fill)
    assert_equal_to(occlusion(trained_model, digits, target, window=window, stride=stride, fill=fill), expected)


@pytest.mark.parametrize(
    ("target", "window", "stride", "fill"),
    [(None, 4, 2, 0.0), (3, 3, 3, 0.5), ([7, 2, 1, 0], 5, 2, 0.2)],
    ids=["none-4-2", "int-3-3", "list-5-2"],
)
def test_agrees_with_captum_on_the_deeper_cnn(deeper, digits, target, window, stride, fill) -> None:
    classes = predicted(deeper, digits) if target is None else target
    expected = captum_occlusion(deeper, digits, classes, window, stride, fill)
    assert_equal_to(occlusion(deeper, digits, target, window=window, stride=stride, fill=fill), expected)


def test_agrees_with_captum_on_colour_images_and_non_square_ones() -> None:
    model = seeded(
        lambda: nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 9 * 7, 5))
    )
    x = torch.rand(3, 3, 9, 7, generator=torch.Generator().manual_seed(1))
    expected = captum_occlusion(model, x, [0, 4, 2], 3, 2, 0.25)
    result = occlusion(model, x, [0, 4, 2], window=3, stride=2, fill=0.25)
    assert_equal_to(result, expected)
    assert torch.equal(result, result[:, :1].expand_as(result))  # one value per pixel, in every channel


# ---------------------------------------------------------------------------
# Known answers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fill", [0.0, 0.5, -1.0])
def test_one_pixel_windows_on_a_linear_model_give_weight_times_x_minus_fill(fill) -> None:
    model = flat_linear(5, 6)
    x = torch.rand(3, 1, 5, 6, generator=torch.Generator().manual_seed(2))
    expected = weight_image(model, 1, (1, 5, 6)) * (x - fill)
    torch.testing.assert_close(occlusion(model, x, 1, window=1, stride=1, fill=fill), expected, atol=1e-6, rtol=1e-5)


def test_windows_that_tile_the_image_give_block_sums_on_a_linear_model() -> None:
    model = flat_linear(4, 4)
    x = torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(3))
    contribution = weight_image(model, 2, (1, 4, 4)) * x  # each pixel's share of S_2, fill 0
    sums = contribution.reshape(2, 1, 2, 2, 2, 2).sum(dim=(3, 5))  # the four 2 x 2 blocks
    expected = sums.repeat_interleave(2, 2).repeat_interleave(2, 3)
    torch.testing.assert_close(occlusion(model, x, 2, window=2, stride=2), expected, atol=1e-6, rtol=1e-5)


def test_overlapping_and_edge_windows_by_hand_on_a_linear_model() -> None:
    # 5 x 5, window 2, stride 2: windows start at rows/columns 0, 2, 4 (ceil(3 / 2) + 1 = 3); those at 4 stick
    # out past the edge and are cut to one row or column. Each pixel lies in exactly one window here.
    model = flat_linear(5, 5)
    x = torch.rand(1, 1, 5, 5, generator=torch.Generator().manual_seed(4))
    contribution = (weight_image(model, 0, (1, 5, 5)) * x)[0, 0]
    expected = torch.zeros(5, 5)
    for top in (0, 2, 4):
        for left in (0, 2, 4):
            expected[top : top + 2, left : left + 2] = contribution[top : top + 2, left : left + 2].sum()
    torch.testing.assert_close(occlusion(model, x, 0, window=2, stride=2)[0, 0], expected, atol=1e-6, rtol=1e-5)


def test_the_mean_over_the_covering_windows_by_hand() -> None:
    # 4 x 4, window 3, stride 1: four windows (starts 0 and 1 each way); the pixel at (1, 1) is in all four.
    model = flat_linear(4, 4)
    x = torch.rand(1, 1, 4, 4, generator=torch.Generator().manual_seed(5))
    contribution = (weight_image(model, 1, (1, 4, 4)) * x)[0, 0]
    drops = {(top, left): contribution[top : top + 3, left : left + 3].sum() for top in (0, 1) for left in (0, 1)}
    result = occlusion(model, x, 1, window=3, stride=1)[0, 0]
    torch.testing.assert_close(result[1, 1], sum(drops.values()) / 4, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(result[0, 0], drops[0, 0], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(result[0, 3], drops[0, 1], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(result[3, 1], (drops[1, 0] + drops[1, 1]) / 2, atol=1e-6, rtol=1e-5)


def test_a_window_the_size_of_the_image_gives_the_whole_drop_everywhere() -> None:
    model = flat_linear(4, 4)
    x = torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        drop = model(x)[:, 0] - model(torch.full_like(x, 0.5))[:, 0]
    expected = drop.reshape(2, 1, 1, 1).expand(2, 1, 4, 4)
    torch.testing.assert_close(occlusion(model, x, 0, window=4, stride=3, fill=0.5), expected, atol=1e-6, rtol=1e-5)


def test_target_none_is_the_predicted_class(deeper, digits) -> None:
    assert torch.equal(
        occlusion(deeper, digits, window=7, stride=7),
        occlusion(deeper, digits, predicted(deeper, digits), window=7, stride=7),
    )


# ---------------------------------------------------------------------------
# Batched passes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("batch_size", "expected"), [(4096, [3, 12]), (5, [3, 5, 5, 2]), (2, [2, 1] + [2] * 6)])
def test_occluded_copies_share_passes_of_batch_size_inputs(batch_size, expected) -> None:
    model = flat_linear(4, 4)
    x = torch.rand(3, 1, 4, 4, generator=torch.Generator().manual_seed(7))  # 4 windows x 3 inputs = 12 copies
    result = []
    assert (
        pass_sizes(model, lambda: result.append(occlusion(model, x, window=2, stride=2, batch_size=batch_size)))
        == expected
    )
    torch.testing.assert_close(result[0], occlusion(model, x, window=2, stride=2), atol=1e-7, rtol=1e-6)


def test_the_defaults_slide_169_windows_over_a_digit(trained_model, digits) -> None:
    sizes = pass_sizes(trained_model, lambda: occlusion(trained_model, digits[:1]))
    assert sizes == [1, 169]  # 13 x 13 windows of 4 x 4, 2 pixels apart, in one pass


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_result_has_x_shape_dtype_and_is_detached(dtype) -> None:
    model = dropout_cnn().to(dtype)
    x = torch.rand(3, 1, 8, 8, dtype=dtype).requires_grad_(True)
    result = occlusion(model, x)
    assert result.shape == x.shape and result.dtype == dtype
    assert not result.requires_grad and result.grad_fn is None


# ---------------------------------------------------------------------------
# No side effects
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("setting", MODE_SETTINGS)
def test_each_submodule_mode_is_restored_and_every_pass_runs_in_eval(setting) -> None:
    model = dropout_cnn_in(setting)
    before = modes(model)
    x = torch.rand(2, 1, 8, 8)
    seen = []
    handle = model.register_forward_pre_hook(lambda m, _: seen.append(modes(m)))
    try:
        result = occlusion(model, x)
    finally:
        handle.remove()
    assert len(seen) == 2 and all(s == [False] * len(before) for s in seen)
    assert modes(model) == before
    assert torch.equal(result, occlusion(dropout_cnn().eval(), x))


def test_no_hook_parameter_change_or_global_rng_use(deeper, digits) -> None:
    state, before = snapshot(deeper), modes(deeper)
    with global_rngs_untouched():
        occlusion(deeper, digits[:1], window=7, stride=7)
    assert_no_hooks(deeper)
    assert modes(deeper) == before
    assert all(torch.equal(v, state[k]) for k, v in deeper.state_dict().items())
    assert all(p.grad is None for p in deeper.parameters())


@pytest.mark.parametrize("kind", ["plain", "requires-grad", "with-grad"])
def test_callers_x_is_untouched(kind) -> None:
    x = torch.rand(3, 1, 8, 8).requires_grad_(kind != "plain")
    if kind == "with-grad":
        (x * 3).sum().backward()
    with input_untouched(x):
        occlusion(dropout_cnn(), x, fill=0.5)


def test_modes_are_restored_when_the_target_is_refused() -> None:
    model = dropout_cnn().train()
    with pytest.raises(ValueError, match="out of range"):
        occlusion(model, torch.rand(2, 1, 8, 8), 3)
    assert all(modes(model))


@pytest.mark.parametrize("context", ["no_grad", "inference_mode"])
def test_works_without_gradients(context) -> None:
    model, x = dropout_cnn(), torch.rand(2, 1, 8, 8)
    expected = occlusion(model, x, 1)
    with getattr(torch, context)():
        assert torch.equal(occlusion(model, x, 1), expected)
    assert expected.abs().sum() > 0


def test_prints_no_warnings(deeper, digits) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        occlusion(deeper, digits[:1], window=7, stride=7)


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (np.zeros((2, 1, 8, 8), dtype=np.float32), TypeError, r"torch\.from_numpy"),
        (torch.ones(2, 1, 8, 8, dtype=torch.uint8), TypeError, r"x\.float\(\)"),
        (torch.rand(2, 64), ValueError, r"image batch \(N, C, H, W\).*square window"),
        (torch.rand(1, 8, 8), ValueError, r"x\.unsqueeze\(0\)"),
        (torch.zeros(0, 1, 8, 8), ValueError, "empty batch"),
    ],
    ids=["numpy", "uint8", "table", "single-image", "empty"],
)
def test_bad_x(x, error, match) -> None:
    with pytest.raises(error, match=match):
        occlusion(dropout_cnn(), x)


@pytest.mark.parametrize("model", [lambda x: x, None], ids=["function", "none"])
def test_non_module_model_is_a_type_error(model) -> None:
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        occlusion(model, torch.rand(2, 1, 8, 8))


@pytest.mark.parametrize("window", [0, -1, 9, 2.0, True, None])
def test_bad_window(window) -> None:
    with pytest.raises(int_error(window), match="window must be an int between 1 and 8"):
        occlusion(dropout_cnn(), torch.rand(2, 1, 8, 8), window=window, stride=1)


@pytest.mark.parametrize("stride", [0, -2, 1.0, True, "2"])
def test_bad_stride(stride) -> None:
    with pytest.raises(int_error(stride), match="stride must be a positive int"):
        occlusion(dropout_cnn(), torch.rand(2, 1, 8, 8), stride=stride)


def test_stride_larger_than_the_window_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"stride must be at most window \(4\), got 5.*no window covers"):
        occlusion(dropout_cnn(), torch.rand(2, 1, 8, 8), window=4, stride=5)


@pytest.mark.parametrize("fill", [float("nan"), float("inf"), "0", None, True])
def test_bad_fill(fill) -> None:
    with pytest.raises(real_error(fill), match="fill must be"):
        occlusion(dropout_cnn(), torch.rand(2, 1, 8, 8), fill=fill)


@pytest.mark.parametrize("batch_size", [0, -1, 64.0, False])
def test_bad_batch_size(batch_size) -> None:
    with pytest.raises(int_error(batch_size), match="batch_size must be a positive int"):
        occlusion(dropout_cnn(), torch.rand(2, 1, 8, 8), batch_size=batch_size)


@pytest.mark.parametrize(
    ("target", "error"),
    [(10, ValueError), ([1, 2, 3], ValueError), (1.0, TypeError), (True, TypeError)],
    ids=["out-of-range", "wrong-length", "float", "bool"],
)
def test_bad_target(trained_model, digits, target, error) -> None:
    with pytest.raises(error, match="target"):
        occlusion(trained_model, digits[:2], target)
