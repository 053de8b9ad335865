"""Figures for attributions: one explanation as original | map | overlay, a grid of maps, or feature bars."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from helpers._checks import check_int, check_real

MAP_CMAP = "inferno"
"""Colour map for non-negative maps (|gradient|, gradient squared): dark = 0, bright = large."""
SIGNED_CMAP = "RdBu_r"
"""Colour map for signed maps, centred on 0: red raises the class score, blue lowers it."""


def to_image(array: torch.Tensor | np.ndarray) -> np.ndarray:
    """A ``(H, W)`` float NumPy array from ``(H, W)``, ``(1, H, W)`` or ``(1, 1, H, W)``.

    How every figure helper reads an image or map (notebook 01 on): ``x[0]`` or ``maps[0]`` will do.

    Examples::

        >>> import torch
        >>> from helpers import to_image
        >>> to_image(torch.zeros(1, 1, 28, 28)).shape
        (28, 28)
    """
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected a tensor or NumPy array, got {type(array).__name__}.")
    image = np.asarray(array, dtype=float)
    while image.ndim > 2 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 2:
        raise ValueError(
            f"expected one greyscale image of shape (H, W) or (1, H, W), got {array.shape}; "
            "index a single image out of the batch first, e.g. maps[0]."
        )
    return image


def plot_map(
    ax: Axes, attribution: torch.Tensor | np.ndarray, *, signed: bool = False, vmax: float | None = None
) -> AxesImage:
    """Draw one map on ``ax``: ``[0, vmax]`` in :data:`MAP_CMAP`, or ``[-vmax, vmax]`` in :data:`SIGNED_CMAP`.

    ``vmax`` defaults to the map's largest absolute value. Used from notebook 01 on for
    single maps beside other panels.

    Examples::

        >>> import matplotlib.pyplot as plt
        >>> import torch
        >>> from helpers import plot_map
        >>> figure, ax = plt.subplots()
        >>> drawn = plot_map(ax, torch.tensor([[-1.0, 2.0]]), signed=True)
        >>> drawn.get_clim()  # centred on 0, so white means "no effect"
        (-2.0, 2.0)
        >>> plt.close(figure)
    """
    image = to_image(attribution)
    if vmax is None:
        vmax = float(np.abs(image).max()) or 1.0
    if signed:
        drawn = ax.imshow(image, cmap=SIGNED_CMAP, vmin=-vmax, vmax=vmax)
    else:
        drawn = ax.imshow(image, cmap=MAP_CMAP, vmin=0.0, vmax=vmax)
    ax.set_xticks([])
    ax.set_yticks([])
    return drawn


def show_explanation(
    image: torch.Tensor | np.ndarray,
    attribution: torch.Tensor | np.ndarray,
    *,
    title: str,
    map_label: str = "|dS_c/dx|",
    signed: bool = False,
    alpha: float = 0.6,
) -> Figure:
    """Original | map | overlay for one image (``(1, H, W)`` or ``(H, W)``), each panel with a colour bar.

    Used from notebook 02 on.

    Examples::

        >>> import matplotlib.pyplot as plt
        >>> import torch
        >>> from helpers import show_explanation
        >>> figure = show_explanation(torch.rand(1, 28, 28), torch.rand(1, 28, 28), title="a random map")
        >>> [ax.get_title() for ax in figure.axes[:3]]
        ['input', 'attribution map', 'overlay (map at opacity 0.6)']
        >>> plt.close(figure)
    """
    figure, axes = plt.subplots(1, 3, figsize=(10, 3.4), layout="constrained")
    draw_explanation(figure, axes, image, attribution, map_label=map_label, signed=signed, alpha=alpha)
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
) -> None:
    """Draw original | map | overlay into three ``axes`` of ``figure``, each with a colour bar.

    The panels of :func:`show_explanation` (notebook 02 on) and of the explorer (notebooks 02 and 08).

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
    original = axes[0].imshow(to_image(image), cmap="gray", vmin=0.0, vmax=1.0)
    axes[0].set_title("input")
    axes[0].set_xticks([])
    axes[0].set_yticks([])
    figure.colorbar(original, ax=axes[0], shrink=0.8, label="pixel value")
    drawn = plot_map(axes[1], attribution, signed=signed)
    axes[1].set_title("attribution map")
    figure.colorbar(drawn, ax=axes[1], shrink=0.8, label=map_label)
    axes[2].imshow(to_image(image), cmap="gray", vmin=0.0, vmax=1.0)
    overlay = plot_map(axes[2], attribution, signed=signed)
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
) -> Figure:
    """Images ``x`` ``(K, 1, H, W)`` in the top row, then one row per named map batch ``(K, 1, H, W)``.

    Each map is divided by its own largest absolute value, so every panel spans the
    same colour range and each row shares one colour bar ("fraction of this map's
    maximum"); compare where a map is bright, not its size across images. Used from notebook 02 on.

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
    if column_titles is not None and len(column_titles) != count:
        raise ValueError(f"column_titles must have {count} entries, one per image, got {len(column_titles)}.")
    for name, maps in rows.items():
        if len(maps) != count:
            raise ValueError(f"row {name!r} has {len(maps)} maps; it needs one per image ({count}).")
    figure, axes = plt.subplots(
        1 + len(rows),
        count,
        figsize=(1.3 * count + 1.4, 1.45 * (1 + len(rows)) + 0.4),
        layout="constrained",
        squeeze=False,
    )
    for column in range(count):
        axes[0, column].imshow(to_image(x[column]), cmap="gray", vmin=0.0, vmax=1.0)
        axes[0, column].set_xticks([])
        axes[0, column].set_yticks([])
        if column_titles is not None:
            axes[0, column].set_title(column_titles[column], fontsize=9)
    axes[0, 0].set_ylabel("input")
    for row, (name, maps) in enumerate(rows.items(), start=1):
        for column in range(count):
            attribution = to_image(maps[column])
            scale = float(np.abs(attribution).max()) or 1.0
            drawn = plot_map(axes[row, column], attribution / scale, signed=signed, vmax=1.0)
        axes[row, 0].set_ylabel(name)
        figure.colorbar(drawn, ax=axes[row, :], shrink=0.9, label="fraction of max")
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
