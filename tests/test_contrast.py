"""Contrastive explanations: ``contrast=d`` makes every explainer explain ``S_target - S_d``."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Literal

import pytest
import torch
from oracles import seeded
from torch import nn

from helpers import (
    SimpleCNN,
    grad_cam,
    gradient_x_input,
    guided_backprop,
    guided_grad_cam,
    integrated_gradients,
    lime_map,
    occlusion,
    saliency,
    shap_map,
    smoothgrad,
)
from helpers.explain.contrast import LogitDifferences

from side_effects import assert_model_untouched, global_rngs_untouched, modes, snapshot


class MinusClass(nn.Module):
    """An independent oracle: the model's logits minus class ``d``'s, so column t is S_t - S_d."""

    def __init__(self, model: nn.Module, d: int) -> None:
        super().__init__()
        self.model = model
        self.d = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.model(x)
        return logits - logits[:, self.d : self.d + 1]


def linear_digits() -> nn.Sequential:
    """A linear model on 8 x 8 images with 3 classes and no bias (so sums of contributions are exact)."""
    return seeded(lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 3, bias=False)))


def small_cnn() -> nn.Module:
    """A small CNN with one nn.ReLU module per use (what Guided Backprop and Deep SHAP need)."""
    return seeded(
        lambda: nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 8), nn.ReLU(), nn.Linear(8, 3)
        )
    )


def images(n: int = 4) -> torch.Tensor:
    return seeded(lambda: torch.rand(n, 1, 8, 8))


EXPLAINERS: dict[str, Callable[..., object]] = {
    "saliency": saliency,
    "saliency signed": partial(saliency, reduce="signed"),
    "smoothgrad": partial(smoothgrad, samples=4, seed=3),
    "gradient_x_input": gradient_x_input,
    "integrated_gradients": partial(integrated_gradients, steps=8),
    "grad_cam": grad_cam,
    "grad_cam signed": partial(grad_cam, relu=False),
    "guided_backprop": guided_backprop,
    "guided_grad_cam": guided_grad_cam,
    "occlusion": partial(occlusion, window=2, stride=2),
    "lime_map": partial(lime_map, samples=60, patch=4, seed=1),
    "shap_map deep": partial(shap_map, method="deep", background=torch.zeros(2, 1, 8, 8)),
    "shap_map gradient": partial(shap_map, method="gradient", background=torch.zeros(2, 1, 8, 8), samples=8),
    "shap_map kernel": partial(shap_map, method="kernel", samples=40, patch=4),
}


def maps_of(result: object) -> torch.Tensor:
    """The maps of an explainer's result (LIME and SHAP return them with their scores)."""
    return result if isinstance(result, torch.Tensor) else result.maps  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", EXPLAINERS)
def test_every_explainer_explains_the_logit_difference(name: str) -> None:
    """Each explainer with contrast=d gives what it gives, unchanged, on a model whose output t is S_t - S_d."""
    explain, model, x = EXPLAINERS[name], small_cnn(), images()
    contrasted = maps_of(explain(model, x, 0, contrast=2))
    expected = maps_of(explain(MinusClass(model, 2), x, 0))
    torch.testing.assert_close(contrasted, expected, atol=1e-6, rtol=1e-5)
    assert float(contrasted.abs().max()) > 0  # not vacuous
    assert not torch.allclose(contrasted, maps_of(explain(model, x, 0)))  # and not the plain map


def test_a_linear_models_contrastive_saliency_is_the_difference_of_its_weight_rows() -> None:
    model, x = linear_digits(), images()
    weights = model.get_parameter("1.weight").detach()
    difference = (weights[0] - weights[2]).reshape(1, 1, 8, 8).expand_as(x)
    torch.testing.assert_close(saliency(model, x, 0, contrast=2), difference.abs())
    torch.testing.assert_close(saliency(model, x, 0, contrast=2, reduce="signed"), difference)
    assert not torch.allclose(saliency(model, x, 0, contrast=2), saliency(model, x, 0))


def difference_of(model: nn.Module, x: torch.Tensor, target: int, contrast: int) -> torch.Tensor:
    with torch.no_grad():
        logits = model(x)
    return logits[:, target] - logits[:, contrast]


def test_gradient_x_input_and_integrated_gradients_add_up_to_the_difference() -> None:
    model, x = linear_digits(), images()
    change = difference_of(model, x, 1, 0)  # no bias: the difference at a black image is 0
    torch.testing.assert_close(gradient_x_input(model, x, 1, contrast=0).flatten(1).sum(1), change)
    cnn = small_cnn()
    attributions, delta = integrated_gradients(cnn, x, 1, contrast=0, steps=64, return_delta=True)
    change = difference_of(cnn, x, 1, 0) - difference_of(cnn, torch.zeros_like(x), 1, 0)
    torch.testing.assert_close(attributions.flatten(1).sum(1), change, atol=2e-3, rtol=0)
    assert float(delta.max()) < 2e-3


def test_lime_recovers_each_cells_contribution_to_the_difference_on_a_linear_model() -> None:
    """Hiding a cell of a linear model removes its share of S_t - S_d; LIME's ridge fit recovers the shares."""
    model, x = linear_digits(), images(2)
    result = lime_map(model, x, 0, contrast=1, samples=300, patch=4)
    weights = model.get_parameter("1.weight").detach()
    contributions = ((weights[0] - weights[1]).reshape(1, 1, 8, 8) * x).reshape(2, 2, 4, 2, 4).sum((2, 4))
    fitted = result.maps.reshape(2, 2, 4, 2, 4).sum((2, 4))
    for mine, true in zip(fitted.flatten(1), contributions.flatten(1), strict=True):
        assert (mine - true).abs().max() < 0.1 * true.abs().max()
        assert torch.corrcoef(torch.stack([mine, true]))[0, 1] > 0.99
    assert result.scores.min() > 0.99  # R^2: the difference is linear in the cells


@pytest.mark.parametrize("method", ["deep", "kernel"])
def test_shap_values_add_up_to_the_difference_minus_its_base_value(method: Literal["deep", "kernel"]) -> None:
    model, x = small_cnn(), images(3)
    background = torch.zeros(2, 1, 8, 8)
    result = shap_map(model, x, 2, contrast=0, method=method, background=background, samples=200)
    change = difference_of(model, x, 2, 0) - torch.as_tensor(result.base_values, dtype=x.dtype)
    torch.testing.assert_close(result.maps.flatten(1).sum(1), change, atol=1e-4, rtol=1e-4)
    black = difference_of(model, torch.zeros(1, 1, 8, 8), 2, 0)
    torch.testing.assert_close(torch.as_tensor(result.base_values, dtype=x.dtype), black.expand(3), atol=1e-5, rtol=0)


def test_one_contrast_per_input_explains_each_input_against_its_own_class() -> None:
    model, x = small_cnn(), images(3)
    targets, contrasts = [0, 1, 2], [1, 2, 0]
    together = integrated_gradients(model, x, targets, contrast=contrasts, steps=8)
    for i, (target, contrast) in enumerate(zip(targets, contrasts, strict=True)):
        alone = integrated_gradients(model, x[i : i + 1], target, contrast=contrast, steps=8)
        torch.testing.assert_close(together[i : i + 1], alone)


def test_the_predicted_class_is_resolved_on_the_model_not_on_the_differences() -> None:
    model, x = small_cnn(), images(6)
    with torch.no_grad():
        logits = model(x)
    predicted, runner_up = logits.argmax(1), logits.topk(2).indices[:, 1]
    torch.testing.assert_close(
        saliency(model, x, contrast=runner_up), saliency(model, x, predicted, contrast=runner_up)
    )


def test_grad_cam_accepts_a_layer_of_the_callers_model() -> None:
    model = SimpleCNN()
    x = torch.rand(2, 1, 28, 28)
    contrasted = grad_cam(model, x, 3, contrast=5, layer=model.conv1, relu=False)
    torch.testing.assert_close(contrasted, grad_cam(MinusClass(model, 5), x, 3, layer=model.conv1, relu=False))


def test_the_wrapper_holds_every_pairwise_difference() -> None:
    model, x = small_cnn(), images()
    with torch.no_grad():
        logits, differences = model(x), LogitDifferences(model)(x)
    for t in range(3):
        for d in range(3):
            torch.testing.assert_close(differences[:, t * 3 + d], logits[:, t] - logits[:, d])


def test_nothing_of_the_callers_changes() -> None:
    model, x = small_cnn(), images()
    model.train()
    x.requires_grad_(True)
    before, modes_before, values = snapshot(model), modes(model), x.detach().clone()
    with global_rngs_untouched():
        saliency(model, x, 0, contrast=1)
        lime_map(model, x.detach(), 0, contrast=1, samples=20)
    assert_model_untouched(model, before, modes_before)
    assert torch.equal(x.detach(), values) and x.requires_grad and x.grad is None


@pytest.mark.parametrize(
    ("target", "contrast", "error", "words"),
    [
        (1, 1, ValueError, "contrast equals the target for input 0"),
        ([0, 1, 2, 0], [1, 2, 2, 1], ValueError, "input 2 (class 2)"),
        (0, 3, ValueError, "contrast 3 is out of range"),
        (0, -1, ValueError, "contrast -1 is out of range"),
        (0, [1, 2], ValueError, "contrast must give one class per input"),
        (0, 1.0, TypeError, "contrast must be None, an int"),
        (0, True, TypeError, "contrast must be None, an int"),
        (0, torch.tensor([1.0, 1.0, 1.0, 1.0]), TypeError, "contrast must hold integer class indices"),
    ],
)
def test_bad_contrasts_are_named(target: Any, contrast: Any, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        saliency(small_cnn(), images(), target, contrast=contrast)


def test_a_contrast_equal_to_the_predicted_class_says_so() -> None:
    model, x = small_cnn(), images()
    with torch.no_grad():
        predicted = model(x).argmax(1)
    with pytest.raises(ValueError, match="contrast equals the predicted class for input 0"):
        occlusion(model, x, contrast=predicted)


def test_lime_refuses_a_contrast_of_probabilities() -> None:
    with pytest.raises(ValueError, match="use score='logit'"):
        lime_map(small_cnn(), images(), 0, contrast=1, score="probability")
