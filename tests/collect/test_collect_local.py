"""Local collection inside a network namespace (never the host): both backends, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from workbook.collect import collect_local
from workbook.dump import load_dump
from workbook.model import InputError

from tests.collect.conftest import kube_node_rules
from tests.collect.test_collect_ssh import _rules_only
from tests.realparts import ROOT, nsexec

pytestmark = pytest.mark.root

JUMP = "-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT"


def test_local_netns_both_backends(netns, tmp_path):
    ns = netns("col")
    nsexec(ns, "iptables-nft-restore", input=kube_node_rules(services=3))
    # one more copy of portmap's jump in the *legacy* backend: rules split across two backends
    nsexec(ns, "iptables-legacy", "-t", "nat", "-N", "CNI-HOSTPORT-DNAT")
    nsexec(ns, "iptables-legacy", "-t", "nat", "-A", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL",
           "-j", "CNI-HOSTPORT-DNAT")
    res = collect_local(tmp_path / "d", netns=ns, progress=False)
    assert res.ok
    d = load_dump(tmp_path / "d")
    # expected values: the kernel, asked directly
    assert _rules_only(d.text("iptables/iptables-legacy-save.txt")) == _rules_only(nsexec(ns, "iptables-legacy-save").stdout)
    assert _rules_only(d.text("iptables/iptables-nft-save.txt")) == _rules_only(nsexec(ns, "iptables-nft-save").stdout)
    legacy = [r.spec for r in d.rulesets["iptables-legacy"].chain("nat", "PREROUTING").rules]
    nft = [r.spec for r in d.rulesets["iptables-nft"].chain("nat", "PREROUTING").rules]
    assert legacy == [JUMP] and nft.count(JUMP) == 2
    # Debian's default iptables is the nft one, and it warns (on stderr, kept in the manifest) that
    # legacy tables exist too
    assert ("iptables/iptables-save.txt: # Warning: iptables-legacy tables present, use iptables-legacy-save "
            "to see them") in d.notes
    assert "(nf_tables)" in d.text("iptables/iptables-version.txt")
    # /proc/net/ip_tables_names (legacy: nat) ∪ tables in the save output (filter, nat)
    assert d.text("kernel/ip_tables_names.txt") == "nat\n"
    assert sorted(f for f in d.files if "iptables-L-" in f) == ["iptables/iptables-L-filter.txt",
                                                                "iptables/iptables-L-nat.txt"]
    assert d.node_ips == ["127.0.0.1", "::1"]  # the namespace has only lo


def test_cli_local_netns_json(netns, tmp_path):
    ns = netns("cli")
    nsexec(ns, "iptables-restore", input="*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p udp -m udp --dport 9999 -j DROP\nCOMMIT\n")
    p = subprocess.run([sys.executable, "-m", "workbook", "collect", "--local", "--netns", ns, "-o", str(tmp_path / "o"),
                        "--json"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    [r] = json.loads(p.stdout)
    assert r["ok"] and r["path"] == str(tmp_path / "o" / ns)
    assert r["mode"] == "per-command"  # --mode auto: one shell per command locally (measured faster there)
    d = load_dump(r["path"])
    assert [x.spec for x in d.ruleset.chain("filter", "INPUT").rules] == ["-A INPUT -p udp -m udp --dport 9999 -j DROP"]
    # the same folder again: refused, evidence is never overwritten
    p = subprocess.run([sys.executable, "-m", "workbook", "collect", "--local", "--netns", ns, "-o", str(tmp_path / "o")],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2 and p.stderr.strip() == f"nfwb collect: error: {tmp_path / 'o' / ns}: already exists and is not empty (a dump is never overwritten)"


def test_missing_namespace_is_a_clear_error(tmp_path, root_netns):
    with pytest.raises(InputError, match=r"^cannot run commands \(exit \d+\): Cannot open network namespace"):
        collect_local(tmp_path / "x", netns="nfwb-forensics-no-such-ns", progress=False)


def test_extra_command_names_must_stay_inside_the_dump(tmp_path):
    for bad in ("../x.txt", "/etc/x", "MANIFEST.json"):
        with pytest.raises(InputError, match="not a usable file name"):
            collect_local(tmp_path / "x", netns="unused", extra={bad: "true"}, progress=False)
    assert not (tmp_path / "x").exists()
