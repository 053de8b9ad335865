"""helpers.course.feedback: every kind of exercise says ✓ to the right answer, a hint to a wrong one,
"write your answer first" to an unfilled one, and never raises on a learner's answer; a wrongly
written exercise raises TypeError or ValueError when it is built."""

from typing import Any

import numpy as np
import pytest
import torch

from helpers import Exercise, Feedback, Reference
from helpers.course.feedback import NOT_AN_ANSWER

NUMBER = Exercise.number(
    "answer_1",
    close_to=3.2,
    within=0.05,
    hint="Read the logit of class 7 for image 0.",
    mistakes={0.96: "You compared probabilities; the question asks about logits."},
)
CHOICE = Exercise.choice(
    "answer_2",
    options=range(10),
    correct=1,
    hint="Divide each digit's mean saliency by its ink.",
    right="thin strokes, so little ink for the saliency.",
    mistakes={0: "That is the total saliency; the question is per ink pixel."},
)
NAMES = Exercise.choice(
    "answer_3", options=["saliency", "Integrated Gradients"], correct="integrated gradients", hint="h"
)
RANKING = Exercise.ranking(
    "answer_4", correct=["occlusion", "integrated gradients", "saliency"], hint="Largest gap first."
)
CLAIM = Exercise.claim("answer_5", correct=False, hint="Compare with the randomised model.")
RULES = Exercise.rules(
    "answer_6",
    [
        (lambda a: len(a) == 2, "Give two numbers: before and after."),
        (lambda a: a[1] < a[0], "The logit should fall; is it the wrong way round?"),
        (lambda a: a[1] > 0, "You compared probabilities; the question asks about logits."),
    ],
    wrong=[(1.0,), (1.0, 2.0), (0.9, -0.5)],
)
ALL = [NUMBER, CHOICE, NAMES, RANKING, CLAIM, RULES]


def right(feedback: Feedback) -> bool:
    return feedback.correct and feedback.message.startswith("✓ Right") and repr(feedback) == feedback.message


def hint(feedback: Feedback) -> str:
    assert not feedback.correct and feedback.message.startswith("✗ Not yet: "), feedback.message
    return feedback.message.removeprefix("✗ Not yet: ")


@pytest.mark.parametrize(
    ("exercise", "answer"),
    [
        (NUMBER, 3.2),
        (NUMBER, 3.16),
        (NUMBER, np.float32(3.23)),
        (NUMBER, torch.tensor(3.2)),
        (NUMBER, torch.tensor([3.2])),
        (NUMBER, np.array(3.2)),
        (CHOICE, 1),
        (CHOICE, np.int64(1)),
        (CHOICE, torch.tensor(1)),
        (CHOICE, 1.0),
        (NAMES, "Integrated  gradients "),
        (RANKING, ["occlusion", "integrated gradients", "saliency"]),
        (RANKING, ("Occlusion", "Integrated Gradients", "Saliency")),
        (CLAIM, False),
        (CLAIM, np.bool_(False)),
        (CLAIM, torch.tensor(False)),
        (RULES, (5.2, 1.3)),
        (RULES, [5.2, 1.3]),
    ],
)
def test_the_right_answer_gets_a_tick(exercise, answer) -> None:
    assert right(exercise.check(answer))


def test_right_adds_its_reason_and_the_message_is_the_repr() -> None:
    feedback = CHOICE.check(1)
    assert feedback == Feedback(True, "✓ Right: thin strokes, so little ink for the saliency.")
    assert repr(feedback) == str(feedback) == feedback.message
    assert NUMBER.check(3.2).message == "✓ Right."


def test_the_repr_in_ipython_is_the_line_itself() -> None:
    lines = []

    class Printer:
        def text(self, text: str) -> None:
            lines.append(text)

    CLAIM.check(True)._repr_pretty_(Printer(), False)
    assert lines == ["✗ Not yet: Compare with the randomised model."]


@pytest.mark.parametrize(
    ("exercise", "answer", "expected"),
    [
        (NUMBER, 5.0, "Read the logit of class 7 for image 0."),
        (NUMBER, 3, "Read the logit of class 7 for image 0."),
        (NUMBER, 0.97, "You compared probabilities; the question asks about logits."),
        (NUMBER, np.float64(0.95), "You compared probabilities; the question asks about logits."),
        (CHOICE, 7, "Divide each digit's mean saliency by its ink."),
        (CHOICE, 0, "That is the total saliency; the question is per ink pixel."),
        (NAMES, "saliency", "h"),
        (
            RANKING,
            ["saliency", "integrated gradients", "occlusion"],
            "Largest gap first. (Position 1 is not 'saliency'.)",
        ),
        (
            RANKING,
            ["occlusion", "saliency", "integrated gradients"],
            "Largest gap first. (Position 2 is not 'saliency'.)",
        ),
        (CLAIM, True, "Compare with the randomised model."),
        (RULES, (5.2,), "Give two numbers: before and after."),
        (RULES, (1.3, 5.2), "The logit should fall; is it the wrong way round?"),
        (RULES, (0.9, -0.1), "You compared probabilities; the question asks about logits."),
    ],
)
def test_a_wrong_answer_gets_its_hint(exercise, answer, expected) -> None:
    assert hint(exercise.check(answer)) == expected


@pytest.mark.parametrize(
    ("exercise", "answer", "expected"),
    [
        (NUMBER, "3.2", "`answer_1` should be a number, not a str. Read the logit of class 7 for image 0."),
        (NUMBER, True, "`answer_1` should be a number, not a bool. Read the logit of class 7 for image 0."),
        (NUMBER, [3.2, 1.0], "`answer_1` should be a number, not a list. Read the logit of class 7 for image 0."),
        (NUMBER, torch.ones(3), "`answer_1` should be a number, not a Tensor. Read the logit of class 7 for image 0."),
        (NUMBER, float("nan"), "`answer_1` should be a number, not a float. Read the logit of class 7 for image 0."),
        (CHOICE, "1", "`answer_2` should be one of 0, 1, 2, 3, 4, 5, 6, 7, 8, 9."),
        (CHOICE, True, "`answer_2` should be one of 0, 1, 2, 3, 4, 5, 6, 7, 8, 9."),
        (CHOICE, [1], "`answer_2` should be one of 0, 1, 2, 3, 4, 5, 6, 7, 8, 9."),
        (CHOICE, torch.arange(2), "`answer_2` should be one of 0, 1, 2, 3, 4, 5, 6, 7, 8, 9."),
        (NAMES, "LIME", "`answer_3` should be one of 'saliency', 'Integrated Gradients'."),
        (RANKING, "occlusion", "`answer_4` should be a list, first = highest, not a str. Largest gap first."),
        (RANKING, 3, "`answer_4` should be a list, first = highest, not a int. Largest gap first."),
        (
            RANKING,
            ["occlusion", "saliency"],
            "`answer_4` should rank all 3 of 'occlusion', 'integrated gradients', 'saliency'; it misses 'integrated gradients'.",
        ),
        (
            RANKING,
            ["occlusion", "saliency", "lime"],
            "`answer_4` should rank all 3 of 'occlusion', 'integrated gradients', 'saliency';"
            " it misses 'integrated gradients'; and it has 'lime'.",
        ),
        (
            RANKING,
            ["occlusion", "saliency", "saliency", "integrated gradients"],
            "`answer_4` should rank all 3 of 'occlusion', 'integrated gradients', 'saliency'; each once.",
        ),
        (
            RANKING,
            [["occlusion"], "saliency", "x"],
            "`answer_4` should rank all 3 of 'occlusion', 'integrated gradients', 'saliency'; it misses 'occlusion', 'integrated gradients'; and it has ['occlusion'], 'x'.",
        ),
        (CLAIM, "no", "`answer_5` should be True or False, not a str."),
        (CLAIM, 0, "`answer_5` should be True or False, not a int."),
        (RULES, 5.2, "Give two numbers: before and after."),
        (RULES, "ab", "The logit should fall; is it the wrong way round?"),
    ],
)
def test_a_wrong_type_gets_a_hint_not_a_traceback(exercise, answer, expected) -> None:
    assert hint(exercise.check(answer)) == expected


@pytest.mark.parametrize("exercise", ALL, ids=lambda e: e.kind)
@pytest.mark.parametrize("answer", [..., None])
def test_an_unfilled_answer_asks_for_one(exercise, answer) -> None:
    feedback = exercise.check(answer)
    assert feedback == Feedback(False, f"✎ Write your answer in `{exercise.variable}` first.")


@pytest.mark.parametrize("exercise", ALL, ids=lambda e: e.kind)
def test_every_exercise_carries_wrong_answers_that_get_hints(exercise) -> None:
    assert exercise.wrong
    for wrong in (*exercise.wrong, NOT_AN_ANSWER, object(), {"a": 1}):
        assert hint(exercise.check(wrong))


def test_the_wrong_answers_carried_are_the_likely_ones() -> None:
    assert 0.96 in NUMBER.wrong and all(abs(w - 3.2) > 0.05 for w in NUMBER.wrong)
    assert sorted(CHOICE.wrong) == [0, 2, 3, 4, 5, 6, 7, 8, 9]
    assert ["saliency", "integrated gradients", "occlusion"] in RANKING.wrong
    assert CLAIM.wrong == (True,)
    assert RULES.wrong == ((1.0,), (1.0, 2.0), (0.9, -0.5))


def test_feedback_is_deterministic_and_one_line() -> None:
    for exercise in ALL:
        for answer in (*exercise.wrong, NOT_AN_ANSWER, ...):
            first, second = exercise.check(answer), exercise.check(answer)
            assert first == second and "\n" not in first.message and " at 0x" not in first.message


def test_a_custom_judge_that_raises_or_returns_nonsense_gives_the_general_hint() -> None:
    def judge(answer):
        if answer == 1:
            raise ZeroDivisionError
        return None if answer == 2 else ("" if answer == 3 else 42)

    exercise = Exercise("answer_7", judge, hint="Think again.")
    assert right(exercise.check(2))
    assert [hint(exercise.check(a)) for a in (1, 3, 4)] == ["Think again."] * 3
    assert repr(exercise) == "Exercise('answer_7')" and repr(CLAIM) == "Exercise.claim('answer_5')"


def test_a_hint_with_spaces_is_shown_on_one_line() -> None:
    exercise = Exercise("answer_8", lambda a: "Too   big,\tby far." if a > 1 else None, hint="h", wrong=[2])
    assert exercise.check(2).message == "✗ Not yet: Too big, by far."


# A notebook author's mistakes: raised when the exercise is built.

LOOSE: Any = Exercise
"""Exercise, with the wrong types these tests pass on purpose hidden from mypy."""


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda: LOOSE(1, lambda a: None, hint="h"), TypeError),
        (lambda: LOOSE("answer 1", lambda a: None, hint="h"), ValueError),
        (lambda: LOOSE("answer_1", "judge", hint="h"), TypeError),
        (lambda: LOOSE("answer_1", lambda a: None, hint=""), ValueError),
        (lambda: LOOSE("answer_1", lambda a: None, hint=None), TypeError),
        (lambda: LOOSE("answer_1", lambda a: None, hint="two\nlines"), ValueError),
        (lambda: LOOSE("answer_1", lambda a: None, hint="h", right="a\nb"), ValueError),
        (lambda: LOOSE("answer_1", lambda a: None, hint="h", wrong=3), TypeError),
        (lambda: LOOSE("answer_1", lambda a: None, hint="h", wrong="ab"), TypeError),
        (lambda: LOOSE("answer_1", lambda a: None, hint="h", wrong=[3]), ValueError),  # judged right
        (lambda: LOOSE("answer_1", lambda a: "no", hint="h", wrong=[None]), ValueError),
        (lambda: LOOSE.number("answer_1", close_to="3", within=0.1, hint="h"), TypeError),
        (lambda: LOOSE.number("answer_1", close_to=True, within=0.1, hint="h"), TypeError),
        (lambda: LOOSE.number("answer_1", close_to=3.0, within=None, hint="h"), TypeError),
        (lambda: LOOSE.number("answer_1", close_to=float("nan"), within=0.1, hint="h"), ValueError),
        (lambda: LOOSE.number("answer_1", close_to=3.0, within=-0.1, hint="h"), ValueError),
        (lambda: LOOSE.number("answer_1", close_to=3.0, within=0.1, hint="h", mistakes={3.05: "x"}), ValueError),
        (lambda: LOOSE.number("answer_1", close_to=3.0, within=0.1, hint="h", mistakes={"1": "x"}), TypeError),
        (lambda: LOOSE.number("answer_1", close_to=3.0, within=0.1, hint="h", mistakes={1.0: ""}), ValueError),
        (lambda: LOOSE.choice("answer_2", options=[1, 2], correct=3, hint="h"), ValueError),
        (lambda: LOOSE.choice("answer_2", options=[1], correct=1, hint="h"), ValueError),
        (lambda: LOOSE.choice("answer_2", options=["A", "a"], correct="a", hint="h"), ValueError),
        (lambda: LOOSE.choice("answer_2", options=[1, 2], correct=1, hint="h", mistakes={3: "x"}), ValueError),
        (lambda: LOOSE.choice("answer_2", options=[1, 2], correct=1, hint="h", mistakes={1: "x"}), ValueError),
        (lambda: LOOSE.ranking("answer_3", correct="abc", hint="h"), TypeError),
        (lambda: LOOSE.ranking("answer_3", correct=["a"], hint="h"), ValueError),
        (lambda: LOOSE.ranking("answer_3", correct=["a", "A"], hint="h"), ValueError),
        (lambda: LOOSE.claim("answer_4", correct=1, hint="h"), TypeError),
        (lambda: LOOSE.rules("answer_5", [], wrong=[1]), TypeError),
        (lambda: LOOSE.rules("answer_5", [(lambda a: a > 0,)], wrong=[1]), TypeError),
        (lambda: LOOSE.rules("answer_5", [("a > 0", "h")], wrong=[1]), TypeError),
        (lambda: LOOSE.rules("answer_5", [(lambda a: a > 0, "h")], wrong=[]), ValueError),
        (lambda: LOOSE.rules("answer_5", [(lambda a: a > 0, "h")], wrong=[2]), ValueError),  # judged right
    ],
)
def test_a_wrongly_written_exercise_raises(build, error) -> None:
    with pytest.raises(error):
        build()


def test_a_reference_answer_is_checked_and_says_it_is_the_reference() -> None:
    exercise = Exercise.choice("answer_2", options=[0, 1, 8], correct=1, hint="Divide by the ink.")
    right = exercise.check(Reference(1))
    assert right.correct and repr(right) == (
        "✓ Right for the reference answer; write yours in `answer_2` and run this cell again."
    )
    wrong = exercise.check(Reference(8))  # a wrong reference is the author's mistake: it shows as one
    assert not wrong.correct and repr(wrong).startswith("✗ Not yet: ")
    assert exercise.check(1).message == "✓ Right."
