"""kube-proxy's own packet-flow expectations (tests/data/kube-proxy/) against our tracer.

Expected values are the ``output``/``masq`` pairs of kube-proxy's Go unit tests (published
by a peer in ../shared/conformance/kube-proxy, copied here with PROVENANCE.md). The
adapter in kube_proxy_adapter.py explains how a kernel-faithful Trace maps onto them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.realparts import DATA
from workbook.trace import Tracer

from .kube_proxy_adapter import GO_TRACER_ROUTING, flow_packet, go_output, is_local_source, load_case

CASES = DATA / "kube-proxy" / "cases"
RECONSTRUCTED = DATA / "kube-proxy" / "cases-reconstructed"

_loaded: dict[Path, object] = {}


def _case(path: Path):
    if path not in _loaded:
        c = load_case(path)
        _loaded[path] = (c, Tracer(c.ruleset, **GO_TRACER_ROUTING))
    return _loaded[path]


def _flows(directory: Path, local_only: bool = False):
    out = []
    for rules in sorted(directory.glob("*.rules")):
        c = load_case(rules)
        for i, f in enumerate(c.flows):
            if local_only and not is_local_source(f):
                continue
            out.append(pytest.param(rules, i, id=f"{c.name[:40]}#{i}:{f['name'][:40]}"))
    return out


def _check(rules: Path, i: int, from_node: bool = False) -> None:
    case, tracer = _case(rules)
    flow = case.flows[i]
    trace = tracer.trace(flow_packet(flow, from_node), flow["nodeIPs"])
    output, masq = go_output(trace)
    # expected: the Go test's own answer for this flow
    assert (output, masq) == (flow["output"], flow["masq"]), (
        f"{case.name} flow {flow['name']!r}: {flow['sourceIP']} -> {flow['destIP']}:{flow['destPort']}"
        f"\nadded base jumps: {case.added}\n" + trace.steps.to_string())
    # the branches of one trace always add up to probability 1
    assert sum(b.probability for b in trace.branches) == pytest.approx(1.0)


@pytest.mark.parametrize("rules,i", _flows(CASES))
def test_extracted_flow(rules: Path, i: int) -> None:
    _check(rules, i)


@pytest.mark.parametrize("rules,i", _flows(RECONSTRUCTED))
def test_reconstructed_flow(rules: Path, i: int) -> None:
    _check(rules, i)


@pytest.mark.parametrize("rules,i", _flows(CASES, local_only=True) + _flows(RECONSTRUCTED, local_only=True))
def test_node_sourced_flow_sent_from_the_node(rules: Path, i: int) -> None:
    # the same expectations when a flow from a node address really starts in OUTPUT
    _check(rules, i, from_node=True)


def test_all_138_extracted_flows_are_collected() -> None:
    # PROVENANCE.md: 46 rule sets, 138 flows in cases/; 6 and 135 in cases-reconstructed/
    assert len(list(CASES.glob("*.rules"))) == 46
    assert len(_flows(CASES)) == 138
    assert len(_flows(RECONSTRUCTED)) == 135
