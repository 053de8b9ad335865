"""Notebook hygiene, as nbdev's CI checks it: clean, executed top to bottom, teaching structure.

nbval (make test) re-executes the notebooks and compares outputs; these tests check what
nbval does not: how the stored file was made and what it must contain.
"""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
MACHINE_PATH = re.compile(r"((?<![\w.:/])/(?:[\w.-]+/){2,}[\w.-]*|site-packages|\.venv/)")
REQUIRED_HEADINGS = ("what you will learn", "prerequisites", "time", "exercises", "solution", "summary", "references")


def output_text(output: dict) -> str:
    parts = [output.get("text", "")] + [v for k, v in output.get("data", {}).items() if k.startswith("text/")]
    return "\n".join("".join(p) if isinstance(p, list) else str(p) for p in parts)


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def notebook(request):
    return request.param, json.loads(request.param.read_text())


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 2


def test_name_and_kernel(notebook):
    path, nb = notebook
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_executed_once_top_to_bottom(notebook):
    _, nb = notebook
    counts = [c["execution_count"] for c in code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), "re-run the notebook in a fresh kernel: make execute"


def test_no_errors_warnings_or_machine_paths(notebook):
    _, nb = notebook
    for index, cell in enumerate(nb["cells"]):
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"cell {index} stores an error"
            assert output.get("name") != "stderr", f"cell {index} stores stderr: {output_text(output)[:200]}"
            match = MACHINE_PATH.search(output_text(output))
            assert match is None, f"cell {index} shows a machine path: {match and match.group(0)}"


def test_no_widget_outputs(notebook):
    _, nb = notebook
    for index, cell in enumerate(nb["cells"]):
        for output in cell.get("outputs", []):
            assert "application/vnd.jupyter.widget-view+json" not in output.get("data", {}), (
                f"cell {index} stores a widget (a progress bar?): it bloats the file and floods nbval's kernel"
            )


def test_no_volatile_metadata(notebook):
    path, nb = notebook
    assert "widgets" not in nb["metadata"], "widget state is stored in the notebook"
    for cell in nb["cells"]:
        assert "execution" not in cell.get("metadata", {}), "timing metadata: run scripts/execute_notebooks.py"
    assert path.stat().st_size < 2_000_000


def test_teaching_structure(notebook):
    _, nb = notebook
    headings = "\n".join(
        line.lower()
        for c in nb["cells"]
        if c["cell_type"] == "markdown"
        for line in "".join(c["source"]).splitlines()
        if line.startswith(("#", "**"))
    )
    for heading in REQUIRED_HEADINGS:
        assert heading in headings, f"missing a '{heading}' heading"
    assert nb["cells"][0]["cell_type"] == "markdown" and "".join(nb["cells"][0]["source"]).startswith("# ")


def test_uses_the_installed_helpers_and_the_set_up_cell(notebook):
    _, nb = notebook
    sources = ["".join(c["source"]) for c in code_cells(nb)]
    assert not any(re.search(r"sys\.path\.(append|insert)", s) for s in sources)
    assert re.search(r"^setup\(seed=0\)$", sources[0], re.MULTILINE), "the first code cell calls setup(seed=0)"


def test_imports_helpers_one_way_in_the_set_up_cell(notebook):
    """Every name from helpers comes from one ``from helpers import ...`` in the first code cell:
    never ``import helpers`` and ``helpers.name``, never a submodule path."""
    _, nb = notebook
    sources = ["".join(c["source"]) for c in code_cells(nb)]
    statements = [
        (i, m.group(0))
        for i, s in enumerate(sources)
        for m in re.finditer(r"^\s*(from|import) helpers\S*", s, re.MULTILINE)
    ]
    assert [statement.strip() for _, statement in statements] == ["from helpers"], statements
    assert statements[0][0] == 0
    assert not any(re.search(r"\bhelpers\.\w", s) for s in sources)


NBVAL_TAGS = {"nbval-ignore-output", "nbval-skip", "nbval-check-output", "raises-exception"}


def test_nbval_markers_are_cell_tags_never_comments(notebook):
    """nbval reads the tags (``nbval-ignore-output``...); a ``# NBVAL_...`` comment would show in a lecture."""
    _, nb = notebook
    for index, cell in enumerate(nb["cells"]):
        assert "NBVAL_" not in "".join(cell["source"]), f"cell {index}: use the cell tag, not a comment"
        for tag in cell["metadata"].get("tags", []):
            assert not tag.startswith("nbval") or tag in NBVAL_TAGS, f"cell {index}: nbval ignores the tag {tag!r}"


def is_self_check(cell: dict) -> bool:
    return "self-check" in cell["metadata"].get("tags", [])


def test_self_checks_are_tagged_collapsed_and_confirm_in_one_line(notebook):
    """A cell that starts ``# Self-check`` is tagged ``self-check``, its source collapsed, and its stored
    output one learner-readable line starting with ✓ (outside solutions, which are collapsed anyway)."""
    _, nb = notebook
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or "solution" in cell["metadata"].get("tags", []):
            continue
        starts_as_check = "".join(cell["source"]).startswith("# Self-check")
        assert starts_as_check == is_self_check(cell), f"cell {index}: a self-check is tagged and starts '# Self-check'"
        if not starts_as_check:
            continue
        assert cell["metadata"].get("jupyter", {}).get("source_hidden") is True, f"cell {index}: collapse its source"
        lines = "".join(output_text(o) for o in cell["outputs"]).strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("✓ "), f"cell {index} should print one ✓ line, got {lines}"


def test_no_cell_of_bare_asserts_among_the_teaching_cells(notebook):
    """Assertions that only guard the text belong in a tagged self-check, out of a lecture's way."""
    _, nb = notebook
    for index, cell in enumerate(code_cells(nb)):
        lines = [line for line in "".join(cell["source"]).splitlines() if line.strip() and not line.startswith("#")]
        if lines and all(line.startswith("assert ") for line in lines):
            assert is_self_check(cell) or "solution" in cell["metadata"].get("tags", []), f"code cell {index}"


# "the seed", "the seed's", "seed table"...; not "the seed-stability measure" or "the seed of a generator".
SOURCE_AS_SEED = re.compile(
    r"\bthe seed(?:'s|\b(?!-| (?:of|for|=|\d)))|\bseed (?:document|table|model|example)\b|SeedCNN", re.I
)


def test_the_course_source_is_named_for_what_it_is(notebook):
    """Learners never meet "the seed" for the course's source: it is "the classic example" (its code) or
    "the summary table" (its comparison); ``seed`` means a random seed."""
    _, nb = notebook
    for index, cell in enumerate(nb["cells"]):
        match = SOURCE_AS_SEED.search("".join(cell["source"]))
        assert match is None, f"cell {index}: {match and match.group(0)!r}"


def test_readme_names_the_course_source_for_what_it_is():
    readme = (NOTEBOOKS[0].parent.parent / "README.md").read_text()
    match = SOURCE_AS_SEED.search(readme)
    assert match is None, match and match.group(0)


def test_every_notebook_has_a_self_check(notebook):
    _, nb = notebook
    assert any("assert " in "".join(c["source"]) for c in code_cells(nb))


def is_feedback(cell: dict) -> bool:
    return "feedback" in cell["metadata"].get("tags", [])


def test_solutions_are_collapsed_until_revealed(notebook):
    """Between the first "### Solution" heading and "## Summary", every cell but the headings and the
    feedback cells is a solution: tagged, its source (and a code cell's output) collapsed in JupyterLab;
    nbval still runs it. A feedback cell (tag ``feedback``) follows its solution, source collapsed, its
    one-line verdict shown."""
    _, nb = notebook
    cells = nb["cells"]
    first = next(i for i, c in enumerate(cells) if "".join(c["source"]).startswith("### Solution"))
    end = next(i for i, c in enumerate(cells) if "".join(c["source"]).startswith("## Summary"))
    solutions = [
        c
        for c in cells[first:end]
        if not re.fullmatch(r"### Solution \d+", "".join(c["source"]).strip()) and not is_feedback(c)
    ]
    assert any(c["cell_type"] == "code" for c in solutions), "the solutions should be runnable code"
    for cell in cells:
        is_solution = any(cell is c for c in solutions)
        assert ("solution" in cell["metadata"].get("tags", [])) == is_solution, "".join(cell["source"])[:80]
        hidden = cell["metadata"].get("jupyter", {})
        if is_solution:
            assert hidden.get("source_hidden") is True, "".join(cell["source"])[:80]
            assert cell["cell_type"] == "markdown" or hidden.get("outputs_hidden") is True
        else:  # a self-check or feedback cell shows its one-line output; teaching cells show everything
            assert is_self_check(cell) or is_feedback(cell) or not hidden.get("source_hidden"), "".join(cell["source"])[
                :80
            ]
            assert not hidden.get("outputs_hidden"), "".join(cell["source"])[:80]


def test_feedback_cells_are_collapsed_and_follow_the_solutions(notebook):
    _, nb = notebook
    cells = nb["cells"]
    first = next(i for i, c in enumerate(cells) if "".join(c["source"]).startswith("### Solution"))
    for index, cell in enumerate(cells):
        if is_feedback(cell):
            assert index > first, f"cell {index}: a feedback cell comes after its solution, so it can confirm it"
            assert cell["cell_type"] == "code" and cell["metadata"].get("jupyter", {}).get("source_hidden") is True


PREDICT = "**Predict, then run.**"


def test_learners_are_asked_to_predict_before_running_at_least_twice(notebook):
    """A markdown cell starting "**Predict, then run.**" asks for a written prediction, and a code cell follows it."""
    _, nb = notebook
    cells = nb["cells"]
    prompts = [
        i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and "".join(c["source"]).startswith(PREDICT)
    ]
    assert len(prompts) >= 2, f"{len(prompts)} prompt(s) starting {PREDICT!r}"
    for index in prompts:
        assert cells[index + 1]["cell_type"] == "code", (
            f"cell {index}: the prompt comes right before the cell it asks about"
        )
