"""Helpers for the tests that check a function leaves the caller's model and random state alone."""

import contextlib
from collections.abc import Callable, Iterator

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


@contextlib.contextmanager
def global_rngs_untouched(seed: int = 123) -> Iterator[None]:
    """Seed torch's and NumPy's global generators, run the block, assert both states are unchanged."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    yield
    assert torch.equal(torch.get_rng_state(), torch_state), "the global torch generator was used"
    assert numpy_states_equal(np.random.get_state(), numpy_state), "the global NumPy generator was used"


def dropout_net(features: int, classes: int) -> nn.Module:
    """A small seeded MLP with Dropout (also nested), whose output depends on train/eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return nn.Sequential(
            nn.Linear(features, 8),
            nn.Dropout(0.5),
            nn.ReLU(),
            nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5)),
            nn.Linear(8, classes),
        )


def assert_model_untouched(model: nn.Module, params: dict[str, torch.Tensor], modes_before: list[bool]) -> None:
    """Same submodule modes and bit-identical weights as before, no gradients, no hooks left."""
    assert modes(model) == modes_before
    for name, value in model.state_dict().items():
        assert torch.equal(value, params[name])
    assert all(p.grad is None for p in model.parameters())
    assert_no_hooks(model)


MODE_SETTINGS = ("train", "eval", "train-but-one-eval", "eval-but-one-train")
"""Whole-model and mixed train/eval settings that a helper must restore exactly."""


def dropout_net_in(setting: str, features: int, classes: int) -> nn.Module:
    """:func:`dropout_net` put in one of :data:`MODE_SETTINGS` (mixed ones flip one submodule)."""
    model = dropout_net(features, classes)
    model.train(setting.startswith("train"))
    if setting.endswith("one-eval"):
        model.get_submodule("3").eval()
    elif setting.endswith("one-train"):
        model.get_submodule("3.1").train()
    return model


def cuda_forks_on_a_pretend_gpu(monkeypatch) -> list[list[int]]:
    """Make torch report one CUDA device, and record the devices each ``torch.random.fork_rng`` forks.

    Forking a CUDA device's generator initialises CUDA (seconds, and memory on a shared GPU), so
    CPU-only work must fork none. The recorded forks run on the CPU generator only, as nothing
    here has a GPU; ``devices=None`` (fork every device) is recorded as ``[-1]``.
    """
    forks: list[list[int]] = []
    fork_rng = torch.random.fork_rng

    def recording_fork_rng(devices=None, enabled=True, *args, **kwargs):
        forks.append([-1] if devices is None else list(devices))
        return fork_rng([], enabled, *args, **kwargs)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.random, "fork_rng", recording_fork_rng)
    return forks


def dropout_cnn(classes: int = 3) -> nn.Module:
    """A small seeded CNN for ``(N, 1, 8, 8)`` images: ``nn.ReLU`` modules, Dropout (also nested), whose output
    depends on train/eval mode. Its submodules ``"3"`` and ``"3.1"`` are named as :func:`dropout_net`'s."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.Dropout(0.5)),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(4 * 8 * 8, classes),
        )


def dropout_cnn_in(setting: str, classes: int = 3) -> nn.Module:
    """:func:`dropout_cnn` put in one of :data:`MODE_SETTINGS` (mixed ones flip one submodule)."""
    model = dropout_cnn(classes)
    model.train(setting.startswith("train"))
    if setting.endswith("one-eval"):
        model.get_submodule("3").eval()
    elif setting.endswith("one-train"):
        model.get_submodule("3.1").train()
    return model


@contextlib.contextmanager
def input_untouched(x: torch.Tensor) -> Iterator[None]:
    """Assert the block leaves ``x``'s values, ``requires_grad`` and ``.grad`` (``None`` or not) as they were."""
    values, requires_grad = x.detach().clone(), x.requires_grad
    grad = None if x.grad is None else x.grad.clone()
    yield
    assert torch.equal(x.detach(), values), "x's values changed"
    assert x.requires_grad is requires_grad, "x's requires_grad changed"
    if grad is None:
        assert x.grad is None, "x got a .grad"
    else:
        assert x.grad is not None and torch.equal(x.grad, grad), "x's .grad changed"


def pass_sizes(model: nn.Module, run: Callable[[], object]) -> list[int]:
    """The batch size of each forward pass of ``model`` while ``run()`` runs."""
    sizes: list[int] = []
    handle = model.register_forward_pre_hook(lambda _, args: sizes.append(args[0].shape[0]))
    try:
        run()
    finally:
        handle.remove()
    return sizes
