"""Tests of helpers.explain.adapters: the NumPy prediction function LIME and SHAP call.

``numpy_predictor(model)(batch)`` must give the model's own softmax (or logits), as a
float64 ``(n, classes)`` array, for every layout the explainers send: LIME's RGB
``(n, H, W, 3)``, SHAP's ``(n, H, W, 1)``, ``(n, H, W)``, ``(n, 1, H, W)`` and ``(n, H * W)``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from helpers.explain.adapters import numpy_predictor, to_model_input

from bad_arguments import int_error
from side_effects import assert_no_hooks, numpy_states_equal, snapshot

# ---------------------------------------------------------------------------
# Fixtures and small models
# ---------------------------------------------------------------------------

N = 6  # images per check


@pytest.fixture(scope="module")
def images(test_images) -> torch.Tensor:
    """Six MNIST test images ``(6, 1, 28, 28)`` in [0, 1]."""
    return test_images[:N].clone()


@pytest.fixture(scope="module")
def reference(trained_model, images) -> torch.Tensor:
    """The shipped model's logits for ``images`` ``(6, 10)``, computed directly."""
    with torch.no_grad():
        return trained_model(images)


def linear(features: int, classes: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> nn.Linear:
    """An ``nn.Linear`` with seeded weights, leaving the global RNG alone."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        layer = nn.Linear(features, classes).to(dtype)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(classes, features, generator=generator, dtype=dtype))
        layer.bias.copy_(torch.randn(classes, generator=generator, dtype=dtype))
    return layer


def layouts(images: torch.Tensor) -> dict[str, np.ndarray]:
    """The same grey images in every layout the explainers send."""
    grey = images.numpy()[:, 0]  # (n, 28, 28)
    return {
        "lime-rgb": np.repeat(grey[..., None], 3, axis=-1),  # LIME's gray2rgb copies the channel
        "shap-channels-last": grey[..., None],
        "hw": grey.copy(),
        "nchw": images.numpy().copy(),
        "flat": grey.reshape(len(grey), -1).copy(),
        "nchw-float64": images.numpy().astype(np.float64),
        "lime-rgb-float64": np.repeat(grey[..., None], 3, axis=-1).astype(np.float64),
    }


LAYOUTS = ["lime-rgb", "shap-channels-last", "hw", "nchw", "flat", "nchw-float64", "lime-rgb-float64"]


class ModeRecorder(nn.Module):
    """A linear image model that records, at each forward, every submodule's mode and grad mode."""

    def __init__(self) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.dropout = nn.Dropout(0.5)
        self.fc = linear(784, 10, seed=5)
        self.seen: list[tuple[list[bool], bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(([m.training for m in self.modules()], torch.is_grad_enabled()))
        return self.fc(self.dropout(self.flatten(x)))


class ChunkRecorder(nn.Module):
    """Wraps a model and records the batch size of each forward call."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.sizes: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(x.shape[0])
        return self.model(x)


# ---------------------------------------------------------------------------
# The predictor's outputs equal the model's, in every layout
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
def test_probabilities_equal_the_models_softmax(trained_model, images, reference, layout) -> None:
    batch = layouts(images)[layout]
    result = numpy_predictor(trained_model, score="probability")(batch)
    assert isinstance(result, np.ndarray)
    assert result.dtype == np.float64
    assert result.shape == (N, 10)
    expected = reference.softmax(dim=1).double().numpy()
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(result.sum(axis=1), 1.0, atol=1e-6)
    assert (result.argmax(1) == reference.argmax(1).numpy()).all()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_logits_equal_the_models_raw_output(trained_model, images, reference, layout) -> None:
    batch = layouts(images)[layout]
    result = numpy_predictor(trained_model, score="logit")(batch)
    assert result.dtype == np.float64
    assert result.shape == (N, 10)
    np.testing.assert_allclose(result, reference.double().numpy(), rtol=1e-5, atol=1e-5)
    assert not np.allclose(result.sum(axis=1), 1.0)  # not a softmax


@pytest.mark.parametrize("layout", ["shap-channels-last", "hw", "nchw", "flat"])
def test_float32_layouts_without_averaging_are_bit_identical(trained_model, images, reference, layout) -> None:
    result = numpy_predictor(trained_model, score="logit")(layouts(images)[layout])
    assert np.array_equal(result, reference.double().numpy())


@pytest.mark.parametrize("layout", LAYOUTS)
def test_to_model_input_gives_the_nchw_float32_images(images, layout) -> None:
    tensor = to_model_input(layouts(images)[layout])
    assert tensor.dtype == torch.float32
    assert tuple(tensor.shape) == (N, 1, 28, 28)
    assert tensor.is_contiguous()
    torch.testing.assert_close(tensor, images, rtol=0, atol=1e-7)


def test_rgb_channels_are_averaged_not_one_channel_taken() -> None:
    rgb = np.zeros((1, 2, 2, 3), dtype=np.float32)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 0.3, 0.6, 0.9
    tensor = to_model_input(rgb, (1, 2, 2))
    torch.testing.assert_close(tensor, torch.full((1, 1, 2, 2), 0.6))


def test_flat_layout_is_row_major() -> None:
    flat = np.arange(12, dtype=np.float32)[None]  # one 3 x 4 image
    tensor = to_model_input(flat, (1, 3, 4))
    assert torch.equal(tensor[0, 0], torch.arange(12, dtype=torch.float32).reshape(3, 4))


def test_torch_tensor_batches_are_accepted(trained_model, images, reference) -> None:
    result = numpy_predictor(trained_model, score="logit")(images)
    assert np.array_equal(result, reference.double().numpy())


def test_the_callers_batch_is_not_modified(trained_model, images) -> None:
    batch = layouts(images)["lime-rgb-float64"]
    before = batch.copy()
    numpy_predictor(trained_model)(batch)
    assert np.array_equal(batch, before)


def test_linear_model_closed_form_in_each_layout() -> None:
    layer = linear(16, 3, seed=2)
    model = nn.Sequential(nn.Flatten(), layer)
    grey = np.random.default_rng(0).random((4, 4, 4)).astype(np.float32)
    expected = grey.reshape(4, 16) @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()
    predict = numpy_predictor(model, score="logit", image_shape=(1, 4, 4))
    for batch in (grey, grey[..., None], grey[:, None], grey.reshape(4, 16), np.repeat(grey[..., None], 3, -1)):
        np.testing.assert_allclose(predict(batch), expected, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------
# Batching, tables, dtypes
# ---------------------------------------------------------------------------


def test_batch_size_chunks_the_batch_and_gives_the_same_result(trained_model, test_images) -> None:
    batch = test_images[:20].numpy()
    recorder = ChunkRecorder(trained_model)
    small = numpy_predictor(recorder, score="logit", batch_size=7)(batch)
    assert recorder.sizes == [7, 7, 6]
    recorder.sizes.clear()
    large = numpy_predictor(recorder, score="logit", batch_size=2048)(batch)
    assert recorder.sizes == [20]
    np.testing.assert_allclose(small, large, rtol=1e-5, atol=1e-5)
    probabilities = numpy_predictor(trained_model, score="probability", batch_size=7)(batch)
    np.testing.assert_allclose(
        probabilities, numpy_predictor(trained_model, score="probability")(batch), rtol=1e-5, atol=1e-7
    )


def test_batch_size_one(trained_model, images, reference) -> None:
    result = numpy_predictor(trained_model, score="logit", batch_size=1)(images.numpy())
    np.testing.assert_allclose(result, reference.double().numpy(), rtol=1e-5, atol=1e-5)


def test_image_shape_none_passes_tables_through() -> None:
    layer = linear(5, 3, seed=1)
    table = np.random.default_rng(1).standard_normal((8, 5))
    tensor = to_model_input(table, None)
    assert tuple(tensor.shape) == (8, 5)
    assert tensor.dtype == torch.float32
    torch.testing.assert_close(tensor, torch.from_numpy(table).float())
    with torch.no_grad():
        logits = layer(torch.from_numpy(table).float())
    probabilities = numpy_predictor(layer, image_shape=None, score="probability")(table)
    assert probabilities.shape == (8, 3) and probabilities.dtype == np.float64
    np.testing.assert_allclose(probabilities, logits.softmax(1).double().numpy(), rtol=1e-6, atol=1e-7)
    raw = numpy_predictor(layer, image_shape=None, score="logit")(table)
    np.testing.assert_allclose(raw, logits.double().numpy(), rtol=1e-6, atol=1e-6)


def test_float64_model_gets_float64_inputs() -> None:
    layer = linear(5, 3, seed=3, dtype=torch.float64)
    table = np.random.default_rng(2).random((4, 5)).astype(np.float32)
    result = numpy_predictor(layer, score="logit", image_shape=None)(table)
    with torch.no_grad():
        expected = layer(torch.from_numpy(table).double()).numpy()
    np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-12)


def test_model_without_parameters_works() -> None:
    model = nn.Sequential(nn.Flatten(), nn.AdaptiveAvgPool1d(10))
    grey = np.random.default_rng(3).random((3, 28, 28))
    result = numpy_predictor(model, score="logit")(grey)
    with torch.no_grad():
        expected = model(torch.from_numpy(grey).float()[:, None]).double().numpy()
    np.testing.assert_allclose(result, expected, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------
# Side effects: eval mode, no grad, modes restored, model untouched
# ---------------------------------------------------------------------------


def test_runs_in_eval_mode_without_grad_and_restores_each_mode() -> None:
    model = ModeRecorder()
    model.train()
    model.fc.eval()  # a mixed setting must come back as it was
    before = [m.training for m in model.modules()]
    params = snapshot(model)
    batch = np.random.default_rng(4).random((5, 28, 28, 3))
    first = numpy_predictor(model)(batch)
    second = numpy_predictor(model)(batch)
    assert np.array_equal(first, second)  # Dropout is off: deterministic
    assert [m.training for m in model.modules()] == before
    assert model.seen and all(not any(modes) and not grad for modes, grad in model.seen)
    for name, value in model.state_dict().items():
        assert torch.equal(value, params[name])
    assert all(p.grad is None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        expected = model(torch.from_numpy(batch).float().mean(-1)[:, None]).double().numpy()
    np.testing.assert_allclose(first, expected, rtol=1e-5, atol=1e-7)


def test_dropout_model_in_train_mode_gives_the_eval_output(images) -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(784, 10))
    model.train()
    predict = numpy_predictor(model, score="logit")
    result = predict(images.numpy())
    assert model.training and all(m.training for m in model.modules())
    model.eval()
    with torch.no_grad():
        expected = model(images).double().numpy()
    np.testing.assert_allclose(result, expected, rtol=1e-6, atol=1e-6)


def test_shipped_model_left_untouched(trained_model, images) -> None:
    params = snapshot(trained_model)
    modes = [m.training for m in trained_model.modules()]
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()
    numpy_predictor(trained_model)(layouts(images)["lime-rgb"])
    for name, value in trained_model.state_dict().items():
        assert torch.equal(value, params[name])
    assert [m.training for m in trained_model.modules()] == modes
    assert all(p.grad is None for p in trained_model.parameters())
    assert_no_hooks(trained_model)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert numpy_states_equal(np.random.get_state(), numpy_state)


class Failing(nn.Module):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.dropout = nn.Dropout()
        self.error = error

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise self.error


MODEL_ERRORS = {
    "bug": lambda: RuntimeError("model failure"),
    "out-of-memory": lambda: torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"),
    "devices": lambda: RuntimeError("Expected all tensors to be on the same device, but found at least two devices"),
}


@pytest.mark.parametrize("kind", MODEL_ERRORS)
def test_modes_restored_when_the_model_fails_and_its_error_is_not_rewritten(kind) -> None:
    error = MODEL_ERRORS[kind]()
    model = Failing(error)
    model.train()
    with pytest.raises(type(error)) as caught:
        numpy_predictor(model)(np.zeros((2, 28, 28)))
    assert caught.value is error  # not a ValueError about x's shape and dtype
    assert model.training and model.dropout.training


def test_images_for_a_flat_model_are_a_value_error_naming_nn_flatten() -> None:
    flat_model = nn.Sequential(linear(784, 10))
    with pytest.raises(ValueError, match=r"nn\.Flatten\(\)") as caught:
        numpy_predictor(flat_model)(np.zeros((2, 28, 28, 3)))  # LIME's layout, made (2, 1, 28, 28)
    assert "unsqueeze" not in str(caught.value)
    assert isinstance(caught.value.__cause__, RuntimeError)


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


def test_uint8_batch_is_a_type_error_naming_the_scaling(trained_model) -> None:
    predict = numpy_predictor(trained_model)
    with pytest.raises(TypeError, match=r"uint8.*batch / 255"):
        predict(np.zeros((2, 28, 28), dtype=np.uint8))


@pytest.mark.parametrize("batch", [[[0.0] * 784], "images", None, 3.0], ids=["list", "str", "none", "float"])
def test_non_array_batch_is_a_type_error(trained_model, batch) -> None:
    with pytest.raises(TypeError, match="batch must be a NumPy array"):
        numpy_predictor(trained_model)(batch)


@pytest.mark.parametrize("dtype", [bool, np.complex64, object])
def test_non_real_dtype_is_a_type_error(trained_model, dtype) -> None:
    with pytest.raises(TypeError, match="batch must hold real numbers"):
        numpy_predictor(trained_model)(np.zeros((2, 784), dtype=dtype))


@pytest.mark.parametrize("shape", [(784,), ()])
def test_batch_without_n_dimension_is_a_value_error_naming_the_fix(trained_model, shape) -> None:
    with pytest.raises(ValueError, match=r"first dimension n.*batch\[None\]"):
        numpy_predictor(trained_model)(np.zeros(shape))


@pytest.mark.parametrize("shape", [(2, 27, 27), (2, 783), (2, 28, 28, 2), (2, 2, 28, 28), (2, 28, 28, 4)])
def test_wrong_image_size_is_a_value_error_listing_the_layouts(trained_model, shape) -> None:
    with pytest.raises(ValueError, match=r"does not hold images of shape \(1, 28, 28\).*\(n, 784\)"):
        numpy_predictor(trained_model)(np.zeros(shape, dtype=np.float32))


def test_wrong_table_width_is_a_value_error_naming_the_shape() -> None:
    with pytest.raises(ValueError, match=r"the model cannot take x of shape \(2, 4\)"):
        numpy_predictor(linear(5, 3), image_shape=None)(np.zeros((2, 4)))


def test_float64_tables_reach_a_float64_model_unrounded() -> None:
    table = np.random.default_rng(3).standard_normal((4, 5))
    assert to_model_input(table, None, torch.float64).dtype == torch.float64
    torch.testing.assert_close(to_model_input(table, None, torch.float64), torch.from_numpy(table), rtol=0, atol=0)
    model = nn.Sequential(nn.Linear(5, 5, bias=False)).double()
    with torch.no_grad():
        model.get_parameter("0.weight").copy_(torch.eye(5, dtype=torch.float64))
    logits = numpy_predictor(model, score="logit", image_shape=None)(table)
    assert np.array_equal(logits, table)  # no float32 round trip on the way


@pytest.mark.parametrize("score", ["softmax", "probs", "", None, "Logit", "logits", "probabilities"])
def test_unknown_score_is_a_value_error_listing_the_options(trained_model, score) -> None:
    with pytest.raises(ValueError, match=r"score must be one of 'logit', 'probability'"):
        numpy_predictor(trained_model, score=score)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, "8", None])
def test_bad_batch_size_is_a_value_error(trained_model, batch_size) -> None:
    with pytest.raises(int_error(batch_size), match="batch_size must be a positive int"):
        numpy_predictor(trained_model, batch_size=batch_size)


@pytest.mark.parametrize("model", [None, lambda x: x, "model"], ids=["none", "function", "str"])
def test_non_module_model_is_a_type_error(model) -> None:
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        numpy_predictor(model)


def test_model_output_of_wrong_shape_is_a_value_error() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.Flatten(0))  # (n * 10,)
    with pytest.raises(ValueError, match=r"logits of shape \(N, classes\)"):
        numpy_predictor(model)(np.zeros((2, 784)))


# ---------------------------------------------------------------------------
# Regression tests: layouts that were once mishandled
# ---------------------------------------------------------------------------


def test_nchw_batch_of_width_three_is_accepted() -> None:
    batch = np.arange(24, dtype=np.float32).reshape(2, 1, 4, 3)
    assert torch.equal(to_model_input(batch, (1, 4, 3)), torch.from_numpy(batch))


def test_channels_last_rgb_for_a_three_channel_model_is_transposed() -> None:
    rgb = np.arange(12, dtype=np.float32).reshape(1, 2, 2, 3)
    expected = torch.from_numpy(rgb).permute(0, 3, 1, 2)
    assert torch.equal(to_model_input(rgb, (3, 2, 2)), expected)
