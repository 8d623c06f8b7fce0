"""iptables -L parsing against the seed's real pastes and the public listings."""

from __future__ import annotations

import re

import pytest

from workbook.model import ParseError
from workbook.parse import parse_save
from workbook.parse.listing import listed_options, parse_count, parse_listing
from workbook.parse.spec import parse_spec

from tests.realparts import DATA, RULESETS, need

SEED = DATA / "seed"
LOCAL = DATA / "rulesets"


def _load(name: str, **kw):
    path = SEED / name
    return parse_listing(path.read_text(), name, **kw)


def test_seed_prerouting_column_t():
    rs = _load("listing-prerouting-column-t.txt")
    # "iptables -v --numeric --table nat --list PREROUTING | column -t" → table from the command line
    assert list(rs.tables) == ["nat"]
    ch = rs.chain("nat", "PREROUTING")
    # header "Chain  PREROUTING  (policy               ACCEPT  0    packets,  0    bytes)"
    assert (ch.policy, ch.pkts, ch.bytes) == ("ACCEPT", 0, 0)
    assert [r.target for r in ch] == ["KUBE-SERVICES", "AWS-CONNMARK-CHAIN-0", "CONNMARK"]
    assert [r.pkts for r in ch] == [36909, 16, 26383]
    # "3519K" and "2892K": decimal thousands, rounded by iptables → approximate
    assert [r.bytes for r in ch] == [3519000, 960, 2892000]
    assert [r.counters_approx for r in ch] == [True, False, True]
    # re-flowed comments "/*  kubernetes  service   portals      */" → single spaces
    assert [r.comment for r in ch] == ["kubernetes service portals", "AWS, outbound connections", "AWS, CONNMARK"]
    assert ch.rules[1].in_interface == "eni+"
    # "CONNMARK  restore  mask  0x80" (libxt_CONNMARK: --mask sets nfmask = ctmask)
    assert ch.rules[2].spec == ('-A PREROUTING -m comment --comment "AWS, CONNMARK" '
                                '-j CONNMARK --restore-mark --nfmask 0x80 --ctmask 0x80')
    df = rs.rules
    assert df["counters_approx"].tolist() == [True, False, True]
    assert any("rounded" in n for n in rs.notes)


def test_seed_kube_services():
    rs = _load("listing-kube-services-column.txt")
    ch = rs.chain("nat", "KUBE-SERVICES")
    assert ch.references == 2  # "Chain KUBE-SERVICES (2 references)"
    assert len(ch) == 9
    dns = ch.rules[7]
    # "KUBE-SVC-TCOU7JCQXEZGVUNU  udp  --  *  *  0.0.0.0/0  10.100.0.10  /* kube-system/kube-dns:dns cluster IP */ udp dpt:53"
    # → kube-proxy's saved form (CHAINS.md §1.4): -d IP/32 -p udp -m comment ... -m udp --dport 53 -j KUBE-SVC-...
    assert dns.spec == ('-A KUBE-SERVICES -d 10.100.0.10/32 -p udp -m comment --comment '
                        '"kube-system/kube-dns:dns cluster IP" -m udp --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU')
    last = ch.rules[8]
    assert (last.pkts, last.bytes, last.counters_approx) == (1120, 61085, False)
    assert last.spec == ('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be '
                         'the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS')


def test_seed_kube_svc_and_sep():
    svc = _load("listing-kube-svc-column.txt").chain("nat", "KUBE-SVC-TCOU7JCQXEZGVUNU")
    assert [r.comment for r in svc] == ["kube-system/kube-dns:dns -> 192.168.1.77:53",
                                        "kube-system/kube-dns:dns -> 192.168.2.64:53"]
    assert svc.rules[0].option("--probability").value == "0.50000000000"
    assert svc.rules[0].option("--mode").value == "random"
    assert svc.rules[1].match("statistic") is None  # last endpoint: no statistic match
    sep = _load("listing-kube-sep-column.txt").chain("nat", "KUBE-SEP-4JJWD7DPDSPAPXRS")
    assert [r.spec for r in sep] == [
        '-A KUBE-SEP-4JJWD7DPDSPAPXRS -s 192.168.1.77/32 -m comment --comment "kube-system/kube-dns:dns" -j KUBE-MARK-MASQ',
        '-A KUBE-SEP-4JJWD7DPDSPAPXRS -p udp -m comment --comment "kube-system/kube-dns:dns" -m udp '
        '-j DNAT --to-destination 192.168.1.77:53']


def test_seed_session_strict_and_lenient():
    text = (SEED / "listing-session-eks.txt").read_text()
    with pytest.raises(ParseError) as e:
        parse_listing(text, "eks.txt")
    assert str(e.value).startswith("eks.txt:1: not an iptables -L line:")  # the Korean prose line
    rs = parse_listing(text, "eks.txt", strict=False)
    # four pasted commands, all --table nat: PREROUTING 3 + KUBE-SERVICES 9 + KUBE-SVC 2 + KUBE-SEP 2
    assert list(rs.tables) == ["nat"] and len(rs) == 16 and len(rs.problems) == 1
    assert [c.name for c in rs.table("nat")] == ["PREROUTING", "KUBE-SERVICES", "KUBE-SVC-TCOU7JCQXEZGVUNU",
                                                  "KUBE-SEP-4JJWD7DPDSPAPXRS"]


def test_seed_calico_node_mega_counters():
    rs = _load("listing-calico-prerouting.txt")
    ch = rs.chain("nat", "PREROUTING")
    # "42M 5365M cali-PREROUTING ... /* cali:6gwbT8clXdHdC1b1 */"
    assert (ch.rules[0].pkts, ch.rules[0].bytes) == (42_000_000, 5_365_000_000)
    assert [r.target for r in ch] == ["cali-PREROUTING", "KUBE-SERVICES", "DOCKER", "CNI-HOSTPORT-DNAT"]
    assert ch.rules[3].spec == "-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT"


def test_seed_duplicate_hostport_two_pastes():
    rs = _load("listing-duplicate-hostport.txt")
    # two pastes of "iptables -t nat -L PREROUTING -nv": the later one (with the author's
    # "#### 중복" marker and the duplicated CNI-HOSTPORT-DNAT jump) wins
    ch = rs.chain("nat", "PREROUTING")
    assert [r.target for r in ch] == ["cali-PREROUTING", "KUBE-SERVICES", "DOCKER", "CNI-HOSTPORT-DNAT",
                                      "CNI-HOSTPORT-DNAT"]
    assert ch.rules[3].normalized() == ch.rules[4].normalized()
    assert (ch.rules[4].pkts, ch.rules[4].bytes) == (0, 0)


def test_counts():
    # xtables_print_num: decimal K/M/G/T (CHAINS.md §9.3)
    assert parse_count("100K") == (100_000, True)
    assert parse_count("12T") == (12_000_000_000_000, True)
    assert parse_count("99999") == (99999, False)


def test_listed_printers_from_chains_md():
    # the listed/saved pairs of CHAINS.md §9.5 (libxt_* print vs save)
    cases = [
        ("ADDRTYPE match dst-type LOCAL", None, None, "-m addrtype --dst-type LOCAL", ""),
        ("tcp dpts:1000:2000", "ACCEPT", "tcp", "-m tcp --dport 1000:2000", ""),
        ("multiport dports 80,443", "ACCEPT", "tcp", "-m multiport --dports 80,443", ""),
        ("! ctstate RELATED,ESTABLISHED", "ACCEPT", None, "-m conntrack ! --ctstate RELATED,ESTABLISHED", ""),
        ("state NEW", "ACCEPT", None, "-m state --state NEW", ""),
        ("mark match ! 0x4000/0x4000", "RETURN", None, "-m mark ! --mark 0x4000/0x4000", ""),
        ("recent: CHECK seconds: 10800 reap name: KUBE-SEP-X side: source mask: 255.255.255.255", "KUBE-SEP-X", None,
         "-m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-X --mask 255.255.255.255 --rsource", ""),
        ("match-set KUBE-CLUSTER-IP dst,dst", "ACCEPT", None, "-m set --match-set KUBE-CLUSTER-IP dst,dst", ""),
        ("owner UID match 1337", "RETURN", None, "-m owner --uid-owner 1337", ""),
        ("nfacct-name  ct_state_invalid_dropped_pkts", "DROP", None,
         "-m nfacct --nfacct-name  ct_state_invalid_dropped_pkts", ""),
        ('limit: avg 5/min burst 5 LOG flags 0 level 4 prefix "UDP_DROP: "', "LOG", None, "-m limit --limit 5/min",
         '--log-prefix "UDP_DROP: "'),
        ("MARK xor 0x4000", "MARK", None, "", "--set-xmark 0x4000/0x0"),
        ("MARK set 0x4000", "MARK", None, "", "--set-xmark 0x4000/0xffffffff"),
        ("MARK and 0xffff", "MARK", None, "", "--set-xmark 0x0/0xffff0000"),
        ("MARK xset 0x4000/0xff00", "MARK", None, "", "--set-xmark 0x4000/0xff00"),
        ("redir ports 15001", "REDIRECT", "tcp", "", "--to-ports 15001"),
        ("masq ports: 1000-2000 random", "MASQUERADE", "tcp", "", "--to-ports 1000-2000 --random"),
        ("random-fully", "MASQUERADE", None, "", "--random-fully"),
        ("reject-with icmp-port-unreachable", "REJECT", None, "", "--reject-with icmp-port-unreachable"),
        ("to:192.168.1.77:53", "DNAT", "udp", "", "--to-destination 192.168.1.77:53"),
    ]
    for text, target, proto, want_m, want_t in cases:
        m, o, _, bad, _ = listed_options(text, target, proto)
        assert (" ".join(x.to_save() for x in m), " ".join(x.to_save() for x in o), bad) == (want_m, want_t, []), text


def test_unknown_text_is_kept_not_fatal():
    text = ("Chain INPUT (policy ACCEPT 0 packets, 0 bytes)\n"
            " pkts bytes target     prot opt in     out     source               destination\n"
            "    0     0 ACCEPT     all  --  *      *       0.0.0.0/0            0.0.0.0/0            frobnicate 7 ctstate NEW\n")
    rs = parse_listing(text, "x.txt", table="filter")
    r = rs.chain("filter", "INPUT").rules[0]
    assert r.match("?").get("--unparsed").value == "frobnicate 7"
    assert r.match("conntrack").get("--ctstate").value == "NEW"
    assert rs.problems == [] and any("not understood" in n for n in rs.notes)
    lenient = parse_listing(text, "x.txt", table="filter", strict=False)
    assert [p.line for p in lenient.problems] == [3] and "frobnicate 7" in lenient.problems[0].message


def test_line_number_gap_is_an_error():
    text = ("Chain INPUT (policy ACCEPT)\nnum  target     prot opt source               destination\n"
            "1    ACCEPT     all  --  0.0.0.0/0            0.0.0.0/0\n"
            "3    DROP       all  --  0.0.0.0/0            0.0.0.0/0\n")
    with pytest.raises(ParseError) as e:
        parse_listing(text, "gap.txt")
    assert str(e.value).startswith("gap.txt:4: rule number 3 but this is rule 2")


# ------------------------------------------------------------------ public listings
def _pair(listing: str, save: str):
    lp, sp = RULESETS / listing, RULESETS / save
    need(lp.exists() and sp.exists(), f"{lp} / {sp} not present (shared rulesets are only on the project machine)")
    return parse_listing(lp.read_text(), lp.name), parse_save(sp.read_text(), sp.name)


@pytest.mark.parametrize("listing,save", [("tum-i8-2016-06-27.iptables-Lnv", "tum-i8-2016-06-27.iptables-save"),
                                          ("ufw-server1.iptables-Lnv", "ufw-server1.iptables-save")])
def test_same_host_listing_equals_save(listing, save):
    lrs, srs = _pair(listing, save)
    # expected: the host's own iptables-save (filter table; -L without -t lists filter only)
    want = [(r.chain, r.position, r.target, r.spec) for r in srs.table("filter").rules()]
    got = [(r.chain, r.position, r.target, r.spec) for r in lrs.table("filter").rules()]
    assert got == want
    assert [c.name for c in lrs.table("filter")] == [c.name for c in srs.table("filter")] or \
        {c.name for c in lrs.table("filter")} >= {c.name for c in srs.table("filter")}


def test_flannel_node_Ln_and_Lnv_agree():
    a, b = RULESETS / "k8s-flannel-docker-2019.nat.iptables-Lnv", RULESETS / "k8s-flannel-docker-2019.nat.iptables-Ln"
    need(a.exists() and b.exists(), "k8s-flannel listings not present (no licence: read from ../shared only)")
    lnv, ln = parse_listing(a.read_text(), a.name), parse_listing(b.read_text(), b.name)
    assert len(lnv) == len(ln) == 43  # PROVENANCE.md: 43 rows each
    # -L -n has no in/out columns: compare the specs with interfaces taken out of the -v one.
    # The two files are two snapshots of the same node (kube-proxy re-ordered KUBE-SERVICES in
    # between), so compare the rule sets, not the order.
    strip_if = lambda r: re.sub(r" (! )?-[io] \S+", "", r.spec)
    assert sorted(strip_if(r) for r in lnv.iter_rules()) == sorted(r.spec for r in ln.iter_rules())
    assert all(r.pkts is None for r in ln.iter_rules())
    masq = lnv.chain("nat", "POSTROUTING").rules[1]
    # "MASQUERADE  all  --  *      !docker0  172.17.0.0/16        0.0.0.0/0"
    assert masq.spec == "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE"


def test_tails_listing_without_n():
    rs = parse_listing((LOCAL / "tails-1.4.1.iptables-Lv").read_text(), "tails-1.4.1.iptables-Lv")
    out = rs.chain("filter", "OUTPUT").rules
    # "tcp dpt:9050flags: FIN,SYN,RST,ACK/SYN owner UID match root": glued tcp flags, names not numbers
    assert out[1].spec == ("-A OUTPUT -d 127.0.0.1/32 -o lo -p tcp -m tcp --dport 9050 --tcp-flags FIN,SYN,RST,ACK SYN "
                           "-m owner --uid-owner root -j ACCEPT")
    # "LOG level debug uid prefix "Dropped outbound packet: "" → --log-level 7 --log-uid
    log = [r for r in out if r.target == "LOG"][0]
    assert log.spec.endswith('-j LOG --log-prefix "Dropped outbound packet: " --log-level 7 --log-uid')
    assert len(rs) == 32  # PROVENANCE.md: 32 rows


def test_moby_markdown_listing_matches_its_spec_block():
    md = (LOCAL / "moby-usernet-portmap.iptables-vL-linenumbers-and-S.md").read_text()
    blocks, cur = [], []
    for line in md.splitlines() + [""]:
        if line.startswith("    ") or (cur and line.strip() == "" and line.startswith("    ")):
            cur.append(line[4:])
        elif cur:
            blocks.append("\n".join(cur) + "\n")
            cur = []
    listing = next(b for b in blocks if b.startswith("Chain INPUT"))
    spec = next(b for b in blocks if b.startswith("-P INPUT"))
    lrs = parse_listing(listing, "moby.md", table="filter")
    srs = parse_spec(spec, "moby.md", table="filter")
    # -vL without -n: "tcp dpt:http" and "anywhere"; http resolves to 80 (/etc/services)
    assert [r.spec for r in lrs.iter_rules()] == [r.spec for r in srs.iter_rules()]
