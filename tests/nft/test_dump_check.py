"""Dumps holding `nft list ruleset`: load_dump reads it; nfwb check sees kube-proxy's nftables mode."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from workbook.checks import check
from workbook.dump import load_dump, save_dump

ROOT = Path(__file__).resolve().parents[2]
DUMPS = ROOT / "tests" / "data" / "dumps"
KP = DUMPS / "nfwb-kube-proxy-nft"
DATA = ROOT / "tests" / "data" / "nft"


def test_our_layout_reads_kernel_nft_ruleset_txt():
    d = load_dump(KP)
    assert d.sources["nft"] == ["kernel/nft-ruleset.txt"] and d.problems == []
    assert [f"{f} {n}" for f, n in d.nft.tables] == ["ip kube-proxy", "ip filter", "ip mangle", "ip nat"]
    # nft printed the warning for filter and nat on stderr (kept in MANIFEST.json); mangle has no
    # base chain yet, it sits beside them
    assert [t.iptables_nft for t in d.nft.tables.values()] == [False, True, True, True]
    # the iptables-save of the same node shows the kubelet/CNI rules only (5)
    assert len(d.ruleset) == 5 and not any(r.chain.startswith("KUBE-SVC") for r in d.ruleset.iter_rules())


def test_sosreport_nft_list_ruleset_is_read():
    d = load_dump(DUMPS / "sosreport-master1-2019-07-01-kzqtnrm")
    assert d.sources["nft"] == ["sos_commands/networking/nft_list_ruleset"]
    # the same 7 rules as ../shared/rulesets/ocp4-master-sosreport-2019.nft-ruleset (PROVENANCE #20)
    assert len(d.nft) == 7 and all(t.iptables_nft for t in d.nft.tables.values())


def test_loose_folder_and_save_dump_keep_the_nft_file(tmp_path):
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "ruleset.txt").write_text((DATA / "kitchen-sink.nft-ruleset").read_text())
    d = load_dump(loose)
    assert d.sources["nft"] == ["ruleset.txt"] and len(d.nft) == 43
    out = save_dump(load_dump(KP), tmp_path / "copy")
    assert (out / "kernel" / "nft-ruleset.txt").read_text() == (KP / "kernel" / "nft-ruleset.txt").read_text()
    assert len(load_dump(out).nft) == len(load_dump(KP).nft)


def test_bad_nft_file_in_a_dump_is_a_problem_not_fatal(tmp_path):
    loose = tmp_path / "d"
    loose.mkdir()
    (loose / "iptables-save.txt").write_text((KP / "iptables" / "iptables-save.txt").read_text())
    (loose / "nft.txt").write_text("table ip t {\n\tchain c {\n\t\tip daddr 1.2.3.4 frobnicate\n\t\taccept\n")
    d = load_dump(loose)
    assert len(d.ruleset) == 5 and [r.text for r in d.nft.iter_rules()] == ["accept"]
    assert [str(p) for p in d.problems] == [
        "nft.txt:3: unknown statement 'frobnicate' in rule: ip daddr 1.2.3.4 frobnicate",
        "nft.txt:2: unbalanced braces: chain c is not closed at end of file"]


def test_check_reports_kube_proxy_nftables_mode_with_its_service_count():
    # 12 service ports of 12 Services, each its own ClusterIP; ns6/svc6:web and ns11/svc11:http have
    # no endpoints (their elements in no-endpoint-services, lines 28-29 of the listing)
    f = check(load_dump(KP))
    mode = [x for x in f if x.id == "kube-proxy-nftables-mode"]
    assert len(mode) == 1 and mode[0].title == "kube-proxy nftables mode: 12 Services, 12 ClusterIPs, 2 without endpoints"
    ne = [x for x in f if x.id == "nft-service-without-endpoints"]
    assert len(ne) == 1 and ne[0].evidence[["element", "service", "origin"]].values.tolist() == [
        ["10.96.46.248 . tcp . 5432", "ns11/svc11:http", "kernel/nft-ruleset.txt:28"],
        ["10.103.182.81 . tcp . 3000", "ns6/svc6:web", "kernel/nft-ruleset.txt:29"]]


def test_cli_check_never_says_zero_services():
    r = subprocess.run([sys.executable, "-m", "workbook", "check", str(KP)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "kube-proxy nftables mode (table ip kube-proxy): 12 Services (12 service ports), 12 ClusterIPs, " \
           "2 without endpoints (2 service ports), 110 rules" in r.stdout
    assert "0 Services" not in r.stdout
    r = subprocess.run([sys.executable, "-m", "workbook", "check", "--json", str(KP / "kernel" / "nft-ruleset.txt")],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and {x["id"] for x in json.loads(r.stdout)["findings"]} == {
        "kube-proxy-nftables-mode", "nft-service-without-endpoints"}
