"""Format detection over every public dump and the seed's pasted sessions, and parse() dispatch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from workbook.model import Ruleset
from workbook.parse import parse
from workbook.parse.detect import detect_format, read_input
from workbook.parse.lsmod import Modules

from tests.realparts import DATA, ROOT, need, public_ruleset

# format by how each file was produced (PROVENANCE.md), not by what the detector says
EXPECTED = {
    "docker-dfwfw-topos4.1.iptables-save": "save", "fffuu-parser-test.ip6tables-save": "save",
    "fffuu-parser-test.iptables-save": "save", "iptables-tests-2003-v1.2.4.iptables-save": "save",
    "iptables-tests-fedora27-firewalld.iptables-save-c": "save", "iptables-tests-wireless.iptables-save": "save",
    "k8s-flannel-docker-2019.nat.iptables-Ln": "listing", "k8s-flannel-docker-2019.nat.iptables-Lnv": "listing",
    "medium-company-2016.iptables-save": "save", "moby-bridge-portmap-wsl2.iptables-save": "save",
    "ocp4-master-sosreport-2019.lsmod": "lsmod", "serverfault-759927-ipset-whitelist.iptables-save": "save",
    "shorewall-sqrl-2014.iptables-save": "save", "synology-ds414-2016.ip6tables-save": "save",
    "tails-1.4.1.iptables-Lv": "listing", "tum-i8-2016-06-27.ip6tables-save": "save",
    "tum-i8-2016-06-27.iptables-Lnv": "listing", "tum-i8-2016-06-27.iptables-save": "save",
    "ufw-server1.iptables-Lnv": "listing", "ufw-server1.iptables-save": "save",
}
# PROVENANCE.md rule counts (save: -A lines; listing: rule rows; lsmod: modules)
COUNTS = {"tum-i8-2016-06-27.iptables-save": 5556, "tum-i8-2016-06-27.ip6tables-save": 6203,
          "tum-i8-2016-06-27.iptables-Lnv": 5529, "medium-company-2016.iptables-save": 598,
          "shorewall-sqrl-2014.iptables-save": 404, "ufw-server1.iptables-save": 70, "ufw-server1.iptables-Lnv": 70,
          "tails-1.4.1.iptables-Lv": 32, "synology-ds414-2016.ip6tables-save": 47,
          "docker-dfwfw-topos4.1.iptables-save": 36, "serverfault-759927-ipset-whitelist.iptables-save": 23,
          "fffuu-parser-test.iptables-save": 43, "fffuu-parser-test.ip6tables-save": 8,
          "iptables-tests-fedora27-firewalld.iptables-save-c": 73, "iptables-tests-wireless.iptables-save": 58,
          "iptables-tests-2003-v1.2.4.iptables-save": 55, "ocp4-master-sosreport-2019.lsmod": 81,
          "k8s-flannel-docker-2019.nat.iptables-Lnv": 43, "k8s-flannel-docker-2019.nat.iptables-Ln": 43,
          "moby-bridge-portmap-wsl2.iptables-save": 19}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_public_dump_detected_and_parsed(name):
    path = public_ruleset(name)
    need(path.exists(), f"{path} not present (../shared is only on the project machine)")
    text, source = read_input(path)
    assert detect_format(text, source) == EXPECTED[name]
    obj = parse(path)
    assert len(obj) == COUNTS[name]
    assert not obj.problems
    if name.endswith("ip6tables-save"):
        assert obj.family == "ipv6"


@pytest.mark.parametrize("name,fmt", [("spec-filter-prompt.txt", "spec"), ("spec-session-with-prose.txt", "spec"),
                                      ("listing-prerouting-column-t.txt", "listing"),
                                      ("listing-calico-prerouting.txt", "listing"), ("lsmod-nft.txt", "lsmod"),
                                      ("lsmod-iptable.txt", "lsmod")])
def test_seed_pastes_detected(name, fmt):
    text, source = read_input(DATA / "seed" / name)
    assert detect_format(text, source) == fmt


def test_parse_returns_modules_for_lsmod():
    m = parse(DATA / "seed" / "lsmod-nft.txt")
    assert isinstance(m, Modules) and "nft_compat" in m
    assert isinstance(parse(DATA / "seed" / "spec-filter-prompt.txt"), Ruleset)


def test_pasted_iptables_save_session():
    text = "[root@node ~]# iptables-save\n*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j DROP\nCOMMIT\n[root@node ~]#\n"
    rs = parse(text)
    assert rs.format == "save" and [r.spec for r in rs.iter_rules()] == ["-A INPUT -j DROP"]


@pytest.mark.parametrize("name", ["listing-prerouting-column-t.txt", "spec-filter-prompt.txt", "lsmod-nft.txt"])
def test_cli_every_format(name):
    path = DATA / "seed" / name
    for extra in ([], ["--csv"], ["--json"]):
        p = subprocess.run([sys.executable, "-m", "workbook", "parse", str(path), *extra], cwd=ROOT,
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        if extra == ["--json"]:
            rows = json.loads(p.stdout)
            assert rows and ("spec" in rows[0] or "module" in rows[0])
