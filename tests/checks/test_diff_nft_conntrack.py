"""nfwb diff between dumps: nft rules per chain, set/map elements, and conntrack entries per Service/status.
Expected rows are reasoned from what changed between the two inputs (written beside each assertion)."""

from __future__ import annotations

import json

from workbook.cli import main
from workbook.diff import diff_rulesets
from workbook.diff_nft import diff_conntrack, diff_nft
from workbook.dump import load_dump, save_dump
from workbook.generate import Service, kube_proxy_nft
from workbook.nft.parse_text import parse_nft_text

from tests.datasets.seedtext import DATASETS

DNS = "10.100.0.10"
OLD, KEPT = "192.168.7.160", "192.168.7.183"


def _cluster(dns: list[str], web: bool) -> str:
    svcs = [Service("kube-system", "kube-dns", "dns", "udp", DNS, 53, [(ip, 53) for ip in dns])]
    if web:
        svcs.append(Service("default", "web", "http", "tcp", "10.100.41.7", 80, [("192.168.7.130", 8080)]))
    return kube_proxy_nft(svcs, service_cidr="10.100.0.0/16")


def test_endpoint_swap_and_a_new_service_in_kube_proxy_nft():
    a = parse_nft_text(_cluster([OLD], web=False), "a")
    b = parse_nft_text(_cluster([KEPT], web=True), "b")
    rows = diff_nft(a, b)
    changes = {(r["change"], r["chain"] or r["set"], r["text"]) for r in rows}
    # the new Service: its ClusterIP joins the cluster-ips set and the service-ips verdict map
    assert ("element-added", "cluster-ips", "10.100.41.7") in changes
    assert any(c == "element-added" and s == "service-ips" and t.startswith("10.100.41.7 . tcp . 80 : goto service-")
               for c, s, t in changes)
    # kube-dns's endpoint chain for OLD goes, one for KEPT comes; nothing of kube-dns's map element changes
    chains = {(r["change"], r["chain"]) for r in rows if r["change"].startswith("chain-")}
    assert ("chain-removed", f"endpoint-{_hash_of(a, OLD)}") in chains
    assert ("chain-added", f"endpoint-{_hash_of(b, KEPT)}") in chains
    assert not any(r["set"] == "service-ips" and r["text"].startswith(DNS) for r in rows)
    # the numgen rule of kube-dns's service chain now names KEPT's chain: one rule out, one in, same position
    svc = [r for r in rows if (r["chain"] or "").startswith("service-") and "kube-dns" in r["chain"]]
    assert [(r["change"], r["position_a"], r["position_b"]) for r in svc if "numgen" in r["text"]] == \
        [("removed", 2, None), ("added", None, 2)]
    assert diff_nft(a, a) == []


def _hash_of(rs, ip: str) -> str:
    (name,) = [c for t in rs.tables.values() for c in t.chains if c.startswith("endpoint-") and f"__{ip}/" in c]
    return name[len("endpoint-"):]


def test_conntrack_summary_between_two_dumps(tmp_path):
    node = DATASETS / "nft-mode-node"
    files = {rel: (node / rel).read_text() for rel in ("iptables/iptables-save.txt", "kernel/nft-ruleset.txt",
                                                        "network/ip-addr.txt")}
    ct = (node / "kernel" / "conntrack.txt").read_text().splitlines()
    # after `conntrack -D … --reply-src OLD`: the three entries to the deleted coredns pod are gone
    cleaned = [l for l in ct if f"src={OLD} " not in l]
    assert len(cleaned) == len(ct) - 3
    a = load_dump(save_dump({**files, "kernel/conntrack.txt": "\n".join(ct) + "\n"}, tmp_path / "a"))
    b = load_dump(save_dump({**files, "kernel/conntrack.txt": "\n".join(cleaned) + "\n"}, tmp_path / "b"))
    assert diff_conntrack(a.conntrack, b.conntrack) == [
        {"service": "kube-system/kube-dns:dns", "status": "stale-endpoint", "entries_a": 3, "entries_b": 0,
         "delta": -3}]
    d = diff_rulesets(a, b)
    assert bool(d) and d.rows == [] and d.nft_rows == []          # same rules, only conntrack changed
    assert "# kube-system/kube-dns:dns stale-endpoint: 3 -> 0 (-3)" in d.text()


def test_cli_diff_of_the_mode_switch(capsys):
    a, b = DATASETS / "nft-mode-node", DATASETS / "mode-switch-leftovers"
    assert main(["diff", str(a), str(b), "--json", "--no-counters"]) == 1
    doc = json.loads(capsys.readouterr().out)
    # the leftovers are iptables-mode chains: seen in iptables-save's view (with comments), not twice in nft's
    assert {c["chain"] for c in doc["changes"] if c["change"] == "chain-added"} >= {"KUBE-SERVICES", "KUBE-MARK-MASQ"}
    assert doc["nft"] == []                # kube-proxy's nft table is the same in both; iptables-nft tables skipped
    assert doc["conntrack"] == []          # the same packets were sent to both
    assert main(["diff", str(a), str(a)]) == 0
