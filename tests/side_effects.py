"""Helpers for the tests that check a function leaves the caller's model and random state alone."""

import numpy as np
import torch
from torch import nn


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of every parameter and buffer, to compare bit for bit afterwards."""
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def modes(model: nn.Module) -> list[bool]:
    """The train/eval flag of every submodule, in order."""
    return [module.training for module in model.modules()]


def assert_no_hooks(model: nn.Module) -> None:
    """No forward or backward hook is left on any submodule."""
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks
        assert not module._backward_hooks and not getattr(module, "_backward_pre_hooks", {})


def numpy_states_equal(a, b) -> bool:
    """Whether two ``np.random.get_state()`` tuples are the same state."""
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]
