"""load_dump on the EKS log collector's and sosreport's layouts and on a loose folder of files."""

from __future__ import annotations

import shutil

from workbook.dump import load_dump

from tests.realparts import DATA

EKS = DATA / "dumps" / "eks_i-0f1e2d3c4b5a69788_2026-01-01_0000-UTC_0.7.9"
SOS = DATA / "dumps" / "sosreport-master1-2019-07-01-kzqtnrm"


def test_eks_layout():
    d = load_dump(EKS)
    assert d.layout == "eks"
    # identity from the collector's archive/folder name eks_<instance>_<YYYY-MM-DD_HHMM-UTC>_<ver>
    assert d.host == "i-0f1e2d3c4b5a69788" and d.collected_at == "2026-01-01T00:00:00Z"
    assert d.ruleset is d.rulesets["iptables"]
    assert d.sources["iptables"] == ["networking/iptables-save.txt"]
    # the node printed nothing for ip6tables-save (an empty file): still the IPv6 ruleset, by its command
    assert d.rulesets["ip6tables"].family == "ipv6" and len(d.rulesets["ip6tables"]) == 0
    pre = [r.spec for r in d.ruleset.chain("nat", "PREROUTING").rules]
    # the fixture script appended portmap's jump twice after kube-proxy's
    assert pre == ['-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
                   "-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT",
                   "-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT"]
    # EKS runs iptables-save without -c: no counters
    assert all(r.pkts is None for r in d.ruleset.iter_rules())
    # no `ip addr` in an EKS dump: the `local` routes of `ip route show table all` (the netns had lo + eth0
    # 192.168.3.215/19); 127.0.0.0/8 is a local *range*, not an address
    assert d.node_ips == ["127.0.0.1", "192.168.3.215", "::1"]
    # modinfo/ip_vs is a grep of lsmod, never taken as the module list
    assert d.modules is None and any("modinfo/ip_vs" in n for n in d.notes)
    assert d.problems == [] or all("listing" in p.message for p in d.problems)


def test_eks_listings_with_trailer():
    d = load_dump(EKS)
    L = d.rulesets["iptables-L"]
    assert set(L.tables) == {"mangle", "filter", "nat"}
    # same kernel, same moment: the nat listing has as many rules as the save file's nat table (70,
    # also what the collector's own `sed | wc -l` trailer says), PREROUTING the same 3
    assert len(list(L.table("nat").rules())) == 70 == len(list(d.ruleset.table("nat").rules()))
    assert len(L.table("nat").chain("PREROUTING").rules) == 3
    assert not any("trailer says" in p.message for p in d.problems)


def test_eks_truncated_listing_is_a_problem(tmp_path):
    dst = tmp_path / EKS.name
    shutil.copytree(EKS, dst)
    f = dst / "networking" / "iptables-filter.txt"
    lines = f.read_text().splitlines(keepends=True)
    # drop one rule row (the first line starting with spaces and a digit) but keep the trailer
    i = next(k for k, l in enumerate(lines) if l.lstrip()[:1].isdigit() and not l.startswith("Chain"))
    f.write_text("".join(lines[:i] + lines[i + 1:]))
    d = load_dump(dst)
    assert any(p.source == "networking/iptables-filter.txt" and "trailer says" in p.message for p in d.problems)
    # the save form still loads: one bad file never loses the rest
    assert len(d.ruleset.table("nat").chain("PREROUTING").rules) == 3


def test_sosreport_layout():
    d = load_dump(SOS)
    assert d.layout == "sosreport"
    assert d.host == "master1"   # from the `hostname` file
    assert d.collected_at == "2019-07-01"  # from the friendly archive name
    # sos_commands/networking/ip_-o_addr of the OCP4 master: lo, eth0 172.16.1.10 and their v6 twins
    assert d.node_ips == ["127.0.0.1", "::1", "172.16.1.10", "fe80::6f03:6200:832a:7582"]
    ns = d.rulesets["netns/cni-0f1e2d"]
    assert list(ns.tables) == ["raw", "filter", "nat"] and len(ns) == 19  # 19 rules per PROVENANCE of the file
    assert d.text("lsmod") == d.text("sos_commands/kernel/lsmod")  # root symlink inside the dump
    assert d.text("sos_commands/networking/nft_list_ruleset").startswith("table ip nat {")


def test_sosreport_listing_and_modules():
    d = load_dump(SOS)
    # no iptables-save on the host: the main ruleset comes from the nat listing
    assert d.ruleset is d.rulesets["iptables-L"]
    assert list(d.ruleset.tables) == ["nat"]
    # k8s-flannel listing: PREROUTING has 2 rules, 20 chains (PROVENANCE of the public file)
    assert [r.target for r in d.ruleset.chain("nat", "PREROUTING").rules] == ["KUBE-SERVICES", "DOCKER"]
    assert len(d.ruleset.tables["nat"].chains) == 20
    # ocp4 lsmod: 81 modules, iptables-nft set, no iptable_nat
    assert len(d.modules.names) == 81
    assert "nft_compat" in d.modules and "iptable_nat" not in d.modules


def test_loose_folder_detects_by_content(tmp_path):
    (tmp_path / "a").write_bytes((EKS / "networking" / "iptables-save.txt").read_bytes())
    (tmp_path / "b").write_bytes((SOS / "sos_commands" / "networking" / "ip_-o_addr").read_bytes())
    (tmp_path / "c").write_text("just some notes\n")
    (tmp_path / "d.bin").write_bytes(b"\x00\x01\x02")
    (tmp_path / "e").write_text("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j NOPE --bogus\n")  # no COMMIT
    d = load_dump(tmp_path)
    assert d.layout == "loose"
    assert d.sources["iptables"] == ["a"]
    assert len(d.ruleset.table("nat").chain("PREROUTING").rules) == 3
    assert d.node_ips[2] == "172.16.1.10"
    # the broken save file is a problem, named by file:line; everything else loaded
    assert any(p.source == "e" for p in d.problems)
