"""Contrastive explanations: why class t rather than class d?

A person who asks about a mistake ("why 7?") usually means "why 7 **rather than** 9?" (Miller,
2019). Every explainer of the course answers that question when given ``contrast=d``: it then
explains the logit difference ``S_t(x) - S_d(x)`` instead of ``S_t(x)``. The difference is a
score like any other, so nothing in the methods changes: the model is wrapped in
:class:`LogitDifferences`, whose output column ``t * classes + d`` is ``S_t - S_d``, and the
explainer is asked about that column. For a linear model the saliency map of the difference is
``|W_t - W_d|``; LIME's and SHAP's maps add up to the difference, not to ``S_t``.

Derived in notebook 10 (the capstone), section "Why 7 and not 9?".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from helpers._checks import Target, check_batch, check_int, check_model, resolve_target
from helpers._running import batched_logits


class LogitDifferences(nn.Module):
    """Every pairwise logit difference of a classifier: output ``(N, classes * classes)``.

    Column ``t * classes + d`` holds ``S_t(x) - S_d(x)``. The wrapped model is called once per
    forward pass and is a submodule, so its layers (for Grad-CAM), its ``nn.ReLU`` modules (for
    Guided Backprop) and its mode are those of the wrapper.

    Examples::

        >>> import torch
        >>> from torch import nn
        >>> from helpers.explain.contrast import LogitDifferences
        >>> model = nn.Linear(2, 3)
        >>> x = torch.rand(4, 2)
        >>> logits, differences = model(x), LogitDifferences(model)(x)
        >>> differences.shape, torch.allclose(differences[:, 2 * 3 + 0], logits[:, 2] - logits[:, 0])
        (torch.Size([4, 9]), True)
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.model(x)
        if not isinstance(logits, torch.Tensor) or logits.dim() != 2:
            return logits  # left for the explainer's own check of the model's output to name
        return (logits[:, :, None] - logits[:, None, :]).flatten(1)


def explain_contrast(
    explainer: Callable[..., Any],
    model: nn.Module,
    x: torch.Tensor,
    target: Target,
    contrast: Target,
    *,
    batch_size: int,
    **options: Any,
) -> Any:
    """``explainer(model, x, target, ...)`` for the score ``S_target - S_contrast`` instead of ``S_target``.

    Args:
        explainer: one of the course's explainers (``saliency``, ``lime_map``, ...), called once
            on the whole batch with the model wrapped in :class:`LogitDifferences`.
        model, x, target: as in :func:`helpers.saliency`; ``target=None`` is each input's
            predicted class, resolved on ``model`` itself.
        contrast: the class d: an ``int`` for all inputs, or one class per input (a sequence
            or 1-D integer tensor of N classes, e.g. the true labels of misclassified digits).
        batch_size: inputs per forward pass, for resolving the classes and for the explainer.
        options: the explainer's other keyword arguments, passed on unchanged.

    Returns:
        What ``explainer`` returns, for the difference.

    Raises:
        ValueError: where an input's contrast equals its target (``S_t - S_t`` is 0 everywhere).
    """
    check_model(model)
    check_batch(x, "x")
    batch_size = check_int(batch_size, "batch_size")
    logits = batched_logits(model, x.detach(), batch_size)
    targets = resolve_target(target, logits)
    contrasts = resolve_target(contrast, logits, "contrast")
    same = (targets == contrasts).nonzero().flatten().tolist()
    if same:
        index = same[0]
        chosen = "predicted class" if target is None else "target"
        raise ValueError(
            f"contrast equals the {chosen} for input {index} (class {int(targets[index])}): S_c - S_c is 0 "
            "everywhere, so there is nothing to explain. Pass another class as contrast, e.g. the true label "
            "of a misclassified digit or the runner-up class."
        )
    pairs = targets * logits.shape[1] + contrasts
    return explainer(LogitDifferences(model), x, pairs, batch_size=batch_size, **options)
