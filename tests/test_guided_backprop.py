"""Tests of helpers.explain.guided_backprop.guided_backprop: the gradient through guided ReLUs.

Correctness is checked against the guided rule applied by hand to small ReLU networks (where
it differs from the plain gradient) and against Captum's ``GuidedBackprop`` (a test-only
oracle) on the shipped SimpleCNN and a seeded, untrained DeeperCNN. A ReLU applied as a
function cannot be guided through hooks: such models are refused, and the tests pin down
what the check sees and what it cannot.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from oracles import assert_equal_to, predicted, seeded
from torch import nn

from helpers import guided_backprop, saliency

from bad_arguments import int_error
from side_effects import (
    MODE_SETTINGS,
    assert_no_hooks,
    dropout_cnn,
    dropout_cnn_in,
    dropout_net,
    global_rngs_untouched,
    input_untouched,
    modes,
    pass_sizes,
    snapshot,
)

TARGETS = [None, 3, [7, 2, 1, 0, 4, 1]]


def captum_guided(model: nn.Module, x: torch.Tensor, target) -> torch.Tensor:
    from captum.attr import GuidedBackprop

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Captum warns that it sets hooks on the ReLUs
        return GuidedBackprop(model).attribute(x.clone(), target=target).detach()


def mlp(features: int = 5, hidden: int = 6, classes: int = 3) -> nn.Sequential:
    """Linear, ReLU, linear, ReLU, linear, seeded."""
    return seeded(
        lambda: nn.Sequential(
            nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, classes)
        )
    )


def guided_by_hand(model: nn.Sequential, x: torch.Tensor, target: int) -> torch.Tensor:
    """The guided rule written out for :func:`mlp`: back through each ReLU pass max(g, 0) where its input > 0."""
    first, second, last = (layer for layer in model if isinstance(layer, nn.Linear))
    with torch.no_grad():
        z1 = first(x)
        z2 = second(z1.clamp(min=0))
        g = last.weight[target].expand(len(x), -1)
        g = g.clamp(min=0) * (z2 > 0)
        g = (g @ second.weight).clamp(min=0) * (z1 > 0)
        return g @ first.weight


# ---------------------------------------------------------------------------
# Captum and known answers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS, ids=["none", "int", "list"])
def test_agrees_with_captum_on_the_simple_cnn(trained_model, digits, target) -> None:
    classes = predicted(trained_model, digits) if target is None else target
    assert_equal_to(guided_backprop(trained_model, digits, target), captum_guided(trained_model, digits, classes))


@pytest.mark.parametrize("target", TARGETS, ids=["none", "int", "list"])
def test_agrees_with_captum_on_the_deeper_cnn(deeper, digits, target) -> None:
    classes = predicted(deeper, digits) if target is None else target
    assert_equal_to(guided_backprop(deeper, digits, target), captum_guided(deeper, digits, classes))


def test_the_two_unit_example_where_guided_and_plain_gradients_differ() -> None:
    hidden, out = nn.Linear(1, 2, bias=False), nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        hidden.weight.copy_(torch.tensor([[1.0], [2.0]]))
        out.weight.copy_(torch.tensor([[1.0, -1.0]]))
    model = nn.Sequential(hidden, nn.ReLU(), out)
    x = torch.tensor([[1.0], [-1.0]])  # both units on; both off
    assert torch.equal(saliency(model, x, 0, reduce="signed"), torch.tensor([[-1.0], [0.0]]))
    assert torch.equal(guided_backprop(model, x, 0), torch.tensor([[1.0], [0.0]]))


@pytest.mark.parametrize("target", [0, 1, 2])
def test_equals_the_guided_rule_by_hand_on_a_two_relu_network(target) -> None:
    model = mlp()
    x = torch.randn(8, 5, generator=torch.Generator().manual_seed(3))
    expected = guided_by_hand(model, x, target)
    result = guided_backprop(model, x, target)
    torch.testing.assert_close(result, expected, atol=1e-6, rtol=1e-6)
    assert not torch.allclose(result, saliency(model, x, target, reduce="signed"), atol=1e-3)  # not the plain gradient


def test_an_in_place_relu_gives_the_same_map() -> None:
    def build(inplace: bool) -> nn.Sequential:
        return seeded(
            lambda: nn.Sequential(
                nn.Linear(5, 6), nn.ReLU(inplace=inplace), nn.Linear(6, 6), nn.ReLU(inplace), nn.Linear(6, 3)
            )
        )

    x = torch.randn(4, 5, generator=torch.Generator().manual_seed(4))
    assert torch.equal(guided_backprop(build(True), x, 1), guided_backprop(build(False), x, 1))
    assert torch.equal(guided_backprop(build(True), x, 1), guided_by_hand(build(False), x, 1))


def test_one_relu_module_called_twice_is_guided_at_both_calls() -> None:
    class Shared(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.first, self.relu, self.second, self.last = nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 6), nn.Linear(6, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.last(self.relu(self.second(self.relu(self.first(x)))))

    shared = seeded(Shared)
    x = torch.randn(4, 5, generator=torch.Generator().manual_seed(5))
    as_sequential = nn.Sequential(shared.first, nn.ReLU(), shared.second, nn.ReLU(), shared.last)
    torch.testing.assert_close(guided_backprop(shared, x, 2), guided_by_hand(as_sequential, x, 2), atol=1e-6, rtol=1e-6)
    assert_equal_to(guided_backprop(shared, x, 2), captum_guided(shared, x, 2))


def test_a_relu_module_subclass_is_guided() -> None:
    class Named(nn.ReLU):
        pass

    model = mlp()
    x = torch.randn(4, 5, generator=torch.Generator().manual_seed(6))
    renamed = nn.Sequential(model[0], Named(), model[2], Named(), model[4])
    assert torch.equal(guided_backprop(renamed, x, 0), guided_backprop(model, x, 0))


def test_target_none_is_the_predicted_class(deeper, digits) -> None:
    assert torch.equal(guided_backprop(deeper, digits), guided_backprop(deeper, digits, predicted(deeper, digits)))


# ---------------------------------------------------------------------------
# ReLUs applied as functions
# ---------------------------------------------------------------------------


class Functional(nn.Module):
    """A CNN whose first activation is an nn.ReLU module and whose second is ``relu(x)``, a function."""

    def __init__(self, relu) -> None:
        super().__init__()
        self.conv, self.relu_module, self.fc1, self.fc2 = (
            nn.Conv2d(1, 2, 3, padding=1),
            nn.ReLU(),
            nn.Linear(128, 8),
            nn.Linear(8, 3),
        )
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu_module(self.conv(x)).flatten(1)
        return self.fc2(self.relu(self.fc1(x)))


FUNCTIONAL_RELUS = {
    "F.relu": F.relu,
    "F.relu-inplace": lambda x: F.relu(x, inplace=True),
    "F.relu_": F.relu_,
    "torch.relu": torch.relu,
    "torch.relu_": torch.relu_,
    "Tensor.relu": lambda x: x.relu(),
    "Tensor.relu_": lambda x: x.relu_(),
}


@pytest.mark.parametrize("relu", FUNCTIONAL_RELUS.values(), ids=FUNCTIONAL_RELUS.keys())
def test_a_relu_applied_as_a_function_is_refused_with_the_fix(relu) -> None:
    model = seeded(lambda: Functional(relu)).train()
    with pytest.raises(ValueError, match=r"outside any nn\.ReLU module.*one nn\.ReLU module per activation"):
        guided_backprop(model, torch.rand(2, 1, 8, 8))
    assert_no_hooks(model)
    assert model.training
    assert torch.equal(F.relu(torch.tensor([-1.0, 2.0])), torch.tensor([0.0, 2.0]))  # no mode left behind


def test_a_model_with_only_functional_relus_is_refused() -> None:
    class OnlyFunctional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(4, 5), nn.Linear(5, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc2(F.relu(self.fc1(x)))

    model = seeded(OnlyFunctional)
    with pytest.raises(ValueError, match=r"no nn\.ReLU module.*one nn\.ReLU module per activation"):
        guided_backprop(model, torch.rand(2, 4))
    assert_no_hooks(model)


def test_a_model_without_any_relu_module_is_refused() -> None:
    linear = seeded(lambda: nn.Linear(4, 2))
    with pytest.raises(ValueError, match=r"no nn\.ReLU module.*plain gradient"):
        guided_backprop(linear, torch.rand(2, 4))


def test_the_shipped_models_pass_the_check(trained_model, deeper, digits) -> None:
    for model in (trained_model, deeper):
        assert guided_backprop(model, digits[:2]).abs().sum() > 0
        assert_no_hooks(model)


def test_a_relu_written_as_clamp_is_not_seen_and_keeps_the_plain_rule() -> None:
    # The documented blind spot: clamp(min=0) is not a relu call. Captum does the same.
    clamped = seeded(lambda: Functional(lambda x: x.clamp(min=0)))
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(7))
    assert_equal_to(guided_backprop(clamped, x, 1), captum_guided(clamped, x, 1))
    moduled = seeded(lambda: Functional(nn.ReLU()))
    assert not torch.allclose(guided_backprop(clamped, x, 1), guided_backprop(moduled, x, 1))


def test_other_activations_keep_their_plain_gradient() -> None:
    model = seeded(lambda: nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 5), nn.ReLU(), nn.Linear(5, 2)))
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(8))
    assert_equal_to(guided_backprop(model, x, 0), captum_guided(model, x, 0))


# ---------------------------------------------------------------------------
# Batches, shapes and passes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("batch_size", "expected"), [(4096, [6]), (4, [4, 2]), (1, [1] * 6)])
def test_one_forward_pass_per_batch_size_inputs(deeper, digits, batch_size, expected) -> None:
    result = []
    assert pass_sizes(deeper, lambda: result.append(guided_backprop(deeper, digits, batch_size=batch_size))) == expected
    torch.testing.assert_close(result[0], guided_backprop(deeper, digits), atol=1e-9, rtol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_result_has_x_shape_dtype_and_is_detached(dtype, requires_grad) -> None:
    model = dropout_cnn().to(dtype)
    x = torch.rand(3, 1, 8, 8, dtype=dtype).requires_grad_(requires_grad)
    result = guided_backprop(model, x)
    assert result.shape == x.shape and result.dtype == dtype
    assert not result.requires_grad and result.grad_fn is None


def test_tables_work_too() -> None:
    assert guided_backprop(mlp(), torch.randn(4, 5)).shape == (4, 5)


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
        result = guided_backprop(model, x)
    finally:
        handle.remove()
    assert seen == [[False] * len(before)]
    assert modes(model) == before
    assert torch.equal(result, guided_backprop(dropout_cnn().eval(), x))


def test_no_hook_parameter_change_or_global_rng_use(deeper, digits) -> None:
    state, before = snapshot(deeper), modes(deeper)
    with global_rngs_untouched():
        guided_backprop(deeper, digits[:2])
    assert_no_hooks(deeper)
    assert modes(deeper) == before
    assert all(torch.equal(v, state[k]) for k, v in deeper.state_dict().items())
    assert all(p.grad is None for p in deeper.parameters())


def test_existing_parameter_grads_stay_bit_identical() -> None:
    model = dropout_cnn()
    model(torch.rand(2, 1, 8, 8)).sum().backward()
    grads = [p.grad for p in model.parameters()]
    copies = [g.clone() for g in grads if g is not None]
    guided_backprop(model, torch.rand(2, 1, 8, 8))
    assert all(p.grad is g for p, g in zip(model.parameters(), grads, strict=True))
    assert all(p.grad is not None and torch.equal(p.grad, c) for p, c in zip(model.parameters(), copies, strict=True))


@pytest.mark.parametrize("kind", ["plain", "requires-grad", "with-grad"])
def test_callers_x_is_untouched(kind) -> None:
    x = torch.rand(3, 1, 8, 8).requires_grad_(kind != "plain")
    if kind == "with-grad":
        (x * 3).sum().backward()
    with input_untouched(x):
        guided_backprop(dropout_cnn(), x)


class FailingAfterRelu(nn.Module):
    """A linear layer and an nn.ReLU (whose hooks run), then a bug: the call raises mid-way."""

    def __init__(self) -> None:
        super().__init__()
        self.fc, self.relu, self.dropout = nn.Linear(4, 3), nn.ReLU(), nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.dropout(self.relu(self.fc(x)))
        raise RuntimeError("a bug in the model's forward")


def test_hooks_are_removed_and_modes_restored_when_the_model_raises_mid_way() -> None:
    model = seeded(FailingAfterRelu).train()
    with pytest.raises(RuntimeError, match="a bug"):
        guided_backprop(model, torch.rand(2, 4))
    assert_no_hooks(model)
    assert all(modes(model))


def test_hooks_are_removed_when_the_target_is_refused_after_the_forward_pass() -> None:
    model = dropout_net(5, 3).train()
    with pytest.raises(ValueError, match="out of range"):
        guided_backprop(model, torch.rand(2, 5), 3)
    assert_no_hooks(model)
    assert all(modes(model))


def test_works_inside_no_grad() -> None:
    model, x = dropout_cnn(), torch.rand(2, 1, 8, 8)
    expected = guided_backprop(model, x, 1)
    with torch.no_grad():
        assert torch.equal(guided_backprop(model, x, 1), expected)
        assert not torch.is_grad_enabled()


def test_raises_inside_inference_mode() -> None:
    model = dropout_cnn()
    with torch.inference_mode(), pytest.raises(RuntimeError, match="inference_mode"):
        guided_backprop(model, torch.rand(2, 1, 8, 8))
    assert_no_hooks(model)


def test_prints_no_warnings(deeper, digits) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        guided_backprop(deeper, digits[:2])


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (np.zeros((2, 5), dtype=np.float32), TypeError, r"torch\.from_numpy"),
        (torch.ones(2, 5, dtype=torch.int64), TypeError, r"x\.float\(\)"),
        (torch.rand(5), ValueError, r"x\.unsqueeze\(0\)"),
        (torch.zeros(0, 5), ValueError, "empty batch"),
    ],
    ids=["numpy", "int64", "1-D", "empty"],
)
def test_bad_x(x, error, match) -> None:
    with pytest.raises(error, match=match):
        guided_backprop(mlp(), x)


@pytest.mark.parametrize("model", [lambda x: x, None], ids=["function", "none"])
def test_non_module_model_is_a_type_error(model) -> None:
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        guided_backprop(model, torch.rand(2, 5))


@pytest.mark.parametrize("batch_size", [0, -1, 64.0, False])
def test_bad_batch_size(batch_size) -> None:
    with pytest.raises(int_error(batch_size), match="batch_size must be a positive int"):
        guided_backprop(mlp(), torch.rand(2, 5), batch_size=batch_size)


@pytest.mark.parametrize(
    ("target", "error"),
    [(3, ValueError), ([1, 2, 0], ValueError), (1.0, TypeError), (True, TypeError)],
    ids=["out-of-range", "wrong-length", "float", "bool"],
)
def test_bad_target(target, error) -> None:
    model = mlp()
    with pytest.raises(error, match="target"):
        guided_backprop(model, torch.rand(2, 5), target)
    assert_no_hooks(model)
