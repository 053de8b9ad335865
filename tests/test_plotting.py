"""helpers.course.plotting: figures have titles, colour bars, the right colour ranges, the digit's outline
and legible fonts; result tables render as HTML and as aligned text."""

from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from helpers.course.plotting import (
    COLUMN_WIDTH,
    COURSE_STYLE,
    INK_THRESHOLD,
    MAP_CMAP,
    SIGNED_CMAP,
    ResultTable,
    draw_explanation,
    draw_outline,
    plot_feature_bars,
    plot_map,
    show_explanation,
    show_grid,
    show_table,
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


# ---------------------------------------------------------------------------
# The colour rule: signed maps centred at 0, magnitudes from 0
# ---------------------------------------------------------------------------


def test_signed_maps_are_centred_at_zero_and_magnitudes_start_at_zero():
    _, ax = plt.subplots()
    m = torch.tensor([[0.5, 3.0], [-1.0, 0.0]])
    signed = plot_map(ax, m, signed=True)
    vmin, vmax = signed.get_clim()
    assert vmin == -vmax == -3.0 and signed.get_cmap().name == SIGNED_CMAP
    signed = plot_map(ax, m, signed=True, vmax=10)
    assert signed.get_clim() == (-10.0, 10.0)
    magnitude = plot_map(ax, m.abs())
    assert magnitude.get_clim()[0] == 0.0 and magnitude.get_cmap().name == MAP_CMAP


def test_a_map_with_negative_values_drawn_unsigned_names_the_fix():
    _, ax = plt.subplots()
    signed_map = torch.tensor([[1.0, -0.5]])
    with pytest.raises(ValueError, match=r"negative values.*\.abs\(\).*signed=True"):
        plot_map(ax, signed_map)
    open_before = plt.get_fignums()
    with pytest.raises(ValueError, match="signed=True"):
        show_explanation(torch.rand(8, 8), torch.randn(8, 8), title="t")
    with pytest.raises(ValueError, match=r"row 'signed' has negative values.*\.abs\(\).*signed=True"):
        show_grid(torch.rand(2, 1, 8, 8), {"signed": torch.randn(2, 1, 8, 8)}, title="t")
    assert plt.get_fignums() == open_before, "no half-drawn figure is left open"


def test_show_grid_and_show_explanation_draw_signed_maps_centred():
    figure = show_grid(torch.rand(2, 1, 8, 8), {"signed": torch.randn(2, 1, 8, 8) + 0.3}, title="t", signed=True)
    for ax in figure.axes[2:4]:
        vmin, vmax = ax.images[0].get_clim()
        assert vmin == -vmax and ax.images[0].get_cmap().name == SIGNED_CMAP
    figure = show_explanation(torch.rand(8, 8), torch.randn(8, 8) + 0.3, title="t", signed=True)
    for ax in figure.axes[1:3]:
        vmin, vmax = ax.images[-1].get_clim()
        assert vmin == -vmax and ax.images[-1].get_cmap().name == SIGNED_CMAP


@pytest.mark.parametrize("vmax", [0.0, -1.0, float("nan")])
def test_plot_map_rejects_a_bad_vmax(vmax):
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match="vmax must be a positive number"):
        plot_map(ax, torch.ones(2, 2), vmax=vmax)


def test_plot_map_rejects_an_image_of_another_shape():
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match="the image the map explains"):
        plot_map(ax, torch.ones(4, 4), image=torch.ones(5, 5))


# ---------------------------------------------------------------------------
# The digit's outline
# ---------------------------------------------------------------------------


def square_of_ink() -> torch.Tensor:
    """An 8 x 8 image with a 3 x 3 square of ink in rows 2-4, columns 3-5 (a faint pixel beside it)."""
    image = torch.zeros(1, 8, 8)
    image[0, 2:5, 3:6] = 0.8
    image[0, 6, 6] = INK_THRESHOLD  # exactly at the threshold: not ink
    return image


SQUARE = (2.5, 5.5, 1.5, 4.5)
"""The square's boundary in imshow's coordinates: x from 2.5 to 5.5, y from 1.5 to 4.5."""


def outlines(ax: Axes) -> list[LineCollection]:
    return [c for c in ax.collections if isinstance(c, LineCollection) and c.get_gid() == "outline"]


def assert_outlines_square(line: LineCollection) -> None:
    """The segments run along the square's four sides, once around, and nowhere else."""
    x0, x1, y0, y1 = SQUARE
    segments = [np.asarray(segment) for segment in line.get_segments()]
    assert len(segments) == 12, "3 pixel edges on each of 4 sides"
    for segment in segments:
        for x, y in segment:
            assert (x in (x0, x1) and y0 <= y <= y1) or (y in (y0, y1) and x0 <= x <= x1), (x, y)
        assert np.abs(segment[1] - segment[0]).sum() == 1.0, "one pixel edge each"
    midpoints = {tuple(segment.mean(axis=0)) for segment in segments}
    assert len(midpoints) == 12, "no edge drawn twice"


def test_outline_runs_along_the_pixel_edges_of_the_ink():
    _, ax = plt.subplots()
    ax.imshow(to_image(square_of_ink()))
    limits = ax.get_xlim(), ax.get_ylim()
    line = draw_outline(ax, square_of_ink())
    assert_outlines_square(line)
    assert (ax.get_xlim(), ax.get_ylim()) == limits, "the outline does not move the axes' limits"
    halo = [c for c in ax.collections if c.get_gid() == "outline halo"]
    assert len(halo) == 1 and np.atleast_1d(halo[0].get_linewidth())[0] > np.atleast_1d(line.get_linewidth())[0]
    assert halo[0].get_zorder() < line.get_zorder(), "the dark line is drawn over its light halo"


def test_outline_closes_ink_at_the_image_border_and_follows_the_threshold():
    _, ax = plt.subplots()
    image = np.zeros((3, 3))
    image[0, 0] = 1.0  # ink in the corner
    segments = draw_outline(ax, image, halo=None).get_segments()
    assert len(segments) == 4
    assert not [c for c in ax.collections if c.get_gid() == "outline halo"]
    assert len(draw_outline(ax, image, threshold=1.0).get_segments()) == 0, "nothing above the threshold"
    with pytest.raises(ValueError, match="linewidth must be positive"):
        draw_outline(ax, image, linewidth=0)


def test_plot_map_draws_the_outline_when_given_the_image():
    _, ax = plt.subplots()
    plot_map(ax, torch.rand(1, 8, 8))
    assert outlines(ax) == []
    plot_map(ax, torch.rand(1, 8, 8), image=square_of_ink())
    assert_outlines_square(outlines(ax)[0])


def test_every_map_and_overlay_panel_of_show_explanation_has_the_outline():
    figure = show_explanation(square_of_ink(), torch.rand(1, 8, 8), title="t")
    assert outlines(figure.axes[0]) == [], "the input itself shows its ink"
    for ax in figure.axes[1:3]:
        (line,) = outlines(ax)
        assert_outlines_square(line)
    figure = show_explanation(square_of_ink(), torch.rand(1, 8, 8), title="t", outline=False)
    assert not any(outlines(ax) for ax in figure.axes)


def test_draw_explanation_keeps_its_positional_signature_and_outlines_both_panels():
    figure, axes = plt.subplots(1, 3)
    draw_explanation(figure, axes, square_of_ink()[0], torch.rand(8, 8), map_label="|m|", signed=False, alpha=0.5)
    assert [len(outlines(ax)) for ax in axes] == [0, 1, 1]


def test_every_map_panel_of_show_grid_has_its_own_images_outline():
    x = torch.stack([square_of_ink(), torch.zeros(1, 8, 8)])
    x[1, 0, 0, 0] = 1.0  # the second image: one pixel of ink in the corner
    figure = show_grid(x, {"a": torch.rand(2, 1, 8, 8), "b": torch.rand(2, 1, 8, 8)}, title="t")
    panels = np.array(figure.axes[:6]).reshape(3, 2)
    assert [outlines(ax) for ax in panels[0]] == [[], []], "the input row shows the ink itself"
    for row in panels[1:]:
        assert_outlines_square(outlines(row[0])[0])
        assert len(outlines(row[1])[0].get_segments()) == 4
    figure = show_grid(x, {"a": torch.rand(2, 1, 8, 8)}, title="t", outline=False)
    assert not any(outlines(ax) for ax in figure.axes)


# ---------------------------------------------------------------------------
# Legibility under the course style
# ---------------------------------------------------------------------------


def texts(figure: Figure) -> list[Text]:
    return [t for t in figure.findobj(Text) if t.get_text() and t.get_visible()]


def test_every_text_of_the_map_figures_is_at_least_11_pt_and_not_rotated_under_the_style():
    with mpl.rc_context(COURSE_STYLE):
        figures = [
            show_explanation(torch.rand(28, 28), torch.rand(28, 28), title="t"),
            show_grid(
                torch.rand(10, 1, 28, 28),
                {"saliency": torch.rand(10, 1, 28, 28)},
                title="t",
                column_titles=[f"pred {k}" for k in range(10)],
            ),
        ]
        for figure in figures:
            figure.canvas.draw()
            for text in texts(figure):
                assert float(text.get_fontsize()) >= 11, (text.get_text(), text.get_fontsize())
                if text in {label for ax in figure.axes for label in ax.get_xticklabels()}:
                    assert text.get_rotation() == 0


def test_figures_are_at_most_a_column_wide_and_a_ten_column_grid_fills_it():
    figure = show_grid(torch.rand(10, 1, 28, 28), {"saliency": torch.rand(10, 1, 28, 28)}, title="t")
    assert figure.get_figwidth() == pytest.approx(COLUMN_WIDTH)
    figure = show_grid(torch.rand(3, 1, 28, 28), {"a much longer row name": torch.rand(3, 1, 28, 28)}, title="t")
    assert figure.get_figwidth() <= COLUMN_WIDTH
    assert figure.axes[3].get_ylabel() == "a much\nlonger row\nname", "long row names wrap"
    assert show_explanation(torch.rand(28, 28), torch.rand(28, 28), title="t").get_figwidth() == COLUMN_WIDTH


def test_show_grid_has_one_labelled_colour_bar_for_its_maps():
    figure = show_grid(torch.rand(2, 1, 8, 8), {"a": torch.rand(2, 1, 8, 8), "b": torch.rand(2, 1, 8, 8)}, title="t")
    assert len(figure.axes) == 7
    assert "largest |value|" in figure.axes[6].get_xlabel()
    assert list(figure.axes[6].get_xticks()) == [0.0, 0.25, 0.5, 0.75, 1.0]
    signed = show_grid(torch.rand(9, 1, 8, 8), {"a": torch.randn(9, 1, 8, 8)}, title="t", signed=True)
    assert list(signed.axes[-1].get_xticks()) == [-1.0, -0.5, 0.0, 0.5, 1.0]  # five ticks, never crowded


# ---------------------------------------------------------------------------
# show_table
# ---------------------------------------------------------------------------


def example_table() -> ResultTable:
    return show_table(
        [["saliency", 0.8123, 0.02, 12, True], ["LIME <fast>", np.float32(0.41), torch.tensor(1.5), None, False]],
        ["method", "ρ", "time", "n", "ok"],
        units={"time": "s"},
        formats={"ρ": ".2f"},
        caption="ρ: rank correlation with IG & co.",
    )


def test_table_text_is_aligned_and_deterministic():
    assert repr(example_table()) == "\n".join(
        [
            "method          ρ  time (s)   n  ok",
            "-----------  ----  --------  --  ---",
            "saliency     0.81      0.02  12  yes",
            "LIME <fast>  0.41       1.5      no",
            "",
            "ρ: rank correlation with IG & co.",
        ]
    )
    assert str(example_table()) == repr(example_table())


def test_table_html_has_units_in_the_header_numbers_on_the_right_and_the_caption_below():
    page = example_table()._repr_html_()
    assert page.count("<th ") == 5 and ">time (s)</th>" in page
    assert '<td style="text-align: right; padding: 0.2em 0.8em; font-variant-numeric: tabular-nums">0.81</td>' in page
    assert (
        '<td style="text-align: left; padding: 0.2em 0.8em; font-variant-numeric: tabular-nums">saliency</td>' in page
    )
    assert "LIME &lt;fast&gt;" in page and "IG &amp; co." in page, "text is escaped"
    assert page.index("</table>") < page.index("rank correlation"), "the caption comes below the table"
    assert "font-size: 12pt" in page
    assert "<p" not in show_table([[1]], ["n"])._repr_html_(), "no caption, no paragraph"


@pytest.mark.parametrize(
    ("rows", "columns", "options", "message"),
    [
        ([[1]], [], {}, "columns must be a non-empty list"),
        ([[1]], "n", {}, "columns must be a non-empty list"),
        ([[1, 2]], ["a", "a"], {}, "columns must be distinct"),
        ([[1]], [""], {}, "columns must be non-empty strings"),
        ([[1]], ["a column name that is far too long"], {}, "keep column names to 20"),
        ([[1, 2]], ["a", "b"], {"units": {"c": "s"}}, r"units names columns that are not in columns: \['c'\]"),
        ([[1]], ["a"], {"formats": {"a": 2}}, "formats must map column names to strings"),
        ([[1]], ["a"], {"formats": {"a": ".2q"}}, r"formats: '.2q' cannot format rows\[0\]\[0\] \(a\)"),
        ([["x"]], ["a"], {"formats": {"a": ".2f"}}, "formats apply to numeric columns"),
        ([[1, 2], [3]], ["a", "b"], {}, r"rows\[1\] must hold 2 values"),
        ("ab", ["a"], {}, "rows must be a list of rows"),
        ([["x" * 41]], ["a"], {}, "move long text into the caption"),
        ([["two\nlines"]], ["a"], {}, "one line"),
        ([[1]], ["a"], {"caption": 3}, "caption must be a str"),
    ],
)
def test_show_table_rejects_bad_arguments_naming_them(rows, columns, options, message):
    with pytest.raises(ValueError, match=message):
        show_table(rows, columns, **options)


def test_show_table_rejects_a_cell_of_another_type():
    with pytest.raises(TypeError, match=r"rows\[0\]\[0\] \(a\) must be a number, a str or None"):
        show_table([[[1, 2]]], ["a"])
