"""Targets Debian's iptables still ships whose kernel modules are gone: ``CLUSTERIP`` (removed
in Linux 6.1; the ``cluster`` match replaces it) and ``ULOG`` (removed in Linux 3.17; NFLOG
replaces it). The kernel refuses rules using them, so a dump holding one comes from an old
kernel: kept opaque, the packet continues, and the trace says so."""

from __future__ import annotations

from ..model import Rule
from .registry import Extension


def _refused(name: str, why: str) -> Extension:
    reason = f"unsupported extension {name}: {why}"

    def apply(tracer: object, s, rule: Rule, ctx: object) -> None:
        s.note(f"-j {name}: {reason}; the packet continues")
        if s.steps:
            s.steps[-1].assumed = True
        return None
    return Extension(name, "target", why, status="unsupported", reason=reason, tables=frozenset(), apply=apply)


EXTENSIONS = (
    _refused("CLUSTERIP", "its kernel module was removed in Linux 6.1 (use -m cluster); not simulated"),
    _refused("ULOG", "its kernel module was removed in Linux 3.17 (use NFLOG); not simulated"),
)
