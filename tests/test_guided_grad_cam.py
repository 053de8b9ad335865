"""Tests of helpers.explain.guided_grad_cam.guided_grad_cam: Guided Backprop times the upsampled Grad-CAM.

Checked against Captum's ``GuidedGradCam`` with its defaults (a test-only oracle) on the shipped
SimpleCNN and a seeded, untrained DeeperCNN, and against its two parts: where the layer keeps
the input's size it is exactly ``guided_backprop * grad_cam``; where it does not, the Grad-CAM
map is upsampled by nearest neighbour, as Captum does, not bilinearly.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from oracles import assert_equal_to, predicted, seeded
from torch import nn

from helpers import grad_cam, guided_backprop, guided_grad_cam

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


def captum_guided_grad_cam(model: nn.Module, layer: nn.Module, x: torch.Tensor, target) -> torch.Tensor:
    from captum.attr import GuidedGradCam

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GuidedGradCam(model, layer).attribute(x.clone(), target=target).detach()


@pytest.mark.parametrize("target", TARGETS, ids=["none", "int", "list"])
def test_agrees_with_captum_on_the_simple_cnn(trained_model, digits, target) -> None:
    classes = predicted(trained_model, digits) if target is None else target
    expected = captum_guided_grad_cam(trained_model, trained_model.conv1, digits, classes)
    assert_equal_to(guided_grad_cam(trained_model, digits, target, layer=trained_model.conv1), expected)


@pytest.mark.parametrize("target", TARGETS, ids=["none", "int", "list"])
def test_agrees_with_captum_on_the_deeper_cnn(deeper, digits, target) -> None:
    classes = predicted(deeper, digits) if target is None else target
    assert_equal_to(
        guided_grad_cam(deeper, digits, target), captum_guided_grad_cam(deeper, deeper.relu3, digits, classes)
    )


def test_agrees_with_captum_at_another_layer(deeper, digits) -> None:
    expected = captum_guided_grad_cam(deeper, deeper.relu2, digits, 4)
    assert_equal_to(guided_grad_cam(deeper, digits, 4, layer=deeper.relu2), expected)


def test_is_guided_backprop_times_grad_cam_where_the_layer_keeps_the_size() -> None:
    model = dropout_cnn().eval()  # its convolutions keep 8 x 8
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    for target in (0, 2):
        expected = guided_backprop(model, x, target) * grad_cam(model, x, target)
        assert torch.equal(guided_grad_cam(model, x, target), expected)
        assert expected.abs().sum() > 0


def test_upsamples_the_rectified_map_by_nearest_neighbour(deeper, digits) -> None:
    from captum.attr import LayerGradCam

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coarse = LayerGradCam(deeper, deeper.relu3).attribute(digits.clone(), target=1).detach()
    guided = guided_backprop(deeper, digits, 1)
    nearest = guided * F.interpolate(F.relu(coarse), (28, 28), mode="nearest")
    assert_equal_to(guided_grad_cam(deeper, digits, 1), nearest)
    assert not torch.allclose(guided_grad_cam(deeper, digits, 1), guided * grad_cam(deeper, digits, 1))  # not bilinear


def test_a_functional_relu_is_refused() -> None:
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.relu, self.fc = nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Linear(128, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(F.relu(self.conv(x)).flatten(1))  # self.relu is never used

    model = seeded(Functional)
    with pytest.raises(ValueError, match=r"outside any nn\.ReLU module.*one nn\.ReLU module per activation"):
        guided_grad_cam(model, torch.rand(2, 1, 8, 8), layer=model.conv)
    assert_no_hooks(model)


def test_a_model_without_relu_modules_is_refused_before_any_forward_pass() -> None:
    model = seeded(lambda: nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Flatten(), nn.Linear(128, 3)))

    def refused() -> None:
        with pytest.raises(ValueError, match=r"no nn\.ReLU module"):
            guided_grad_cam(model, torch.rand(2, 1, 8, 8))

    assert pass_sizes(model, refused) == []
    assert_no_hooks(model)


@pytest.mark.parametrize(("batch_size", "expected"), [(4096, [6, 6]), (4, [4, 2, 4, 2])])
def test_two_passes_per_batch_size_inputs(deeper, digits, batch_size, expected) -> None:
    result = []
    assert pass_sizes(deeper, lambda: result.append(guided_grad_cam(deeper, digits, batch_size=batch_size))) == expected
    torch.testing.assert_close(result[0], guided_grad_cam(deeper, digits), atol=1e-12, rtol=1e-6)


@pytest.mark.parametrize("setting", MODE_SETTINGS)
def test_each_submodule_mode_is_restored_and_forward_runs_in_eval(setting) -> None:
    model = dropout_cnn_in(setting)
    before = modes(model)
    x = torch.rand(4, 1, 8, 8)
    seen = []
    handle = model.register_forward_pre_hook(lambda m, _: seen.append(modes(m)))
    try:
        result = guided_grad_cam(model, x)
    finally:
        handle.remove()
    assert seen == [[False] * len(before)] * 2
    assert modes(model) == before
    assert torch.equal(result, guided_grad_cam(dropout_cnn().eval(), x))


def test_no_hook_parameter_change_or_global_rng_use(deeper, digits) -> None:
    state, before = snapshot(deeper), modes(deeper)
    with global_rngs_untouched():
        result = guided_grad_cam(deeper, digits[:2])
    assert result.shape == (2, 1, 28, 28) and not result.requires_grad
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
        guided_grad_cam(dropout_cnn(), x)


def test_hooks_are_removed_when_the_target_is_refused_after_the_forward_pass() -> None:
    model = dropout_cnn().train()
    with pytest.raises(ValueError, match="out of range"):
        guided_grad_cam(model, torch.rand(2, 1, 8, 8), 3)
    assert_no_hooks(model)
    assert all(modes(model))


def test_prints_no_warnings(deeper, digits) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        guided_grad_cam(deeper, digits[:2])


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (np.zeros((2, 1, 8, 8), dtype=np.float32), TypeError, r"torch\.from_numpy"),
        (torch.rand(2, 64), ValueError, r"image batch \(N, C, H, W\)"),
        (torch.zeros(0, 1, 8, 8), ValueError, "empty batch"),
    ],
    ids=["numpy", "table", "empty"],
)
def test_bad_x(x, error, match) -> None:
    with pytest.raises(error, match=match):
        guided_grad_cam(dropout_cnn(), x)


@pytest.mark.parametrize("model", [lambda x: x, None], ids=["function", "none"])
def test_non_module_model_is_a_type_error(model) -> None:
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        guided_grad_cam(model, torch.rand(2, 1, 8, 8))


@pytest.mark.parametrize("batch_size", [0, 64.0, False])
def test_bad_batch_size(batch_size) -> None:
    with pytest.raises(int_error(batch_size), match="batch_size must be a positive int"):
        guided_grad_cam(dropout_cnn(), torch.rand(2, 1, 8, 8), batch_size=batch_size)


def test_bad_layer(deeper, digits) -> None:
    with pytest.raises(TypeError, match=r"layer must be an nn\.Module"):
        guided_grad_cam(deeper, digits[:2], layer="conv3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a module of this model"):
        guided_grad_cam(deeper, digits[:2], layer=nn.Conv2d(32, 32, 3))
    assert_no_hooks(deeper)
