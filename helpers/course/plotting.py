"""Figures and tables for attributions: the course style, one explanation as original | map | overlay,
a grid of maps, feature bars, the digit's outline, and result tables.

Two colour rules hold in every figure: a **signed** map is drawn in :data:`SIGNED_CMAP` on a range
symmetric about 0 (white means "no effect"), a **magnitude** (``|map|``, a square) in :data:`MAP_CMAP`
from 0; and every map of an image carries the outline of that image's ink (:data:`INK_THRESHOLD`).
"""

from __future__ import annotations

import html
import numbers
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from helpers._checks import check_bool, check_int, check_real

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

MAP_CMAP = "inferno"
"""Colour map for magnitudes (|gradient|, gradient squared): dark = 0, bright = large, from 0 up."""
SIGNED_CMAP = "RdBu_r"
"""Colour map for signed maps, centred on 0: red raises the class score, blue lowers it."""

INK_THRESHOLD = 0.1
"""A pixel of a ``[0, 1]`` image is **ink** when its value is above 0.1: ``ink = x > INK_THRESHOLD``.

The course's one definition (notebooks 02 on), and the line :func:`draw_outline` draws. MNIST's
background is exactly 0 and its strokes are anti-aliased: 9 % of the test set's non-zero pixels lie
at or below 0.1 (too dark to see on the grey input), 21 % at or below 0.3, so 0.1 keeps every pixel
a reader sees as stroke and leaves out only the faint fringe. Ink covers 18 % of a test digit's image.
"""

FIGURE_DPI = 96
"""Figure (and saved) resolution set by :func:`~helpers.setup`: 96 dots per inch, so a figure pixel is
a browser pixel at 100 % zoom (JupyterLab shows an inline PNG at its own size) and a font size in
points is the size a reader sees: 11 pt in a figure looks like 11 pt text in the notebook."""

COLUMN_WIDTH = 10.0
"""Width in inches of a figure that fills a notebook column: 960 px at :data:`FIGURE_DPI`.

JupyterLab's output column is about 960-1000 px wide on a 1366-px laptop or a 1280-px projector with
the file browser open (wider screens leave a margin); a wider figure is shrunk to fit, and its
fonts with it, so the course's figures are at most this wide."""

COURSE_STYLE: dict[RcKeyType, Any] = {
    "figure.dpi": FIGURE_DPI,
    "savefig.dpi": FIGURE_DPI,
    "figure.figsize": (COLUMN_WIDTH, 4.0),
    "figure.constrained_layout.use": True,
    "font.size": 12,
    "axes.titlesize": 12,
    "axes.labelsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
    "legend.title_fontsize": 11,
    "figure.titlesize": 14,
    "figure.labelsize": 12,
    "image.interpolation": "nearest",
}
"""The matplotlib settings :func:`~helpers.setup` applies (notebooks 01 to 10): every text at least
11 pt at 100 % zoom (:data:`FIGURE_DPI`), figures a column wide (:data:`COLUMN_WIDTH`) by default,
constrained layout, and pixels drawn as squares (no smoothing between them)."""

_PANEL = 1.6
"""Largest panel of :func:`show_grid`, in inches (154 px: 5.5 px per MNIST pixel)."""
_LABEL_WIDTH = 12
"""Row names of :func:`show_grid` are wrapped to lines of at most this many characters."""
_LONGEST_NAME = 20
_LONGEST_CELL = 40
"""Longest column name and longest text in a cell of :func:`show_table`: longer text belongs in the caption or the prose."""


def to_image(array: torch.Tensor | np.ndarray) -> np.ndarray:
    """A ``(H, W)`` float NumPy array from ``(H, W)``, ``(1, H, W)`` or ``(1, 1, H, W)``.

    How every figure helper reads an image or map (notebook 01 on): ``x[0]`` or ``maps[0]`` will do.

    Examples::

        >>> import torch
        >>> from helpers import to_image
        >>> to_image(torch.zeros(1, 1, 28, 28)).shape
        (28, 28)
    """
    return np.asarray(_squeezed(array), dtype=float)


def _squeezed(array: torch.Tensor | np.ndarray) -> np.ndarray:
    """:func:`to_image` in the array's own dtype (so ``x > INK_THRESHOLD`` compares as PyTorch does)."""
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected a tensor or NumPy array, got {type(array).__name__}.")
    image = array
    while image.ndim > 2 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 2:
        raise ValueError(
            f"expected one greyscale image of shape (H, W) or (1, H, W), got {array.shape}; "
            "index a single image out of the batch first, e.g. maps[0]."
        )
    return image


def _ink_edges(ink: np.ndarray) -> np.ndarray:
    """The pixel edges between ink and background of a ``(H, W)`` mask, as segments ``(S, 2, 2)`` of ``(x, y)``.

    In imshow's coordinates: pixel ``(i, j)`` covers ``[j - 0.5, j + 0.5] x [i - 0.5, i + 0.5]``; ink
    at the image's border is closed by the border.
    """
    padded = np.pad(ink, 1, constant_values=False)
    segments = []
    rows, columns = np.nonzero(padded[1:-1, 1:] != padded[1:-1, :-1])  # a change between columns j - 1 and j
    segments.extend([[(j - 0.5, i - 0.5), (j - 0.5, i + 0.5)] for i, j in zip(rows, columns, strict=True)])
    rows, columns = np.nonzero(padded[1:, 1:-1] != padded[:-1, 1:-1])  # a change between rows i - 1 and i
    segments.extend([[(j - 0.5, i - 0.5), (j + 0.5, i - 0.5)] for i, j in zip(rows, columns, strict=True)])
    return np.asarray(segments, dtype=float).reshape(-1, 2, 2)


def draw_outline(
    ax: Axes,
    image: torch.Tensor | np.ndarray,
    *,
    threshold: float = INK_THRESHOLD,
    color: str = "black",
    halo: str | None = "white",
    linewidth: float = 0.8,
) -> LineCollection:
    """Draw the outline of the ink of ``image`` (``(H, W)`` or ``(1, H, W)``, values in ``[0, 1]``) on ``ax``.

    The line runs along the pixel edges around every pixel above ``threshold`` (:data:`INK_THRESHOLD`),
    so each pixel of a map drawn on ``ax`` is plainly inside the ink or outside it: "red pixels would
    raise the score if inked" can be checked by eye. A dark line on a light ``halo`` shows on both
    colour maps (black background of :data:`MAP_CMAP`, white centre of :data:`SIGNED_CMAP`). Every map
    helper draws it (notebooks 02 on); returns the dark line, whose ``get_segments()`` are the edges.

    Examples::

        >>> import matplotlib.pyplot as plt
        >>> import torch
        >>> from helpers import draw_outline
        >>> image = torch.zeros(5, 5)
        >>> image[1:3, 1:3] = 1.0  # a 2 x 2 square of ink
        >>> figure, ax = plt.subplots()
        >>> line = draw_outline(ax, image)
        >>> len(line.get_segments())  # two pixel edges on each of its four sides
        8
        >>> plt.close(figure)
    """
    threshold = check_real(threshold, "threshold")
    linewidth = check_real(linewidth, "linewidth", positive=True)
    segments = list(_ink_edges(_squeezed(image) > threshold))  # in the image's dtype, as x > 0.1 in PyTorch
    if halo is not None:
        under = LineCollection(
            segments, colors=halo, linewidths=linewidth + 1.0, capstyle="projecting", zorder=3.0, gid="outline halo"
        )
        ax.add_collection(under, autolim=False)
    line = LineCollection(
        segments, colors=color, linewidths=linewidth, capstyle="projecting", zorder=3.1, gid="outline"
    )
    ax.add_collection(line, autolim=False)
    return line


def plot_map(
    ax: Axes,
    attribution: torch.Tensor | np.ndarray,
    *,
    signed: bool = False,
    vmax: float | None = None,
    image: torch.Tensor | np.ndarray | None = None,
) -> AxesImage:
    """Draw one map on ``ax``: ``[0, vmax]`` in :data:`MAP_CMAP`, or ``[-vmax, vmax]`` in :data:`SIGNED_CMAP`.

    ``vmax`` defaults to the map's largest absolute value. A map with negative values needs
    ``signed=True`` (or its magnitude, ``attribution.abs()``): a ``ValueError`` otherwise. Pass the
    ``image`` the map explains (same ``(H, W)``) to draw its outline (:func:`draw_outline`). Used from
    notebook 01 on for single maps beside other panels.

    Examples::

        >>> import matplotlib.pyplot as plt
        >>> import torch
        >>> from helpers import plot_map
        >>> figure, ax = plt.subplots()
        >>> drawn = plot_map(ax, torch.tensor([[-1.0, 2.0]]), signed=True, image=torch.tensor([[0.0, 1.0]]))
        >>> drawn.get_clim()  # centred on 0, so white means "no effect"
        (-2.0, 2.0)
        >>> plot_map(ax, torch.tensor([[-1.0, 2.0]]))
        Traceback (most recent call last):
        ...
        ValueError: attribution has negative values (down to -1) but signed=False: draw its magnitude, attribution.abs(), or pass signed=True to draw it centred at 0 in RdBu_r.
        >>> plt.close(figure)
    """
    values = to_image(attribution)
    signed = check_bool(signed, "signed")
    if not signed and values.min(initial=0.0) < 0:
        raise ValueError(
            f"attribution has negative values (down to {values.min():.3g}) but signed=False: draw its magnitude, "
            f"attribution.abs(), or pass signed=True to draw it centred at 0 in {SIGNED_CMAP}."
        )
    if vmax is None:
        vmax = float(np.abs(values).max(initial=0.0)) or 1.0
    else:
        vmax = float(vmax)
        if not (np.isfinite(vmax) and vmax > 0):
            raise ValueError(f"vmax must be a positive number, got {vmax!r}.")
    if signed:
        drawn = ax.imshow(values, cmap=SIGNED_CMAP, vmin=-vmax, vmax=vmax, interpolation="nearest")
    else:
        drawn = ax.imshow(values, cmap=MAP_CMAP, vmin=0.0, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if image is not None:
        if to_image(image).shape != values.shape:
            raise ValueError(
                f"image has shape {to_image(image).shape} and the map {values.shape}: pass the image the map explains."
            )
        draw_outline(ax, image)
    return drawn


def show_explanation(
    image: torch.Tensor | np.ndarray,
    attribution: torch.Tensor | np.ndarray,
    *,
    title: str,
    map_label: str = "|dS_c/dx|",
    signed: bool = False,
    alpha: float = 0.6,
    outline: bool = True,
) -> Figure:
    """Original | map | overlay for one image (``(1, H, W)`` or ``(H, W)``), each panel with a colour bar.

    A column wide (:data:`COLUMN_WIDTH`); the map and the overlay carry the digit's outline unless
    ``outline=False``. Used from notebook 02 on.

    Examples::

        >>> import matplotlib.pyplot as plt
        >>> import torch
        >>> from helpers import show_explanation
        >>> figure = show_explanation(torch.rand(1, 28, 28), torch.rand(1, 28, 28), title="a random map")
        >>> [ax.get_title() for ax in figure.axes[:3]]
        ['input', 'attribution map', 'overlay (map at opacity 0.6)']
        >>> plt.close(figure)
    """
    figure, axes = plt.subplots(1, 3, figsize=(COLUMN_WIDTH, 3.6), layout="constrained")
    try:
        draw_explanation(
            figure, axes, image, attribution, map_label=map_label, signed=signed, alpha=alpha, outline=outline
        )
    except Exception:
        plt.close(figure)  # no half-drawn figure left for the notebook to show
        raise
    figure.suptitle(title)
    return figure


def draw_explanation(
    figure: Figure,
    axes: Sequence[Axes],
    image: torch.Tensor | np.ndarray,
    attribution: torch.Tensor | np.ndarray,
    *,
    map_label: str = "|dS_c/dx|",
    signed: bool = False,
    alpha: float = 0.6,
    outline: bool = True,
) -> None:
    """Draw original | map | overlay into three ``axes`` of ``figure``, each with a colour bar.

    The map and the overlay carry the outline of ``image``'s ink unless ``outline=False``. The panels
    of :func:`show_explanation` (notebook 02 on) and of the explorer (notebooks 02 and 08).

    Examples::

        >>> import matplotlib.pyplot as plt
        >>> import torch
        >>> from helpers import draw_explanation
        >>> figure, axes = plt.subplots(1, 3)
        >>> draw_explanation(figure, axes, torch.rand(28, 28), torch.rand(28, 28), alpha=0.5)
        >>> axes[2].get_title()
        'overlay (map at opacity 0.5)'
        >>> plt.close(figure)
    """
    alpha = check_real(alpha, "alpha")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}.")
    outline = check_bool(outline, "outline")
    grey = to_image(image)
    original = axes[0].imshow(grey, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    axes[0].set_title("input")
    axes[0].set_xticks([])
    axes[0].set_yticks([])
    figure.colorbar(original, ax=axes[0], shrink=0.8, label="pixel value")
    drawn = plot_map(axes[1], attribution, signed=signed, image=image if outline else None)
    axes[1].set_title("attribution map")
    figure.colorbar(drawn, ax=axes[1], shrink=0.8, label=map_label)
    axes[2].imshow(grey, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    overlay = plot_map(axes[2], attribution, signed=signed, image=image if outline else None)
    overlay.set_alpha(alpha)
    axes[2].set_title(f"overlay (map at opacity {alpha:g})")
    figure.colorbar(overlay, ax=axes[2], shrink=0.8, label=map_label)


def show_grid(
    x: torch.Tensor | np.ndarray,
    rows: Mapping[str, torch.Tensor | np.ndarray],
    *,
    title: str,
    column_titles: Sequence[str] | None = None,
    signed: bool = False,
    outline: bool = True,
) -> Figure:
    """Images ``x`` ``(K, 1, H, W)`` in the top row, then one row per named map batch ``(K, 1, H, W)``.

    Each map is divided by its own largest absolute value, so every panel spans the same colour
    range and one colour bar below the grid serves them all; compare where a map is bright, not its
    size across images. Every map carries its image's outline unless ``outline=False``. Ten columns
    fill a notebook column (:data:`COLUMN_WIDTH`); fewer get larger panels, up to 1.6 inches. Used
    from notebook 02 on.

    Examples::

        >>> import matplotlib.pyplot as plt
        >>> import torch
        >>> from helpers import show_grid
        >>> figure = show_grid(torch.rand(3, 1, 28, 28), {"random": torch.rand(3, 1, 28, 28)}, title="three maps")
        >>> figure.axes[3].get_ylabel()
        'random'
        >>> plt.close(figure)
    """
    count = len(x)
    outline = check_bool(outline, "outline")
    if column_titles is not None and len(column_titles) != count:
        raise ValueError(f"column_titles must have {count} entries, one per image, got {len(column_titles)}.")
    signed = check_bool(signed, "signed")
    for name, maps in rows.items():
        if len(maps) != count:
            raise ValueError(f"row {name!r} has {len(maps)} maps; it needs one per image ({count}).")
        if not signed and any(to_image(m).min(initial=0.0) < 0 for m in maps):
            raise ValueError(
                f"row {name!r} has negative values but signed=False: draw magnitudes, e.g. {{{name!r}: maps.abs()}}, "
                f"or pass signed=True to draw every row centred at 0 in {SIGNED_CMAP}."
            )
    labels = [textwrap.fill(name, _LABEL_WIDTH, break_long_words=False) for name in ["input", *rows]]
    margin = 0.3 + 0.11 * max(len(line) for label in labels for line in label.splitlines())  # row names, 12 pt
    panel = min(_PANEL, (COLUMN_WIDTH - margin) / max(count, 1))
    height = (
        (1 + len(rows)) * (panel + 0.05) + (0.25 if column_titles is not None else 0.0) + 0.35 + (0.65 if rows else 0.0)
    )
    figure, axes = plt.subplots(
        1 + len(rows), count, figsize=(count * panel + margin, height), layout="constrained", squeeze=False
    )
    for column in range(count):
        grey = to_image(x[column])
        axes[0, column].imshow(grey, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        axes[0, column].set_xticks([])
        axes[0, column].set_yticks([])
        if column_titles is not None:
            axes[0, column].set_title(column_titles[column])
    for row, maps in enumerate(rows.values(), start=1):
        for column in range(count):
            attribution = to_image(maps[column])
            scale = float(np.abs(attribution).max()) or 1.0
            drawn = plot_map(
                axes[row, column],
                attribution / scale,
                signed=signed,
                vmax=1.0,
                image=x[column] if outline else None,
            )
    for row, label in enumerate(labels):
        axes[row, 0].set_ylabel(label, rotation=0, horizontalalignment="right", verticalalignment="center")
    if rows:
        label = "map ÷ its largest |value|" + (" (red raises the score, blue lowers it)" if signed else "")
        ticks = [-1.0, -0.5, 0.0, 0.5, 1.0] if signed else [0.0, 0.25, 0.5, 0.75, 1.0]  # never crowded
        figure.colorbar(drawn, ax=axes[1:, :], location="bottom", shrink=0.6, aspect=40, label=label, ticks=ticks)
    figure.suptitle(title)
    return figure


def plot_feature_bars(
    ax: Axes,
    values: torch.Tensor | np.ndarray,
    feature_names: Sequence[str],
    *,
    top: int = 10,
    features: Sequence[int] | np.ndarray | None = None,
    xlabel: str = "attribution",
) -> np.ndarray:
    """Horizontal bars for one attribution per feature, ``values`` of shape ``(F,)``.

    Shows the ``top`` features by ``|value|``, largest at the top (or the feature indices listed
    in ``features``, top to bottom, e.g. another method's top features, for a like-for-like
    comparison). Bars that raise the score are red, bars that lower it blue, as in signed maps.
    Returns the indices shown. Used in notebook 09.

    Examples::

        >>> import matplotlib.pyplot as plt
        >>> from helpers import plot_feature_bars
        >>> figure, ax = plt.subplots()
        >>> plot_feature_bars(ax, [0.1, -3.0, 2.0], ["a", "b", "c"], top=2)
        array([1, 2])
        >>> plt.close(figure)
    """
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or len(values) != len(feature_names):
        raise ValueError(
            f"values must have shape (F,) with F = len(feature_names) = {len(feature_names)}, got {values.shape}; "
            "pick one row of a batch, e.g. maps[0]."
        )
    if features is None:
        top = check_int(top, "top")
        features = np.argsort(-np.abs(values), kind="stable")[:top]
    shown = np.asarray(features, dtype=int)
    colours = [plt.get_cmap(SIGNED_CMAP)(0.85 if v >= 0 else 0.15) for v in values[shown]]
    positions = np.arange(len(shown))[::-1]
    ax.barh(positions, values[shown], color=colours)
    ax.set_yticks(positions, [feature_names[i] for i in shown])
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel(xlabel)
    return shown


def _cell_text(value: object, spec: str | None, where: str) -> tuple[str, bool]:
    """One cell as text and whether it is a number (right-aligned)."""
    if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim == 0:
        value = value.item()
    if value is None:
        return "", False
    if isinstance(value, (bool, np.bool_)):
        return ("yes" if value else "no"), False
    if isinstance(value, numbers.Real):
        default = "d" if isinstance(value, numbers.Integral) else ".3g"
        try:
            return format(value, spec if spec is not None else default), True
        except (ValueError, TypeError) as err:
            raise ValueError(f"formats: {spec!r} cannot format {where} = {value!r} ({err}).") from None
    if not isinstance(value, str):
        raise TypeError(f"{where} must be a number, a str or None, got {type(value).__name__}.")
    if spec is not None:
        raise ValueError(f"formats: {where} is text ({value!r}); formats apply to numeric columns.")
    if "\n" in value or len(value) > _LONGEST_CELL:
        raise ValueError(
            f"{where} is {len(value)} characters ({value[:30]!r}...): cells hold one line of at most "
            f"{_LONGEST_CELL}; move long text into the caption or the prose."
        )
    return value, False


@dataclass(frozen=True, repr=False)
class ResultTable:
    """A small table of results, shown as HTML in a notebook and as aligned text elsewhere.

    Built by :func:`show_table`: ``header`` holds each column's name with its unit, ``cells`` the
    formatted text of each row, ``numeric`` which columns hold numbers (right-aligned).
    """

    header: tuple[str, ...]
    cells: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]
    caption: str | None = None

    def _repr_html_(self) -> str:
        pad = "padding: 0.2em 0.8em"
        align = ["right" if number else "left" for number in self.numeric]
        head = "".join(
            f'<th style="text-align: {side}; {pad}; border-bottom: 1px solid currentColor">{html.escape(name)}</th>'
            for name, side in zip(self.header, align, strict=True)
        )
        body = "".join(
            "<tr>"
            + "".join(
                f'<td style="text-align: {side}; {pad}; font-variant-numeric: tabular-nums">{html.escape(text)}</td>'
                for text, side in zip(row, align, strict=True)
            )
            + "</tr>"
            for row in self.cells
        )
        table = (
            f'<table style="border-collapse: collapse; font-size: 12pt; margin: 0.4em 0">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )
        caption = (
            f'<p style="font-size: 12pt; margin: 0.2em 0 0.6em 0">{html.escape(self.caption)}</p>'
            if self.caption
            else ""
        )
        return f"<div>{table}{caption}</div>"

    def __repr__(self) -> str:
        widths = [
            max(len(text) for text in (name, *(row[k] for row in self.cells))) for k, name in enumerate(self.header)
        ]

        def line(texts: Sequence[str]) -> str:
            return "  ".join(
                text.rjust(width) if number else text.ljust(width)
                for text, width, number in zip(texts, widths, self.numeric, strict=True)
            ).rstrip()

        lines = [line(self.header), "  ".join("-" * width for width in widths)]
        lines.extend(line(row) for row in self.cells)
        if self.caption:
            lines.extend(["", self.caption])
        return "\n".join(lines)


def show_table(
    rows: Sequence[Sequence[object]],
    columns: Sequence[str],
    *,
    caption: str | None = None,
    units: Mapping[str, str] | None = None,
    formats: Mapping[str, str] | None = None,
) -> ResultTable:
    """A table of ``rows`` (each one value per column) under short ``columns`` names, for a notebook cell's end.

    ``units`` maps a column to its unit, shown in the header (``"time (s)"``); ``formats`` maps a
    column to a format spec (``".2f"``; by default ``".3g"`` for floats). Numbers are right-aligned;
    ``None`` is an empty cell. Column names are at most 20 characters and text cells one line of at
    most 40: longer text goes in the ``caption``, shown below the table. For the result tables of
    notebooks 02 to 09; the text form (aligned columns) is what nbval compares.

    Examples::

        >>> from helpers import show_table
        >>> show_table([["saliency", 0.8123, 0.02], ["LIME", 0.41, 1.5]], ["method", "ρ", "time"],
        ...            units={"time": "s"}, formats={"ρ": ".2f"}, caption="ρ: Spearman rank correlation with IG.")
        method       ρ  time (s)
        --------  ----  --------
        saliency  0.81      0.02
        LIME      0.41       1.5
        <BLANKLINE>
        ρ: Spearman rank correlation with IG.
    """
    if isinstance(columns, str) or not isinstance(columns, Sequence) or len(columns) == 0:
        raise ValueError(f"columns must be a non-empty list of column names, got {columns!r}.")
    for name in columns:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"columns must be non-empty strings, got {name!r}.")
        if len(name) > _LONGEST_NAME:
            raise ValueError(
                f"columns: {name!r} is {len(name)} characters; keep column names to {_LONGEST_NAME} "
                "and explain them in the caption."
            )
    if len(set(columns)) != len(columns):
        raise ValueError(f"columns must be distinct, got {list(columns)}.")
    units, formats = dict(units or {}), dict(formats or {})
    for argument, mapping in (("units", units), ("formats", formats)):
        unknown = [key for key in mapping if key not in columns]
        if unknown:
            raise ValueError(f"{argument} names columns that are not in columns: {unknown}.")
        if not all(isinstance(value, str) for value in mapping.values()):
            raise ValueError(f"{argument} must map column names to strings, got {mapping!r}.")
    if caption is not None and not isinstance(caption, str):
        raise ValueError(f"caption must be a str or None, got {type(caption).__name__}.")
    if isinstance(rows, str) or not isinstance(rows, Sequence):
        raise ValueError(
            f"rows must be a list of rows, each a list of {len(columns)} values, got {type(rows).__name__}."
        )
    cells, number_cells, text_cells = [], [0] * len(columns), [0] * len(columns)
    for i, row in enumerate(rows):
        if isinstance(row, str) or not isinstance(row, Sequence) or len(row) != len(columns):
            raise ValueError(f"rows[{i}] must hold {len(columns)} values, one per column, got {row!r}.")
        texts = []
        for k, (name, value) in enumerate(zip(columns, row, strict=True)):
            text, number = _cell_text(value, formats.get(name), f"rows[{i}][{k}] ({name})")
            number_cells[k] += number
            text_cells[k] += not number and text != ""
            texts.append(text)
        cells.append(tuple(texts))
    header = tuple(f"{name} ({units[name]})" if name in units else name for name in columns)
    numeric = tuple(n > 0 and t == 0 for n, t in zip(number_cells, text_cells, strict=True))
    return ResultTable(header, tuple(cells), numeric, caption)
