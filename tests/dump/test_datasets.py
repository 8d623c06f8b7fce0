"""The project's datasets (built by the datasets helper in our layout) load cleanly and verify."""

from __future__ import annotations

import pytest

from workbook.dump import load_dump

from tests.realparts import ROOT

DATASETS = sorted(p.parent for p in (ROOT / "datasets").rglob("MANIFEST.json"))


def test_there_are_datasets():
    assert ROOT / "datasets" / "eks-node" in DATASETS


@pytest.mark.parametrize("path", DATASETS, ids=lambda p: str(p.relative_to(ROOT / "datasets")))
def test_dataset_loads_and_verifies(path):
    d = load_dump(path)  # strict: every file matches its MANIFEST.json sha256 and size
    assert d.layout == "nfwb" and d.tampered == []
    assert d.ruleset is not None and d.ruleset is d.rulesets["iptables"]
    assert d.problems == [], [str(p) for p in d.problems]
    # the three forms of the same kernel state agree rule for rule where they were collected
    for other in ("iptables-L", "iptables-S"):
        if other in d.rulesets:
            for t, table in d.ruleset.tables.items():
                assert [len(c) for c in table] == [len(d.rulesets[other].tables[t].chains[c.name]) for c in table]


def test_eks_node_dataset():
    d = load_dump(ROOT / "datasets" / "eks-node")
    # the seed post's EKS worker: ip-192-168-3-215, 192.168.3.215 on its primary ENI
    assert d.host == "ip-192-168-3-215"
    assert "192.168.3.215" in d.node_ips
    # the seed's lsmod shows nf_tables loaded (iptables-nft node)
    assert d.modules is not None and "nf_tables" in d.modules
