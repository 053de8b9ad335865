"""Argument checks shared by every public helper.

Each check returns the argument (converted where that is its job) or raises: ``TypeError`` for
an argument of the wrong type, ``ValueError`` for one of the right type with a wrong value.
The message names the argument and the fix.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Literal, TypeAlias

import numpy as np
import torch
from torch import nn

Target: TypeAlias = int | Sequence[int] | np.ndarray | torch.Tensor | None
"""A class to explain: ``None`` (each input's predicted class), one ``int`` for the
whole batch, or one class per input (a sequence or 1-D integer tensor of length N)."""

Score = Literal["logit", "probability"]
"""The score S_c a helper explains or measures: the class's ``"logit"`` (the default everywhere)
or its softmax ``"probability"``."""
SCORES: tuple[str, ...] = ("logit", "probability")


def check_model(model: object) -> nn.Module:
    """Return ``model`` if it is an ``nn.Module``; raise ``TypeError`` otherwise."""
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module, got {type(model).__name__}. "
            "Wrap a plain function in an nn.Module whose forward() calls it."
        )
    return model


def check_int(value: object, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an ``int`` (Python or NumPy integer, not ``bool``) in ``[minimum, maximum]``."""
    if maximum is not None:
        wanted = f"an int between {minimum} and {maximum}"
    else:
        wanted = {1: "a positive int", 0: "a non-negative int"}.get(minimum, f"an int of at least {minimum}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {wanted}, got {type(value).__name__} {value!r}.")
    number = int(value)
    if number < minimum or (maximum is not None and number > maximum):
        raise ValueError(f"{name} must be {wanted}, got {value!r}.")
    return number


def check_real(value: object, name: str, *, minimum: float | None = None, positive: bool = False) -> float:
    """``value`` as a finite ``float`` (not ``bool``), at least ``minimum`` or above 0 if ``positive``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}.")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    if positive and not number > 0:
        raise ValueError(f"{name} must be positive, got {value!r}.")
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be at least {minimum:g}, got {value!r}.")
    return number


def check_bool(value: object, name: str) -> bool:
    """``value`` if it is ``True`` or ``False``; ``TypeError`` otherwise."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def check_choice(value: object, name: str, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``; ``ValueError`` naming them otherwise."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}.")
    return value


def check_score(score: object) -> Score:
    """``score`` if it is ``"logit"`` or ``"probability"``."""
    return check_choice(score, "score", SCORES)  # type: ignore[return-value]


def check_batch(x: object, name: str = "x") -> torch.Tensor:
    """Return ``x`` if it is a non-empty floating-point batch ``(N, ...)``.

    Raises ``TypeError`` for NumPy arrays, non-tensors and integer tensors, and
    ``ValueError`` for a tensor without a batch dimension or with N = 0.
    """
    if isinstance(x, np.ndarray):
        raise TypeError(
            f"{name} must be a torch.Tensor, got a NumPy array. Convert it with torch.from_numpy({name}).float()."
        )
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, ...), got {type(x).__name__}.")
    if not x.is_floating_point():
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


def check_images(x: object, name: str = "x", *, why: str) -> torch.Tensor:
    """Return ``x`` if it is a float image batch ``(N, C, H, W)``; ``ValueError`` saying ``why`` otherwise."""
    batch = check_batch(x, name)
    if batch.dim() != 4:
        raise ValueError(
            f"{name} must be an image batch (N, C, H, W), got shape {tuple(batch.shape)}: {why}. "
            f"For a single image (C, H, W), add the batch dimension with {name}.unsqueeze(0)."
        )
    return batch


def check_images_or_table(x: object, name: str = "x") -> bool:
    """Check that ``x`` is a greyscale image batch ``(N, 1, H, W)`` or a table ``(N, F)``.

    Returns ``True`` for a table. For the explainers that treat the two differently
    (superpixels for images, features for tables).
    """
    batch = check_batch(x, name)
    if batch.dim() == 2:
        return True
    if batch.dim() != 4 or batch.shape[1] != 1:
        raise ValueError(
            f"{name} must be a greyscale image batch (N, 1, H, W) or a table (N, F), got shape "
            f"{tuple(batch.shape)}. For one image, add the batch dimension with {name}.unsqueeze(0)."
        )
    return False


def check_unit_range(x: torch.Tensor, name: str, why: str) -> torch.Tensor:
    """Return ``x`` if its values are on the [0, 1] scale; ``ValueError`` saying ``why`` the method needs it.

    Small excursions (noise added to an image) are allowed: values must lie in [-0.5, 1.5], which
    catches images on the 0-255 scale and standardised ones.
    """
    low, high = float(x.detach().min()), float(x.detach().max())
    if low < -0.5 or high > 1.5:
        hint = " (divide 0-255 pixel values by 255, as transforms.ToTensor() does)" if high > 1.5 else ""
        raise ValueError(
            f"{name} must hold images on the [0, 1] scale, got values in [{low:g}, {high:g}]{hint}: {why}."
        )
    return x


def target_indices(target: Target, n: int, name: str = "target") -> torch.Tensor | None:
    """``target`` as a ``(n,)`` long CPU tensor (``None`` stays ``None``), its type and length checked.

    The classes' range is checked by :func:`resolve_target`, once the model's logits are known.
    """
    if target is None:
        return None
    if isinstance(target, (bool, np.bool_)):
        raise TypeError(f"{name} must be None, an int or a sequence of ints, got a bool.")
    if isinstance(target, numbers.Integral):
        index = int(target)
        if not -(2**63) <= index < 2**63:  # no tensor holds it; smaller ones are checked against the logits
            raise ValueError(f"{name} {target} is out of range: a class index lies in 0..classes - 1.")
        return torch.full((n,), index, dtype=torch.long)
    if isinstance(target, torch.Tensor):
        indices = target.detach().cpu()
    elif isinstance(target, (Sequence, np.ndarray)) and not isinstance(target, (str, bytes)):
        array = np.asarray(target)
        if array.dtype == object:  # a number too large for any integer type, or a mix of types
            raise ValueError(f"{name} must hold class indices, one per input; got {target!r}.")
        indices = torch.as_tensor(array)
    else:
        raise TypeError(f"{name} must be None, an int, or a sequence/1-D tensor of ints, got {type(target).__name__}.")
    if indices.dim() == 0:
        indices = indices.reshape(1).expand(n)
    if indices.dim() != 1 or indices.shape[0] != n:
        raise ValueError(
            f"{name} must give one class per input: length {n}, got shape {tuple(indices.shape)}. "
            "Pass an int to use the same class for every input."
        )
    if indices.is_floating_point() or indices.is_complex() or indices.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer class indices, got dtype {indices.dtype}.")
    return indices.long()


def resolve_target(target: Target, logits: torch.Tensor, name: str = "target") -> torch.Tensor:
    """Turn ``target`` into a ``(N,)`` long tensor of class indices on the logits' device.

    ``logits``: ``(N, classes)``. ``None`` picks ``logits.argmax(1)``.
    """
    n, classes = logits.shape
    indices = target_indices(target, n, name)
    if indices is None:
        return logits.detach().argmax(dim=1)
    bad = (indices < 0) | (indices >= classes)
    if bool(bad.any()):
        raise ValueError(
            f"{name} {indices[bad][0].item()} is out of range: the model has {classes} classes, "
            f"so a class must lie in 0..{classes - 1}."
        )
    return indices.to(logits.device)
