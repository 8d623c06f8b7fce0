"""check / nfwb check on real NodeDumps (datasets/), and bad dumps (exit 2, one line naming the file)."""

import shutil

from workbook.checks import check
from workbook.cli import main
from workbook.dump import load_dump
from workbook.view.report import write_report

from tests.realparts import ROOT

DATASETS = ROOT / "datasets"
EKS = DATASETS / "eks-node"


def test_eks_node_is_clean():
    d = load_dump(EKS)
    # The seed's EKS worker after its Istio fix: kube-proxy 1.31 + VPC CNI rules as the post shows
    # them, lsmod with iptable_nat/mangle/filter/raw loaded, no duplicated or stray rules: nothing fires.
    assert check(d) == []


def test_eks_node_without_the_modules_fix_fires(tmp_path):
    copy = tmp_path / "eks"
    shutil.copytree(EKS, copy)
    lsmod = copy / "kernel" / "lsmod.txt"
    # drop the four iptable_* lines the seed's modprobe added: the seed's 'before' state
    lines = [l for l in lsmod.read_text().splitlines(keepends=True) if not l.startswith("iptable_")]
    lsmod.write_text("".join(lines))
    (copy / "MANIFEST.json").unlink()         # an edited dump: no manifest to verify against
    fs = check(load_dump(copy))
    assert [f.id for f in fs] == ["missing-kernel-modules"]
    f = fs[0]
    # modules-load.d/istio-iptables.conf in the dump names Istio and lists the modules: an error,
    # and the explanation says the file is there but the modules are not loaded
    assert f.severity == "error" and f.owner == "Istio"
    assert "listed in modules-load.d but not loaded" in f.explanation
    row = f.evidence.set_index("module").loc["iptable_nat"]
    assert row["in_modules_load_d"].endswith("kernel/modules-load.d/istio-iptables.conf:1")


def test_report_of_a_node_dump(tmp_path):
    out = write_report(load_dump(EKS), tmp_path / "eks.html")
    text = out.read_text()
    assert "<svg" in text and "nft_compat" in text and "No findings." in text


def test_tampered_dump_exits_2(tmp_path, capsys):
    copy = tmp_path / "eks"
    shutil.copytree(EKS, copy)
    save = copy / "iptables" / "iptables-save.txt"
    data = save.read_bytes()
    save.write_bytes(data.replace(b"--dport 53", b"--dport 54", 1))   # same size, other content
    assert save.read_bytes() != data
    assert main(["check", str(copy)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "iptables/iptables-save.txt" in err[0] and "sha256" in err[0]


def test_corrupt_archive_exits_2(tmp_path, capsys):
    bad = tmp_path / "node.tar.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00 this is not really gzip")
    assert main(["check", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "node.tar.gz" in err[0]


def test_lenient_load_of_tampered_dump_reports_it(tmp_path):
    copy = tmp_path / "eks"
    shutil.copytree(EKS, copy)
    save = copy / "iptables" / "iptables-version.txt"
    save.write_text(save.read_text().replace("1.8.9", "1.8.8"))
    fs = check(load_dump(copy, strict=False))
    # the version file was edited after collection: one error naming it
    t = fs.by_id("tampered-evidence")
    assert len(t) == 1 and t[0].severity == "error"
    assert t[0].evidence["file"].tolist() == ["iptables/iptables-version.txt"]


def test_lenient_parse_problems_are_listed():
    from workbook.parse import parse_save
    rs = parse_save("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment \"x -j ACCEPT\nCOMMIT\n", "x.rules", strict=False)
    f = check(rs, families=["integrity"])
    assert [(x.id, x.evidence["origin"].tolist()) for x in f] == [("unreadable-lines", ["x.rules:3"])]


def test_sosreport_host_listing_is_checked_beside_a_pod_namespace():
    from workbook.checks.context import Context
    d = load_dump(ROOT / "tests" / "data" / "dumps" / "sosreport-master1-2019-07-01-kzqtnrm")
    # The host's rules are only in `iptables -t <table> -nvL` listings; netns/cni-0f1e2d is a pod's own
    # network namespace (its iptables-save), another ruleset and not a view of the host's: both are checked.
    assert list(Context.of(d).rulesets) == ["iptables-L", "netns/cni-0f1e2d"]
