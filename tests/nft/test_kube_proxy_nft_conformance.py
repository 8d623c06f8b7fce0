"""kube-proxy's nftables proxier tests, as data (tests/data/kube-proxy-nft, PROVENANCE.md there):
the generator writes kube-proxy's expected ruleset, and every packet flow gets kube-proxy's answer."""

from __future__ import annotations

import pytest

from tests.nft.kube_proxy_nft_adapter import go_answer, go_trace, load_cases, transaction_for_nft
from tests.realparts import nsexec
from workbook.nft.parse_text import parse_nft_text

FAKE, CASES = load_cases()
FLOWS = [(c, f) for c in CASES for f in c.flows]


def test_the_suite_holds_the_upstream_cases():
    assert len(CASES) == 8 and len(FLOWS) == 51


@pytest.mark.parametrize("case,flow", FLOWS, ids=[f"{c.name}#{i}" for i, (c, _) in enumerate(FLOWS)])
def test_flow(case, flow):
    want = (flow["output"], flow.get("masq", False))
    assert go_answer(go_trace(case, FAKE["node_ips"], flow)) == want, flow["name"]


def _listed(ns: str, text: str):
    p = nsexec(ns, "nft", "-f", "-", input=text, check=False)
    assert p.returncode == 0, p.stderr
    listing = nsexec(ns, "nft", "list", "table", "ip", "kube-proxy").stdout
    nsexec(ns, "nft", "delete", "table", "ip", "kube-proxy")
    t = parse_nft_text(listing).table("ip", "kube-proxy")
    chains = {n: ([c.type, c.hook, c.priority, c.policy], [r.text for r in c.rules]) for n, c in t.chains.items()}
    sets = {n: (s.kind, s.type, s.flags, sorted(f"{e.key} : {e.value}" for e in s.elements)) for n, s in t.sets.items()}
    return chains, sets


def test_generator_writes_kube_proxys_expected_ruleset(netns):
    # TestOverallNFTablesRules' expected transaction and our generator's text for the same
    # Services, both loaded into the kernel and listed back: the same chains, rules and elements
    (case,) = [c for c in CASES if c.expected]
    ns = netns("kpnft")
    want_chains, want_sets = _listed(ns, transaction_for_nft(case.expected))
    got_chains, got_sets = _listed(ns, case.text)
    assert got_chains == want_chains
    assert got_sets == want_sets


@pytest.mark.parametrize("case", [c for c in CASES if c.flows], ids=lambda c: c.name)
def test_the_kernel_takes_one_of_our_branches_on_every_upstream_flow(case):
    # the same flows through the real kernel (nft -f, nft monitor trace): each kernel path is one
    # of the simulator's branches with the same DNAT
    import json

    from tests.lab.conftest import need_lab
    from tests.lab.differential import _sctp_available
    from tests.nft.differential_nft import NftCase, run_case
    from workbook.packet import Packet
    need_lab("nft")
    # an SCTP flow needs the kernel's sctp module (as in tests/lab/differential.py); the simulator
    # answers it in test_flow either way
    flows = [f for f in case.flows if f.get("protocol") != "sctp" or _sctp_available()]
    pkts = [Packet(f["source"], f["dest"], f.get("protocol", "tcp"), 40000 + i, f["port"], "eth0")
            for i, f in enumerate(flows)]
    nc = NftCase(case.name, case.text, None, tuple(FAKE["node_ips"]), pkts, [f["name"] for f in flows],
                 accept_local=True)
    bad = [r for r in run_case(nc) if not r["agree"]]
    assert not bad, json.dumps(bad[0], indent=1, default=str)[:6000]
