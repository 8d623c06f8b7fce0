"""Where the shared public dumps are: ``tests.realparts.SHARED``, or ``/work/shared`` from a worktree."""

from __future__ import annotations

import os
from pathlib import Path

from tests.realparts import SHARED

_candidates = [Path(os.environ["NFWB_SHARED"])] if os.environ.get("NFWB_SHARED") else []
_candidates += [SHARED, Path("/work/shared")]
SHARED_DIR: Path = next((p for p in _candidates if p.is_dir()), SHARED)
RULESETS: Path = SHARED_DIR / "rulesets"
