"""LIME (Ribeiro et al., 2016) on image batches, returned as per-pixel maps like a saliency map."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np
import torch
from lime import lime_image
from torch import nn

from helpers._validation import Target, check_batch, check_model, evaluation_mode, resolve_target
from helpers.adapters import Output, numpy_predictor
from helpers.segmentation import GridSegmentation, paint_segments


@contextlib.contextmanager
def quiet_lime() -> Iterator[None]:
    """Switch off the progress bar ``lime_image`` draws for every explanation, then switch it back.

    In Jupyter that bar is a widget: hundreds of explanations would send thousands of widget
    messages and fill the notebook with bars.
    """
    original = lime_image.tqdm
    lime_image.tqdm = lambda iterable, *args, **kwargs: iterable
    try:
        yield
    finally:
        lime_image.tqdm = original


class LimeResult(NamedTuple):
    """``maps``: ``(N, 1, H, W)`` per-pixel weights; ``scores``: ``(N,)`` R^2 of each surrogate fit."""

    maps: torch.Tensor
    scores: np.ndarray


def lime_map(
    model: nn.Module,
    images: torch.Tensor,
    target: Target = None,
    *,
    num_samples: int = 1000,
    patch: int = 4,
    segmentation: Callable[[np.ndarray], np.ndarray] | None = None,
    seed: int = 0,
    output: Output = "probabilities",
    batch_size: int = 2048,
) -> LimeResult:
    """Explain each image of a batch ``(N, 1, H, W)`` with ``lime_image`` on a grid of superpixels.

    Args:
        model: classifier returning logits ``(N, classes)``; run in eval mode, restored.
        images: ``(N, 1, H, W)`` float batch in [0, 1].
        target: as in :func:`helpers.saliency.saliency`; ``None`` for the predicted class.
        num_samples: perturbed images per explanation.
        patch: grid cell size (4 gives 49 superpixels on 28 x 28; LIME's default
            quickshift finds only a handful on MNIST digits).
        segmentation: instead of the grid, any ``segmentation_fn`` for ``lime_image``:
            ``(H, W, 3)`` image to ``(H, W)`` integer labels ``0..M-1``.
        seed: ``random_state`` of the explainer, which seeds the sampling of masks
            (``lime_image``'s ``random_seed`` only seeds its own segmentation algorithm).
        output: what the surrogate fits: ``"probabilities"`` (LIME's convention) or ``"logits"``.
        batch_size: perturbed images per forward pass.

    Returns:
        :class:`LimeResult`. Each superpixel's weight is spread over its pixels
        (divided by its size), so a map has the shape and layout of a saliency map.
        Hidden superpixels are set to 0 (black).
    """
    check_model(model)
    check_batch(images, "images")
    if images.dim() != 4 or images.shape[1] != 1:
        raise ValueError(f"images must be a greyscale batch (N, 1, H, W), got shape {tuple(images.shape)}.")
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 2:
        raise ValueError(f"num_samples must be an int of at least 2, got {num_samples!r}.")
    with evaluation_mode(model), torch.no_grad():
        classes = resolve_target(target, model(images.detach())).tolist()
    predict = numpy_predictor(model, output=output, image_shape=tuple(images.shape[1:]), batch_size=batch_size)
    if segmentation is None:
        segmentation = GridSegmentation(patch)
    elif not callable(segmentation):
        raise TypeError(f"segmentation must be a function from an (H, W, 3) image to (H, W) labels, got {type(segmentation).__name__}.")
    maps, scores = [], []
    for image, label in zip(images.detach().cpu().numpy(), classes):
        rgb = np.repeat(image[0][..., None], 3, axis=-1).astype(np.float64)
        explainer = lime_image.LimeImageExplainer(random_state=seed)
        segments = segmentation(rgb)
        with quiet_lime():
            explanation = explainer.explain_instance(
                rgb, predict, labels=(label,), top_labels=None, hide_color=0,
                num_features=int(segments.max()) + 1, num_samples=num_samples,
                batch_size=batch_size, segmentation_fn=segmentation, random_seed=seed,
            )
        weights = np.zeros(int(segments.max()) + 1)
        for segment, weight in explanation.local_exp[label]:
            weights[segment] = weight
        maps.append(paint_segments(weights, segments))
        scores.append(float(explanation.score))
    result = torch.tensor(np.stack(maps), dtype=images.dtype, device=images.device).unsqueeze(1)
    return LimeResult(result, np.array(scores))
