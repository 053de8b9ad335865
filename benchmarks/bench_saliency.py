"""Benchmark of helpers.explain.saliency on the CPU: the first 1,000 MNIST test images, trained SimpleCNN.

Run it with ``make bench`` or ``.venv/bin/python benchmarks/bench_saliency.py``
(``--help`` lists the options). Speed is measured here, never in timed tests: the
unit tests (tests/test_saliency.py) check correctness only.

Four ways to compute the vanilla saliency map |dS_c/dx| of the predicted class c:

- ``helpers.explain.saliency``: the course helper, one forward and one backward pass per batch;
- a bare forward + backward on the batch (what the helper should cost, plus nothing);
- Captum's ``Saliency(model).attribute(x, target=pred, abs=True)``;
- the classic one-conv MNIST example's loop, one forward and one backward pass per image.

Each is timed with ``time.perf_counter`` after a warm-up; the methods are run in turn
within each repeat, so that a slow spell of the machine hits all of them alike, and
the median of the repeats is reported. The ratios are printed against their targets:

- helpers / bare forward+backward <= 1.10 (within 10 %);
- helpers / Captum <= 1.0 (no slower);
- classic loop / helpers >= 2.0 (helpers at least twice as fast).

The script always exits 0 unless ``--strict`` is given, in which case a MISS exits 1.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable

import torch
from torch import nn

from helpers.course.data import mnist
from helpers.course.models import load_pretrained
from helpers.explain.saliency import saliency


def first_test_images(n: int) -> torch.Tensor:
    """The first ``n`` MNIST test images, ``(n, 1, 28, 28)`` in [0, 1]."""
    dataset = mnist(train=False)
    return torch.stack([dataset[i][0] for i in range(n)])


def bare(model: nn.Module, x: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """A plain forward + backward of the summed target logits."""
    x = x.detach().clone()
    x.requires_grad_()
    out = model(x)
    out.gather(1, pred[:, None]).sum().backward()
    assert x.grad is not None  # backward() has filled it
    return x.grad.abs()


def captum(model: nn.Module, x: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    from captum.attr import Saliency

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Input Tensor 0 did not already require gradients..."
        return Saliency(model).attribute(x, target=pred, abs=True)


def classic_loop(model: nn.Module, x: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """The classic example's per-image loop: one forward and one backward pass per image."""
    maps = []
    for img in x:
        x_i = img.unsqueeze(0).requires_grad_()
        out = model(x_i)
        out[0, out.argmax(1).item()].backward()
        maps.append(x_i.grad.abs())
    return torch.cat(maps)


def helper(model: nn.Module, x: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    return saliency(model, x)  # target=None: the predicted class, found in the same forward pass


def time_methods(
    methods: dict[str, Callable[[], torch.Tensor]], model: nn.Module, repeats: int, warmup: int
) -> dict[str, list[float]]:
    """Seconds per call of each method, ``repeats`` times each, the methods taking turns."""
    times: dict[str, list[float]] = {name: [] for name in methods}
    for run in range(warmup + repeats):
        for name, method in methods.items():
            model.zero_grad(set_to_none=True)  # the bare and classic recipes accumulate parameter grads
            start = time.perf_counter()
            method()
            elapsed = time.perf_counter() - start
            if run >= warmup:
                times[name].append(elapsed)
    model.zero_grad(set_to_none=True)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000, help="first N MNIST test images (default 1000)")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per method (default 7)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed warm-up runs per method (default 1)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a ratio misses its target")
    args = parser.parse_args(argv)

    model = load_pretrained()  # eval mode, CPU
    x = first_test_images(args.images)
    with torch.no_grad():
        pred = model(x).argmax(1)

    methods = {
        "helpers.explain.saliency": lambda: helper(model, x, pred),
        "bare forward+backward": lambda: bare(model, x, pred),
        "captum Saliency": lambda: captum(model, x, pred),
        "classic per-image loop": lambda: classic_loop(model, x, pred),
    }

    # All four compute the same map; check it before timing anything.
    reference = methods["helpers.explain.saliency"]()
    agreement = {name: (method() - reference).abs().max().item() for name, method in methods.items()}
    model.zero_grad(set_to_none=True)

    print(
        f"saliency benchmark: {args.images} MNIST test images {tuple(x.shape)}, trained SimpleCNN, CPU, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads "
        f"(interop {torch.get_num_interop_threads()}); {args.warmup} warm-up + {args.repeats} repeats, median"
    )
    times = time_methods(methods, model, args.repeats, args.warmup)
    median = {name: statistics.median(values) for name, values in times.items()}

    print()
    print(f"{'method':<24}{'median ms':>11}{'min ms':>9}{'max ms':>9}{'us/image':>10}{'max |diff|':>12}")
    for name, values in times.items():
        print(
            f"{name:<24}{median[name] * 1e3:>11.2f}{min(values) * 1e3:>9.2f}{max(values) * 1e3:>9.2f}"
            f"{median[name] / args.images * 1e6:>10.1f}{agreement[name]:>12.1e}"
        )

    helpers_time = median["helpers.explain.saliency"]
    checks = [
        ("helpers / bare forward+backward", helpers_time / median["bare forward+backward"], "<=", 1.10),
        ("helpers / captum Saliency", helpers_time / median["captum Saliency"], "<=", 1.0),
        ("classic loop / helpers (speed-up)", median["classic per-image loop"] / helpers_time, ">=", 2.0),
    ]
    print()
    print(f"{'ratio':<34}{'value':>8}  {'target':<9}result")
    missed = False
    for label, value, op, bound in checks:
        ok = value <= bound if op == "<=" else value >= bound
        missed |= not ok
        print(f"{label:<34}{value:>8.3f}  {op} {bound:<6.2f}{'PASS' if ok else 'MISS'}")
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
