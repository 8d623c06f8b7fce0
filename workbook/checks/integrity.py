"""The dump itself: files whose manifest hash no longer matches, and lines the parsers could not read."""

from __future__ import annotations

from typing import Iterator

import pandas as pd

from .context import Context
from .finding import Finding
from ..i18n import msg

__all__ = ["find_integrity_problems"]


def find_integrity_problems(ctx: Context) -> Iterator[Finding]:
    dump = ctx.dump
    tampered = list(getattr(dump, "tampered", None) or []) if dump is not None else []
    if tampered:
        base = getattr(dump, "path", "")
        ev = pd.DataFrame({"file": tampered, "origin": [f"{base}/MANIFEST.json" for _ in tampered]})
        yield Finding(
            "tampered-evidence", "error",
            msg("{n} file(s) differ from the dump's MANIFEST.json", n=len(tampered)),
            msg("MANIFEST.json records the sha256 and size of every file at collection time. These files no "
            "longer match, so they were changed (or damaged) after collection: the findings drawn from "
            "them describe the edited files, not the node. Re-collect, or compare with the original "
            "archive before acting on anything below."),
            ev, [f"sha256sum {base}/{f}   # compare with MANIFEST.json" for f in tampered], None)
    rows = []
    seen: set[tuple[str, int, str]] = set()
    # each ruleset's problems, then the dump's own (which repeat the rulesets' as well)
    named = [(name, p) for name, rs in ctx.all_rulesets.items() for p in rs.problems]
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
