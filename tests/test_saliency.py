"""Tests of helpers.explain.saliency.saliency: M(x) = |dS_c(x)/dx| for a batch.

Correctness is checked against closed forms (a linear model's saliency is its weight
row), central finite differences, a per-image loop and Captum's ``Saliency`` (a
test-only oracle). Speed is measured in benchmarks/bench_saliency.py, never here.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from helpers.course.data import mnist
from helpers.course.models import load_pretrained
from helpers.explain.saliency import saliency

from side_effects import MODE_SETTINGS, dropout_net, dropout_net_in, modes

# ---------------------------------------------------------------------------
# Fixtures and small models
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cnn() -> nn.Module:
    """The shipped, trained SimpleCNN (loaded once per module)."""
    return load_pretrained()


@pytest.fixture(scope="module")
def test_images() -> tuple[torch.Tensor, torch.Tensor]:
    """The first 32 MNIST test images (32, 1, 28, 28) and their labels (32,)."""
    dataset = mnist(train=False)
    images, labels = zip(*(dataset[i] for i in range(32)), strict=True)
    return torch.stack(images), torch.tensor(labels)


def linear(features: int = 6, classes: int = 4, seed: int = 0, dtype: torch.dtype = torch.float32) -> nn.Linear:
    """An ``nn.Linear(features, classes)`` with seeded weights, without touching the global RNG."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # nn.Linear's own init draws on the global RNG
        layer = nn.Linear(features, classes).to(dtype)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(classes, features, generator=generator, dtype=dtype))
        layer.bias.copy_(torch.randn(classes, generator=generator, dtype=dtype))
    return layer


def seeded(build):
    """``build()`` with seed 0, leaving the global RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return build()


def batch(*shape: int, seed: int = 1, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


class Counting(nn.Module):
    """Wraps a model and counts its forward calls."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.model(x)


class Reshaped(nn.Module):
    """Returns the logits of ``inner`` reshaped to ``shape(N)`` (a malformed classifier)."""

    def __init__(self, inner: nn.Module, shape) -> None:
        super().__init__()
        self.inner = inner
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x).reshape(self.shape(x.shape[0]))


N, F, K = 5, 6, 4  # batch, features, classes of the linear fixtures
FIXED = [2, 0, 3, 3, 1]  # one class per input, length N

# Every accepted form of ``target`` and the classes (N,) it stands for; None is
# resolved from the logits in the test.
TARGET_FORMS: dict[str, tuple[Any, list[int] | None]] = {
    "none": (None, None),
    "int": (2, [2] * N),
    "np-int64-scalar": (np.int64(3), [3] * N),
    "0-d-tensor": (torch.tensor(1), [1] * N),
    "list": (FIXED, FIXED),
    "tuple": (tuple(FIXED), FIXED),
    "long-tensor": (torch.tensor(FIXED), FIXED),
    "int32-tensor": (torch.tensor(FIXED, dtype=torch.int32), FIXED),
    "numpy-int-array": (np.array(FIXED), FIXED),
    "numpy-int32-array": (np.array(FIXED, dtype=np.int32), FIXED),
}


def resolved(model: nn.Module, x: torch.Tensor, classes) -> torch.Tensor:
    if classes is None:
        with torch.no_grad():
            return model(x).argmax(1)
    return torch.tensor(classes)


# ---------------------------------------------------------------------------
# Closed form: a linear model's saliency is its weight row
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("form", TARGET_FORMS)
def test_linear_table_equals_weight_row(form: str) -> None:
    model = linear(F, K)
    x = batch(N, F)
    target, classes = TARGET_FORMS[form]
    rows = model.weight.detach()[resolved(model, x, classes)]  # (N, F)
    assert torch.equal(saliency(model, x, target), rows.abs())
    assert torch.equal(saliency(model, x, target, reduce="abs"), rows.abs())
    assert torch.equal(saliency(model, x, target, reduce="signed"), rows)
    assert torch.equal(saliency(model, x, target, reduce="square"), rows**2)


@pytest.mark.parametrize("form", TARGET_FORMS)
def test_flatten_linear_image_equals_weight_row(form: str) -> None:
    model = nn.Sequential(nn.Flatten(), linear(16, K, seed=3))
    x = batch(N, 1, 4, 4, seed=4)
    target, classes = TARGET_FORMS[form]
    rows = model.get_parameter("1.weight").detach()[resolved(model, x, classes)].reshape(N, 1, 4, 4)
    assert torch.equal(saliency(model, x, target), rows.abs())
    assert torch.equal(saliency(model, x, target, reduce="signed"), rows)
    assert torch.equal(saliency(model, x, target, reduce="square"), rows**2)


@pytest.mark.parametrize("reduce", ["abs", "square", "signed"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_result_has_x_shape_dtype_device_and_is_detached(reduce, dtype, requires_grad) -> None:
    model = nn.Sequential(nn.Flatten(), linear(16, K, dtype=dtype))
    x = batch(3, 1, 4, 4, dtype=dtype).requires_grad_(requires_grad)
    result = saliency(model, x, reduce=reduce)
    assert result.shape == x.shape
    assert result.dtype == x.dtype
    assert result.device == x.device
    assert not result.requires_grad
    assert result.grad_fn is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_result_stays_on_cuda() -> None:
    model = linear(F, K).cuda()
    x = batch(N, F).cuda()
    result = saliency(model, x, FIXED)
    assert result.device == x.device
    assert torch.equal(result.cpu(), model.weight.detach().cpu()[FIXED].abs())


# ---------------------------------------------------------------------------
# Nonlinear models: finite differences, per-image loop, Captum
# ---------------------------------------------------------------------------


def tanh_mlp() -> nn.Module:
    return seeded(lambda: nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).double())


def softplus_cnn() -> nn.Module:
    return seeded(
        lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Softplus(), nn.Flatten(), nn.Linear(2 * 3 * 3, 3)).double()
    )


@pytest.mark.parametrize(
    ("make", "shape"), [(tanh_mlp, (4, 5)), (softplus_cnn, (3, 1, 5, 5))], ids=["tanh-mlp", "softplus-cnn"]
)
def test_signed_saliency_matches_central_differences(make, shape) -> None:
    model = make()
    x = batch(*shape, seed=7, dtype=torch.float64)
    n = shape[0]
    classes = torch.arange(n) % 3
    signed = saliency(model, x, classes, reduce="signed")
    eps = 1e-6
    numeric = torch.zeros_like(x)
    with torch.no_grad():
        for i in range(n):  # all coordinates of input i at once: a batch of x[i] +- eps * e_j
            steps = eps * torch.eye(x[i].numel(), dtype=x.dtype).reshape(-1, *x.shape[1:])
            up = model(x[i] + steps)[:, classes[i]]
            down = model(x[i] - steps)[:, classes[i]]
            numeric[i] = ((up - down) / (2 * eps)).reshape(x.shape[1:])
    torch.testing.assert_close(signed, numeric, atol=1e-6, rtol=0)
    assert signed.abs().max() > 1e-3  # the check is not vacuous
    assert torch.equal(saliency(model, x, classes), signed.abs())


@pytest.mark.parametrize("target", [None, 3, "list"], ids=["none", "int", "list"])
def test_batch_equals_per_image_loop(cnn, test_images, target) -> None:
    x = test_images[0][:16]
    if target == "list":
        target = [i % 10 for i in range(16)]
    whole = saliency(cnn, x, target)
    per_image = torch.cat(
        [saliency(cnn, x[i : i + 1], target if not isinstance(target, list) else [target[i]]) for i in range(16)]
    )
    torch.testing.assert_close(whole, per_image, atol=1e-6, rtol=0)


@pytest.mark.parametrize("absolute", [True, False], ids=["abs", "signed"])
def test_agrees_with_captum_saliency(cnn, test_images, absolute) -> None:
    from captum.attr import Saliency

    x = test_images[0]
    with torch.no_grad():
        predicted = cnn(x).argmax(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = Saliency(cnn).attribute(x.clone(), target=predicted, abs=absolute).detach()
    result = saliency(cnn, x, predicted, reduce="abs" if absolute else "signed")
    torch.testing.assert_close(result, expected, atol=1e-6, rtol=0)
    assert torch.equal(saliency(cnn, x, reduce="abs" if absolute else "signed"), result)  # None = predicted


def test_target_none_is_the_argmax_class(cnn, test_images) -> None:
    x = test_images[0][:16]
    with torch.no_grad():
        predicted = cnn(x).argmax(1)
    assert torch.equal(saliency(cnn, x), saliency(cnn, x, predicted))
    assert torch.equal(saliency(cnn, x, None, reduce="signed"), saliency(cnn, x, predicted, reduce="signed"))


def test_target_is_the_logit_not_softmax() -> None:
    # For a linear model the logit's gradient is W[c]; softmax's would mix the rows.
    model = linear(F, K)
    x = batch(N, F)
    assert torch.equal(saliency(model, x, 1, reduce="signed"), model.weight.detach()[1].expand(N, F))


def test_first_test_image_is_a_seven_with_a_nonzero_map(cnn, test_images) -> None:
    images, labels = test_images
    x = images[:1]
    assert labels[0].item() == 7
    with torch.no_grad():
        assert cnn(x).argmax(1).item() == 7
    heat = saliency(cnn, x)
    assert heat.shape == (1, 1, 28, 28)
    assert torch.isfinite(heat).all()
    assert (heat >= 0).all()
    assert heat.sum() > 0
    assert torch.equal(heat, saliency(cnn, x, 7))


@settings(max_examples=30, deadline=None)
@given(
    features=st.integers(1, 8),
    classes=st.integers(1, 6),
    n=st.integers(1, 6),
    seed=st.integers(0, 2**31 - 1),
    data=st.data(),
)
def test_property_random_linear_models(features, classes, n, seed, data) -> None:
    model = linear(features, classes, seed=seed)
    x = batch(n, features, seed=seed + 1)
    kind = data.draw(st.sampled_from(["none", "int", "list"]))
    if kind == "none":
        target = None
        with torch.no_grad():
            chosen = model(x).argmax(1)
    elif kind == "int":
        target = data.draw(st.integers(0, classes - 1))
        chosen = torch.full((n,), target)
    else:
        target = data.draw(st.lists(st.integers(0, classes - 1), min_size=n, max_size=n))
        chosen = torch.tensor(target)
    absolute = saliency(model, x, target, reduce="abs")
    assert torch.equal(absolute, model.weight.detach()[chosen].abs())
    assert torch.equal(saliency(model, x, target, reduce="square"), absolute**2)
    assert torch.equal(saliency(model, x, target, reduce="signed").abs(), absolute)


# ---------------------------------------------------------------------------
# One forward and one backward pass
# ---------------------------------------------------------------------------


def test_one_forward_call_per_batch(cnn, test_images) -> None:
    counting = Counting(cnn)
    saliency(counting, test_images[0][:8])
    assert counting.calls == 1
    saliency(counting, test_images[0][:8], [1] * 8, reduce="square")
    assert counting.calls == 2


def test_one_forward_and_one_backward_through_each_layer(cnn, test_images) -> None:
    forwards, backwards = [], []
    handles = [
        cnn.register_forward_hook(lambda *_: forwards.append(1)),
        cnn.fc1.register_full_backward_hook(lambda *_: backwards.append(1)),
    ]
    try:
        saliency(cnn, test_images[0][:8])
    finally:
        for handle in handles:
            handle.remove()
    assert len(forwards) == 1
    assert len(backwards) == 1


# ---------------------------------------------------------------------------
# No side effects
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("setting", MODE_SETTINGS)
def test_each_submodule_mode_is_restored_and_forward_runs_in_eval(setting) -> None:
    model = dropout_net_in(setting, F, K)
    before = modes(model)
    assert len(set(before)) == (1 if setting in ("train", "eval") else 2)
    seen = []
    handle = model.register_forward_pre_hook(lambda m, _: seen.append(modes(m)))
    try:
        saliency(model, batch(N, F))
    finally:
        handle.remove()
    assert seen == [[False] * len(before)]
    assert modes(model) == before


def test_mode_is_restored_when_an_argument_error_is_raised() -> None:
    model = dropout_net(F, K).train()
    model.get_submodule("1").eval()
    before = modes(model)
    with pytest.raises(ValueError):
        saliency(model, batch(N, F), K)
    with pytest.raises(ValueError):
        saliency(Reshaped(model, lambda n: (n * K,)), batch(N, F))
    assert modes(model) == before


def test_dropout_model_in_train_mode_gives_the_eval_saliency() -> None:
    model = dropout_net(F, K)
    x = batch(N, F)
    expected = saliency(model.eval(), x, FIXED, reduce="signed")
    model.train()
    for _ in range(3):
        assert torch.equal(saliency(model, x, FIXED, reduce="signed"), expected)
    assert model.training


def test_batchnorm_running_statistics_are_not_updated() -> None:
    model = seeded(lambda: nn.Sequential(nn.Linear(F, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, K))).train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    saliency(model, batch(N, F))
    after = model.state_dict()
    assert all(torch.equal(state[k], after[k]) for k in state)


def test_parameter_grads_stay_none(cnn, test_images) -> None:
    assert all(p.grad is None for p in cnn.parameters())
    saliency(cnn, test_images[0][:4])
    assert all(p.grad is None for p in cnn.parameters())


def test_parameter_grads_already_set_stay_bit_identical() -> None:
    model = linear(F, K)
    model(batch(N, F)).sum().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    copies = [g.clone() for g in grads]
    saliency(model, batch(N, F, seed=9))
    assert all(p.grad is g for p, g in zip(model.parameters(), grads, strict=True))
    assert all(torch.equal(g, c) for g, c in zip(grads, copies, strict=True))


@pytest.mark.parametrize("requires_grad", [False, True])
def test_callers_x_is_untouched(requires_grad) -> None:
    model = linear(F, K)
    x = batch(N, F).requires_grad_(requires_grad)
    values = x.detach().clone()
    saliency(model, x)
    assert x.requires_grad is requires_grad
    assert torch.equal(x.detach(), values)
    assert x.grad is None


def test_callers_existing_x_grad_is_untouched() -> None:
    model = linear(F, K)
    x = batch(N, F).requires_grad_(True)
    (x * 3).sum().backward()
    assert x.grad is not None
    grad = x.grad.clone()
    saliency(model, x)
    assert x.grad is not None and torch.equal(x.grad, grad)
    assert x.requires_grad


def test_works_inside_no_grad() -> None:
    model = linear(F, K)
    x = batch(N, F)
    with torch.no_grad():
        inside = saliency(model, x, FIXED)
        assert not torch.is_grad_enabled()
    assert torch.equal(inside, model.weight.detach()[FIXED].abs())


def test_raises_inside_inference_mode() -> None:
    model = linear(F, K)
    x = batch(N, F)
    with torch.inference_mode(), pytest.raises(RuntimeError, match="inference_mode"):
        saliency(model, x)


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


def test_numpy_x_is_a_type_error_naming_from_numpy() -> None:
    with pytest.raises(TypeError, match=r"torch\.from_numpy"):
        saliency(linear(F, K), batch(N, F).numpy())  # type: ignore[arg-type]


@pytest.mark.parametrize("x", [[[0.0] * F] * N, 3.0, None], ids=["list", "float", "none"])
def test_non_tensor_x_is_a_type_error(x) -> None:
    with pytest.raises(TypeError, match=r"x must be a torch\.Tensor"):
        saliency(linear(F, K), x)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64, torch.int32, torch.bool])
def test_integer_x_is_a_type_error_naming_float(dtype) -> None:
    with pytest.raises(TypeError, match=r"x\.float\(\)"):
        saliency(linear(F, K), torch.ones(N, F, dtype=dtype))


@pytest.mark.parametrize("target", [True, False], ids=["True", "False"])
def test_bool_target_is_a_type_error(target) -> None:
    with pytest.raises(TypeError, match=r"target.*bool"):
        saliency(linear(F, K), batch(N, F), target)


@pytest.mark.parametrize(
    "target",
    [
        torch.tensor(FIXED, dtype=torch.float32),
        torch.tensor(1.0),
        np.array(FIXED, dtype=float),
        [0.0, 1.0, 2.0, 3.0, 0.0],
    ],
    ids=["float-tensor", "0-d-float-tensor", "float-array", "float-list"],
)
def test_float_target_is_a_type_error(target) -> None:
    with pytest.raises(TypeError, match="target must hold integer class indices"):
        saliency(linear(F, K), batch(N, F), target)


@pytest.mark.parametrize("target", [torch.tensor([True] * N), "1", 1.0], ids=["bool-tensor", "str", "float"])
def test_other_bad_target_types_are_type_errors(target) -> None:
    with pytest.raises(TypeError, match="target"):
        saliency(linear(F, K), batch(N, F), target)


@pytest.mark.parametrize("model", [lambda x: x, "model", None], ids=["function", "str", "none"])
def test_non_module_model_is_a_type_error(model) -> None:
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        saliency(model, batch(N, F))


def test_one_dimensional_x_is_a_value_error_naming_unsqueeze() -> None:
    with pytest.raises(ValueError, match=r"x\.unsqueeze\(0\)"):
        saliency(linear(F, K), batch(F).reshape(F))


def test_single_image_without_batch_dimension_names_unsqueeze(cnn, test_images) -> None:
    image = test_images[0][0]  # (1, 28, 28)
    with pytest.raises(ValueError, match=r"unsqueeze\(0\)"):
        saliency(cnn, image)
    assert saliency(cnn, image.unsqueeze(0)).shape == (1, 1, 28, 28)
    assert not cnn.training


def test_empty_batch_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="empty batch"):
        saliency(linear(F, K), torch.zeros(0, F))


@pytest.mark.parametrize(
    "target",
    [-1, K, 100, np.int64(K), [0, 1, K, 0, 1], torch.tensor([0, -1, 2, 0, 1]), np.array([K] * N)],
    ids=["negative", "classes", "far", "np-int", "list", "tensor-negative", "array"],
)
def test_target_out_of_range_names_the_valid_range(target) -> None:
    with pytest.raises(ValueError, match=rf"out of range.*{K} classes.*0\.\.{K - 1}"):
        saliency(linear(F, K), batch(N, F), target)


def test_target_out_of_range_on_the_cnn(cnn, test_images) -> None:
    with pytest.raises(ValueError, match=r"0\.\.9"):
        saliency(cnn, test_images[0][:2], 10)


@pytest.mark.parametrize(
    "target",
    [
        [0] * (N - 1),
        [0] * (N + 1),
        torch.zeros(N + 1, dtype=torch.long),
        torch.zeros(N, 1, dtype=torch.long),
        torch.tensor([1]),
    ],
    ids=["short-list", "long-list", "long-tensor", "2-d-tensor", "length-1-tensor"],
)
def test_target_of_wrong_length_is_a_value_error(target) -> None:
    with pytest.raises(ValueError, match=rf"one class per input: length {N}"):
        saliency(linear(F, K), batch(N, F), target)


@pytest.mark.parametrize("reduce", ["mean", "ABS", "", None, "sq"])
def test_unknown_reduce_lists_the_options(reduce) -> None:
    with pytest.raises(ValueError, match=r"reduce must be one of 'abs', 'square', 'signed'"):
        saliency(linear(F, K), batch(N, F), reduce=reduce)


@pytest.mark.parametrize(
    "shape",
    [lambda n: (n * K,), lambda n: (n, 2, K // 2), lambda n: (1, n * K)],
    ids=["(N*K,)", "(N,2,K/2)", "(1,N*K)"],
)
def test_model_output_not_n_by_classes_is_a_value_error(shape) -> None:
    with pytest.raises(ValueError, match=r"logits of shape \(N, classes\)"):
        saliency(Reshaped(linear(F, K), shape), batch(N, F))


def test_model_returning_n_scores_is_a_value_error() -> None:
    model = seeded(lambda: nn.Sequential(nn.Linear(F, 1), nn.Flatten(0)))  # returns (N,)
    with pytest.raises(ValueError, match=r"\(N, classes\)"):
        saliency(model, batch(N, F))


def test_model_whose_output_ignores_x_gives_a_zero_map() -> None:
    class Constant(nn.Module):
        def forward(self, x):
            return torch.zeros(x.shape[0], 3)

    assert torch.equal(saliency(Constant(), torch.randn(2, 4)), torch.zeros(2, 4))


def test_model_ignoring_some_inputs_gives_zeros_there() -> None:
    class FirstFeature(nn.Module):
        def forward(self, x):
            return torch.stack([x[:, 0], -x[:, 0]], dim=1)

    expected = torch.tensor([[1.0, 0.0, 0.0]]).expand(2, 3)
    assert torch.equal(saliency(FirstFeature(), torch.randn(2, 3), target=0), expected)


@pytest.mark.parametrize(
    "target", [10**20, -(10**20), 2**63, np.uint64(2**63)], ids=["1e20", "-1e20", "2^63", "np-uint64-2^63"]
)
def test_huge_int_target_is_out_of_range(target) -> None:
    """A class no int64 tensor can hold: a ValueError naming the range, not an OverflowError."""
    with pytest.raises(ValueError, match=rf"^target {target} is out of range: a class index lies in 0\.\.classes - 1"):
        saliency(linear(), torch.randn(2, 6), target)


def test_empty_target_list_is_a_length_error() -> None:
    with pytest.raises(ValueError, match="one class per input: length 2"):
        saliency(linear(), torch.randn(2, 6), [])


def test_model_error_names_dtype_and_shape() -> None:
    with pytest.raises(ValueError, match=r"dtype torch\.float64.*expects"):
        saliency(linear(), torch.randn(2, 6, dtype=torch.float64))


class Raising(nn.Module):
    """A model whose forward raises ``error``."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.linear = linear(F, K)
        self.error = error

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        lambda: torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"),
        lambda: RuntimeError("Expected all tensors to be on the same device, but found at least two devices"),
        lambda: RuntimeError("a bug in the model's forward"),
    ],
    ids=["out-of-memory", "devices", "bug"],
)
def test_model_errors_not_about_x_propagate_unchanged(error) -> None:
    """They used to become a ValueError telling the learner to check x's shape and dtype."""
    raised = error()
    model = Raising(raised).train()
    with pytest.raises(type(raised)) as caught:
        saliency(model, batch(N, F))
    assert caught.value is raised
    assert model.training  # the mode is restored on the way out


def test_model_shape_error_is_a_value_error_chained_to_the_original() -> None:
    with pytest.raises(ValueError, match=r"cannot take x of shape \(5, 6\)") as caught:
        saliency(linear(F + 1, K), batch(N, F))
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert "shapes cannot be multiplied" in str(caught.value.__cause__)


def test_images_given_to_a_flat_model_name_nn_flatten_not_unsqueeze(test_images) -> None:
    flat_model = seeded(lambda: nn.Sequential(nn.Linear(784, 10)))
    with pytest.raises(ValueError, match=r"make nn\.Flatten\(\) its first layer") as caught:
        saliency(flat_model, test_images[0][:2])
    assert "unsqueeze" not in str(caught.value)
