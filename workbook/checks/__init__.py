"""Findings for a dump: each with evidence rows (file:line), a plain explanation and fix commands.

>>> from workbook.parse import parse_save
>>> rs = parse_save('''*nat
... :PREROUTING ACCEPT [0:0]
... :CNI-HOSTPORT-DNAT - [0:0]
... -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
... -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
... COMMIT
... ''')
>>> [f.id for f in check(rs)]
['duplicate-rule']
"""

from __future__ import annotations

from typing import Callable, Iterable

from .context import Context
from .finding import SEVERITIES, Finding, Findings

__all__ = ["check", "Finding", "Findings", "SEVERITIES", "FAMILIES"]


def _families() -> dict[str, Callable[[Context], Iterable[Finding]]]:
    from .duplicates import find_duplicates
    from .integrity import find_integrity_problems
    from .kube import find_kube_problems
    from .modules import find_missing_modules, find_mixed_backends
    from .references import find_reference_problems
    from .shadowing import find_shadowed
    return {
        "integrity": find_integrity_problems,
        "duplicates": find_duplicates,
        "modules": find_missing_modules,
        "backends": find_mixed_backends,
        "references": find_reference_problems,
        "kube": find_kube_problems,
        "shadowing": find_shadowed,
    }


#: Names of the finding families :func:`check` runs (pass a subset as ``families=``).
FAMILIES: tuple[str, ...] = ("integrity", "duplicates", "modules", "backends", "references", "kube", "shadowing")


def check(target, modules=None, *, families: Iterable[str] | None = None) -> Findings:
    """Run every check on ``target`` (a Ruleset or a NodeDump) and return the findings, worst first.

    ``modules``: a :class:`~workbook.parse.lsmod.Modules`, lsmod text/path, or module names;
    a NodeDump brings its own. Nothing is changed on any system: fixes are printed only.
    """
    ctx = Context.of(target, modules)
    funcs = _families()
    wanted = list(families) if families is not None else list(FAMILIES)
    unknown = [f for f in wanted if f not in funcs]
    if unknown:
        raise ValueError(f"unknown check families {unknown} (known: {', '.join(FAMILIES)})")
    found: list[Finding] = []
    for name in wanted:
        found.extend(funcs[name](ctx))
    return Findings(found)
