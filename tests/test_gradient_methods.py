"""Tests of helpers.explain.gradient_methods: SmoothGrad, Gradient x Input and Integrated Gradients.

Correctness is checked against closed forms (a linear model's gradient is its weight
row; a quadratic's is 2x), a hand-written SmoothGrad that draws the same noise, the
completeness property of IG computed by hand, and Captum (a test-only oracle) for
Gradient x Input and Integrated Gradients with the same midpoint rule.
"""

from __future__ import annotations

import copy
import math
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from helpers import SimpleCNN
from helpers.explain.baselines import make_baseline
from helpers.explain.gradient_methods import gradient_x_input, integrated_gradients, smoothgrad
from helpers.explain.saliency import saliency

from bad_arguments import int_error, real_error
from side_effects import MODE_SETTINGS, dropout_net, dropout_net_in, modes

# ---------------------------------------------------------------------------
# Small models and data
# ---------------------------------------------------------------------------

N, F, K = 5, 6, 4  # batch, features, classes of the linear fixtures
FIXED = [2, 0, 3, 3, 1]  # one class per input, length N


def seeded(build):
    """``build()`` with seed 0, leaving the global RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return build()


def linear(features: int = F, classes: int = K, seed: int = 0, bias: bool = True, dtype=torch.float32) -> nn.Linear:
    """An ``nn.Linear`` with seeded weights, without touching the global RNG."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        layer = nn.Linear(features, classes, bias=bias).to(dtype)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(classes, features, generator=generator, dtype=dtype))
        if bias:
            layer.bias.copy_(torch.randn(classes, generator=generator, dtype=dtype))
    return layer


def batch(*shape: int, seed: int = 1, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


class Quadratic(nn.Module):
    """Logits ``[sum(x^2), -sum(x^2)]``: the gradient of class 0 is ``2x``, so it depends on x."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = x.flatten(1).square().sum(dim=1)
        return torch.stack([score, -score], dim=1)


def predicted(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x).argmax(1)


def captum(attribute, /, *args, **kwargs) -> Any:
    """Call a Captum attribution, silencing its warnings about inputs without requires_grad."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = attribute(*args, **kwargs)
    if isinstance(result, tuple):
        return tuple(r.detach() for r in result)
    return result.detach()


@pytest.fixture(scope="module")
def images(test_images) -> torch.Tensor:
    """The first 16 MNIST test images (16, 1, 28, 28)."""
    return test_images[:16]


# The three methods with small, fast settings, as ``f(model, x, target)``.
METHODS = {
    "smoothgrad": lambda model, x, target=None: smoothgrad(model, x, target, samples=3),
    "gradient_x_input": gradient_x_input,
    "integrated_gradients": lambda model, x, target=None: integrated_gradients(model, x, target, steps=4),
    "integrated_gradients_gauss_legendre": lambda model, x, target=None: integrated_gradients(
        model, x, target, steps=4, rule="gauss-legendre"
    ),
}


# ---------------------------------------------------------------------------
# Gradient x Input
# ---------------------------------------------------------------------------


def test_gradient_x_input_agrees_with_captum(trained_model, images) -> None:
    from captum.attr import InputXGradient

    x = images
    classes = predicted(trained_model, x)
    expected = captum(InputXGradient(trained_model).attribute, x.clone(), target=classes)
    result = gradient_x_input(trained_model, x)
    torch.testing.assert_close(result, expected, atol=1e-6, rtol=0)
    assert result.abs().max() > 1e-2  # not vacuous
    assert torch.equal(result, gradient_x_input(trained_model, x, classes))


def test_gradient_x_input_is_signed_saliency_times_x(trained_model, images) -> None:
    x = images[:8]
    assert torch.equal(gradient_x_input(trained_model, x, 3), saliency(trained_model, x, 3, reduce="signed") * x)


@pytest.mark.parametrize("target", [None, 1, FIXED], ids=["none", "int", "list"])
def test_gradient_x_input_of_a_linear_model_is_x_times_weight_row(target) -> None:
    model = linear()
    x = batch(N, F)
    classes = predicted(model, x) if target is None else torch.tensor(target).expand(N)
    assert torch.equal(gradient_x_input(model, x, target), x * model.weight.detach()[classes])


def test_gradient_x_input_of_a_bias_free_linear_model_sums_to_the_score() -> None:
    model = linear(bias=False, dtype=torch.float64)
    x = batch(N, F, dtype=torch.float64)
    classes = predicted(model, x)
    with torch.no_grad():
        scores = model(x)[torch.arange(N), classes]
    torch.testing.assert_close(gradient_x_input(model, x).sum(dim=1), scores, atol=1e-12, rtol=0)


# ---------------------------------------------------------------------------
# Integrated Gradients
# ---------------------------------------------------------------------------


def test_integrated_gradients_black_baseline_agrees_with_captum(trained_model, images) -> None:
    from captum.attr import IntegratedGradients

    x = images[:8]
    classes = predicted(trained_model, x)
    expected = captum(
        IntegratedGradients(trained_model).attribute, x.clone(), target=classes, n_steps=16, method="riemann_middle"
    )
    result = integrated_gradients(trained_model, x, steps=16)
    torch.testing.assert_close(result, expected, atol=1e-5, rtol=0)
    assert result.abs().max() > 1e-2


@pytest.mark.parametrize("kind", ["per-input", "broadcast"])
def test_integrated_gradients_non_zero_baseline_agrees_with_captum(trained_model, images, kind) -> None:
    from captum.attr import IntegratedGradients

    x = images[:6]
    generator = torch.Generator().manual_seed(3)
    if kind == "per-input":
        baseline = torch.rand(x.shape, generator=generator)
    else:
        baseline = torch.full((1, 1, 28, 28), 0.5) + 0.1 * torch.rand((1, 1, 28, 28), generator=generator)
    target = [7, 2, 1, 0, 4, 1]
    expected = captum(
        IntegratedGradients(trained_model).attribute,
        x.clone(),
        target=target,
        baselines=baseline.expand_as(x).clone(),
        n_steps=12,
        method="riemann_middle",
    )
    result = integrated_gradients(trained_model, x, target, baseline=baseline, steps=12)
    torch.testing.assert_close(result, expected, atol=1e-5, rtol=0)
    assert result.abs().max() > 1e-2


def test_broadcast_baseline_equals_the_repeated_baseline(trained_model, images) -> None:
    x = images[:4]
    one = torch.rand((1, 1, 28, 28), generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(
        integrated_gradients(trained_model, x, baseline=one, steps=6),
        integrated_gradients(trained_model, x, baseline=one.expand_as(x).clone(), steps=6),
        atol=1e-7,
        rtol=0,
    )


def test_default_baseline_is_black(trained_model, images) -> None:
    x = images[:4]
    torch.testing.assert_close(
        integrated_gradients(trained_model, x, steps=6),
        integrated_gradients(trained_model, x, baseline=torch.zeros_like(x), steps=6),
        atol=0,
        rtol=0,
    )


def test_black_baseline_gives_exactly_zero_where_x_is_zero(trained_model, images) -> None:
    x = images[:8]
    result = integrated_gradients(trained_model, x, steps=10)
    zero = x == 0
    assert zero.any() and (~zero).any()
    assert (result[zero] == 0).all()
    assert (result[~zero] != 0).any()


def test_target_none_explains_the_class_predicted_for_x_not_for_the_baseline(trained_model, images) -> None:
    x = images[:6]
    baseline = torch.full((1, 1, 28, 28), 0.3)
    classes = predicted(trained_model, x)
    assert not torch.equal(classes, predicted(trained_model, baseline.expand_as(x)))
    assert torch.equal(
        integrated_gradients(trained_model, x, baseline=baseline, steps=5),
        integrated_gradients(trained_model, x, classes, baseline=baseline, steps=5),
    )


def test_completeness_gap_falls_as_steps_grow(trained_model, images) -> None:
    medians = []
    for steps in (5, 20, 100):
        _, delta = integrated_gradients(trained_model, images, steps=steps, return_delta=True)
        assert delta.shape == (len(images),)
        assert (delta >= 0).all()
        medians.append(delta.median().item())
    assert medians[0] > medians[1] > medians[2]
    assert medians[2] < 0.01


@pytest.mark.parametrize(("baseline", "target"), [("black", None), ("grey", "list")])
def test_completeness_gap_equals_the_hand_computed_one(trained_model, images, baseline, target) -> None:
    x = images[:6]
    reference = torch.zeros_like(x) if baseline == "black" else torch.full_like(x, 0.4)
    classes = predicted(trained_model, x) if target is None else torch.tensor([3, 1, 4, 1, 5, 9])
    arguments: dict[str, Any] = {
        "target": None if target is None else classes.tolist(),
        "baseline": None if baseline == "black" else reference,
        "steps": 7,
    }
    attributions, delta = integrated_gradients(trained_model, x, return_delta=True, **arguments)
    with torch.no_grad():
        rows = torch.arange(len(x))
        change = trained_model(x)[rows, classes] - trained_model(reference)[rows, classes]
    expected = (attributions.flatten(1).sum(dim=1) - change).abs()
    assert delta.shape == (len(x),)
    assert not delta.requires_grad
    torch.testing.assert_close(delta, expected, atol=1e-5, rtol=0)
    assert torch.equal(attributions, integrated_gradients(trained_model, x, **arguments))


@pytest.mark.parametrize("steps", [1, 3, 50])
@pytest.mark.parametrize("bias", [True, False])
def test_integrated_gradients_is_exact_on_a_linear_model(steps, bias) -> None:
    model = linear(bias=bias, dtype=torch.float64)
    x = batch(N, F, dtype=torch.float64)
    baseline = batch(N, F, seed=2, dtype=torch.float64)
    attributions, delta = integrated_gradients(model, x, FIXED, baseline=baseline, steps=steps, return_delta=True)
    torch.testing.assert_close(attributions, (x - baseline) * model.weight.detach()[FIXED], atol=1e-12, rtol=0)
    assert delta.max() < 1e-10


@settings(max_examples=25, deadline=None)
@given(
    features=st.integers(1, 8),
    classes=st.integers(1, 5),
    n=st.integers(1, 5),
    steps=st.integers(1, 12),
    seed=st.integers(0, 2**31 - 1),
    broadcast=st.booleans(),
)
def test_property_linear_models(features, classes, n, steps, seed, broadcast) -> None:
    model = linear(features, classes, seed=seed, dtype=torch.float64)
    x = batch(n, features, seed=seed + 1, dtype=torch.float64)
    baseline = batch(1 if broadcast else n, features, seed=seed + 2, dtype=torch.float64)
    chosen = predicted(model, x)
    rows = model.weight.detach()[chosen]
    attributions, delta = integrated_gradients(model, x, baseline=baseline, steps=steps, return_delta=True)
    torch.testing.assert_close(attributions, (x - baseline) * rows, atol=1e-10, rtol=0)
    assert delta.shape == (n,)
    assert delta.max() < 1e-9
    assert torch.equal(gradient_x_input(model, x), x * rows)


# ---------------------------------------------------------------------------
# Integrated Gradients: the Gauss-Legendre rule
# ---------------------------------------------------------------------------


class Cubic(nn.Module):
    """Logits ``[sum(x^3), sum(x)]``: class 0's gradient 3x^2 is a quadratic along any straight path."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        return torch.stack([flat.pow(3).sum(dim=1), flat.sum(dim=1)], dim=1)


def smooth_net(dtype: torch.dtype = torch.float64) -> nn.Module:
    """A seeded tanh network: smooth, so quadrature errors fall fast with the number of steps."""
    return seeded(lambda: nn.Sequential(nn.Linear(F, 16), nn.Tanh(), nn.Linear(16, K))).to(dtype)


@pytest.mark.parametrize("baseline", [None, "blurred", "uniform"])
def test_gauss_legendre_agrees_with_captum_on_the_trained_cnn(trained_model, images, baseline) -> None:
    from captum.attr import IntegratedGradients

    x = images[:8]
    classes = predicted(trained_model, x)
    reference = make_baseline(x, baseline or "black")
    expected = captum(
        IntegratedGradients(trained_model).attribute,
        x.clone(),
        baselines=reference,
        target=classes,
        n_steps=16,
        method="gausslegendre",
    )
    result = integrated_gradients(trained_model, x, baseline=baseline, steps=16, rule="gauss-legendre")
    torch.testing.assert_close(result, expected, atol=1e-5, rtol=0)
    assert result.abs().max() > 1e-2


@pytest.mark.parametrize("steps", [1, 7, 20])
def test_gauss_legendre_agrees_with_captum_on_a_seeded_simple_cnn(images, steps) -> None:
    from captum.attr import IntegratedGradients

    model = seeded(SimpleCNN).eval()
    x = images[:5]
    baseline = torch.rand(x.shape, generator=torch.Generator().manual_seed(8))
    target = [0, 3, 9, 1, 5]
    expected = captum(
        IntegratedGradients(model).attribute,
        x.clone(),
        baselines=baseline,
        target=target,
        n_steps=steps,
        method="gausslegendre",
    )
    result = integrated_gradients(model, x, target, baseline=baseline, steps=steps, rule="gauss-legendre")
    torch.testing.assert_close(result, expected, atol=1e-5, rtol=0)
    assert result.abs().max() > 1e-3


@pytest.mark.parametrize("rule", ["midpoint", "gauss-legendre"])
def test_both_rules_agree_with_captum_on_a_linear_model(rule) -> None:
    from captum.attr import IntegratedGradients

    model, x, baseline = linear(), batch(N, F), batch(N, F, seed=2)
    expected = captum(
        IntegratedGradients(model).attribute,
        x.clone(),
        baselines=baseline,
        target=FIXED,
        n_steps=9,
        method={"midpoint": "riemann_middle", "gauss-legendre": "gausslegendre"}[rule],
    )
    result = integrated_gradients(model, x, FIXED, baseline=baseline, steps=9, rule=rule)
    torch.testing.assert_close(result, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(result, (x - baseline) * model.weight.detach()[FIXED], atol=1e-5, rtol=0)


def test_midpoint_is_the_default_and_agrees_with_captums_riemann_middle(trained_model, images) -> None:
    from captum.attr import IntegratedGradients

    x = images[:6]
    default = integrated_gradients(trained_model, x, steps=11)
    assert torch.equal(integrated_gradients(trained_model, x, steps=11, rule="midpoint"), default)
    expected = captum(
        IntegratedGradients(trained_model).attribute,
        x.clone(),
        target=predicted(trained_model, x),
        n_steps=11,
        method="riemann_middle",
    )
    torch.testing.assert_close(default, expected, atol=1e-5, rtol=0)
    assert not torch.allclose(integrated_gradients(trained_model, x, steps=11, rule="gauss-legendre"), default)


@pytest.mark.parametrize("steps", [1, 2, 5])
def test_gauss_legendre_is_exact_on_a_linear_model(steps) -> None:
    model = linear(dtype=torch.float64)
    x, baseline = batch(N, F, dtype=torch.float64), batch(1, F, seed=2, dtype=torch.float64)
    attributions, delta = integrated_gradients(
        model, x, FIXED, baseline=baseline, steps=steps, rule="gauss-legendre", return_delta=True
    )
    torch.testing.assert_close(attributions, (x - baseline) * model.weight.detach()[FIXED], atol=1e-12, rtol=0)
    assert delta.max() < 1e-10


def test_two_gauss_legendre_points_integrate_a_cubic_exactly() -> None:
    # S = sum(x^3): IG's integral of 3 (x' + a (x - x'))^2 (x - x') over a is x^3 - x'^3, per feature
    x, baseline = batch(N, F, dtype=torch.float64), batch(N, F, seed=2, dtype=torch.float64)
    gauss = integrated_gradients(Cubic(), x, 0, baseline=baseline, steps=2, rule="gauss-legendre")
    torch.testing.assert_close(gauss, x**3 - baseline**3, atol=1e-12, rtol=0)
    midpoint = integrated_gradients(Cubic(), x, 0, baseline=baseline, steps=2)
    assert (midpoint - (x**3 - baseline**3)).abs().max() > 1e-2  # the midpoint rule is exact for degree 1 only


def test_gauss_legendre_gap_is_far_smaller_on_a_smooth_model() -> None:
    model, x = smooth_net(), 3 * batch(N, F, dtype=torch.float64)
    _, midpoint = integrated_gradients(model, x, steps=16, return_delta=True)
    _, gauss = integrated_gradients(model, x, steps=16, rule="gauss-legendre", return_delta=True)
    assert (gauss < midpoint / 100).all()
    assert gauss.max() < 1e-8 < midpoint.min()


def test_gauss_legendre_gap_at_16_steps_is_smaller_on_the_trained_cnn(trained_model, images) -> None:
    # The CNN is piecewise linear (ReLU), so its gradient jumps along the path and neither rule
    # converges fast; Gauss-Legendre wins on the median here, not on every digit.
    _, midpoint = integrated_gradients(trained_model, images, steps=16, return_delta=True)
    _, gauss = integrated_gradients(trained_model, images, steps=16, rule="gauss-legendre", return_delta=True)
    assert gauss.median() < 0.9 * midpoint.median()  # 0.018 against 0.022 on these 16 digits
    assert gauss.median() < 0.05


@pytest.mark.parametrize("batch_size", [1, 6, 4096])
def test_gauss_legendre_does_not_depend_on_batch_size(trained_model, images, batch_size) -> None:
    # the weights are indexed by the copies' range, so chunking must not shuffle them
    x = images[:3]
    expected, expected_delta = integrated_gradients(trained_model, x, steps=7, rule="gauss-legendre", return_delta=True)
    result, delta = integrated_gradients(
        trained_model, x, steps=7, rule="gauss-legendre", return_delta=True, batch_size=batch_size
    )
    torch.testing.assert_close(result, expected, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(delta, expected_delta, atol=1e-5, rtol=0)


def test_gauss_legendre_chunks_like_the_midpoint_rule() -> None:
    model, x = linear(), batch(4, F)
    for rule in ("midpoint", "gauss-legendre"):
        sizes = pass_sizes(
            model,
            lambda rule=rule: integrated_gradients(model, x, steps=10, batch_size=16, rule=rule, return_delta=True),
        )
        assert sizes == [4, 16, 16, 8, 4]


def test_gauss_legendre_weights_a_constant_gradient_to_one() -> None:
    # A linear model's gradient is the same at every point: the weights must sum to exactly 1 (in float64)
    model = linear(dtype=torch.float64)
    x = batch(N, F, dtype=torch.float64)
    for steps in (3, 64, 200):
        result = integrated_gradients(model, x, FIXED, steps=steps, rule="gauss-legendre")
        torch.testing.assert_close(result, x * model.weight.detach()[FIXED], atol=1e-12, rtol=0)


@pytest.mark.parametrize("rule", ["Gauss-Legendre", "gausslegendre", "riemann_middle", "trapezoid", ""])
def test_unknown_rule_names_rule_and_its_options(rule) -> None:
    with pytest.raises(ValueError, match=r"rule must be one of 'midpoint', 'gauss-legendre'"):
        integrated_gradients(linear(), batch(N, F), steps=2, rule=rule)


@pytest.mark.parametrize("rule", [None, 1, True])
def test_rule_not_a_string_is_a_type_error(rule) -> None:
    with pytest.raises(TypeError, match=r"rule must be one of 'midpoint', 'gauss-legendre'"):
        integrated_gradients(linear(), batch(N, F), steps=2, rule=rule)


# ---------------------------------------------------------------------------
# Integrated Gradients: baselines by name
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["black", "blurred", "uniform"])
@pytest.mark.parametrize("rule", ["midpoint", "gauss-legendre"])
def test_a_baseline_name_equals_passing_make_baselines_tensor(trained_model, images, name, rule) -> None:
    x = images[:4]
    by_name = integrated_gradients(trained_model, x, baseline=name, steps=6, rule=rule, return_delta=True)
    by_tensor = integrated_gradients(
        trained_model,
        x,
        baseline=make_baseline(x, name),
        steps=6,
        rule=rule,
        return_delta=True,
    )
    assert torch.equal(by_name[0], by_tensor[0])
    assert torch.equal(by_name[1], by_tensor[1])


def test_black_by_name_is_the_default(trained_model, images) -> None:
    x = images[:4]
    assert torch.equal(
        integrated_gradients(trained_model, x, baseline="black", steps=5),
        integrated_gradients(trained_model, x, steps=5),
    )


def test_named_baselines_change_the_attributions(trained_model, images) -> None:
    x = images[:4]
    maps = {
        name: integrated_gradients(trained_model, x, baseline=name, steps=6) for name in ("black", "blurred", "uniform")
    }
    assert not torch.allclose(maps["black"], maps["blurred"], atol=1e-4)
    assert not torch.allclose(maps["black"], maps["uniform"], atol=1e-4)
    assert (maps["uniform"][x == 0] != 0).any()  # unlike black, noise gives black pixels attribution


def test_uniform_baseline_by_name_on_a_table() -> None:
    model, x = linear(), batch(N, F)
    result = integrated_gradients(model, x, FIXED, baseline="uniform", steps=3)
    expected = (x - make_baseline(x, "uniform")) * model.weight.detach()[FIXED]
    torch.testing.assert_close(result, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["zeros", "Black", "noise", "", "gaussian"])
def test_unknown_baseline_name_lists_the_names(name) -> None:
    with pytest.raises(
        ValueError, match=r"baseline must be None, a float tensor or one of the names 'black', 'blurred', 'uniform'"
    ):
        integrated_gradients(linear(), batch(N, F), baseline=name, steps=2)


def test_mean_baseline_by_name_says_to_pass_make_baselines_tensor() -> None:
    with pytest.raises(ValueError, match=r"baseline='mean' needs data.*make_baseline\(x, 'mean', data="):
        integrated_gradients(linear(), batch(N, F), baseline="mean", steps=2)


def test_blurred_baseline_on_a_table_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"baseline='blurred' needs images \(N, C, H, W\)"):
        integrated_gradients(linear(), batch(N, F), baseline="blurred", steps=2)


# ---------------------------------------------------------------------------
# SmoothGrad
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("reduce", ["abs", "square", "signed"])
def test_smoothgrad_without_noise_equals_saliency(trained_model, images, reduce) -> None:
    x = images[:8]
    result = smoothgrad(trained_model, x, samples=3, noise=0.0, reduce=reduce)
    torch.testing.assert_close(result, saliency(trained_model, x, reduce=reduce), atol=1e-6, rtol=0)


def reference_smoothgrad(model, x, target, *, samples, noise, reduce, seed) -> torch.Tensor:
    """SmoothGrad written out: the map averaged over ``x + noise * (max - min) * randn`` per input."""
    classes = predicted(model, x) if target is None else target
    span = (x.flatten(1).max(dim=1).values - x.flatten(1).min(dim=1).values).reshape(-1, *[1] * (x.dim() - 1))
    draws = torch.randn((samples, *x.shape), generator=torch.Generator().manual_seed(seed))
    total = torch.zeros_like(x)
    for k in range(samples):
        total += saliency(model, x + noise * span * draws[k], classes, reduce=reduce)
    return total / samples


@pytest.mark.parametrize("reduce", ["abs", "square", "signed"])
def test_smoothgrad_equals_a_hand_written_reference(trained_model, images, reduce) -> None:
    x = images[:3] * 0.8 + 0.1  # range 0.8, offset from 0: sigma must be noise * (max - min)
    result = smoothgrad(trained_model, x, samples=4, noise=0.2, reduce=reduce, seed=11)
    expected = reference_smoothgrad(trained_model, x, None, samples=4, noise=0.2, reduce=reduce, seed=11)
    torch.testing.assert_close(result, expected, atol=1e-6, rtol=1e-5)
    assert not torch.allclose(result, saliency(trained_model, x, reduce=reduce), atol=1e-4)  # the noise matters


def test_smoothgrad_of_a_quadratic_is_2x_plus_the_averaged_noise() -> None:
    # dS/dx = 2(x + e) with e = noise * (max - min) * randn, so signed SmoothGrad = 2x + 2 * mean(e).
    # The two inputs have ranges 1 and 10 and are offset from zero: sigma is per input and relative.
    x = torch.stack([torch.linspace(5.0, 6.0, 12), torch.linspace(-30.0, -20.0, 12)]).double()
    samples, noise, seed = 400, 0.1, 4
    result = smoothgrad(Quadratic(), x, 0, samples=samples, noise=noise, reduce="signed", seed=seed)
    generator = torch.Generator().manual_seed(seed)  # one draw of x's shape per noisy copy, in order
    draws = torch.stack([torch.randn(x.shape, generator=generator, dtype=x.dtype) for _ in range(samples)])
    span = torch.tensor([[1.0], [10.0]], dtype=x.dtype)
    torch.testing.assert_close(result, 2 * x + 2 * noise * span * draws.mean(dim=0), atol=1e-9, rtol=1e-9)
    # In expectation it is 2x; the error's spread is 2 * sigma / sqrt(samples), per input.
    error = (result - 2 * x) / (2 * noise * span / math.sqrt(samples))
    assert error.abs().max() < 4
    assert 0.5 < error.std().item() < 1.5


def test_smoothgrad_noise_scales_with_the_input_range() -> None:
    x = batch(3, 1, 4, 4, seed=6).double()
    sg = smoothgrad(Quadratic(), x, 0, samples=20, noise=0.2, reduce="signed", seed=2)
    sg10 = smoothgrad(Quadratic(), 10 * x, 0, samples=20, noise=0.2, reduce="signed", seed=2)
    # same draws, ten times the sigma: the noise part of the map is ten times larger
    torch.testing.assert_close(sg10 - 20 * x, 10 * (sg - 2 * x), atol=1e-9, rtol=1e-9)
    assert (sg - 2 * x).abs().max() > 1e-3


def test_smoothgrad_explains_the_class_of_the_clean_input() -> None:
    # logits [x0, -x0]: the clean input (x0 = 0.05) is class 0, but the noise flips x0's sign
    # in many copies; the map must stay class 0's gradient row, [1, 0].
    model = linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
    x = torch.tensor([[0.05, 1.0]])
    noisy = x + 0.5 * 0.95 * torch.randn((64, 1, 2), generator=torch.Generator().manual_seed(0))
    assert (model(noisy.reshape(-1, 2)).argmax(1) == 1).any()  # noise would flip the prediction
    result = smoothgrad(model, x, samples=64, noise=0.5, reduce="signed")
    assert torch.equal(result, torch.tensor([[1.0, 0.0]]))
    assert torch.equal(result, smoothgrad(model, x, 0, samples=64, noise=0.5, reduce="signed"))


@pytest.mark.parametrize("value", [0.0, 0.5], ids=["black", "grey"])
def test_smoothgrad_on_a_constant_input_is_a_value_error_naming_value_range(value) -> None:
    """A constant input has no range, so noise as a fraction of it was 0: SmoothGrad silently added no noise."""
    x = torch.full((2, 1, 4, 4), value)
    with pytest.raises(ValueError, match=r"x\[0\] is constant.*pass value_range=\(low, high\), e\.g\. \(0\.0, 1\.0\)"):
        smoothgrad(Quadratic(), x, 0, samples=3)
    x = torch.stack([batch(1, 4, 4), torch.full((1, 4, 4), value)])  # only the second input is constant
    with pytest.raises(ValueError, match=r"x\[1\] is constant"):
        smoothgrad(Quadratic(), x, 0, samples=3)


def test_smoothgrad_with_a_value_range_adds_noise_of_that_range_even_to_a_constant_input() -> None:
    # Quadratic's gradient is 2x, so signed SmoothGrad is 2x + 2 * mean(noise): the noise shows exactly
    x = torch.zeros(2, 1, 4, 4, dtype=torch.float64)
    samples, noise, seed = 16, 0.2, 3
    result = smoothgrad(
        Quadratic(), x, 0, samples=samples, noise=noise, value_range=(0.0, 1.0), reduce="signed", seed=seed
    )
    generator = torch.Generator().manual_seed(seed)
    draws = torch.stack([torch.randn(x.shape, generator=generator, dtype=x.dtype) for _ in range(samples)])
    torch.testing.assert_close(result, 2 * x + 2 * noise * 1.0 * draws.mean(dim=0), atol=1e-12, rtol=0)
    assert not torch.equal(result, saliency(Quadratic(), x, 0, reduce="signed"))  # noise was added
    wide = smoothgrad(Quadratic(), x, 0, samples=samples, noise=noise, value_range=(-1, 1), reduce="signed", seed=seed)
    torch.testing.assert_close(wide, 2 * result, atol=1e-12, rtol=0)  # twice the range, twice the noise


def test_smoothgrad_value_range_replaces_each_inputs_own_range(trained_model, images) -> None:
    x = images[:2]
    own = smoothgrad(trained_model, x, samples=4, seed=1)
    spans = x.flatten(1).max(dim=1).values - x.flatten(1).min(dim=1).values
    assert torch.equal(spans, torch.ones(2))  # MNIST digits span [0, 1]: the same noise either way
    torch.testing.assert_close(smoothgrad(trained_model, x, samples=4, seed=1, value_range=(0.0, 1.0)), own)
    assert not torch.allclose(smoothgrad(trained_model, x, samples=4, seed=1, value_range=(0.0, 0.5)), own)


def test_smoothgrad_without_noise_needs_no_range() -> None:
    x = torch.full((2, 6), 0.5)
    torch.testing.assert_close(smoothgrad(linear(), x, samples=2, noise=0.0), saliency(linear(), x))


@pytest.mark.parametrize(
    ("value_range", "error", "message"),
    [
        ((1.0, 0.0), ValueError, r"low < high"),
        ((0.5, 0.5), ValueError, r"low < high"),
        ((0.0, float("nan")), ValueError, r"value_range must be finite"),
        ((0.0, float("inf")), ValueError, r"value_range must be finite"),
        ((0.0,), TypeError, r"value_range must be a pair \(low, high\)"),
        ((0.0, 1.0, 2.0), TypeError, r"value_range must be a pair"),
        (1.0, TypeError, r"value_range must be a pair"),
        ("01", TypeError, r"value_range must be a pair"),
        (("0", 1.0), TypeError, r"value_range must be a number"),
        ((False, True), TypeError, r"value_range must be a number"),
    ],
)
def test_bad_value_range_is_refused(value_range, error, message) -> None:
    with pytest.raises(error, match=message):
        smoothgrad(linear(), batch(N, F), samples=2, value_range=value_range)


@pytest.mark.parametrize("target", [None, 5, "list"])
def test_smoothgrad_target_forms(trained_model, images, target) -> None:
    x = images[:4]
    explicit = {None: predicted(trained_model, x), 5: torch.full((4,), 5), "list": torch.tensor([1, 2, 3, 4])}[target]
    given_target = [1, 2, 3, 4] if target == "list" else target
    assert torch.equal(
        smoothgrad(trained_model, x, given_target, samples=4, reduce="signed"),
        smoothgrad(trained_model, x, explicit, samples=4, reduce="signed"),
    )


def test_smoothgrad_is_reproducible_and_spares_the_global_rng(trained_model, images) -> None:
    x = images[:4]
    state = torch.get_rng_state()
    first = smoothgrad(trained_model, x, samples=5, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(first, smoothgrad(trained_model, x, samples=5, seed=3))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(12345)  # the global seed has no influence
        assert torch.equal(first, smoothgrad(trained_model, x, samples=5, seed=3))
    assert not torch.allclose(first, smoothgrad(trained_model, x, samples=5, seed=4), atol=1e-4)


def test_smoothgrad_default_is_the_abs_average(trained_model, images) -> None:
    x = images[:3]
    result = smoothgrad(trained_model, x, samples=4)
    assert torch.equal(result, smoothgrad(trained_model, x, samples=4, reduce="abs", noise=0.15, seed=0))
    assert (result >= 0).all()
    signed = smoothgrad(trained_model, x, samples=4, reduce="signed")
    assert (result >= signed.abs() - 1e-6).all()  # mean |g| >= |mean g|
    assert (result > signed.abs() + 1e-6).any()  # reduce is applied before averaging, not after


# ---------------------------------------------------------------------------
# Chunking: the same result for any batch_size, in few large passes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 6, 4096])  # 1 and 2 copies of the batch a pass, or all 7 at once
def test_smoothgrad_does_not_depend_on_batch_size(trained_model, images, batch_size) -> None:
    x = images[:3]
    expected = smoothgrad(trained_model, x, samples=7, seed=1, batch_size=4096, reduce="signed")
    result = smoothgrad(trained_model, x, samples=7, seed=1, batch_size=batch_size, reduce="signed")
    torch.testing.assert_close(result, expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("batch_size", [1, 6, 4096])
def test_integrated_gradients_does_not_depend_on_batch_size(trained_model, images, batch_size) -> None:
    x = images[:3]
    expected, expected_delta = integrated_gradients(trained_model, x, steps=7, return_delta=True)
    result, delta = integrated_gradients(trained_model, x, steps=7, return_delta=True, batch_size=batch_size)
    torch.testing.assert_close(result, expected, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(delta, expected_delta, atol=1e-5, rtol=0)


def test_smoothgrad_on_tabular_inputs_does_not_depend_on_batch_size() -> None:
    x = batch(3, 5, seed=8)  # 15 numbers per copy of the batch
    expected = smoothgrad(Quadratic(), x, 0, samples=10, reduce="signed")
    assert torch.allclose(smoothgrad(Quadratic(), x, 0, samples=10, reduce="signed", batch_size=1), expected)


def pass_sizes(model: nn.Module, run) -> list[int]:
    sizes: list[int] = []
    handle = model.register_forward_pre_hook(lambda _, args: sizes.append(args[0].shape[0]))
    try:
        run()
    finally:
        handle.remove()
    return sizes


@pytest.mark.parametrize(
    ("batch_size", "expected"),
    [(4096, [4, 40]), (40, [4, 40]), (12, [4, 12, 12, 12, 4]), (8, [4, 8, 8, 8, 8, 8]), (4, [4] * 11)],
)
def test_smoothgrad_forward_passes(batch_size, expected) -> None:
    model, x = linear(), batch(4, F)
    sizes = pass_sizes(model, lambda: smoothgrad(model, x, samples=10, batch_size=batch_size))
    assert sizes == expected  # one clean pass for the target, then at most batch_size inputs a pass


@pytest.mark.parametrize(
    ("batch_size", "delta", "expected"),
    [(4096, False, [4, 40]), (4096, True, [4, 40, 4]), (20, True, [4, 20, 20, 4]), (16, False, [4, 16, 16, 8])],
)
def test_integrated_gradients_forward_passes(batch_size, delta, expected) -> None:
    model, x = linear(), batch(4, F)
    sizes = pass_sizes(
        model, lambda: integrated_gradients(model, x, steps=10, batch_size=batch_size, return_delta=delta)
    )
    assert sizes == expected


def test_gradient_x_input_is_one_forward_and_one_backward_pass(trained_model, images) -> None:
    backwards = []
    handle = trained_model.fc1.register_full_backward_hook(lambda *_: backwards.append(1))
    try:
        sizes = pass_sizes(trained_model, lambda: gradient_x_input(trained_model, images[:8]))
    finally:
        handle.remove()
    assert sizes == [8]
    assert len(backwards) == 1


# ---------------------------------------------------------------------------
# Results and side effects, for all three methods
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_result_has_x_shape_dtype_and_is_detached(method, dtype, requires_grad) -> None:
    model = nn.Sequential(nn.Flatten(), linear(16, K, dtype=dtype))
    x = batch(3, 1, 4, 4, dtype=dtype).requires_grad_(requires_grad)
    result = METHODS[method](model, x)
    assert result.shape == x.shape
    assert result.dtype == dtype
    assert not result.requires_grad
    assert result.grad_fn is None


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("setting", MODE_SETTINGS)
def test_each_submodule_mode_is_restored_and_forward_runs_in_eval(method, setting) -> None:
    model = dropout_net_in(setting, F, K)
    before = modes(model)
    seen = []
    handle = model.register_forward_pre_hook(lambda m, _: seen.append(modes(m)))
    try:
        result = METHODS[method](model, batch(N, F))
    finally:
        handle.remove()
    assert seen and all(s == [False] * len(before) for s in seen)
    assert modes(model) == before
    assert torch.equal(result, METHODS[method](model.eval(), batch(N, F)))  # dropout was off


def test_integrated_gradients_delta_runs_the_baseline_in_eval_mode() -> None:
    model = dropout_net(F, K).train()
    model.get_submodule("3").eval()
    before = modes(model)
    x, baseline = batch(N, F), batch(1, F, seed=4)
    expected = integrated_gradients(dropout_net(F, K).eval(), x, baseline=baseline, steps=3, return_delta=True)
    seen = []
    handle = model.register_forward_pre_hook(lambda m, _: seen.append(modes(m)))
    try:
        result = integrated_gradients(model, x, baseline=baseline, steps=3, return_delta=True)
    finally:
        handle.remove()
    assert len(seen) == 3  # clean input, the path, the baseline
    assert all(s == [False] * len(before) for s in seen)
    assert modes(model) == before
    assert torch.equal(result[0], expected[0])
    assert torch.equal(result[1], expected[1])


@pytest.mark.parametrize("method", METHODS)
def test_mode_is_restored_when_an_error_is_raised(method) -> None:
    model = dropout_net(F, K).train()
    model.get_submodule("1").eval()
    before = modes(model)
    with pytest.raises(ValueError, match="out of range"):
        METHODS[method](model, batch(N, F), K)
    assert modes(model) == before


@pytest.mark.parametrize("method", METHODS)
def test_parameters_and_their_grads_are_untouched(method) -> None:
    model = linear()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    METHODS[method](model, batch(N, F))
    assert all(p.grad is None for p in model.parameters())
    model(batch(N, F)).sum().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    copies = [g.clone() for g in grads]
    METHODS[method](model, batch(N, F, seed=9))
    assert all(p.grad is g for p, g in zip(model.parameters(), grads, strict=True))
    assert all(torch.equal(g, c) for g, c in zip(grads, copies, strict=True))
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("method", METHODS)
def test_batchnorm_running_statistics_are_not_updated(method) -> None:
    model = seeded(lambda: nn.Sequential(nn.Linear(F, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, K))).train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    METHODS[method](model, batch(N, F))
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("requires_grad", [False, True])
def test_callers_x_is_untouched(method, requires_grad) -> None:
    x = batch(N, F).requires_grad_(requires_grad)
    values = x.detach().clone()
    METHODS[method](linear(), x)
    assert x.requires_grad is requires_grad
    assert torch.equal(x.detach(), values)
    assert x.grad is None


@pytest.mark.parametrize("method", METHODS)
def test_callers_existing_x_grad_is_untouched(method) -> None:
    x = batch(N, F).requires_grad_(True)
    (x * 3).sum().backward()
    assert x.grad is not None
    grad = x.grad.clone()
    METHODS[method](linear(), x)
    assert x.grad is not None and torch.equal(x.grad, grad)


def test_callers_baseline_is_untouched() -> None:
    x = batch(N, F)
    baseline = batch(1, F, seed=3).requires_grad_(True)
    values = baseline.detach().clone()
    integrated_gradients(linear(), x, baseline=baseline, steps=3, return_delta=True)
    assert baseline.requires_grad
    assert baseline.grad is None
    assert torch.equal(baseline.detach(), values)


@pytest.mark.parametrize("method", METHODS)
def test_global_rng_is_untouched(method) -> None:
    state = torch.get_rng_state()
    METHODS[method](dropout_net(F, K).train(), batch(N, F))
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("method", METHODS)
def test_works_inside_no_grad(method) -> None:
    model = linear()
    x = batch(N, F)
    expected = METHODS[method](model, x, FIXED)
    with torch.no_grad():
        inside = METHODS[method](model, x, FIXED)
        assert not torch.is_grad_enabled()
    assert torch.equal(inside, expected)
    assert inside.abs().sum() > 0


@pytest.mark.parametrize("method", METHODS)
def test_raises_inside_inference_mode(method) -> None:
    model, x = linear(), batch(N, F)
    with torch.inference_mode(), pytest.raises(RuntimeError, match="inference_mode"):
        METHODS[method](model, x)


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_numpy_x_is_a_type_error_naming_from_numpy(method) -> None:
    with pytest.raises(TypeError, match=r"torch\.from_numpy"):
        METHODS[method](linear(), batch(N, F).numpy())


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64])
def test_integer_x_is_a_type_error_naming_float(method, dtype) -> None:
    with pytest.raises(TypeError, match=r"x\.float\(\)"):
        METHODS[method](linear(), torch.ones(N, F, dtype=dtype))


@pytest.mark.parametrize("method", METHODS)
def test_one_dimensional_x_is_a_value_error_naming_unsqueeze(method) -> None:
    with pytest.raises(ValueError, match=r"x\.unsqueeze\(0\)"):
        METHODS[method](linear(), batch(F))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("model", [lambda x: x, None], ids=["function", "none"])
def test_non_module_model_is_a_type_error(method, model) -> None:
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        METHODS[method](model, batch(N, F))


@pytest.mark.parametrize("method", METHODS)
def test_empty_batch_is_a_value_error(method) -> None:
    with pytest.raises(ValueError, match="empty batch"):
        METHODS[method](linear(), torch.zeros(0, F))


@pytest.mark.parametrize("samples", [0, -1, 2.0, True, "3"])
def test_bad_samples(samples) -> None:
    with pytest.raises(int_error(samples), match=r"samples must be a positive int"):
        smoothgrad(linear(), batch(N, F), samples=samples)


@pytest.mark.parametrize("steps", [0, -5, 10.0, True, None])
def test_bad_steps(steps) -> None:
    with pytest.raises(int_error(steps), match=r"steps must be a positive int"):
        integrated_gradients(linear(), batch(N, F), steps=steps)


@pytest.mark.parametrize("batch_size", [0, -1, 64.0, False])
def test_bad_batch_size(batch_size) -> None:
    with pytest.raises(int_error(batch_size), match=r"batch_size must be a positive int"):
        smoothgrad(linear(), batch(N, F), samples=2, batch_size=batch_size)
    with pytest.raises(int_error(batch_size), match=r"batch_size must be a positive int"):
        integrated_gradients(linear(), batch(N, F), steps=2, batch_size=batch_size)


@pytest.mark.parametrize("noise", [-0.1, "a", float("nan"), float("inf"), True, None])
def test_bad_noise_is_refused(noise) -> None:
    with pytest.raises(real_error(noise), match=r"noise must be"):
        smoothgrad(linear(), batch(N, F), samples=2, noise=noise)


@pytest.mark.parametrize("reduce", ["mean", "ABS", "", None])
def test_unknown_reduce_lists_the_options(reduce) -> None:
    with pytest.raises(ValueError, match=r"reduce must be one of 'abs', 'square', 'signed'"):
        smoothgrad(linear(), batch(N, F), samples=2, reduce=reduce)


@pytest.mark.parametrize(
    "shape", [(N + 1, F), (2, F), (N, F + 1), (F + 1,), (2, N, F)], ids=["N+1", "2", "F+1", "1-D", "extra-dim"]
)
def test_baseline_of_wrong_shape_names_broadcasting(shape) -> None:
    with pytest.raises(ValueError, match=r"does not broadcast to x's shape \(5, 6\).*\(1, \.\.\.\)"):
        integrated_gradients(linear(), batch(N, F), baseline=torch.zeros(shape), steps=2)


@pytest.mark.parametrize(
    "baseline",
    [np.zeros((N, F)), 0.0, [[0.0] * F] * N, torch.zeros(N, F, dtype=torch.int64), torch.zeros(N, F, dtype=torch.bool)],
    ids=["numpy", "float", "list", "int64-tensor", "bool-tensor"],
)
def test_baseline_not_a_float_tensor_is_a_type_error(baseline) -> None:
    with pytest.raises(TypeError, match=r"baseline must be None \(black\) or a float tensor"):
        integrated_gradients(linear(), batch(N, F), baseline=baseline, steps=2)


def test_target_out_of_range_on_the_cnn(trained_model, images) -> None:
    for method in METHODS.values():
        with pytest.raises(ValueError, match=r"0\.\.9"):
            method(trained_model, images[:2], 10)


@pytest.mark.parametrize("method", METHODS)
def test_huge_int_target_is_out_of_range(method) -> None:
    with pytest.raises(ValueError, match=r"^target 10+ is out of range: a class index lies in 0\.\.classes - 1"):
        METHODS[method](linear(), batch(N, F), 10**20)


def test_numpy_scalars_are_accepted_for_counts_seeds_and_noise() -> None:
    model = seeded(lambda: nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)))
    x = batch(2, 4)
    expected = smoothgrad(model, x, samples=3, noise=0.1, seed=2, batch_size=4)
    numpy: dict[str, Any] = {
        "samples": np.int64(3),
        "noise": np.float32(0.1),
        "seed": np.int64(2),
        "batch_size": np.int32(4),
    }
    result = smoothgrad(model, x, **numpy)
    torch.testing.assert_close(result, expected, atol=1e-6, rtol=1e-6)
    expected = integrated_gradients(model, x, steps=3, batch_size=4)
    numpy = {"steps": np.int64(3), "batch_size": np.int64(4)}
    torch.testing.assert_close(integrated_gradients(model, x, **numpy), expected)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0", None])
def test_bad_seed_is_refused(seed) -> None:
    with pytest.raises(int_error(seed), match="seed must be a non-negative int"):
        smoothgrad(linear(), batch(N, F), samples=2, seed=seed)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_results_stay_on_cuda() -> None:
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    x = torch.randn(4, 6)
    ig_cpu = integrated_gradients(model, x, steps=8)
    gpu_model, gpu_x = copy.deepcopy(model).cuda(), x.cuda()
    assert smoothgrad(gpu_model, gpu_x, samples=5, seed=0).device.type == "cuda"  # noise drawn on the GPU
    ig_gpu = integrated_gradients(gpu_model, gpu_x, steps=8)
    assert ig_gpu.device.type == "cuda"
    torch.testing.assert_close(ig_gpu.cpu(), ig_cpu, atol=1e-5, rtol=1e-4)
