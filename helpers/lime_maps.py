"""LIME (Ribeiro et al., 2016) on image batches or tables, returned with the input's shape.

Images are explained with ``lime_image`` over superpixels (a grid by default), each
superpixel's weight spread over its pixels; tables ``(N, F)`` with ``lime_tabular``, one
weight per feature.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np
import torch
from lime import lime_image, lime_tabular
from torch import nn

from helpers._validation import (
    Target,
    call_model,
    check_batch,
    check_images_or_table,
    check_model,
    evaluation_mode,
    resolve_target,
)
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
    """``maps``: weights with the input's shape, ``(N, 1, H, W)`` per pixel or ``(N, F)`` per
    feature; ``scores``: ``(N,)`` R^2 of each surrogate fit."""

    maps: torch.Tensor
    scores: np.ndarray


def lime_map(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    *,
    num_samples: int = 1000,
    patch: int = 4,
    segmentation: Callable[[np.ndarray], np.ndarray] | None = None,
    training_data: torch.Tensor | None = None,
    discretize: bool = True,
    sample_around_instance: bool = False,
    seed: int = 0,
    output: Output = "probabilities",
    batch_size: int = 2048,
) -> LimeResult:
    """Explain each input of a batch with LIME: images on superpixels, tables per feature.

    Args:
        model: classifier returning logits ``(N, classes)``; run in eval mode, restored.
        x: ``(N, 1, H, W)`` float images in [0, 1], or an ``(N, F)`` float table.
        target: as in :func:`helpers.saliency.saliency`; ``None`` for the predicted class.
        num_samples: perturbed inputs per explanation.
        patch: images: grid cell size (4 gives 49 superpixels on 28 x 28; LIME's default
            quickshift finds only a handful on MNIST digits).
        segmentation: images: instead of the grid, any ``segmentation_fn`` for ``lime_image``:
            ``(H, W, 3)`` image to ``(H, W)`` integer labels ``0..M-1``.
        training_data: tables (required): ``(M, F)`` rows from which ``lime_tabular`` learns
            each feature's distribution, to sample perturbations and scale distances.
        discretize: tables: ``lime_tabular``'s ``discretize_continuous``. ``True`` turns each
            feature into "in the same quartile as x or not" and perturbs by drawing quartiles;
            ``False`` draws each feature from a normal fitted to ``training_data`` (around the
            training mean, not around x, unless ``sample_around_instance``) and fits weights
            per standard deviation.
        sample_around_instance: tables, ``discretize=False``: ``lime_tabular``'s option to
            centre the normal samples on x instead of the training mean.
        seed: ``random_state`` of the explainer, which seeds the sampling (``lime_image``'s
            ``random_seed`` only seeds its own segmentation algorithm).
        output: what the surrogate fits: ``"probabilities"`` (LIME's convention) or ``"logits"``.
        batch_size: perturbed inputs per forward pass.

    Returns:
        :class:`LimeResult`. For images, each superpixel's weight is spread over its pixels
        (divided by its size), so a map has the shape and layout of a saliency map; hidden
        superpixels are set to 0 (black).
    """
    check_model(model)
    table = check_images_or_table(x, "x")
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 2:
        raise ValueError(f"num_samples must be an int of at least 2, got {num_samples!r}.")
    for name, flag in (("discretize", discretize), ("sample_around_instance", sample_around_instance)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}.")
    if table:
        if training_data is None:
            raise ValueError("a table x (N, F) needs training_data (M, F): the rows LIME learns each feature's spread from.")
        check_batch(training_data, "training_data")
        if training_data.dim() != 2 or training_data.shape[1] != x.shape[1]:
            raise ValueError(f"training_data must be (M, F) with F = {x.shape[1]} like x, got shape {tuple(training_data.shape)}.")
        if segmentation is not None:
            raise ValueError("segmentation applies to images; a table is explained feature by feature.")
    elif training_data is not None or not discretize or sample_around_instance:
        raise ValueError(
            "training_data, discretize and sample_around_instance apply to tables (N, F); "
            "images are perturbed by hiding superpixels."
        )
    with evaluation_mode(model), torch.no_grad():
        classes = resolve_target(target, call_model(model, x.detach())).tolist()
    predict = numpy_predictor(model, output=output, image_shape=None if table else tuple(x.shape[1:]), batch_size=batch_size)
    if table:
        settings = {"discretize_continuous": discretize, "sample_around_instance": sample_around_instance, "random_state": seed}
        maps, scores = _explain_rows(x, classes, predict, training_data, settings, num_samples=num_samples)
    else:
        maps, scores = _explain_images(x, classes, predict, patch=patch, segmentation=segmentation, num_samples=num_samples, seed=seed, batch_size=batch_size)
    return LimeResult(torch.tensor(maps, dtype=x.dtype, device=x.device), np.array(scores))


def _explain_images(
    images: torch.Tensor,
    classes: list[int],
    predict: Callable[[np.ndarray], np.ndarray],
    *,
    patch: int,
    segmentation: Callable[[np.ndarray], np.ndarray] | None,
    num_samples: int,
    seed: int,
    batch_size: int,
) -> tuple[np.ndarray, list[float]]:
    """``lime_image`` per image: maps ``(N, 1, H, W)`` and R^2 scores."""
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
        maps.append(paint_segments(weights, segments)[None])
        scores.append(float(explanation.score))
    return np.stack(maps), scores


def _explain_rows(
    rows: torch.Tensor,
    classes: list[int],
    predict: Callable[[np.ndarray], np.ndarray],
    training_data: torch.Tensor,
    settings: dict[str, object],
    *,
    num_samples: int,
) -> tuple[np.ndarray, list[float]]:
    """``lime_tabular`` per row (``settings``: explainer options): weights ``(N, F)`` and R^2 scores."""
    features = rows.shape[1]
    training = training_data.detach().cpu().double().numpy()
    maps, scores = [], []
    for row, label in zip(rows.detach().cpu().double().numpy(), classes):
        explainer = lime_tabular.LimeTabularExplainer(training, mode="classification", feature_selection="none", **settings)
        with warnings.catch_warnings():  # fitting logits is deliberate (output="logits"); LIME warns they don't sum to 1
            warnings.filterwarnings("ignore", message=r"\s*Prediction probabilties do not sum to 1")
            explanation = explainer.explain_instance(row, predict, labels=(label,), num_features=features, num_samples=num_samples)
        weights = np.zeros(features)
        for feature, weight in explanation.local_exp[label]:
            weights[feature] = weight
        maps.append(weights)
        scores.append(float(explanation.score))
    return np.stack(maps), scores
