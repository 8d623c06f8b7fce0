"""Where the shared reference data lives, seen from a worktree or from main."""

from __future__ import annotations

from pathlib import Path

from tests.realparts import DATA, ROOT, SHARED

#: /work/shared from /work/main (ROOT.parent) or from a worktree /work/wt/<name> (ROOT.parent.parent).
SHARED_DIR: Path = next((p for p in (SHARED, ROOT.parent.parent / "shared") if p.exists()), SHARED)
RULESETS = SHARED_DIR / "rulesets"
CHECKS_DATA = DATA / "checks"
