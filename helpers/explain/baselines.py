"""Baselines: the reference input x' that Integrated Gradients (and SHAP's background) compares x with.

An attribution answers "why this score rather than the reference's?", so the reference is part of
the question. The rule for choosing one (Sundararajan et al., 2017): the model's score for the
explained class should be near zero there, so that the attributions, which sum to
S_c(x) - S_c(x'), share out (almost) the whole score. No reference is neutral for every model
and input (Sturmfels, Lundberg & Lee, 2020, "Visualizing the Impact of Feature Attribution
Baselines", Distill): black says nothing about the black pixels of an MNIST digit, a blurred
copy nothing about the coarse shape, and noise adds its own texture to the map.
:func:`make_baseline` builds the usual ones, each of ``x``'s shape, for notebook 03's gallery.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from helpers._checks import check_batch, check_int
from helpers.evaluate.substrates import blurred

BaselineKind = Literal["black", "blurred", "uniform", "mean"]
BASELINE_KINDS: tuple[str, ...] = ("black", "blurred", "uniform", "mean")
"""The references :func:`make_baseline` builds: ``"black"`` (zeros), ``"blurred"`` (a heavily
blurred copy of x), ``"uniform"`` (uniform noise in [0, 1)) and ``"mean"`` (the mean of a data set)."""

_BLUR_SIGMA = 5.0
"""The blur of the ``"blurred"`` baseline, in pixels: on a 28 x 28 digit it leaves a faint smudge, no strokes."""


def make_baseline(
    x: torch.Tensor,
    kind: BaselineKind,
    *,
    seed: int = 0,
    data: torch.Tensor | None = None,
) -> torch.Tensor:
    """A reference input x' for each input of the batch ``x``: ``x``'s shape, dtype and device, no gradient history.

    Choose a reference whose score for the explained class is near zero (Sundararajan et al.,
    2017): Integrated Gradients' attributions sum to S_c(x) - S_c(x'), so only then do they
    share out the whole score. Every reference also hides something: a pixel equal to the
    reference's gets no attribution, whatever its role (Sturmfels, Lundberg & Lee, 2020,
    "Visualizing the Impact of Feature Attribution Baselines", Distill). Compare a few.
    Used in notebook 03 (the baseline gallery) and notebook 06 (SHAP's background).

    Args:
        x: the float batch ``(N, ...)`` to be explained.
        kind: one of :data:`BASELINE_KINDS`:

            - ``"black"``: zeros (what ``integrated_gradients(..., baseline=None)`` uses);
            - ``"blurred"``: ``blurred(x, sigma=5.0)``, a heavily blurred copy of each image
              (images ``(N, C, H, W)`` only), as in Sturmfels et al.;
            - ``"uniform"``: uniform noise in [0, 1), a separate draw for each input;
            - ``"mean"``: the per-pixel mean of ``data``, the same for every input.
        seed: seeds the ``"uniform"`` noise, drawn on the CPU from a private generator (the
            same noise on every device; the global random state is not touched). Input ``i``'s
            noise does not depend on the inputs after it.
        data: for ``"mean"`` only, and required there: a float batch ``(M, ...)`` with ``x``'s
            per-input shape, e.g. training images.

    Returns:
        ``(N, ...)``: a reference for each input, ``x``'s dtype and device, without gradient history.

    Examples::

        >>> import torch
        >>> from helpers import make_baseline
        >>> x = torch.rand(2, 1, 28, 28)
        >>> make_baseline(x, "black").abs().sum().item()
        0.0
        >>> noise = make_baseline(x, "uniform", seed=1)
        >>> noise.shape, torch.equal(noise, make_baseline(x, "uniform", seed=1))
        (torch.Size([2, 1, 28, 28]), True)
        >>> stroke = torch.zeros(1, 1, 28, 28)
        >>> stroke[0, 0, 6:22, 13:15] = 1.0  # a vertical bar, like a "1"
        >>> smudge = make_baseline(stroke, "blurred")
        >>> round(float(smudge.max()), 2), round(float(smudge.sum()), 1)  # the ink spread out, little of it lost
        (0.14, 30.8)
        >>> data = torch.rand(100, 1, 28, 28)
        >>> torch.equal(make_baseline(x, "mean", data=data)[1], data.mean(dim=0))
        True
    """
    check_batch(x, "x")
    if not isinstance(kind, str):
        raise TypeError(f"kind must be one of {', '.join(map(repr, BASELINE_KINDS))}, got {type(kind).__name__}.")
    if kind not in BASELINE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, BASELINE_KINDS))}, got {kind!r}.")
    seed = check_int(seed, "seed", minimum=0, maximum=2**63 - 1)
    if kind == "mean":
        if data is None:
            raise ValueError(
                "kind='mean' needs data: pass data=... , a batch (M, ...) of inputs with x's per-input shape "
                "(training images, say), whose per-pixel mean becomes the reference."
            )
        if isinstance(data, np.ndarray):
            raise TypeError(
                "data must be a torch.Tensor, got a NumPy array. Convert it with torch.from_numpy(data).float()."
            )
        check_batch(data, "data")
        if data.shape[1:] != x.shape[1:]:
            raise ValueError(
                f"data must be a batch (M, ...) with x's per-input shape {tuple(x.shape[1:])}, "
                f"got shape {tuple(data.shape)}."
            )
        mean = data.detach().mean(dim=0).to(device=x.device, dtype=x.dtype)
        return mean.expand_as(x).clone()
    if data is not None:
        raise ValueError(f"data is used by kind='mean' only; leave it out for kind={kind!r}.")
    clean = x.detach()
    if kind == "black":
        return torch.zeros_like(clean)
    if kind == "blurred":
        if clean.dim() != 4:
            raise ValueError(
                f"kind='blurred' needs images (N, C, H, W), got x of shape {tuple(x.shape)}; "
                "for a table, use 'black', 'uniform' or 'mean'."
            )
        return blurred(clean, sigma=_BLUR_SIGMA)
    generator = torch.Generator().manual_seed(seed)  # on the CPU: the same noise on every device
    return torch.rand(clean.shape, generator=generator, dtype=clean.dtype).to(clean.device)
