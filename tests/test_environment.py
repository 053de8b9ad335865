"""helpers.course.environment: the notebooks' set-up cell."""

import random

import numpy as np
import pytest
import torch

from helpers.course import environment


def test_installed_environment_matches_the_pins():
    assert environment.environment_problems() == []


def test_setup_seeds_every_generator():
    environment.setup(seed=5)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    environment.setup(seed=5)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def test_mismatches_are_reported_with_the_fix(monkeypatch):
    monkeypatch.setattr(environment.metadata, "requires", lambda name: ["torch<1", "no-such-package-xyz>=1"])
    problems = environment.environment_problems()
    assert any(p.startswith("torch ") and "<1" in p for p in problems)
    assert any("no-such-package-xyz is not installed" in p for p in problems)
    with pytest.raises(RuntimeError, match="make lab"):
        environment.setup()


def test_a_missing_course_install_is_reported():
    assert "make lab" in environment.environment_problems("no-such-distribution-xyz")[0]
