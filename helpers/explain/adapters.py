"""From NumPy batches to the torch model and back: the prediction function LIME and SHAP call."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from helpers._checks import Score, check_int, check_model, check_score
from helpers._running import BATCH_SIZE, call_model, evaluation_mode, scores_from_logits


def to_model_input(
    batch: np.ndarray, image_shape: tuple[int, ...] | None = (1, 28, 28), dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """A ``dtype`` tensor ``(n, *image_shape)`` from a NumPy batch in any of the layouts explainers use.

    Images (``image_shape`` given): ``(n, H, W, 3)`` RGB as LIME sends it (the channels are
    averaged; LIME's grey-to-RGB copies one channel three times), ``(n, H, W, 1)`` as SHAP's
    image maskers send it, ``(n, H, W)``, ``(n, 1, H, W)``, or ``(n, H * W)`` flattened.
    Tables (``image_shape=None``): ``(n, F)``, passed through. What :func:`numpy_predictor`
    does to each batch LIME or Kernel SHAP sends (notebook 05).

    Examples::

        >>> import numpy as np
        >>> from helpers import to_model_input
        >>> to_model_input(np.zeros((5, 28, 28, 3))).shape  # LIME's RGB batch, channels last
        torch.Size([5, 1, 28, 28])
        >>> grey = np.full((1, 28, 28), 0.5)
        >>> rgb = np.stack([grey, grey, grey], axis=-1)  # the grey image copied into 3 channels, as LIME does
        >>> bool((to_model_input(rgb) == 0.5).all())  # averaging the channels gives the grey image back
        True
    """
    if isinstance(batch, torch.Tensor):
        batch = batch.detach().cpu().numpy()
    if not isinstance(batch, np.ndarray):
        raise TypeError(f"batch must be a NumPy array, got {type(batch).__name__}.")
    if batch.dtype == np.uint8:
        raise TypeError("batch holds uint8 pixels; pass floats in the model's range, e.g. batch / 255.")
    if not np.issubdtype(batch.dtype, np.number) or np.issubdtype(batch.dtype, np.complexfloating):
        raise TypeError(f"batch must hold real numbers, got dtype {batch.dtype}.")
    if batch.ndim < 2:
        raise ValueError(
            f"batch must have a first dimension n, got shape {batch.shape}; use batch[None] for one input."
        )
    array = batch.astype(np.float64 if dtype == torch.float64 else np.float32, copy=False)
    if image_shape is None:
        return torch.from_numpy(np.ascontiguousarray(array)).to(dtype)
    channels = image_shape[0]
    if array.shape[1:] == tuple(image_shape):
        pass  # already (n, C, H, W)
    elif array.ndim == 4 and array.shape[-1] == 3 and channels == 3:
        array = array.transpose(0, 3, 1, 2)  # channels-last RGB for an RGB model
    elif array.ndim == 4 and array.shape[-1] == 3:
        array = array.mean(axis=-1)
    elif array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    expected = int(np.prod(image_shape))
    if int(np.prod(array.shape[1:])) != expected:
        raise ValueError(
            f"batch of shape {batch.shape} does not hold images of shape {image_shape}; expected "
            f"(n, H, W, 3), (n, H, W, 1), (n, H, W), (n, 1, H, W) or (n, {expected})."
        )
    return torch.from_numpy(np.ascontiguousarray(array.reshape(len(array), *image_shape))).to(dtype)


def numpy_predictor(
    model: nn.Module,
    *,
    score: Score = "logit",
    image_shape: tuple[int, ...] | None = (1, 28, 28),
    batch_size: int = BATCH_SIZE,
) -> Callable[[np.ndarray], np.ndarray]:
    """A function ``f(batch) -> (n, classes)`` float64 array, for LIME's ``classifier_fn`` or SHAP.

    Derived in notebook 05, section "LIME from scratch". The batch may come in any
    layout :func:`to_model_input` accepts. The model runs under ``torch.no_grad()`` in eval mode
    (each submodule's mode restored), ``batch_size`` inputs at a time (LIME's own default of 10
    is slow). ``score`` is ``"logit"`` or ``"probability"`` (softmax, LIME's own convention).

    Examples::

        >>> import numpy as np
        >>> from torch import nn
        >>> from helpers import numpy_predictor
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
        >>> predict = numpy_predictor(model, score="probability")
        >>> predict(np.zeros((4, 28, 28, 3))).shape, round(float(predict(np.zeros((1, 784))).sum()), 6)
        ((4, 10), 1.0)
    """
    check_model(model)
    check_score(score)
    batch_size = check_int(batch_size, "batch_size")

    def predict(batch: np.ndarray) -> np.ndarray:
        parameter = next(model.parameters(), None)
        inputs = to_model_input(batch, image_shape, torch.float32 if parameter is None else parameter.dtype)
        if parameter is not None:
            inputs = inputs.to(parameter.device)
        results = []
        with evaluation_mode(model), torch.no_grad():
            for start in range(0, len(inputs), batch_size):
                chunk = inputs[start : start + batch_size]
                logits = call_model(model, chunk)
                results.append(scores_from_logits(logits, score))
        return torch.cat(results).cpu().double().numpy()

    return predict
