"""Notebook set-up: check the installed packages against the project's pins, seed everything, apply the figure style."""

from __future__ import annotations

import os
import random
import warnings
from importlib import metadata

import matplotlib as mpl
import numpy as np
import torch
from packaging.requirements import Requirement

from helpers.course.plotting import COURSE_STYLE

DISTRIBUTION = "explaining-image-classifiers"
"""The name under which ``pip install -e .`` installs this course (see ``pyproject.toml``)."""

PINS_VARIABLE = "HELPERS_PINS"
PINS_MODES = ("warn", "error", "off")
"""What :func:`setup` does with packages outside the pins: warn (the default), raise, or not check."""


def environment_problems(distribution: str = DISTRIBUTION) -> list[str]:
    """Each installed dependency of ``distribution`` outside its pinned range, or missing, as a sentence.

    What :func:`setup` checks in the first cell of notebooks 01 to 10.

    Examples::

        >>> from helpers import environment_problems
        >>> problems = environment_problems()  # [] in the environment `make lab` installs; newer releases are listed
        >>> environment_problems("not-a-course")
        ['the course itself (not-a-course) is not installed: run `make lab`, or `pip install -e .`']
    """
    try:
        requirements = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return [f"the course itself ({distribution}) is not installed: run `make lab`, or `pip install -e .`"]
    problems = []
    for line in requirements:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        try:
            version = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            problems.append(f"{requirement.name} is not installed (needs {requirement.specifier or 'any version'})")
            continue
        if not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement.name} {version} is installed, the course needs {requirement.specifier}")
    return problems


def setup(*, seed: int = 0) -> None:
    """Start a notebook: check the environment, seed ``random``, NumPy and PyTorch, apply the course style.

    Packages outside the course's pins get one ``UserWarning`` that names each difference and the
    fix. The environment variable ``HELPERS_PINS`` changes that: ``warn`` (the default), ``error``
    (raise ``RuntimeError`` instead; ``make test`` sets it) or ``off`` (no check; nox's ``newest``
    session sets it). Any other value is a ``ValueError``. The style is :data:`~helpers.COURSE_STYLE`:
    every text at least 11 pt at 100 % zoom (96 dpi), figures a notebook column wide (960 px) unless
    given a size, constrained layout, square pixels. The first code cell of notebooks 01 to 10 calls it.

    Examples::

        >>> import torch
        >>> from helpers import setup
        >>> setup(seed=0)
        >>> first = torch.rand(3)
        >>> setup(seed=0)
        >>> torch.equal(torch.rand(3), first)  # the same seed, the same random numbers
        True
        >>> import matplotlib as mpl
        >>> mpl.rcParams["font.size"], mpl.rcParams["figure.dpi"]
        (12.0, 96.0)
    """
    mode = os.environ.get(PINS_VARIABLE) or "warn"  # unset or empty: the default
    if mode not in PINS_MODES:
        raise ValueError(f"{PINS_VARIABLE}={mode!r} is not one of {', '.join(PINS_MODES)}")
    problems = environment_problems() if mode != "off" else []
    if problems:
        message = (
            "this environment does not match the course's pins:\n  - "
            + "\n  - ".join(problems)
            + "\nRun `make lab` from the repository root (it installs into .venv), "
            "or `pip install -e .` in your own environment."
        )
        if mode == "error":
            raise RuntimeError(message)
        warnings.warn(message + f"\n(Set {PINS_VARIABLE}=off to silence this check.)", UserWarning, stacklevel=2)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    mpl.rcParams.update(COURSE_STYLE)
