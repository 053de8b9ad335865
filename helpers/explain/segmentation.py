"""Superpixels for perturbation methods: a regular grid of square patches, and masking by segment."""

from __future__ import annotations

import numpy as np

from helpers._checks import check_int


def grid_segments(height: int = 28, width: int = 28, patch: int = 4) -> np.ndarray:
    """A ``(height, width)`` int array labelling square ``patch x patch`` cells 0, 1, 2, ... row by row.

    Every pixel belongs to exactly one segment; on 28 x 28 with ``patch=4`` there are 49.
    Edge cells are smaller when ``patch`` does not divide the size. Used in notebook 05.

    Examples::

        >>> from helpers import grid_segments
        >>> grid_segments(4, 6, patch=2)
        array([[0, 0, 1, 1, 2, 2],
               [0, 0, 1, 1, 2, 2],
               [3, 3, 4, 4, 5, 5],
               [3, 3, 4, 4, 5, 5]])
    """
    height, width, patch = (
        check_int(value, name) for name, value in (("height", height), ("width", width), ("patch", patch))
    )
    columns = -(-width // patch)
    rows = np.arange(height)[:, None] // patch
    cols = np.arange(width)[None, :] // patch
    return (rows * columns + cols).astype(np.int64)


class GridSegmentation:
    """LIME's ``segmentation_fn``: ``GridSegmentation(patch)(image)`` labels the image's grid cells.

    Accepts ``(H, W)`` or ``(H, W, C)`` images; returns ``(H, W)`` int labels. Passed to ``lime_image``
    in notebook 05 in place of quickshift, which finds only a handful of segments on a digit.

    Examples::

        >>> import numpy as np
        >>> from helpers import GridSegmentation
        >>> int(GridSegmentation(4)(np.zeros((28, 28, 3))).max()) + 1  # superpixels on an MNIST digit
        49
    """

    def __init__(self, patch: int = 4) -> None:
        self.patch = check_int(patch, "patch")

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return grid_segments(image.shape[0], image.shape[1], self.patch)

    def __repr__(self) -> str:
        return f"GridSegmentation(patch={self.patch})"


def mask_segments(
    image: np.ndarray, segments: np.ndarray, keep: np.ndarray, fill: float | np.ndarray = 0.0
) -> np.ndarray:
    """Images with the segments where ``keep`` is 0 replaced by ``fill``: LIME's and Kernel SHAP's perturbations.

    Used in notebook 05, section "LIME from scratch".

    Args:
        image: ``(H, W)``.
        segments: ``(H, W)`` int labels ``0..M-1``.
        keep: ``(n, M)`` of 0/1 (or booleans): which segments each output keeps.
        fill: a number, or an ``(H, W)`` image to take the hidden pixels from.

    Returns:
        ``(n, H, W)`` float array.

    Examples::

        >>> import numpy as np
        >>> from helpers import grid_segments, mask_segments
        >>> image = np.ones((2, 4))
        >>> mask_segments(image, grid_segments(2, 4, patch=2), keep=[[1, 0]], fill=0.5)
        array([[[1. , 1. , 0.5, 0.5],
                [1. , 1. , 0.5, 0.5]]])
    """
    image = np.asarray(image, dtype=float)
    keep = np.asarray(keep)
    if keep.ndim == 1:
        keep = keep[None]
    if image.shape != segments.shape:
        raise ValueError(f"image {image.shape} and segments {segments.shape} must have the same (H, W) shape.")
    count = int(segments.max()) + 1
    if keep.shape[1] != count:
        raise ValueError(f"keep must have one column per segment ({count}), got shape {keep.shape}.")
    if np.ndim(fill) not in (0, 2) or (np.ndim(fill) == 2 and np.shape(fill) != image.shape):
        raise ValueError(f"fill must be a number or an image of shape {image.shape}, got shape {np.shape(fill)}.")
    pixel_keep = keep[:, segments] > 0.5
    return np.where(pixel_keep, image[None], np.broadcast_to(fill, image.shape)[None])


def paint_segments(values: np.ndarray, segments: np.ndarray, *, per_pixel: bool = True) -> np.ndarray:
    """An ``(H, W)`` map from one value per segment ``(M,)``.

    ``per_pixel=True`` divides each value by its segment's size, so that the map summed over
    a segment gives back that segment's value (and the whole map sums to ``values.sum()``).
    Used in notebook 05 to turn LIME's superpixel weights into a map.

    Examples::

        >>> from helpers import grid_segments, paint_segments
        >>> paint_segments([4.0, 2.0], grid_segments(2, 4, patch=2))
        array([[1. , 1. , 0.5, 0.5],
               [1. , 1. , 0.5, 0.5]])
    """
    values = np.asarray(values, dtype=float)
    sizes = np.bincount(segments.ravel())
    if len(sizes) != len(values):
        raise ValueError(
            f"values has {len(values)} entries but segments has {len(sizes)} labels; pass one value per segment."
        )
    scaled = values / sizes if per_pixel else values
    return scaled[segments]
