"""Parse ``lsmod`` output and ``/proc/modules`` into :class:`Modules` (one row per kernel module)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

from ..limits import fits_count as _fits
from ..model import ParseError, Problem
from .save import check_text, split_lines


if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["Module", "Modules", "parse_lsmod", "MODULE_COLUMNS"]

#: Columns of :attr:`Modules.frame`.
MODULE_COLUMNS = ["module", "size", "used_by_count", "used_by"]

_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")
# lsmod prints a shell prompt + command in pastes ("[root@host ~]# lsmod"); skip those.
_PROMPT = re.compile(r"^\s*(\[[^\]]*\][#$]|[\w.@-]*[#$])\s")


@dataclass(frozen=True, slots=True)
class Module:
    """One loaded module: ``nf_nat 57344 3 xt_nat,nft_chain_nat`` →
    ``Module("nf_nat", 57344, 3, ("xt_nat", "nft_chain_nat"))``.

    ``used_by_count`` is the kernel's reference count (it may exceed ``len(used_by)``, which
    only names modules that depend on this one); ``state`` is ``Live``/``Loading``/``Unloading``
    for ``/proc/modules`` and None for lsmod.
    """

    name: str
    size: int
    used_by_count: int | None
    used_by: tuple[str, ...] = ()
    state: str | None = None
    line: int = 0


@dataclass
class Modules:
    """The loaded kernel modules of a node, parsed from ``lsmod`` or ``/proc/modules``.

    >>> m = parse_lsmod("Module                  Size  Used by\\nnf_nat  57344  3 xt_nat,nft_chain_nat,xt_MASQUERADE\\n")
    >>> "nf_nat" in m, "ip_tables" in m, len(m)
    (True, False, 1)
    >>> m.frame.iloc[0].used_by
    ['xt_nat', 'nft_chain_nat', 'xt_MASQUERADE']
    """

    modules: list[Module] = field(default_factory=list)
    source: str = "<text>"
    format: str = "lsmod"
    problems: list[Problem] = field(default_factory=list)

    @property
    def names(self) -> set[str]:
        """The module names (a set)."""
        return {m.name for m in self.modules}

    def __contains__(self, name: object) -> bool:
        return any(m.name == name for m in self.modules)

    def __len__(self) -> int:
        return len(self.modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.modules)

    def get(self, name: str) -> Module | None:
        """The module called ``name``, or None."""
        for m in self.modules:
            if m.name == name:
                return m
        return None

    @property
    def frame(self) -> "pd.DataFrame":
        """One row per module: ``module, size, used_by_count, used_by`` (a list)."""
        import pandas as pd
        df = pd.DataFrame({
            "module": [m.name for m in self.modules],
            "size": pd.array([m.size for m in self.modules], dtype="Int64"),
            "used_by_count": pd.array([m.used_by_count for m in self.modules], dtype="Int64"),
            "used_by": [list(m.used_by) for m in self.modules],
        }, columns=MODULE_COLUMNS)
        return df

    def summary(self) -> str:
        nf = sorted(n for n in self.names if n.startswith(("nf_", "nft_", "xt_", "ip_tables", "iptable_",
                                                            "ipt_", "ip6_tables", "ip6table_", "x_tables")))
        return (f"Modules from {self.source} ({self.format}): {len(self)} modules, "
                f"{len(nf)} netfilter ({', '.join(nf[:12])}{', …' if len(nf) > 12 else ''})")

    def __repr__(self) -> str:
        return f"<Modules {self.source!r} {len(self)} modules problems={len(self.problems)}>"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td><code>{html.escape(m.name)}</code></td><td>{m.size}</td>"
            f"<td>{'' if m.used_by_count is None else m.used_by_count}</td>"
            f"<td>{html.escape(', '.join(m.used_by))}</td></tr>" for m in self.modules)
        probs = ""
        if self.problems:
            items = "".join(f"<li><code>{html.escape(str(p))}</code></li>" for p in self.problems[:20])
            probs = f"<p><b>{len(self.problems)} problem(s):</b></p><ul>{items}</ul>"
        return (f"<div><b>Modules</b> <code>{html.escape(self.source)}</code> ({len(self)} loaded)"
                f"<table><thead><tr><th>module</th><th>size</th><th>used by (count)</th><th>used by</th>"
                f"</tr></thead><tbody>{rows}</tbody></table>{probs}</div>")


def _deps(text: str) -> tuple[str, ...]:
    if text in ("", "-", "[permanent]"):
        return ()
    return tuple(d for d in text.strip(",").split(",") if d and d != "[permanent]")


def parse_lsmod(text: str | bytes, source: str = "<text>", strict: bool = True) -> Modules:
    """Parse ``lsmod`` (``Module Size Used by`` header, blank lines allowed) or ``/proc/modules``
    (``name size refcount deps, state offset``).

    With ``strict`` a line that is neither raises :class:`~workbook.model.ParseError`
    (``source:line: ...``); otherwise it is skipped and listed in ``.problems``. Shell prompt
    lines of a pasted terminal session (``[root@host ~]# lsmod``) are skipped in both modes.

    >>> m = parse_lsmod("nf_nat 57344 3 xt_nat,nft_chain_nat, Live 0x0000000000000000\\n", "/proc/modules")
    >>> (m.format, m.get("nf_nat").used_by, m.get("nf_nat").state)
    ('proc-modules', ('xt_nat', 'nft_chain_nat'), 'Live')
    >>> parse_lsmod("Module Size Used by\\nthis is not a module line\\n", "lsmod.txt")
    Traceback (most recent call last):
    ...
    workbook.model.ParseError: lsmod.txt:2: not an lsmod line: 'this is not a module line'
    """
    text = check_text(text, source)
    mods = Modules(source=source)
    seen_header = False
    proc = None
    for lineno, raw in enumerate(split_lines(text), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("Module") and "Used by" in line:
            seen_header = True
            continue
        if _PROMPT.match(raw) or line.startswith("#"):
            continue
        parts = line.split()
        ok = len(parts) >= 3 and _NAME.match(parts[0]) and _fits(parts[1]) and (
            _fits(parts[2]) or parts[2] == "-")
        if ok and len(parts) > 4 and not parts[4] in ("Live", "Loading", "Unloading"):
            ok = False
        if not ok:
            msg = f"not an lsmod line: {line[:60]!r}"
            if len(parts) >= 3 and parts[1].isdecimal() and not _fits(parts[1]):
                msg = f"module size {parts[1][:24]!r} beyond 63 bits (a corrupt or forged file)"
            elif len(parts) >= 3 and parts[2].isdecimal() and not _fits(parts[2]):
                msg = f"module use count {parts[2][:24]!r} beyond 63 bits (a corrupt or forged file)"
            if strict:
                raise ParseError(source, lineno, msg)
            mods.problems.append(Problem(source, lineno, msg, raw))
            continue
        is_proc = len(parts) >= 5  # name size refcount deps state offset
        if proc is None:
            proc = is_proc
        count = int(parts[2]) if parts[2].isdecimal() else None
        deps = _deps(parts[3]) if len(parts) > 3 else ()
        state = parts[4] if is_proc else None
        mods.modules.append(Module(parts[0], int(parts[1]), count, deps, state, lineno))
    if proc and not seen_header:
        mods.format = "proc-modules"
    if not mods.modules and not seen_header and strict:
        raise ParseError(source, max(1, len(split_lines(text))), "no modules found (empty lsmod output?)")
    return mods
