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
    start = lines.index(mine[0])
    # each note line is the next seed line, skipping only the author's '#…' annotation lines
    i = start
    for line in mine:
        while lines[i] != line:
            assert lines[i].startswith("#"), (note.name, lines[i])
            i += 1
        i += 1
