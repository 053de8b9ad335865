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

import numpy as np
import torch
from torch import nn

from helpers._checks import Target, check_batch, check_choice, check_int, check_model, check_real, resolve_target
from helpers._running import BATCH_SIZE, batched_logits
from helpers.explain._gradient import Reduce, apply_reduce, check_reduce, logits_and_input_gradient
from helpers.explain.baselines import BASELINE_KINDS, make_baseline
from helpers.explain.contrast import explain_contrast


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
    combine: Callable[[torch.Tensor, int, int], torch.Tensor],
    batch_size: int,
) -> torch.Tensor:
    """Sum ``combine(gradients, start, stop)`` over ``count`` perturbed copies of a batch, chunk by chunk.

    ``points(start, stop)`` returns copies ``start..stop-1`` stacked as ``(stop-start, N, ...)``;
    their input gradients go through the model ``max(1, batch_size // N)`` copies at a time, and
    ``combine`` gets them as ``(stop-start, N, ...)`` with the copies' range, to weight them.
    """
    n = classes.shape[0]
    chunk = max(1, batch_size // n)
    total = torch.zeros(())
    for start in range(0, count, chunk):
        stop = min(count, start + chunk)
        batch = points(start, stop)
        flat = batch.reshape((stop - start) * n, *batch.shape[2:])
        gradient, _, _ = logits_and_input_gradient(model, flat, classes.repeat(stop - start), batch_size=len(flat))
        total = total + combine(gradient.reshape(batch.shape), start, stop)
    return total


def smoothgrad(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    *,
    contrast: Target = None,
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
        contrast: as in :func:`helpers.saliency`: explain ``S_target - S_contrast`` instead of ``S_target``.
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
    if contrast is not None:
        options = {"samples": samples, "noise": noise, "value_range": value_range, "reduce": reduce, "seed": seed}
        return explain_contrast(smoothgrad, model, x, target, contrast, batch_size=batch_size, **options)
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

    def combine(gradients: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        return apply_reduce(gradients, reduce).sum(dim=0)

    total = _accumulate(model, classes, points, samples, combine, batch_size)
    return total / samples


def gradient_x_input(
    model: nn.Module, x: torch.Tensor, target: Target = None, *, contrast: Target = None, batch_size: int = BATCH_SIZE
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

    ``contrast``: as in :func:`helpers.saliency`; the map then sums to ``S_c(x) - S_d(x)`` for such a model.
    """
    if contrast is not None:
        return explain_contrast(gradient_x_input, model, x, target, contrast, batch_size=batch_size)
    gradient, _, _ = logits_and_input_gradient(model, x, target, batch_size=batch_size)
    return gradient * x.detach()


IntegrationRule = Literal["midpoint", "gauss-legendre"]
_RULES: tuple[str, ...] = ("midpoint", "gauss-legendre")
_BASELINE_NAMES: tuple[str, ...] = tuple(kind for kind in BASELINE_KINDS if kind != "mean")
"""The references ``integrated_gradients`` builds by name; ``"mean"`` needs data, so it is passed as a tensor."""


def _path_rule(rule: str, steps: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The points ``alphas`` on [0, 1] and their weights; ``None`` for the midpoint rule's equal weights 1/steps."""
    if rule == "midpoint":
        return (torch.arange(steps, dtype=like.dtype, device=like.device) + 0.5) / steps, None
    nodes, weights = np.polynomial.legendre.leggauss(steps)  # on [-1, 1], in float64
    alphas = torch.as_tensor((nodes + 1) / 2, dtype=like.dtype, device=like.device)
    return alphas, torch.as_tensor(weights / 2, dtype=like.dtype, device=like.device)


def _reference(baseline: object, clean: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The baseline x' as a tensor of ``x``'s shape: built from its name, or checked and broadcast."""
    if baseline is None:
        return torch.zeros_like(clean)
    names = ", ".join(map(repr, _BASELINE_NAMES))
    if isinstance(baseline, str):
        if baseline == "mean":
            raise ValueError(
                "baseline='mean' needs data to average: pass the tensor "
                "make_baseline(x, 'mean', data=training_images) as baseline."
            )
        if baseline not in _BASELINE_NAMES:
            raise ValueError(
                f"baseline must be None, a float tensor or one of the names {names}, got {baseline!r}. "
                "For other references, build a tensor (see make_baseline) and pass it."
            )
        if baseline == "blurred" and clean.dim() != 4:
            raise ValueError(
                f"baseline='blurred' needs images (N, C, H, W), got x of shape {tuple(x.shape)}; "
                "for a table, pass None (black), 'uniform' or a tensor."
            )
        return make_baseline(clean, baseline)  # type: ignore[arg-type]  # a name checked above
    if not isinstance(baseline, torch.Tensor) or not baseline.is_floating_point():
        described = type(baseline).__name__ + (
            f" of dtype {baseline.dtype}" if isinstance(baseline, torch.Tensor) else ""
        )
        raise TypeError(
            f"baseline must be None (black) or a float tensor broadcastable to x, or one of the names {names}; "
            f"got {described}."
        )
    try:
        return torch.broadcast_to(baseline.detach().to(clean), clean.shape)
    except RuntimeError as err:
        raise ValueError(
            f"baseline of shape {tuple(baseline.shape)} does not broadcast to x's shape {tuple(x.shape)}; "
            "pass one baseline per input, or one of shape (1, ...) for all."
        ) from err


@overload
def integrated_gradients(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = ...,
    *,
    contrast: Target = ...,
    baseline: torch.Tensor | str | None = ...,
    steps: int = ...,
    rule: IntegrationRule = ...,
    return_delta: Literal[False] = ...,
    batch_size: int = ...,
) -> torch.Tensor: ...
@overload
def integrated_gradients(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = ...,
    *,
    contrast: Target = ...,
    baseline: torch.Tensor | str | None = ...,
    steps: int = ...,
    rule: IntegrationRule = ...,
    return_delta: Literal[True],
    batch_size: int = ...,
) -> tuple[torch.Tensor, torch.Tensor]: ...
def integrated_gradients(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    *,
    contrast: Target = None,
    baseline: torch.Tensor | str | None = None,
    steps: int = 50,
    rule: IntegrationRule = "midpoint",
    return_delta: bool = False,
    batch_size: int = BATCH_SIZE,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Integrated Gradients (Sundararajan et al., 2017), signed, ``(N, ...)``.

    Derived in notebook 03, section "Integrated Gradients". The attributions are
    ``(x - x') * integral_0^1 dS_c/dx (x' + a (x - x')) da``, the integral approximated by
    ``sum_k w_k dS_c/dx (x' + a_k (x - x'))`` over ``steps`` points ``a_k`` with weights ``w_k``:

    - ``rule="midpoint"`` (the default): ``a_k = (k + 1/2) / steps``, ``w_k = 1 / steps``
      (Captum's ``method="riemann_middle"``);
    - ``rule="gauss-legendre"``: the Gauss-Legendre nodes and weights of
      ``numpy.polynomial.legendre.leggauss(steps)`` mapped from [-1, 1] to [0, 1]
      (``a_k = (node_k + 1) / 2``, ``w_k = weight_k / 2``; Captum's ``method="gausslegendre"``,
      the default there). Exact for integrands that are polynomials of degree below ``2 * steps``
      along the path, so on smooth models it needs far fewer steps for the same completeness gap.

    (The argument is ``rule``, not Captum's ``method``: here ``method`` names SHAP's explainer.)

    Args:
        model, x, target: as in :func:`helpers.saliency`; ``target=None`` explains
            each input's predicted class.
        contrast: as in :func:`helpers.saliency`: explain ``S_target - S_contrast`` instead of ``S_target``.
        baseline: the reference input x'. ``None`` or ``"black"``: all zeros, which gives
            exactly zero attribution wherever ``x`` is 0 too. ``"blurred"`` or ``"uniform"``:
            ``make_baseline(x, name)`` (see :func:`helpers.make_baseline`; the noise with its
            default seed 0; pass ``make_baseline(x, "uniform", seed=...)`` for another draw).
            Or a float tensor broadcastable to ``x``, e.g. ``make_baseline(x, "mean", data=...)``.
        steps: points on the straight path from x' to x.
        rule: the quadrature rule, ``"midpoint"`` or ``"gauss-legendre"``.
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
        >>> class Cubic(nn.Module):  # S_0 = sum(x^3): its gradient is quadratic along the path
        ...     def forward(self, x):
        ...         return (x**3).sum(dim=1, keepdim=True)
        >>> x = torch.tensor([[1.0, -2.0, 0.5]], dtype=torch.float64)
        >>> _, midpoint = integrated_gradients(Cubic(), x, 0, steps=2, return_delta=True)
        >>> _, gauss = integrated_gradients(Cubic(), x, 0, steps=2, rule="gauss-legendre", return_delta=True)
        >>> bool(midpoint > 0.1), bool(gauss < 1e-12)  # two Gauss-Legendre points are exact here
        (True, True)
    """
    if contrast is not None:
        options = {"baseline": baseline, "steps": steps, "rule": rule, "return_delta": return_delta}
        return explain_contrast(integrated_gradients, model, x, target, contrast, batch_size=batch_size, **options)
    steps = check_int(steps, "steps")
    batch_size = check_int(batch_size, "batch_size")
    if not isinstance(rule, str):
        raise TypeError(f"rule must be one of {', '.join(map(repr, _RULES))}, got {type(rule).__name__}.")
    check_choice(rule, "rule", _RULES)
    logits, classes = _classes_of(model, x, target, batch_size)
    clean = x.detach()
    reference = _reference(baseline, clean, x)
    difference = clean - reference
    alphas, weights = _path_rule(rule, steps, clean)
    shape = (-1, *[1] * clean.dim())

    def points(start: int, stop: int) -> torch.Tensor:
        return reference + alphas[start:stop].reshape(shape) * difference

    def combine(gradients: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        if weights is None:  # equal weights: summed plainly, divided by steps once at the end
            return gradients.sum(dim=0)
        return (weights[start:stop].reshape(shape) * gradients).sum(dim=0)

    summed = _accumulate(model, classes, points, steps, combine, batch_size)
    attributions = difference * (summed / steps if weights is None else summed)
    if not return_delta:
        return attributions
    reference_logits = batched_logits(model, reference, batch_size)
    rows = torch.arange(len(classes), device=classes.device)
    change = logits[rows, classes] - reference_logits[rows, classes]
    delta = (attributions.flatten(1).sum(dim=1) - change).abs()
    return attributions, delta
