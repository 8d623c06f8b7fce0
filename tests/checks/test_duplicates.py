"""duplicate-rule: the seed's duplicated CNI-HOSTPORT-DNAT jump, normalised duplicates, near misses, TUM."""

from collections import Counter

from workbook.checks import check
from workbook.parse import parse, parse_save

from tests.checks.shared import CHECKS_DATA
from tests.realparts import RULESETS, need


def dups(rs):
    return check(rs, families=["duplicates"])


def test_seed_after_has_one_duplicate_with_exact_commands():
    fs = dups(parse(CHECKS_DATA / "seed-prerouting-after.iptables-save"))
    assert [f.id for f in fs] == ["duplicate-rule"]
    f = fs[0]
    # The seed's listing: copies 4 and 5 of '-m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT'
    assert f.evidence["position"].tolist() == [4, 5]
    assert f.evidence["origin"].tolist() == [f"{CHECKS_DATA / 'seed-prerouting-after.iptables-save'}:13",
                                            f"{CHECKS_DATA / 'seed-prerouting-after.iptables-save'}:14"]
    assert f.owner == "CNI portmap"
    commands = [c for c in f.fix if not c.startswith("#")]
    # spec form exactly as the brief/seed states; position form names the LAST copy (5)
    assert commands == ["iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT",
                        "iptables -t nat -D PREROUTING 5"]
    for must in ("/var/lib/dockershim/sandbox", "extra_binds", "/var/lib/dockershim:/var/lib/dockershim",
                 "1.24"):
        assert must in f.explanation
    assert any("LAST copy" in c for c in f.fix)


def test_seed_before_has_no_duplicate():
    assert dups(parse(CHECKS_DATA / "seed-prerouting-before.iptables-save")) == []


NORMALISED = '''*filter
:INPUT ACCEPT [0:0]
:KUBE-FIREWALL - [0:0]
-A INPUT -j KUBE-FIREWALL
-A KUBE-FIREWALL -m comment --comment "kubernetes firewall for dropping marked packets" -m mark --mark 0x8000/0x8000 -j DROP
-A KUBE-FIREWALL -m mark --mark 0x8000/0x8000 -m comment --comment "kubernetes firewall for dropping marked packets" -j DROP
-A KUBE-FIREWALL -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-FIREWALL -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
COMMIT
'''


def test_normalised_duplicates_comment_moved_and_state_order():
    # CHAINS.md §1.11/§9.7: iptables-nft 1.8.0-1.8.2 printed the comment after the other matches;
    # the two spellings are the same rule. ctstate lists are sets.
    fs = dups(parse_save(NORMALISED, "kf.rules"))
    assert sorted(f.evidence["position"].tolist() for f in fs) == [[1, 2], [3, 4]]
    by_pos = {tuple(f.evidence["position"]): f for f in fs}
    f = by_pos[(1, 2)]
    assert "1.8.3" in f.explanation and f.owner == "kubelet"
    # the later copy's own spec is unique in the chain, so -D by that spec removes exactly it
    assert ("iptables -t filter -D KUBE-FIREWALL -m mark --mark 0x8000/0x8000 -m comment --comment "
            "'kubernetes firewall for dropping marked packets' -j DROP") in f.fix
    assert "iptables -t filter -D KUBE-FIREWALL 2" in f.fix


NEAR_MISS = '''*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:CNI-HOSTPORT-DNAT - [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A PREROUTING -m addrtype ! --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
COMMIT
'''


def test_near_miss_same_rule_other_chain_or_negated_is_not_duplicate():
    # same jump in PREROUTING and OUTPUT (portmap writes both), and a negated variant: not duplicates
    assert dups(parse_save(NEAR_MISS)) == []


def test_redacted_values_are_not_duplicates():
    text = ("*filter\n:mac_0 - [0:0]\n"
            "-A mac_0 -s 10.0.0.1/32 -m mac --mac-source XX:XX:XX:XX:XX:XX -j RETURN\n"
            "-A mac_0 -s 10.0.0.1/32 -m mac --mac-source XX:XX:XX:XX:XX:XX -j RETURN\nCOMMIT\n")
    assert dups(parse_save(text)) == []


def test_spread_out_copies_warn_about_spec_form():
    text = ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
            "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n")
    f = dups(parse_save(text))[0]
    assert f.evidence["position"].tolist() == [1, 3]
    assert any("not next to each other" in c for c in f.fix)
    assert "iptables -t filter -D INPUT 3" in f.fix


def test_quoting_in_delete_command_matches_iptables_save():
    text = ('*nat\n:CNI-HOSTPORT-DNAT - [0:0]\n'
            '-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"k8s-pod-network\\" id: \\"abc\\"" -m multiport --dports 80 -j CNI-DN-93fd5f42fffe1daf6b01f\n'
            '-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"k8s-pod-network\\" id: \\"abc\\"" -m multiport --dports 80 -j CNI-DN-93fd5f42fffe1daf6b01f\n'
            'COMMIT\n')
    f = dups(parse_save(text))[0]
    # CHAINS.md §2.2 saved form: inner quotes escaped as \"; the printed command passes iptables the
    # same word (dnat name: "k8s-pod-network" id: "abc") in single quotes, where a shell expands nothing
    assert ("iptables -t nat -D CNI-HOSTPORT-DNAT -p tcp -m comment --comment 'dnat name: \"k8s-pod-network\" "
            "id: \"abc\"' -m multiport --dports 80 -j CNI-DN-93fd5f42fffe1daf6b01f") in f.fix


def _independent_tum_count(path):
    """A separate, simple count: byte-identical '-A' lines within one table (hence one chain, the
    chain name is part of the line), minus lines holding the anonymised MAC placeholder, whose
    'duplicates' were distinct MACs before anonymisation (PROVENANCE.md #1: 93 of the 143)."""
    table = None
    lines = Counter()
    for raw in path.read_text().splitlines():
        if raw.startswith("*"):
            table = raw[1:]
        elif raw.startswith("-A") and "XX:XX:XX:XX:XX:XX" not in raw:
            lines[(table, raw)] += 1
    return {k: v for k, v in lines.items() if v > 1}


import pytest  # noqa: E402


@pytest.mark.parametrize("name,genuine", [
    # PROVENANCE.md #1: 143 byte-identical duplicate lines, 93 from MAC anonymisation, 50 real.
    ("tum-i8-2016-06-27.iptables-save", 50),
    # PROVENANCE.md #2: 187 duplicate lines, 178 from MAC anonymisation, 9 real.
    ("tum-i8-2016-06-27.ip6tables-save", 9),
])
def test_tum_has_exactly_the_genuine_duplicates(name, genuine):
    path = RULESETS / name
    need(path.exists(), f"{path} (CC BY-NC-SA, not shipped) is not available")
    groups = _independent_tum_count(path)
    assert sum(v - 1 for v in groups.values()) == genuine
    fs = dups(parse(path))
    found = {(f.table, f.evidence["spec"].iloc[0]): len(f.evidence) for f in fs}
    assert found == groups
    assert sum(len(f.evidence) - 1 for f in fs) == genuine


def test_seed_listing_after_shows_the_duplicate_with_its_zero_counters():
    # the post's own `iptables -t nat -L PREROUTING -nv` paste (tests/data/checks/PROVENANCE.md)
    path = CHECKS_DATA / "seed-prerouting-after.iptables-Lnv"
    fs = check(parse(path))
    dup = fs.by_id("duplicate-rule")
    assert len(dup) == 1
    ev = dup[0].evidence
    # lines 6 and 7 of the paste; the copy that appeared later counted 0 packets ("0   0 CNI-HOSTPORT-DNAT")
    assert ev["origin"].tolist() == [f"{path}:6", f"{path}:7"]
    assert ev["pkts"].tolist() == [13_000_000, 0]
    assert "iptables -t nat -D PREROUTING 5" in dup[0].fix
    # the listing shows PREROUTING only: its jump targets are reported once, as info
    assert [(f.id, f.severity) for f in fs if f.id != "duplicate-rule"] == [("jump-to-missing-chain", "info")]
    assert dups(parse(CHECKS_DATA / "seed-prerouting-before.iptables-Lnv")) == []


CALICO = '''*filter
:INPUT ACCEPT [0:0]
:cali-INPUT - [0:0]
:cali-wl-to-host - [0:0]
:cali-from-host-endpoint - [0:0]
-A INPUT -m comment --comment "cali:Cz_u1IQiXIMmKD4c" -j cali-INPUT
-A cali-INPUT -i cali+ -m comment --comment "cali:FewJpBykm9iJ-YNH" -g cali-wl-to-host
-A cali-INPUT -m comment --comment "cali:hder3ARWznqqv8Va" -m mark --mark 0x10000/0x10000 -j ACCEPT
-A cali-INPUT -m comment --comment "cali:rQeMeUu-8BPylH6B" -j MARK --set-xmark 0x0/0xf0000
-A cali-INPUT -m comment --comment "cali:flKEKhHrAJVbH-Um" -j cali-from-host-endpoint
-A cali-INPUT -m comment --comment "cali:i1GOlXqjyP6vGTkD" -m comment --comment "Host endpoint policy accepted packet." -m mark --mark 0x10000/0x10000 -j ACCEPT
COMMIT
'''


def test_calico_repeated_mark_accept_is_not_a_duplicate():
    # Calico felix's cali-INPUT (CHAINS.md §5): the mark test is repeated after the mark is reset
    # and the host-endpoint chain may set it again; distinct cali: hashes, deliberate.
    assert dups(parse_save(CALICO)) == []


def test_exact_copies_with_a_mark_rule_between_carry_a_caveat():
    text = ("*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m mark --mark 0x1/0x1 -j ACCEPT\n"
            "-A PREROUTING -j MARK --set-xmark 0x1/0x1\n-A PREROUTING -m mark --mark 0x1/0x1 -j ACCEPT\nCOMMIT\n")
    f = dups(parse_save(text))[0]
    assert "position 2: -j MARK" in f.explanation


def test_tum_listing_and_save_agree():
    # the same host's `iptables -L -n -v` (filter only) must show the same duplicate groups, at the
    # same positions, as the filter part of its iptables-save
    lnv = RULESETS / "tum-i8-2016-06-27.iptables-Lnv"
    save = RULESETS / "tum-i8-2016-06-27.iptables-save"
    need(lnv.exists() and save.exists(), "TUM dumps (CC BY-NC-SA, not shipped) are not available")
    a = {(f.chain, tuple(f.evidence["position"])) for f in dups(parse(lnv))}
    b = {(f.chain, tuple(f.evidence["position"])) for f in dups(parse(save)) if f.table == "filter"}
    assert a == b and len(a) == 13   # 14 groups in the save, one of them in raw
