"""``nfwb trace`` and ``nfwb lab trace`` on nft input: an nft listing, an ``nft -j`` listing, and a
node dump holding both views (iptables-save beside kernel/nft-ruleset.txt)."""

from __future__ import annotations

import json

from tests.lab.conftest import need_lab
from tests.nft.differential_nft import MIXED_IPTABLES
from tests.realparts import nsexec
from workbook.cli import main
from workbook.generate import Service, kube_proxy_nft

SVC = [Service("ns1", "svc1", "p80", "tcp", "10.96.0.41", 80, [("10.244.1.1", 80), ("10.244.1.2", 80)],
               node_port=30001)]
TEXT = kube_proxy_nft(SVC, nodeport_ips=["192.168.0.2"])
ARGS = ["--src", "10.244.9.9", "--dst", "10.96.0.41", "--proto", "tcp", "--dport", "80", "--node-ip", "192.168.0.2",
        "--json"]


def _run(capsys, *argv):
    rc = main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _summary(out: str):
    d = json.loads(out)
    return [(b["verdict"], b["dnat"], [(s["table"], s["chain"], s["action"]) for s in b["steps"] if s["matched"]])
            for b in d["branches"]]


def test_trace_reads_an_nft_listing_and_its_json_form(tmp_path, capsys, netns):
    listing = tmp_path / "ruleset.nft"
    listing.write_text(TEXT)
    rc, out, _ = _run(capsys, "trace", str(listing), *ARGS)
    assert rc == 0
    d = json.loads(out)
    # numgen random mod 2: one branch per endpoint, 1/2 each (hand reasoning from the rules)
    assert [(b["probability"], b["dnat"]) for b in d["branches"]] == [(0.5, "10.244.1.1:80"), (0.5, "10.244.1.2:80")]
    step = d["branches"][0]["steps"][0]
    assert (step["family"], step["table"], step["chain"], step["spec"]) == (
        "ip", "kube-proxy", "filter-prerouting-pre-dnat", "ct state new jump firewall-check")
    # the same ruleset as `nft -j list ruleset` prints it (loaded into a namespace first)
    ns = netns("cli")
    nsexec(ns, "nft", "-f", "-", input=TEXT)
    (tmp_path / "ruleset.json").write_text(nsexec(ns, "nft", "-j", "list", "ruleset").stdout)
    rc, out_json, _ = _run(capsys, "trace", str(tmp_path / "ruleset.json"), *ARGS)
    assert rc == 0 and _summary(out_json) == _summary(out)


def test_trace_a_dump_with_both_views(tmp_path, capsys):
    dump = tmp_path / "node"
    (dump / "iptables").mkdir(parents=True)
    (dump / "kernel").mkdir()
    (dump / "iptables" / "iptables-save.txt").write_text(MIXED_IPTABLES)
    (dump / "kernel" / "nft-ruleset.txt").write_text(TEXT)
    rc, out, _ = _run(capsys, "trace", str(dump), *ARGS)
    assert rc == 0
    d = json.loads(out)
    steps = d["branches"][0]["steps"]
    tables = {(s["table"], s.get("family")) for s in steps}
    # kube-proxy's native table and the CNI's iptables-nft filter table (read from iptables-save)
    assert ("kube-proxy", "ip") in tables and ("filter", None) in tables
    assert d["assumed"] is True and any("priority 0" in n for n in d["notes"])


def test_bad_nft_input_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.nft"
    bad.write_text("table ip t {\n\tchain c {\n\t\ttype filter hook input priority 0; policy accept;\n")
    rc, out, err = _run(capsys, "trace", str(bad), *ARGS)
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1 and "bad.nft" in err


def test_lab_trace_runs_an_nft_listing_in_the_kernel(tmp_path, capsys):
    need_lab("nft")
    listing = tmp_path / "ruleset.nft"
    listing.write_text(TEXT)
    rc, out, _ = _run(capsys, "lab", "trace", str(listing), *ARGS)
    assert rc == 0
    (b,) = json.loads(out)["branches"]
    assert b["dnat"] in ("10.244.1.1:80", "10.244.1.2:80") and b["steps"][0]["handle"] > 0
