"""Stale conntrack findings, proven on real entries made by real packets in a namespace: kube-dns
had two endpoints, flows were DNATed to both, then one endpoint went away."""

from __future__ import annotations

import shlex

import pytest

from tests.realparts import nsexec, veth_link
from workbook import check
from workbook.dump import load_dump, save_dump
from workbook.generate import Service, kube_proxy_nft, kube_proxy_save
from workbook.parse.conntrack import parse_conntrack

DNS_IP = "10.96.0.10"
OLD, KEPT, NEW = "10.244.1.5", "10.244.2.7", "10.244.3.9"


def _dns(*endpoints: str, mode: str = "iptables") -> str:
    svc = [Service("kube-system", "kube-dns", "dns", "udp", DNS_IP, 53, [(ip, 53) for ip in endpoints])]
    return kube_proxy_save(svc) if mode == "iptables" else kube_proxy_nft(svc)


def _load(node: str, mode: str, *endpoints: str) -> None:
    """Load kube-proxy's rules for kube-dns as kube-proxy would (replacing what was there)."""
    if mode == "iptables":
        nsexec(node, "iptables-restore", input=_dns(*endpoints))
    else:
        nsexec(node, "nft", "flush", "ruleset")
        nsexec(node, "nft", "-f", "-", input=_dns(*endpoints, mode="nftables"))


def _node_with_peer(netns) -> str:
    node, peer = netns("ctnode"), netns("ctpeer")
    veth_link((node, "ctn0", "10.0.0.1/24"), (peer, "ctn1", "10.0.0.2/24"))
    nsexec(node, "ip", "route", "add", "10.244.0.0/16", "via", "10.0.0.2")
    nsexec(node, "ip", "route", "add", "10.96.0.0/12", "dev", "ctn0")
    return node


def _send_dns_queries(node: str, n: int) -> None:
    nsexec(node, "python3", "-c",
           "import socket\n"
           f"for i in range({n}):\n"
           "    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
           "    u.bind(('', 41000 + i))\n"   # distinct source ports: one entry per query, never merged
           f"    u.sendto(b'q', ('{DNS_IP}', 53))\n")


def _dump(tmp_path, node: str, name: str):
    """What the collector takes from the node: both rule views, conntrack, addresses."""
    files = {"iptables/iptables-save.txt": nsexec(node, "iptables-save", "-c").stdout,
             "kernel/nft-ruleset.txt": nsexec(node, "nft", "-a", "list", "ruleset").stdout,
             "kernel/conntrack.txt": nsexec(node, "conntrack", "-L", "-o", "extended").stdout,
             "network/ip-addr.txt": "2: ctn0    inet 10.0.0.1/24 scope global ctn0\n"}
    return load_dump(save_dump(files, tmp_path / name))


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_entries_to_a_removed_endpoint_are_found_and_their_fix_deletes_only_them(netns, tmp_path, mode):
    node = _node_with_peer(netns)
    _load(node, mode, OLD, KEPT)
    _send_dns_queries(node, 40)   # each flow picks OLD or KEPT with p = 1/2 (kube-proxy's statistic rule)
    before = parse_conntrack(nsexec(node, "conntrack", "-L", "-o", "extended").stdout)
    dests = {e.dnat for e in before if e.original.dst == DNS_IP}
    assert dests == {f"{OLD}:53", f"{KEPT}:53"}     # 40 flows on two endpoints: both taken (1 - 2^-39)

    # the OLD pod is deleted: kube-proxy rewrites the rules with KEPT and a NEW endpoint
    _load(node, mode, KEPT, NEW)
    dump = _dump(tmp_path, node, "after")
    assert set(dump.conntrack.query("service == 'kube-system/kube-dns:dns'").status) == {"live", "stale-endpoint"}

    found = [f for f in check(dump) if f.id == "stale-conntrack-entry"]
    assert len(found) == 1
    finding = found[0]
    n_old = sum(1 for e in before if e.dnat == f"{OLD}:53")
    assert len(finding.evidence) == n_old and set(finding.evidence.endpoint) == {f"{OLD}:53"}
    assert finding.fix == [f"conntrack -D -p udp --orig-dst {DNS_IP} --orig-port-dst 53 --reply-src {OLD} "
                           "--reply-port-src 53"]

    # the printed fix, run in the namespace, deletes the OLD entries and leaves every KEPT one
    nsexec(node, *shlex.split(finding.fix[0]))
    left = parse_conntrack(nsexec(node, "conntrack", "-L", "-o", "extended").stdout)
    assert {e.dnat for e in left if e.original.dst == DNS_IP} == {f"{KEPT}:53"}
    assert sum(1 for e in left if e.dnat == f"{KEPT}:53") == 40 - n_old


def test_udp_entries_made_while_the_service_had_no_endpoint(netns, tmp_path):
    node = _node_with_peer(netns)
    nsexec(node, "iptables-restore", input=_dns())            # kube-dns without endpoints: REJECT
    # kube-proxy REJECTs in filter OUTPUT; a resolver retrying through a policy that lets it pass
    # (here: the REJECT rules removed, as during a kube-proxy restart) leaves an un-DNATed entry
    nsexec(node, "iptables", "-F", "KUBE-SERVICES")
    _send_dns_queries(node, 3)
    nsexec(node, "iptables-restore", input=_dns(KEPT))          # the endpoint came back
    dump = _dump(tmp_path, node, "after")
    found = [f for f in check(dump) if f.id == "conntrack-not-dnated"]
    assert len(found) == 1 and len(found[0].evidence) == 3
    assert found[0].fix == [f"conntrack -D -p udp --orig-dst {DNS_IP} --orig-port-dst 53 --reply-src {DNS_IP} "
                            "--reply-port-src 53"]
    assert not [f for f in check(dump) if f.id == "stale-conntrack-entry"]    # near miss: nothing is stale


def _table_dump(tmp_path, count: int, limit: int):
    entry = ("ipv4     2 udp      17 29 src=10.0.0.1 dst=10.0.0.9 sport=4000 dport=53 [UNREPLIED] "
             "src=10.0.0.9 dst=10.0.0.1 sport=53 dport=4000 mark=0 use=1\n")
    return load_dump(save_dump({"iptables/iptables-save.txt": "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n",
                                "kernel/conntrack.txt": entry, "kernel/conntrack-count.txt": f"{count}\n",
                                "kernel/sysctl.txt": f"net.netfilter.nf_conntrack_max = {limit}\n"},
                               tmp_path / f"t{count}"))


def test_a_table_near_or_at_nf_conntrack_max(tmp_path):
    # 90% of 1000 is the warning line; at 1000 the kernel drops new flows
    ids = {c: [(f.id, f.severity) for f in check(_table_dump(tmp_path, c, 1000)) if "table" in f.id]
           for c in (899, 900, 1000)}
    assert ids == {899: [], 900: [("conntrack-table-near-full", "warning")],
                   1000: [("conntrack-table-full", "error")]}
    full = [f for f in check(_table_dump(tmp_path, 1001, 1000)) if f.id == "conntrack-table-full"][0]
    assert full.fix[0] == "sysctl -w net.netfilter.nf_conntrack_max=2000"
