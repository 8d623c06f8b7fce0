"""Self-checks for the notebooks' exercises and predictions: feedback that teaches, never an exception."""

from __future__ import annotations

import html
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..i18n import _

__all__ = ["PLACEHOLDER", "Feedback", "check_answer", "check_prediction", "same_answer", "reset"]

#: What an unanswered exercise cell holds: ``answer = ...``.
PLACEHOLDER = ...

_attempts: Counter[str] = Counter()

_STYLE = {
    "correct": ("#e6f4ea", "#1e8e3e", "✔"),
    "wrong": ("#fdecea", "#c5221f", "✘"),
    "unanswered": ("#fff8e1", "#b06000", "✎"),
    "format": ("#e8f0fe", "#1a73e8", "⚠"),  # not understood: does not count as a try
}

#: Words a learner may write for True and False (English and Korean).
TRUE_WORDS = frozenset({"true", "yes", "y", "t", "참", "예", "네", "맞다", "맞음", "그렇다"})
FALSE_WORDS = frozenset({"false", "no", "n", "f", "거짓", "아니오", "아니요", "아니다", "틀리다", "틀림"})


@dataclass(frozen=True)
class Feedback:
    """What a self-check says; shows itself as a coloured box in Jupyter, as text elsewhere.

    ``bool(feedback)`` is True only for a correct answer.

    >>> bool(Feedback("q", "correct", "Right."))
    True
    >>> Feedback("q", "unanswered", "Fill in the answer.")
    ✎ q: Fill in the answer.
    """

    question: str
    status: str  # "correct" | "wrong" | "unanswered" | "format"
    message: str

    def __bool__(self) -> bool:
        return self.status == "correct"

    def __repr__(self) -> str:
        return f"{_STYLE[self.status][2]} {self.question}: {self.message}"

    def _repr_html_(self) -> str:
        bg, fg, icon = _STYLE[self.status]
        return (f"<div style='background:{bg};border-left:4px solid {fg};padding:6px 10px;"
                f"margin:4px 0;border-radius:3px'><b style='color:{fg}'>{icon} {html.escape(self.question)}</b>"
                f"<span style='margin-left:.5em'>{html.escape(self.message)}</span></div>")


# -- reading what the learner wrote ------------------------------------------------------------

class _Unreadable(ValueError):
    """The answer is not in the form the question asks for (a number, True/False, a list…)."""


def _scalar(value: Any) -> Any:
    """numpy / pandas scalars as Python values."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return value.item()
        except (TypeError, ValueError):
            pass
    return value


def _is_collection(value: Any) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, (str, bytes, Mapping))


def _text(value: str) -> str:
    """Case, surrounding spaces, quotes and inner runs of spaces do not matter."""
    return " ".join(value.strip().strip("\"'`“”‘’").split()).casefold()


def _as_bool(value: Any) -> bool:
    value = _scalar(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = _text(value).rstrip(".!")
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise _Unreadable(_("I expected True or False (yes/no, 참/거짓 and 예/아니오 work too)."))


_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


def _as_number(value: Any) -> float:
    value = _scalar(value)
    if isinstance(value, bool):
        raise _Unreadable(_("I expected a number, not True/False."))
    if isinstance(value, (int, float, Fraction)):
        return float(value)
    if isinstance(value, str):
        text = _text(value).replace(",", "").replace(" ", "")
        if text.endswith("%") and _NUMBER.fullmatch(text[:-1]):
            return float(text[:-1]) / 100
        if _NUMBER.fullmatch(text):
            return float(text)
        parts = text.split("/")
        if len(parts) == 2 and all(re.fullmatch(r"[-+]?\d+", p) for p in parts) and int(parts[1]) != 0:
            return int(parts[0]) / int(parts[1])
    raise _Unreadable(_("I expected a number (like 4, 0.5, 50% or 1/2)."))


def _as_list(value: Any) -> list:
    value = _scalar(value)
    if _is_collection(value):
        return list(value)
    if isinstance(value, str):  # "A, B", "A → B", "A B": what a learner types without Python's brackets
        items = [p for p in re.split(r"\s*(?:,|→|->|=>|>|\s)\s*", value.strip().strip("[]()")) if p.strip()]
        if items:
            return items
    raise _Unreadable(_("I expected several values: a list like [\"A\", \"B\"] (or \"A, B\")."))


def _kind(expected: Any) -> str:
    expected = _scalar(expected)
    if isinstance(expected, Mapping):
        return "mapping"
    if _is_collection(expected):
        return "list"
    if isinstance(expected, bool):
        return "bool"
    if isinstance(expected, (int, float, Fraction)):
        return "number"
    return "text"


def _same(answer: Any, expected: Any, ordered: bool, tolerance: float) -> bool:
    """The comparison itself; raises _Unreadable when ``answer`` is not the kind ``expected`` is."""
    kind = _kind(expected)
    expected = _scalar(expected)
    if kind == "mapping":
        if not isinstance(answer, Mapping):
            raise _Unreadable(_("I expected a dict of name: value pairs."))
        norm = {(_text(k) if isinstance(k, str) else k): v for k, v in answer.items()}
        keys = [(_text(k) if isinstance(k, str) else k) for k in expected]
        return len(norm) == len(keys) and all(
            k in norm and _same(norm[k], v, ordered, tolerance) for k, v in zip(keys, expected.values()))
    if kind == "list":
        a, e = _as_list(answer), list(expected)
        if len(a) != len(e):
            return False
        if ordered:
            return all(_quiet_same(x, y, tolerance) for x, y in zip(a, e))
        remaining = list(e)
        for x in a:  # a multiset match that still forgives form in each item
            hit = next((i for i, y in enumerate(remaining) if _quiet_same(x, y, tolerance)), None)
            if hit is None:
                return False
            del remaining[hit]
        return True
    if _is_collection(_scalar(answer)):
        raise _Unreadable(_("I expected a single value, not a list."))
    if kind == "bool":
        return _as_bool(answer) == expected
    if kind == "number":
        return math.isclose(_as_number(answer), float(expected), rel_tol=tolerance, abs_tol=tolerance)
    answer = _scalar(answer)
    if not isinstance(answer, str):
        if isinstance(answer, (int, float)) and not isinstance(answer, bool) and _NUMBER.fullmatch(str(expected)):
            return math.isclose(float(answer), float(expected), rel_tol=tolerance, abs_tol=tolerance)
        raise _Unreadable(_("I expected a name in quotes, like \"KUBE-SERVICES\"."))
    return _text(answer) == _text(str(expected))


def _quiet_same(a: Any, e: Any, tolerance: float) -> bool:
    try:
        return _same(a, e, False, tolerance)
    except _Unreadable:
        return False


def same_answer(answer: Any, expected: Any, *, ordered: bool = False, tolerance: float = 1e-6) -> bool:
    """Whether ``answer`` says the same thing as ``expected``, forgiving form but not content.

    Strings ignore case, extra spaces and quotes; numbers compare within ``tolerance`` and may be
    written as text, a percentage or a fraction; True/False may be yes/no, 참/거짓, 예/아니오;
    lists compare as multisets unless ``ordered`` and may be written "A, B" or "A → B".

    >>> same_answer(" kube-services ", "KUBE-SERVICES")
    True
    >>> same_answer(["FORWARD", "prerouting", "POSTROUTING"], ["PREROUTING", "FORWARD", "POSTROUTING"])
    True
    >>> same_answer(["FORWARD", "PREROUTING"], ["PREROUTING", "FORWARD"], ordered=True)
    False
    >>> same_answer("0.5", 0.50000000000), same_answer("50%", 0.5), same_answer("1/3", 0.33333333349)
    (True, True, True)
    >>> same_answer("yes", True), same_answer("거짓", False), same_answer(2, True)
    (True, True, False)
    """
    try:
        return _same(answer, expected, ordered, tolerance)
    except _Unreadable:
        return False


# -- what to say ---------------------------------------------------------------------------------

def _show(value: Any) -> str:
    """A value as a learner would write it: no brackets and quotes of Python's repr, no 1.0."""
    value = _scalar(value)
    if _is_collection(value):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}" if not value.is_integer() else str(int(value))
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _diagnose(answer: Any, expected: Any, ordered: bool, tolerance: float) -> str | None:
    """A targeted remark for the usual kinds of near miss, without giving the answer away."""
    kind = _kind(expected)
    try:
        if kind == "list":
            a, e = _as_list(answer), list(expected)
            if len(a) == len(e) and ordered and same_answer(a, e, ordered=False, tolerance=tolerance):
                return _("The right items, in the wrong order.")
            right = sum(1 for x in a if any(_quiet_same(x, y, tolerance) for y in e))
            if right == len(e) < len(a):
                return _("Every right item is there, plus {n} too many.").format(n=len(a) - right)
            if right == len(a) < len(e):
                return _("All {n} are right, but {m} more belong in the list.").format(n=right, m=len(e) - right)
            if len(a) != len(e):
                return _("The list should have {n} items.").format(n=len(e))
        elif kind == "number":
            got, want = _as_number(answer), float(_scalar(expected))
            if want.is_integer() and got.is_integer() and abs(got - want) == 1:
                return _("Off by one: check where your count starts and ends.")
    except _Unreadable:
        return None
    return None


def _common_remark(answer: Any, common: Mapping | Iterable | None, ordered: bool, tolerance: float) -> str | None:
    pairs = common.items() if isinstance(common, Mapping) else (common or ())
    for wrong, remark in pairs:
        if same_answer(answer, wrong, ordered=ordered, tolerance=tolerance):
            return remark
    return None


def _percent_trap(answer: Any, expected: Any, tolerance: float) -> str | None:
    """A fraction asked for and a bare percentage given (50 for 0.5): a form slip, not a wrong try."""
    if _kind(expected) != "number" or isinstance(_scalar(answer), bool):
        return None
    try:
        a, e = _as_number(answer), float(_scalar(expected))
    except _Unreadable:
        return None
    if 0 < e < 1 and 1 < a <= 100 and math.isclose(a / 100, e, rel_tol=tolerance, abs_tol=tolerance):
        return _("That looks like a percentage: write \"{pct:g}%\" or {frac:g}.").format(pct=a, frac=a / 100)
    return None


def check_answer(question: str, answer: Any, expected: Any, *, hint: str | None = None,
                 explain: str | None = None, common: Mapping | Iterable | None = None,
                 ordered: bool = False, tolerance: float = 1e-6, reveal_after: int = 3) -> Feedback:
    """Compare a learner's ``answer`` with the ``expected`` value derived from the data.

    Never raises. An unanswered exercise (``answer = ...`` or ``None``) gets the hint. An answer
    in the wrong form (text where a number is asked, a list for one value) is explained and does
    **not** count as a try. A wrong one gets a remark for a known wrong answer (``common``: wrong
    value → why it is wrong), else a remark on the kind of near miss, then the hint; after
    ``reveal_after`` wrong tries, the answer.

    >>> reset()
    >>> check_answer("q1", ..., 4, hint="Count the -P lines.")
    ✎ q1: Replace ... with your answer and run this cell again. Hint: Count the -P lines.
    >>> check_answer("q1", 3, 4, hint="Count the -P lines.")
    ✘ q1: Not yet (you answered 3). Off by one: check where your count starts and ends. Hint: Count the -P lines.
    >>> check_answer("q1", "four", 4)
    ⚠ q1: "four" is not in the form I can check. I expected a number (like 4, 0.5, 50% or 1/2). This does not count as a try.
    >>> check_answer("q1", "4", 4, explain="nat has four built-in chains.")
    ✔ q1: Correct! nat has four built-in chains.
    >>> check_answer("q2", ["INPUT"], ["PREROUTING", "INPUT"], ordered=True,
    ...              common={("INPUT",): "A packet from the network meets PREROUTING first."})
    ✘ q2: Not yet (you answered ["INPUT"]). A packet from the network meets PREROUTING first.
    >>> for guess in (1, 2): _ = check_answer("q3", guess, 5)
    >>> check_answer("q3", 3, 5)
    ✘ q3: Not yet (you answered 3). The data says: 5.
    """
    if answer is PLACEHOLDER or answer is None:
        msg = _("Replace ... with your answer and run this cell again.")
        return Feedback(question, "unanswered", msg + (f" {_('Hint:')} {hint}" if hint else ""))
    slip = _percent_trap(answer, expected, tolerance)
    if slip:
        return Feedback(question, "format", f"{slip} {_('This does not count as a try.')}")
    try:
        ok = _same(answer, expected, ordered, tolerance)
    except _Unreadable as why:
        return Feedback(question, "format", f"{_show(answer)} {_('is not in the form I can check.')} {why} "
                                            f"{_('This does not count as a try.')}")
    except Exception as exc:  # a friendly word, never a traceback, whatever the learner typed
        return Feedback(question, "format", f"{_('I could not read this answer')} ({type(exc).__name__}). "
                                            f"{_('This does not count as a try.')}")
    if ok:
        _attempts.pop(question, None)
        return Feedback(question, "correct", _("Correct!") + (f" {explain}" if explain else ""))
    _attempts[question] += 1
    parts = [_("Not yet (you answered {answer}).").format(answer=_show(answer))]
    remark = _common_remark(answer, common, ordered, tolerance) or _diagnose(answer, expected, ordered, tolerance)
    if remark:
        parts.append(remark)
    if hint:
        parts.append(f"{_('Hint:')} {hint}")
    if _attempts[question] >= reveal_after:
        parts.append(_("The data says: {expected}.").format(expected=_show(expected)))
    return Feedback(question, "wrong", " ".join(parts))


def check_prediction(question: str, prediction: Any, outcome: Any, *, why: str | None = None,
                     common: Mapping | Iterable | None = None, ordered: bool = False,
                     tolerance: float = 1e-6) -> Feedback:
    """Compare what the learner predicted *before* running a trace with what the trace showed.

    The trace is on screen, so the outcome is always told; ``why`` explains it, and ``common``
    (wrong prediction → the reasoning slip behind it) answers the usual wrong guesses.

    >>> check_prediction("p1", ..., 2)
    ✎ p1: No prediction yet: write your guess in place of ... and run the cells again. Guessing before you look is the point.
    >>> check_prediction("p1", "two", 2)
    ⚠ p1: "two" is not in the form I can check. I expected a number (like 4, 0.5, 50% or 1/2).
    >>> check_prediction("p1", 1, 2, why="one branch per endpoint", common={1: "A trace lists every way a packet may go."})
    ✘ p1: You predicted 1; the trace shows 2. A trace lists every way a packet may go. Why: one branch per endpoint
    >>> check_prediction("p1", 2, 2, why="one branch per endpoint")
    ✔ p1: Well predicted: 2. Why: one branch per endpoint
    """
    if prediction is PLACEHOLDER or prediction is None:
        return Feedback(question, "unanswered", _("No prediction yet: write your guess in place of ... and run "
                                                   "the cells again. Guessing before you look is the point."))
    slip = _percent_trap(prediction, outcome, tolerance)
    if slip:
        return Feedback(question, "format", slip)
    try:
        ok = _same(prediction, outcome, ordered, tolerance)
    except _Unreadable as err:
        return Feedback(question, "format", f"{_show(prediction)} {_('is not in the form I can check.')} {err}")
    except Exception as exc:
        return Feedback(question, "format", f"{_('I could not read this prediction')} ({type(exc).__name__}).")
    tail = f" {_('Why:')} {why}" if why else ""
    if ok:
        return Feedback(question, "correct", _("Well predicted: {outcome}.").format(outcome=_show(outcome)) + tail)
    remark = _common_remark(prediction, common, ordered, tolerance) or _diagnose(prediction, outcome, ordered, tolerance)
    said = _("You predicted {prediction}; the trace shows {outcome}.").format(prediction=_show(prediction),
                                                                             outcome=_show(outcome))
    return Feedback(question, "wrong", said + (f" {remark}" if remark else "") + tail)


def reset() -> None:
    """Forget how many tries each question has had.

    >>> reset()
    """
    _attempts.clear()
