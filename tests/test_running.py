"""helpers._running: running the caller's model in eval mode, with its output checked and its errors left alone.

``call_model`` turns a ``RuntimeError`` that says x has the wrong shape or dtype for the model into a
``ValueError`` with the fix, chained to the original; every other error from inside the model (out of
memory, tensors on different devices, a bug in the model) propagates as it was raised.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers._running import BATCH_SIZE, call_model, check_logits, evaluation_mode, scores_from_logits

from side_effects import MODE_SETTINGS, dropout_net_in, modes

OUT_OF_MEMORY = "CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 15.77 GiB total capacity)"
DEVICES = "Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!"


class Raising(nn.Module):
    """A model whose forward raises the given error (after a real layer, so it has parameters)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 3)
        self.error = error

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.linear(x)
        raise self.error


def model_errors() -> dict[str, BaseException]:
    """Errors a model can raise that say nothing about x's shape or dtype: fresh instances each time."""
    return {
        "out-of-memory": torch.OutOfMemoryError(OUT_OF_MEMORY),
        "devices": RuntimeError(DEVICES),
        "bug-in-the-model": RuntimeError("the model's forward has a bug"),
        "not-a-runtime-error": KeyError("layer"),
    }


@pytest.mark.parametrize("kind", list(model_errors()))
def test_errors_that_are_not_about_shape_or_dtype_propagate_unchanged(kind) -> None:
    error = model_errors()[kind]
    with pytest.raises(type(error)) as caught:
        call_model(Raising(error), torch.zeros(2, 4))
    assert caught.value is error  # the very object raised: not rewritten, not wrapped
    assert not isinstance(caught.value, ValueError)


def test_out_of_memory_keeps_its_type_and_message() -> None:
    with pytest.raises(torch.OutOfMemoryError, match=r"^CUDA out of memory\. Tried to allocate 20\.00 GiB"):
        call_model(Raising(torch.OutOfMemoryError(OUT_OF_MEMORY)), torch.zeros(2, 4))


def test_a_convolutions_device_error_stays_a_runtime_error_though_it_names_types() -> None:
    # PyTorch's message for an input on the GPU and a convolution's weight on the CPU speaks of types
    message = (
        "Input type (torch.cuda.FloatTensor) and weight type (torch.FloatTensor) should be the same "
        "or input should be a MKLDNN tensor and weight is a dense tensor"
    )
    error = RuntimeError(message)
    with pytest.raises(RuntimeError) as caught:
        call_model(Raising(error), torch.zeros(2, 4))
    assert caught.value is error


def test_a_shape_error_becomes_a_value_error_chained_to_the_original() -> None:
    with pytest.raises(ValueError, match=r"the model cannot take x of shape \(2, 5\)") as caught:
        call_model(nn.Linear(6, 3), torch.zeros(2, 5))
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert "shapes cannot be multiplied" in str(caught.value.__cause__)


def test_a_dtype_error_becomes_a_value_error_naming_the_conversion() -> None:
    with pytest.raises(ValueError, match=r"dtype torch\.float64.*x\.to\(torch\.float32\)") as caught:
        call_model(nn.Linear(4, 3), torch.zeros(2, 4, dtype=torch.float64))
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_images_given_to_a_flat_model_name_nn_flatten_not_unsqueeze() -> None:
    flat_model = nn.Sequential(nn.Linear(784, 10))
    with pytest.raises(ValueError, match=r"make nn\.Flatten\(\) its first layer") as caught:
        call_model(flat_model, torch.zeros(3, 1, 28, 28))
    assert "(N, 784)" in str(caught.value)
    assert "unsqueeze" not in str(caught.value)


def test_one_image_without_its_batch_dimension_names_unsqueeze() -> None:
    with pytest.raises(ValueError, match=r"x\.unsqueeze\(0\)"):
        call_model(nn.Sequential(nn.Linear(784, 10)), torch.zeros(1, 28, 28))


def test_a_good_call_returns_the_logits() -> None:
    model = nn.Linear(4, 3)
    x = torch.rand(5, 4)
    with torch.no_grad():
        assert torch.equal(call_model(model, x), model(x))


@pytest.mark.parametrize("shape", [(5,), (5, 3, 1), (1, 15), (4, 3)])
def test_logits_of_the_wrong_shape_are_a_value_error(shape) -> None:
    with pytest.raises(ValueError, match=r"logits of shape \(N, classes\) = \(5, classes\)"):
        check_logits(torch.zeros(shape), 5)
    with pytest.raises(ValueError, match="tensor of logits"):
        check_logits([[0.0]] * 5, 5)


@pytest.mark.parametrize("setting", MODE_SETTINGS)
def test_evaluation_mode_restores_each_submodules_own_mode_even_after_an_error(setting) -> None:
    model = dropout_net_in(setting, 4, 3)
    before = modes(model)
    seen = []

    def fail_inside() -> None:
        with evaluation_mode(model):
            seen.append(modes(model))
            raise KeyError("inside")

    with pytest.raises(KeyError):
        fail_inside()
    assert seen == [[False] * len(before)]
    assert modes(model) == before


def test_scores_are_the_logits_or_their_softmax() -> None:
    logits = torch.tensor([[1.0, 2.0, 3.0]])
    assert scores_from_logits(logits, "logit") is logits
    torch.testing.assert_close(scores_from_logits(logits, "probability"), logits.softmax(dim=1))
    assert isinstance(BATCH_SIZE, int) and BATCH_SIZE > 0
