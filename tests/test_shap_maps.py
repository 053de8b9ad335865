"""Tests of helpers.explain.shap_maps.shap_map: DeepExplainer, GradientExplainer and KernelExplainer maps,
on image batches and on tables ``(N, F)``.

Correctness is checked by local accuracy (a map sums to the target logit minus the base
value), by closed forms on linear models, by SHAP's own additivity check and, on a
five-feature table, by Shapley values computed from every coalition; the seed's ``F.relu``
model shows why SimpleCNN uses an ``nn.ReLU`` module. Few inputs, a small background and
small ``nsamples`` keep the file fast.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, get_args

import numpy as np
import pytest
import shap
import torch
import torch.nn.functional as F
from torch import nn

from helpers.course.data import breast_cancer
from helpers.course.models import TabularMLP, load_pretrained
from helpers.explain.segmentation import grid_segments
from helpers.explain.shap_maps import SHAP_METHODS, ShapMethod, ShapResult, shap_map

from bad_arguments import int_error
from side_effects import (
    MODE_SETTINGS,
    assert_model_untouched,
    assert_no_hooks,
    cuda_forks_on_a_pretend_gpu,
    dropout_net,
    dropout_net_in,
    global_rngs_untouched,
    modes,
    snapshot,
)

ADDITIVITY = "do not sum up to the model's output"  # SHAP 0.51's additivity AssertionError


@pytest.fixture(scope="module")
def images(test_images) -> torch.Tensor:
    """Three MNIST test images ``(3, 1, 28, 28)``."""
    return test_images[:3].clone()


@pytest.fixture(scope="module")
def background(test_images) -> torch.Tensor:
    """Twenty other test images as the background ``(20, 1, 28, 28)``."""
    return test_images[32:52].clone()


@pytest.fixture(scope="module")
def logits(trained_model, images) -> torch.Tensor:
    with torch.no_grad():
        return trained_model(images)


@pytest.fixture(scope="module")
def predicted(logits) -> torch.Tensor:
    return logits.argmax(1)


@pytest.fixture(scope="module")
def deep(trained_model, images, background) -> ShapResult:
    return shap_map(trained_model, images, method="deep", background=background)


class SeedCNN(nn.Module):
    """The seed's model: the same layers as SimpleCNN, but ``F.relu`` in forward, not a module."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1)
        self.fc1 = nn.Linear(26 * 26 * 16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = x.view(-1, 26 * 26 * 16)
        return self.fc1(x)


@pytest.fixture(scope="module")
def seed_model(trained_model) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        model = SeedCNN()
    model.load_state_dict(trained_model.state_dict())
    return model.eval()


def linear_image_model(seed: int = 0, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """``Flatten -> Linear(784, 10)`` with seeded weights and biases."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        layer = nn.Linear(784, 10)
    with torch.no_grad():
        layer.weight.copy_(0.1 * torch.randn(10, 784, generator=generator))
        layer.bias.copy_(torch.randn(10, generator=generator))
    return nn.Sequential(nn.Flatten(), layer).to(dtype)


def local_accuracy_error(model: nn.Module, x: torch.Tensor, classes, result: ShapResult) -> torch.Tensor:
    """``|sum(map) - (logit_target(x) - base)|`` per image, in float64."""
    with torch.no_grad():
        out = model(x).double()
    target = out[torch.arange(len(x)), torch.as_tensor(classes)]
    return (result.maps.double().sum(dim=(1, 2, 3)) - (target - torch.from_numpy(result.base_values))).abs()


def cell_values(map_: torch.Tensor, patch: int = 4) -> torch.Tensor:
    segments = torch.from_numpy(grid_segments(28, 28, patch)).flatten()
    return torch.zeros(int(segments.max()) + 1, dtype=torch.float64).index_add_(0, segments, map_.flatten().double())


# ---------------------------------------------------------------------------
# Shape and layout
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", SHAP_METHODS)
def test_result_has_the_saliency_layout(trained_model, images, background, method) -> None:
    result = shap_map(trained_model, images, method=method, background=background, samples=60)
    assert isinstance(result, ShapResult)
    assert result.maps.shape == images.shape
    assert result.maps.dtype == images.dtype and result.maps.device == images.device
    assert not result.maps.requires_grad
    assert torch.isfinite(result.maps).all() and result.maps.abs().max() > 0
    assert isinstance(result.base_values, np.ndarray)
    assert result.base_values.shape == (3,) and result.base_values.dtype == np.float64


def test_kernel_maps_are_constant_on_each_cell(trained_model, images) -> None:
    maps = shap_map(trained_model, images, method="kernel", samples=100).maps
    cells = maps.reshape(3, 7, 4, 7, 4)
    assert torch.equal(cells, cells[:, :, :1, :, :1].expand_as(cells))


# ---------------------------------------------------------------------------
# Local accuracy: sum(map) = logit_target(x) - base value
# ---------------------------------------------------------------------------


def test_deep_local_accuracy(trained_model, images, predicted, deep) -> None:
    error = local_accuracy_error(trained_model, images, predicted, deep)
    assert error.max() < 1e-2  # SHAP's own tolerance
    assert error.max() < 1e-4  # in fact float32 rounding only


def test_kernel_local_accuracy(trained_model, images, predicted) -> None:
    result = shap_map(trained_model, images, method="kernel", samples=100)
    assert local_accuracy_error(trained_model, images, predicted, result).max() < 2e-5


def test_float64_local_accuracy_is_exact_for_deep_and_kernel(trained_model, images, background) -> None:
    model = copy.deepcopy(trained_model).double()
    x, bg = images.double(), background.double()
    with torch.no_grad():
        classes = model(x).argmax(1)
    for method in ("deep", "kernel"):
        result = shap_map(model, x, method=method, background=bg, samples=100)
        assert result.maps.dtype == torch.float64
        assert local_accuracy_error(model, x, classes, result).max() < 1e-9


def test_gradient_local_accuracy_improves_with_nsamples(trained_model, images, background, predicted) -> None:
    errors = {}
    for nsamples in (50, 1000):
        result = shap_map(trained_model, images, method="gradient", background=background, samples=nsamples)
        errors[nsamples] = local_accuracy_error(trained_model, images, predicted, result).median().item()
    assert errors[1000] < 0.5 * errors[50]  # Monte Carlo error ~ 1/sqrt(nsamples)
    assert errors[1000] < 0.5


# ---------------------------------------------------------------------------
# SHAP's additivity check: SimpleCNN passes, the seed's F.relu model does not
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def direct(trained_model, images, background):
    """``shap.DeepExplainer`` itself on a copy of SimpleCNN, all ten outputs, with its additivity check:
    two images and five background images (every output costs a pass)."""
    explainer = shap.DeepExplainer(copy.deepcopy(trained_model), background[:5])
    values = np.asarray(explainer.shap_values(images[:2], check_additivity=True))  # raises if it fails
    return values, np.asarray(explainer.expected_value)


def test_deep_explainer_on_simplecnn_passes_shaps_additivity_check(trained_model, images, direct) -> None:
    values, expected_value = direct
    assert values.shape == (2, 1, 28, 28, 10)
    with torch.no_grad():
        out = trained_model(images[:2]).double().numpy()
    sums = values.sum(axis=(1, 2, 3))  # (2, 10)
    np.testing.assert_allclose(sums, out - expected_value, atol=1e-4)


def test_shap_map_deep_equals_the_direct_deep_explainer(trained_model, images, background, predicted, direct) -> None:
    values, expected_value = direct
    result = shap_map(trained_model, images[:2], method="deep", background=background[:5])
    classes = predicted[:2].numpy()
    direct_maps = values[np.arange(2), ..., classes]  # (2, 1, 28, 28)
    torch.testing.assert_close(result.maps, torch.from_numpy(direct_maps).float(), atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(result.base_values, expected_value[classes], atol=1e-5)


def test_seed_model_computes_the_same_function(seed_model, trained_model, images) -> None:
    with torch.no_grad():
        assert torch.equal(seed_model(images), trained_model(images))


def test_seed_model_with_functional_relu_fails_shaps_additivity_check(seed_model, images, background) -> None:
    explainer = shap.DeepExplainer(copy.deepcopy(seed_model), background[:10])
    with pytest.raises(AssertionError, match=ADDITIVITY):
        explainer.shap_values(images[:1], check_additivity=True)


def test_seed_model_without_the_check_gives_attributions_that_do_not_add_up(seed_model, images, background) -> None:
    explainer = shap.DeepExplainer(copy.deepcopy(seed_model), background[:10])
    values = np.asarray(explainer.shap_values(images[:1], check_additivity=False))
    with torch.no_grad():
        out = seed_model(images[:1]).double().numpy()
    error = np.abs(values.sum(axis=(1, 2, 3)) - (out - np.asarray(explainer.expected_value)))
    assert error.max() > 0.1  # a real misattribution, far beyond the 0.01 tolerance


def test_shap_map_deep_on_an_f_relu_model_names_the_fix_and_leaves_it_untouched(seed_model, images, background) -> None:
    """SHAP's own AssertionError (with an unfilled "%f") becomes a ValueError that names the fix."""
    model = copy.deepcopy(seed_model).train()
    params = snapshot(model)
    with pytest.raises(ValueError, match=r"do not add up.*F\.relu.*one nn\.ReLU module per use") as caught:
        shap_map(model, images, method="deep", background=background)
    assert isinstance(caught.value.__cause__, AssertionError) and ADDITIVITY in str(caught.value.__cause__)
    assert "%f" not in str(caught.value)  # SHAP's own message leaves its tolerance unfilled
    assert all(m.training for m in model.modules())
    assert_no_hooks(model)
    for name, value in model.state_dict().items():
        assert torch.equal(value, params[name])


@pytest.mark.parametrize("method", ["gradient", "kernel"])
def test_seed_model_works_with_the_other_methods(seed_model, trained_model, images, background, method) -> None:
    a = shap_map(seed_model, images, method=method, background=background, samples=40)
    b = shap_map(trained_model, images, method=method, background=background, samples=40)
    torch.testing.assert_close(a.maps, b.maps)  # the same function, so the same maps


def test_deep_on_the_deeper_cnn_with_max_pooling_adds_up(images, background) -> None:
    """DeeperCNN (notebook 04) has four nn.ReLU modules and two nn.MaxPool2d: DeepExplainer has a
    rule for both, so its additivity check passes (shap_map would raise otherwise) in float32 and float64."""
    model = load_pretrained("deeper")
    with torch.no_grad():
        classes = model(images).argmax(1)
    result = shap_map(model, images, classes, method="deep", background=background)
    assert result.maps.shape == images.shape and result.maps.abs().sum() > 0
    assert local_accuracy_error(model, images, classes, result).max() < 1e-4
    model64, x, bg = copy.deepcopy(model).double(), images.double(), background.double()
    result64 = shap_map(model64, x, classes, method="deep", background=bg)
    assert local_accuracy_error(model64, x, classes, result64).max() < 1e-9


# ---------------------------------------------------------------------------
# Closed forms on linear models
# ---------------------------------------------------------------------------


def test_deep_on_a_linear_model_is_weight_times_difference_from_mean_background() -> None:
    model = linear_image_model()
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(2, 1, 28, 28, generator=generator, dtype=torch.float64)
    bg = torch.rand(5, 1, 28, 28, generator=generator, dtype=torch.float64)
    targets = [2, 7]
    result = shap_map(model, x, targets, method="deep", background=bg)
    weight = model.get_parameter("1.weight").detach()
    expected = weight[targets].reshape(2, 1, 28, 28) * (x - bg.mean(0))
    torch.testing.assert_close(result.maps, expected, atol=1e-12, rtol=1e-10)


def test_gradient_on_a_linear_model_with_a_constant_background_is_exact() -> None:
    model = linear_image_model(dtype=torch.float32)
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    bg = torch.full((3, 1, 28, 28), 0.25)
    targets = [2, 7]
    result = shap_map(model, x, targets, method="gradient", background=bg, samples=10)
    expected = model.get_parameter("1.weight").detach()[targets].reshape(2, 1, 28, 28) * (x - 0.25)
    torch.testing.assert_close(result.maps, expected, atol=1e-6, rtol=1e-5)


def test_kernel_on_a_linear_model_satisfies_local_accuracy() -> None:
    model = linear_image_model()
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    result = shap_map(model, x, [2, 7], method="kernel", samples=120)
    # 1e-6, not 1e-12: the masked images are rounded to float32 on the way to the float64 model
    assert local_accuracy_error(model, x, [2, 7], result).max() < 1e-6


def test_kernel_on_a_linear_model_gives_every_cells_exact_shapley_value() -> None:
    """Masking cells to 0 makes the logit additive in the cells: cell s's SHAP value is sum_{p in s} W[c, p] x_p."""
    model = linear_image_model()
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    targets = [2, 7]
    result = shap_map(model, x, targets, method="kernel", samples=120)
    weight = model.get_parameter("1.weight").detach()
    for i, c in enumerate(targets):
        expected = cell_values(weight[c] * x[i].flatten())
        torch.testing.assert_close(cell_values(result.maps[i]), expected, atol=1e-6, rtol=1e-6)


def test_kernel_map_on_simplecnn_is_not_truncated_to_ten_cells(trained_model, images) -> None:
    maps = shap_map(trained_model, images, method="kernel", samples=100).maps
    nonzero_cells = (maps[:, 0, ::4, ::4] != 0).sum(dim=(1, 2))
    assert (nonzero_cells > 10).all()


# ---------------------------------------------------------------------------
# Targets and base values
# ---------------------------------------------------------------------------


def test_default_target_is_the_predicted_class(trained_model, images, background, predicted, deep) -> None:
    explicit = shap_map(trained_model, images, predicted, method="deep", background=background)
    assert torch.equal(explicit.maps, deep.maps)


@pytest.mark.parametrize("method", ["deep", "gradient"])
def test_per_image_targets_equal_explaining_each_image_alone(trained_model, images, background, method) -> None:
    targets = [1, 4, 7]  # distinct classes, none of them necessarily predicted
    batch = shap_map(trained_model, images, targets, method=method, background=background, samples=40)
    for i, c in enumerate(targets):
        alone = shap_map(trained_model, images[i : i + 1], c, method=method, background=background, samples=40)
        torch.testing.assert_close(batch.maps[i], alone.maps[0], atol=1e-6, rtol=1e-5)
        assert batch.base_values[i] == pytest.approx(alone.base_values[0], abs=1e-6)


def test_per_image_targets_for_kernel_explain_each_images_own_class(trained_model, images) -> None:
    targets = [1, 4, 7]
    batch = shap_map(trained_model, images, targets, method="kernel", samples=100)
    assert local_accuracy_error(trained_model, images, targets, batch).max() < 2e-5
    with torch.no_grad():
        black = trained_model(torch.zeros(1, 1, 28, 28))[0]
    np.testing.assert_allclose(batch.base_values, black[targets].double().numpy(), atol=1e-5)
    alone = shap_map(trained_model, images[:1], 1, method="kernel", samples=100)
    assert torch.equal(batch.maps[0], alone.maps[0])  # the first image draws the same samples


@pytest.mark.parametrize("method", ["deep", "gradient"])
def test_base_value_is_the_mean_background_logit_of_the_target(trained_model, images, background, method) -> None:
    targets = [3, 3, 8]
    result = shap_map(trained_model, images, targets, method=method, background=background, samples=20)
    with torch.no_grad():
        mean = trained_model(background).double().mean(0)
    np.testing.assert_allclose(result.base_values, mean[targets].numpy(), atol=1e-5)


@pytest.mark.parametrize("fill", [0.0, 0.5])
def test_kernel_base_value_is_the_logit_of_an_all_fill_image(trained_model, images, predicted, fill) -> None:
    result = shap_map(trained_model, images, method="kernel", samples=60, fill=fill)
    with torch.no_grad():
        filled = trained_model(torch.full((1, 1, 28, 28), fill))[0].double()
    np.testing.assert_allclose(result.base_values, filled[predicted].numpy(), atol=1e-5)


def test_target_out_of_range_is_a_value_error(trained_model, images, background) -> None:
    with pytest.raises(ValueError, match=r"target 10 is out of range.*0\.\.9"):
        shap_map(trained_model, images, 10, method="deep", background=background)


# ---------------------------------------------------------------------------
# Seeds
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["gradient", "kernel"])
def test_same_seed_same_maps_other_seed_other_maps(trained_model, images, background, method) -> None:
    first = shap_map(trained_model, images, method=method, background=background, samples=40, seed=3)
    again = shap_map(trained_model, images, method=method, background=background, samples=40, seed=3)
    other = shap_map(trained_model, images, method=method, background=background, samples=40, seed=4)
    assert torch.equal(first.maps, again.maps)
    assert np.array_equal(first.base_values, again.base_values)
    assert not torch.equal(first.maps, other.maps)


def test_deep_is_deterministic(trained_model, images, background, deep) -> None:
    again = shap_map(trained_model, images, method="deep", background=background, seed=5)
    assert torch.equal(again.maps, deep.maps)


# ---------------------------------------------------------------------------
# Side effects
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", SHAP_METHODS)
def test_callers_model_tensors_and_random_states_are_untouched(trained_model, images, background, method) -> None:
    model = copy.deepcopy(trained_model)
    model.train()
    model.conv1.eval()  # mixed modes come back as they were
    modes = [m.training for m in model.modules()]
    params = snapshot(model)
    x = images.clone().requires_grad_()
    bg = background.clone()
    with global_rngs_untouched(321):
        result = shap_map(model, x, method=method, background=bg, samples=30)
    assert_model_untouched(model, params, modes)
    assert torch.equal(x.detach(), images) and x.grad is None
    assert torch.equal(bg, background)
    assert not result.maps.requires_grad


def test_nothing_is_printed(trained_model, images, background, capfd) -> None:
    capfd.readouterr()
    for method in get_args(ShapMethod):
        shap_map(trained_model, images[:1], method=method, background=background, samples=30)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["lime", "Deep", "", None])
def test_unknown_method_is_a_value_error_listing_the_methods(trained_model, images, background, method) -> None:
    with pytest.raises(ValueError, match=r"method must be one of 'deep', 'gradient', 'kernel'"):
        shap_map(trained_model, images, method=method, background=background)


@pytest.mark.parametrize("method", ["deep", "gradient"])
def test_missing_background_is_a_value_error(trained_model, images, method) -> None:
    with pytest.raises(ValueError, match=rf"method '{method}' needs a background batch"):
        shap_map(trained_model, images, method=method)


def test_kernel_needs_no_background(trained_model, images) -> None:
    shap_map(trained_model, images[:1], method="kernel", samples=30)


@pytest.mark.parametrize("shape", [(4, 1, 14, 14), (4, 3, 28, 28), (4, 1, 28, 27), (4, 784)])
def test_background_shape_mismatch_is_a_value_error(trained_model, images, shape) -> None:
    expected = rf"background images {re.escape(str(shape[1:]))} must match x's \(1, 28, 28\)"
    with pytest.raises(ValueError, match=expected):
        shap_map(trained_model, images, method="deep", background=torch.zeros(shape))


def test_numpy_background_is_a_type_error(trained_model, images, background) -> None:
    with pytest.raises(TypeError, match=r"torch\.from_numpy\(background\)"):
        shap_map(trained_model, images, method="gradient", background=background.numpy())


@pytest.mark.parametrize("samples", [0, -1, 2.5, True, "100", None])
def test_bad_samples_is_refused(trained_model, images, background, samples) -> None:
    with pytest.raises(int_error(samples), match="samples must be a positive int"):
        shap_map(trained_model, images, method="kernel", background=background, samples=samples)


@pytest.mark.parametrize("shape", [(2, 3, 28, 28), (2, 28, 28), (2, 1, 28, 28, 1)])
def test_non_greyscale_images_are_a_value_error(trained_model, background, shape) -> None:
    layouts = r"x must be a greyscale image batch \(N, 1, H, W\) or a table \(N, F\)"
    expected = rf"{layouts}, got shape {re.escape(str(shape))}"
    with pytest.raises(ValueError, match=expected):
        shap_map(trained_model, torch.zeros(shape), method="deep", background=background)


def test_flattened_images_are_read_as_a_table_the_image_background_does_not_match(trained_model, background) -> None:
    # (N, 784) is a valid table now: the error is the background's layout, not x's
    with pytest.raises(ValueError, match=r"background rows \(1, 28, 28\) must match x's \(784,\)"):
        shap_map(trained_model, torch.zeros(2, 784), method="deep", background=background)


def test_single_image_without_batch_dimension_names_unsqueeze(trained_model, images, background) -> None:
    with pytest.raises(ValueError, match=r"greyscale image batch \(N, 1, H, W\).*x\.unsqueeze\(0\)"):
        shap_map(trained_model, images[0], method="deep", background=background)


def test_numpy_images_are_a_type_error(trained_model, images, background) -> None:
    with pytest.raises(TypeError, match=r"torch\.from_numpy\(x\)"):
        shap_map(trained_model, images.numpy(), method="deep", background=background)


def test_non_module_model_is_a_type_error(images, background) -> None:
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        shap_map(lambda x: x, images, method="deep", background=background)  # type: ignore[arg-type]


def test_bad_kernel_patch_is_a_value_error_naming_patch(trained_model, images) -> None:
    with pytest.raises(ValueError, match="patch must be a positive int"):
        shap_map(trained_model, images, method="kernel", patch=0)


def test_gradient_works_for_a_float64_model(trained_model, images, background) -> None:
    model = copy.deepcopy(trained_model).double()
    result = shap_map(model, images.double(), method="gradient", background=background.double(), samples=10)
    assert result.maps.dtype == torch.float64


@pytest.mark.parametrize("scale", ["0-255", "standardised"])
def test_kernel_on_images_off_the_unit_scale_is_a_value_error(trained_model, images, scale) -> None:
    # Kernel SHAP hides a cell by setting it to fill (0, black): on another scale that is no longer "absent"
    x = images * 255 if scale == "0-255" else (images - 0.1307) / 0.3081
    with pytest.raises(ValueError, match=r"x must hold images on the \[0, 1\] scale.*255.*fill"):
        shap_map(trained_model, x, method="kernel", samples=30)


def test_kernel_accepts_noisy_images_slightly_off_the_unit_scale(trained_model, images) -> None:
    noise = 0.3 * torch.randn(images[:1].shape, generator=torch.Generator().manual_seed(0))
    noisy = (images[:1] + noise).clamp(-0.5, 1.5)
    assert noisy.min() < 0 and noisy.max() > 1  # not vacuous
    result = shap_map(trained_model, noisy, method="kernel", samples=30)
    assert torch.isfinite(result.maps).all()


@pytest.mark.parametrize("fill", [-0.1, 1.5, 255.0])
def test_kernel_fill_off_the_unit_scale_is_a_value_error(trained_model, images, fill) -> None:
    with pytest.raises(ValueError, match=r"fill must lie in \[0, 1\] like the images"):
        shap_map(trained_model, images, method="kernel", samples=30, fill=fill)


@pytest.mark.parametrize(("fill", "error"), [(float("nan"), ValueError), ("0", TypeError), (None, TypeError)])
def test_kernel_fill_that_is_not_a_finite_number_is_refused(trained_model, images, fill, error) -> None:
    with pytest.raises(error, match="fill must"):
        shap_map(trained_model, images, method="kernel", samples=30, fill=fill)


def test_numpy_integers_are_accepted_for_samples_patch_batch_size_and_seed(trained_model, images) -> None:
    kwargs: dict[str, Any] = {"method": "kernel", "samples": 30, "patch": 7, "batch_size": 64, "seed": 2}
    expected = shap_map(trained_model, images[:1], **kwargs)
    numpy_kwargs: dict[str, Any] = {
        name: np.int64(value) if isinstance(value, int) else value for name, value in kwargs.items()
    }
    result = shap_map(trained_model, images[:1], **numpy_kwargs)
    assert torch.equal(result.maps, expected.maps)
    np.testing.assert_array_equal(result.base_values, expected.base_values)


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True, "0", None])
def test_bad_seed_is_refused(trained_model, images, seed) -> None:
    with pytest.raises(int_error(seed), match="seed must be an int between 0 and 4294967295"):
        shap_map(trained_model, images, method="kernel", seed=seed)


@pytest.mark.parametrize(("name", "value"), [("patch", 2.0), ("patch", True), ("batch_size", "64"), ("batch_size", 0)])
def test_bad_patch_or_batch_size_is_refused(trained_model, images, name, value) -> None:
    with pytest.raises(int_error(value), match=f"{name} must be a positive int"):
        shap_map(trained_model, images, method="kernel", **{name: value})


# ---------------------------------------------------------------------------
# Tables (N, F): one SHAP value per feature, hidden features taken from the background
# ---------------------------------------------------------------------------

FEATURES = 5  # 2**5 = 32 coalitions: KernelSHAP can enumerate them all
TABLE_CLASSES = 3
COALITIONS = 2**FEATURES


@pytest.fixture(scope="module")
def rows() -> torch.Tensor:
    """Four float64 rows to explain ``(4, 5)``."""
    return torch.randn(4, FEATURES, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


@pytest.fixture(scope="module")
def table_background() -> torch.Tensor:
    """Seven float64 background rows ``(7, 5)``, shifted so that their mean is not 0."""
    return 0.5 + torch.randn(7, FEATURES, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


@pytest.fixture(scope="module")
def table_mlp() -> nn.Module:
    """A seeded, untrained float64 ``TabularMLP(5, classes=3, hidden=8)``: nonlinear, so local accuracy
    and exact Shapley values are real checks. Seed 5: it predicts classes 0, 0, 1, 1 for the rows."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        return TabularMLP(FEATURES, classes=TABLE_CLASSES, hidden=8).double().eval()


def linear_table_model(seed: int = 0, dtype: torch.dtype = torch.float64) -> nn.Linear:
    """``Linear(5, 3)`` with seeded weights and biases."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        layer = nn.Linear(FEATURES, TABLE_CLASSES)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(TABLE_CLASSES, FEATURES, generator=generator))
        layer.bias.copy_(torch.randn(TABLE_CLASSES, generator=generator))
    return layer.to(dtype)


def table_local_accuracy_error(model: nn.Module, x: torch.Tensor, classes, result: ShapResult) -> torch.Tensor:
    """``|sum(values) - (logit_target(x) - base)|`` per row, in float64."""
    with torch.no_grad():
        out = model(x).double()
    target = out[torch.arange(len(x)), torch.as_tensor(classes)]
    return (result.maps.double().sum(dim=1) - (target - torch.from_numpy(result.base_values))).abs()


def exact_shapley_values(model: nn.Module, row: torch.Tensor, label: int, background: torch.Tensor) -> torch.Tensor:
    """Shapley values of ``v(S) = mean over background rows b of logit_label(row on S, b elsewhere)``,
    by enumerating every coalition: what KernelSHAP estimates, and gets exactly when it enumerates too."""
    features = len(row)

    def value(coalition: tuple[int, ...]) -> float:
        mixed = background.clone()
        mixed[:, list(coalition)] = row[list(coalition)]
        with torch.no_grad():
            return model(mixed)[:, label].double().mean().item()

    phi = torch.zeros(features, dtype=torch.float64)
    for j in range(features):
        others = [k for k in range(features) if k != j]
        for size in range(features):
            share = math.factorial(size) * math.factorial(features - size - 1) / math.factorial(features)
            for coalition in itertools.combinations(others, size):
                phi[j] += share * (value((*coalition, j)) - value(coalition))
    return phi


# --- shape and layout -----------------------------------------------------------


@pytest.mark.parametrize("method", SHAP_METHODS)
def test_table_result_has_one_value_per_feature(table_mlp, rows, table_background, method) -> None:
    model = copy.deepcopy(table_mlp).float()
    x = rows.float()
    result = shap_map(model, x, method=method, background=table_background.float(), samples=40)
    assert isinstance(result, ShapResult)
    assert result.maps.shape == (4, FEATURES)
    assert result.maps.dtype == torch.float32 and result.maps.device == x.device
    assert not result.maps.requires_grad
    assert torch.isfinite(result.maps).all() and (result.maps.abs().amax(dim=1) > 0).all()
    assert isinstance(result.base_values, np.ndarray)
    assert result.base_values.shape == (4,) and result.base_values.dtype == np.float64


# --- local accuracy and exact Shapley values ---------------------------------------


@pytest.mark.parametrize(
    ("method", "nsamples", "tolerance"),
    [
        ("deep", 1, 1e-12),
        # 1e-7, not 1e-12: KernelSHAP's model calls see the rows rounded to float32
        ("kernel", COALITIONS, 1e-7),
        ("kernel", 12, 1e-7),  # sampling 12 of 30 coalitions: still exactly additive
    ],
    ids=["deep", "kernel-every-coalition", "kernel-sampled"],
)
def test_table_local_accuracy_for_deep_and_kernel(
    table_mlp, rows, table_background, method, nsamples, tolerance
) -> None:
    targets = [0, 1, 2, 1]
    result = shap_map(table_mlp, rows, targets, method=method, background=table_background, samples=nsamples)
    assert result.maps.dtype == torch.float64
    assert table_local_accuracy_error(table_mlp, rows, targets, result).max() < tolerance


def test_table_gradient_local_accuracy_improves_with_nsamples(table_mlp, rows, table_background) -> None:
    targets = [0, 1, 2, 1]
    errors = {}
    for nsamples in (20, 2000):
        result = shap_map(table_mlp, rows, targets, method="gradient", background=table_background, samples=nsamples)
        errors[nsamples] = table_local_accuracy_error(table_mlp, rows, targets, result).median().item()
    assert errors[2000] < 0.5 * errors[20]  # Monte Carlo error ~ 1/sqrt(nsamples)
    assert errors[2000] < 0.005


def test_table_kernel_with_every_coalition_gives_the_exact_shapley_values(table_mlp, rows, table_background) -> None:
    targets = [0, 1, 2, 1]
    result = shap_map(table_mlp, rows, targets, method="kernel", background=table_background, samples=COALITIONS)
    for i, c in enumerate(targets):
        expected = exact_shapley_values(table_mlp, rows[i], c, table_background)
        torch.testing.assert_close(result.maps[i], expected, atol=1e-7, rtol=0)


def test_table_kernel_with_every_coalition_does_not_depend_on_the_seed(table_mlp, rows, table_background) -> None:
    first = shap_map(table_mlp, rows, method="kernel", background=table_background, samples=COALITIONS, seed=3)
    other = shap_map(table_mlp, rows, method="kernel", background=table_background, samples=COALITIONS, seed=4)
    assert torch.equal(first.maps, other.maps)


# kernel: 1e-6, not 1e-12, as for images: the rows are rounded to float32 on the way to the float64 model
@pytest.mark.parametrize(("method", "tolerance"), [("deep", 1e-12), ("kernel", 1e-6)])
def test_table_linear_model_values_are_weight_times_difference_from_mean_background(
    rows, table_background, method, tolerance
) -> None:
    """For f(x) = W x + b every feature's SHAP value is ``W[c, j] * (x_j - mean_b b_j)``."""
    model = linear_table_model()
    targets = [2, 0, 1, 2]
    result = shap_map(model, rows, targets, method=method, background=table_background, samples=COALITIONS)
    expected = model.weight.detach()[targets] * (rows - table_background.mean(dim=0))
    torch.testing.assert_close(result.maps, expected, atol=tolerance, rtol=0)


def test_table_gradient_on_a_linear_model_with_a_constant_background_is_exact(rows) -> None:
    model = linear_table_model()
    targets = [2, 0, 1, 2]
    background = torch.full((3, FEATURES), 0.25, dtype=torch.float64)
    result = shap_map(model, rows, targets, method="gradient", background=background, samples=10)
    expected = model.weight.detach()[targets] * (rows - 0.25)
    torch.testing.assert_close(result.maps, expected, atol=1e-12, rtol=0)


def test_table_gradient_on_a_linear_model_is_close_to_weight_times_difference_from_mean_background(
    rows, table_background
) -> None:
    # expected gradients average W (x - b) over sampled background rows b: exact in expectation only
    model = linear_table_model()
    targets = [2, 0, 1, 2]
    result = shap_map(model, rows, targets, method="gradient", background=table_background, samples=1000)
    expected = model.weight.detach()[targets] * (rows - table_background.mean(dim=0))
    assert (result.maps - expected).abs().max() < 0.05 * expected.abs().max()


def test_table_deep_on_the_mlp_is_not_the_exact_shapley_value(table_mlp, rows, table_background) -> None:
    # DeepLIFT's rules are exact for linear models only: on the MLP the two methods really differ
    targets = [0, 1, 2, 1]
    deep = shap_map(table_mlp, rows, targets, method="deep", background=table_background)
    kernel = shap_map(table_mlp, rows, targets, method="kernel", background=table_background, samples=COALITIONS)
    assert (deep.maps - kernel.maps).abs().max() > 1e-3
    np.testing.assert_allclose(deep.base_values, kernel.base_values, atol=1e-12)


def test_breast_cancer_rows_are_locally_accurate_for_deep_and_kernel() -> None:
    table = breast_cancer()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = TabularMLP(table.x_train.shape[1]).double().eval()
    x, background = table.x_test[:2], table.x_train[:10]
    with torch.no_grad():
        predicted = model(x).argmax(1)
    cases: tuple[tuple[ShapMethod, float], ...] = (("deep", 1e-12), ("kernel", 1e-7))
    for method, tolerance in cases:
        result = shap_map(model, x, method=method, background=background, samples=2 * 30 + 2048)
        assert result.maps.shape == (2, 30)
        assert table_local_accuracy_error(model, x, predicted, result).max() < tolerance


# --- targets and base values --------------------------------------------------------


@pytest.mark.parametrize("method", SHAP_METHODS)
def test_table_base_value_is_the_mean_background_logit_of_the_target(table_mlp, rows, table_background, method) -> None:
    targets = [1, 1, 2, 0]
    result = shap_map(table_mlp, rows, targets, method=method, background=table_background, samples=20)
    with torch.no_grad():
        mean = table_mlp(table_background).mean(dim=0)
    np.testing.assert_allclose(result.base_values, mean[targets].numpy(), atol=1e-12)


@pytest.mark.parametrize("method", ["deep", "kernel"])
def test_table_each_class_gets_its_own_map_adding_up_to_its_own_logit(
    table_mlp, rows, table_background, method
) -> None:
    maps = {}
    for c in (0, 1):
        result = shap_map(table_mlp, rows, c, method=method, background=table_background, samples=COALITIONS)
        assert table_local_accuracy_error(table_mlp, rows, [c] * 4, result).max() < 1e-7
        maps[c] = result.maps
    assert (maps[0] - maps[1]).abs().amax(dim=1).min() > 1e-3  # every row's two maps differ


@pytest.mark.parametrize("method", SHAP_METHODS)
def test_table_per_row_targets_equal_explaining_each_row_alone(table_mlp, rows, table_background, method) -> None:
    targets = [2, 0, 1]  # distinct, so that each row is explained on its own logit
    batch = shap_map(table_mlp, rows[:3], targets, method=method, background=table_background, samples=COALITIONS)
    for i, c in enumerate(targets):
        alone = shap_map(table_mlp, rows[i : i + 1], c, method=method, background=table_background, samples=COALITIONS)
        torch.testing.assert_close(batch.maps[i], alone.maps[0], atol=1e-12, rtol=0)
        assert batch.base_values[i] == pytest.approx(alone.base_values[0], abs=1e-12)


def test_table_default_target_is_the_predicted_class(table_mlp, rows, table_background) -> None:
    with torch.no_grad():
        predicted = table_mlp(rows).argmax(1)
    assert predicted.tolist() == [0, 0, 1, 1]  # not vacuous: two classes, each for two rows
    default = shap_map(table_mlp, rows, method="deep", background=table_background)
    explicit = shap_map(table_mlp, rows, predicted, method="deep", background=table_background)
    assert torch.equal(default.maps, explicit.maps)


# --- seeds ------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "nsamples"), [("gradient", 20), ("kernel", 12)])
def test_table_same_seed_same_values_other_seed_other_values(
    table_mlp, rows, table_background, method, nsamples
) -> None:
    kwargs: dict[str, Any] = {"method": method, "background": table_background, "samples": nsamples}
    first = shap_map(table_mlp, rows, seed=3, **kwargs)
    again = shap_map(table_mlp, rows, seed=3, **kwargs)
    other = shap_map(table_mlp, rows, seed=4, **kwargs)
    assert torch.equal(first.maps, again.maps)
    assert not torch.equal(first.maps, other.maps)


# --- side effects ----------------------------------------------------------------------------


@pytest.mark.parametrize("setting", MODE_SETTINGS)
@pytest.mark.parametrize("method", SHAP_METHODS)
def test_table_callers_model_tensors_and_random_states_are_untouched(rows, table_background, method, setting) -> None:
    model = dropout_net_in(setting, FEATURES, TABLE_CLASSES)
    before = modes(model)
    params = snapshot(model)
    x = rows.float().clone().requires_grad_()
    bg = table_background.float().clone()
    with global_rngs_untouched(321):
        result = shap_map(model, x, method=method, background=bg, samples=20)
    assert_model_untouched(model, params, before)
    assert torch.equal(x.detach(), rows.float()) and x.grad is None
    assert torch.equal(bg, table_background.float())
    assert not result.maps.requires_grad
    # explained in eval mode: dropout off, the same values as the eval model's
    eval_model = dropout_net(FEATURES, TABLE_CLASSES).eval()
    in_eval = shap_map(eval_model, rows.float(), method=method, background=bg, samples=20)
    assert torch.equal(result.maps, in_eval.maps)


@pytest.mark.parametrize("method", ["gradient", "kernel"])
def test_table_from_threads_equals_single_threaded_and_spares_the_global_rngs(
    table_mlp, rows, table_background, method
) -> None:
    """SHAP seeds and draws from the global generators: threads explaining with their own seeds at once
    (as the explorer's worker does beside the kernel's thread) each get their single-threaded values."""
    seeds = [0, 1, 2, 3]

    def explain(seed: int) -> torch.Tensor:
        return shap_map(table_mlp, rows, method=method, background=table_background, samples=20, seed=seed).maps

    alone = {seed: explain(seed) for seed in seeds}
    assert len({tuple(maps.flatten().tolist()) for maps in alone.values()}) == len(seeds)  # the seed matters
    with global_rngs_untouched(7), ThreadPoolExecutor(4) as pool:
        together = list(pool.map(explain, seeds * 3))
    for seed, maps in zip(seeds * 3, together, strict=True):
        assert torch.equal(maps, alone[seed]), f"seed {seed} gave other values in a thread"


@pytest.mark.parametrize("method", SHAP_METHODS)
def test_table_on_the_cpu_forks_no_cuda_device(monkeypatch, table_mlp, rows, table_background, method) -> None:
    expected = shap_map(table_mlp, rows, method=method, background=table_background, samples=20)
    forks = cuda_forks_on_a_pretend_gpu(monkeypatch)
    result = shap_map(table_mlp, rows, method=method, background=table_background, samples=20)
    assert forks == [[]], "CPU-only SHAP forked (and so initialised) a CUDA device"
    assert torch.equal(result.maps, expected.maps)


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", SHAP_METHODS)
def test_table_without_background_is_a_value_error_naming_the_table_layout(table_mlp, rows, method) -> None:
    # kernel too: on a table, hidden features take background values (no fill, as for images)
    expected = rf"method '{method}' needs a background batch \(B, F\), e.g. 100 training rows"
    with pytest.raises(ValueError, match=expected):
        shap_map(table_mlp, rows, method=method)


@pytest.mark.parametrize("shape", [(7, FEATURES - 1), (7, FEATURES + 1), (7, 1, FEATURES)])
@pytest.mark.parametrize("method", SHAP_METHODS)
def test_table_background_of_another_width_is_a_value_error(table_mlp, rows, shape, method) -> None:
    expected = rf"background rows {re.escape(str(shape[1:]))} must match x's \({FEATURES},\)"
    with pytest.raises(ValueError, match=expected):
        shap_map(table_mlp, rows, method=method, background=torch.zeros(shape, dtype=torch.float64))


def test_table_target_out_of_range_is_a_value_error(table_mlp, rows, table_background) -> None:
    with pytest.raises(ValueError, match=r"target 3 is out of range.*0\.\.2"):
        shap_map(table_mlp, rows, 3, method="deep", background=table_background)


def test_one_row_without_batch_dimension_names_unsqueeze(table_mlp, rows, table_background) -> None:
    with pytest.raises(ValueError, match=r"x\.unsqueeze\(0\)"):
        shap_map(table_mlp, rows[0], method="deep", background=table_background)


def test_a_table_given_to_an_image_model_is_a_value_error_naming_the_shape(trained_model) -> None:
    with pytest.raises(ValueError, match=r"the model cannot take x of shape \(2, 784\)"):
        shap_map(trained_model, torch.zeros(2, 784), method="kernel", background=torch.zeros(5, 784), samples=10)
