"""Tests of helpers.explain.lime_maps.lime_map: LIME on a grid of superpixels, as per-pixel maps,
and LIME on tables ``(N, F)``, one weight per feature.

Correctness is checked on models that are exactly linear in the superpixel masks, where
LIME's weighted ridge surrogate must recover each superpixel's contribution, and on models
linear in a table's features, where the continuous surrogate must recover the weight row
times each feature's training std; the samples lime_tabular draws are checked against the
documented distributions. The rest checks the conventions shared with the saliency helpers
(shapes, targets, seeds, side effects, bad input). Few inputs and small ``num_samples``
keep the file fast.
"""

from __future__ import annotations

import copy
import re
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from helpers.course.models import TabularMLP
from helpers.explain.lime_maps import LimeResult, lime_map
from helpers.explain.segmentation import GridSegmentation, grid_segments

from bad_arguments import int_error
from side_effects import (
    MODE_SETTINGS,
    assert_model_untouched,
    dropout_net,
    dropout_net_in,
    global_rngs_untouched,
    modes,
    snapshot,
)

SAMPLES = 150  # perturbed images per explanation: enough for 49 superpixels, fast


@pytest.fixture(scope="module")
def images(test_images) -> torch.Tensor:
    """Two MNIST test images ``(2, 1, 28, 28)``."""
    return test_images[:2].clone()


@pytest.fixture(scope="module")
def explained(trained_model, images) -> LimeResult:
    """LIME on the shipped model, default arguments but ``samples``, computed once."""
    return lime_map(trained_model, images, samples=SAMPLES)


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
    maps = lime_map(trained_model, images[:1], samples=60, patch=patch).maps[0, 0]
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
    result = lime_map(model, images[:1].double(), samples=60)
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
    maps, scores = lime_map(model, image, target=0, samples=300, score="logit")
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
    maps, scores = lime_map(model, x, target=targets, samples=300, score="logit")
    for i, c in enumerate(targets):
        expected = segment_sums((weight[c] * x[i].flatten()).double())
        weights = cell_weights(maps[i])
        assert (weights - expected).abs().max() < 0.1 * expected.abs().max()
        assert torch.corrcoef(torch.stack([weights, expected]))[0, 1] > 0.99
        assert torch.equal(
            weights.sign()[expected.abs() > 0.2 * expected.abs().max()],
            expected.sign()[expected.abs() > 0.2 * expected.abs().max()],
        )
    assert (scores > 0.99).all()


def test_model_ignoring_its_input_gives_a_zero_map() -> None:
    model = linear_image_model(torch.zeros(10, 784), torch.arange(10.0))
    maps, scores = lime_map(model, torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(1)), samples=50)
    assert maps.abs().max() < 1e-10
    assert np.isfinite(scores).all()


def test_logits_by_default_and_probabilities_fit_different_outputs(trained_model, images, explained) -> None:
    logits = lime_map(trained_model, images, samples=SAMPLES, score="logit")
    assert torch.equal(logits.maps, explained.maps)  # the default explains the logit, as every helper does
    probabilities = lime_map(trained_model, images, samples=SAMPLES, score="probability")
    assert torch.isfinite(probabilities.maps).all() and np.isfinite(probabilities.scores).all()
    assert (probabilities.scores <= 1 + 1e-12).all()
    assert not torch.allclose(logits.maps, probabilities.maps)
    # logits span a wider range than probabilities in [0, 1]: the weights are larger
    assert logits.maps.abs().max() > probabilities.maps.abs().max()


# ---------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------


def test_default_target_is_the_predicted_class(trained_model, images, explained) -> None:
    with torch.no_grad():
        predicted = trained_model(images).argmax(1)
    assert torch.equal(lime_map(trained_model, images, predicted.tolist(), samples=SAMPLES).maps, explained.maps)
    assert torch.equal(lime_map(trained_model, images, predicted, samples=SAMPLES).maps, explained.maps)


def test_explicit_target_changes_the_map(trained_model, images, explained) -> None:
    with torch.no_grad():
        predicted = trained_model(images).argmax(1)
    other = int((predicted[0] + 1) % 10)
    maps = lime_map(trained_model, images[:1], other, samples=SAMPLES).maps
    assert not torch.allclose(maps[0], explained.maps[0])


def test_each_image_is_explained_independently_of_the_batch(trained_model, images, explained) -> None:
    alone = lime_map(trained_model, images[1:2], samples=SAMPLES)
    assert torch.equal(alone.maps[0], explained.maps[1])
    assert alone.scores[0] == explained.scores[1]


def test_target_out_of_range_is_a_value_error(trained_model, images) -> None:
    with pytest.raises(ValueError, match=r"target 10 is out of range.*0\.\.9"):
        lime_map(trained_model, images, 10, samples=SAMPLES)


# ---------------------------------------------------------------------------
# Seeds
# ---------------------------------------------------------------------------


def test_same_seed_gives_the_same_result(trained_model, images, explained) -> None:
    again = lime_map(trained_model, images, samples=SAMPLES, seed=0)
    assert torch.equal(again.maps, explained.maps)
    assert np.array_equal(again.scores, explained.scores)


def test_another_seed_gives_another_result(trained_model, images, explained) -> None:
    other = lime_map(trained_model, images, samples=SAMPLES, seed=1)
    assert not torch.equal(other.maps, explained.maps)
    assert not np.array_equal(other.scores, explained.scores)
    # ...but the same explanation, roughly: the top cell stays among the strongest
    for i in range(2):
        a, b = cell_weights(other.maps[i]), cell_weights(explained.maps[i])
        assert torch.corrcoef(torch.stack([a, b]))[0, 1] > 0.5


def test_batch_size_does_not_change_the_result(trained_model, images, explained) -> None:
    small = lime_map(trained_model, images, samples=SAMPLES, batch_size=16)
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
    with global_rngs_untouched():
        lime_map(model, x, samples=SAMPLES)
    assert_model_untouched(model, params, modes)
    assert torch.equal(x.detach(), images) and x.grad is None


def test_dropout_model_in_train_mode_gives_the_eval_explanation(images) -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(784, 10))
    model.train()
    in_train = lime_map(model, images[:1], samples=60)
    assert model.training and model[1].training
    model.eval()
    assert torch.equal(in_train.maps, lime_map(model, images[:1], samples=60).maps)


def test_nothing_is_printed(trained_model, images, capfd) -> None:
    capfd.readouterr()
    lime_map(trained_model, images[:1], samples=60)
    out, err = capfd.readouterr()
    assert out == ""
    assert err == ""  # LIME's tqdm bar is suppressed


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 3, 28, 28), (2, 28, 28), (2, 1, 28, 28, 1)])
def test_non_greyscale_batch_is_a_value_error(trained_model, shape) -> None:
    layouts = r"x must be a greyscale image batch \(N, 1, H, W\) or a table \(N, F\)"
    expected = rf"{layouts}, got shape {re.escape(str(shape))}"
    with pytest.raises(ValueError, match=expected):
        lime_map(trained_model, torch.zeros(shape), samples=SAMPLES)


def test_flattened_images_are_read_as_a_table_that_needs_training_data(trained_model) -> None:
    # (N, 784) is a valid table now: the error is the table's missing training_data, not the layout
    with pytest.raises(ValueError, match=r"a table x \(N, F\) needs training_data \(M, F\)"):
        lime_map(trained_model, torch.zeros(2, 784), samples=SAMPLES)


def test_numpy_images_are_a_type_error_naming_from_numpy(trained_model, images) -> None:
    with pytest.raises(TypeError, match=r"torch\.from_numpy\(x\)"):
        lime_map(trained_model, images.numpy(), samples=SAMPLES)


def test_integer_images_are_a_type_error(trained_model) -> None:
    with pytest.raises(TypeError, match=r"x\.float\(\)"):
        lime_map(trained_model, torch.zeros(1, 1, 28, 28, dtype=torch.uint8), samples=SAMPLES)


def test_single_image_without_batch_dimension_is_an_error(trained_model, images) -> None:
    with pytest.raises(ValueError, match=r"greyscale image batch \(N, 1, H, W\).*x\.unsqueeze\(0\)"):
        lime_map(trained_model, images[0], samples=SAMPLES)


@pytest.mark.parametrize("samples", [1, 0, -5, 2.5, True, "100", None])
def test_bad_samples_is_refused(trained_model, images, samples) -> None:
    with pytest.raises(int_error(samples), match="samples must be an int of at least 2"):
        lime_map(trained_model, images, samples=samples)


def test_unknown_score_is_a_value_error(trained_model, images) -> None:
    with pytest.raises(ValueError, match="score must be one of 'logit', 'probability'"):
        lime_map(trained_model, images, samples=SAMPLES, score="softmax")  # type: ignore[arg-type]


@pytest.mark.parametrize("patch", [0, -1, 2.5])
def test_bad_patch_is_refused_naming_patch(trained_model, images, patch) -> None:
    with pytest.raises(int_error(patch), match="patch must be a positive int"):
        lime_map(trained_model, images, samples=SAMPLES, patch=patch)


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True, "0", None])
def test_bad_seed_is_refused(trained_model, images, seed) -> None:
    with pytest.raises(int_error(seed), match="seed must be an int between 0 and 4294967295"):
        lime_map(trained_model, images, samples=SAMPLES, seed=seed)


def test_numpy_integers_are_accepted_for_samples_patch_seed_and_batch_size(trained_model, images) -> None:
    kwargs: dict[str, Any] = {"samples": 60, "patch": 7, "seed": 3, "batch_size": 16}
    expected = lime_map(trained_model, images[:1], **kwargs)
    numpy: dict[str, Any] = {name: np.int64(value) for name, value in kwargs.items()}
    result = lime_map(trained_model, images[:1], **numpy)
    assert torch.equal(result.maps, expected.maps)
    assert np.array_equal(result.scores, expected.scores)


@pytest.mark.parametrize("scale", ["0-255", "standardised"])
def test_images_off_the_unit_scale_are_a_value_error(trained_model, images, scale) -> None:
    """LIME hides a superpixel by setting it to 0: black only on the [0, 1] scale. x * 255 used to run silently."""
    x = images * 255 if scale == "0-255" else (images - 0.1307) / 0.3081
    with pytest.raises(ValueError, match=r"x must hold images on the \[0, 1\] scale, got values in \[") as caught:
        lime_map(trained_model, x, samples=SAMPLES)
    assert "divide 0-255 pixel values by 255" in str(caught.value)
    assert "LIME hides a superpixel by setting it to 0" in str(caught.value)


def test_images_slightly_off_the_unit_scale_are_accepted(trained_model, images) -> None:
    """Noise added to an image takes it a little outside [0, 1]: values in [-0.5, 1.5] are allowed."""
    noisy = images[:1].clone()
    noisy[0, 0, 0, :2] = torch.tensor([-0.5, 1.5])
    result = lime_map(trained_model, noisy, samples=60)
    assert torch.isfinite(result.maps).all()
    with pytest.raises(ValueError, match=r"got values in \[-0\.6, 1\.5\]"):
        lime_map(trained_model, noisy - 0.1 * (noisy < 0), samples=60)


def test_images_given_to_a_flat_model_name_nn_flatten_not_unsqueeze(images) -> None:
    with torch.random.fork_rng(devices=[]):
        flat_model = nn.Sequential(nn.Linear(784, 10))
    with pytest.raises(ValueError, match=r"make nn\.Flatten\(\) its first layer") as caught:
        lime_map(flat_model, images, samples=SAMPLES)
    assert "unsqueeze" not in str(caught.value)


def test_non_module_model_is_a_type_error(images) -> None:
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        lime_map(lambda x: x, images, samples=SAMPLES)  # type: ignore[arg-type]


def test_mode_restored_after_an_argument_error(trained_model, images) -> None:
    model = copy.deepcopy(trained_model).train()
    with pytest.raises(ValueError):
        lime_map(model, images, 10, samples=SAMPLES)
    assert all(m.training for m in model.modules())


class LimeWatcher(nn.Module):
    """Wraps a model; at each forward pass records whether ``lime_image.tqdm`` is the one given.

    LIME calls the model in the middle of an explanation, so this sees any patch of the
    ``lime`` package that lasts for the explanation. ``meet`` (a barrier), if given, holds
    the first batch of perturbed images until that many threads are all inside an explanation.
    """

    def __init__(self, model: nn.Module, tqdm: object, meet: threading.Barrier | None = None) -> None:
        super().__init__()
        self.model, self.tqdm, self.meet = model, tqdm, meet
        self.untouched: list[bool] = []
        self.met = threading.local()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from lime import lime_image

        if self.meet is not None and len(x) > 1 and not getattr(self.met, "done", False):
            self.met.done = True
            self.meet.wait()
        self.untouched.append(lime_image.tqdm is self.tqdm)
        return self.model(x)


def test_no_progress_bar_is_drawn_and_lime_is_never_patched(trained_model, images, monkeypatch) -> None:
    # In Jupyter, lime_image's tqdm is a widget: one per explanation floods the kernel's messages.
    # lime_map used to switch it off by patching the lime package for the whole process.
    from lime import lime_image

    calls = []

    def spy(iterable, *args, **kwargs):
        calls.append(1)
        return iterable

    monkeypatch.setattr(lime_image, "tqdm", spy)
    watcher = LimeWatcher(trained_model, spy)
    lime_map(watcher, images[:1], samples=20)
    assert calls == []
    assert len(watcher.untouched) == 2 and all(watcher.untouched), "lime_image.tqdm was patched during the call"
    assert lime_image.tqdm is spy


def test_lime_from_threads_leaves_the_lime_module_as_it_was(trained_model, images) -> None:
    """Four threads inside an explanation at once (the explorer runs LIME in a worker thread): lime_image's
    globals are never patched, so none is left patched, and every thread gets the same map as alone."""
    from lime import lime_image

    original = lime_image.tqdm
    alone = lime_map(trained_model, images[:1], samples=50).maps
    watcher = LimeWatcher(trained_model, original, meet=threading.Barrier(4, timeout=30))
    with ThreadPoolExecutor(4) as pool:
        maps = list(pool.map(lambda _: lime_map(watcher, images[:1], samples=50).maps, range(4)))
    assert lime_image.tqdm is original
    assert len(watcher.untouched) == 8 and all(watcher.untouched)
    assert all(torch.equal(m, alone) for m in maps)


def test_the_quiet_explainer_equals_lime_image(trained_model, images) -> None:
    """Same random draws, same perturbed images, same weights and score as lime_image's own explainer."""
    from lime import lime_image

    from helpers import GridSegmentation, QuietLimeImageExplainer, numpy_predictor

    rgb = np.repeat(images[0, 0].numpy()[..., None], 3, axis=-1).astype(np.float64)
    predict = numpy_predictor(trained_model, score="probability")
    settings: dict[str, Any] = {
        "labels": (3,),
        "top_labels": None,
        "hide_color": 0,
        "num_features": 49,
        "num_samples": 120,
        "batch_size": 50,
        "segmentation_fn": GridSegmentation(4),
        "random_seed": 0,
    }
    quiet = QuietLimeImageExplainer(random_state=0).explain_instance(rgb, predict, **settings)
    loud = lime_image.LimeImageExplainer(random_state=0).explain_instance(rgb, predict, **settings)
    assert dict(quiet.local_exp[3]) == pytest.approx(dict(loud.local_exp[3]), abs=1e-12)
    assert quiet.score == pytest.approx(loud.score, abs=1e-12)


def test_a_custom_segmentation_is_used(trained_model, images) -> None:
    def halves(image: np.ndarray) -> np.ndarray:
        return (np.arange(image.shape[1])[None, :] >= image.shape[1] // 2).repeat(image.shape[0], 0).astype(int)

    result = lime_map(trained_model, images[:1], samples=50, segmentation=halves)
    left, right = result.maps[0, 0, :, :14], result.maps[0, 0, :, 14:]
    assert torch.unique(left).numel() == 1 and torch.unique(right).numel() == 1
    with pytest.raises(TypeError, match="segmentation must be a function"):
        lime_map(trained_model, images[:1], segmentation="quickshift")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# Tables (N, F): lime_tabular, one weight per feature
# ---------------------------------------------------------------------------

FEATURES = 6
TABLE_CLASSES = 3
TABLE_STDS = (0.5, 1.0, 2.0, 3.0, 1.5, 0.8)  # unequal spreads, so scaling by the std shows
TABLE_WEIGHT = (  # no tiny entries, so relative tolerances mean something
    (1.0, -2.0, 0.5, 1.5, -1.0, 3.0),
    (-0.5, 1.0, 2.0, -1.5, 0.7, -1.2),
    (2.5, 0.6, -0.8, 1.0, -2.0, 0.9),
)


@pytest.fixture(scope="module")
def training_rows() -> torch.Tensor:
    """``(200, 6)`` float64 rows, feature j with standard deviation ``TABLE_STDS[j]`` and its own mean."""
    generator = torch.Generator().manual_seed(0)
    stds = torch.tensor(TABLE_STDS, dtype=torch.float64)
    noise = torch.randn(200, FEATURES, generator=generator, dtype=torch.float64)
    return noise * stds + torch.randn(FEATURES, generator=generator, dtype=torch.float64)


@pytest.fixture(scope="module")
def rows(training_rows) -> torch.Tensor:
    """Three rows to explain ``(3, 6)``, drawn from the training distribution."""
    return training_rows[:3].clone()


@pytest.fixture(scope="module")
def table_mlp() -> nn.Module:
    """A seeded, untrained float64 ``TabularMLP(6, classes=3, hidden=8)``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return TabularMLP(FEATURES, classes=TABLE_CLASSES, hidden=8).double().eval()


def linear_table_model(weight: torch.Tensor, bias: torch.Tensor | None = None) -> nn.Module:
    """``Linear(F, classes)`` in float64 with the given weight ``(classes, F)``."""
    with torch.random.fork_rng(devices=[]):
        layer = nn.Linear(weight.shape[1], weight.shape[0]).double()
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.copy_(torch.zeros(weight.shape[0]) if bias is None else bias)
    return layer


def table_weight() -> torch.Tensor:
    return torch.tensor(TABLE_WEIGHT, dtype=torch.float64)


# --- shape and layout ------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_table_maps_have_one_weight_per_feature(table_mlp, rows, training_rows, dtype) -> None:
    model = copy.deepcopy(table_mlp).to(dtype)
    result = lime_map(model, rows.to(dtype), training_data=training_rows.to(dtype), samples=100)
    assert isinstance(result, LimeResult)
    assert result.maps.shape == (3, FEATURES)
    assert result.maps.dtype == dtype and result.maps.device == rows.device
    assert not result.maps.requires_grad
    assert torch.isfinite(result.maps).all()
    assert (result.maps.abs().amax(dim=1) > 0).all()  # not vacuous
    assert isinstance(result.scores, np.ndarray) and result.scores.shape == (3,)
    assert np.isfinite(result.scores).all() and (result.scores <= 1 + 1e-12).all()


# --- correctness on models linear in the features ---------------------------


def test_table_linear_model_weights_are_the_weight_row_times_the_training_std(rows, training_rows) -> None:
    """With ``discretize=False`` lime_tabular fits the surrogate on features divided by the training
    std (StandardScaler: the population std), so on a linear model feature j's weight for class c
    is ``W[c, j] * std_j``; ridge shrinkage leaves it a little (~0.1 %) short with 5000 samples."""
    weight = table_weight()
    model = linear_table_model(weight, torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64))
    targets = [0, 2, 1]
    maps, scores = lime_map(
        model,
        rows,
        targets,
        training_data=training_rows,
        discretize=False,
        sample_around_instance=True,
        score="logit",
        samples=5000,
    )
    expected = weight[targets] * training_rows.std(dim=0, unbiased=False)
    torch.testing.assert_close(maps, expected, rtol=3e-3, atol=0)
    assert not torch.allclose(maps, weight[targets], rtol=0.1)  # per std, not per unit
    assert (scores > 0.999).all()


def test_table_linear_model_sampled_around_the_training_mean_gives_the_same_weights(rows, training_rows) -> None:
    weight = table_weight()
    model = linear_table_model(weight)
    targets = [0, 2, 1]
    kwargs: dict[str, Any] = {"training_data": training_rows, "discretize": False, "score": "logit", "samples": 2000}
    around_mean = lime_map(model, rows, targets, sample_around_instance=False, **kwargs)
    around_x = lime_map(model, rows, targets, sample_around_instance=True, **kwargs)
    expected = weight[targets] * training_rows.std(dim=0, unbiased=False)
    torch.testing.assert_close(around_mean.maps, expected, rtol=1e-2, atol=0)
    torch.testing.assert_close(around_x.maps, expected, rtol=1e-2, atol=0)
    assert not torch.equal(around_mean.maps, around_x.maps)  # the option reaches lime_tabular


class Recorder(nn.Module):
    """Wraps a model and keeps a copy of every batch it is called with."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach().clone())
        return self.model(x)


@pytest.mark.parametrize("around_x", [False, True], ids=["around-mean", "around-x"])
def test_continuous_samples_are_normal_around_the_training_mean_or_around_x(training_rows, around_x) -> None:
    """``discretize=False``: each feature is drawn from a normal with the training std, centred on the
    training mean, or on x with ``sample_around_instance``. x lies 3 stds above the mean, so the
    two centres are ~130 standard errors apart."""
    std = training_rows.std(dim=0, unbiased=False)
    x = training_rows.mean(dim=0, keepdim=True) + 3 * std
    recorder = Recorder(linear_table_model(table_weight()))
    lime_map(
        recorder, x, 0, training_data=training_rows, discretize=False, sample_around_instance=around_x, samples=2000
    )
    assert [tuple(batch.shape) for batch in recorder.seen] == [(1, FEATURES), (2000, FEATURES)]  # target, then samples
    samples = recorder.seen[1]
    torch.testing.assert_close(samples[0], x[0], atol=1e-6, rtol=0)  # LIME's first sample is x itself
    centre = x[0] if around_x else training_rows.mean(dim=0)
    assert ((samples[1:].mean(dim=0) - centre).abs() < 4 * std / 1999**0.5).all()
    torch.testing.assert_close(samples[1:].std(dim=0), std, rtol=0.05, atol=0)


def test_discretized_samples_draw_each_quartile_equally_within_the_training_range(training_rows) -> None:
    """``discretize=True`` (default): each feature's sample falls in each training quartile with
    probability 1/4, even for an x far out in the top one, and within the training min and max."""
    x = training_rows.mean(dim=0, keepdim=True) + 3 * training_rows.std(dim=0, unbiased=False)
    recorder = Recorder(linear_table_model(table_weight()))
    lime_map(recorder, x, 0, training_data=training_rows, samples=2000)
    samples = recorder.seen[1][1:]
    low, high = training_rows.min(dim=0).values, training_rows.max(dim=0).values
    assert ((samples >= low - 1e-6) & (samples <= high + 1e-6)).all()
    quartiles = torch.quantile(training_rows, torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64), dim=0)
    for j in range(FEATURES):
        bins = torch.bucketize(samples[:, j].contiguous(), quartiles[:, j].contiguous())
        frequencies = torch.bincount(bins, minlength=4).double() / len(samples)
        assert (frequencies - 0.25).abs().max() < 0.05


def test_table_discretized_weights_follow_the_sign_and_size_of_a_linear_model(training_rows) -> None:
    """Default ``discretize=True``: a feature's weight is the effect of lying in x's quartile. For a row
    in every feature's top decile that effect has the sign of W[c, j]; in the bottom decile the
    opposite sign. Larger |W[c, j]| (equal spreads here) gives a larger |weight|; W[c, 4] = 0 the smallest."""
    generator = torch.Generator().manual_seed(0)
    data = torch.randn(200, FEATURES, generator=generator, dtype=torch.float64)
    w0 = torch.tensor([2.0, -1.5, 1.0, -0.5, 0.0, 3.0], dtype=torch.float64)
    model = linear_table_model(torch.stack([w0, torch.zeros(FEATURES, dtype=torch.float64)]))
    x = torch.stack([torch.quantile(data, 0.9, dim=0), torch.quantile(data, 0.1, dim=0)])
    for score in ("logit", "probability"):
        maps = lime_map(model, x, 0, training_data=data, score=score, samples=1000).maps
        relevant = w0 != 0
        assert torch.equal(maps[0].sign()[relevant], w0.sign()[relevant])
        assert torch.equal(maps[1].sign()[relevant], -w0.sign()[relevant])
        for row in maps:
            assert row.abs().argsort(descending=True).tolist() == [5, 0, 1, 2, 3, 4]


def test_table_logits_fit_without_lime_warning_that_they_do_not_sum_to_1(rows, training_rows) -> None:
    from lime import lime_tabular

    from helpers.explain.adapters import numpy_predictor

    model = linear_table_model(table_weight())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        filters = list(warnings.filters)
        lime_map(model, rows[:1], training_data=training_rows, score="logit", samples=50)
        lime_map(model, rows[:1], training_data=training_rows, discretize=False, score="logit", samples=50)
        assert warnings.filters == filters  # the helper's filter does not outlive the call
    assert not [w for w in caught if "do not sum to 1" in str(w.message)]
    # ...though lime_tabular itself warns on logits: the silence is the helper's doing
    explainer = lime_tabular.LimeTabularExplainer(training_rows.numpy(), mode="classification", random_state=0)
    predict_logits = numpy_predictor(model, score="logit", image_shape=None)
    with pytest.warns(UserWarning, match="do not sum to 1"):
        explainer.explain_instance(rows[0].numpy(), predict_logits, num_samples=50)


def test_table_model_ignoring_its_input_gives_a_zero_map(rows, training_rows) -> None:
    weight = torch.zeros(TABLE_CLASSES, FEATURES, dtype=torch.float64)
    model = linear_table_model(weight, torch.arange(3.0, dtype=torch.float64))
    for discretize in (True, False):
        maps = lime_map(model, rows, training_data=training_rows, discretize=discretize, samples=50).maps
        assert maps.abs().max() < 1e-10


# --- targets and seeds --------------------------------------------------------


def test_table_default_target_is_the_predicted_class(table_mlp, rows, training_rows) -> None:
    with torch.no_grad():
        predicted = table_mlp(rows).argmax(1)
    assert predicted.tolist() == [2, 1, 2]  # not vacuous: two classes
    default = lime_map(table_mlp, rows, training_data=training_rows, samples=100)
    explicit = lime_map(table_mlp, rows, predicted, training_data=training_rows, samples=100)
    assert torch.equal(default.maps, explicit.maps)


def test_table_per_row_targets_equal_explaining_each_row_alone(table_mlp, rows, training_rows) -> None:
    targets = [2, 0, 1]
    kwargs: dict[str, Any] = {"training_data": training_rows, "discretize": False, "samples": 100}
    batch = lime_map(table_mlp, rows, targets, **kwargs)
    for i, c in enumerate(targets):
        alone = lime_map(table_mlp, rows[i : i + 1], c, **kwargs)
        assert torch.equal(batch.maps[i], alone.maps[0])
        assert batch.scores[i] == alone.scores[0]
        other = lime_map(table_mlp, rows[i : i + 1], (c + 1) % TABLE_CLASSES, **kwargs)
        assert not torch.allclose(other.maps[0], batch.maps[i])


def test_table_target_out_of_range_is_a_value_error(table_mlp, rows, training_rows) -> None:
    with pytest.raises(ValueError, match=r"target 3 is out of range.*0\.\.2"):
        lime_map(table_mlp, rows, 3, training_data=training_rows, samples=50)


@pytest.mark.parametrize("discretize", [True, False])
def test_table_same_seed_same_maps_other_seed_other_maps(table_mlp, rows, training_rows, discretize) -> None:
    kwargs: dict[str, Any] = {"training_data": training_rows, "discretize": discretize, "samples": 100}
    first = lime_map(table_mlp, rows, seed=3, **kwargs)
    again = lime_map(table_mlp, rows, seed=3, **kwargs)
    other = lime_map(table_mlp, rows, seed=4, **kwargs)
    assert torch.equal(first.maps, again.maps) and np.array_equal(first.scores, again.scores)
    assert not torch.equal(first.maps, other.maps)


# --- side effects ---------------------------------------------------------------


@pytest.mark.parametrize("setting", MODE_SETTINGS)
def test_table_callers_model_tensors_and_random_states_are_untouched(rows, training_rows, setting) -> None:
    model = dropout_net_in(setting, FEATURES, TABLE_CLASSES)
    before = modes(model)
    params = snapshot(model)
    x = rows.float().clone().requires_grad_()
    data = training_rows.float().clone()
    with global_rngs_untouched(123):
        result = lime_map(model, x, training_data=data, samples=100)
    assert_model_untouched(model, params, before)
    assert torch.equal(x.detach(), rows.float()) and x.grad is None
    assert torch.equal(data, training_rows.float())
    # every forward pass ran in eval mode: dropout off, the same maps as the eval model's
    in_eval = lime_map(dropout_net(FEATURES, TABLE_CLASSES).eval(), rows.float(), training_data=data, samples=100)
    assert torch.equal(result.maps, in_eval.maps)


def test_table_nothing_is_printed(table_mlp, rows, training_rows, capfd) -> None:
    capfd.readouterr()
    lime_map(table_mlp, rows[:1], training_data=training_rows, samples=50, score="logit")
    out, err = capfd.readouterr()
    assert out == "" and err == ""


# --- bad input ------------------------------------------------------------------


def test_table_without_training_data_is_a_value_error_naming_training_data(table_mlp, rows) -> None:
    with pytest.raises(ValueError, match=r"a table x \(N, F\) needs training_data \(M, F\)"):
        lime_map(table_mlp, rows, samples=50)


@pytest.mark.parametrize(
    "table_option", [{"training_data": torch.zeros(5, 784)}, {"discretize": False}, {"sample_around_instance": True}]
)
def test_table_options_with_images_are_a_value_error(trained_model, images, table_option) -> None:
    with pytest.raises(
        ValueError, match=r"training_data, discretize and sample_around_instance apply to tables \(N, F\)"
    ):
        lime_map(trained_model, images[:1], samples=50, **table_option)


@pytest.mark.parametrize("shape", [(50, FEATURES - 1), (50, FEATURES + 1), (50, 1, FEATURES)])
def test_training_data_of_another_width_is_a_value_error(table_mlp, rows, shape) -> None:
    expected = rf"training_data must be \(M, F\) with F = {FEATURES} like x, got shape {re.escape(str(shape))}"
    with pytest.raises(ValueError, match=expected):
        lime_map(table_mlp, rows, training_data=torch.zeros(shape, dtype=torch.float64), samples=50)


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (np.zeros((50, FEATURES)), TypeError, r"torch\.from_numpy\(training_data\)"),
        (torch.zeros(50, FEATURES, dtype=torch.long), TypeError, r"training_data\.float\(\)"),
        (torch.zeros(FEATURES), ValueError, r"training_data\.unsqueeze\(0\)"),
        (torch.zeros(0, FEATURES), ValueError, r"training_data is an empty batch"),
    ],
    ids=["numpy", "integer", "one-row-without-batch-dimension", "empty"],
)
def test_bad_training_data_is_an_error_naming_training_data(table_mlp, rows, data, error, message) -> None:
    with pytest.raises(error, match=message):
        lime_map(table_mlp, rows, training_data=data, samples=50)


def test_segmentation_with_a_table_is_a_value_error(table_mlp, rows, training_rows) -> None:
    with pytest.raises(ValueError, match="segmentation applies to images"):
        lime_map(table_mlp, rows, training_data=training_rows, segmentation=GridSegmentation(4), samples=50)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("discretize", 1),
        ("discretize", None),
        ("discretize", "False"),
        ("sample_around_instance", 0),
        ("sample_around_instance", "yes"),
    ],
)
def test_non_bool_table_flags_are_a_type_error(table_mlp, rows, training_rows, name, value) -> None:
    with pytest.raises(TypeError, match=rf"{name} must be True or False, got {re.escape(repr(value))}"):
        lime_map(table_mlp, rows, training_data=training_rows, samples=50, **{name: value})


def test_one_row_without_batch_dimension_names_unsqueeze(table_mlp, rows, training_rows) -> None:
    with pytest.raises(ValueError, match=r"x\.unsqueeze\(0\)"):
        lime_map(table_mlp, rows[0], training_data=training_rows, samples=50)


def test_a_table_given_to_an_image_model_is_a_value_error_naming_the_shape(trained_model) -> None:
    with pytest.raises(ValueError, match=r"the model cannot take x of shape \(2, 784\)"):
        lime_map(trained_model, torch.zeros(2, 784), training_data=torch.zeros(5, 784), samples=SAMPLES)
