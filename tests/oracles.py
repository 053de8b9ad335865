"""What the tests of the explainers checked against Captum share: a seeded build, the predicted class, and equality."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

T = TypeVar("T")


def seeded(build: Callable[[], T]) -> T:
    """``build()`` with seed 0, leaving the global RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return build()


def predicted(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The class ``model`` predicts for each input, ``(N,)``."""
    with torch.no_grad():
        return model(x).argmax(1)


def assert_equal_to(result: torch.Tensor, expected: torch.Tensor) -> None:
    """Equal to 1e-5, absolutely and relative to the map's largest value (an untrained model's maps are small)."""
    scale = float(expected.abs().max())
    assert scale > 0  # not vacuous
    torch.testing.assert_close(result, expected, atol=1e-5 * min(1.0, scale), rtol=0)
