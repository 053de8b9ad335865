"""Tests of helpers.explain.grad_cam.grad_cam: Grad-CAM at a layer, upsampled bilinearly to the input.

Correctness is checked against closed forms (a global-average-pooling head, where Grad-CAM is
Zhou et al.'s CAM divided by h * w; a layer whose output and gradient are set by hand, upsampled
by known bilinear weights) and against Captum's ``LayerGradCam`` followed by
``LayerAttribution.interpolate(..., "bilinear")`` (a test-only oracle) on the shipped SimpleCNN
and a seeded, untrained DeeperCNN.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from oracles import assert_equal_to, predicted, seeded
from torch import nn

from helpers import DeeperCNN, grad_cam

from bad_arguments import int_error
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

TARGETS = [None, 3, [7, 2, 1, 0, 4, 1]]
"""Predicted classes, one class for all, one class per input (the batch holds six digits)."""


def captum(attribute, /, *args, **kwargs) -> Any:
    """Call a Captum attribution, silencing its warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return attribute(*args, **kwargs).detach()


def captum_grad_cam(model: nn.Module, layer: nn.Module, x: torch.Tensor, target, relu: bool) -> torch.Tensor:
    from captum.attr import LayerAttribution, LayerGradCam

    coarse = captum(LayerGradCam(model, layer).attribute, x.clone(), target=target, relu_attributions=relu)
    return LayerAttribution.interpolate(coarse, tuple(x.shape[2:]), "bilinear")


def pooled(channels: int = 3, classes: int = 4) -> nn.Sequential:
    """Conv (size-preserving) -> global average pool -> linear: the CAM architecture of Zhou et al. (2016)."""
    return seeded(
        lambda: nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, classes)
        )
    )


def block_model() -> nn.Sequential:
    """4 x 4 images to one score: the layer averages 2 x 2 blocks (A = block means), the head sums A, so alpha = 1."""
    layer = nn.Conv2d(1, 1, 2, stride=2, bias=False)
    head = nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(0.25)
        head.weight.fill_(1.0)
    return nn.Sequential(layer, nn.Flatten(), head)


def blocks(coarse: list[list[float]]) -> torch.Tensor:
    """A (1, 1, 4, 4) image whose 2 x 2 block means are ``coarse``."""
    return torch.tensor(coarse).repeat_interleave(2, 0).repeat_interleave(2, 1)[None, None]


# ---------------------------------------------------------------------------
# Captum
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS, ids=["none", "int", "list"])
@pytest.mark.parametrize("relu", [True, False])
def test_agrees_with_captum_on_the_simple_cnn(trained_model, digits, target, relu) -> None:
    classes = predicted(trained_model, digits) if target is None else target
    expected = captum_grad_cam(trained_model, trained_model.conv1, digits, classes, relu)
    assert_equal_to(grad_cam(trained_model, digits, target, layer=trained_model.conv1, relu=relu), expected)


@pytest.mark.parametrize("target", TARGETS, ids=["none", "int", "list"])
@pytest.mark.parametrize("relu", [True, False])
def test_agrees_with_captum_on_the_deeper_cnn(deeper, digits, target, relu) -> None:
    classes = predicted(deeper, digits) if target is None else target
    expected = captum_grad_cam(deeper, deeper.relu3, digits, classes, relu)
    assert_equal_to(grad_cam(deeper, digits, target, relu=relu), expected)


@pytest.mark.parametrize("name", ["conv2", "relu2", "pool2", "conv3"])
def test_agrees_with_captum_at_other_layers(deeper, digits, name) -> None:
    layer = deeper.get_submodule(name)
    expected = captum_grad_cam(deeper, layer, digits, 5, relu=False)
    assert_equal_to(grad_cam(deeper, digits, 5, layer=layer, relu=False), expected)


# ---------------------------------------------------------------------------
# Known answers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("target", [0, 3])
def test_on_a_global_average_pooling_head_it_is_cam_over_h_times_w(target) -> None:
    # S_c = sum_k W_ck mean(A_k): the gradient is W_ck / (h w) everywhere, so alpha_k = W_ck / (h w).
    model = pooled()
    x = torch.rand(2, 1, 6, 6, generator=torch.Generator().manual_seed(2))
    conv, head = model[0], model[3]
    assert isinstance(head, nn.Linear)
    with torch.no_grad():
        cam = torch.einsum("k,nkhw->nhw", head.weight[target], conv(x))[:, None] / 36
    torch.testing.assert_close(grad_cam(model, x, target, relu=False), cam, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(grad_cam(model, x, target), cam.clamp(min=0), atol=1e-6, rtol=1e-6)


def test_the_layers_output_weighted_by_the_mean_of_a_hand_set_gradient() -> None:
    # layer = identity on 2 channels of 2 x 2, head = a fixed linear map: dS/dA = its weight row.
    weight = torch.tensor([[1.0, 3.0, -2.0, 2.0, 0.5, 0.5, 0.5, -1.5]])  # channel 0 mean 1, channel 1 mean 0
    head = nn.Linear(8, 1, bias=False)
    with torch.no_grad():
        head.weight.copy_(weight)
    identity = nn.Identity()
    model = nn.Sequential(identity, nn.Flatten(), head)
    x = torch.tensor([[[[1.0, -2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]]])
    result = grad_cam(model, x, 0, layer=identity, relu=False)
    assert torch.equal(result, x[:, :1])  # 1 * channel 0 + 0 * channel 1
    assert torch.equal(grad_cam(model, x, 0, layer=identity), x[:, :1].clamp(min=0))


def test_upsampling_is_bilinear_with_half_pixel_centres() -> None:
    # A 2 x 2 map [[0, 4], [0, 4]] to 4 x 4: sampled at -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
    result = grad_cam(block_model(), blocks([[0.0, 4.0], [0.0, 4.0]]), 0)
    assert torch.equal(result, torch.tensor([0.0, 1.0, 3.0, 4.0]).expand(1, 1, 4, 4))


def test_the_relu_comes_before_the_upsampling() -> None:
    x = blocks([[-4.0, 4.0], [-4.0, 4.0]])
    assert torch.equal(
        grad_cam(block_model(), x, 0, relu=False), torch.tensor([-4.0, -2.0, 2.0, 4.0]).expand(1, 1, 4, 4)
    )
    # ReLU first: [0, 4] upsampled, not ReLU([-4, -2, 2, 4]) = [0, 0, 2, 4]
    assert torch.equal(grad_cam(block_model(), x, 0), torch.tensor([0.0, 1.0, 3.0, 4.0]).expand(1, 1, 4, 4))


def test_a_layer_the_score_does_not_depend_on_gives_zeros() -> None:
    unused = nn.Conv2d(1, 2, 3, padding=1)

    class Ignoring(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.unused, self.head = unused, nn.Linear(16, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.unused(x)
            return self.head(x.flatten(1))

    model = seeded(Ignoring)
    assert torch.equal(grad_cam(model, torch.rand(2, 1, 4, 4), 1), torch.zeros(2, 1, 4, 4))


# ---------------------------------------------------------------------------
# The layer
# ---------------------------------------------------------------------------


def test_default_layer_is_the_last_convolutions_relu(trained_model, deeper, digits) -> None:
    assert torch.equal(grad_cam(deeper, digits, 1), grad_cam(deeper, digits, 1, layer=deeper.relu3))
    assert torch.equal(grad_cam(trained_model, digits, 1), grad_cam(trained_model, digits, 1, layer=trained_model.relu))
    assert not torch.equal(grad_cam(deeper, digits, 1), grad_cam(deeper, digits, 1, layer=deeper.conv3))


def test_default_layer_is_the_convolution_when_no_relu_follows_before_another_layer() -> None:
    conv, later_relu = nn.Conv2d(1, 2, 3, padding=1), nn.ReLU()
    model = seeded(lambda: nn.Sequential(conv, nn.Flatten(), nn.Linear(32, 4), later_relu, nn.Linear(4, 3)))
    x = torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(0)) - 0.5
    assert torch.equal(grad_cam(model, x, 2, relu=False), grad_cam(model, x, 2, layer=conv, relu=False))


def test_default_layer_follows_modules_order_into_nested_blocks() -> None:
    inner, outer = nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 2, 3, padding=1)
    model = seeded(lambda: nn.Sequential(nn.Sequential(inner, nn.ReLU()), outer, nn.Flatten(), nn.Linear(32, 3)))
    x = torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(grad_cam(model, x, 2, relu=False), grad_cam(model, x, 2, layer=outer, relu=False))
    assert not torch.equal(grad_cam(model, x, 2, relu=False), grad_cam(model, x, 2, layer=inner, relu=False))


def test_an_in_place_relu_after_the_layer_does_not_change_its_maps() -> None:
    def build(inplace: bool) -> nn.Module:
        return seeded(
            lambda: nn.Sequential(
                nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(inplace=inplace), nn.Flatten(), nn.Linear(48, 2)
            )
        )

    x = torch.rand(3, 1, 4, 4, generator=torch.Generator().manual_seed(1)) - 0.5
    assert torch.equal(grad_cam(build(True), x, 0, relu=False), grad_cam(build(False), x, 0, relu=False))


def test_model_without_a_conv2d_asks_for_a_layer() -> None:
    model = seeded(lambda: nn.Sequential(nn.Flatten(), nn.Linear(16, 3)))
    with pytest.raises(ValueError, match=r"no nn\.Conv2d.*pass layer="):
        grad_cam(model, torch.rand(2, 1, 4, 4))


def test_layer_of_another_model_is_a_value_error(deeper, digits) -> None:
    other = seeded(DeeperCNN)
    with pytest.raises(ValueError, match=r"not a module of this model.*model\.conv3"):
        grad_cam(deeper, digits[:2], layer=other.conv3)
    assert_no_hooks(deeper)
    assert_no_hooks(other)


@pytest.mark.parametrize("layer", ["conv3", 3, lambda x: x], ids=["str", "int", "function"])
def test_layer_not_a_module_is_a_type_error(deeper, digits, layer) -> None:
    with pytest.raises(TypeError, match=r"layer must be an nn\.Module inside the model"):
        grad_cam(deeper, digits[:2], layer=layer)


def test_layer_with_flat_output_is_a_value_error(deeper, digits) -> None:
    with pytest.raises(ValueError, match=r"feature maps \(N, C, h, w\).*\(2, 64\)"):
        grad_cam(deeper, digits[:2], layer=deeper.fc1)
    assert_no_hooks(deeper)


def test_layer_that_does_not_run_is_a_value_error() -> None:
    class Idle(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.idle, self.head = nn.Conv2d(1, 1, 1), nn.Linear(16, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(x.flatten(1))  # self.idle is never called

    model = seeded(Idle)
    with pytest.raises(ValueError, match="did not run in the model's forward pass"):
        grad_cam(model, torch.rand(2, 1, 4, 4))
    assert_no_hooks(model)


def test_layer_used_twice_is_a_value_error() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.head = nn.Conv2d(1, 1, 3, padding=1), nn.Linear(16, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.conv(self.conv(x)).flatten(1))

    model = seeded(Twice)
    with pytest.raises(ValueError, match=r"ran 2 times in one forward pass"):
        grad_cam(model, torch.rand(2, 1, 4, 4))
    assert_no_hooks(model)


# ---------------------------------------------------------------------------
# Batches, shapes and passes
# ---------------------------------------------------------------------------


def test_target_none_is_the_predicted_class(deeper, digits) -> None:
    assert torch.equal(grad_cam(deeper, digits), grad_cam(deeper, digits, predicted(deeper, digits)))


@pytest.mark.parametrize("batch_size", [1, 4, 4096])
def test_does_not_depend_on_batch_size(trained_model, digits, batch_size) -> None:
    expected = grad_cam(trained_model, digits, relu=False)
    torch.testing.assert_close(
        grad_cam(trained_model, digits, relu=False, batch_size=batch_size), expected, atol=1e-7, rtol=1e-6
    )


@pytest.mark.parametrize(("batch_size", "expected"), [(4096, [6]), (4, [4, 2]), (1, [1] * 6)])
def test_one_forward_pass_per_batch_size_inputs(trained_model, digits, batch_size, expected) -> None:
    assert pass_sizes(trained_model, lambda: grad_cam(trained_model, digits, batch_size=batch_size)) == expected


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_result_is_n_1_h_w_of_x_dtype_and_detached(dtype, requires_grad) -> None:
    model = dropout_cnn().to(dtype)
    x = torch.rand(3, 1, 8, 8, dtype=dtype).requires_grad_(requires_grad)
    result = grad_cam(model, x)
    assert result.shape == (3, 1, 8, 8)
    assert result.dtype == dtype
    assert not result.requires_grad and result.grad_fn is None


# ---------------------------------------------------------------------------
# No side effects
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("setting", MODE_SETTINGS)
def test_each_submodule_mode_is_restored_and_forward_runs_in_eval(setting) -> None:
    model = dropout_cnn_in(setting)
    before = modes(model)
    x = torch.rand(4, 1, 8, 8)
    seen = []
    handle = model.register_forward_pre_hook(lambda m, _: seen.append(modes(m)))
    try:
        result = grad_cam(model, x)
    finally:
        handle.remove()
    assert seen == [[False] * len(before)]
    assert modes(model) == before
    assert torch.equal(result, grad_cam(dropout_cnn().eval(), x))


def test_no_hook_parameter_change_or_global_rng_use(deeper, digits) -> None:
    state, before = snapshot(deeper), modes(deeper)
    with global_rngs_untouched():
        grad_cam(deeper, digits[:2])
    assert_no_hooks(deeper)
    assert modes(deeper) == before
    assert all(torch.equal(v, state[k]) for k, v in deeper.state_dict().items())
    assert all(p.grad is None for p in deeper.parameters())


def test_existing_parameter_grads_stay_bit_identical() -> None:
    model = dropout_cnn()
    model(torch.rand(2, 1, 8, 8)).sum().backward()
    grads = [p.grad for p in model.parameters()]
    copies = [g.clone() for g in grads if g is not None]
    grad_cam(model, torch.rand(2, 1, 8, 8))
    assert all(p.grad is g for p, g in zip(model.parameters(), grads, strict=True))
    assert all(p.grad is not None and torch.equal(p.grad, c) for p, c in zip(model.parameters(), copies, strict=True))


@pytest.mark.parametrize("kind", ["plain", "requires-grad", "with-grad"])
def test_callers_x_is_untouched(kind) -> None:
    x = torch.rand(3, 1, 8, 8).requires_grad_(kind != "plain")
    if kind == "with-grad":
        (x * 3).sum().backward()
    with input_untouched(x):
        grad_cam(dropout_cnn(), x)


class FailingAfterConv(nn.Module):
    """A conv (the Grad-CAM layer), then a bug: the call raises mid-way, after the layer's hook ran."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.dropout = nn.Conv2d(1, 2, 3, padding=1), nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.dropout(self.conv(x))
        raise RuntimeError("a bug in the model's forward")


def test_hooks_are_removed_and_modes_restored_when_the_model_raises_mid_way() -> None:
    model = seeded(FailingAfterConv).train()
    with pytest.raises(RuntimeError, match="a bug"):
        grad_cam(model, torch.rand(2, 1, 8, 8))
    assert_no_hooks(model)
    assert all(modes(model))


def test_hooks_are_removed_and_modes_restored_when_the_target_is_refused_after_the_forward_pass() -> None:
    model = dropout_cnn().train()
    with pytest.raises(ValueError, match="out of range"):
        grad_cam(model, torch.rand(2, 1, 8, 8), 3)  # 3 classes: checked against the logits
    assert_no_hooks(model)
    assert all(modes(model))


def test_works_inside_no_grad() -> None:
    model, x = dropout_cnn(), torch.rand(2, 1, 8, 8)
    expected = grad_cam(model, x, 1, relu=False)
    with torch.no_grad():
        assert torch.equal(grad_cam(model, x, 1, relu=False), expected)
        assert not torch.is_grad_enabled()
    assert expected.abs().sum() > 0


def test_raises_inside_inference_mode() -> None:
    model = dropout_cnn()
    with torch.inference_mode(), pytest.raises(RuntimeError, match="inference_mode"):
        grad_cam(model, torch.rand(2, 1, 8, 8))
    assert_no_hooks(model)


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (np.zeros((2, 1, 8, 8), dtype=np.float32), TypeError, r"torch\.from_numpy"),
        (torch.ones(2, 1, 8, 8, dtype=torch.uint8), TypeError, r"x\.float\(\)"),
        (torch.rand(2, 64), ValueError, r"image batch \(N, C, H, W\)"),
        (torch.rand(1, 8, 8), ValueError, r"x\.unsqueeze\(0\)"),
        (torch.zeros(0, 1, 8, 8), ValueError, "empty batch"),
    ],
    ids=["numpy", "uint8", "table", "single-image", "empty"],
)
def test_bad_x(x, error, match) -> None:
    with pytest.raises(error, match=match):
        grad_cam(dropout_cnn(), x)


@pytest.mark.parametrize("model", [lambda x: x, None], ids=["function", "none"])
def test_non_module_model_is_a_type_error(model) -> None:
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        grad_cam(model, torch.rand(2, 1, 8, 8))


@pytest.mark.parametrize("relu", [1, "yes", None])
def test_relu_must_be_a_bool(relu) -> None:
    with pytest.raises(TypeError, match="relu must be True or False"):
        grad_cam(dropout_cnn(), torch.rand(2, 1, 8, 8), relu=relu)


@pytest.mark.parametrize("batch_size", [0, -1, 64.0, False])
def test_bad_batch_size(batch_size) -> None:
    with pytest.raises(int_error(batch_size), match="batch_size must be a positive int"):
        grad_cam(dropout_cnn(), torch.rand(2, 1, 8, 8), batch_size=batch_size)


@pytest.mark.parametrize(
    ("target", "error"),
    [(10, ValueError), ([1, 2, 3], ValueError), (1.0, TypeError), (True, TypeError)],
    ids=["out-of-range", "wrong-length", "float", "bool"],
)
def test_bad_target(trained_model, digits, target, error) -> None:
    with pytest.raises(error, match="target"):
        grad_cam(trained_model, digits[:2], target)
    assert_no_hooks(trained_model)


def test_prints_no_warnings(deeper, digits) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grad_cam(deeper, digits[:2])
        grad_cam(deeper, digits[:2], layer=deeper.relu3, relu=False)


def test_f_interpolate_is_the_upsampling_used(deeper, digits) -> None:
    from captum.attr import LayerGradCam

    # The documented formula, spelled out: F.interpolate(map, (H, W), mode="bilinear"), align_corners=False.
    coarse = captum(LayerGradCam(deeper, deeper.relu3).attribute, digits.clone(), target=2, relu_attributions=True)
    expected = F.interpolate(coarse, (28, 28), mode="bilinear", align_corners=False)
    assert_equal_to(grad_cam(deeper, digits, 2), expected)
