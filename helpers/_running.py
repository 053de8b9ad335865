"""Running the caller's model: in eval mode, restored afterwards, with its output checked."""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator

import torch
from torch import nn

from helpers._checks import Score

BATCH_SIZE = 2048
"""Default ``batch_size`` of every helper: how many inputs go through the model in one pass."""

_SHAPE_OR_DTYPE = re.compile(
    r"shapes cannot be multiplied|size mismatch|must match the size|is invalid for input of size"
    r"|Expected \dD .*input|expected input\[.*channels|Given groups=|Calculated padded input size"
    r"|Given input size|scalar type|same dtype|dtype|Input type \(\w+\) and \w+ type",
    re.IGNORECASE,
)
_DEVICE = re.compile(r"device|cuda", re.IGNORECASE)


@contextlib.contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put every submodule in eval mode, then restore each one's own previous mode."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training


def check_logits(logits: object, n: int) -> torch.Tensor:
    """Return the model's output if it has shape ``(n, classes)``; raise ``ValueError`` otherwise."""
    if not isinstance(logits, torch.Tensor):
        raise ValueError(f"the model must return a tensor of logits (N, classes), got {type(logits).__name__}.")
    if logits.dim() != 2 or logits.shape[0] != n:
        raise ValueError(
            f"the model must return logits of shape (N, classes) = ({n}, classes), "
            f"got {tuple(logits.shape)}. Return one score per class, before any softmax."
        )
    return logits


def _shape_hint(model: nn.Module, x: torch.Tensor, message: str) -> str:
    parameter = next(model.parameters(), None)
    if "type" in message.lower() and parameter is not None and parameter.dtype != x.dtype:
        return f"The model expects {parameter.dtype}: convert x with x.to({parameter.dtype})."
    flatten = f"if the model expects flat inputs (N, {math.prod(x.shape[1:])}), make nn.Flatten() its first layer"
    if "shapes cannot be multiplied" in message and x.dim() >= 4:
        return f"A linear layer received x's trailing dimensions unflattened: {flatten}."
    if "shapes cannot be multiplied" in message and x.dim() == 3:
        return f"If x is a single image (C, H, W), add the batch dimension with x.unsqueeze(0); {flatten}."
    return (
        f"Pass inputs of the shape the model was built for: x is read as a batch of N = {x.shape[0]} inputs "
        f"of shape {tuple(x.shape[1:])}."
    )


def call_model(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``model(x)``, checked to be logits ``(N, classes)``.

    A ``RuntimeError`` from inside the model that says ``x`` has the wrong shape or dtype for
    it becomes a ``ValueError`` with the likely fix (chained to the original). Every other
    error (out of memory, tensors on different devices, a bug in the model) propagates as it is.
    """
    try:
        logits = model(x)
    except RuntimeError as err:
        message = str(err)
        if isinstance(err, torch.OutOfMemoryError) or _DEVICE.search(message) or not _SHAPE_OR_DTYPE.search(message):
            raise
        raise ValueError(
            f"the model cannot take x of shape {tuple(x.shape)} and dtype {x.dtype}: {message.strip()}. "
            + _shape_hint(model, x, message)
        ) from err
    return check_logits(logits, x.shape[0])


def batched_logits(model: nn.Module, x: torch.Tensor, batch_size: int = BATCH_SIZE) -> torch.Tensor:
    """``model``'s logits ``(N, classes)`` for ``x`` ``(N, ...)``, ``batch_size`` inputs per pass, without
    gradients, in eval mode (each submodule's mode restored)."""
    with evaluation_mode(model), torch.no_grad():
        return torch.cat([call_model(model, x[start : start + batch_size]) for start in range(0, len(x), batch_size)])


def scores_from_logits(logits: torch.Tensor, score: Score) -> torch.Tensor:
    """``logits`` ``(N, classes)`` unchanged for ``"logit"``, their softmax for ``"probability"``."""
    return logits.softmax(dim=1) if score == "probability" else logits
