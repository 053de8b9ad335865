"""noxfile.py: the `newest` session's ranges, and its agreement with the Makefile, environment.yml and CI."""

import importlib.util
import os
import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("nox", reason="nox is in the test extra: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def noxfile():
    """noxfile.py as a module; it puts pyenv's interpreters on PATH, so PATH is restored afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", os.environ.get("PATH", ""))
        spec = importlib.util.spec_from_file_location("noxfile_under_test", ROOT / "noxfile.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module


@pytest.mark.parametrize(
    ("pinned", "newest"),
    [
        ("numpy>=2.0,<3", "numpy<3,>=2.0"),
        ("shap>=0.51,<0.52", "shap<1,>=0.51"),
        ("scikit-learn>=1.9,<1.10", "scikit-learn<2,>=1.9"),
        ("torch>=2.14,<2.15", "torch<3,>=2.14"),
        ("lime>=0.2.0.1,<0.3", "lime<1,>=0.2.0.1"),
        ("pytest>=8,<10", "pytest<10,>=8"),
        ("packaging>=24", "packaging>=24"),
    ],
)
def test_newest_allows_every_release_within_the_major(noxfile, pinned, newest):
    assert noxfile.within_major(pinned) == newest


def test_every_pin_widens_without_losing_its_lower_bound(noxfile):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for line in project["dependencies"] + project["optional-dependencies"]["test"]:
        widened = noxfile.within_major(line)
        lower = [part for part in line.split(",") if ">=" in part]
        assert all(part.split(">=")[1] in widened for part in lower), (line, widened)


def test_default_session_is_make_tests_python(noxfile):
    python = next(
        d
        for d in yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
        if isinstance(d, str) and d.startswith("python=")
    )
    assert python.split("=", 1)[1] == noxfile.PINNED_PYTHON
    assert noxfile.nox.options.sessions == [f"tests-{noxfile.PINNED_PYTHON}"]
    assert noxfile.nox.options.error_on_missing_interpreters is False


def test_sessions_run_make_tests_pytest_command(noxfile):
    makefile = (ROOT / "Makefile").read_text()
    nbval = re.search(r"^NBVAL := (.+)$", makefile, re.MULTILINE)
    line = re.search(r"^\tHELPERS_PINS=error \$\(BIN\)/python -m pytest (tests notebooks .+)$", makefile, re.MULTILINE)
    assert nbval is not None and line is not None
    command = noxfile._make_test_command()
    assert command == ["python", "-m", "pytest", *line.group(1).replace("$(NBVAL)", nbval.group(1)).split()]
    assert "--doctest-modules" in command and "notebooks" in command and "--nbval" in command


def test_make_test_unit_and_notebooks_fail_on_differences_from_the_pins():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("test", "unit", "notebooks"):
        recipe = re.search(rf"^{target}: .*\n\t(.*)", makefile, re.MULTILINE)
        assert recipe is not None, target
        assert recipe.group(1).startswith("HELPERS_PINS=error "), target


def test_ci_runs_newest_after_make_test():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "nox -s newest" in ci
    assert ci.rindex("make test") < ci.index("nox -s newest")
