"""datasets/nft-mode-node and datasets/mode-switch-leftovers: an nftables-mode node with real conntrack
entries, and the same node switched modes without cleanup. Expected values come from the build's story
(datasets/sources/nftnode.py: which Services, which endpoints in which phase, which source ports)."""

from __future__ import annotations

import pytest

from workbook import check
from workbook.dump import load_dump

from tests.datasets.seedtext import DATASETS

NFT = DATASETS / "nft-mode-node"
SWITCHED = DATASETS / "mode-switch-leftovers"
OLD_DNS, KEPT_DNS = "192.168.7.160", "192.168.7.183"


def _ids(dump) -> list[str]:
    return [f.id for f in check(dump)]


@pytest.fixture(scope="module")
def nft_node():
    return load_dump(NFT)


@pytest.fixture(scope="module")
def switched():
    return load_dump(SWITCHED)


def test_kube_proxy_lives_only_in_the_nft_view(nft_node):
    save = (NFT / "iptables" / "iptables-save.txt").read_text()
    listing = (NFT / "kernel" / "nft-ruleset.txt").read_text()
    assert "KUBE-SERVICES" not in save and "KUBE-SVC-" not in save      # nothing of kube-proxy in iptables-save
    assert "table ip kube-proxy" in listing and "# handle " in listing   # nft -a
    assert '"nftables"' in (NFT / "kernel" / "nft-ruleset.json").read_text()[:200]


def test_nftables_mode_services_are_counted(nft_node):
    found = {f.id: f for f in check(nft_node)}
    # services(): kubernetes, kube-dns (2 ports, one ClusterIP), web, reports -> 4 Services, 4 ClusterIPs,
    # and reports has no endpoints (still counted: the contract)
    assert "4 Services, 4 ClusterIPs, 1 without endpoints" in found["kube-proxy-nftables-mode"].title
    assert "mode-switch-leftovers" not in found                             # near miss: no iptables leftovers


def test_real_conntrack_entries_to_the_deleted_coredns_pod_are_stale(nft_node):
    ct = nft_node.conntrack
    # 6 DNS queries (41001-41006) + 1 TCP SYN to web, all [UNREPLIED]: no pod answers in the build
    assert len(ct) == 7
    dns = ct[ct.orig_dst == "10.100.0.10"].sort_values("orig_sport")
    assert list(dns.orig_sport) == [41001, 41002, 41003, 41004, 41005, 41006]
    assert list(dns.reply_src) == [OLD_DNS] * 3 + [KEPT_DNS] * 3          # phase 1, then phase 2
    assert list(dns.status) == ["stale-endpoint"] * 3 + ["live"] * 3      # 183 is still an endpoint
    stale = [f for f in check(nft_node) if f.id == "stale-conntrack-entry"]
    assert len(stale) == 1
    assert stale[0].fix == ["conntrack -D -p udp --orig-dst 10.100.0.10 --orig-port-dst 53 "
                            f"--reply-src {OLD_DNS} --reply-port-src 53"]


def test_mode_switch_leftovers_fire_with_cleanup_lines(switched):
    found = {f.id: f for f in check(switched)}
    leftovers = found["mode-switch-leftovers"]
    assert leftovers.severity == "warning"
    assert any(line.startswith("iptables -t nat -F KUBE-SERVICES") for line in leftovers.fix)
    assert not any("KUBE-KUBELET-CANARY" in line or "KUBE-IPTABLES-HINT" in line for line in leftovers.fix)
    # the real counters: kube-proxy's nft table DNATed first, the leftover nat jump counted nothing,
    # the leftover FORWARD jump counted all 7 new flows
    ev = leftovers.evidence
    nat = ev[(ev.table == "nat") & (ev.chain == "PREROUTING")]
    fwd = ev[(ev.table == "filter") & (ev.chain == "FORWARD") & ev.spec.str.contains("KUBE-FORWARD")]
    assert list(nat.pkts) == [0] and list(fwd.pkts) == [7]
    assert "stale-conntrack-entry" in found and "kube-proxy-nftables-mode" in found
