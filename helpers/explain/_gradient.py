"""The gradient core shared by saliency and the other gradient methods."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from helpers._checks import Target, check_batch, check_choice, check_int, check_model, resolve_target, target_indices
from helpers._running import BATCH_SIZE, call_model, evaluation_mode

Reduce = Literal["abs", "square", "signed"]
REDUCTIONS: tuple[str, ...] = ("abs", "square", "signed")
"""How a gradient becomes a map: ``"abs"`` |g| (the classic saliency map), ``"square"`` g², ``"signed"`` g."""


def check_reduce(reduce: object) -> Reduce:
    """Return ``reduce`` if it is one of :data:`REDUCTIONS`; raise ``ValueError`` otherwise."""
    return check_choice(reduce, "reduce", REDUCTIONS)  # type: ignore[return-value]


def apply_reduce(gradient: torch.Tensor, reduce: Reduce) -> torch.Tensor:
    """``|g|`` for ``"abs"``, ``g**2`` for ``"square"``, ``g`` unchanged for ``"signed"``."""
    if reduce == "abs":
        return gradient.abs()
    if reduce == "square":
        return gradient.square()
    return gradient


def logits_and_input_gradient(
    model: nn.Module, x: torch.Tensor, target: Target = None, *, batch_size: int = BATCH_SIZE
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One forward and one backward pass per ``batch_size`` inputs: the gradient of each input's target logit.

    Args:
        model: maps ``(N, ...)`` to logits ``(N, classes)``; evaluated in eval mode.
        x: ``(N, ...)`` float batch; not modified.
        target: as in :func:`helpers.saliency`.
        batch_size: inputs per forward and backward pass.

    Returns:
        ``(gradient, logits, target)``: ``gradient`` has ``x``'s shape, ``logits`` is
        ``(N, classes)`` and ``target`` ``(N,)``, all detached.

    The gradient of the summed scores is taken, which equals each input's own
    gradient because, in eval mode, one input's output does not depend on another's.
    """
    check_model(model)
    check_batch(x, "x")
    batch_size = check_int(batch_size, "batch_size")
    indices = target_indices(target, len(x))
    if torch.is_inference_mode_enabled():
        raise RuntimeError(
            "gradients cannot be taken inside torch.inference_mode(); call this outside it (torch.no_grad() is fine)."
        )
    gradients, all_logits, all_classes = [], [], []
    with evaluation_mode(model), torch.enable_grad():
        for start in range(0, len(x), batch_size):
            inputs = x[start : start + batch_size].detach().clone().requires_grad_(True)
            logits = call_model(model, inputs)
            classes = resolve_target(None if indices is None else indices[start : start + batch_size], logits)
            score = logits.gather(1, classes[:, None]).sum()
            if score.requires_grad:
                (gradient,) = torch.autograd.grad(score, inputs, allow_unused=True, materialize_grads=True)
            else:  # the output does not depend on x at all
                gradient = torch.zeros_like(inputs)
            gradients.append(gradient)
            all_logits.append(logits.detach())
            all_classes.append(classes)
    return torch.cat(gradients), torch.cat(all_logits), torch.cat(all_classes)
