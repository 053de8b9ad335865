"""helpers.course.environment: the notebooks' set-up cell."""

import os
import random
import warnings
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
import pytest
import torch
from matplotlib.font_manager import FontProperties

from helpers.course import environment
from helpers.course.plotting import COLUMN_WIDTH, COURSE_STYLE, FIGURE_DPI

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType


@pytest.mark.skipif(
    os.environ.get("HELPERS_PINS") == "off", reason="HELPERS_PINS=off: differences are intended (nox -s newest)"
)
def test_installed_environment_matches_the_pins():
    assert environment.environment_problems() == []


def test_setup_seeds_every_generator():
    environment.setup(seed=5)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    environment.setup(seed=5)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def broken_pins(monkeypatch):
    """Pins that the installed packages cannot meet: torch too new, one package missing."""
    monkeypatch.setattr(environment.metadata, "requires", lambda name: ["torch<1", "no-such-package-xyz>=1"])


def test_mismatches_are_reported_with_the_fix(monkeypatch):
    broken_pins(monkeypatch)
    problems = environment.environment_problems()
    assert any(p.startswith("torch ") and "<1" in p for p in problems)
    assert any("no-such-package-xyz is not installed" in p for p in problems)


@pytest.mark.parametrize("value", [None, "", "warn"])
def test_by_default_mismatches_give_one_warning_naming_each_and_the_fix_and_setup_still_runs(monkeypatch, value):
    broken_pins(monkeypatch)
    if value is None:
        monkeypatch.delenv("HELPERS_PINS", raising=False)
    else:
        monkeypatch.setenv("HELPERS_PINS", value)
    with pytest.warns(UserWarning, match="does not match the course's pins") as caught:
        environment.setup(seed=5)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "torch " in message and "no-such-package-xyz" in message
    assert "make lab" in message and "pip install -e ." in message and "HELPERS_PINS=off" in message
    assert caught[0].filename == __file__  # points at the caller, i.e. the notebook's set-up cell
    seeded = (random.random(), np.random.rand(), torch.rand(1).item())
    monkeypatch.setenv("HELPERS_PINS", "off")
    environment.setup(seed=5)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == seeded


def test_helpers_pins_error_raises_with_the_fix(monkeypatch):
    broken_pins(monkeypatch)
    monkeypatch.setenv("HELPERS_PINS", "error")
    with pytest.raises(RuntimeError, match="make lab") as raised:
        environment.setup()
    assert "torch " in str(raised.value) and "no-such-package-xyz" in str(raised.value)


def test_helpers_pins_off_skips_the_check_and_still_seeds(monkeypatch):
    broken_pins(monkeypatch)
    monkeypatch.setattr(environment, "environment_problems", lambda: pytest.fail("the check ran"))
    monkeypatch.setenv("HELPERS_PINS", "off")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        environment.setup(seed=5)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    environment.setup(seed=5)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


@pytest.mark.parametrize("value", ["strict", "ERROR", "0"])
def test_an_unknown_helpers_pins_value_names_the_allowed_ones(monkeypatch, value):
    monkeypatch.setenv("HELPERS_PINS", value)
    with pytest.raises(ValueError, match=r"HELPERS_PINS.*warn, error, off"):
        environment.setup()


def test_a_missing_course_install_is_reported():
    assert "make lab" in environment.environment_problems("no-such-distribution-xyz")[0]


FONT_SIZES: "list[RcKeyType]" = [
    "font.size",
    "axes.titlesize",
    "axes.labelsize",
    "xtick.labelsize",
    "ytick.labelsize",
    "legend.fontsize",
    "legend.title_fontsize",
    "figure.titlesize",
    "figure.labelsize",
]
"""Every rcParam that sets the size of a text (checked against matplotlib's own list below)."""


def test_the_font_size_list_is_matplotlibs():
    sizes = {key for key in mpl.rcParams if key.endswith("size") and any(w in key for w in ("font", "label", "title"))}
    assert sizes == set(FONT_SIZES)


def test_setup_applies_the_course_style(monkeypatch):
    monkeypatch.setenv("HELPERS_PINS", "off")
    with mpl.rc_context():
        mpl.rcdefaults()
        environment.setup()
        for key in FONT_SIZES:  # "large", "medium" and the like resolved against font.size
            points = FontProperties(size=mpl.rcParams[key]).get_size_in_points()
            assert points >= 11, f"{key} is {points} pt"
        assert mpl.rcParams["figure.dpi"] == mpl.rcParams["savefig.dpi"] == FIGURE_DPI == 96
        assert mpl.rcParams["figure.figsize"][0] * FIGURE_DPI == COLUMN_WIDTH * 96 == 960
        assert mpl.rcParams["figure.constrained_layout.use"]
        assert mpl.rcParams["image.interpolation"] == "nearest"
        assert all(
            mpl.rcParams[key] == value or list(mpl.rcParams[key]) == list(value) for key, value in COURSE_STYLE.items()
        )
