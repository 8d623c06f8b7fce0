"""The notes/seed-*.txt files are the seed post's text, unchanged (annotation lines aside)."""

from __future__ import annotations

import pytest

from tests.datasets.seedtext import DATASETS, seed_path
from tests.realparts import need

NOTES = sorted(DATASETS.rglob("notes/seed-*.txt"))


def test_every_dataset_has_seed_notes():
    assert {p.relative_to(DATASETS).parts[0] for p in NOTES} == {"eks-node", "istio-missing-modules", "onprem-dup-hostport"}
    assert len(NOTES) == 11


@pytest.mark.parametrize("note", NOTES, ids=lambda p: p.relative_to(DATASETS).as_posix())
def test_note_lines_are_consecutive_seed_lines(note):
    seed = seed_path()
    need(seed is not None, "the seed post (shared/seed/) is only on the project machine")
    lines = seed.read_text(encoding="utf-8").split("\n")
    mine = note.read_text(encoding="utf-8").rstrip("\n").split("\n")
    # some prompts occur twice in the post: the note must match the seed at one of them
    starts = [n for n, l in enumerate(lines) if l == mine[0]]
    assert any(_follows(lines, s, mine) for s in starts), note.name


def _follows(lines: list[str], i: int, mine: list[str]) -> bool:
    """Each note line is the next seed line, skipping only the author's '#…' annotation lines."""
    for line in mine:
        while i < len(lines) and lines[i] != line:
            if not lines[i].startswith("#"):
                return False
            i += 1
        i += 1
    return i <= len(lines)
