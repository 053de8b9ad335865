"""pytest set-up for the docstring examples of helpers/ (``pytest helpers --doctest-modules``).

Each example runs as a learner would run it in a fresh notebook, and leaves no trace: the global
``random``, NumPy and torch (CPU) generators are seeded with 0 and restored afterwards,
matplotlib's settings are restored and its figures closed. Figures are drawn off screen with
Agg, set here in this process only: ``MPLBACKEND=Agg`` in the environment would reach nbval's
notebook kernels too, and their figures would vanish from the outputs compared.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import matplotlib
import numpy as np
import pytest
import torch
from _pytest.doctest import DoctestItem

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _isolated_doctest(request: pytest.FixtureRequest) -> Iterator[None]:
    """Seeded, restored random state and matplotlib settings around each doctest; nothing for other tests."""
    if not isinstance(request.node, DoctestItem):
        yield
        return
    import matplotlib.pyplot as plt

    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[]), matplotlib.rc_context():
            random.seed(0)
            np.random.seed(0)
            torch.default_generator.manual_seed(0)
            yield
            plt.close("all")
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
