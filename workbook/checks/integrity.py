"""The dump itself: tampered files (vs MANIFEST.json), files not read, and lines the parsers could not read."""

from __future__ import annotations

import shlex
from typing import Iterator

from ._lazy import pd

from ..model import Problem
from .context import Context
from .finding import Finding
from ..i18n import msg

__all__ = ["find_integrity_problems"]


def _tampered(dump) -> Iterator[Finding]:
    tampered = list(getattr(dump, "tampered", None) or [])
    if not tampered:
        return
    why = getattr(dump, "tampering", None) or {}
    base = str(getattr(dump, "path", ""))
    ev = pd.DataFrame({"file": tampered, "problem": [why.get(f, "differs from MANIFEST.json") for f in tampered],
                       "origin": [f"{base}/MANIFEST.json" for _ in tampered]})
    yield Finding(
        "tampered-evidence", "error",
        msg("{n} file(s) of the dump do not match its MANIFEST.json", n=len(tampered)),
        msg("MANIFEST.json records the sha256 and size of every file at collection time. These files were "
        "changed, removed or added after collection, or their entry cannot vouch for them (no sha256 or "
        "size recorded): the findings drawn from them describe the edited dump, not the node. Re-collect, "
        "or compare with the original archive before acting on anything below."),
        ev, [shlex.join(["sha256sum", f"{base}/{f}"]) + "   # compare with MANIFEST.json" for f in tampered[:20]],
        None)


def _unread(dump) -> Iterator[Finding]:
    skipped = dict(getattr(dump, "skipped", None) or {})
    if not skipped:
        return
    base = str(getattr(dump, "path", ""))
    ev = pd.DataFrame({"file": list(skipped), "why": list(skipped.values())})
    fix = ["# inspect a file without loading it whole:"]
    fix += [shlex.join(["ls", "-l", f"{base}/{f}"]) for f in list(skipped)[:5]]
    if any("cap" in w or "budget" in w for w in skipped.values()):
        fix += ["# if it is honest, load it with higher caps (Python):",
                "#   load_dump(PATH, limits=ExtractLimits(max_read=..., max_read_total=...))"]
    yield Finding(
        "unread-files", "warning", msg("{n} file(s) of the dump were not read", n=len(skipped)),
        msg("These files are in the dump but nfwb did not read them: over the per-file or per-dump read "
        "cap (which keeps a hostile dump from taking minutes and gigabytes), not a regular file (a FIFO, "
        "a folder), unreadable, or a symlink leading out of the dump or to nothing. Rules or modules in "
        "them are missing from every other check, so a finding may be absent only because of this."),
        ev, fix, None)


def find_integrity_problems(ctx: Context) -> Iterator[Finding]:
    dump = ctx.dump
    if dump is not None:
        yield from _tampered(dump)
        yield from _unread(dump)
    rows = []
    seen: set[tuple[str, int, str]] = set()
    # each ruleset's problems, then the dump's own (which repeat the rulesets' as well)
    named: list[tuple[str | None, Problem]] = [(name, p) for name, rs in ctx.all_rulesets.items() for p in rs.problems]
    named += [(None, p) for p in (getattr(dump, "problems", None) or [])]
    for name, p in named:
        key = (p.source, p.line, p.message)
        if key in seen:
            continue
        seen.add(key)
        rows.append({"ruleset": name, "origin": f"{p.source}:{p.line}", "problem": p.message, "text": p.text})
    if rows:
        ev = pd.DataFrame(rows, columns=["ruleset", "origin", "problem", "text"])
        yield Finding(
            "unreadable-lines", "info", msg("{n} line(s) of the dump could not be read", n=len(rows)),
            msg("A lenient parse kept everything it could read and skipped these lines; rules on them are "
            "missing from every other check, so a finding may be absent only because its rule was here."),
            ev, [], None)
