"""Test the course on several Pythons, and against the newest releases of its dependencies.

    nox                 # = nox -s tests-3.11: `make test` in .nox/, on the Python `make test` uses
    nox -s tests        # the pinned set on Python 3.11, 3.12 and 3.13 (missing interpreters are skipped)
    nox -s newest       # newest release of every dependency within its major, on the newest Python here
    nox -s newest -- -x # anything after `--` goes to pytest

Environments live in .nox/ (git-ignored); `nox -R` reuses them without reinstalling.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import nox
import nox.command
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent
PYTHONS = ["3.11", "3.12", "3.13"]
PINNED_PYTHON = "3.11"
"""The Python that `make test` and CI use (environment.yml says the same)."""
KEY_PACKAGES = [
    "torch",
    "torchvision",
    "numpy",
    "scipy",
    "matplotlib",
    "scikit-image",
    "scikit-learn",
    "lime",
    "shap",
    "numba",
    "captum",
    "jupyterlab",
    "ipykernel",
    "ipywidgets",
    "nbval",
    "pytest",
]
"""Printed by `newest` before its tests, so a failure can be read against the versions."""
UNINSTALLABLE = ("ResolutionImpossible", "No matching distribution found", "Failed to build")
"""pip's words for "this set of packages does not exist, or does not build, on this Python"."""

nox.options.sessions = [f"tests-{PINNED_PYTHON}"]
nox.options.error_on_missing_interpreters = False  # also under CI=true, where nox would otherwise fail


def _add_pyenv_interpreters() -> None:
    """Put pyenv's interpreters (newest patch of each version) first on PATH.

    pyenv's shims for versions not selected by `pyenv global` exist but fail, so nox would
    find a `python3.12` that cannot run; the interpreters themselves live in versions/*/bin.
    """
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found: dict[str, list[tuple[Version, str]]] = {}
    for directory in (root / "versions").glob("3.*"):
        try:
            version = Version(directory.name)
        except InvalidVersion:  # 3.13-dev, 3.13.0t and the like
            continue
        minor = f"{version.major}.{version.minor}"
        if minor in PYTHONS and (directory / "bin" / f"python{minor}").is_file():
            found.setdefault(minor, []).append((version, str(directory / "bin")))
    newest_patch = [max(candidates)[1] for candidates in found.values()]
    if newest_patch:
        os.environ["PATH"] = os.pathsep.join([*newest_patch, os.environ.get("PATH", "")])


def _runs(python: str) -> bool:
    executable = shutil.which(f"python{python}")
    return executable is not None and subprocess.run([executable, "-c", ""], capture_output=True).returncode == 0


_add_pyenv_interpreters()
NEWEST_PYTHON = next((python for python in ("3.13", "3.12") if _runs(python)), "3.13")
"""3.13, else 3.12; if neither runs here, 3.13, which nox then skips as missing."""


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _make_test_command() -> list[str]:
    """`make test`'s pytest command, read from the Makefile's `test:` recipe so the two cannot drift."""
    makefile = (ROOT / "Makefile").read_text()
    nbval = re.search(r"^NBVAL\s*:=\s*(.+)$", makefile, re.MULTILINE)
    recipe = re.search(r"^test:.*\n(?:\t.*\n)*?\t.*?-m pytest (.+)$", makefile, re.MULTILINE)
    if nbval is None or recipe is None:
        raise RuntimeError("noxfile.py: no `NBVAL := ...` line or `test:` pytest recipe in the Makefile")
    return ["python", "-m", "pytest", *recipe.group(1).replace("$(NBVAL)", nbval.group(1)).split()]


def within_major(line: str) -> str:
    """A requirement with its upper bound raised to the next major: the newest release within the major.

    ``shap>=0.51,<0.52`` gives ``shap<1,>=0.51`` (0.x counts as major 0) and ``scikit-learn>=1.9,<1.10``
    gives ``scikit-learn<2,>=1.9``; a bound that is already a whole major (``numpy<3``) and a
    missing one (``packaging>=24``) stay. Lower bounds stay, so nothing older than the pins is tried.
    """
    requirement = Requirement(line)
    specifiers = []
    for spec in requirement.specifier:
        upper = Version(spec.version)
        if spec.operator == "<" and any(upper.release[1:]):
            specifiers.append(f"<{upper.major + 1}")
        else:
            specifiers.append(str(spec))
    requirement.specifier = SpecifierSet(",".join(specifiers))
    return str(requirement)


def _pip_install(session: nox.Session, *args: str) -> None:
    """pip install into the session; skip the session (not fail) when the set cannot exist on this Python."""
    log = Path(session.create_tmp()) / "pip-install.log"
    log.unlink(missing_ok=True)
    try:
        session.install("--log", str(log), *args)
    except nox.command.CommandFailed:
        lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
        reasons = sorted(
            {
                line.split("ERROR: ")[-1].strip()
                for line in lines
                if "ERROR" in line and any(word in line for word in UNINSTALLABLE)
            }
        )
        if reasons:
            session.skip(
                f"the requirements cannot be installed here on Python {session.python}: " + " / ".join(reasons[:3])
            )
        raise


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The pinned set on one Python: `make test`, with HELPERS_PINS=error."""
    _pip_install(session, "-e", ".[test]")
    session.run(*_make_test_command(), *session.posargs, env={"HELPERS_PINS": "error"})


@nox.session(python=NEWEST_PYTHON)
def newest(session: nox.Session) -> None:
    """The newest release of every dependency within its major (torch stays capped by pip's config)."""
    project = _pyproject()["project"]
    requirements = [within_major(line) for line in project["dependencies"] + project["optional-dependencies"]["test"]]
    session.log("requirements: " + "  ".join(requirements))
    _pip_install(session, "--upgrade", "--upgrade-strategy", "eager", *requirements)
    _pip_install(session, "--no-deps", "-e", ".")  # the course without its pins, which would pull the versions back
    freeze = session.run("python", "-m", "pip", "freeze", silent=True) or ""
    wanted = {name.lower() for name in KEY_PACKAGES}
    versions = [
        line for line in freeze.splitlines() if re.split(r"[=\s@]", line)[0].lower().replace("_", "-") in wanted
    ]
    print("installed versions:\n  " + "\n  ".join(versions), flush=True)
    session.run(*_make_test_command(), *session.posargs, env={"HELPERS_PINS": "off"})
