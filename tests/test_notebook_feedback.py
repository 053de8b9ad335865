"""Every notebook's feedback cells (issue 16): stored ✓ for the reference solution, a hint for every wrong answer.

The cells are checked from their source alone (``feedback_cells.py``), without running the notebook,
so this takes milliseconds; nbval (``make test``) re-runs them and compares their stored line.
"""

import re
from pathlib import Path
from typing import Any

import pytest
from feedback_cells import FEEDBACK_TAG, check_feedback_cell, feedback_cells, the_exercise

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_feedback_cells_confirm_the_solution_and_hint_at_every_wrong_answer(path) -> None:
    for cell in feedback_cells(path):  # none yet: passes until a notebook has feedback cells
        check_feedback_cell(cell)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_has_at_least_two_feedback_cells(path) -> None:
    assert len(feedback_cells(path)) >= 2, f"{path.name}: every exercise gets a feedback cell (tag {FEEDBACK_TAG!r})"


# The checker itself, on a made-up notebook.

STORED = "✓ Right for the reference answer; write yours in `answer_1` and run this cell again."

GOOD_SOURCE = """\
exercise_1 = Exercise.number("answer_1", close_to=3.2, within=0.05, hint="Read the logit, not the probability.",
                             mistakes={0.96: "That is a probability."})
exercise_1.check(answer_1)"""


def notebook(source: str = GOOD_SOURCE, stored: str = STORED, tags: tuple[str, ...] = (FEEDBACK_TAG,)) -> Any:
    output = {"output_type": "execute_result", "data": {"text/plain": stored}, "metadata": {}, "execution_count": 2}
    cells = [
        {"cell_type": "code", "source": "answer_1 = 3.2", "metadata": {}, "outputs": []},
        {"cell_type": "code", "source": source, "metadata": {"tags": list(tags)}, "outputs": [output]},
    ]
    return {"cells": cells}


def test_the_checker_finds_the_tagged_cell_and_its_exercise() -> None:
    (cell,) = feedback_cells(notebook(), "made_up.ipynb")
    assert (cell.index, str(cell)) == (1, "made_up.ipynb, cell 1")
    assert the_exercise(cell).variable == "answer_1"
    hints = check_feedback_cell(cell)
    assert "✗ Not yet: That is a probability." in hints
    assert "✗ Not yet: `answer_1` should be a number, not a str. Read the logit, not the probability." in hints
    assert feedback_cells(notebook(tags=("solution",))) == []


def test_the_checker_accepts_a_cell_with_a_function_and_lambdas() -> None:
    source = """\
def positive(answer):
    return None if answer > 0 else "It should be positive."
exercise_2 = Exercise("answer_2", positive, hint="Write a number.", wrong=[-1])
exercise_2.check(answer_2)"""
    check_feedback_cell(feedback_cells(notebook(source))[0])
    source = 'exercise_3 = Exercise.rules("answer_3", [(lambda a: a > 0, "Positive.")], wrong=[-1])\nexercise_3.check(answer_3)'
    check_feedback_cell(feedback_cells(notebook(source))[0])


@pytest.mark.parametrize(
    ("source", "stored", "complaint"),
    [
        (GOOD_SOURCE, "✗ Not yet: Read the logit, not the probability.", "stored output should be ✓"),
        (GOOD_SOURCE, "✎ Write your answer in `answer_1` first.", "stored output should be ✓"),
        (GOOD_SOURCE, "✓ Right.", "Reference(value)"),  # the learner's answer was never written
        (
            GOOD_SOURCE.replace("close_to=3.2", "close_to=float(logits[0, 7])"),
            STORED,
            "self-contained (write values in as literals); it reads ['answer_1', 'logits']",
        ),
        (
            GOOD_SOURCE.replace("exercise_1.check(answer_1)", "print(exercise_1.check(answer_1))"),
            STORED,
            "must end",
        ),
        ('Exercise.claim("answer_1", correct=True, hint="No.").check(answer_1)', STORED, "exactly one Exercise"),
        (GOOD_SOURCE.replace("check(answer_1)", "check(answer_2)"), STORED, "it reads ['answer_2']"),
    ],
)
def test_the_checker_rejects_a_broken_feedback_cell(source, stored, complaint) -> None:
    (cell,) = feedback_cells(notebook(source, stored))
    with pytest.raises(AssertionError, match=re.escape(complaint)):
        check_feedback_cell(cell)


def test_the_checker_rejects_a_judge_that_calls_a_wrong_type_right() -> None:
    source = 'exercise_1 = Exercise("answer_1", lambda a: None if a != 5 else "No.", hint="No.", wrong=[5])\nexercise_1.check(answer_1)'
    with pytest.raises(AssertionError, match="'not an answer' is judged right"):
        check_feedback_cell(feedback_cells(notebook(source))[0])
