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

The reduction toggle (:data:`REDUCTION_LABELS`) is applied to each method's signed map, except
for Grad-CAM, whose map is ``ReLU(sum_k alpha_k A_k)`` and so never negative: there "|map|" is the
paper's (ReLU'd) map, "map²" its square, and "signed" the map without that ReLU
(``grad_cam(..., relu=False)``), negative where the class's weighted feature maps
``sum_k alpha_k A_k`` count against it. "|map|" is not ``|grad_cam(..., relu=False)|``, which would show that negative
evidence as if it were evidence for the class.
"""

from __future__ import annotations

import copy
import html
import io
import threading
import time
from collections.abc import Callable, Sequence, Sized
from typing import NamedTuple

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import nn
from torch.utils.data import Dataset

from helpers._checks import check_batch, check_int, check_model
from helpers._running import call_model
from helpers.course.plotting import draw_explanation
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
    "LIME": ExplorerMethod(lambda m, x, c, r, bg: apply_reduce(lime_map(m, x, c, samples=1000).maps, r), slow=True),
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


class Explorer(widgets.VBox):
    """The explorer's widgets, as :func:`explorer` returns them (end of notebooks 02 and 08).

    An ipywidgets ``VBox`` whose controls are attributes; setting one (``index``, ``target``,
    ``method``, ``reduce``, ``opacity``) redraws ``image``. ``render()`` returns the PNG it shows.

    Examples::

        >>> from torch.utils.data import Subset
        >>> from helpers import Explorer, explorer, load_pretrained, mnist
        >>> controls = explorer(load_pretrained(), Subset(mnist(train=False), range(10)), methods=["saliency"])
        >>> isinstance(controls, Explorer), controls.index.max  # the slider spans the 10 images given
        (True, 9)
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
        self.dataset, self.background = dataset, background
        self._random = np.random.default_rng(seed)
        self._cache: dict[_Key, torch.Tensor] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self._worker: threading.Thread | None = None
        first_image, _ = dataset[0]
        with torch.no_grad():
            classes = call_model(self.model, first_image[None]).shape[1]
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
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="100%", max_width="1100px"))
        for control in (self.index, self.target, self.method, self.reduce, self.opacity):
            control.observe(lambda change: self.refresh(), names="value")
        self.random_button.on_click(lambda button: self.show_random())
        super().__init__(
            [
                widgets.HBox([self.index, self.random_button]),
                widgets.HBox([self.target, self.method]),
                widgets.HBox([widgets.Label("show", layout=widgets.Layout(width="80px")), self.reduce, self.opacity]),
                widgets.HBox([self.progress, self.status]),
                self.image,
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
        """The PNG the explorer shows for the current controls (computed now if needed)."""
        return _png(self._figure(self._key(), self._map(self._key())))

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
        image = self.dataset[index][0][None]
        if target == PREDICTED:
            with torch.no_grad():
                target = int(call_model(self.model, image).argmax(dim=1))
        return EXPLORER_METHODS[method].explain(self.model, image, target, reduce, self.background)

    def _draw(self, generation: int, key: _Key) -> None:
        start = time.perf_counter()
        try:
            png = _png(self._figure(key, self._map(key)))
        except Exception as err:  # shown in the widget: an exception in a callback would go unseen
            if generation == self._generation:
                self.progress.layout.visibility = "hidden"
                self.status.value = f"<b>{key[2]} failed:</b> {html.escape(f'{type(err).__name__}: {err}')}"
            return
        if generation != self._generation:  # the controls moved on while this was computed
            return
        self.image.value = png
        self.progress.layout.visibility = "hidden"
        self.status.value = f"{key[2]}, image {key[0]}: drawn in {time.perf_counter() - start:.2f} s"

    def _figure(self, key: _Key, attribution: torch.Tensor) -> Figure:
        index, target, method, reduce = key
        image, label = self.dataset[index]
        with torch.no_grad():
            probabilities = call_model(self.model, image[None]).softmax(dim=1)[0].numpy()
        explained = int(probabilities.argmax()) if target == PREDICTED else target
        figure = Figure(figsize=(14, 3.4), layout="constrained")
        axes = figure.subplots(1, 4, width_ratios=[1, 1, 1, 1.3])
        label_name = {"abs": f"|{method}|", "signed": f"{method} (signed)", "square": f"{method} squared"}[reduce]
        draw_explanation(
            figure,
            axes[:3],
            image,
            attribution[0],
            map_label=label_name,
            signed=reduce == "signed",
            alpha=self.opacity.value,
        )
        bars = axes[3].bar(range(len(probabilities)), probabilities, color="lightgrey")
        bars[int(probabilities.argmax())].set_color("tab:blue")
        bars[explained].set_edgecolor("black")
        bars[explained].set_linewidth(2)
        axes[3].set_xticks(range(len(probabilities)))
        axes[3].set(
            ylim=(0, 1),
            xlabel="class (blue: predicted; outlined: explained)",
            ylabel="probability",
            title=f"predicted {int(probabilities.argmax())} (p = {probabilities.max():.2f})",
        )
        figure.suptitle(f"Test image {index} (label {int(label)}): {method} for class {explained}")
        return figure


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


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
        ``opacity``); ``image`` holds the PNG shown (original | map | overlay | probabilities).
        Used at the end of notebooks 02 and 08.

    Examples::

        >>> from helpers import explorer, load_pretrained, mnist
        >>> controls = explorer(load_pretrained(), mnist(train=False), methods=["saliency"])
        >>> bytes(controls.image.value[1:4])  # the figure shown is a PNG, redrawn whenever a control moves
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
