"""Tests of helpers.explain.segmentation: grid superpixels, masking by segment, painting values back.

The grid is checked against a brute-force loop; masking and painting against their
definitions, pixel by pixel.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from helpers.explain.segmentation import GridSegmentation, grid_segments, mask_segments, paint_segments

from bad_arguments import int_error

# ---------------------------------------------------------------------------
# grid_segments
# ---------------------------------------------------------------------------


def brute_force_grid(height: int, width: int, patch: int) -> np.ndarray:
    """Cells numbered row by row, by looping over the cells."""
    labels = np.full((height, width), -1)
    label = 0
    for top in range(0, height, patch):
        for left in range(0, width, patch):
            labels[top : top + patch, left : left + patch] = label
            label += 1
    return labels


def test_default_grid_is_49_cells_of_16_pixels() -> None:
    labels = grid_segments()
    assert labels.shape == (28, 28)
    assert labels.dtype == np.int64
    assert np.array_equal(np.unique(labels), np.arange(49))
    assert np.array_equal(np.bincount(labels.ravel()), np.full(49, 16))
    cells = labels.reshape(7, 4, 7, 4)  # (cell row, row in cell, cell column, column in cell)
    assert (cells == cells[:, :1, :, :1]).all()  # each 4 x 4 cell is one label
    assert np.array_equal(cells[:, 0, :, 0], np.arange(49).reshape(7, 7))  # numbered row by row


SHAPES = [
    (28, 28, 4),
    (28, 28, 5),
    (28, 28, 3),
    (28, 28, 1),
    (28, 28, 28),
    (28, 28, 29),
    (10, 7, 4),
    (5, 13, 2),
    (1, 1, 1),
]


@pytest.mark.parametrize(("height", "width", "patch"), SHAPES)
def test_grid_equals_brute_force_and_covers_every_pixel_once(height, width, patch) -> None:
    labels = grid_segments(height, width, patch)
    assert labels.shape == (height, width)
    assert np.array_equal(labels, brute_force_grid(height, width, patch))
    count = math.ceil(height / patch) * math.ceil(width / patch)
    assert np.array_equal(np.unique(labels), np.arange(count))  # contiguous 0..M-1
    sizes = np.bincount(labels.ravel())
    assert sizes.sum() == height * width  # every pixel has exactly one label
    row_sizes = [min(patch, height - top) for top in range(0, height, patch)]
    col_sizes = [min(patch, width - left) for left in range(0, width, patch)]
    assert np.array_equal(sizes, np.outer(row_sizes, col_sizes).ravel())


def test_non_dividing_patch_gives_smaller_edge_cells() -> None:
    labels = grid_segments(28, 28, 5)
    sizes = np.bincount(labels.ravel()).reshape(6, 6)
    assert labels.max() == 35
    assert (sizes[:5, :5] == 25).all()
    assert (sizes[:5, 5] == 15).all() and (sizes[5, :5] == 15).all()
    assert sizes[5, 5] == 9
    for label in range(36):  # each segment is one rectangle
        rows, cols = np.nonzero(labels == label)
        assert (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1) == len(rows)


@pytest.mark.parametrize("patch", [0, -1, 2.5, True, "4", None])
def test_bad_patch_is_refused_naming_patch(patch) -> None:
    with pytest.raises(int_error(patch), match="patch must be a positive int"):
        grid_segments(28, 28, patch)


@pytest.mark.parametrize(
    ("name", "kwargs"), [("height", {"height": 0}), ("width", {"width": -3}), ("height", {"height": 2.0})]
)
def test_bad_size_is_refused_naming_the_argument(name, kwargs) -> None:
    with pytest.raises(int_error(kwargs[name]), match=f"{name} must be a positive int"):
        grid_segments(**kwargs)


def test_numpy_integer_sizes_are_accepted() -> None:
    sizes: list[Any] = [np.int64(8), np.int32(8), np.int64(4)]  # Any: annotated int, NumPy integers accepted too
    assert np.array_equal(grid_segments(*sizes), grid_segments(8, 8, 4))


# ---------------------------------------------------------------------------
# GridSegmentation (LIME's segmentation_fn)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(28, 28), (28, 28, 3), (28, 28, 1), (20, 12, 3), (9, 30)])
def test_grid_segmentation_labels_the_images_height_and_width(shape) -> None:
    image = np.random.default_rng(0).random(shape)
    before = image.copy()
    labels = GridSegmentation(4)(image)
    assert np.array_equal(labels, grid_segments(shape[0], shape[1], 4))
    assert np.array_equal(image, before)


def test_grid_segmentation_patch_and_repr() -> None:
    segmentation = GridSegmentation(7)
    assert segmentation.patch == 7
    assert repr(segmentation) == "GridSegmentation(patch=7)"
    assert np.array_equal(segmentation(np.zeros((28, 28, 3))), grid_segments(28, 28, 7))
    assert GridSegmentation()(np.zeros((28, 28))).max() == 48  # default patch 4


@pytest.mark.parametrize("patch", [0, -2, 1.5, True])
def test_grid_segmentation_rejects_a_bad_patch_naming_it(patch) -> None:
    with pytest.raises(int_error(patch), match="patch must be a positive int"):
        GridSegmentation(patch)


# ---------------------------------------------------------------------------
# mask_segments
# ---------------------------------------------------------------------------


@pytest.fixture
def small() -> tuple[np.ndarray, np.ndarray]:
    """A random 6 x 5 image in (0.1, 1) and its grid of 3 x 3 cells (4 segments, unequal sizes)."""
    image = 0.1 + 0.9 * np.random.default_rng(1).random((6, 5))
    return image, grid_segments(6, 5, 3)


def test_keep_all_gives_the_image_and_keep_none_gives_the_fill(small) -> None:
    image, segments = small
    result = mask_segments(image, segments, np.array([[1, 1, 1, 1], [0, 0, 0, 0]]))
    assert result.shape == (2, 6, 5)
    assert result.dtype == np.float64
    assert np.array_equal(result[0], image)
    assert np.array_equal(result[1], np.zeros((6, 5)))
    assert np.array_equal(mask_segments(image, segments, np.zeros((1, 4)), fill=0.5)[0], np.full((6, 5), 0.5))


def test_masking_equals_a_pixel_by_pixel_loop(small) -> None:
    image, segments = small
    keep = np.random.default_rng(2).integers(0, 2, size=(7, 4))
    result = mask_segments(image, segments, keep, fill=-1.0)
    for n in range(7):
        for i in range(6):
            for j in range(5):
                expected = image[i, j] if keep[n, segments[i, j]] else -1.0
                assert result[n, i, j] == expected


def test_one_hot_keep_keeps_exactly_that_segment(small) -> None:
    image, segments = small
    result = mask_segments(image, segments, np.eye(4, dtype=bool))
    for label in range(4):
        inside = segments == label
        assert np.array_equal(result[label][inside], image[inside])
        assert (result[label][~inside] == 0).all()


def test_fill_can_be_an_image(small) -> None:
    image, segments = small
    fill = -np.arange(30, dtype=float).reshape(6, 5)
    result = mask_segments(image, segments, np.array([[1, 0, 0, 1]]), fill=fill)
    kept = np.isin(segments, [0, 3])
    assert np.array_equal(result[0][kept], image[kept])
    assert np.array_equal(result[0][~kept], fill[~kept])


def test_one_dimensional_keep_is_one_row_and_inputs_are_untouched(small) -> None:
    image, segments = small
    keep = np.array([0, 1, 1, 0])
    copies = image.copy(), segments.copy(), keep.copy()
    result = mask_segments(image, segments, keep)
    assert result.shape == (1, 6, 5)
    assert np.array_equal(result[0], np.where(np.isin(segments, [1, 2]), image, 0.0))
    for before, after in zip(copies, (image, segments, keep), strict=True):
        assert np.array_equal(before, after)


def test_masking_the_mnist_grid(test_images) -> None:
    image = test_images[0, 0].numpy()
    segments = grid_segments()
    keep = np.zeros((1, 49))
    keep[0, [0, 24, 48]] = 1
    result = mask_segments(image, segments, keep)[0]
    mask = np.isin(segments, [0, 24, 48])
    assert np.array_equal(result[mask], image[mask].astype(float))
    assert (result[~mask] == 0).all()


def test_image_and_segments_of_different_shapes_is_a_value_error(small) -> None:
    image, _ = small
    with pytest.raises(ValueError, match=r"image \(6, 5\) and segments \(6, 6\) must have the same"):
        mask_segments(image, grid_segments(6, 6, 3), np.ones((1, 4)))


@pytest.mark.parametrize("width", [3, 5])
def test_keep_of_wrong_width_is_a_value_error(small, width) -> None:
    image, segments = small
    with pytest.raises(ValueError, match=r"keep must have one column per segment \(4\)"):
        mask_segments(image, segments, np.ones((2, width)))


def test_fill_image_of_wrong_shape_is_a_value_error(small) -> None:
    image, segments = small
    with pytest.raises(ValueError):
        mask_segments(image, segments, np.ones((1, 4)), fill=np.zeros((3, 3)))


# ---------------------------------------------------------------------------
# paint_segments
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("height", "width", "patch"), [(28, 28, 4), (28, 28, 5), (6, 5, 3)])
def test_per_pixel_map_sums_back_to_each_segments_value(height, width, patch) -> None:
    segments = grid_segments(height, width, patch)
    count = segments.max() + 1
    values = np.random.default_rng(3).standard_normal(count)
    painted = paint_segments(values, segments)
    assert painted.shape == (height, width)
    np.testing.assert_allclose(np.bincount(segments.ravel(), weights=painted.ravel()), values, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(painted.sum(), values.sum(), rtol=1e-12, atol=1e-12)
    sizes = np.bincount(segments.ravel())
    for label in range(count):  # constant within a segment
        assert np.array_equal(painted[segments == label], np.full(sizes[label], values[label] / sizes[label]))


def test_without_per_pixel_each_pixel_gets_its_segments_value() -> None:
    segments = grid_segments(28, 28, 5)
    values = np.arange(36, dtype=float) - 10
    painted = paint_segments(values, segments, per_pixel=False)
    assert np.array_equal(painted, values[segments])


def test_default_grid_divides_by_16() -> None:
    painted = paint_segments(np.full(49, 16.0), grid_segments())
    assert np.array_equal(painted, np.ones((28, 28)))


def test_paint_inverts_mask_bookkeeping_of_lime_weights() -> None:
    """Painting one weight per segment, then summing the map over the segment kept alone, gives the weight."""
    segments = grid_segments(28, 28, 4)
    weights = np.linspace(-1, 1, 49)
    painted = paint_segments(weights, segments)
    for label in (0, 17, 48):
        keep = np.zeros((1, 49))
        keep[0, label] = 1
        assert mask_segments(painted, segments, keep)[0].sum() == pytest.approx(weights[label])


@pytest.mark.parametrize("count", [3, 48])
def test_too_few_values_is_a_value_error(count) -> None:
    segments = grid_segments(4, 4, 2) if count == 3 else grid_segments()
    labels = segments.max() + 1
    with pytest.raises(ValueError, match=f"values has {count} entries but segments has {labels} labels"):
        paint_segments(np.ones(count), segments)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_too_many_values_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="values has 5 entries but segments has 4 labels"):
        paint_segments(np.ones(5), grid_segments(4, 4, 2))
