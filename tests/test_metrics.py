"""helpers.evaluate.metrics: pass counting and deletion/insertion curves on cases whose answer is known."""

import copy
from typing import Any, cast

import numpy as np
import pytest
import torch
from torch import nn

from helpers import saliency
from helpers.evaluate import metrics
from helpers.evaluate.metrics import PassCount, count_passes, median_and_spread, perturbation_curve
from helpers.evaluate.similarity import spearman
from helpers.evaluate.substrates import noisy_linear_imputation

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
        ({"substrate": "blur"}, "substrate must be one of 'road'"),
        ({"substrate": "ROAD"}, "substrate must be one of 'road'"),
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


# --- the ROAD substrate ---------------------------------------------------------


def road_noise(image: int, steps: int, pixels: int, seed: int = 0) -> torch.Tensor:
    """The noise ``substrate="road"`` adds to one image's removed pixels: ``(steps + 1, pixels)``, a row per step."""
    draws = np.random.default_rng([seed, image]).standard_normal((steps + 1, pixels))
    return metrics.ROAD_NOISE * torch.from_numpy(draws).float()


# The imputation is an iterative solve, within about 1e-4 of the exact one: curves computed in
# batches of other sizes or compositions agree to that, not bit for bit.


def test_road_deletion_starts_on_x_and_ends_on_the_noise_alone(linear_case):
    """With every pixel removed nothing is left to interpolate from: the image is 0 plus the last step's noise."""
    model, images, truth = linear_case
    curves, _ = perturbation_curve(model, images, truth, 0, substrate="road", steps=4, seed=2)
    noise = torch.stack([road_noise(i, 4, 36, seed=2)[-1] for i in range(20)]).reshape(images.shape)
    with torch.no_grad():
        torch.testing.assert_close(curves[:, 0], model(images)[:, 0])
        torch.testing.assert_close(curves[:, -1], model(noise)[:, 0])
    assert not torch.allclose(curves[:, -1], torch.zeros(20), atol=1e-3)  # not vacuous: the noise shows


def test_road_insertion_starts_on_the_noise_alone_and_ends_on_x(linear_case):
    model, images, truth = linear_case
    curves, _ = perturbation_curve(model, images, truth, 0, mode="insertion", substrate="road", steps=4)
    noise = torch.stack([road_noise(i, 4, 36)[0] for i in range(20)]).reshape(images.shape)
    with torch.no_grad():
        torch.testing.assert_close(curves[:, 0], model(noise)[:, 0])
        torch.testing.assert_close(curves[:, -1], model(images)[:, 0])


@pytest.mark.parametrize("mode", ["deletion", "insertion"])
def test_road_curve_is_the_model_on_each_steps_imputed_image_plus_that_steps_noise(linear_case, mode):
    """Rebuilt from the public noisy_linear_imputation (noise-free) and the per-(seed, image) noise rows."""
    model, images, truth = linear_case
    images, truth = images[:3], truth[:3]
    curves, _ = perturbation_curve(model, images, truth, 0, mode=mode, substrate="road", steps=4, seed=5)
    position = truth.flatten(1).argsort(1, descending=True).argsort(1).reshape(images.shape)  # most relevant: 0
    for step in range(5):
        changed = position < 9 * step  # 36 pixels, 9 more changed per step
        removed = changed if mode == "deletion" else ~changed
        noise = torch.stack([road_noise(i, 4, 36, seed=5)[step] for i in range(3)]).reshape(images.shape)
        perturbed = noisy_linear_imputation(images, removed, noise=0.0) + noise * removed
        with torch.no_grad():
            torch.testing.assert_close(curves[:, step], model(perturbed)[:, 0], atol=1e-4, rtol=0)


@pytest.mark.parametrize("mode", ["deletion", "insertion"])
def test_road_curves_do_not_depend_on_batch_size(linear_case, mode):
    """The noise is drawn per image and step, not per batch."""
    model, images, truth = linear_case
    expected = perturbation_curve(model, images, truth, 0, mode=mode, substrate="road", steps=12)
    chunked = perturbation_curve(model, images, truth, 0, mode=mode, substrate="road", steps=12, batch_size=7)
    torch.testing.assert_close(chunked[0], expected[0], atol=1e-4, rtol=0)
    torch.testing.assert_close(chunked[1], expected[1], atol=1e-4, rtol=0)


def test_road_noise_is_seeded(linear_case):
    model, images, truth = linear_case
    first = perturbation_curve(model, images, truth, 0, substrate="road", steps=6, seed=3)[0]
    assert torch.equal(first, perturbation_curve(model, images, truth, 0, substrate="road", steps=6, seed=3)[0])
    assert not torch.allclose(first, perturbation_curve(model, images, truth, 0, substrate="road", steps=6, seed=4)[0])


def test_road_least_first_deletion_is_most_first_insertion_backwards_without_noise(linear_case, monkeypatch):
    """The same pixels are removed at deletion step k and insertion step steps - k, so the same images are imputed.

    Only exact without the noise: the two modes draw the noise of different step rows.
    """
    monkeypatch.setattr(metrics, "ROAD_NOISE", 0.0)
    model, images, truth = linear_case
    deleted, _ = perturbation_curve(model, images, truth, 0, order="least", substrate="road", steps=12)
    inserted, _ = perturbation_curve(model, images, truth, 0, mode="insertion", substrate="road", steps=12)
    torch.testing.assert_close(deleted, inserted.flip(1), atol=1e-4, rtol=0)


def test_road_curves_of_the_trained_model_are_finite_and_start_on_its_logit(trained_model, test_images):
    x = test_images[:2]
    maps = saliency(trained_model, x)
    curves, areas = perturbation_curve(trained_model, x, maps, substrate="road", steps=7)
    with torch.no_grad():
        torch.testing.assert_close(curves[:, 0], trained_model(x).max(1).values)
    assert torch.isfinite(curves).all() and torch.isfinite(areas).all()


# --- summaries -----------------------------------------------------------------


def test_median_and_spread():
    assert median_and_spread(np.array([1.0, 2.0, 3.0, 4.0, 5.0])) == (3.0, 2.0, 4.0)
    assert median_and_spread(torch.tensor([1.0, float("nan"), 3.0]))[0] == 2.0
    with pytest.raises(ValueError, match="no finite values"):
        median_and_spread(np.array([float("nan")]))


def test_identical_maps_have_similarity_one(trained_model, test_images):
    maps = saliency(trained_model, test_images[:3])
    assert np.allclose(spearman(maps, maps), 1.0)


# --- ties -------------------------------------------------------------------


def test_random_ties_leave_a_ranking_without_ties_unchanged(linear_case):
    model, images, truth = linear_case  # continuous values: no two pixels tie
    for order in ("most", "least"):
        raster, _ = perturbation_curve(model, images, truth, 0, order=order)
        shuffled, _ = perturbation_curve(model, images, truth, 0, order=order, ties="random", seed=3)
        torch.testing.assert_close(shuffled, raster)


def test_random_ties_reorder_only_the_tied_pixels_and_follow_the_seed(linear_case):
    model, images, truth = linear_case
    tied = truth.clone()
    tied[..., 3:, :] = 0.0  # the bottom half tied at 0, as a map's black background would be
    raster, _ = perturbation_curve(model, images, tied, 0, order="least", steps=36)
    first, _ = perturbation_curve(model, images, tied, 0, order="least", ties="random", seed=1, steps=36)
    again, _ = perturbation_curve(model, images, tied, 0, order="least", ties="random", seed=1, steps=36)
    other, _ = perturbation_curve(model, images, tied, 0, order="least", ties="random", seed=2, steps=36)
    assert torch.equal(first, again) and not torch.equal(first, other) and not torch.equal(first, raster)
    # the 18 tied pixels come first (least relevant); after them, every order agrees
    torch.testing.assert_close(first[:, 18:], raster[:, 18:])


def test_ties_must_be_raster_or_random(linear_case):
    model, images, truth = linear_case
    with pytest.raises(ValueError, match="ties must be one of"):
        perturbation_curve(model, images, truth, 0, ties=cast(Any, "first"))
