"""Snippets of the seed post (real command outputs) for the widget tests."""

from __future__ import annotations

from tests.realparts import SHARED, need

SEED = SHARED / "seed" / "000_81fac245e6421696.txt"


def seed_lines() -> list[str]:
    need(SEED.exists(), f"the seed post {SEED} (shared material)")
    return SEED.read_text(encoding="utf-8").splitlines()


def lsmod_block(nth: int) -> str:
    """The nth (0-based) `lsmod` output of the seed, up to the next blank-line gap or prompt."""
    lines = seed_lines()
    starts = [i for i, l in enumerate(lines) if l.rstrip().endswith("# lsmod")]
    out = []
    for l in lines[starts[nth] + 1:]:
        if l.startswith("[root@") or (out and not l.strip() and len(out) > 3) or l.startswith("  •"):
            break
        out.append(l)
    return "\n".join(out) + "\n"
