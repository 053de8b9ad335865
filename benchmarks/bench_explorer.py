"""Benchmark of the explorer's saliency redraw in the kernel: the old matplotlib figure vs NumPy panels.

Run it with ``.venv/bin/python benchmarks/bench_explorer.py`` (``--help`` lists the options).
Speed is measured here and in the browser test (tests/test_browser.py, which times slider to
picture in Chromium), never in timed unit tests.

Both sides compute the same saliency map for a new test image, then draw it:

- ``old``: what the explorer did before issue 16, a 14 x 3.4 inch matplotlib figure (input |
  map | overlay with colour bars, the probability bars) rendered to PNG by Agg;
- ``new``: :meth:`Explorer._draw` as it is: three NumPy panels (colour-map lookup, upscaled,
  outlined) encoded as PNG at compression level 1, and the HTML of the title, colour bar and
  probability chart.

Each is timed with ``time.perf_counter``, alternating within each repeat, and the medians and
their ratio are printed. Always exits 0.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import matplotlib

matplotlib.use("Agg")

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from helpers.course.data import mnist
from helpers.course.models import load_pretrained
from helpers.course.plotting import draw_explanation
from helpers.course.widgets import PREDICTED, explorer
from helpers.explain.saliency import saliency


def old_redraw(model: torch.nn.Module, image: torch.Tensor) -> bytes:
    """The pre-issue-16 redraw: the map, then the whole figure through matplotlib to PNG."""
    with torch.no_grad():
        probabilities = model(image[None]).softmax(dim=1)[0].numpy()
    attribution = saliency(model, image[None], int(probabilities.argmax()), reduce="abs")
    figure = Figure(figsize=(14, 3.4), layout="constrained")
    axes = figure.subplots(1, 4, width_ratios=[1, 1, 1, 1.3])
    draw_explanation(figure, axes[:3], image, attribution[0], map_label="|saliency|", alpha=0.6)
    bars = axes[3].bar(range(10), probabilities, color="lightgrey")
    bars[int(probabilities.argmax())].set_color("tab:blue")
    axes[3].set(ylim=(0, 1), xlabel="class", ylabel="probability", title="predicted")
    figure.suptitle("Test image: saliency")
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="redraws of each kind (default 20)")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    model, test_set = load_pretrained().eval(), mnist(train=False)
    e = explorer(model, test_set, methods=["saliency"])
    old_times, new_times = [], []
    for repeat in range(args.repeats + 2):  # the first two warm up
        index = 100 + repeat
        start = time.perf_counter()
        old_redraw(model, test_set[index][0])
        old = time.perf_counter() - start
        e._generation += 1
        start = time.perf_counter()
        e._draw(e._generation, (index, PREDICTED, "saliency", "abs"))  # a new image: the map is computed too
        new = time.perf_counter() - start
        if repeat >= 2:
            old_times.append(old)
            new_times.append(new)
    old_ms, new_ms = 1000 * statistics.median(old_times), 1000 * statistics.median(new_times)
    print(f"saliency redraw in the kernel, median of {args.repeats} ({torch.get_num_threads()} threads):")
    print(f"  old (matplotlib figure to PNG): {old_ms:7.1f} ms")
    print(f"  new (NumPy panels + HTML):      {new_ms:7.1f} ms")
    print(f"  old / new: {old_ms / new_ms:.1f}x")


if __name__ == "__main__":
    main()
