"""Argument checks and side-effect guards shared by the attribution helpers.

Every public helper that takes ``(model, x, target)`` runs its arguments through
these functions, so that bad input fails early with a message that names the
argument and the fix, and so that no helper leaves a model in another mode.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Union

import numpy as np
import torch
from torch import nn

Target = Union[None, int, Sequence[int], np.ndarray, torch.Tensor]
"""A class to explain: ``None`` (each input's predicted class), one ``int`` for the
whole batch, or one class per input (a sequence or 1-D integer tensor of length N)."""


def check_model(model: object) -> nn.Module:
    """Return ``model`` if it is an ``nn.Module``; raise ``TypeError`` otherwise."""
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module, got {type(model).__name__}. "
            "Wrap a plain function in an nn.Module whose forward() calls it."
        )
    return model


def check_batch(x: object, name: str = "x") -> torch.Tensor:
    """Return ``x`` if it is a non-empty floating-point batch ``(N, ...)``.

    Raises ``TypeError`` for NumPy arrays, non-tensors and integer tensors, and
    ``ValueError`` for a tensor without a batch dimension or with N = 0.
    """
    if isinstance(x, np.ndarray):
        raise TypeError(
            f"{name} must be a torch.Tensor, got a NumPy array. "
            f"Convert it with torch.from_numpy({name}).float()."
        )
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, ...), got {type(x).__name__}.")
    if not (x.is_floating_point()):
        raise TypeError(
            f"{name} has dtype {x.dtype}; gradients need floating-point inputs. "
            f"Convert it with {name}.float() (and divide 0-255 pixel values by 255, "
            "as transforms.ToTensor() does)."
        )
    if x.dim() < 2:
        raise ValueError(
            f"{name} must be a batch whose first dimension is N, got shape {tuple(x.shape)}. "
            f"For a single input, add the batch dimension with {name}.unsqueeze(0)."
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (N = 0); pass at least one input.")
    return x


def check_images_or_table(x: object, name: str = "x") -> bool:
    """Check that ``x`` is a greyscale image batch ``(N, 1, H, W)`` or a table ``(N, F)``.

    Returns ``True`` for a table. For the explainers that treat the two differently
    (superpixels for images, features for tables).
    """
    check_batch(x, name)
    if x.dim() == 2:  # type: ignore[union-attr]
        return True
    if x.dim() != 4 or x.shape[1] != 1:  # type: ignore[union-attr]
        raise ValueError(
            f"{name} must be a greyscale image batch (N, 1, H, W) or a table (N, F), got shape "
            f"{tuple(x.shape)}. For one image, add the batch dimension with {name}.unsqueeze(0)."  # type: ignore[union-attr]
        )
    return False


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


def call_model(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``model(x)``, checked to be logits ``(N, classes)``.

    A ``RuntimeError`` from inside the model (usually ``x`` of the wrong shape or dtype
    for it, such as a table given to an image model) becomes a ``ValueError`` that says so.
    """
    try:
        logits = model(x)
    except RuntimeError as err:
        raise ValueError(
            f"the model raised an error on x of shape {tuple(x.shape)} and dtype {x.dtype}: {err}. "
            "Check that x has the shape and dtype the model expects; if x is a single input, "
            "add the batch dimension with x.unsqueeze(0)."
        ) from err
    return check_logits(logits, x.shape[0])


def resolve_target(target: Target, logits: torch.Tensor) -> torch.Tensor:
    """Turn ``target`` into a ``(N,)`` long tensor of class indices on the logits' device.

    ``logits``: ``(N, classes)``. ``None`` picks ``logits.argmax(1)``.
    """
    n, classes = logits.shape
    if target is None:
        return logits.detach().argmax(dim=1)
    if isinstance(target, bool):
        raise TypeError("target must be None, an int or a sequence of ints, got a bool.")
    if isinstance(target, (int, np.integer)):
        if not 0 <= int(target) < classes:
            raise ValueError(
                f"target {int(target)} is out of range: the model has {classes} classes, "
                f"so a target must lie in 0..{classes - 1}."
            )
        return torch.full((n,), int(target), dtype=torch.long, device=logits.device)
    if isinstance(target, torch.Tensor):
        indices = target.detach().cpu()
    elif isinstance(target, (Sequence, np.ndarray)) and not isinstance(target, (str, bytes)):
        indices = torch.as_tensor(np.asarray(target))
    else:
        raise TypeError(
            f"target must be None, an int, or a sequence/1-D tensor of ints, got {type(target).__name__}."
        )
    if indices.dim() == 0:
        indices = indices.reshape(1).expand(n)
    if indices.dim() != 1 or indices.shape[0] != n:
        raise ValueError(
            f"target must give one class per input: length {n}, got shape {tuple(indices.shape)}. "
            "Pass an int to use the same class for every input."
        )
    if indices.is_floating_point() or indices.is_complex() or indices.dtype == torch.bool:
        raise TypeError(f"target must hold integer class indices, got dtype {indices.dtype}.")
    indices = indices.long()
    bad = (indices < 0) | (indices >= classes)
    if bool(bad.any()):
        raise ValueError(
            f"target {indices[bad][0].item()} is out of range: the model has {classes} classes, "
            f"so a target must lie in 0..{classes - 1}."
        )
    return indices.to(logits.device)


@contextlib.contextmanager
def preserved_global_rng(seed: int | None = None) -> Iterator[None]:
    """Run a block with torch's global generators (CPU and every CUDA device) forked, optionally seeded.

    For library code that can only draw from the global generators (``reset_parameters``,
    SHAP): the caller's random state is put back afterwards.
    """
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        if seed is not None:
            torch.manual_seed(seed)
        yield


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
