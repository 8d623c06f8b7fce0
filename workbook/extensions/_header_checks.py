"""The tracer's checks on header fields (:class:`workbook.trace.header.Header`): compare, or assume when not given."""

from __future__ import annotations

from typing import Any, Callable

from ..model import InputError, Match
from ..trace.state import Assume, State

#: symbolic TOS values of libxt_tos (they compare under the mask 0x3f)
TOS_NAMES = {"minimize-delay": 0x10, "maximize-throughput": 0x08, "maximize-reliability": 0x04,
             "minimize-cost": 0x02, "normal-service": 0x00}
#: DiffServ class names of ``--dscp-class`` (RFC 2474, 2597, 3246, 5865)
DSCP_CLASSES = {**{f"cs{i}": i * 8 for i in range(8)}, "be": 0, "ef": 46, "va": 44,
                **{f"af{c}{d}": c * 8 + d * 2 for c in range(1, 5) for d in range(1, 4)}}


def number(text: str, what: str) -> int:
    """An unsigned number as iptables writes it (decimal or 0x hex); a word is bad input.

    >>> number("0x0a", "dscp"), number("46", "dscp")
    (10, 46)
    """
    try:
        n = int(text, 0)
    except ValueError:
        raise InputError(f"{what} {text[:40]!r}: not a number") from None
    if n < 0:
        raise InputError(f"{what} {text[:40]!r}: not a number")
    return n


def span(text: str, what: str, top: int = 65535) -> tuple[int, int]:
    """``N``, ``N:M``, ``N:`` or ``:M`` as an inclusive range.

    >>> span("100:200", "length"), span("64", "length"), span("1000:", "mss")
    ((100, 200), (64, 64), (1000, 65535))
    """
    lo, sep, hi = text.partition(":")
    a = number(lo, what) if lo else 0
    b = (number(hi, what) if hi else top) if sep else a
    return a, b


def tos_value(text: str) -> tuple[int, int]:
    """``(value, mask)`` of a ``--tos`` (``0x10/0x3f``, ``0x10``: mask 0xff, a name: mask 0x3f).

    >>> tos_value("0x10/0x3f"), tos_value("0x08"), tos_value("Minimize-Delay")
    ((16, 63), (8, 255), (16, 63))
    """
    if text.lower() in TOS_NAMES:
        return TOS_NAMES[text.lower()], 0x3F
    v, _, m = text.partition("/")
    return number(v, "tos"), number(m, "tos") if m else 0xFF


def field_check(desc: str, what: str, get: Callable[[State], int | str | None],
                test: Callable[[int | str], bool], negated: bool) -> Callable[[State], object]:
    """A check: None when ``test(field) != negated``; a reason when not; Assume when the field is not given."""
    def chk(s: State) -> object:
        v = get(s)
        if v is None:
            return Assume(f"{desc}: the packet's {what} is not given; assumed to match")
        if test(v) != negated:
            return None
        return f"{desc} does not match {what} {v}"
    return chk


def hdr(name: str) -> Callable[[State], int | str | None]:
    """The getter of one header field of a trace state."""
    return lambda s: getattr(s.hdr, name)


def in_span(what: str) -> Callable[[str], Callable[[int], bool]]:
    """The test maker of a ``N[:M]`` option: is the field in the range?"""
    def make(text: str) -> Callable[[int], bool]:
        lo, hi = span(text, what)
        return lambda v: lo <= v <= hi
    return make


def flags_compile(what: str, field: str, tests: dict[str, Callable[[str], Callable]]) -> Callable[..., None]:
    """A match ``compile``: one check per option, ``tests[flag](value)`` judging the header ``field``
    (``what`` names it in the reasons); an option without a test is assumed."""
    def compile_(comp: Any, rule: object, m: Match, checks: list, stats: list) -> None:
        # comp: the tracer's compiler (trace.walk, which imports the registry: not imported here)
        for o in m.options:
            make = tests.get(o.flag)
            if make is None:
                comp.unknown_option(m, o, checks)
            else:
                checks.append(field_check(f"-m {m.module} {o.to_save()}", what, hdr(field), make(o.value), o.negated))
    return compile_
