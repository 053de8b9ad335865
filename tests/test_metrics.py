"""helpers.evaluate.metrics: pass counting and deletion/insertion curves on cases whose answer is known."""

import copy
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from helpers import saliency
from helpers.evaluate.metrics import PassCount, blurred, count_passes, median_and_spread, perturbation_curve
from helpers.evaluate.similarity import spearman

from bad_arguments import int_error


class Contributions(nn.Module):
    """Logit 0 = sum(w * x) (every pixel contributes w_i * x_i), logit 1 = 0."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight.clone())

    def forward(self, x):
        score = (x.flatten(1) * self.weight.flatten()).sum(1)
        return torch.stack([score, torch.zeros_like(score)], dim=1)


@pytest.fixture
def linear_case():
    generator = torch.Generator().manual_seed(0)
    weight = torch.rand(1, 6, 6, generator=generator) + 0.1
    images = torch.rand(20, 1, 6, 6, generator=generator) + 0.05
    return Contributions(weight), images, images * weight  # the exact contribution of every pixel


# --- pass counting ----------------------------------------------------------


def test_counts_one_forward_and_one_backward_for_a_saliency_batch(trained_model, test_images):
    with count_passes(trained_model) as count:
        saliency(trained_model, test_images[:8])
    assert count == PassCount(forward_calls=1, forward_inputs=8, backward_calls=1, backward_inputs=8)
    assert not trained_model._forward_hooks, "the hook is removed on exit"


def test_forward_without_gradients_counts_no_backward(trained_model, test_images):
    with count_passes(trained_model) as count, torch.no_grad():
        trained_model(test_images[:5])
        trained_model(test_images[:3])
    assert count == PassCount(forward_calls=2, forward_inputs=8, backward_calls=0, backward_inputs=0)


def test_copies_made_inside_the_block_are_counted(trained_model, test_images):
    with count_passes(trained_model) as count:
        duplicate = copy.deepcopy(trained_model)
        with torch.no_grad():
            duplicate(test_images[:4])
    assert count.forward_inputs == 4
    with torch.no_grad():
        duplicate(test_images[:4])
    assert count.forward_inputs == 4, "nothing is counted after the block"


def test_count_passes_needs_a_module():
    with pytest.raises(TypeError, match=r"nn\.Module"), count_passes(lambda x: x):  # type: ignore[arg-type]
        pass


# --- deletion and insertion ---------------------------------------------------


def test_perfect_attribution_gets_the_best_deletion_and_insertion_scores(linear_case):
    model, images, truth = linear_case
    areas = {}
    for order in ("most", "random", "least"):
        for mode in ("deletion", "insertion"):
            _, area = perturbation_curve(model, images, truth, 0, mode=mode, order=order, score="logit", steps=12)
            areas[(mode, order)] = area
    assert (areas[("deletion", "most")] < areas[("deletion", "random")]).all()
    assert (areas[("deletion", "random")] < areas[("deletion", "least")]).all()
    assert (areas[("insertion", "most")] > areas[("insertion", "random")]).all()
    assert (areas[("insertion", "random")] > areas[("insertion", "least")]).all()


def test_a_random_attribution_lands_near_the_random_baseline(linear_case):
    model, images, truth = linear_case
    random_map = torch.rand(images.shape, generator=torch.Generator().manual_seed(5))
    _, area = perturbation_curve(model, images, random_map, 0, score="logit", steps=12)
    _, baseline = perturbation_curve(model, images, truth, 0, order="random", score="logit", steps=12)
    _, perfect = perturbation_curve(model, images, truth, 0, score="logit", steps=12)
    assert abs(area.mean() - baseline.mean()) < 0.25 * (baseline.mean() - perfect.mean())


def test_curve_end_points_and_area_normalisation(linear_case):
    model, images, truth = linear_case
    curves, areas = perturbation_curve(model, images, truth, 0, score="logit", steps=4)
    with torch.no_grad():
        full = model(images)[:, 0]
    assert curves.shape == (20, 5)
    torch.testing.assert_close(curves[:, 0], full)
    torch.testing.assert_close(curves[:, -1], torch.zeros(20))
    torch.testing.assert_close(areas, torch.trapezoid(curves, dx=0.25, dim=1))
    inserted, _ = perturbation_curve(model, images, truth, 0, mode="insertion", score="logit", steps=4)
    torch.testing.assert_close(inserted[:, -1], full)
    torch.testing.assert_close(inserted[:, 0], torch.zeros(20))


def test_a_constant_score_has_that_area():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with torch.no_grad():
        model.get_parameter("1.weight").zero_()
        model.get_parameter("1.bias").copy_(torch.tensor([0.3, -0.3]))
    _, area = perturbation_curve(model, torch.rand(3, 1, 2, 2), torch.rand(3, 1, 2, 2), 0, score="logit", steps=4)
    torch.testing.assert_close(area, torch.full((3,), 0.3))


def test_substrate_image_is_what_removed_pixels_become(linear_case):
    model, images, truth = linear_case
    substrate = torch.full_like(images, 0.5)
    curves, _ = perturbation_curve(model, images, truth, 0, substrate=substrate, score="logit", steps=3)
    with torch.no_grad():
        torch.testing.assert_close(curves[:, -1], model(substrate)[:, 0])


def test_default_target_is_the_predicted_class_and_its_logit(trained_model, test_images):
    maps = saliency(trained_model, test_images[:4])
    curves, _ = perturbation_curve(trained_model, test_images[:4], maps)
    with torch.no_grad():
        expected = trained_model(test_images[:4]).max(1).values
    torch.testing.assert_close(curves[:, 0], expected)


def test_probability_is_in_0_1(trained_model, test_images):
    maps = saliency(trained_model, test_images[:4])
    curves, areas = perturbation_curve(trained_model, test_images[:4], maps, score="probability")
    with torch.no_grad():
        expected = trained_model(test_images[:4]).softmax(1).max(1).values
    torch.testing.assert_close(curves[:, 0], expected)
    assert ((areas >= 0) & (areas <= 1)).all()


def test_random_order_is_seeded(linear_case):
    model, images, truth = linear_case
    first = perturbation_curve(model, images, truth, 0, order="random", seed=3)[1]
    assert torch.equal(first, perturbation_curve(model, images, truth, 0, order="random", seed=3)[1])
    assert not torch.equal(first, perturbation_curve(model, images, truth, 0, order="random", seed=4)[1])


def test_model_mode_is_restored(linear_case):
    model, images, truth = linear_case
    model.train()
    perturbation_curve(model, images, truth, 0)
    assert model.training


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mode": "remove"}, "mode must be"),
        ({"order": "best"}, "order must be"),
        ({"score": "loss"}, "score must be"),
        ({"steps": 0}, "steps must be"),
        ({"steps": 1000}, "steps must be"),
        ({"substrate": torch.zeros(1, 1, 6, 6)}, "substrate must be"),
    ],
)
def test_bad_arguments_are_named(linear_case, kwargs, message):
    model, images, truth = linear_case
    with pytest.raises(ValueError, match=message):
        perturbation_curve(model, images, truth, 0, **kwargs)


class Recording(nn.Module):
    """Wraps a model and records the number of inputs of each forward pass."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.sizes: list[int] = []

    def forward(self, x):
        self.sizes.append(len(x))
        return self.model(x)


@pytest.mark.parametrize("mode", ["deletion", "insertion"])
def test_curves_are_computed_batch_size_inputs_at_a_time_with_the_same_result(linear_case, mode):
    """The N x (steps + 1) perturbed images used to go through the model in one pass, however many."""
    model, images, truth = linear_case
    recording = Recording(model)
    kwargs: dict[str, Any] = {"mode": mode, "order": "most", "steps": 12, "score": "probability"}
    expected = perturbation_curve(recording, images, truth, **kwargs, batch_size=2048)
    assert max(recording.sizes) == 20 * 13  # not vacuous: one pass takes every perturbed image
    recording.sizes.clear()
    with count_passes(recording) as passes:
        chunked = perturbation_curve(recording, images, truth, **kwargs, batch_size=7)
    assert max(recording.sizes) <= 7, f"a forward pass took {max(recording.sizes)} inputs"
    assert passes.forward_inputs == 20 + 20 * 13  # the clean images, then every perturbed one, once
    torch.testing.assert_close(chunked[0], expected[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(chunked[1], expected[1], atol=1e-6, rtol=0)


def test_numpy_integers_are_accepted_for_steps_seed_and_batch_size(linear_case):
    model, images, truth = linear_case
    expected = perturbation_curve(model, images, truth, 0, order="random", steps=6, seed=2, batch_size=50)
    numpy: dict[str, Any] = {"steps": np.int64(6), "seed": np.int64(2), "batch_size": np.int32(50)}
    result = perturbation_curve(model, images, truth, 0, order="random", **numpy)
    assert torch.equal(result[0], expected[0]) and torch.equal(result[1], expected[1])


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("steps", 2.0),
        ("steps", True),
        ("steps", "4"),
        ("steps", None),
        ("steps", -1),
        ("seed", 1.5),
        ("seed", False),
        ("seed", "0"),
        ("seed", -1),
        ("batch_size", 0),
        ("batch_size", 8.0),
    ],
)
def test_bad_integer_arguments_are_a_type_or_value_error_naming_them(linear_case, name, value):
    model, images, truth = linear_case
    with pytest.raises(int_error(value), match=f"{name} must be"):
        perturbation_curve(model, images, truth, 0, **{name: value})


def test_maps_of_another_shape_are_rejected(linear_case):
    model, images, truth = linear_case
    with pytest.raises(ValueError, match="maps must be"):
        perturbation_curve(model, images, truth[:, :, :3], 0)


# --- substrates and summaries -------------------------------------------------


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


def test_median_and_spread():
    assert median_and_spread(np.array([1.0, 2.0, 3.0, 4.0, 5.0])) == (3.0, 2.0, 4.0)
    assert median_and_spread(torch.tensor([1.0, float("nan"), 3.0]))[0] == 2.0
    with pytest.raises(ValueError, match="no finite values"):
        median_and_spread(np.array([float("nan")]))


def test_identical_maps_have_similarity_one(trained_model, test_images):
    maps = saliency(trained_model, test_images[:3])
    assert np.allclose(spearman(maps, maps), 1.0)
