"""Gradient-based attributions beyond the vanilla map: SmoothGrad, Gradient x Input, Integrated Gradients.

All follow :func:`helpers.saliency.saliency`'s conventions: a batch ``x`` of shape
``(N, ...)``, ``target`` as there (resolved once, on the clean input), results detached
with ``x``'s shape, the model run in eval mode and restored, nothing of the caller's
changed. Many perturbed copies of the batch go through the model in a few large passes,
never one image at a time: each pass takes as many whole copies of the batch as fit in
``batch_size`` inputs, and at least one.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch
from torch import nn

from helpers._validation import Target, call_model, check_batch, check_model, evaluation_mode, resolve_target
from helpers.saliency import Reduce, apply_reduce, check_reduce, logits_and_input_gradient


def _check_count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return int(value)


def _classes_of(model: nn.Module, x: torch.Tensor, target: Target) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``(N, classes)`` of the clean batch and the target classes ``(N,)``."""
    check_model(model)
    check_batch(x, "x")
    with evaluation_mode(model), torch.no_grad():
        logits = call_model(model, x.detach())
    return logits, resolve_target(target, logits)


def _accumulate(
    model: nn.Module,
    classes: torch.Tensor,
    points: Callable[[int, int], torch.Tensor],
    count: int,
    combine: Callable[[torch.Tensor], torch.Tensor],
    batch_size: int,
) -> torch.Tensor:
    """Sum ``combine(gradients)`` over ``count`` perturbed copies of a batch, chunk by chunk.

    ``points(start, stop)`` returns copies ``start..stop-1`` stacked as ``(stop-start, N, ...)``;
    their input gradients go through the model ``max(1, batch_size // N)`` copies at a time.
    """
    n = classes.shape[0]
    chunk = max(1, batch_size // n)
    total = None
    for start in range(0, count, chunk):
        stop = min(count, start + chunk)
        batch = points(start, stop)
        copies = stop - start
        gradient, _, _ = logits_and_input_gradient(model, batch.reshape(copies * n, *batch.shape[2:]), classes.repeat(copies))
        part = combine(gradient.reshape(batch.shape))
        total = part if total is None else total + part
    return total  # type: ignore[return-value]


def smoothgrad(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    *,
    samples: int = 50,
    noise: float = 0.15,
    reduce: Reduce = "abs",
    seed: int = 0,
    batch_size: int = 4096,
) -> torch.Tensor:
    """SmoothGrad (Smilkov et al., 2017): the map averaged over noisy copies of each input.

    Args:
        model, x, target: as in :func:`helpers.saliency.saliency`; ``x`` is ``(N, ...)``.
            ``None`` explains each clean input's predicted class.
        samples: noisy copies per input.
        noise: standard deviation of the Gaussian noise as a **fraction of each input's
            range** ``x.max() - x.min()`` (Smilkov et al. recommend 0.1 to 0.2). Captum's
            ``NoiseTunnel(stdevs=...)`` is absolute instead: for MNIST in [0, 1] the two agree.
        reduce: applied to each sample's gradient before averaging (``"abs"`` averages
            ``|gradient|``, as Captum's NoiseTunnel over ``Saliency(abs=True)`` does).
        seed: seeds a private generator; the global random state is not touched.
        batch_size: inputs per forward pass (whole copies of the batch; at least one copy).

    Returns:
        ``(N, ...)``, detached. With ``noise=0`` it equals :func:`saliency`.
    """
    check_reduce(reduce)
    _check_count(samples, "samples")
    _check_count(batch_size, "batch_size")
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not math.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a non-negative fraction of the input range (e.g. 0.15), got {noise!r}.")
    _, classes = _classes_of(model, x, target)
    clean = x.detach()
    span = (clean.flatten(1).max(dim=1).values - clean.flatten(1).min(dim=1).values).reshape(-1, *[1] * (x.dim() - 1))
    sigma = noise * span
    generator = torch.Generator(device=x.device).manual_seed(seed)

    def points(start: int, stop: int) -> torch.Tensor:
        # One draw per noisy copy of the batch, so the noise does not depend on how copies are chunked.
        draws = [torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype) for _ in range(start, stop)]
        return clean + sigma * torch.stack(draws)

    total = _accumulate(model, classes, points, samples, lambda g: apply_reduce(g, reduce).sum(dim=0), batch_size)
    return total / samples


def gradient_x_input(model: nn.Module, x: torch.Tensor, target: Target = None) -> torch.Tensor:
    """Gradient x Input: ``x * dS_c/dx``, signed, ``(N, ...)`` (what Captum's ``InputXGradient`` computes).

    For a linear model without bias it sums to the score: ``sum(x * W_c) = S_c(x)``.
    """
    gradient, _, _ = logits_and_input_gradient(model, x, target)
    return gradient * x.detach()


def integrated_gradients(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    *,
    baseline: torch.Tensor | None = None,
    steps: int = 50,
    return_delta: bool = False,
    batch_size: int = 4096,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Integrated Gradients (Sundararajan et al., 2017), signed, ``(N, ...)``.

    ``(x - x') * mean_k dS_c/dx (x' + a_k (x - x'))`` with the midpoint rule
    ``a_k = (k + 1/2) / steps`` (Captum's ``method="riemann_middle"``).

    Args:
        model, x, target: as in :func:`helpers.saliency.saliency`; ``target=None`` explains
            each input's predicted class.
        baseline: the reference input x', broadcastable to ``x``: ``None`` is black
            (all zeros), which gives exactly zero attribution wherever ``x`` is 0 too.
        steps: points on the straight path from x' to x.
        return_delta: also return the completeness gap
            ``|sum(attributions) - (S_c(x) - S_c(x'))|`` per input, shape ``(N,)``.
        batch_size: inputs per forward pass (whole copies of the batch; at least one copy).
    """
    _check_count(steps, "steps")
    _check_count(batch_size, "batch_size")
    logits, classes = _classes_of(model, x, target)
    clean = x.detach()
    if baseline is None:
        reference = torch.zeros_like(clean)
    else:
        if not isinstance(baseline, torch.Tensor) or not baseline.is_floating_point():
            raise TypeError(
                "baseline must be None (black) or a float tensor broadcastable to x, "
                f"got {type(baseline).__name__}{'' if not isinstance(baseline, torch.Tensor) else ' of dtype ' + str(baseline.dtype)}."
            )
        try:
            reference = torch.broadcast_to(baseline.detach().to(clean), clean.shape)
        except RuntimeError as err:
            raise ValueError(
                f"baseline of shape {tuple(baseline.shape)} does not broadcast to x's shape {tuple(x.shape)}; "
                "pass one baseline per input, or one of shape (1, ...) for all."
            ) from err
    difference = clean - reference
    alphas = (torch.arange(steps, dtype=clean.dtype, device=clean.device) + 0.5) / steps

    def points(start: int, stop: int) -> torch.Tensor:
        return reference + alphas[start:stop].reshape(-1, *[1] * clean.dim()) * difference

    summed = _accumulate(model, classes, points, steps, lambda g: g.sum(dim=0), batch_size)
    attributions = difference * summed / steps
    if not return_delta:
        return attributions
    with evaluation_mode(model), torch.no_grad():
        reference_logits = model(reference)
    rows = torch.arange(len(classes), device=classes.device)
    change = logits[rows, classes] - reference_logits[rows, classes]
    delta = (attributions.flatten(1).sum(dim=1) - change).abs()
    return attributions, delta
