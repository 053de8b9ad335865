"""An interactive explorer: pick a test image, a class, a method and a reduction; see the map at once.

``explorer(model, dataset)`` returns an ipywidgets box. By default it offers
:data:`DEFAULT_METHODS` (saliency, SmoothGrad, Integrated Gradients, LIME, SHAP: notebooks 02 and
08); notebook 04's Grad-CAM, Guided Backprop and occlusion are in :data:`EXPLORER_METHODS` too, and
offered with ``methods=[...]``. Every entry explains the chosen class's logit. The fast ones
(the gradient methods, Grad-CAM, Guided Backprop and occlusion: at most a few tenths of a second
for one image on two CPU cores) are recomputed in the kernel's thread; LIME and SHAP, which sample
the model and take from a few tenths of a second to over a second, run in a background thread
while a progress indicator shows, so the controls stay responsive, and a result that arrives after the controls have moved
on is dropped. A method that cannot run on the model (Guided Backprop on a model that applies
``F.relu``, Grad-CAM on a model without ``nn.Conv2d``) shows the helper's error in the status
line; the other controls keep working. The explorer works on its own eval-mode copy of the
model, so the caller's model is never switched between modes under it.

Every method explains the same quantity, the chosen class's logit ``S_c`` before the softmax
(LIME's surrogate fits it with ``score="logit"``, not the ``lime`` package's probability). The
panels are drawn with NumPy, not a matplotlib figure: input | map | overlay as upscaled PNGs
(:func:`draw_panels`), the digit's outline on map and overlay (:func:`ink_outline`), colour bars,
title and probabilities as HTML; a saliency redraw takes tens of milliseconds (slider to
picture in Chromium: tests/test_browser.py). The model's copy stays on the model's device;
inputs are moved there and maps come back to the CPU to be drawn.

The reduction toggle (:data:`REDUCTION_LABELS`) is applied to each method's signed map, except
for Grad-CAM, whose map is ``ReLU(sum_k alpha_k A_k)`` and so never negative: there "|map|" is the
paper's (ReLU'd) map, "map²" its square, and "signed" the map without that ReLU
(``grad_cam(..., relu=False)``), negative where the class's weighted feature maps
``sum_k alpha_k A_k`` count against it. "|map|" is not ``|grad_cam(..., relu=False)|``, which would show that negative
evidence as if it were evidence for the class.
"""

from __future__ import annotations

import base64
import copy
import functools
import html
import io
import itertools
import threading
import time
from collections.abc import Callable, Sequence, Sized
from typing import NamedTuple

import ipywidgets as widgets
import matplotlib
import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import Dataset

from helpers._checks import check_batch, check_int, check_model, check_real
from helpers._running import call_model
from helpers.course.plotting import INK_THRESHOLD, MAP_CMAP, SIGNED_CMAP
from helpers.explain._gradient import Reduce, apply_reduce
from helpers.explain.grad_cam import grad_cam
from helpers.explain.gradient_methods import integrated_gradients, smoothgrad
from helpers.explain.guided_backprop import guided_backprop
from helpers.explain.lime_maps import lime_map
from helpers.explain.occlusion import occlusion
from helpers.explain.saliency import saliency
from helpers.explain.shap_maps import shap_map


class ExplorerMethod(NamedTuple):
    """``explain(model, image, target, reduce, background)``: ``(1, 1, H, W)`` map; ``slow``: run it in the background."""

    explain: Callable[[nn.Module, torch.Tensor, int, Reduce, torch.Tensor], torch.Tensor]
    slow: bool


EXPLORER_METHODS: dict[str, ExplorerMethod] = {
    "saliency": ExplorerMethod(lambda m, x, c, r, bg: saliency(m, x, c, reduce=r), slow=False),
    "SmoothGrad": ExplorerMethod(
        lambda m, x, c, r, bg: smoothgrad(m, x, c, reduce=r, value_range=(0.0, 1.0)), slow=False
    ),
    "Integrated Gradients": ExplorerMethod(
        lambda m, x, c, r, bg: apply_reduce(integrated_gradients(m, x, c), r), slow=False
    ),
    "LIME": ExplorerMethod(
        lambda m, x, c, r, bg: apply_reduce(lime_map(m, x, c, samples=1000, score="logit").maps, r), slow=True
    ),
    "SHAP": ExplorerMethod(
        lambda m, x, c, r, bg: apply_reduce(shap_map(m, x, c, method="deep", background=bg).maps, r), slow=True
    ),
    "Grad-CAM": ExplorerMethod(
        lambda m, x, c, r, bg: apply_reduce(grad_cam(m, x, c, relu=r != "signed"), r), slow=False
    ),
    "Guided Backprop": ExplorerMethod(lambda m, x, c, r, bg: apply_reduce(guided_backprop(m, x, c), r), slow=False),
    "occlusion": ExplorerMethod(lambda m, x, c, r, bg: apply_reduce(occlusion(m, x, c), r), slow=False),
}
"""The methods the explorer can offer, by the name shown in its menu; each explains the target's
logit with the helper's defaults (SHAP is DeepExplainer; Grad-CAM weighs the last convolution's
rectified output; occlusion slides a 4 x 4 black window 2 pixels at a time). ``slow``: LIME and
SHAP. Occlusion (170 forward inputs: 169 windows and the clean image) is fast: measured for one image on two CPU cores, 0.14 s
on ``load_pretrained()`` and 0.19-0.29 s on ``load_pretrained("deeper")``, less than SmoothGrad
and Integrated Gradients, which run in the kernel's thread too (0.13-0.14 s and 0.39 s); Grad-CAM
and Guided Backprop take 0.01-0.1 s."""

DEFAULT_METHODS: tuple[str, ...] = ("saliency", "SmoothGrad", "Integrated Gradients", "LIME", "SHAP")
"""The menu :func:`explorer` offers unless told otherwise (notebooks 02 and 08 rely on it): not
notebook 04's Grad-CAM, Guided Backprop and occlusion, which are offered with ``methods=[...]``."""

REDUCTION_LABELS: dict[str, Reduce] = {"|map|": "abs", "signed": "signed", "map²": "square"}
"""The explorer's reduction toggle: label shown -> ``reduce`` argument (for IG, Guided Backprop,
occlusion, LIME and SHAP, applied to their signed map). For Grad-CAM, "|map|" and "map²" are the
paper's non-negative map and its square, and "signed" is the map without the ReLU
(``relu=False``): see the module's docstring."""

PREDICTED = -1
"""The target menu's value for "the predicted class"."""

_Key = tuple[int, int, str, Reduce]
"""What a map depends on: (image index, target or PREDICTED, method, reduce)."""


PANEL_PIXELS = 224
"""Side, in screen pixels, of the explorer's input, map and overlay panels (a 28 x 28 digit is shown
with each pixel as an 8 x 8 block): legible when projected."""

OUTLINE_RGB = ((20, 20, 20), (235, 235, 235))
"""The outline's colours: near-black on the ink side of the edge, near-white on the background
side, so that it shows on inferno's black and yellow and on RdBu_r's white, red and blue."""

_FONT = "font-family: sans-serif; font-size: 15px; line-height: 1.25; white-space: normal"
_BAR_PIXELS = 92  # a colour bar's width: strip, tick labels and the rotated label


class Explorer(widgets.VBox):
    """The explorer's widgets, as :func:`explorer` returns them (end of notebooks 02, 04 and 08).

    An ipywidgets ``VBox`` whose controls are attributes; setting one (``index``, ``target``,
    ``method``, ``reduce``, ``opacity``) redraws the panels: ``input_panel``, ``map_panel`` and
    ``overlay_panel`` (``ipywidgets.Image``, PNGs of ``PANEL_PIXELS`` square), the map's
    colour bar ``colour_bar``, the ``probabilities`` chart and the ``title`` (``ipywidgets.HTML``).
    The panels are drawn with NumPy, each pixel an upscaled block, so a redraw costs a few
    milliseconds beyond the map's computation. ``render()`` returns the three panels side by side as one PNG.

    Examples::

        >>> from torch.utils.data import Subset
        >>> from helpers import Explorer, explorer, load_pretrained, mnist
        >>> controls = explorer(load_pretrained(), Subset(mnist(train=False), range(10)), methods=["saliency"])
        >>> isinstance(controls, Explorer), controls.index.max  # the slider spans the 10 images given
        (True, 9)
        >>> controls.device  # the model's: inputs go there, maps come back to the CPU to be drawn
        device(type='cpu')
    """

    def __init__(
        self,
        model: nn.Module,
        dataset: Dataset,
        methods: Sequence[str],
        background: torch.Tensor,
        *,
        seed: int,
    ) -> None:
        if not isinstance(dataset, Sized):
            raise TypeError(f"dataset must have a length (a map-style dataset), got {type(dataset).__name__}.")
        self.model = copy.deepcopy(model).eval()  # a snapshot: threads never switch the caller's model's modes
        self.device = _model_device(self.model)
        self.dataset, self.background = dataset, background.to(self.device)
        self._random = np.random.default_rng(seed)
        self._cache: dict[_Key, torch.Tensor] = {}
        self._probabilities: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()
        self._show_lock = threading.Lock()
        self._generation = 0
        self._worker: threading.Thread | None = None
        first_image, _ = dataset[0]
        with torch.no_grad():
            classes = call_model(self.model, first_image[None].to(self.device)).shape[1]
        self._scale = max(1, PANEL_PIXELS // max(first_image.shape[-2:]))
        self.index = widgets.IntSlider(
            value=0, min=0, max=len(dataset) - 1, description="test image", continuous_update=False
        )
        self.random_button = widgets.Button(description="random image", icon="random")
        self.target = widgets.Dropdown(
            options=[("predicted class", PREDICTED)] + [(f"class {c}", c) for c in range(classes)],
            value=PREDICTED,
            description="explain",
        )
        self.method = widgets.Dropdown(options=list(methods), value=methods[0], description="method")
        self.reduce = widgets.ToggleButtons(
            options=list(REDUCTION_LABELS.items()), value="abs", tooltips=["|map|", "signed map", "map squared"]
        )
        self.opacity = widgets.FloatSlider(
            value=0.6, min=0.0, max=1.0, step=0.05, description="overlay", continuous_update=False
        )
        self.progress = widgets.IntProgress(
            value=1, min=0, max=1, bar_style="info", layout=widgets.Layout(visibility="hidden", width="160px")
        )
        self.status = widgets.HTML()
        self.title = widgets.HTML()
        side = f"{PANEL_PIXELS}px"
        self.input_panel, self.map_panel, self.overlay_panel = (
            widgets.Image(format="png", layout=widgets.Layout(width=side, height=side, min_width=side))
            for _ in range(3)
        )
        self.map_panel.add_class("explorer-map")
        self.overlay_panel.add_class("explorer-overlay")
        self.map_title, self.overlay_title = widgets.HTML(), widgets.HTML()
        self.colour_bar, self.overlay_bar = widgets.HTML(), widgets.HTML()
        self.probabilities = widgets.HTML()
        for control in (self.index, self.target, self.method, self.reduce, self.opacity):
            control.observe(lambda change: self.refresh(), names="value")
        self.random_button.on_click(lambda button: self.show_random())

        for bar in (self.colour_bar, self.overlay_bar):
            bar.layout = widgets.Layout(width=f"{_BAR_PIXELS}px")

        def panel(heading: widgets.HTML, image: widgets.Image, bar: widgets.HTML) -> widgets.VBox:
            width = f"{PANEL_PIXELS + _BAR_PIXELS}px"
            return widgets.VBox(
                [heading, widgets.HBox([image, bar])], layout=widgets.Layout(width=width, margin="0 8px 0 0")
            )

        input_title = widgets.HTML(f'<div style="{_FONT}; font-weight: bold">input</div>')
        input_bar = widgets.HTML(
            _colour_bar_html("gray", "pixel value", ticks=(1.0, 0.5, 0.0)),
            layout=widgets.Layout(width=f"{_BAR_PIXELS}px"),
        )
        super().__init__(
            [
                widgets.HBox([self.index, self.random_button]),
                widgets.HBox([self.target, self.method]),
                widgets.HBox([widgets.Label("show", layout=widgets.Layout(width="80px")), self.reduce, self.opacity]),
                widgets.HBox([self.progress, self.status]),
                self.title,
                widgets.HBox(
                    [
                        panel(input_title, self.input_panel, input_bar),
                        panel(self.map_title, self.map_panel, self.colour_bar),
                        panel(self.overlay_title, self.overlay_panel, self.overlay_bar),
                        self.probabilities,
                    ],
                    layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start"),
                ),
            ]
        )
        self.refresh()

    def show_random(self) -> None:
        """Move the slider to a random test image (seeded, so a class sees the same sequence)."""
        self.index.value = int(self._random.integers(self.index.max + 1))  # one of the dataset's indices

    def refresh(self) -> None:
        """Redraw for the current controls; a slow method not yet cached is computed in the background."""
        self._generation += 1
        generation, key = self._generation, self._key()
        if key in self._cache or not EXPLORER_METHODS[key[2]].slow:
            self._draw(generation, key)
            return
        self.progress.layout.visibility = "visible"
        self.status.value = f"computing {key[2]} for image {key[0]} ..."
        self._worker = threading.Thread(target=self._draw, args=(generation, key), daemon=True)
        self._worker.start()

    def wait(self, timeout: float = 120.0) -> None:
        """Block until a background computation has finished (for tests and scripts)."""
        if self._worker is not None:
            self._worker.join(timeout)

    def render(self) -> bytes:
        """PNG of input | map | overlay for the current controls (computed now if needed), as the panels show them."""
        key = self._key()
        panels = self._panels(key, self._map(key))
        gap = np.full((panels.input.shape[0], self._scale, 3), 255, dtype=np.uint8)
        return _encode_png(np.concatenate([panels.input, gap, panels.map, gap, panels.overlay], axis=1))

    def _key(self) -> _Key:
        return (self.index.value, self.target.value, self.method.value, self.reduce.value)

    def _map(self, key: _Key) -> torch.Tensor:
        if key in self._cache:
            return self._cache[key]
        if not EXPLORER_METHODS[key[2]].slow:
            self._cache[key] = self._explain(key)
            return self._cache[key]
        with self._lock:  # one slow computation at a time; a second request for the same map waits for the first
            if key not in self._cache:
                self._cache[key] = self._explain(key)
        return self._cache[key]

    def _explain(self, key: _Key) -> torch.Tensor:
        index, target, method, reduce = key
        image = self.dataset[index][0][None].to(self.device)
        if target == PREDICTED:
            target = int(self._probabilities_of(index).argmax())
        attribution = EXPLORER_METHODS[method].explain(self.model, image, target, reduce, self.background)
        return attribution.detach().cpu()  # drawn with NumPy on the CPU, whatever the model's device

    def _probabilities_of(self, index: int) -> np.ndarray:
        """The model's class probabilities ``(classes,)`` for test image ``index``, cached."""
        if index not in self._probabilities:
            with torch.no_grad():
                logits = call_model(self.model, self.dataset[index][0][None].to(self.device))
            self._probabilities[index] = logits.softmax(dim=1)[0].cpu().double().numpy()
        return self._probabilities[index]

    def _panels(self, key: _Key, attribution: torch.Tensor) -> _Panels:
        image = _as_array(self.dataset[key[0]][0])
        return draw_panels(
            image, _as_array(attribution), signed=key[3] == "signed", alpha=self.opacity.value, scale=self._scale
        )

    def _draw(self, generation: int, key: _Key) -> None:
        start = time.perf_counter()
        try:
            attribution = self._map(key)
            panels = self._panels(key, attribution)
            pngs = [_encode_png(panels.input), _encode_png(panels.map), _encode_png(panels.overlay)]
            texts = self._texts(key, panels.vmax)
        except Exception as err:  # shown in the widget: an exception in a callback would go unseen
            with self._show_lock:
                if generation == self._generation:
                    self.progress.layout.visibility = "hidden"
                    self.status.value = f"<b>{key[2]} failed:</b> {html.escape(f'{type(err).__name__}: {err}')}"
            return
        with self._show_lock:
            if generation != self._generation:  # the controls moved on while this was computed
                return
            self.map_panel.value, self.overlay_panel.value, self.input_panel.value = pngs[1], pngs[2], pngs[0]
            self.title.value, self.map_title.value, self.overlay_title.value = texts[:3]
            self.colour_bar.value, self.overlay_bar.value, self.probabilities.value = texts[3], texts[3], texts[4]
            self.progress.layout.visibility = "hidden"
            self.status.value = f"{key[2]}, image {key[0]}: drawn in {time.perf_counter() - start:.2f} s"

    def _texts(self, key: _Key, vmax: float) -> tuple[str, str, str, str, str]:
        """HTML: title, map heading, overlay heading, the map's colour bar, the probability chart."""
        index, target, method, reduce = key
        probabilities = self._probabilities_of(index)
        explained = int(probabilities.argmax()) if target == PREDICTED else target
        label = int(self.dataset[index][1])
        map_label = {"abs": f"|{method}|", "signed": f"{method} (signed)", "square": f"{method} squared"}[reduce]
        signed = reduce == "signed"
        title = html.escape(f"Test image {index} (label {label}): {method} for class {explained}")
        heading = f'<div style="{_FONT}; font-weight: bold">{{}}</div>'
        note = f"Lines on map and overlay: the digit's outline (ink: pixel value above {INK_THRESHOLD:g})."
        return (
            f'<div style="{_FONT}; margin: 6px 0"><div style="font-size: 18px; font-weight: bold">{title}</div>'
            f'<div style="font-size: 13px; color: #444">{html.escape(note)}</div></div>',
            heading.format("attribution map"),
            heading.format(f"overlay (map at opacity {self.opacity.value:g})"),
            _colour_bar_html(
                SIGNED_CMAP if signed else MAP_CMAP,
                map_label,
                ticks=(vmax, 0.0, -vmax) if signed else (vmax, vmax / 2, 0.0),
            ),
            _probability_chart_html(probabilities, explained),
        )


class _Panels(NamedTuple):
    """RGB ``(H * scale, W * scale, 3)`` uint8 pictures, and the map's colour scale ``vmax``."""

    input: np.ndarray
    map: np.ndarray
    overlay: np.ndarray
    vmax: float


def draw_panels(image: np.ndarray, attribution: np.ndarray, *, signed: bool, alpha: float, scale: int) -> _Panels:
    """The explorer's three pictures, drawn with NumPy: input, map and overlay, each ``(H * scale, W * scale, 3)``.

    ``image`` and ``attribution`` are ``(H, W)``. The map is coloured on ``[0, vmax]`` with
    :data:`~helpers.course.plotting.MAP_CMAP`, or on ``[-vmax, vmax]`` with
    :data:`~helpers.course.plotting.SIGNED_CMAP` when ``signed`` (``vmax``: the largest
    ``|attribution|``, 1 for an all-zero map), as ``plot_map`` does; the overlay lays it over the
    grey input at opacity ``alpha``. The digit's outline (:func:`ink_outline`) is drawn on map and overlay.

    Examples::

        >>> import numpy as np
        >>> image, attribution = np.zeros((28, 28)), np.zeros((28, 28))
        >>> image[10:18, 12:16], attribution[5, 5] = 1.0, -2.0
        >>> panels = draw_panels(image, attribution, signed=True, alpha=0.5, scale=8)
        >>> panels.map.shape, panels.map.dtype, panels.vmax
        ((224, 224, 3), dtype('uint8'), 2.0)
        >>> panels.map[5 * 8 + 3, 5 * 8 + 3].tolist()  # -vmax: RdBu_r's darkest blue
        [5, 48, 97]
    """
    image, attribution = _check_picture(image, "image", scale), _check_picture(attribution, "attribution", scale)
    if image.shape != attribution.shape:
        raise ValueError(f"image {image.shape} and attribution {attribution.shape} must have the same shape (H, W).")
    alpha = check_real(alpha, "alpha")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha (the overlay's opacity) must lie in [0, 1], got {alpha}.")
    vmax = float(np.abs(attribution).max()) or 1.0
    if not np.isfinite(vmax):
        raise ValueError("the map holds NaN or infinite values; it cannot be drawn.")
    grey = _upscale(_colourize(image, "gray", 0.0, 1.0), scale)
    coloured = (
        _colourize(attribution, SIGNED_CMAP, -vmax, vmax) if signed else _colourize(attribution, MAP_CMAP, 0.0, vmax)
    )
    coloured = _upscale(coloured, scale)
    overlay = (alpha * coloured.astype(np.float32) + (1.0 - alpha) * grey.astype(np.float32)).round().astype(np.uint8)
    outline = ink_outline(image, scale)
    for code, colour in enumerate(OUTLINE_RGB, start=1):
        coloured[outline == code] = colour
        overlay[outline == code] = colour
    return _Panels(grey, coloured, overlay, vmax)


def ink_outline(image: np.ndarray, scale: int, threshold: float = INK_THRESHOLD) -> np.ndarray:
    """Where to draw the digit's outline on ``image`` ``(H, W)`` upscaled ``scale`` times: ``(H * scale, W * scale)`` uint8.

    A pixel is ink when its value exceeds ``threshold``. The outline follows the edge between
    ink and background blocks of the upscaled picture, two lines one pixel wide: 1 on the ink
    side (drawn dark), 2 on the background side (drawn light), so that it shows on dark and on
    light colours; 0 elsewhere, where the map stays visible.

    Examples::

        >>> import numpy as np
        >>> image = np.zeros((3, 3))
        >>> image[1, 1] = 1.0  # one ink pixel
        >>> ink_outline(image, 3)  # its 3 x 3 block's edge (1), ringed by the background's (2)
        array([[0, 0, 0, 0, 0, 0, 0, 0, 0],
               [0, 0, 0, 0, 0, 0, 0, 0, 0],
               [0, 0, 0, 2, 2, 2, 0, 0, 0],
               [0, 0, 2, 1, 1, 1, 2, 0, 0],
               [0, 0, 2, 1, 0, 1, 2, 0, 0],
               [0, 0, 2, 1, 1, 1, 2, 0, 0],
               [0, 0, 0, 2, 2, 2, 0, 0, 0],
               [0, 0, 0, 0, 0, 0, 0, 0, 0],
               [0, 0, 0, 0, 0, 0, 0, 0, 0]], dtype=uint8)
    """
    threshold = check_real(threshold, "threshold")
    ink = _upscale(_check_picture(image, "image", scale) > threshold, scale)
    padded = np.pad(ink, 1, constant_values=False)
    neighbours = padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]
    inner = ink & ~(neighbours[0] & neighbours[1] & neighbours[2] & neighbours[3])
    outer = ~ink & (neighbours[0] | neighbours[1] | neighbours[2] | neighbours[3])
    return inner.astype(np.uint8) + 2 * outer.astype(np.uint8)


def _check_picture(array: object, name: str, scale: object) -> np.ndarray:
    """``array`` as a 2-D float NumPy array, checking ``scale`` (a positive int) on the way."""
    check_int(scale, "scale")
    if not isinstance(array, np.ndarray) or array.ndim != 2:
        got = f"{type(array).__name__} of shape {getattr(array, 'shape', '?')}"
        raise TypeError(f"{name} must be a 2-D NumPy array (H, W), got {got}; index one picture, e.g. x[0, 0].numpy().")
    return array.astype(np.float64, copy=False)


@functools.lru_cache(maxsize=8)
def _lut(cmap: str) -> np.ndarray:
    """Matplotlib's colour map ``cmap`` as ``(256, 3)`` uint8 RGB, computed once."""
    colours = matplotlib.colormaps[cmap](np.linspace(0.0, 1.0, 256))[:, :3]
    return np.round(colours * 255).astype(np.uint8)


def _colourize(values: np.ndarray, cmap: str, vmin: float, vmax: float) -> np.ndarray:
    """``(H, W)`` values to ``(H, W, 3)`` uint8 RGB on ``[vmin, vmax]``, binned as matplotlib's ``imshow`` does."""
    scaled = (np.asarray(values, dtype=np.float64) - vmin) / (vmax - vmin)
    return _lut(cmap)[np.clip((scaled * 256).astype(np.int64), 0, 255)]


def _upscale(picture: np.ndarray, scale: int) -> np.ndarray:
    """Each pixel of ``(H, W, ...)`` as a ``scale`` x ``scale`` block: ``(H * scale, W * scale, ...)``."""
    return np.repeat(np.repeat(picture, scale, axis=0), scale, axis=1)


def _encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of a ``(H, W, 3)`` uint8 picture, with fast (light) compression."""
    buffer = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _as_array(tensor: torch.Tensor) -> np.ndarray:
    """``(1, 1, H, W)``, ``(1, H, W)`` or ``(H, W)`` tensor on any device to ``(H, W)`` float64 NumPy."""
    array = tensor.detach().cpu().double().numpy()
    return array.reshape(array.shape[-2:])


def _model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters (else buffers) live; the CPU for a model with neither."""
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        return tensor.device
    return torch.device("cpu")


@functools.lru_cache(maxsize=8)
def _colour_strip(cmap: str) -> str:
    """A vertical strip of ``cmap`` (top: its maximum) as a PNG data URI, computed once."""
    strip = np.repeat(_lut(cmap)[::-1, None, :], 12, axis=1)
    return "data:image/png;base64," + base64.b64encode(_encode_png(np.ascontiguousarray(strip))).decode()


def _tick(value: float) -> str:
    return "0" if value == 0 else f"{value:.3g}"


def _colour_bar_html(cmap: str, label: str, *, ticks: tuple[float, float, float]) -> str:
    """A colour bar as HTML: ``cmap``'s strip (the same image for every scale), the scale's three
    ``ticks`` (top, middle, bottom) and the rotated ``label``."""
    labels = "".join(f"<span>{html.escape(_tick(t))}</span>" for t in ticks)
    return (
        f'<div style="display: flex; height: {PANEL_PIXELS}px; {_FONT}; font-size: 14px; margin-left: 6px">'
        f'<img src="{_colour_strip(cmap)}" style="width: 14px; height: 100%; border: 1px solid #555; flex-shrink: 0" alt="">'
        '<div style="display: flex; flex-direction: column; justify-content: space-between; margin-left: 3px;'
        ' font-size: 13px; flex-shrink: 0">'
        f"{labels}</div>"
        '<div style="writing-mode: vertical-rl; transform: rotate(180deg); text-align: center; margin-left: 2px;'
        ' flex-shrink: 0">'
        f"{html.escape(label)}</div></div>"
    )


def _probability_chart_html(probabilities: np.ndarray, explained: int) -> str:
    """The model's class probabilities as an HTML bar chart: predicted in blue, the explained class outlined."""
    predicted = int(probabilities.argmax())
    bars, names = [], []
    for c, p in enumerate(probabilities):
        colour = "#1f77b4" if c == predicted else "#d3d3d3"
        edge = "outline: 2px solid black; outline-offset: -2px;" if c == explained else ""
        bars.append(
            f'<div title="class {c}: p = {p:.3f}" style="flex: 1; height: {100 * p:.1f}%; background: {colour};'
            f' {edge} min-height: 1px"></div>'
        )
        names.append(f'<div style="flex: 1; text-align: center">{c}</div>')
    height = PANEL_PIXELS - 40
    return (
        f'<div style="{_FONT}; width: 220px">'
        f'<div style="font-weight: bold">predicted {predicted} (p = {probabilities[predicted]:.2f})</div>'
        '<div style="display: flex">'
        f'<div style="display: flex; flex-direction: column; justify-content: space-between; height: {height}px;'
        ' font-size: 13px; margin-right: 4px; text-align: right"><span>1</span><span>0.5</span><span>0</span></div>'
        '<div style="flex: 1">'
        f'<div style="display: flex; align-items: flex-end; gap: 3px; height: {height}px; border-left: 1px solid #333;'
        f' border-bottom: 1px solid #333">{"".join(bars)}</div>'
        f'<div style="display: flex; gap: 3px; font-size: 13px">{"".join(names)}</div></div></div>'
        '<div style="font-size: 13px">probability by class (blue: predicted; outlined: explained)</div></div>'
    )


def explorer(
    model: nn.Module,
    dataset: Dataset,
    methods: Sequence[str] = DEFAULT_METHODS,
    *,
    background: torch.Tensor | None = None,
    seed: int = 0,
) -> Explorer:
    """Interactive controls over one classifier's explanations, for JupyterLab.

    Args:
        model: classifier of ``(N, 1, H, W)`` images returning logits ``(N, classes)``. The
            explorer explains an eval-mode copy taken now: retrain the model, build a new explorer.
        dataset: ``(image, label)`` pairs with images ``(1, H, W)``, e.g. ``helpers.mnist(train=False)``.
        methods: names from :data:`EXPLORER_METHODS` to offer, in menu order; default
            :data:`DEFAULT_METHODS` (saliency, SmoothGrad, Integrated Gradients, LIME, SHAP).
            ``"Grad-CAM"``, ``"Guided Backprop"`` and ``"occlusion"`` (notebook 04) are offered
            when named here; on a model they cannot explain (Guided Backprop on a model that
            applies ``F.relu``, Grad-CAM on one without ``nn.Conv2d``) the status line shows why.
        background: ``(B, 1, H, W)`` reference images for SHAP; default: 50 images of ``dataset``
            drawn with ``seed``.
        seed: seeds the "random image" button and the default background.

    Returns:
        An :class:`Explorer`, an ipywidgets ``VBox``: display it as a cell's last value. Its
        controls are attributes (``index``, ``random_button``, ``target``, ``method``, ``reduce``,
        ``opacity``); below them the title, input | map | overlay (PNGs in ``input_panel``,
        ``map_panel``, ``overlay_panel``, each with its colour bar; the digit's outline on map and
        overlay) and the model's probabilities. Used at the end of notebooks 02, 04 and 08.

    Examples::

        >>> from helpers import explorer, load_pretrained, mnist
        >>> controls = explorer(load_pretrained(), mnist(train=False), methods=["saliency"])
        >>> bytes(controls.map_panel.value[1:4])  # the map shown is a PNG, redrawn whenever a control moves
        b'PNG'
        >>> controls.status.value.startswith("saliency, image 0: drawn in")
        True
        >>> list(explorer(load_pretrained(), mnist(train=False)).method.options)  # DEFAULT_METHODS
        ['saliency', 'SmoothGrad', 'Integrated Gradients', 'LIME', 'SHAP']
        >>> deeper = explorer(load_pretrained("deeper"), mnist(train=False), methods=["Grad-CAM", "occlusion"])
        >>> deeper.reduce.value = "signed"  # Grad-CAM without its ReLU: negative where evidence is against the class
        >>> deeper.status.value.startswith("Grad-CAM, image 0: drawn in")
        True
    """
    check_model(model)
    seed = check_int(seed, "seed", minimum=0)
    if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__") or len(dataset) == 0:
        raise TypeError(
            f"dataset must be a non-empty dataset of (image, label) pairs, e.g. helpers.mnist(train=False); got {type(dataset).__name__}."
        )
    if isinstance(methods, str) or not isinstance(methods, Sequence) or not methods:
        raise TypeError(f"methods must be a non-empty list of names from {list(EXPLORER_METHODS)}, got {methods!r}.")
    unknown = [name for name in methods if name not in EXPLORER_METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {list(EXPLORER_METHODS)}.")
    image = dataset[0][0]
    if not isinstance(image, torch.Tensor) or image.dim() != 3 or image.shape[0] != 1:
        raise ValueError(
            f"dataset items must be (image, label) with a greyscale image tensor (1, H, W), got {type(image).__name__} "
            f"{tuple(getattr(image, 'shape', ()))}; use a transform such as transforms.ToTensor()."
        )
    if background is None:
        picks = np.random.default_rng(seed).choice(len(dataset), size=min(50, len(dataset)), replace=False)
        background = torch.stack([dataset[int(i)][0] for i in picks])
    check_batch(background, "background")
    if background.shape[1:] != image.shape:
        raise ValueError(
            f"background images {tuple(background.shape[1:])} must have the dataset's image shape {tuple(image.shape)}."
        )
    return Explorer(model, dataset, list(methods), background, seed=seed)
