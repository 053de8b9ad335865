"""Tests of helpers.lime_maps.lime_map: LIME on a grid of superpixels, as per-pixel maps.

Correctness is checked on models that are exactly linear in the superpixel masks, where
LIME's weighted ridge surrogate must recover each superpixel's contribution; the rest
checks the conventions shared with the saliency helpers (shapes, targets, seeds, side
effects, bad input). Few images and small ``num_samples`` keep the file fast.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from helpers.lime_maps import LimeResult, lime_map
from helpers.segmentation import grid_segments
from side_effects import assert_model_untouched, numpy_states_equal, snapshot

SAMPLES = 150  # perturbed images per explanation: enough for 49 superpixels, fast


@pytest.fixture(scope="module")
def images(test_images) -> torch.Tensor:
    """Two MNIST test images ``(2, 1, 28, 28)``."""
    return test_images[:2].clone()


@pytest.fixture(scope="module")
def explained(trained_model, images) -> LimeResult:
    """LIME on the shipped model, default arguments but ``num_samples``, computed once."""
    return lime_map(trained_model, images, num_samples=SAMPLES)


def linear_image_model(weight: torch.Tensor, bias: torch.Tensor | None = None) -> nn.Module:
    """``Flatten -> Linear(784, classes)`` with the given weight ``(classes, 784)``."""
    with torch.random.fork_rng(devices=[]):
        layer = nn.Linear(784, weight.shape[0])
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.copy_(torch.zeros(weight.shape[0]) if bias is None else bias)
    return nn.Sequential(nn.Flatten(), layer)


def segment_sums(values: torch.Tensor, patch: int = 4) -> torch.Tensor:
    """Sum of a ``(28, 28)`` array over each grid cell: ``(M,)``."""
    segments = torch.from_numpy(grid_segments(28, 28, patch)).flatten()
    return torch.zeros(int(segments.max()) + 1, dtype=values.dtype).index_add_(0, segments, values.flatten())


def cell_weights(map_: torch.Tensor, patch: int = 4) -> torch.Tensor:
    """The weight of each grid cell: the map summed over the cell."""
    return segment_sums(map_.reshape(28, 28).double(), patch)


# ---------------------------------------------------------------------------
# Shape and layout
# ---------------------------------------------------------------------------


def test_maps_have_the_saliency_layout(explained, images) -> None:
    maps, scores = explained
    assert isinstance(explained, LimeResult)
    assert maps.shape == (2, 1, 28, 28)
    assert maps.dtype == images.dtype and maps.device == images.device
    assert not maps.requires_grad
    assert torch.isfinite(maps).all()
    assert maps.abs().amax(dim=(1, 2, 3)).min() > 0  # not vacuous
    assert isinstance(scores, np.ndarray) and scores.shape == (2,)


def test_each_4x4_cell_is_constant(explained) -> None:
    cells = explained.maps.reshape(2, 7, 4, 7, 4)
    assert torch.equal(cells, cells[:, :, :1, :, :1].expand_as(cells))


@pytest.mark.parametrize("patch", [5, 7])
def test_other_patch_sizes_give_constant_cells(trained_model, images, patch) -> None:
    maps = lime_map(trained_model, images[:1], num_samples=60, patch=patch).maps[0, 0]
    segments = torch.from_numpy(grid_segments(28, 28, patch))
    for label in range(int(segments.max()) + 1):
        cell = maps[segments == label]
        assert torch.equal(cell, cell[:1].expand_as(cell))


def test_scores_are_a_surrogate_fit(explained) -> None:
    scores = explained.scores
    assert np.isfinite(scores).all()
    assert (scores <= 1 + 1e-12).all()
    assert (scores > 0).all()  # the linear surrogate explains some of the variance


def test_float64_images_give_float64_maps(trained_model, images) -> None:
    model = copy.deepcopy(trained_model).double()
    result = lime_map(model, images[:1].double(), num_samples=60)
    assert result.maps.dtype == torch.float64


# ---------------------------------------------------------------------------
# Correctness: models exactly linear in the superpixel masks
# ---------------------------------------------------------------------------


def test_recovers_the_relevant_segments_of_a_sparse_linear_model() -> None:
    """Logit 0 = 3 x (sum of cell 0) - 2 x (sum of cell 5) + 0.5 x (sum of cell 30); other cells do nothing."""
    segments = torch.from_numpy(grid_segments()).flatten()
    per_pixel = torch.zeros(49)
    per_pixel[0], per_pixel[5], per_pixel[30] = 3.0, -2.0, 0.5
    weight = torch.zeros(10, 784)
    weight[0] = per_pixel[segments]
    weight[1] = 0.01  # another class, so that class 0 is not trivially the only output
    model = linear_image_model(weight)
    image = torch.ones(1, 1, 28, 28)
    maps, scores = lime_map(model, image, target=0, num_samples=300, output="logits")
    weights = cell_weights(maps[0])
    top = weights.abs().argsort(descending=True)[:3].tolist()
    assert top == [0, 5, 30]
    assert weights[0] > 0 and weights[5] < 0 and weights[30] > 0
    torch.testing.assert_close(maps[0, 0].double(), per_pixel[segments].reshape(28, 28).double(), atol=0.15, rtol=0.05)
    others = torch.ones(49, dtype=torch.bool)
    others[[0, 5, 30]] = False
    assert weights[others].abs().max() < 0.05 * weights.abs().max()
    assert scores[0] > 0.99


def test_dense_linear_model_closed_form_for_each_target() -> None:
    """For a linear model with hidden cells set to 0, cell s contributes sum_{p in s} W[c, p] x_p."""
    generator = torch.Generator().manual_seed(0)
    weight = 0.1 * torch.randn(10, 784, generator=generator)
    model = linear_image_model(weight, torch.randn(10, generator=generator))
    x = torch.rand(2, 1, 28, 28, generator=generator)
    targets = [0, 3]
    maps, scores = lime_map(model, x, target=targets, num_samples=300, output="logits")
    for i, c in enumerate(targets):
        expected = segment_sums((weight[c] * x[i].flatten()).double())
        weights = cell_weights(maps[i])
        assert (weights - expected).abs().max() < 0.1 * expected.abs().max()
        assert torch.corrcoef(torch.stack([weights, expected]))[0, 1] > 0.99
        assert torch.equal(weights.sign()[expected.abs() > 0.2 * expected.abs().max()],
                           expected.sign()[expected.abs() > 0.2 * expected.abs().max()])
    assert (scores > 0.99).all()


def test_model_ignoring_its_input_gives_a_zero_map() -> None:
    model = linear_image_model(torch.zeros(10, 784), torch.arange(10.0))
    maps, scores = lime_map(model, torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(1)), num_samples=50)
    assert maps.abs().max() < 1e-10
    assert np.isfinite(scores).all()


def test_logits_and_probabilities_fit_different_outputs(trained_model, images, explained) -> None:
    logits = lime_map(trained_model, images, num_samples=SAMPLES, output="logits")
    assert logits.maps.shape == explained.maps.shape
    assert torch.isfinite(logits.maps).all() and np.isfinite(logits.scores).all()
    assert (logits.scores <= 1 + 1e-12).all()
    assert not torch.allclose(logits.maps, explained.maps)
    # logits span a wider range than probabilities in [0, 1]: the weights are larger
    assert logits.maps.abs().max() > explained.maps.abs().max()


# ---------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------


def test_default_target_is_the_predicted_class(trained_model, images, explained) -> None:
    with torch.no_grad():
        predicted = trained_model(images).argmax(1)
    assert torch.equal(lime_map(trained_model, images, predicted.tolist(), num_samples=SAMPLES).maps, explained.maps)
    assert torch.equal(lime_map(trained_model, images, predicted, num_samples=SAMPLES).maps, explained.maps)


def test_explicit_target_changes_the_map(trained_model, images, explained) -> None:
    with torch.no_grad():
        predicted = trained_model(images).argmax(1)
    other = int((predicted[0] + 1) % 10)
    maps = lime_map(trained_model, images[:1], other, num_samples=SAMPLES).maps
    assert not torch.allclose(maps[0], explained.maps[0])


def test_each_image_is_explained_independently_of_the_batch(trained_model, images, explained) -> None:
    alone = lime_map(trained_model, images[1:2], num_samples=SAMPLES)
    assert torch.equal(alone.maps[0], explained.maps[1])
    assert alone.scores[0] == explained.scores[1]


def test_target_out_of_range_is_a_value_error(trained_model, images) -> None:
    with pytest.raises(ValueError, match=r"target 10 is out of range.*0\.\.9"):
        lime_map(trained_model, images, 10, num_samples=SAMPLES)


# ---------------------------------------------------------------------------
# Seeds
# ---------------------------------------------------------------------------


def test_same_seed_gives_the_same_result(trained_model, images, explained) -> None:
    again = lime_map(trained_model, images, num_samples=SAMPLES, seed=0)
    assert torch.equal(again.maps, explained.maps)
    assert np.array_equal(again.scores, explained.scores)


def test_another_seed_gives_another_result(trained_model, images, explained) -> None:
    other = lime_map(trained_model, images, num_samples=SAMPLES, seed=1)
    assert not torch.equal(other.maps, explained.maps)
    assert not np.array_equal(other.scores, explained.scores)
    # ...but the same explanation, roughly: the top cell stays among the strongest
    for i in range(2):
        a, b = cell_weights(other.maps[i]), cell_weights(explained.maps[i])
        assert torch.corrcoef(torch.stack([a, b]))[0, 1] > 0.5


def test_batch_size_does_not_change_the_result(trained_model, images, explained) -> None:
    small = lime_map(trained_model, images, num_samples=SAMPLES, batch_size=16)
    torch.testing.assert_close(small.maps, explained.maps, atol=1e-6, rtol=1e-5)


# ---------------------------------------------------------------------------
# Side effects
# ---------------------------------------------------------------------------


def test_callers_model_images_and_random_states_are_untouched(trained_model, images) -> None:
    model = copy.deepcopy(trained_model)
    model.train()
    model.fc1.eval()  # mixed modes come back as they were
    modes = [m.training for m in model.modules()]
    params = snapshot(model)
    x = images.clone().requires_grad_()
    torch.manual_seed(123)
    np.random.seed(123)
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    lime_map(model, x, num_samples=SAMPLES)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert numpy_states_equal(np.random.get_state(), numpy_state)
    assert_model_untouched(model, params, modes)
    assert torch.equal(x.detach(), images) and x.grad is None


def test_dropout_model_in_train_mode_gives_the_eval_explanation(images) -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(784, 10))
    model.train()
    in_train = lime_map(model, images[:1], num_samples=60)
    assert model.training and model[1].training
    model.eval()
    assert torch.equal(in_train.maps, lime_map(model, images[:1], num_samples=60).maps)


def test_nothing_is_printed(trained_model, images, capfd) -> None:
    capfd.readouterr()
    lime_map(trained_model, images[:1], num_samples=60)
    out, err = capfd.readouterr()
    assert out == ""
    assert err == ""  # LIME's tqdm bar is suppressed


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 3, 28, 28), (2, 28, 28), (2, 1, 28, 28, 1), (2, 784)])
def test_non_greyscale_batch_is_a_value_error(trained_model, shape) -> None:
    with pytest.raises(ValueError, match=r"greyscale batch \(N, 1, H, W\)"):
        lime_map(trained_model, torch.zeros(shape), num_samples=SAMPLES)


def test_numpy_images_are_a_type_error_naming_from_numpy(trained_model, images) -> None:
    with pytest.raises(TypeError, match=r"torch\.from_numpy\(images\)"):
        lime_map(trained_model, images.numpy(), num_samples=SAMPLES)


def test_integer_images_are_a_type_error(trained_model) -> None:
    with pytest.raises(TypeError, match=r"images\.float\(\)"):
        lime_map(trained_model, torch.zeros(1, 1, 28, 28, dtype=torch.uint8), num_samples=SAMPLES)


def test_single_image_without_batch_dimension_is_an_error(trained_model, images) -> None:
    with pytest.raises(ValueError, match="greyscale batch"):
        lime_map(trained_model, images[0], num_samples=SAMPLES)


@pytest.mark.parametrize("num_samples", [1, 0, -5, 2.5, True, "100", None])
def test_bad_num_samples_is_a_value_error(trained_model, images, num_samples) -> None:
    with pytest.raises(ValueError, match="num_samples must be an int of at least 2"):
        lime_map(trained_model, images, num_samples=num_samples)


def test_unknown_output_is_a_value_error(trained_model, images) -> None:
    with pytest.raises(ValueError, match="output must be 'probabilities' or 'logits'"):
        lime_map(trained_model, images, num_samples=SAMPLES, output="softmax")


@pytest.mark.parametrize("patch", [0, -1, 2.5])
def test_bad_patch_is_a_value_error(trained_model, images, patch) -> None:
    with pytest.raises(ValueError, match="must be a positive int"):
        lime_map(trained_model, images, num_samples=SAMPLES, patch=patch)


def test_bad_patch_error_names_patch(trained_model, images) -> None:
    with pytest.raises(ValueError, match="patch must be a positive int"):
        lime_map(trained_model, images, num_samples=SAMPLES, patch=0)


def test_non_module_model_is_a_type_error(images) -> None:
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        lime_map(lambda x: x, images, num_samples=SAMPLES)


def test_mode_restored_after_an_argument_error(trained_model, images) -> None:
    model = copy.deepcopy(trained_model).train()
    with pytest.raises(ValueError):
        lime_map(model, images, 10, num_samples=SAMPLES)
    assert all(m.training for m in model.modules())


def test_no_progress_bar_is_drawn_and_lime_is_restored(trained_model, images, monkeypatch) -> None:
    # In Jupyter, lime_image's tqdm is a widget: one per explanation floods the kernel's messages.
    from lime import lime_image

    from helpers.lime_maps import quiet_lime

    calls = []

    def spy(iterable, *args, **kwargs):
        calls.append(1)
        return iterable

    monkeypatch.setattr(lime_image, "tqdm", spy)
    lime_map(trained_model, images[:1], num_samples=20)
    assert calls == [] and lime_image.tqdm is spy
    with pytest.raises(RuntimeError), quiet_lime():
        raise RuntimeError("boom")
    assert lime_image.tqdm is spy


def test_a_custom_segmentation_is_used(trained_model, images) -> None:
    halves = lambda image: (np.arange(image.shape[1])[None, :] >= image.shape[1] // 2).repeat(image.shape[0], 0).astype(int)
    result = lime_map(trained_model, images[:1], num_samples=50, segmentation=halves)
    left, right = result.maps[0, 0, :, :14], result.maps[0, 0, :, 14:]
    assert torch.unique(left).numel() == 1 and torch.unique(right).numel() == 1
    with pytest.raises(TypeError, match="segmentation must be a function"):
        lime_map(trained_model, images[:1], segmentation="quickshift")
