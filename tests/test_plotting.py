"""helpers.course.plotting: figures have titles, colour bars and the right colour ranges."""

from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.patches import Rectangle

from helpers.course.plotting import (
    MAP_CMAP,
    SIGNED_CMAP,
    plot_feature_bars,
    plot_map,
    show_explanation,
    show_grid,
    to_image,
)

from bad_arguments import int_error


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_to_image_squeezes_channel_dimensions():
    assert to_image(torch.zeros(1, 1, 5, 5)).shape == (5, 5)
    assert to_image(np.zeros((5, 5))).shape == (5, 5)
    with pytest.raises(ValueError, match=r"maps\[0\]"):
        to_image(torch.zeros(3, 1, 5, 5))
    with pytest.raises(TypeError):
        to_image([[0.0]])  # type: ignore[arg-type]


def test_plot_map_ranges():
    _, ax = plt.subplots()
    m = torch.tensor([[0.0, 2.0], [-4.0, 1.0]])
    signed = plot_map(ax, m, signed=True)
    assert signed.get_clim() == (-4.0, 4.0) and signed.get_cmap().name == SIGNED_CMAP
    unsigned = plot_map(ax, m.abs())
    assert unsigned.get_clim() == (0.0, 4.0) and unsigned.get_cmap().name == MAP_CMAP
    flat = plot_map(ax, torch.zeros(2, 2))
    assert flat.get_clim() == (0.0, 1.0)


def test_show_explanation_has_title_three_panels_and_colour_bars():
    figure = show_explanation(torch.rand(1, 28, 28), torch.rand(1, 28, 28), title="a 7")
    assert figure.get_suptitle() == "a 7"
    panels = [ax for ax in figure.axes if ax.get_title()]
    assert len(panels) == 3
    assert len(figure.axes) == 6, "each of the three panels has a colour bar"
    with pytest.raises(ValueError, match="alpha"):
        show_explanation(torch.rand(28, 28), torch.rand(28, 28), title="t", alpha=2)


def test_show_grid_normalises_each_map_and_checks_lengths():
    images = torch.rand(3, 1, 8, 8)
    maps = torch.rand(3, 1, 8, 8) * torch.tensor([1.0, 10.0, 100.0]).reshape(3, 1, 1, 1)
    figure = show_grid(images, {"saliency": maps}, title="grid", column_titles=["a", "b", "c"])
    drawn = [ax.images[0] for ax in figure.axes[3:6]]
    arrays = [image.get_array() for image in drawn]
    assert all(array is not None and array.max() == pytest.approx(1.0) for array in arrays)
    with pytest.raises(ValueError, match="one per image"):
        show_grid(images, {"saliency": maps[:2]}, title="grid")
    with pytest.raises(ValueError, match="column_titles"):
        show_grid(images, {"saliency": maps}, title="grid", column_titles=["a"])


# ---------------------------------------------------------------------------
# plot_feature_bars
# ---------------------------------------------------------------------------

FEATURES = ["a", "b", "c", "d", "e"]


def bars_of(ax: Axes) -> list[Rectangle]:
    """The bars of a bar chart."""
    bars = [patch for patch in ax.patches if isinstance(patch, Rectangle)]
    assert len(bars) == len(ax.patches)
    return bars


def test_feature_bars_show_the_top_features_by_magnitude_largest_first():
    _, ax = plt.subplots()
    shown = plot_feature_bars(ax, torch.tensor([0.1, -3.0, 2.0, 0.0, -0.5]), FEATURES, top=3, xlabel="weight")
    assert list(shown) == [1, 2, 4]
    bars = sorted(bars_of(ax), key=lambda bar: -bar.get_y())  # top of the chart first
    assert [bar.get_width() for bar in bars] == [-3.0, 2.0, -0.5]
    ticks = sorted(
        zip(ax.get_yticks(), [label.get_text() for label in ax.get_yticklabels()], strict=True), reverse=True
    )
    assert [text for _, text in ticks] == ["b", "c", "e"]  # each bar labelled with its feature
    assert ax.get_xlabel() == "weight"


def test_feature_bars_colour_by_sign_and_follow_a_given_order():
    _, ax = plt.subplots()
    shown = plot_feature_bars(ax, np.array([1.0, -1.0, 2.0, 0.5, -0.1]), FEATURES, features=[3, 0, 1])
    assert list(shown) == [3, 0, 1]
    bars = sorted(bars_of(ax), key=lambda bar: -bar.get_y())
    assert [bar.get_width() for bar in bars] == [0.5, 1.0, -1.0]
    red, blue = to_rgba(bars[0].get_facecolor()), to_rgba(bars[2].get_facecolor())
    assert red[0] > red[2] and blue[2] > blue[0]  # raising the score is red, lowering it blue


@pytest.mark.parametrize("values", [np.zeros((2, 5)), np.zeros(4)])
def test_feature_bars_reject_values_that_are_not_one_per_feature(values):
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match=r"shape \(F,\) with F = len\(feature_names\) = 5"):
        plot_feature_bars(ax, values, FEATURES)


@pytest.mark.parametrize("top", [0, -1, 2.5, True])
def test_feature_bars_reject_a_bad_top(top):
    _, ax = plt.subplots()
    with pytest.raises(int_error(top), match="top must be a positive int"):
        plot_feature_bars(ax, np.ones(5), FEATURES, top=top)


def test_feature_bars_accept_a_numpy_integer_top():
    _, ax = plt.subplots()
    top: Any = np.int64(2)  # Any: the annotation says int, and NumPy integers are accepted too
    shown = plot_feature_bars(ax, np.array([0.1, -3.0, 2.0, 0.5, 0.0]), FEATURES, top=top)
    assert shown.tolist() == [1, 2]
    assert len(ax.patches) == 2
