"""LIME (Ribeiro et al., 2016) on image batches or tables, returned with the input's shape.

Images are explained with ``lime_image`` over superpixels (a grid by default), each
superpixel's weight spread over its pixels; tables ``(N, F)`` with ``lime_tabular``, one
weight per feature.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np
import torch
from lime import lime_image, lime_tabular
from torch import nn

from helpers._checks import (
    Score,
    Target,
    check_batch,
    check_bool,
    check_images_or_table,
    check_int,
    check_model,
    check_score,
    check_unit_range,
    resolve_target,
)
from helpers._running import BATCH_SIZE, batched_logits
from helpers.explain.adapters import numpy_predictor
from helpers.explain.contrast import explain_contrast
from helpers.explain.segmentation import GridSegmentation, paint_segments


class QuietLimeImageExplainer(lime_image.LimeImageExplainer):
    """``lime_image.LimeImageExplainer`` without its progress bar, and faster: the perturbed images
    of a batch are built in one NumPy operation instead of one image at a time.

    The same random draws and the same images as the original, so the same explanation. In
    Jupyter the original's progress bar is a widget: hundreds of explanations would send
    thousands of widget messages and fill the notebook with bars. Used in notebook 05, section
    "LIME from scratch", and by :func:`lime_map`.

    Examples::

        >>> import numpy as np
        >>> from helpers import GridSegmentation, QuietLimeImageExplainer, load_pretrained, mnist, numpy_predictor
        >>> digit = mnist(train=False)[0][0][0].double().numpy()  # (28, 28), a 7
        >>> rgb = np.repeat(digit[..., None], 3, axis=-1)  # lime_image expects RGB (H, W, 3)
        >>> explanation = QuietLimeImageExplainer(random_state=0).explain_instance(
        ...     rgb, numpy_predictor(load_pretrained()), labels=(7,), top_labels=None, hide_color=0,
        ...     num_samples=200, batch_size=200, segmentation_fn=GridSegmentation(4))
        >>> len(explanation.local_exp[7])  # one weight per superpixel of the 7 x 7 grid
        49
    """

    def data_labels(
        self,
        image: np.ndarray,
        fudged_image: np.ndarray,
        segments: np.ndarray,
        classifier_fn: Callable[[np.ndarray], np.ndarray],
        num_samples: int,
        batch_size: int = 10,
    ) -> tuple[np.ndarray, np.ndarray]:
        n_features = np.unique(segments).shape[0]
        data = self.random_state.randint(0, 2, num_samples * n_features).reshape((num_samples, n_features))
        data[0, :] = 1
        labels = []
        for start in range(0, num_samples, batch_size):
            keep = data[start : start + batch_size][:, segments] != 0  # (n, H, W): pixels whose superpixel is kept
            if image.ndim == 3:
                keep = keep[..., None]
            labels.append(classifier_fn(np.where(keep, image, fudged_image)))
        return data, np.concatenate(labels)


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
    contrast: Target = None,
    samples: int = 1000,
    patch: int = 4,
    segmentation: Callable[[np.ndarray], np.ndarray] | None = None,
    training_data: torch.Tensor | None = None,
    discretize: bool = True,
    sample_around_instance: bool = False,
    seed: int = 0,
    score: Score = "logit",
    batch_size: int = BATCH_SIZE,
) -> LimeResult:
    """Explain each input of a batch with LIME: images on superpixels, tables per feature.

    Derived in notebook 05 (images; a from-scratch LIME beside the ``lime`` package) and
    notebook 09 (tables).

    Args:
        model: classifier returning logits ``(N, classes)``; run in eval mode, restored.
        x: ``(N, 1, H, W)`` float images with values in [0, 1] (a hidden superpixel is set to
            0, black), or an ``(N, F)`` float table.
        target: as in :func:`helpers.saliency`; ``None`` for the predicted class.
        contrast: as in :func:`helpers.saliency`: the surrogate then fits the logit difference
            ``S_target - S_contrast`` (only with ``score="logit"``).
        samples: perturbed inputs per explanation.
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
        score: what the surrogate fits: the target's ``"logit"`` (as every helper explains) or its
            ``"probability"`` (the ``lime`` package's convention).
        batch_size: perturbed inputs per forward pass.

    Returns:
        :class:`LimeResult`. For images, each superpixel's weight is spread over its pixels
        (divided by its size), so a map has the shape and layout of a saliency map.

    Examples::

        >>> import torch
        >>> from torch import nn
        >>> from helpers import lime_map
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
        >>> result = lime_map(model, torch.rand(2, 1, 28, 28), target=3, samples=200)
        >>> result.maps.shape, result.scores.shape
        (torch.Size([2, 1, 28, 28]), (2,))
    """
    if contrast is not None:
        if score != "logit":
            raise ValueError(
                f"contrast explains the logit difference S_target - S_contrast; use score='logit', got score={score!r}."
            )
        options = {
            "samples": samples,
            "patch": patch,
            "segmentation": segmentation,
            "training_data": training_data,
            "discretize": discretize,
            "sample_around_instance": sample_around_instance,
            "seed": seed,
        }
        return explain_contrast(lime_map, model, x, target, contrast, batch_size=batch_size, **options)
    check_model(model)
    table = check_images_or_table(x, "x")
    samples = check_int(samples, "samples", minimum=2)
    batch_size = check_int(batch_size, "batch_size")
    seed = check_int(seed, "seed", minimum=0, maximum=2**32 - 1)  # NumPy's seeds
    check_score(score)
    check_bool(discretize, "discretize")
    check_bool(sample_around_instance, "sample_around_instance")
    if table:
        if training_data is None:
            raise ValueError(
                "a table x (N, F) needs training_data (M, F): the rows LIME learns each feature's spread from."
            )
        check_batch(training_data, "training_data")
        if training_data.dim() != 2 or training_data.shape[1] != x.shape[1]:
            raise ValueError(
                f"training_data must be (M, F) with F = {x.shape[1]} like x, got shape {tuple(training_data.shape)}."
            )
        if segmentation is not None:
            raise ValueError("segmentation applies to images; a table is explained feature by feature.")
    elif training_data is not None or not discretize or sample_around_instance:
        raise ValueError(
            "training_data, discretize and sample_around_instance apply to tables (N, F); "
            "images are perturbed by hiding superpixels."
        )
    else:
        check_unit_range(x, "x", "LIME hides a superpixel by setting it to 0, black on that scale")
        patch = check_int(patch, "patch")
    classes = resolve_target(target, batched_logits(model, x.detach(), batch_size)).tolist()
    predict = numpy_predictor(
        model, score=score, image_shape=None if table else tuple(x.shape[1:]), batch_size=batch_size
    )
    if table:
        assert training_data is not None
        settings = {
            "discretize_continuous": discretize,
            "sample_around_instance": sample_around_instance,
            "random_state": seed,
        }
        maps, fits = _explain_rows(x, classes, predict, training_data, settings, samples=samples)
    else:
        maps, fits = _explain_images(
            x,
            classes,
            predict,
            patch=patch,
            segmentation=segmentation,
            samples=samples,
            seed=seed,
            batch_size=batch_size,
        )
    return LimeResult(torch.tensor(maps, dtype=x.dtype, device=x.device), np.array(fits))


def _explain_images(
    images: torch.Tensor,
    classes: list[int],
    predict: Callable[[np.ndarray], np.ndarray],
    *,
    patch: int,
    segmentation: Callable[[np.ndarray], np.ndarray] | None,
    samples: int,
    seed: int,
    batch_size: int,
) -> tuple[np.ndarray, list[float]]:
    """``lime_image`` per image: maps ``(N, 1, H, W)`` and R^2 scores."""
    if segmentation is None:
        segmentation = GridSegmentation(patch)
    elif not callable(segmentation):
        raise TypeError(
            f"segmentation must be a function from an (H, W, 3) image to (H, W) labels, got {type(segmentation).__name__}."
        )
    maps, scores = [], []
    for image, label in zip(images.detach().cpu().numpy(), classes, strict=True):
        rgb = np.repeat(image[0][..., None], 3, axis=-1).astype(np.float64)
        explainer = QuietLimeImageExplainer(random_state=seed)
        segments = segmentation(rgb)
        explanation = explainer.explain_instance(
            rgb,
            predict,
            labels=(label,),
            top_labels=None,
            hide_color=0,
            num_features=int(segments.max()) + 1,
            num_samples=samples,
            batch_size=batch_size,
            segmentation_fn=segmentation,
            random_seed=seed,
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
    settings: Mapping[str, object],
    *,
    samples: int,
) -> tuple[np.ndarray, list[float]]:
    """``lime_tabular`` per row (``settings``: explainer options): weights ``(N, F)`` and R^2 scores."""
    features = rows.shape[1]
    training = training_data.detach().cpu().double().numpy()
    maps, scores = [], []
    for row, label in zip(rows.detach().cpu().double().numpy(), classes, strict=True):
        explainer = lime_tabular.LimeTabularExplainer(
            training, mode="classification", feature_selection="none", **settings
        )
        with warnings.catch_warnings():  # fitting logits is deliberate (score="logit"); LIME warns they don't sum to 1
            warnings.filterwarnings("ignore", message=r"\s*Prediction probabilties do not sum to 1")
            explanation = explainer.explain_instance(
                row, predict, labels=(label,), num_features=features, num_samples=samples
            )
        weights = np.zeros(features)
        for feature, weight in explanation.local_exp[label]:
            weights[feature] = weight
        maps.append(weights)
        scores.append(float(explanation.score))
    return np.stack(maps), scores
