"""Substrates: what "removing" a pixel means when a deletion test takes it away.

A deletion or insertion curve (:func:`helpers.perturbation_curve`) replaces pixels by a
substrate. Black (a number) is the usual choice, but on MNIST most pixels are already black,
and a digit with black holes is unlike any training image. Two alternatives:

- :func:`blurred`: a Gaussian-blurred copy of the image, fixed in advance;
- :func:`noisy_linear_imputation`: ROAD's imputation (Rong et al., 2022), recomputed for
  each set of removed pixels: every removed pixel takes the weighted mean of its eight
  neighbours, solved jointly over all removed pixels, plus a little noise. It hides the
  removed pixels' values while keeping the image smooth, so the shape of the hole leaks
  less information than a black or blurred fill.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from helpers._checks import check_choice, check_images, check_int, check_real

ROAD_NOISE = 0.01
"""ROAD's default noise: the standard deviation added to every imputed pixel, in the images' units."""


def blurred(x: torch.Tensor, sigma: float = 2.0) -> torch.Tensor:
    """A Gaussian-blurred copy of ``(N, C, H, W)`` images: a less out-of-distribution substrate than black.

    ``sigma``: the blur's standard deviation in pixels (positive). Used in notebook 08 as the second substrate.

    Examples::

        >>> import torch
        >>> from helpers import blurred
        >>> x = torch.zeros(1, 1, 9, 9)
        >>> x[0, 0, 4, 4] = 1.0
        >>> soft = blurred(x, sigma=1.0)
        >>> soft.shape, round(float(soft.sum()), 4), bool(soft.max() < 0.2)  # the ink is spread out, not lost
        (torch.Size([1, 1, 9, 9]), 1.0, True)
    """
    x = check_images(x, "x", why="the blur runs over each image's height and width")
    sigma = check_real(sigma, "sigma", positive=True)
    radius = max(1, int(3 * sigma))
    grid = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-(grid**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = x.shape[1]
    out = F.conv2d(
        x.detach(), kernel.reshape(1, 1, 1, -1).expand(channels, 1, 1, -1), padding=(0, radius), groups=channels
    )
    return F.conv2d(out, kernel.reshape(1, 1, -1, 1).expand(channels, 1, -1, 1), padding=(radius, 0), groups=channels)


def resolve_substrate(x: torch.Tensor, substrate: object) -> torch.Tensor | None:
    """What a removed pixel of ``x`` becomes: images of ``x``'s shape, or ``None`` for ``"road"``.

    ``substrate`` is a number (0 is black), images of ``x``'s shape (e.g. :func:`blurred`), or
    ``"road"`` (imputed afresh for each set of removed pixels, so there is nothing to build in advance).
    Shared by :func:`helpers.perturbation_curve` and :func:`helpers.intervention_check`.
    """
    if isinstance(substrate, str):
        check_choice(substrate, "substrate", ("road",))
        return None
    if isinstance(substrate, torch.Tensor):
        if substrate.shape != x.shape:
            raise ValueError(
                f"substrate must be a number or a tensor of x's shape {tuple(x.shape)}, got {tuple(substrate.shape)}."
            )
        return substrate.detach().to(x)
    return torch.full_like(x, check_real(substrate, "substrate"))


def _neighbour_sum(values: torch.Tensor) -> torch.Tensor:
    """Each pixel's ROAD-weighted sum of its eight neighbours, per channel (outside the image counts 0).

    The weights are (outer([1, 2, 1], [1, 2, 1]) - 4 at the centre) / 12: two 1-D passes.
    """
    padded = F.pad(values, (1, 1, 1, 1))
    rows = padded[..., :-2] + 2 * padded[..., 1:-1] + padded[..., 2:]
    return (rows[..., :-2, :] + 2 * rows[..., 1:-1, :] + rows[..., 2:, :] - 4 * values) / 12


def _solve(values: torch.Tensor, hole: torch.Tensor, tolerance: float) -> torch.Tensor:
    """The images with their hole filled, by conjugate gradients."""
    kept = values * (1 - hole)
    degree = _neighbour_sum(torch.ones_like(values[:1]))
    solution = torch.zeros_like(values)

    def sums(v: torch.Tensor) -> torch.Tensor:
        return (v * v).sum(dim=(1, 2, 3), keepdim=True)

    def system(v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # symmetric, positive semi-definite, on the hole
        return mask * (degree * v - _neighbour_sum(mask * v))

    right = hole * _neighbour_sum(kept)
    goal = tolerance**2 * sums(right)
    # Conjugate gradients on the images not yet solved; solved ones leave the batch every few steps.
    active = torch.arange(len(values), device=values.device)
    mask, guess = hole, solution.clone()
    residual = right.clone()
    direction = residual.clone()
    power = sums(residual)
    for iteration in range(4 * values[0].numel()):  # CG needs at most as many steps as unknowns; rounding a few more
        done = (power <= goal).flatten()
        if bool(done.all()):
            break
        if iteration % 8 == 0 and bool(done.any()):
            solution[active[done]] = guess[done]
            keep = ~done
            active, mask, guess, residual, direction, power, goal = (
                t[keep] for t in (active, mask, guess, residual, direction, power, goal)
            )
        product = system(direction, mask)
        curvature = (direction * product).sum(dim=(1, 2, 3), keepdim=True)
        step = torch.where(curvature > 0, power / curvature.clamp_min(1e-300), 0.0)
        guess = guess + step * direction
        residual = residual - step * product
        new_power = sums(residual)
        direction = residual + torch.where(power > 0, new_power / power.clamp_min(1e-300), 0.0) * direction
        power = new_power
    solution[active] = guess
    return kept + hole * solution


def _linear_imputation(x: torch.Tensor, removed: torch.Tensor, *, tolerance: float = 1e-5) -> torch.Tensor:
    """``x`` with every ``removed`` pixel replaced by the weighted mean of its neighbours, solved jointly.

    The noise-free core of :func:`noisy_linear_imputation` (no argument checks): a batched
    conjugate-gradient solve, in float32 (float64 for float64 images), of ROAD's linear system. For each removed pixel i,
    ``d_i v_i - sum_j w_ij v_j = sum_k w_ik x_k``, with ``j`` its removed and ``k`` its kept
    neighbours and ``d_i`` the total weight of its neighbours inside the image. The solve
    stops when each image's residual is below ``tolerance`` times its right-hand side (values then within about 1e-4 of the exact
    solution on 28 x 28 images, far below ROAD's noise of 0.01). Removed pixels cut off from
    every kept pixel (an image removed entirely, say) have nothing to be interpolated from and get 0.
    """
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    return _solve(x.detach().to(dtype), removed.to(dtype), tolerance).to(x.dtype)


def noisy_linear_imputation(
    x: torch.Tensor, masks: torch.Tensor, *, noise: float = ROAD_NOISE, seed: int = 0
) -> torch.Tensor:
    """ROAD's noisy linear imputation (Rong et al., 2022) of the pixels ``masks`` marks as removed.

    Every removed pixel takes the weighted mean of its eight neighbours (weight 1/6 for the
    four direct ones, 1/12 for the diagonals, as in the paper), where neighbours that are
    themselves removed are unknowns too: the values are solved jointly, as one linear system
    per image. Then Gaussian noise of standard deviation ``noise`` is added to the removed
    pixels only. Kept pixels are returned unchanged. A removed region that touches no kept
    pixel (the whole image, say) has nothing to interpolate from, and gets 0 plus the noise.

    Used as the third substrate of notebook 08's deletion tests, through
    ``perturbation_curve(..., substrate="road")``.

    Args:
        x: ``(N, C, H, W)`` float images.
        masks: bool, ``True`` on the pixels to remove: ``x``'s shape, or ``(N, 1, H, W)`` for
            the same pixels in every channel.
        noise: the noise's standard deviation, in the images' units (ROAD's default, 0.01);
            0 for none.
        seed: seeds the noise, from a private generator (the global random state is untouched).

    Returns:
        A tensor of ``x``'s shape, dtype and device, without gradient history.

    Examples::

        >>> import torch
        >>> from helpers import noisy_linear_imputation
        >>> x = torch.zeros(1, 1, 3, 3)
        >>> x[0, 0, :, 2] = 1.0  # a dark left column, a bright right column
        >>> masks = torch.zeros(1, 1, 3, 3, dtype=torch.bool)
        >>> masks[0, 0, :, 1] = True  # remove the middle column
        >>> noisy_linear_imputation(x, masks, noise=0.0)[0, 0, :, 1]  # halfway between its neighbours
        tensor([0.5000, 0.5000, 0.5000])
    """
    x = check_images(x, "x", why="the imputation fills pixels from their neighbours in each image")
    if not isinstance(masks, torch.Tensor):
        raise TypeError(f"masks must be a bool tensor (True on the pixels to remove), got {type(masks).__name__}.")
    if masks.dtype != torch.bool:
        raise TypeError(
            f"masks must be a bool tensor (True on the pixels to remove), got dtype {masks.dtype}; "
            "pass a comparison such as masks > 0."
        )
    wanted = (x.shape, (x.shape[0], 1, *x.shape[2:]))
    if tuple(masks.shape) not in [tuple(shape) for shape in wanted]:
        raise ValueError(
            f"masks must have x's shape {tuple(x.shape)} or {tuple(wanted[1])} (the same pixels in every channel), "
            f"got {tuple(masks.shape)}."
        )
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x must be finite: the imputation spreads a NaN or infinity to every pixel it touches.")
    noise = check_real(noise, "noise", minimum=0.0)
    seed = check_int(seed, "seed", minimum=0, maximum=2**63 - 1)
    removed = masks.to(x.device).expand_as(x)
    imputed = _linear_imputation(x, removed)
    if noise > 0:
        generator = torch.Generator().manual_seed(seed)  # on the CPU: the same noise on every device
        draws = torch.randn(x.shape, generator=generator, dtype=torch.float64).to(device=x.device, dtype=x.dtype)
        imputed = imputed + noise * draws * removed
    return imputed
