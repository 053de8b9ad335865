"""Guided Backpropagation (Springenberg et al., 2015): the gradient with every ReLU's backward made "guided".

A ReLU's ordinary backward passes the incoming gradient where its forward input was positive.
The guided rule also drops the negative part of that gradient: only positive gradients, and
only where the forward input was positive, go through. The rule is swapped in with hooks on
the model's ``nn.ReLU`` modules (as Captum's ``GuidedBackprop`` does), so a ReLU applied as a
function (``F.relu``, ``torch.relu``, ``x.relu()`` in ``forward``) would silently keep the plain
rule: such a model is refused (see :func:`guided_backprop`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.hooks import RemovableHandle

from helpers._checks import Target, check_batch, check_int, check_model, target_indices
from helpers._running import BATCH_SIZE
from helpers.explain._gradient import logits_and_input_gradient
from helpers.explain.contrast import explain_contrast

_RELU_FUNCTIONS: frozenset[Callable[..., Any]] = frozenset(
    {F.relu, F.relu_, torch.relu, torch.relu_, torch.Tensor.relu, torch.Tensor.relu_}
)
"""The functions a ReLU is computed with: ``nn.ReLU`` calls ``F.relu``; ``F.relu_`` is ``torch.relu_``."""

_ONE_MODULE_PER_ACTIVATION = (
    "Guided Backprop changes the backward rule of nn.ReLU modules only. Use one nn.ReLU module per "
    "activation: create it in __init__ (self.relu1 = nn.ReLU()) and call it in forward() "
    "(x = self.relu1(x)) instead of F.relu(x), torch.relu(x) or x.relu()."
)


def _positive(gradient: torch.Tensor) -> torch.Tensor:
    """The guided rule's half that the ReLU's own backward lacks: keep only positive gradients."""
    return gradient.clamp(min=0)


class _FunctionalReluGuard(TorchFunctionMode):
    """Raises ``ValueError`` at a ReLU computed outside every ``nn.ReLU`` module (``depth`` counts those running)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        if self.depth == 0 and func in _RELU_FUNCTIONS:
            name = getattr(func, "__qualname__", getattr(func, "__name__", "relu"))
            raise ValueError(
                f"the model applies a ReLU as a function ({name}) outside any nn.ReLU module, so Guided "
                f"Backprop could not guide it: that ReLU would keep the plain gradient. {_ONE_MODULE_PER_ACTIVATION}"
            )
        return func(*args, **(kwargs or {}))


def check_guidable(model: nn.Module) -> list[nn.Module]:
    """``model``'s ``nn.ReLU`` modules; ``ValueError`` if it has none (nothing to guide)."""
    check_model(model)
    relus: list[nn.Module] = [module for module in model.modules() if isinstance(module, nn.ReLU)]
    if not relus:
        raise ValueError(
            "the model has no nn.ReLU module, so Guided Backprop would have no ReLU to guide and would "
            "return the plain gradient (saliency(model, x, reduce='signed')). " + _ONE_MODULE_PER_ACTIVATION
        )
    return relus


@contextlib.contextmanager
def guided_relus(model: nn.Module) -> Iterator[None]:
    """Inside the block, every ``nn.ReLU`` of ``model`` back-propagates by the guided rule, and a ReLU
    computed outside those modules raises ``ValueError``. Every hook is removed on the way out, also
    when the block raises."""
    relus = check_guidable(model)
    guard = _FunctionalReluGuard()

    def enter(module: nn.Module, args: tuple[Any, ...]) -> None:
        guard.depth += 1

    def leave(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        guard.depth -= 1
        if isinstance(output, torch.Tensor) and output.requires_grad:
            # The ReLU's own backward then multiplies by (input > 0): positive gradients where the input was positive.
            output.register_hook(_positive)

    handles: list[RemovableHandle] = []
    try:
        for relu in relus:
            handles.append(relu.register_forward_pre_hook(enter))
            handles.append(relu.register_forward_hook(leave, always_call=True))
        with guard:
            yield
    finally:
        for handle in handles:
            handle.remove()


def guided_backprop(
    model: nn.Module, x: torch.Tensor, target: Target = None, *, contrast: Target = None, batch_size: int = BATCH_SIZE
) -> torch.Tensor:
    """Guided Backprop (Springenberg et al., 2015): dS_c/dx with each ReLU's backward replaced by the guided rule.

    Derived in notebook 04. Back through a ReLU whose forward input was ``z``, the plain gradient
    passes ``g * (z > 0)``; the guided rule passes ``max(g, 0) * (z > 0)``, so only evidence *for*
    the class flows back, which gives the sharp, edge-like maps of the paper. The result is signed
    (negative values come from the negative weights between the input and the first ReLU), ``(N, ...)`` like ``x``, and
    equals Captum's ``GuidedBackprop(model).attribute(x, target)``. One forward and one backward
    pass per ``batch_size`` inputs.

    The rule is applied to the model's ``nn.ReLU`` modules (each call of one), by hooks that are
    removed afterwards, even when the call raises. A ReLU applied as a function cannot be hooked,
    so the forward pass runs under a ``torch.overrides.TorchFunctionMode`` that watches for
    ``F.relu``, ``F.relu_``, ``torch.relu``, ``torch.relu_``, ``Tensor.relu`` and ``Tensor.relu_``
    called while no ``nn.ReLU`` module is running, and raises ``ValueError`` naming the fix (one
    ``nn.ReLU`` module per activation); so does a model without any ``nn.ReLU`` module. What this
    cannot see: a ReLU written another way (``x.clamp(min=0)``, ``torch.maximum(x, zero)``,
    ``x * (x > 0)``, ``F.threshold``), which keeps the plain rule; ReLUs inside TorchScript or
    compiled code, C++ extensions or anything else that bypasses Python's torch-function
    dispatch; and ReLUs on a branch of ``forward`` that this input does not take. Other
    activations (``nn.LeakyReLU``, ``nn.GELU``, ...) keep their plain gradient, as in Captum.

    Args:
        model, x, target: as in :func:`helpers.saliency`; ``model`` must use ``nn.ReLU`` modules.
        contrast: as in :func:`helpers.saliency`: explain ``S_target - S_contrast`` instead of ``S_target``.
        batch_size: inputs per forward and backward pass.

    Returns:
        A detached tensor with ``x``'s shape, dtype and device.

    Examples::

        >>> import torch
        >>> from torch import nn
        >>> from helpers import guided_backprop, saliency
        >>> model = nn.Sequential(nn.Linear(1, 2, bias=False), nn.ReLU(), nn.Linear(2, 1, bias=False))
        >>> with torch.no_grad():
        ...     _ = model[0].weight.copy_(torch.tensor([[1.0], [2.0]]))
        ...     _ = model[2].weight.copy_(torch.tensor([[1.0, -1.0]]))
        >>> x = torch.tensor([[1.0]])  # both hidden units are active: S = 1 * 1 - 1 * 2
        >>> saliency(model, x, 0, reduce="signed")  # 1 * 1 + 2 * (-1)
        tensor([[-1.]])
        >>> guided_backprop(model, x, 0)  # the gradient -1 into the second unit stops at its ReLU: 1 * 1 + 2 * 0
        tensor([[1.]])
    """
    if contrast is not None:
        return explain_contrast(guided_backprop, model, x, target, contrast, batch_size=batch_size)
    check_model(model)
    check_batch(x, "x")
    check_int(batch_size, "batch_size")
    target_indices(target, len(x))  # a wrong target's type or length is named before the ReLUs are checked
    with guided_relus(model):
        gradient, _, _ = logits_and_input_gradient(model, x, target, batch_size=batch_size)
    return gradient
