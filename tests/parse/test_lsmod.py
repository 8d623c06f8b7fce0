"""lsmod / /proc/modules parsing against the seed's real lsmod pastes and a real sosreport lsmod."""

from __future__ import annotations

import pytest

from workbook.model import ParseError
from workbook.parse.lsmod import parse_lsmod

from tests.realparts import DATA, RULESETS, need

SEED = DATA / "seed"


def test_seed_lsmod_nft_modules():
    m = parse_lsmod((SEED / "lsmod-nft.txt").read_text(), "lsmod-nft.txt")
    # expected: the 11 module lines of the seed paste (lines 179-189), prompt + header + blank skipped
    assert len(m) == 11
    assert {"nf_tables", "nft_compat", "xt_comment", "nf_nat"} <= m.names
    assert "ip_tables" not in m and "nf_tables" in m
    row = m.frame.set_index("module").loc["nf_conntrack"]
    # seed: "nf_conntrack          184320  7 xt_conntrack,nf_nat,xt_state,xt_nat,nf_conntrack_netlink,xt_connmark,xt_MASQUERADE"
    assert int(row["size"]) == 184320 and int(row["used_by_count"]) == 7
    assert row["used_by"] == ["xt_conntrack", "nf_nat", "xt_state", "xt_nat", "nf_conntrack_netlink",
                              "xt_connmark", "xt_MASQUERADE"]
    # seed: "xt_comment             16384  96" — no dependants listed
    assert m.get("xt_comment").used_by == () and m.get("xt_comment").used_by_count == 96
    assert list(m.frame.columns) == ["module", "size", "used_by_count", "used_by"]


def test_seed_lsmod_after_modprobe():
    m = parse_lsmod((SEED / "lsmod-iptable.txt").read_text(), "lsmod-iptable.txt")
    # seed lines 209-212: iptable_raw, iptable_filter, iptable_mangle, iptable_nat, each "16384  0"
    assert [x.name for x in m] == ["iptable_raw", "iptable_filter", "iptable_mangle", "iptable_nat"]
    assert all(x.size == 16384 and x.used_by_count == 0 for x in m)
    assert "iptable_nat" in m._repr_html_() and "4 modules" in m.summary()


def test_proc_modules_form():
    # /proc/modules lines as the kernel prints them (module_show: name size refcnt deps, state addr)
    text = ("nf_nat 57344 3 xt_nat,nft_chain_nat,xt_MASQUERADE, Live 0x0000000000000000\n"
            "x_tables 53248 11 xt_conntrack,nft_compat,xt_comment, Live 0xffffffffc0a4c000\n"
            "ip_tables 32768 0 - Live 0x0000000000000000\n")
    m = parse_lsmod(text, "/proc/modules")
    assert m.format == "proc-modules"
    assert m.get("nf_nat").used_by == ("xt_nat", "nft_chain_nat", "xt_MASQUERADE")
    assert m.get("ip_tables").used_by == () and m.get("ip_tables").used_by_count == 0
    assert m.get("x_tables").state == "Live"


def test_sosreport_lsmod():
    path = RULESETS / "ocp4-master-sosreport-2019.lsmod"
    need(path.exists(), f"{path} not present (../shared is only on the project machine)")
    m = parse_lsmod(path.read_text(), str(path))
    # PROVENANCE.md: 81 modules, nft set (nft_compat, nft_chain_nat_ipv4), no ip_tables/iptable_*
    assert len(m) == 81
    assert "nft_compat" in m and "nft_chain_nat_ipv4" in m
    assert not any(n.startswith(("ip_tables", "iptable_")) for n in m.names)


def test_bad_line_strict_and_lenient():
    text = "Module                  Size  Used by\nxt_comment 16384 96\nsomething else here\n"
    with pytest.raises(ParseError) as e:
        parse_lsmod(text, "lsmod.txt")
    assert str(e.value) == "lsmod.txt:3: not an lsmod line: 'something else here'"
    m = parse_lsmod(text, "lsmod.txt", strict=False)
    assert m.names == {"xt_comment"} and [p.line for p in m.problems] == [3]
