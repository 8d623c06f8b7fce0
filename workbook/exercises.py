"""Self-check helpers for the notebooks' exercises: friendly feedback, never an exception."""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["PLACEHOLDER", "Feedback", "check_answer", "same_answer", "reset"]

#: What an unanswered exercise cell holds: ``answer = ...``.
PLACEHOLDER = ...

_attempts: Counter[str] = Counter()

_STYLE = {
    "correct": ("#e6f4ea", "#1e8e3e", "✔"),
    "wrong": ("#fdecea", "#c5221f", "✘"),
    "unanswered": ("#fff8e1", "#b06000", "✎"),
}


@dataclass(frozen=True)
class Feedback:
    """What ``check_answer`` says; shows itself as a coloured box in Jupyter, as text elsewhere.

    ``bool(feedback)`` is True only for a correct answer.

    >>> bool(Feedback("q", "correct", "Right."))
    True
    >>> Feedback("q", "unanswered", "Fill in the answer.")
    ✎ q: Fill in the answer.
    """

    question: str
    status: str  # "correct" | "wrong" | "unanswered"
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


def _norm_scalar(value: Any) -> Any:
    """Make harmless differences vanish: case, surrounding spaces and quotes, numpy scalars."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()  # numpy / pandas scalar → Python scalar
        except (TypeError, ValueError):
            pass
    if isinstance(value, str):
        text = " ".join(value.strip().strip("\"'`").split())
        return text.casefold()
    return value


def _is_collection(value: Any) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, (str, bytes, Mapping))


def same_answer(answer: Any, expected: Any, *, ordered: bool = False, tolerance: float = 1e-6) -> bool:
    """Whether ``answer`` says the same thing as ``expected``, forgiving form but not content.

    Strings ignore case, extra spaces and quotes; numbers compare within ``tolerance``
    (relative); lists compare as multisets unless ``ordered``; numeric strings count as numbers.

    >>> same_answer(" kube-services ", "KUBE-SERVICES")
    True
    >>> same_answer(["FORWARD", "prerouting", "POSTROUTING"], ["PREROUTING", "FORWARD", "POSTROUTING"])
    True
    >>> same_answer(["FORWARD", "PREROUTING"], ["PREROUTING", "FORWARD"], ordered=True)
    False
    >>> same_answer("0.5", 0.50000000000), same_answer(1/3, 0.33333333349, tolerance=1e-6)
    (True, True)
    >>> same_answer(True, "yes"), same_answer(2, True)
    (True, False)
    """
    if isinstance(expected, Mapping):
        if not isinstance(answer, Mapping) or len(answer) != len(expected):
            return False
        norm = {_norm_scalar(k): v for k, v in answer.items()}
        return all(_norm_scalar(k) in norm and same_answer(norm[_norm_scalar(k)], v, ordered=ordered,
                                                           tolerance=tolerance)
                   for k, v in expected.items())
    if _is_collection(expected):
        if not _is_collection(answer):
            return False
        a, e = list(answer), list(expected)
        if len(a) != len(e):
            return False
        if ordered:
            return all(same_answer(x, y, tolerance=tolerance) for x, y in zip(a, e))
        remaining = list(e)
        for x in a:  # multiset match that still uses the forgiving scalar comparison
            for i, y in enumerate(remaining):
                if same_answer(x, y, tolerance=tolerance):
                    del remaining[i]
                    break
            else:
                return False
        return True
    a, e = _norm_scalar(answer), _norm_scalar(expected)
    if isinstance(e, bool) or isinstance(a, bool):
        words = {"yes": True, "true": True, "y": True, "no": False, "false": False, "n": False}
        a = words.get(a, a) if isinstance(a, str) else a
        e = words.get(e, e) if isinstance(e, str) else e
        return isinstance(a, bool) and isinstance(e, bool) and a == e
    if isinstance(e, str) and isinstance(a, (int, float)):
        a, e = e, a  # compare "0.5" and 0.5 from the number's side
    if isinstance(e, (int, float)):
        if isinstance(a, str):
            try:
                a = float(a)
            except ValueError:
                return False
        if not isinstance(a, (int, float)):
            return False
        return math.isclose(float(a), float(e), rel_tol=tolerance, abs_tol=tolerance)
    return a == e


def _show(value: Any) -> str:
    if _is_collection(value):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    value = value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value
    return repr(value)


def check_answer(question: str, answer: Any, expected: Any, *, hint: str | None = None,
                 explain: str | None = None, ordered: bool = False, tolerance: float = 1e-6,
                 reveal_after: int = 3) -> Feedback:
    """Compare a learner's ``answer`` with the ``expected`` value derived from the data.

    Never raises: an unanswered exercise (``answer = ...`` or ``None``) gets the hint,
    a wrong one gets the hint again, and after ``reveal_after`` wrong tries the answer.

    >>> reset()
    >>> check_answer("q1", ..., 4, hint="Count the -P lines.")
    ✎ q1: Replace ... with your answer and run this cell again. Hint: Count the -P lines.
    >>> check_answer("q1", 3, 4, hint="Count the -P lines.")
    ✘ q1: Not yet (you answered 3). Hint: Count the -P lines.
    >>> check_answer("q1", "4", 4, explain="nat has four built-in chains.")
    ✔ q1: Correct! nat has four built-in chains.
    >>> for guess in (1, 2): _ = check_answer("q2", guess, ["a", "b"])
    >>> check_answer("q2", 3, ["a", "b"])
    ✘ q2: Not yet (you answered 3). I expected several values (a list). The data says: ['a', 'b'].
    """
    if answer is PLACEHOLDER or answer is None:
        msg = "Replace ... with your answer and run this cell again."
        return Feedback(question, "unanswered", msg + (f" Hint: {hint}" if hint else ""))
    try:
        ok = same_answer(answer, expected, ordered=ordered, tolerance=tolerance)
    except Exception as exc:  # a friendly word, never a traceback, whatever the learner typed
        ok = False
        hint = f"{hint} ({type(exc).__name__}: {exc})" if hint else f"({type(exc).__name__}: {exc})"
    if ok:
        _attempts.pop(question, None)
        return Feedback(question, "correct", "Correct!" + (f" {explain}" if explain else ""))
    _attempts[question] += 1
    parts = [f"Not yet (you answered {_show(answer)})."]
    if _is_collection(expected) and not _is_collection(answer):
        parts.append("I expected several values (a list).")
    elif not _is_collection(expected) and _is_collection(answer):
        parts.append("I expected a single value.")
    if hint:
        parts.append(f"Hint: {hint}")
    if _attempts[question] >= reveal_after:
        parts.append(f"The data says: {_show(expected)}.")
    return Feedback(question, "wrong", " ".join(parts))


def reset() -> None:
    """Forget how many tries each question has had.

    >>> reset()
    """
    _attempts.clear()
