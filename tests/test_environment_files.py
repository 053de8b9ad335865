"""pyproject.toml, environment.yml, Makefile, .ci/run and README stay in step with each other."""

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PYPI = {"pytorch": "torch", "playwright-python": "playwright"}
"""conda-forge names that differ from the PyPI names."""


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def environment():
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def pip_requirements() -> dict[str, SpecifierSet]:
    project = pyproject()["project"]
    lines = project["dependencies"] + project["optional-dependencies"]["test"]
    return {Requirement(line).name.lower(): Requirement(line).specifier for line in lines}


def conda_requirements() -> dict[str, SpecifierSet]:
    found = {}
    for entry in environment()["dependencies"]:
        if not isinstance(entry, str):
            continue
        name, _, spec = entry.partition(" ")
        if name in ("python", "pip") or name.startswith("python="):
            continue
        found[CONDA_TO_PYPI.get(name, name).lower()] = SpecifierSet(spec.replace(" ", ""))
    return found


def test_same_packages_and_ranges_in_pyproject_and_environment_yml():
    assert conda_requirements() == pip_requirements()


def test_environment_yml_uses_conda_forge_only_and_installs_the_project_editable():
    env = environment()
    assert env["channels"] == ["conda-forge"]
    pip_sections = [entry["pip"] for entry in env["dependencies"] if isinstance(entry, dict)]
    assert pip_sections == [['-e ".[test]"']] or pip_sections == [["-e .[test]"]]


def test_python_version_agrees():
    python = next(d for d in environment()["dependencies"] if isinstance(d, str) and d.startswith("python="))
    version = python.split("=", 1)[1]
    assert SpecifierSet(pyproject()["project"]["requires-python"]).contains(version)


def test_every_pin_has_a_lower_bound():
    for name, specifier in pip_requirements().items():
        assert any(spec.operator in (">=", "==", "~=") for spec in specifier), f"{name} has no lower bound"


def test_makefile_installs_the_test_extra_editable_and_runs_nbval():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install -e '.[test]'" in makefile
    assert re.search(r"^test:.*\n\t.*pytest tests notebooks \$\(NBVAL\)", makefile, re.M)
    assert "--nbval " in makefile and "--nbval-lax" not in makefile


def test_ci_runs_the_readmes_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert readme.index("make lab") < readme.index("conda env create")
    assert "make test" in readme


def test_readme_lists_every_notebook():
    readme = (ROOT / "README.md").read_text()
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert notebook.name in readme, f"README does not list {notebook.name}"


def test_ci_installs_chromium_before_make_test_so_the_browser_test_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "apt-get install" in ci and "chromium chromium-driver" in ci
    assert ci.index("chromium-driver") < ci.rindex("make test")


def test_makefile_builds_the_html_edition():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^html: .*\n\t.*scripts/build_html\.py", makefile, re.MULTILINE)
