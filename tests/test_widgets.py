"""helpers.course.widgets: the explorer's controls redraw the right map, in the right thread, without side effects.

No browser: the tests set the controls' values (as the front end would) and read ``image.value``
(the PNG shown), ``status`` and ``progress``. Fake methods registered in ``EXPLORER_METHODS`` record what
the explorer asks for and can be held mid-computation with a ``threading.Event``.
"""

import copy
import html
import io
import re
import threading
from pathlib import Path
from typing import Any, cast

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from helpers import grad_cam, guided_backprop, lime_map, load_pretrained, occlusion, saliency
from helpers._running import evaluation_mode
from helpers.course import widgets
from helpers.course.plotting import MAP_CMAP, SIGNED_CMAP
from helpers.course.widgets import DEFAULT_METHODS, EXPLORER_METHODS, PREDICTED, Explorer, ExplorerMethod, explorer
from helpers.explain._gradient import Reduce

from side_effects import MODE_SETTINGS, assert_model_untouched, dropout_net_in, modes, snapshot

PNG = b"\x89PNG"
TIMEOUT = 5.0  # seconds any test waits on a thread before giving up (never reached when all is well)


def shown(e: Explorer) -> bytes:
    """Everything the explorer shows below its controls: the three panels' PNGs, then its HTML (title,
    headings, colour bars, probabilities); empty before the first picture."""
    pngs = b"".join(bytes(panel.value) for panel in (e.input_panel, e.map_panel, e.overlay_panel))
    texts = (e.title, e.map_title, e.overlay_title, e.colour_bar, e.overlay_bar, e.probabilities)
    return pngs + "".join(text.value for text in texts).encode()


def title(e: Explorer) -> str:
    """The title above the panels, as text (its first line; the second is a note on the outline)."""
    lines = [line for line in re.sub(r"<[^>]+>", "\n", e.title.value).split("\n") if line.strip()]
    return html.unescape(lines[0]) if lines else ""


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def assert_render_is_the_panels(e: Explorer) -> None:
    """``render()`` is input | map | overlay as the panels show them, side by side."""
    rendered = pixels(e.render())
    panels = [pixels(bytes(panel.value)) for panel in (e.input_panel, e.map_panel, e.overlay_panel)]
    side, gap = panels[0].shape[1], (rendered.shape[1] - 3 * panels[0].shape[1]) // 2
    for i, panel in enumerate(panels):
        np.testing.assert_array_equal(rendered[:, i * (side + gap) : i * (side + gap) + side], panel)


@pytest.fixture(scope="module")
def small_set(test_set):
    """Twelve test images as a plain list of (image, int label): items are the same tensors each time."""
    return [(test_set[i][0].clone(), int(test_set[i][1])) for i in range(12)]


@pytest.fixture(scope="module")
def predicted(trained_model, small_set):
    with torch.no_grad():
        return trained_model(torch.stack([image for image, _ in small_set])).argmax(dim=1).tolist()


class Fake:
    """A stand-in attribution method that records each call; ``gate`` (an Event) holds calls until set."""

    def __init__(self, gate: threading.Event | None = None, error: Exception | None = None):
        self.calls: list[dict] = []
        self.gate, self.error = gate, error
        self.entered = threading.Event()

    def __call__(self, model, image, target, reduce, background):
        self.calls.append(
            {
                "model": model,
                "image": image.clone(),
                "target": target,
                "reduce": reduce,
                "background": background,
                "thread": threading.current_thread(),
            }
        )
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(TIMEOUT)
        if self.error is not None:
            raise self.error
        return image * (target + 1.0)

    def join_threads(self) -> None:
        """Wait for every background thread that called this method (stale ones included)."""
        for call in self.calls:
            if call["thread"] is not threading.current_thread():
                call["thread"].join(TIMEOUT)


def install(monkeypatch, name: str, fake: Fake, slow: bool) -> Fake:
    monkeypatch.setitem(EXPLORER_METHODS, name, ExplorerMethod(fake, slow=slow))
    return fake


def index_of(image: torch.Tensor, dataset) -> int:
    matches = [i for i, (item, _) in enumerate(dataset) if torch.equal(item[None], image)]
    assert len(matches) == 1
    return matches[0]


# ---------------------------------------------------------------------------
# building and redrawing
# ---------------------------------------------------------------------------


def test_explorer_shows_a_png_and_its_controls_at_once(trained_model, small_set):
    e = explorer(trained_model, small_set, methods=["saliency", "LIME"])
    assert isinstance(e, Explorer)
    assert shown(e).startswith(PNG)
    assert "saliency" in e.status.value and "failed" not in e.status.value
    assert e.progress.layout.visibility == "hidden"
    assert (e.index.min, e.index.max, e.index.value) == (0, len(small_set) - 1, 0)
    assert [value for _, value in e.target.options] == [PREDICTED, *range(10)] and e.target.value == PREDICTED
    assert list(e.method.options) == ["saliency", "LIME"]
    assert {value for _, value in e.reduce.options} == {"abs", "signed", "square"} and e.reduce.value == "abs"
    assert_render_is_the_panels(e)


def test_a_slow_first_method_is_computed_in_the_background(trained_model, small_set):
    e = explorer(trained_model, small_set, methods=["LIME"])
    assert e.progress.layout.visibility == "visible"
    e.wait()
    assert shown(e).startswith(PNG) and "LIME" in e.status.value
    assert e.progress.layout.visibility == "hidden"


CHANGES = {
    "index": lambda e, pred: setattr(e.index, "value", 3),
    "target": lambda e, pred: setattr(e.target, "value", (pred[0] + 1) % 10),
    "reduce": lambda e, pred: setattr(e.reduce, "value", "signed"),
    "opacity": lambda e, pred: setattr(e.opacity, "value", 0.2),
    "method": lambda e, pred: setattr(e.method, "value", "Integrated Gradients"),
}


@pytest.mark.parametrize("control", CHANGES)
def test_each_control_redraws_the_image(trained_model, small_set, predicted, control):
    e = explorer(trained_model, small_set, methods=["saliency", "Integrated Gradients"])
    before = shown(e)
    CHANGES[control](e, predicted)
    assert shown(e).startswith(PNG) and shown(e) != before
    assert e.progress.layout.visibility == "hidden" and "failed" not in e.status.value


@pytest.mark.parametrize("method", ["LIME", "SHAP"])
def test_slow_methods_show_progress_then_the_map_and_are_cached(trained_model, small_set, method):
    e = explorer(
        trained_model, small_set, methods=["saliency", method], background=torch.stack([x for x, _ in small_set[:8]])
    )
    saliency_png = shown(e)
    e.method.value = method
    assert e.progress.layout.visibility == "visible", "the progress bar shows while the method runs"
    assert "computing" in e.status.value and method in e.status.value
    e.wait()
    assert e.progress.layout.visibility == "hidden"
    assert shown(e).startswith(PNG) and shown(e) != saliency_png
    assert method in e.status.value and "failed" not in e.status.value
    slow_png = shown(e)
    e.method.value = "saliency"
    assert shown(e) == saliency_png
    e.method.value = method  # cached now: drawn at once, no progress bar
    assert e.progress.layout.visibility == "hidden" and shown(e) == slow_png


# ---------------------------------------------------------------------------
# the map drawn is the one asked for
# ---------------------------------------------------------------------------


def test_method_gets_the_chosen_image_class_reduction_and_background(monkeypatch, trained_model, small_set, predicted):
    fake = install(monkeypatch, "saliency", Fake(), slow=False)
    background = torch.stack([x for x, _ in small_set[:4]])
    e = explorer(trained_model, small_set, methods=["saliency"], background=background)
    e.index.value = 5
    e.target.value = (predicted[5] + 3) % 10
    e.reduce.value = "square"
    e.target.value = PREDICTED
    expected = [
        (0, predicted[0], "abs"),
        (5, predicted[5], "abs"),
        (5, (predicted[5] + 3) % 10, "abs"),
        (5, (predicted[5] + 3) % 10, "square"),
        (5, predicted[5], "square"),
    ]
    got = [(index_of(c["image"], small_set), c["target"], c["reduce"]) for c in fake.calls]
    assert got == expected
    assert all(c["image"].shape == (1, 1, 28, 28) for c in fake.calls)
    assert all(c["background"] is background for c in fake.calls)
    for call in fake.calls:  # an eval-mode snapshot of the model, never the caller's own object
        assert call["model"] is not trained_model and not call["model"].training
        copied, original = call["model"].state_dict(), trained_model.state_dict()
        assert copied.keys() == original.keys() and all(torch.equal(copied[k], original[k]) for k in original)
    assert all(isinstance(c["target"], int) for c in fake.calls)
    assert title(e) == f"Test image 5 (label {small_set[5][1]}): saliency for class {predicted[5]}"


def test_default_background_is_drawn_from_the_dataset_with_the_seed(monkeypatch, trained_model, small_set):
    fake = install(monkeypatch, "saliency", Fake(), slow=False)
    explorer(trained_model, small_set, methods=["saliency"], seed=3)
    explorer(trained_model, small_set, methods=["saliency"], seed=3)
    first, second = (c["background"] for c in fake.calls)
    assert first.shape == (len(small_set), 1, 28, 28), "at most 50 images, so all twelve"
    assert torch.equal(first, second)
    images = torch.stack([x for x, _ in small_set])
    assert all(any(torch.equal(b, x) for x in images) for b in first)


def test_returning_to_a_setting_reuses_the_map_and_the_picture(monkeypatch, trained_model, small_set):
    fake = install(monkeypatch, "saliency", Fake(), slow=False)
    e = explorer(trained_model, small_set, methods=["saliency"])
    first = shown(e)
    e.index.value = 1
    e.reduce.value = "signed"
    assert len(fake.calls) == 3
    e.reduce.value = "abs"
    e.index.value = 0
    assert len(fake.calls) == 3, "both settings were computed before"
    assert shown(e) == first
    e.opacity.value = 0.3
    assert len(fake.calls) == 3, "opacity only changes the overlay"
    assert shown(e) != first


# ---------------------------------------------------------------------------
# notebook 04's methods: Grad-CAM, Guided Backprop, occlusion
# ---------------------------------------------------------------------------

NOTEBOOK_04_METHODS = ["Grad-CAM", "Guided Backprop", "occlusion"]
REDUCES: tuple[Reduce, ...] = ("abs", "signed", "square")


def helper_maps(name: str, model: nn.Module, image: torch.Tensor, target: int) -> dict[str, torch.Tensor]:
    """The maps the explorer should show, by reduction: the helper called directly, then reduced."""
    if name == "Grad-CAM":  # non-negative by default: "signed" is the map without the ReLU; |map| is the map
        cam = grad_cam(model, image, target)
        return {"abs": cam, "square": cam.square(), "signed": grad_cam(model, image, target, relu=False)}
    signed = guided_backprop(model, image, target) if name == "Guided Backprop" else occlusion(model, image, target)
    return {"abs": signed.abs(), "square": signed.square(), "signed": signed}


@pytest.fixture(scope="module")
def deeper_model():
    return load_pretrained("deeper")


def test_the_default_menu_is_unchanged_and_the_new_methods_are_offered_on_request(trained_model, small_set):
    assert list(explorer(trained_model, small_set).method.options) == list(DEFAULT_METHODS)
    assert list(DEFAULT_METHODS) == ["saliency", "SmoothGrad", "Integrated Gradients", "LIME", "SHAP"]
    assert set(NOTEBOOK_04_METHODS) <= set(EXPLORER_METHODS) and not set(NOTEBOOK_04_METHODS) & set(DEFAULT_METHODS)
    assert not any(EXPLORER_METHODS[name].slow for name in NOTEBOOK_04_METHODS), "each takes well under a second"
    e = explorer(trained_model, small_set, methods=NOTEBOOK_04_METHODS)
    assert list(e.method.options) == NOTEBOOK_04_METHODS


@pytest.fixture(scope="module", params=["SimpleCNN", "DeeperCNN"])
def course_model(request, trained_model, deeper_model):
    """Each course model in turn: load_pretrained() and load_pretrained("deeper")."""
    return trained_model if request.param == "SimpleCNN" else deeper_model


@pytest.mark.parametrize("name", NOTEBOOK_04_METHODS)
def test_each_new_entry_is_the_helpers_map_of_the_chosen_class_for_each_reduction(course_model, small_set, name):
    image = small_set[4][0][None]
    with torch.no_grad():
        target = (int(course_model(image).argmax()) + 1) % 10  # a class other than the predicted one
    expected = helper_maps(name, course_model, image, target)
    maps = {}
    for reduce in REDUCES:
        maps[reduce] = EXPLORER_METHODS[name].explain(course_model, image, target, reduce, image)
        assert maps[reduce].shape == (1, 1, 28, 28)
        assert torch.equal(maps[reduce], expected[reduce]), reduce
    assert maps["abs"].min() >= 0 and maps["square"].min() >= 0
    assert torch.allclose(maps["square"], maps["abs"].square())
    if name != "Grad-CAM":
        assert torch.equal(maps["abs"], maps["signed"].abs())
    assert maps["signed"].abs().max() > 0, f"{name}'s map is empty"


def test_the_explorer_draws_the_new_methods_maps(course_model, small_set):
    eval_copy = copy.deepcopy(course_model).eval()
    e = explorer(course_model, small_set, methods=NOTEBOOK_04_METHODS)
    image = small_set[0][0][None]
    with torch.no_grad():
        predicted = int(eval_copy(image).argmax())
    e.reduce.value = "signed"  # Grad-CAM drawn twice: its |map| at once, then the signed one
    for name in NOTEBOOK_04_METHODS:
        e.method.value = name
        assert "failed" not in e.status.value and f"{name}, image 0" in e.status.value, e.status.value
        assert title(e).endswith(f": {name} for class {predicted}")
        expected = helper_maps(name, eval_copy, image, predicted)
        shown_reduces: tuple[Reduce, ...] = ("abs", "signed") if name == "Grad-CAM" else ("signed",)
        for reduce in shown_reduces:
            assert torch.equal(e._cache[(0, PREDICTED, name, reduce)], expected[reduce]), (name, reduce)
    assert not any(modes(e.model))


class FunctionalReluCNN(nn.Module):
    """A convolution with an nn.ReLU module, then a hidden layer rectified by F.relu: Guided Backprop refuses it."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv, self.relu = nn.Conv2d(1, 4, 3), nn.ReLU()
        self.fc1, self.fc2 = nn.Linear(4 * 26 * 26, 16), nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.nn.functional.relu(self.fc1(self.relu(self.conv(x)).flatten(1))))


def mlp() -> nn.Module:
    """A classifier without any nn.Conv2d: Grad-CAM has no layer to default to."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.ReLU(), nn.Linear(16, 10))


@pytest.mark.parametrize(
    "make_model, failing, message",
    [
        (FunctionalReluCNN, "Guided Backprop", "applies a ReLU as a function"),
        (mlp, "Grad-CAM", "has no nn.Conv2d layer"),
    ],
    ids=["guided-backprop-F.relu", "grad-cam-no-conv"],
)
@pytest.mark.parametrize("first", [True, False], ids=["shown-first", "chosen-later"])
def test_a_method_the_model_cannot_run_shows_the_helpers_error(small_set, make_model, failing, message, first):
    model = make_model()
    image = small_set[0][0][None]
    with pytest.raises(ValueError, match=message) as direct:  # the helper's own error, shown in the widget
        EXPLORER_METHODS[failing].explain(copy.deepcopy(model).eval(), image, 0, "abs", image)
    others = ["saliency", *(name for name in NOTEBOOK_04_METHODS if name != failing)]
    e = explorer(model, small_set, methods=[failing, *others] if first else [*others, failing])  # does not raise
    before = shown(e)
    if first:
        assert before == b"", "nothing to show yet"
    else:
        assert before.startswith(PNG)
        e.method.value = failing
    assert e.status.value.startswith(f"<b>{failing} failed:</b> ValueError: ")
    assert html.escape(str(direct.value)) in e.status.value, "the helper's whole message"
    assert e.progress.layout.visibility == "hidden"
    assert shown(e) == before, "the last picture stays"
    for name in others:  # every other method still runs on this model
        e.method.value = name
        assert "failed" not in e.status.value and f"{name}, image 0" in e.status.value, e.status.value
        assert shown(e).startswith(PNG)
    assert torch.equal(
        e._cache[(0, PREDICTED, "saliency", "abs")], saliency(copy.deepcopy(model).eval(), image, reduce="abs")
    )
    e.method.value = failing
    e.index.value = 1
    assert e.status.value.startswith(f"<b>{failing} failed:</b>"), "tried again for the new image, refused again"


# ---------------------------------------------------------------------------
# background computations: stale results, errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fails", [False, True], ids=["result", "error"])
def test_a_stale_slow_result_does_not_replace_a_later_picture(monkeypatch, trained_model, small_set, fails):
    gate = threading.Event()
    held = install(monkeypatch, "held", Fake(gate, error=RuntimeError("late") if fails else None), slow=True)
    e = explorer(trained_model, small_set, methods=["saliency", "held"])
    saliency_png = shown(e)
    e.method.value = "held"
    assert held.entered.wait(TIMEOUT)
    e.method.value = "saliency"  # cached: drawn now, while "held" is still computing
    assert shown(e) == saliency_png and e.progress.layout.visibility == "hidden"
    status = e.status.value
    gate.set()
    e.wait()
    held.join_threads()
    assert shown(e) == saliency_png, f"the late result of the earlier setting was drawn: {title(e)}"
    assert e.status.value == status and "held" not in e.status.value
    assert e.progress.layout.visibility == "hidden"


def test_two_quick_changes_end_on_the_last_setting(monkeypatch, trained_model, small_set, predicted):
    gate = threading.Event()
    held = install(monkeypatch, "held", Fake(gate), slow=True)
    e = explorer(trained_model, small_set, methods=["saliency", "held"])
    e.method.value = "held"
    assert held.entered.wait(TIMEOUT)
    e.index.value = 7  # the first computation (image 0) is still running
    assert e.progress.layout.visibility == "visible" and "image 7" in e.status.value
    gate.set()
    e.wait()
    held.join_threads()
    assert [index_of(c["image"], small_set) for c in held.calls] == [0, 7]
    assert "held, image 7" in e.status.value
    assert e.progress.layout.visibility == "hidden"
    assert title(e).startswith("Test image 7 ") and title(e).endswith(f": held for class {predicted[7]}")
    assert_render_is_the_panels(e)
    e.index.value = 0  # computed before (then dropped as stale): cached, drawn at once
    assert e.progress.layout.visibility == "hidden" and "image 0" in e.status.value
    assert len(held.calls) == 2
    assert_render_is_the_panels(e)


@pytest.mark.parametrize("slow", [False, True], ids=["fast", "slow"])
def test_an_error_in_a_method_is_shown_and_the_explorer_keeps_working(monkeypatch, trained_model, small_set, slow):
    install(monkeypatch, "broken", Fake(error=RuntimeError("out of cheese")), slow=slow)
    e = explorer(trained_model, small_set, methods=["saliency", "broken"])
    before = shown(e)
    e.method.value = "broken"
    e.wait()
    assert "failed" in e.status.value and "broken" in e.status.value
    assert "RuntimeError" in e.status.value and "out of cheese" in e.status.value
    assert e.progress.layout.visibility == "hidden"
    e.method.value = "saliency"
    assert "failed" not in e.status.value and "saliency" in e.status.value
    e.index.value = 2
    assert shown(e).startswith(PNG) and shown(e) != before
    assert "failed" not in e.status.value


def test_an_error_message_is_shown_as_text_not_html(monkeypatch, trained_model, small_set):
    install(monkeypatch, "broken", Fake(error=TypeError("expected a tensor, got <class 'str'>")), slow=False)
    e = explorer(trained_model, small_set, methods=["broken"])
    assert "failed" in e.status.value
    assert "&lt;class" in e.status.value and "<class" not in e.status.value


class _SpyLock:
    """Wraps a lock; ``waiting`` is set when a thread starts to acquire it."""

    def __init__(self, lock):
        self.lock, self.waiting = lock, threading.Event()

    def __enter__(self):
        self.waiting.set()
        return self.lock.__enter__()

    def __exit__(self, *exc):
        return self.lock.__exit__(*exc)


def test_a_map_being_computed_is_not_computed_again(monkeypatch, trained_model, small_set):
    gate = threading.Event()
    held = install(monkeypatch, "held", Fake(gate), slow=True)
    e = explorer(trained_model, small_set, methods=["saliency", "held"])
    e.method.value = "held"
    assert held.entered.wait(TIMEOUT)
    spy = _SpyLock(e._lock)
    monkeypatch.setattr(e, "_lock", spy)
    e.opacity.value = 0.3  # same map, only the overlay changes
    spy.waiting.wait(2.0)  # the second refresh is about to compute (not reached if it finds the map)
    gate.set()
    e.wait()
    held.join_threads()
    assert len(held.calls) == 1
    assert_render_is_the_panels(e)


# ---------------------------------------------------------------------------
# the random-image button
# ---------------------------------------------------------------------------


def test_random_button_is_seeded_and_in_range(monkeypatch, trained_model, small_set):
    monkeypatch.setattr(Explorer, "refresh", lambda self: None)  # only the slider's moves matter here

    def clicks(seed: int) -> list[int]:
        e = explorer(trained_model, small_set, methods=["saliency"], seed=seed)
        sequence = []
        for _ in range(6):
            e.random_button.click()
            sequence.append(e.index.value)
        return sequence

    first = clicks(seed=1)
    assert first == clicks(seed=1)
    assert all(0 <= i < len(small_set) for i in first)
    assert len(set(first)) > 1
    assert clicks(seed=2) != first


def test_random_button_redraws(monkeypatch, trained_model, small_set):
    fake = install(monkeypatch, "saliency", Fake(), slow=False)
    e = explorer(trained_model, small_set, methods=["saliency"], seed=0)
    while e.index.value == 0:
        e.random_button.click()
    assert index_of(fake.calls[-1]["image"], small_set) == e.index.value
    assert f"image {e.index.value}" in e.status.value


# ---------------------------------------------------------------------------
# side effects
# ---------------------------------------------------------------------------


def test_all_methods_leave_the_model_and_the_dataset_alone(trained_model, small_set):
    model = copy.deepcopy(trained_model).train()  # train mode: the explorer must not leave it in eval
    params, modes_before = snapshot(model), modes(model)
    dataset = [(x.clone(), y) for x, y in small_set[:6]]
    originals = [x.clone() for x, _ in dataset]
    e = explorer(model, dataset, methods=list(EXPLORER_METHODS), background=torch.stack(originals[:4]))  # type: ignore[arg-type]
    assert e.method.value == "saliency"
    for method in [name for name in EXPLORER_METHODS if name != "saliency"]:
        e.method.value = method
        e.wait()
        assert method in e.status.value and "failed" not in e.status.value
    e.index.value = 2
    e.wait()
    assert_model_untouched(model, params, modes_before)
    assert all(torch.equal(x, original) for (x, _), original in zip(dataset, originals, strict=True))


def dropout_classifier(setting: str) -> nn.Module:
    """A seeded classifier of 28 x 28 images with Dropout, in one of MODE_SETTINGS: its output depends on the mode."""
    net = dropout_net_in(setting, 784, 10)
    model = nn.Sequential(nn.Flatten(), net)
    model.training = model[0].training = net.training  # the setting is the whole model's
    return model


@pytest.mark.parametrize("setting", MODE_SETTINGS)
def test_maps_come_from_an_eval_mode_snapshot_and_the_callers_model_is_untouched(monkeypatch, setting, small_set):
    model = dropout_classifier(setting)
    params, modes_before = snapshot(model), modes(model)
    eval_copy = copy.deepcopy(model).eval()
    names = ["saliency", "SmoothGrad", "Integrated Gradients"]
    originals = {name: EXPLORER_METHODS[name].explain for name in names}
    calls = []

    def recording(name):
        def explain(m, x, c, r, bg):
            calls.append({"name": name, "model": m, "modes": modes(m), "args": (x.clone(), c, r, bg)})
            calls[-1]["map"] = originals[name](m, x, c, r, bg)
            return calls[-1]["map"]

        return explain

    for name in names:
        monkeypatch.setitem(EXPLORER_METHODS, name, ExplorerMethod(recording(name), slow=False))
    e = explorer(model, small_set[:3], methods=names)
    e.method.value = "SmoothGrad"
    e.method.value = "Integrated Gradients"
    e.reduce.value = "signed"
    e.index.value = 2
    assert "failed" not in e.status.value
    assert [call["name"] for call in calls] == ["saliency", "SmoothGrad", *["Integrated Gradients"] * 3]
    for call in calls:
        assert call["model"] is e.model and call["model"] is not model
        assert not any(call["modes"]), "a method was handed a model in train mode"
        # the helper itself on an eval copy of the caller's model: the same map, bit for bit
        assert torch.equal(call["map"], originals[call["name"]](eval_copy, *call["args"]))
    assert not any(modes(e.model))
    assert_model_untouched(model, params, modes_before)


def test_drawing_while_a_slow_method_runs_uses_the_eval_snapshot_in_both_threads(monkeypatch, small_set):
    """The kernel's thread computes and draws a map while a slow method, in the worker thread, is inside
    its own evaluation_mode on the same model. The worker leaves evaluation_mode (restoring the modes it
    saved) in the middle of the main thread's forward pass: since the explorer works on an eval-mode
    snapshot, that restores eval mode, and every forward pass in either thread gives the eval output."""
    model = dropout_classifier("train")
    params, modes_before = snapshot(model), modes(model)
    eval_copy = copy.deepcopy(model).eval()
    main = threading.current_thread()
    in_method, may_leave, left = (threading.Event() for _ in range(3))
    passes = []  # (thread, grad enabled, modes, output equals the eval model's) of each forward pass

    def slow(m, x, c, r, bg):  # like lime_map and shap_map: evaluation_mode around its model calls
        with evaluation_mode(m):
            in_method.set()
            assert may_leave.wait(TIMEOUT)
            m(x)
        left.set()
        return x.abs()

    monkeypatch.setitem(EXPLORER_METHODS, "slow", ExplorerMethod(slow, slow=True))
    e = explorer(model, small_set, methods=["saliency", "slow"])

    def let_the_worker_leave(module, inputs):  # in the main thread's saliency (grad on), inside its evaluation_mode
        if threading.current_thread() is main and torch.is_grad_enabled() and not may_leave.is_set():
            may_leave.set()
            assert left.wait(TIMEOUT)

    def record(module, inputs, output):
        with torch.no_grad():
            same = torch.equal(output, eval_copy(inputs[0]))
        passes.append((threading.current_thread(), torch.is_grad_enabled(), modes(module), same))

    hooks = [e.model.register_forward_pre_hook(let_the_worker_leave), e.model.register_forward_hook(record)]
    try:
        e.method.value = "slow"
        assert in_method.wait(TIMEOUT)
        e.method.value = "saliency"  # cached: only the figure's forward pass
        e.target.value = 3  # computed now, in this thread, while the worker is still inside its method
        e.wait()
    finally:
        may_leave.set()
        e.wait()
        for hook in hooks:
            hook.remove()
    assert left.is_set()
    assert "saliency, image 0" in e.status.value and "failed" not in e.status.value
    assert {thread is main for thread, *_ in passes} == {True, False}, "forward passes in both threads"
    assert any(thread is main and grad for thread, grad, *_ in passes), "the main thread computed saliency"
    for thread, _, seen, same in passes:
        assert not any(seen), f"a forward pass in {thread.name} ran in train mode"
        assert same, f"a forward pass in {thread.name} did not give the eval model's output"
    assert not any(modes(e.model))
    assert_model_untouched(model, params, modes_before)


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


def test_rejects_a_model_that_is_not_a_module(small_set):
    with pytest.raises(TypeError, match=r"nn\.Module"):
        explorer(lambda x: x, small_set)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "methods, error",
    [
        ("saliency", TypeError),
        ([], TypeError),
        ((m for m in ["saliency"]), TypeError),
        (["saliency", "DeepLIFT"], ValueError),
    ],
    ids=["string", "empty", "generator", "unknown-name"],
)
def test_rejects_bad_methods_naming_the_valid_ones(trained_model, small_set, methods, error):
    with pytest.raises(error, match="Integrated Gradients") as info:
        explorer(trained_model, small_set, methods=methods)
    assert all(name in str(info.value) for name in EXPLORER_METHODS)
    if error is ValueError:
        assert "DeepLIFT" in str(info.value)


@pytest.mark.parametrize(
    "dataset",
    [
        [(torch.rand(28, 28), 0)],
        [(torch.rand(3, 28, 28), 0)],
        [(torch.rand(1, 1, 28, 28), 0)],
        [(Image.new("L", (28, 28)), 0)],
        torch.rand(4, 28, 28),
    ],
    ids=["no-channel", "rgb", "batched", "PIL", "bare-tensor"],
)
def test_rejects_images_that_are_not_greyscale_tensors(trained_model, dataset):
    with pytest.raises(ValueError, match="ToTensor"):
        explorer(trained_model, dataset)


@pytest.mark.parametrize(
    "dataset",
    [[], torch.utils.data.TensorDataset(torch.zeros(0, 1, 28, 28)), 5],
    ids=["empty-list", "empty-TensorDataset", "int"],
)
def test_rejects_an_empty_or_non_dataset(trained_model, dataset):
    with pytest.raises(TypeError, match="dataset"):
        explorer(trained_model, dataset)


def test_the_explorer_explains_a_snapshot_taken_when_it_is_built(trained_model, small_set):
    model = copy.deepcopy(trained_model)
    e = explorer(model, small_set, methods=["saliency"])
    before = e.render()
    with torch.no_grad():
        model.fc1.weight.zero_()  # the caller changes its model afterwards
    e.index.value = 1
    e.index.value = 0
    assert e.render() == before


@pytest.mark.parametrize("background", [torch.zeros(5, 1, 14, 14), torch.zeros(5, 28, 28)])
def test_a_background_of_the_wrong_shape_is_a_value_error(trained_model, small_set, background):
    with pytest.raises(ValueError, match=r"background images .* must have the dataset's image shape \(1, 28, 28\)"):
        explorer(trained_model, small_set, background=background)


# ---------------------------------------------------------------------------
# every panel explains the logit: LIME and SHAP like the gradient methods
# ---------------------------------------------------------------------------


def test_the_lime_panel_is_lime_map_on_the_logit(trained_model, small_set, predicted):
    e = explorer(trained_model, small_set, methods=["LIME"])
    e.reduce.value = "signed"
    e.wait()
    image, snapshot_model = small_set[0][0][None], copy.deepcopy(trained_model).eval()
    on_logit = lime_map(snapshot_model, image, predicted[0], samples=1000, score="logit").maps
    on_probability = lime_map(snapshot_model, image, predicted[0], samples=1000, score="probability").maps
    drawn = e._cache[(0, PREDICTED, "LIME", "signed")]
    assert torch.equal(drawn, on_logit), "the same seed and samples: the same map as lime_map on the logit"
    assert not torch.allclose(drawn, on_probability), "not LIME's own convention, the probability"


def test_the_shap_panel_adds_up_to_the_logit_not_the_probability(trained_model, small_set, predicted):
    background = torch.stack([x for x, _ in small_set[4:12]])
    e = explorer(trained_model, small_set, methods=["SHAP"], background=background)
    e.reduce.value = "signed"
    e.wait()
    drawn = e._cache[(0, PREDICTED, "SHAP", "signed")]
    with torch.no_grad():
        logits = trained_model(torch.cat([small_set[0][0][None], background]))[:, predicted[0]]
    assert float(drawn.sum()) == pytest.approx(float(logits[0] - logits[1:].mean()), abs=1e-3)  # local accuracy


# ---------------------------------------------------------------------------
# the pictures: colours, colour bars, the digit's outline
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("signed", [False, True], ids=["magnitude", "signed"])
def test_map_colours_are_matplotlibs_colour_maps_on_the_maps_scale(signed):
    rng = np.random.default_rng(0)
    attribution = rng.normal(size=(6, 5)) if signed else rng.random((6, 5))
    panels = widgets.draw_panels(np.zeros((6, 5)), attribution, signed=signed, alpha=0.5, scale=3)
    vmax = float(np.abs(attribution).max())
    assert panels.vmax == vmax and panels.map.shape == (18, 15, 3)
    cmap = matplotlib.colormaps[SIGNED_CMAP if signed else MAP_CMAP]
    norm = matplotlib.colors.Normalize(-vmax if signed else 0.0, vmax)
    expected = cmap(norm(attribution))[..., :3] * 255
    assert np.abs(panels.map[::3, ::3] - expected).max() <= 1, "each map pixel is an upscaled block of its colour"
    assert (panels.map[1::3, 2::3] == panels.map[::3, ::3]).all()
    grey = np.zeros((18, 15, 3))  # a black image: the overlay is the map at half opacity
    assert np.abs(panels.overlay - (0.5 * panels.map + 0.5 * grey)).max() <= 1


def test_signed_maps_are_red_where_they_raise_the_score_and_blue_where_they_lower_it():
    attribution = np.array([[1.0, 0.0, -1.0]])
    panels = widgets.draw_panels(np.zeros((1, 3)), attribution, signed=True, alpha=1.0, scale=1)
    (red, white, blue) = panels.map[0].astype(int)
    assert red[0] > 2 * red[2] and blue[2] > 2 * blue[0] and white.min() > 230


def test_the_colour_bars_name_the_maps_scale_and_label(trained_model, small_set):
    e = explorer(trained_model, small_set, methods=["saliency"])
    vmax = float(e._cache[(0, PREDICTED, "saliency", "abs")].abs().max())
    ticks = re.findall(r"<span>([^<]*)</span>", e.colour_bar.value)
    assert ticks == [f"{vmax:.3g}", f"{vmax / 2:.3g}", "0"] and "|saliency|" in e.colour_bar.value
    assert e.overlay_bar.value == e.colour_bar.value
    e.reduce.value = "signed"
    vmax = float(e._cache[(0, PREDICTED, "saliency", "signed")].abs().max())
    ticks = re.findall(r"<span>([^<]*)</span>", e.colour_bar.value)
    assert ticks == [f"{vmax:.3g}", "0", f"{-vmax:.3g}"] and "saliency (signed)" in e.colour_bar.value
    assert "overlay (map at opacity 0.6)" in e.overlay_title.value


def test_the_outline_follows_the_edge_of_the_ink_on_a_tiny_image():
    image = np.zeros((4, 5))
    image[1:3, 1:3] = 0.9  # a 2 x 2 square of ink
    image[0, 4] = 0.1  # not ink: the threshold is "more than 0.1"
    outline = widgets.ink_outline(image, scale=2)
    assert outline.shape == (8, 10)
    inner = np.zeros((8, 10), dtype=bool)
    inner[2:6, 2:6] = True
    inner[3:5, 3:5] = False  # the square's 4 x 4 upscaled block, less its inside
    outer = np.zeros((8, 10), dtype=bool)
    outer[1, 2:6] = outer[6, 2:6] = outer[2:6, 1] = outer[2:6, 6] = True  # side by side with the block, not corners
    np.testing.assert_array_equal(outline == 1, inner)
    np.testing.assert_array_equal(outline == 2, outer)
    image[0, 4] = 0.11
    assert widgets.ink_outline(image, scale=2)[0:2, 8:10].all(), "a lone ink pixel is all edge at scale 2"


def test_the_outline_is_drawn_on_map_and_overlay_not_on_the_input():
    image = np.zeros((4, 4))
    image[1:3, 1:3] = 1.0
    panels = widgets.draw_panels(image, np.full((4, 4), 0.5), signed=False, alpha=0.6, scale=3)
    outline = widgets.ink_outline(image, scale=3)
    dark, light = widgets.OUTLINE_RGB
    for picture in (panels.map, panels.overlay):
        assert (picture[outline == 1] == dark).all() and (picture[outline == 2] == light).all()
    assert (panels.map[outline == 0] == panels.map[0, 0]).all(), "elsewhere, the map's own colour"
    assert not (panels.input[outline == 1] == dark).all(axis=1).any(), "the input panel shows the digit as it is"


def test_the_explorers_map_panel_carries_the_digits_outline(trained_model, small_set):
    e = explorer(trained_model, small_set, methods=["saliency"])
    e.index.value = 3
    outline = widgets.ink_outline(small_set[3][0][0].numpy(), scale=widgets.PANEL_PIXELS // 28)
    dark, light = widgets.OUTLINE_RGB
    for panel in (e.map_panel, e.overlay_panel):
        drawn = pixels(bytes(panel.value))
        assert drawn.shape == (widgets.PANEL_PIXELS, widgets.PANEL_PIXELS, 3)
        assert (drawn[outline == 1] == dark).all() and (drawn[outline == 2] == light).all()
    assert outline.any()


def test_a_map_that_cannot_be_drawn_is_an_error_in_the_status_line(monkeypatch, trained_model, small_set):
    install(monkeypatch, "nan", Fake(), slow=False)
    monkeypatch.setattr(Fake, "__call__", lambda self, m, x, c, r, bg: torch.full_like(x, float("nan")))
    e = explorer(trained_model, small_set, methods=["nan"])
    assert e.status.value.startswith("<b>nan failed:</b> ValueError: the map holds NaN")


# ---------------------------------------------------------------------------
# the model's device
# ---------------------------------------------------------------------------


class OnMeta(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(3, device="meta"))


def test_the_device_is_read_from_the_model():
    assert widgets._model_device(nn.Linear(2, 2)) == torch.device("cpu")
    assert widgets._model_device(OnMeta()) == torch.device("meta"), "wherever its parameters are"
    assert widgets._model_device(nn.Flatten()) == torch.device("cpu"), "no parameters: the CPU"
    batch_norm = nn.BatchNorm2d(1, affine=False).to("meta")
    assert widgets._model_device(batch_norm) == torch.device("meta"), "buffers only: theirs"


def test_inputs_go_to_the_models_device_and_maps_come_back_detached_on_the_cpu(monkeypatch, trained_model, small_set):
    calls = []

    def method(model, image, target, reduce, background):
        calls.append((image.device, background.device, widgets._model_device(model)))
        return (image * 2).requires_grad_()  # a map still attached to a graph

    monkeypatch.setitem(EXPLORER_METHODS, "probe", ExplorerMethod(method, slow=False))
    e = explorer(trained_model, small_set, methods=["probe"])
    assert e.device == widgets._model_device(e.model) == torch.device("cpu")
    assert calls == [(e.device, e.device, e.device)]
    cached = e._cache[(0, PREDICTED, "probe", "abs")]
    assert cached.device == torch.device("cpu") and not cached.requires_grad


def test_no_numpy_conversion_skips_the_cpu():
    """Drawing needs NumPy: every ``.numpy()`` in the module follows ``.cpu()`` (a CUDA tensor has no ``.numpy()``)."""
    source = Path(widgets.__file__).read_text()
    conversions = re.findall(r"(\.\w+\(\)(?:\.\w+\(\))*)\.numpy\(\)", source)
    assert conversions and all(".cpu()" in chain for chain in conversions), conversions


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_cuda_model_is_explained_on_its_device_and_drawn(trained_model, small_set):
    model = copy.deepcopy(trained_model).cuda()
    background = torch.stack([x for x, _ in small_set[4:12]])
    e = explorer(model, small_set, methods=list(EXPLORER_METHODS), background=background)
    assert e.device.type == "cuda" and next(model.parameters()).device.type == "cuda", "the caller's model stays"
    for name in EXPLORER_METHODS:
        e.method.value = name
        e.wait()
        assert "failed" not in e.status.value and f"{name}, image 0" in e.status.value, e.status.value
        cached = e._cache[(0, PREDICTED, name, "abs")]
        with torch.no_grad():
            target = int(trained_model(small_set[0][0][None]).argmax())
        expected = EXPLORER_METHODS[name].explain(
            copy.deepcopy(trained_model).eval(), small_set[0][0][None], target, "abs", background
        )
        assert cached.device.type == "cpu"
        assert torch.allclose(cached, expected, atol=1e-4, rtol=1e-3), name


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: widgets.ink_outline(cast(Any, torch.zeros(4, 4)), 2),
            TypeError,
            r"image must be a 2-D NumPy array .*x\[0, 0\]",
        ),
        (lambda: widgets.ink_outline(np.zeros((1, 4, 4)), 2), TypeError, "image must be a 2-D NumPy array"),
        (lambda: widgets.ink_outline(np.zeros((4, 4)), 0), ValueError, "scale"),
        (lambda: widgets.ink_outline(np.zeros((4, 4)), 2, threshold=cast(Any, "0.1")), TypeError, "threshold"),
        (
            lambda: widgets.draw_panels(np.zeros((4, 4)), np.zeros((4, 5)), signed=False, alpha=0.5, scale=2),
            ValueError,
            "same shape",
        ),
        (
            lambda: widgets.draw_panels(np.zeros((4, 4)), np.zeros((4, 4)), signed=False, alpha=1.5, scale=2),
            ValueError,
            r"alpha .* \[0, 1\]",
        ),
    ],
    ids=["tensor", "3-D", "scale-0", "threshold-str", "shapes", "alpha"],
)
def test_the_drawing_functions_reject_bad_arguments_naming_them(call, error, message):
    with pytest.raises(error, match=message):
        call()
