"""Gradient-based attributions beyond the vanilla map: SmoothGrad, Gradient x Input, Integrated Gradients.

All follow :func:`helpers.saliency`'s conventions: a batch ``x`` of shape ``(N, ...)``,
``target`` as there (resolved once, on the clean input), the target's logit explained,
results detached with ``x``'s shape, the model run in eval mode and restored, nothing of the
caller's changed. Many perturbed copies of the batch go through the model in a few large
passes, never one image at a time: each pass takes as many whole copies of the batch as fit
in ``batch_size`` inputs, and at least one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, overload

import torch
from torch import nn

from helpers._checks import Target, check_batch, check_int, check_model, check_real, resolve_target
from helpers._running import BATCH_SIZE, batched_logits
from helpers.explain._gradient import Reduce, apply_reduce, check_reduce, logits_and_input_gradient


def _classes_of(
    model: nn.Module, x: torch.Tensor, target: Target, batch_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``(N, classes)`` of the clean batch and the target classes ``(N,)``."""
    check_model(model)
    check_batch(x, "x")
    logits = batched_logits(model, x.detach(), batch_size)
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
    total = torch.zeros(())
    for start in range(0, count, chunk):
        stop = min(count, start + chunk)
        batch = points(start, stop)
        flat = batch.reshape((stop - start) * n, *batch.shape[2:])
        gradient, _, _ = logits_and_input_gradient(model, flat, classes.repeat(stop - start), batch_size=len(flat))
        total = total + combine(gradient.reshape(batch.shape))
    return total


def smoothgrad(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    *,
    samples: int = 50,
    noise: float = 0.15,
    value_range: tuple[float, float] | None = None,
    reduce: Reduce = "abs",
    seed: int = 0,
    batch_size: int = BATCH_SIZE,
) -> torch.Tensor:
    """SmoothGrad (Smilkov et al., 2017): the map averaged over noisy copies of each input.

    Derived in notebook 03, section "SmoothGrad".

    Args:
        model, x, target: as in :func:`helpers.saliency`; ``x`` is ``(N, ...)``.
            ``None`` explains each clean input's predicted class.
        samples: noisy copies per input.
        noise: standard deviation of the Gaussian noise as a **fraction of the value range**
            (Smilkov et al. recommend 0.1 to 0.2). Captum's ``NoiseTunnel(stdevs=...)`` is
            absolute instead: for images in [0, 1] the two agree.
        value_range: ``(low, high)`` of the inputs' values, e.g. ``(0.0, 1.0)`` for images.
            ``None`` takes each input's own range ``x.max() - x.min()``; a constant input then
            has no range, and is refused: pass ``value_range``.
        reduce: applied to each sample's gradient before averaging (``"abs"`` averages
            ``|gradient|``, as Captum's NoiseTunnel over ``Saliency(abs=True)`` does).
        seed: seeds a private generator; the global random state is not touched.
        batch_size: inputs per forward pass (whole copies of the batch; at least one copy).

    Returns:
        ``(N, ...)``, detached. With ``noise=0`` it equals :func:`helpers.saliency`.

    Examples::

        >>> import torch
        >>> from torch import nn
        >>> from helpers import saliency, smoothgrad
        >>> linear = nn.Linear(4, 3)  # its gradient is the same everywhere: noise changes nothing
        >>> x = torch.rand(2, 4)
        >>> torch.allclose(smoothgrad(linear, x, 1, samples=8), saliency(linear, x, 1))
        True
    """
    check_reduce(reduce)
    samples = check_int(samples, "samples")
    batch_size = check_int(batch_size, "batch_size")
    noise = check_real(noise, "noise", minimum=0.0)
    seed = check_int(seed, "seed", minimum=0)
    _, classes = _classes_of(model, x, target, batch_size)
    clean = x.detach()
    flat = clean.flatten(1)
    if value_range is None:
        span = flat.max(dim=1).values - flat.min(dim=1).values
        constant = (span == 0).nonzero().flatten().tolist()
        if noise > 0 and constant:
            raise ValueError(
                f"x[{constant[0]}] is constant, so noise as a fraction of its own range would be 0 and "
                "SmoothGrad would add nothing; pass value_range=(low, high), e.g. (0.0, 1.0) for images."
            )
    else:
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
            raise TypeError(f"value_range must be a pair (low, high), e.g. (0.0, 1.0), got {value_range!r}.")
        low, high = (check_real(bound, "value_range") for bound in value_range)
        if not high > low:
            raise ValueError(f"value_range must be (low, high) with low < high, got {value_range!r}.")
        span = torch.full((len(clean),), high - low, dtype=clean.dtype, device=clean.device)
    sigma = noise * span.reshape(-1, *[1] * (x.dim() - 1))
    generator = torch.Generator(device=x.device).manual_seed(seed)

    def points(start: int, stop: int) -> torch.Tensor:
        # One draw per noisy copy of the batch, so the noise does not depend on how copies are chunked.
        draws = [torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype) for _ in range(start, stop)]
        return clean + sigma * torch.stack(draws)

    total = _accumulate(model, classes, points, samples, lambda g: apply_reduce(g, reduce).sum(dim=0), batch_size)
    return total / samples


def gradient_x_input(
    model: nn.Module, x: torch.Tensor, target: Target = None, *, batch_size: int = BATCH_SIZE
) -> torch.Tensor:
    """Gradient x Input: ``x * dS_c/dx``, signed, ``(N, ...)`` (what Captum's ``InputXGradient`` computes).

    Derived in notebook 03, section "Gradient × Input". For a linear model without bias it sums to
    the score: ``sum(x * W_c) = S_c(x)``.

    Examples::

        >>> import torch
        >>> from torch import nn
        >>> from helpers import gradient_x_input
        >>> linear = nn.Linear(3, 2, bias=False)
        >>> x = torch.tensor([[1.0, 2.0, 3.0]])
        >>> torch.allclose(gradient_x_input(linear, x, 0).sum(), linear(x)[0, 0])
        True
    """
    gradient, _, _ = logits_and_input_gradient(model, x, target, batch_size=batch_size)
    return gradient * x.detach()


@overload
def integrated_gradients(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = ...,
    *,
    baseline: torch.Tensor | None = ...,
    steps: int = ...,
    return_delta: Literal[False] = ...,
    batch_size: int = ...,
) -> torch.Tensor: ...
@overload
def integrated_gradients(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = ...,
    *,
    baseline: torch.Tensor | None = ...,
    steps: int = ...,
    return_delta: Literal[True],
    batch_size: int = ...,
) -> tuple[torch.Tensor, torch.Tensor]: ...
def integrated_gradients(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    *,
    baseline: torch.Tensor | None = None,
    steps: int = 50,
    return_delta: bool = False,
    batch_size: int = BATCH_SIZE,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Integrated Gradients (Sundararajan et al., 2017), signed, ``(N, ...)``.

    Derived in notebook 03, section "Integrated Gradients".
    ``(x - x') * mean_k dS_c/dx (x' + a_k (x - x'))`` with the midpoint rule
    ``a_k = (k + 1/2) / steps`` (Captum's ``method="riemann_middle"``).

    Args:
        model, x, target: as in :func:`helpers.saliency`; ``target=None`` explains
            each input's predicted class.
        baseline: the reference input x', broadcastable to ``x``: ``None`` is black
            (all zeros), which gives exactly zero attribution wherever ``x`` is 0 too.
        steps: points on the straight path from x' to x.
        return_delta: also return the completeness gap
            ``|sum(attributions) - (S_c(x) - S_c(x'))|`` per input, shape ``(N,)``.
        batch_size: inputs per forward pass (whole copies of the batch; at least one copy).

    Returns:
        The attributions ``(N, ...)``, or ``(attributions, delta)`` with ``return_delta=True``.

    Examples::

        >>> import torch
        >>> from torch import nn
        >>> from helpers import integrated_gradients
        >>> linear = nn.Linear(3, 2)
        >>> x = torch.tensor([[1.0, 2.0, 3.0]])
        >>> attributions, delta = integrated_gradients(linear, x, 0, return_delta=True)
        >>> bool(delta < 1e-5)  # completeness: the attributions sum to S_c(x) - S_c(black)
        True
    """
    steps = check_int(steps, "steps")
    batch_size = check_int(batch_size, "batch_size")
    logits, classes = _classes_of(model, x, target, batch_size)
    clean = x.detach()
    if baseline is None:
        reference = torch.zeros_like(clean)
    else:
        if not isinstance(baseline, torch.Tensor) or not baseline.is_floating_point():
            described = type(baseline).__name__ + (
                f" of dtype {baseline.dtype}" if isinstance(baseline, torch.Tensor) else ""
            )
            raise TypeError(f"baseline must be None (black) or a float tensor broadcastable to x, got {described}.")
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
    reference_logits = batched_logits(model, reference, batch_size)
    rows = torch.arange(len(classes), device=classes.device)
    change = logits[rows, classes] - reference_logits[rows, classes]
    delta = (attributions.flatten(1).sum(dim=1) - change).abs()
    return attributions, delta
