"""Vanilla saliency (Simonyan, Vedaldi & Zisserman, 2013): M(x) = |dS_c(x)/dx|."""

from __future__ import annotations

import torch
from torch import nn

from helpers._checks import Target
from helpers._running import BATCH_SIZE
from helpers.explain._gradient import Reduce, apply_reduce, check_reduce, logits_and_input_gradient
from helpers.explain.contrast import explain_contrast


def saliency(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    *,
    contrast: Target = None,
    reduce: Reduce = "abs",
    batch_size: int = BATCH_SIZE,
) -> torch.Tensor:
    """Saliency map M(x) = |dS_c(x)/dx| for a whole batch: one forward and one backward pass per ``batch_size`` inputs.

    Derived in notebook 01 (the formula) and used on the CNN from notebook 02 on.

    Args:
        model: a classifier mapping ``(N, ...)`` to logits ``(N, classes)``. It is run in
            eval mode and each submodule's previous mode is restored; its parameters'
            ``.grad`` are left untouched.
        x: float batch of shape ``(N, ...)``: ``(N, C, H, W)`` images or ``(N, F)``
            tables. Neither its values nor its ``requires_grad`` change.
        target: the class c whose score S_c (the logit, not a softmax probability) is
            explained: ``None`` for each input's predicted class, an ``int`` for the same
            class for all, or a sequence / 1-D integer tensor of N classes.
        contrast: a second class d, to ask "why the target rather than d?": the map is then
            that of the logit difference ``S_target - S_d`` (for a linear model ``|W_target - W_d|``).
            An ``int`` or one class per input, like ``target``; ``None`` (the default) explains
            ``S_target`` alone. Every explainer of the course takes it (notebook 10).
        reduce: ``"abs"`` (|gradient|, the classic map), ``"square"`` (gradient squared) or
            ``"signed"`` (the raw gradient).
        batch_size: inputs per forward and backward pass.

    Returns:
        A detached tensor with ``x``'s shape, dtype and device. Works inside ``torch.no_grad()``.

    Examples::

        >>> import torch
        >>> from torch import nn
        >>> from helpers import saliency
        >>> linear = nn.Linear(3, 2)
        >>> with torch.no_grad():
        ...     _ = linear.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.0, 1.0, 1.0]]))
        >>> saliency(linear, torch.zeros(1, 3), target=0)  # a linear model's map is |its weight row|
        tensor([[1.0000, 2.0000, 0.5000]])
        >>> saliency(linear, torch.zeros(1, 3), target=0, reduce="signed")
        tensor([[ 1.0000, -2.0000,  0.5000]])
        >>> saliency(linear, torch.zeros(1, 3), target=0, contrast=1)  # why 0 rather than 1: |W_0 - W_1|
        tensor([[1.0000, 3.0000, 0.5000]])
    """
    if contrast is not None:
        return explain_contrast(saliency, model, x, target, contrast, reduce=reduce, batch_size=batch_size)
    check_reduce(reduce)
    gradient, _, _ = logits_and_input_gradient(model, x, target, batch_size=batch_size)
    return apply_reduce(gradient, reduce)
