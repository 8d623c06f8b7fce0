"""Extensions Debian's iptables ships that the workbook refuses: kept opaque, never silently decided.

A refused match stays in the ruleset and is assumed to hold; a refused target continues with the
next rule. Either way the trace says "unsupported extension X" and why.
"""

from __future__ import annotations

from ._assumed import assume_with
from ..trace.state import State
from .registry import Extension


def _refused_match(name: str, why: str) -> Extension:
    """A match kept as an opaque ``assumed`` check."""
    reason = f"unsupported extension {name}: {why}"
    return Extension(name, "match", why, status="unsupported", reason=reason, compile=assume_with(reason))


def _refused_target(name: str, why: str) -> Extension:
    """A target that continues with the next rule and notes that it was not simulated."""
    reason = f"unsupported extension {name}: {why}"

    def apply(tracer: object, state: State, rule: object, ctx: object) -> None:
        state.note(f"-j {name}: {reason}; the packet continues")
        return None
    return Extension(name, "target", why, status="unsupported", reason=reason, apply=apply)


EXTENSIONS = (
    _refused_target("TCPOPTSTRIP", "stripping TCP options changes no field the tracer models"),
    _refused_target("DNPT", "stateless IPv6 prefix translation (RFC 6296) is not modelled"),
    _refused_target("SNPT", "stateless IPv6 prefix translation (RFC 6296) is not modelled"),
)
