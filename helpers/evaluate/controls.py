"""Control maps: "explanations" that know nothing about any model, the baseline for every method.

Shown next to each explanation method's maps, and scored with the same measures
(:mod:`helpers.evaluate.ground_truth`, :mod:`helpers.evaluate.similarity`), they say how much
of a method's score a map gets without looking at the model: from noise, from the image
itself, or from its edges (Adebayo et al., 2018, "Sanity checks for saliency maps", found
several methods' maps close to an edge detector's).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from skimage.filters import sobel

from helpers._checks import check_batch, check_choice, check_int

ControlKind = Literal["random", "input", "edges"]
CONTROL_KINDS: tuple[str, ...] = ("random", "input", "edges")
"""The kinds of :func:`control_map`: uniform noise, the image itself, its Sobel edges."""


def control_map(x: torch.Tensor, kind: ControlKind, *, seed: int = 0) -> torch.Tensor:
    """A map of each input that uses no model: noise, the input itself, or its edges.

    - ``"random"``: uniform noise in [0, 1), from a private ``torch.Generator`` seeded with
      ``seed`` (the global generators are untouched): the same seed gives the same maps, and
      each input in the batch gets its own noise. The noise does not depend on ``x``'s values,
      only on its shape.
    - ``"input"``: the image itself (a detached copy): "the model looks where the ink is".
    - ``"edges"``: the Sobel gradient magnitude of each image and channel, from
      scikit-image's ``skimage.filters.sobel`` (reflected borders, so a constant image has
      no edges): what an edge detector would call important.

    Used in notebook 07 (the known answer: a planted shortcut), next to every method's maps.

    Args:
        x: ``(N, ...)`` float inputs; ``"edges"`` needs images ``(N, C, H, W)``, usually ``(N, 1, H, W)``.
        kind: one of :data:`CONTROL_KINDS`: ``"random"``, ``"input"`` or ``"edges"``.
        seed: seeds the ``"random"`` noise (non-negative; ignored by the other kinds).

    Returns:
        A float tensor of ``x``'s shape, dtype and device, without gradient history.

    Examples::

        >>> import torch
        >>> from helpers import control_map
        >>> x = torch.zeros(1, 1, 3, 4)
        >>> x[..., 2:] = 1.0  # a vertical step: dark left half, bright right half
        >>> control_map(x, "edges")[0, 0, 0]  # the edge lies between columns 1 and 2
        tensor([0.0000, 0.7071, 0.7071, 0.0000])
        >>> torch.equal(control_map(x, "input"), x)
        True
        >>> noise = control_map(x, "random", seed=1)
        >>> torch.equal(noise, control_map(x, "random", seed=1)), bool((noise >= 0).all() and (noise < 1).all())
        (True, True)
    """
    check_batch(x, "x")
    check_choice(kind, "kind", CONTROL_KINDS)
    seed = check_int(seed, "seed", minimum=0)
    if kind == "random":
        generator = torch.Generator().manual_seed(seed)  # on the CPU: the same maps on every device
        return torch.rand(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    if kind == "input":
        return x.detach().clone()
    if x.dim() != 4:
        raise ValueError(
            f'kind="edges" needs images (N, C, H, W), got x of shape {tuple(x.shape)}; '
            "for greyscale images (N, H, W), pass x.unsqueeze(1)."
        )
    images = x.detach().cpu()
    if images.dtype not in (torch.float32, torch.float64):  # NumPy has no bfloat16; sobel computes in float32 anyway
        images = images.float()
    edges = np.stack([[sobel(channel) for channel in image] for image in images.numpy()])
    return torch.from_numpy(edges).to(device=x.device, dtype=x.dtype)
