"""The shape generators without a kernel: deterministic, parseable, within the kernel's name
limits, their flows sendable, and their chain names those of the real dumps they are modelled on."""

from __future__ import annotations

import random
import re

import pytest

from tests.differential.flows import _sendable, flows
from tests.differential.shapes import GENERATORS, shaped
from tests.realparts import public_ruleset
from workbook.parse import parse_save

SEEDS = range(12)


@pytest.mark.parametrize("shape", sorted(GENERATORS))
def test_generated_rulesets_parse_and_are_reproducible(shape):
    for seed in SEEDS:
        s = shaped(shape, seed)
        assert s.save == shaped(shape, seed).save
        rs = parse_save(s.save, f"{shape}-{seed}.rules")
        assert parse_save(rs.to_save(), "again.rules").to_save() == rs.to_save()
        for t in rs.tables.values():
            for name in t.chains:
                assert len(name) <= 28, name  # iptables-nft: "chain name too long (must be under 29 chars)"
        for r in rs.iter_rules():
            if r.target and r.target in rs.tables[r.table].chains:
                continue
            assert r.target is None or r.target.isupper(), (r.spec, "jumps to an undeclared chain")
        for name in s.ipsets or {}:
            assert len(name) <= 31, name
        assert s.out_iface not in s.in_ifaces


@pytest.mark.parametrize("shape", sorted(GENERATORS))
def test_flows_are_sendable_and_mostly_aimed(shape):
    for seed in SEEDS:
        s = shaped(shape, seed)
        pkts = flows(s, 10, random.Random(seed))
        assert len(pkts) == 10
        assert all(p.from_node or p.in_iface != s.out_iface for p in pkts)
        aimed = [p for p in pkts if not p.extra["label"].startswith("noise")]
        assert len(aimed) >= 6, [p.extra for p in pkts]
        assert any(_sendable(s, h) for h in s.hints)


def _chains(text: str) -> set[str]:
    return set(re.findall(r"^(?::|-N )(\S+)", text, re.M))


def test_firewalld_chains_are_firewalld_s():
    # every filter chain the generator names for zone FedoraWorkstation is one of the real dump's
    real = public_ruleset("iptables-tests-fedora27-firewalld.iptables-save-c").read_text()
    real_filter = _chains(real.split("*filter", 1)[1])
    seen = 0
    for seed in range(40):
        s = shaped("firewalld", seed)
        if "FedoraWorkstation" not in s.save:
            continue
        gen = _chains(s.save.split("*filter", 1)[1].split("COMMIT", 1)[0])
        gen = {c for c in gen if "FedoraWorkstation" in c or c.endswith(("_direct", "_ZONES", "_ZONES_SOURCE"))}
        assert gen <= real_filter, gen - real_filter
        seen += 1
    assert seen >= 3


def test_istio_chains_are_istio_s():
    real = _chains(public_ruleset("istio-sidecar-tproxy.golden").read_text())
    for seed in SEEDS:
        gen = {c for c in _chains(shaped("istio", seed).save) if c.startswith("ISTIO")}
        assert gen and gen <= real, gen - real
