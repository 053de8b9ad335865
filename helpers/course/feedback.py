"""Exercises that answer back: a feedback cell says whether the learner's answer is right, and hints when not.

Each exercise of notebooks 01 to 10 has a learner's cell (``answer_1 = ...``) and a feedback cell,
tagged ``feedback``, that builds one :class:`Exercise` and checks the answer with it::

    exercise_1 = Exercise.number("answer_1", close_to=3.2, within=0.05, hint="Read the logit, not the probability.")
    exercise_1.check(answer_1)

The check returns a :class:`Feedback`, whose repr is one deterministic line, so the cell's output is
exactly that line (nbval compares it): ``✓ Right…``, ``✗ Not yet: <hint>``, or, while the answer
is still ``...`` or ``None``, ``✎ Write your answer in `answer_1` first.``. A wrong answer, or one of
the wrong type, is feedback, never an exception, so "Run all" goes on; a wrongly *written* check (a
notebook author's mistake) raises ``TypeError`` or ``ValueError`` when the exercise is built.

An exercise is a pure function of the answer: it holds its expected value as a literal, needs no
model and writes no file. So tests can rebuild it from the feedback cell's source alone and feed it
the wrong answers it carries (:attr:`Exercise.wrong`: each known mistake, each other option, a
reversed ranking, ...) without running the notebook (``tests/feedback_cells.py``).

Five kinds: :meth:`Exercise.number` (with a tolerance), :meth:`Exercise.choice` (one of some
options: a class label, a method's name), :meth:`Exercise.ranking` (an order), :meth:`Exercise.claim`
(``True`` or ``False``) and :meth:`Exercise.rules` (requirements, each with its own hint); or any
function of the answer that returns ``None`` (right) or a hint, given to :class:`Exercise` itself.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

RIGHT = "✓ Right"
REFERENCE = "✓ Right for the reference answer"
NOT_YET = "✗ Not yet: "
UNFILLED = "✎ Write your answer in `{variable}` first."
NOT_AN_ANSWER = "not an answer"
"""A value of the wrong type for every kind of exercise: tests feed it to each check."""


@dataclass(frozen=True, repr=False)
class Feedback:
    """What a check says: ``correct`` and the one-line ``message`` that a feedback cell shows.

    Its repr is the message itself (no object address), so a feedback cell's output is that line.
    ``correct`` is ``False`` both for a wrong answer and for one not written yet.
    """

    correct: bool
    message: str

    def __repr__(self) -> str:
        return self.message

    __str__ = __repr__

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.message)


@dataclass(frozen=True)
class Reference:
    """The reference solution's answer, put in ``answer_N`` only while the learner has not written one.

    A solution cell ends ``if answer_1 is ...: answer_1 = Reference(value)``, so *Run all* never
    overwrites a learner's answer, and the feedback cell then says that it checked the reference,
    not the learner's answer.

    Examples::

        >>> from helpers import Exercise, Reference
        >>> exercise_1 = Exercise.number("answer_1", close_to=3.2, within=0.05, hint="Read the logit.")
        >>> exercise_1.check(Reference(3.21))
        ✓ Right for the reference answer; write yours in `answer_1` and run this cell again.
    """

    value: Any


Judge = Callable[[Any], "str | None"]
"""A check's core: the learner's answer in, ``None`` if it is right, else the hint to show."""


def _text(value: object, what: str, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    if "\n" in value:
        raise ValueError(f"{what} must be one line (feedback is one line): {value!r}")
    if not empty and not value.strip():
        raise ValueError(f"{what} must not be empty")
    return value


def _plain(value: Any) -> Any:
    """A one-element NumPy array or PyTorch tensor (or a NumPy scalar) as its Python scalar; anything else unchanged."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "item"):
        return value
    numel = getattr(value, "numel", None)
    count = numel() if callable(numel) else getattr(value, "size", None)
    if count != 1:
        return value
    try:
        return value.item()
    except (TypeError, ValueError, RuntimeError):
        return value


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))


def _normalise(value: Any) -> Any:
    """How answers are compared: strings by their words, case-insensitively; scalars as Python scalars."""
    value = _plain(value)
    if isinstance(value, str):
        return " ".join(value.split()).casefold()
    return value


def _same(answer: Any, option: Any) -> bool:
    """``answer == option``, or ``False`` where the comparison is not a plain bool (an array) or fails."""
    try:
        equal = answer == option
    except Exception:
        return False
    return equal if isinstance(equal, bool) else False


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _kind(value: Any) -> str:
    return type(value).__name__


class Exercise:
    """One exercise's check: the variable the learner fills in, and a judge of its value.

    ``judge(answer)`` returns ``None`` for a right answer and a one-line hint otherwise; it is only
    called once the answer is written (not ``...`` or ``None``), and if it raises on a learner's
    answer the learner sees ``hint`` instead of a traceback. ``right`` is shown after "✓ Right: "
    (a short reason, or nothing). ``wrong`` are example wrong answers: each is checked to be judged
    wrong when the exercise is built, and tests feed them to the check. The constructors
    :meth:`number`, :meth:`choice`, :meth:`ranking`, :meth:`claim` and :meth:`rules` build the usual
    judges, and their wrong answers, for you. Used in the feedback cells of notebooks 01 to 10.

    Examples::

        >>> from helpers import Exercise
        >>> def even(answer):
        ...     return None if answer % 2 == 0 else "Divide it by 2: is there a remainder?"
        >>> exercise = Exercise("answer_1", even, hint="Write a whole number.", wrong=[3])
        >>> exercise.check(4)
        ✓ Right.
        >>> exercise.check(3)
        ✗ Not yet: Divide it by 2: is there a remainder?
        >>> exercise.check("four")  # even("four") raises: the general hint, no traceback
        ✗ Not yet: Write a whole number.
        >>> exercise.check(...)
        ✎ Write your answer in `answer_1` first.
        >>> exercise.check(3).correct, exercise.check(4).message
        (False, '✓ Right.')
    """

    def __init__(
        self,
        variable: str,
        judge: Judge,
        *,
        hint: str,
        right: str = "",
        wrong: Sequence[Any] = (),
        kind: str = "custom",
    ) -> None:
        if not isinstance(variable, str):
            raise TypeError(f"variable must be the answer's name as a str, got {type(variable).__name__}")
        if not variable.isidentifier():
            raise ValueError(f"variable must be a Python name such as 'answer_1', got {variable!r}")
        if not callable(judge):
            raise TypeError(f"judge must be callable, got {type(judge).__name__}")
        if isinstance(wrong, (str, bytes)) or not isinstance(wrong, Sequence):
            raise TypeError(f"wrong must be a sequence of wrong answers, got {type(wrong).__name__}")
        self.variable = variable
        self.judge = judge
        self.hint = _text(hint, "hint")
        self.right = _text(right, "right", empty=True)
        self.kind = kind
        self.wrong: tuple[Any, ...] = tuple(wrong)
        """Example wrong answers (each judged wrong, checked here): what tests feed to the check."""
        for example in self.wrong:
            if example is None or example is Ellipsis:
                raise ValueError(f"{variable}: wrong answers must be written answers, not {example!r}")
            if self.check(example).correct:
                raise ValueError(f"{variable}: the wrong answer {example!r} is judged right")

    def check(self, answer: Any) -> Feedback:
        """Judge the learner's ``answer``: right, not yet (with a hint), or not written yet. Never raises.

        A :class:`Reference` (the solution's answer, while the learner's is not written) is judged
        like any answer, and a right one says so.
        """
        if isinstance(answer, Reference):
            verdict = self.check(answer.value)
            if not verdict.correct:
                return verdict
            return Feedback(True, f"{REFERENCE}; write yours in `{self.variable}` and run this cell again.")
        if answer is None or answer is Ellipsis:
            return Feedback(False, UNFILLED.format(variable=self.variable))
        try:
            hint = self.judge(answer)
        except Exception:  # a learner's answer that the judge cannot handle is a wrong answer, not a crash
            hint = self.hint
        if hint is None:
            return Feedback(True, f"{RIGHT}: {self.right}" if self.right else f"{RIGHT}.")
        if not isinstance(hint, str) or not hint.strip():
            hint = self.hint
        return Feedback(False, NOT_YET + " ".join(hint.split()))

    def __repr__(self) -> str:
        return f"Exercise.{self.kind}({self.variable!r})" if self.kind != "custom" else f"Exercise({self.variable!r})"

    @classmethod
    def number(
        cls,
        variable: str,
        *,
        close_to: float,
        within: float,
        hint: str,
        right: str = "",
        mistakes: Mapping[float, str] | None = None,
    ) -> Exercise:
        """A number, right within ``within`` of ``close_to``; ``mistakes`` maps known wrong values to their hints.

        A mistake is matched with the same tolerance. A 0-d (or one-element) array or tensor counts
        as its number; a bool, a string or a list gets a hint that says what to write. Notebooks 01 to 10.

        Examples::

            >>> from helpers import Exercise
            >>> exercise = Exercise.number(
            ...     "answer_1", close_to=3.2, within=0.05, hint="Read it off the logits of image 0.",
            ...     mistakes={0.96: "That is a probability; the question asks about the logit."})
            >>> exercise.check(3.21)
            ✓ Right.
            >>> exercise.check(0.96)
            ✗ Not yet: That is a probability; the question asks about the logit.
            >>> exercise.check(5)
            ✗ Not yet: Read it off the logits of image 0.
            >>> exercise.check("3.2")
            ✗ Not yet: `answer_1` should be a number, not a str. Read it off the logits of image 0.
        """
        if not _is_number(close_to) or not _is_number(within):
            for name, value in (("close_to", close_to), ("within", within)):
                if isinstance(value, bool) or not isinstance(value, numbers.Real):
                    raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
            raise ValueError(f"close_to and within must be finite, got {close_to} and {within}")
        if within < 0:
            raise ValueError(f"within must be >= 0, got {within}")
        known = dict(mistakes or {})
        for value, mistake_hint in known.items():
            if not _is_number(value):
                raise TypeError(f"{variable}: mistakes must map numbers to hints, got the key {value!r}")
            _text(mistake_hint, f"the hint for the mistake {value}")
            if abs(value - close_to) <= within:
                raise ValueError(f"{variable}: the mistake {value} is within {within} of the answer {close_to}")

        def judge(answer: Any) -> str | None:
            answer = _plain(answer)
            if not _is_number(answer):
                return f"`{variable}` should be a number, not a {_kind(answer)}. {hint}"
            if abs(float(answer) - close_to) <= within:
                return None
            near = [
                (abs(float(answer) - value), text) for value, text in known.items() if abs(answer - value) <= within
            ]
            return min(near)[1] if near else hint

        far = close_to + 2 * within + max(1.0, abs(close_to))
        return cls(variable, judge, hint=hint, right=right, wrong=[far, *known], kind="number")

    @classmethod
    def choice(
        cls,
        variable: str,
        *,
        options: Sequence[Hashable],
        correct: Hashable,
        hint: str,
        right: str = "",
        mistakes: Mapping[Hashable, str] | None = None,
    ) -> Exercise:
        """One of ``options`` (class labels, names): right if it is ``correct``; ``mistakes`` maps options to hints.

        Strings are compared by their words, case-insensitively (``"Integrated  gradients"`` is
        ``"integrated gradients"``); a NumPy or PyTorch scalar counts as its value. An answer that
        is not among the options gets a hint that lists them. Notebooks 01 to 10.

        Examples::

            >>> from helpers import Exercise
            >>> exercise = Exercise.choice(
            ...     "answer_2", options=range(10), correct=1, hint="Divide each digit's saliency by its ink.",
            ...     mistakes={0: "0 has the most saliency in total; the question is per ink pixel."})
            >>> exercise.check(1)
            ✓ Right.
            >>> exercise.check(0)
            ✗ Not yet: 0 has the most saliency in total; the question is per ink pixel.
            >>> exercise.check(7)
            ✗ Not yet: Divide each digit's saliency by its ink.
            >>> exercise.check("one")
            ✗ Not yet: `answer_2` should be one of 0, 1, 2, 3, 4, 5, 6, 7, 8, 9.
        """
        listed = list(options)
        keys = [_normalise(option) for option in listed]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{variable}: the options repeat one another: {listed}")
        if len(listed) < 2:
            raise ValueError(f"{variable}: a choice needs at least two options, got {listed}")
        if _normalise(correct) not in keys:
            raise ValueError(f"{variable}: the correct answer {correct!r} is not among the options {listed}")
        known = {
            _normalise(option): _text(text, f"the hint for {option!r}") for option, text in (mistakes or {}).items()
        }
        for key in known:
            if key not in keys:
                raise ValueError(f"{variable}: the mistake {key!r} is not among the options {listed}")
            if key == _normalise(correct):
                raise ValueError(f"{variable}: the correct answer {correct!r} is listed as a mistake")
        menu = ", ".join(_shown(option) for option in listed)

        def judge(answer: Any) -> str | None:
            key = _normalise(answer)
            if isinstance(key, bool) or not any(_same(key, option) for option in keys):
                return f"`{variable}` should be one of {menu}."
            if key == _normalise(correct):
                return None
            return known.get(key, hint)

        others = [option for option in listed if _normalise(option) != _normalise(correct)]
        return cls(variable, judge, hint=hint, right=right, wrong=others, kind="choice")

    @classmethod
    def ranking(
        cls,
        variable: str,
        *,
        correct: Sequence[Hashable],
        hint: str,
        right: str = "",
    ) -> Exercise:
        """An ordering of the items in ``correct`` (a list or tuple, first = highest): right if it is that order.

        An answer with missing or extra items is told which; a wrong order is told the first
        position that differs. Strings are compared as in :meth:`choice`. Notebooks 01 to 10.

        Examples::

            >>> from helpers import Exercise
            >>> exercise = Exercise.ranking(
            ...     "answer_3", correct=["occlusion", "integrated gradients", "saliency"],
            ...     hint="Rank by the mean LeRF - MoRF gap, largest first.")
            >>> exercise.check(["Occlusion", "Integrated Gradients", "saliency"])
            ✓ Right.
            >>> exercise.check(["saliency", "integrated gradients", "occlusion"])
            ✗ Not yet: Rank by the mean LeRF - MoRF gap, largest first. (Position 1 is not 'saliency'.)
            >>> exercise.check(["occlusion", "saliency"])
            ✗ Not yet: `answer_3` should rank all 3 of 'occlusion', 'integrated gradients', 'saliency'; it misses 'integrated gradients'.
        """
        if isinstance(correct, (str, bytes)) or not isinstance(correct, Sequence):
            raise TypeError(f"correct must be a list or tuple of items, got {type(correct).__name__}")
        items = list(correct)
        keys = [_normalise(item) for item in items]
        if len(items) < 2 or len(set(keys)) != len(keys):
            raise ValueError(f"{variable}: a ranking needs at least two distinct items, got {items}")
        menu = ", ".join(_shown(item) for item in items)

        def judge(answer: Any) -> str | None:
            if isinstance(answer, (str, bytes)) or not isinstance(answer, Sequence):
                return f"`{variable}` should be a list, first = highest, not a {_kind(answer)}. {hint}"
            given = [_normalise(item) for item in answer]
            same_items = sorted(map(repr, given)) == sorted(map(repr, keys))
            if not same_items:
                missing = [item for item, key in zip(items, keys, strict=True) if key not in given]
                extra = [item for item, key in zip(answer, given, strict=True) if key not in keys]
                said = "; it misses " + ", ".join(map(_shown, missing)) if missing else ""
                said += ("; and" if missing else ";") + " it has " + ", ".join(map(_shown, extra)) if extra else ""
                said = said or "; each once"
                return f"`{variable}` should rank all {len(items)} of {menu}{said}."
            if given == keys:
                return None
            position = next(i for i, (a, b) in enumerate(zip(given, keys, strict=True)) if a != b)
            return f"{hint} (Position {position + 1} is not {_shown(answer[position])}.)"

        wrong = [items[::-1], items[1:] + items[:1]]
        return cls(variable, judge, hint=hint, right=right, wrong=wrong, kind="ranking")

    @classmethod
    def claim(cls, variable: str, *, correct: bool, hint: str, right: str = "") -> Exercise:
        """``True`` or ``False``: is a claim right? Anything else gets a hint to write one of the two. Notebooks 01 to 10.

        Examples::

            >>> from helpers import Exercise
            >>> exercise = Exercise.claim(
            ...     "answer_4", correct=False, hint="Compare the maps of the trained and the randomised model.",
            ...     right="the map barely changes when the weights are randomised.")
            >>> exercise.check(False)
            ✓ Right: the map barely changes when the weights are randomised.
            >>> exercise.check(True)
            ✗ Not yet: Compare the maps of the trained and the randomised model.
            >>> exercise.check("no")
            ✗ Not yet: `answer_4` should be True or False, not a str.
        """
        if not isinstance(correct, bool):
            raise TypeError(f"correct must be True or False, got {type(correct).__name__}")

        def judge(answer: Any) -> str | None:
            answer = _plain(answer)
            if not isinstance(answer, bool):
                return f"`{variable}` should be True or False, not a {_kind(answer)}."
            return None if answer == correct else hint

        return cls(variable, judge, hint=hint, right=right, wrong=[not correct], kind="claim")

    @classmethod
    def rules(
        cls,
        variable: str,
        requirements: Sequence[tuple[Callable[[Any], object], str]],
        *,
        wrong: Sequence[Any],
        hint: str = "",
        right: str = "",
    ) -> Exercise:
        """Requirements in order, each a predicate and the hint shown when it fails: right if all hold.

        The first failing requirement's hint is shown, so order them from the most basic (the type,
        the shape) to the finest; a predicate that raises on the answer counts as failed. ``wrong``
        (at least one example) is required: tests feed it, one example per requirement is best.
        ``hint`` (default: the first requirement's hint) is what an answer that breaks the checking
        gets. Notebooks 01 to 10.

        Examples::

            >>> from helpers import Exercise
            >>> exercise = Exercise.rules("answer_5", [
            ...     (lambda a: len(a) == 2, "Give two numbers: the logit before and after."),
            ...     (lambda a: a[1] < a[0], "The logit should fall when the evidence is removed; is it the wrong way round?"),
            ...     (lambda a: a[1] > 0, "You compared probabilities; the question asks about logits."),
            ... ], wrong=[(1.0,), (1.0, 2.0), (0.9, -0.5)])
            >>> exercise.check((5.2, 1.3))
            ✓ Right.
            >>> exercise.check((5.2, 7.0))
            ✗ Not yet: The logit should fall when the evidence is removed; is it the wrong way round?
            >>> exercise.check(5.2)  # len(5.2) raises: the first requirement fails
            ✗ Not yet: Give two numbers: the logit before and after.
        """
        if isinstance(requirements, (str, bytes)) or not isinstance(requirements, Sequence) or not requirements:
            raise TypeError("requirements must be a non-empty list of (predicate, hint) pairs")
        for requirement in requirements:
            if not (isinstance(requirement, tuple) and len(requirement) == 2 and callable(requirement[0])):
                raise TypeError(f"{variable}: each requirement is a (predicate, hint) pair, got {requirement!r}")
            _text(requirement[1], "a requirement's hint")
        if isinstance(wrong, (str, bytes)) or not isinstance(wrong, Sequence) or not wrong:
            raise ValueError(f"{variable}: give at least one example wrong answer (wrong=[...]) for the tests")

        def judge(answer: Any) -> str | None:
            for predicate, text in requirements:
                try:
                    holds = bool(predicate(answer))
                except Exception:
                    holds = False
                if not holds:
                    return text
            return None

        return cls(variable, judge, hint=hint or requirements[0][1], right=right, wrong=wrong, kind="rules")
