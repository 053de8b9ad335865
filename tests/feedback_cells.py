"""Checking a notebook's feedback cells without running the notebook.

A feedback cell (tag ``feedback``) builds exactly one :class:`helpers.Exercise` from literals and
ends with the expression that checks the learner's answer::

    exercise_1 = Exercise.number("answer_1", close_to=3.2, within=0.05, hint="...")
    exercise_1.check(answer_1)

Because an exercise is a pure function of the answer, the cell's source alone is enough: it is
executed in a namespace holding the ``helpers`` exports and its answer variable, once unfilled
(``...``) to find the exercise, then once per wrong answer the exercise carries
(:attr:`Exercise.wrong`, plus :data:`helpers.course.feedback.NOT_AN_ANSWER` for the wrong type),
and each run's output must be a hint. A cell that needs anything else from the notebook (a model,
a tensor) fails here with the name it needed: write the expected value in as a literal.
"""

from __future__ import annotations

import ast
import builtins
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helpers
from helpers import Exercise, Feedback
from helpers.course.feedback import NOT_AN_ANSWER, NOT_YET, REFERENCE, RIGHT

FEEDBACK_TAG = "feedback"


@dataclass(frozen=True)
class FeedbackCell:
    """One tagged cell: where it is, its source and the text of its stored outputs."""

    notebook: str
    index: int
    source: str
    stored: str

    def __str__(self) -> str:
        return f"{self.notebook}, cell {self.index}"


def _text(output: Mapping[str, Any]) -> str:
    parts = [output.get("text", ""), output.get("data", {}).get("text/plain", "")]
    return "".join("".join(p) if isinstance(p, list) else str(p) for p in parts)


def feedback_cells(notebook: Path | Mapping[str, Any], name: str = "notebook") -> list[FeedbackCell]:
    """Every code cell tagged ``feedback`` in a notebook file (or its parsed JSON)."""
    if isinstance(notebook, Path):
        name, notebook = notebook.name, json.loads(notebook.read_text())
    assert not isinstance(notebook, Path)
    return [
        FeedbackCell(name, index, "".join(cell["source"]), "".join(_text(o) for o in cell.get("outputs", [])))
        for index, cell in enumerate(notebook["cells"])
        if FEEDBACK_TAG in cell.get("metadata", {}).get("tags", [])
    ]


def helpers_namespace() -> dict[str, Any]:
    """What a feedback cell may use besides its answers: everything ``from helpers import ...`` offers."""
    return {name: getattr(helpers, name) for name in helpers.__all__}


def free_names(source: str) -> set[str]:
    """The names a cell reads but neither defines nor gets from ``helpers`` or the builtins: its answers."""
    tree = ast.parse(source)
    loaded: set[str] = set()
    defined: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else defined).add(node.id)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return loaded - defined - set(dir(builtins)) - set(helpers.__all__)


def run_cell(source: str, answers: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
    """Execute a cell's source with ``answers`` bound; the namespace after it, and its last expression's value."""
    namespace = {**helpers_namespace(), **answers}
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    assert last is None or isinstance(last, ast.Expr)
    exec(compile(tree, "<feedback cell>", "exec"), namespace)
    value = eval(compile(ast.Expression(last.value), "<feedback cell>", "eval"), namespace) if last else None
    return namespace, value


def the_exercise(cell: FeedbackCell) -> Exercise:
    """The one :class:`Exercise` a feedback cell builds, found by running it with its answer unfilled."""
    answers = free_names(cell.source)
    assert len(answers) == 1, (
        f"{cell}: a feedback cell reads one answer and is otherwise self-contained (write values in as literals);"
        f" it reads {sorted(answers)}"
    )
    namespace, value = run_cell(cell.source, dict.fromkeys(answers, ...))
    exercises = [v for v in namespace.values() if isinstance(v, Exercise)]
    assert len(exercises) == 1, f"{cell}: a feedback cell builds exactly one Exercise, found {len(exercises)}"
    (exercise,) = exercises
    assert answers == {exercise.variable}, (
        f"{cell}: it reads {sorted(answers)}, its exercise checks {exercise.variable}"
    )
    assert isinstance(value, Feedback), f"{cell}: the cell must end with `{exercise.variable}`'s check"
    return exercise


def check_feedback_cell(cell: FeedbackCell) -> list[str]:
    """Assert what every feedback cell must do; return the hints it gave to wrong answers (for a report).

    The stored output is one "✓ Right for the reference answer" line (the solution fills the answer
    with :class:`helpers.Reference` while the learner's is not written, so a reader of the stored
    notebook is not told "✓ Right." for an answer nobody wrote); the cell run with each of the
    exercise's wrong answers, and with an answer of the wrong type, outputs "✗ Not yet: " and a hint.
    """
    stored = cell.stored.strip()
    assert stored.startswith(RIGHT) and "\n" not in stored, f"{cell}: the stored output should be ✓, got {stored!r}"
    assert stored.startswith(REFERENCE), f"{cell}: the solution should set `answer_N = Reference(value)`: {stored!r}"
    exercise = the_exercise(cell)
    hints = []
    for wrong in (*exercise.wrong, NOT_AN_ANSWER):
        _, feedback = run_cell(cell.source, {exercise.variable: wrong})
        assert isinstance(feedback, Feedback) and not feedback.correct, f"{cell}: {wrong!r} is judged right"
        message = repr(feedback)
        assert message.startswith(NOT_YET) and len(message) > len(NOT_YET), f"{cell}: no hint for {wrong!r}"
        hints.append(message)
    return hints
