"""Every dataset folder: MANIFEST.json describes every file with the right sha256/size; dumps parse strictly."""

from __future__ import annotations

import hashlib
import json

import pytest

from workbook.parse import parse

from tests.datasets.seedtext import DATASETS

MANIFESTS = sorted(DATASETS.rglob("MANIFEST.json"))
SAVES = sorted(DATASETS.rglob("iptables/*-save.txt"))


def test_there_are_datasets():
    names = {m.parent.relative_to(DATASETS).as_posix() for m in MANIFESTS}
    assert {"eks-node"} <= names


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.parent.relative_to(DATASETS).as_posix())
def test_manifest_matches_files(manifest):
    data = json.loads(manifest.read_text())
    assert data["format"] == "nfwb-dump/1"
    assert data["tool"] == "netfilter-workbook 0.1.0"
    assert data["collected_at"].endswith("Z")
    folder = manifest.parent
    listed = {}
    for f in data["files"]:
        path = folder / f["path"]
        raw = path.read_bytes()
        assert hashlib.sha256(raw).hexdigest() == f["sha256"], f["path"]
        assert len(raw) == f["size"], f["path"]
        assert set(f) == {"path", "sha256", "size", "command", "exit_code", "collected_at", "note"}
        listed[f["path"]] = f
    # nested dumps (before/, after/) have their own manifest
    nested = {m.parent for m in MANIFESTS if m.parent != folder and folder in m.parents}
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*")
               if p.is_file() and p.name != "MANIFEST.json" and "__pycache__" not in p.parts
               and not any(n in p.parents for n in nested)}
    assert present == set(listed)


@pytest.mark.parametrize("path", SAVES, ids=lambda p: p.relative_to(DATASETS).as_posix())
def test_save_files_parse_strictly(path):
    rs = parse(path, strict=True)
    assert rs.format == "save"
    assert not rs.problems
    # every rule line of the file is a rule of the model (nothing silently dropped)
    assert sum(1 for _ in rs.iter_rules()) == sum(1 for l in path.read_text().splitlines() if l.startswith("["))
