"""Vanilla saliency (Simonyan, Vedaldi & Zisserman, 2013): M(x) = |dS_c(x)/dx|."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from helpers._validation import (
    Target,
    call_model,
    check_batch,
    check_model,
    evaluation_mode,
    resolve_target,
)

Reduce = Literal["abs", "square", "signed"]
REDUCTIONS: tuple[str, ...] = ("abs", "square", "signed")


def check_reduce(reduce: object) -> str:
    """Return ``reduce`` if it is one of :data:`REDUCTIONS`; raise ``ValueError`` otherwise."""
    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce must be one of {', '.join(map(repr, REDUCTIONS))}, got {reduce!r}.")
    return reduce  # type: ignore[return-value]


def apply_reduce(gradient: torch.Tensor, reduce: Reduce) -> torch.Tensor:
    """``|g|`` for ``"abs"``, ``g**2`` for ``"square"``, ``g`` unchanged for ``"signed"``."""
    if reduce == "abs":
        return gradient.abs()
    if reduce == "square":
        return gradient.square()
    return gradient


def logits_and_input_gradient(
    model: nn.Module, x: torch.Tensor, target: Target = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One forward and one backward pass: the gradient of each input's target logit.

    Args:
        model: maps ``(N, ...)`` to logits ``(N, classes)``; evaluated in eval mode.
        x: ``(N, ...)`` float batch; not modified.
        target: see :func:`saliency`.

    Returns:
        ``(gradient, logits, target)``: ``gradient`` has ``x``'s shape, ``logits`` is
        ``(N, classes)`` and ``target`` ``(N,)``, all detached.

    The gradient of the summed scores is taken, which equals each input's own
    gradient because, in eval mode, one input's output does not depend on another's.
    """
    check_model(model)
    check_batch(x, "x")
    if torch.is_inference_mode_enabled():
        raise RuntimeError(
            "gradients cannot be taken inside torch.inference_mode(); call this outside it "
            "(torch.no_grad() is fine)."
        )
    inputs = x.detach().clone().requires_grad_(True)
    with evaluation_mode(model), torch.enable_grad():
        logits = call_model(model, inputs)
        classes = resolve_target(target, logits)
        score = logits.gather(1, classes[:, None]).sum()
        if score.requires_grad:
            (gradient,) = torch.autograd.grad(score, inputs, allow_unused=True, materialize_grads=True)
        else:  # the output does not depend on x at all
            gradient = torch.zeros_like(inputs)
    return gradient, logits.detach(), classes


def saliency(model: nn.Module, x: torch.Tensor, target: Target = None, *, reduce: Reduce = "abs") -> torch.Tensor:
    """Saliency map M(x) = |dS_c(x)/dx| for a whole batch, in one forward and one backward pass.

    Args:
        model: a classifier mapping ``(N, ...)`` to logits ``(N, classes)``. It is run in
            eval mode and each submodule's previous mode is restored; its parameters'
            ``.grad`` are left untouched.
        x: float batch of shape ``(N, ...)``: ``(N, C, H, W)`` images or ``(N, F)``
            tables. Neither its values nor its ``requires_grad`` change.
        target: the class c whose score S_c (the logit, not a softmax probability) is
            explained: ``None`` for each input's predicted class, an ``int`` for the same
            class for all, or a sequence / 1-D integer tensor of N classes.
        reduce: ``"abs"`` (the seed's |gradient|), ``"square"`` (gradient squared) or
            ``"signed"`` (the raw gradient).

    Returns:
        A detached tensor with ``x``'s shape, dtype and device.

    Works inside ``torch.no_grad()``.
    """
    check_reduce(reduce)
    gradient, _, _ = logits_and_input_gradient(model, x, target)
    return apply_reduce(gradient, reduce)
