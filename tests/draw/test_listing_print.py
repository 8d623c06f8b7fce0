"""format_listing prints what the seed's real `iptables -L -n -v` printed, character for character."""

from __future__ import annotations

from workbook.listing_print import format_count, format_listing
from workbook.parse import parse_save

from tests.realparts import SHARED, need

SEED = SHARED / "seed" / "000_81fac245e6421696.txt"

# The same rules in iptables-save form, with counters chosen to round like the seed's
# (42M = 42,000,000 packets, 5365M = 5,365,000,000 bytes; xtables_print_num rounds half up per step).
PREROUTING_SAVE = """*nat
:PREROUTING ACCEPT [0:0]
[42000000:5365000000] -A PREROUTING -m comment --comment "cali:6gwbT8clXdHdC1b1" -j cali-PREROUTING
[42000000:5365000000] -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
[13000000:2085000000] -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
[13000000:2085000000] -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
COMMIT
"""

KUBE_DNS_SAVE = """*nat
:KUBE-SVC-TCOU7JCQXEZGVUNU - [0:0]
:KUBE-SEP-4JJWD7DPDSPAPXRS - [0:0]
[0:0] -A KUBE-SVC-TCOU7JCQXEZGVUNU -m comment --comment "kube-system/kube-dns:dns -> 192.168.1.77:53" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-4JJWD7DPDSPAPXRS
[0:0] -A KUBE-SVC-TCOU7JCQXEZGVUNU -m comment --comment "kube-system/kube-dns:dns -> 192.168.2.64:53" -j KUBE-SEP-CMUTYLZJRO6PLWPI
[0:0] -A KUBE-SEP-4JJWD7DPDSPAPXRS -s 192.168.1.77/32 -m comment --comment "kube-system/kube-dns:dns" -j KUBE-MARK-MASQ
[0:0] -A KUBE-SEP-4JJWD7DPDSPAPXRS -p udp -m comment --comment "kube-system/kube-dns:dns" -m udp -j DNAT --to-destination 192.168.1.77:53
[1120:61085] -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
[0:0] -A KUBE-SERVICES -d 10.100.0.10/32 -p tcp -m comment --comment "kube-system/kube-dns:dns-tcp cluster IP" -m tcp --dport 53 -j KUBE-SVC-ERIFXISQEP7F7OF4
COMMIT
"""


def _seed_lines() -> list[str]:
    need(SEED.exists(), f"the seed post {SEED} (shared material)")
    return SEED.read_text(encoding="utf-8").splitlines()


def test_prerouting_matches_seed():
    seed = _seed_lines()
    rs = parse_save(PREROUTING_SAVE, strict=False)
    out = format_listing(rs.chain("nat", "PREROUTING")).splitlines()
    start = seed.index("Chain PREROUTING (policy ACCEPT 0 packets, 0 bytes)")
    # the blog trimmed trailing spaces of the column header; everything else is verbatim
    assert [l.rstrip() for l in out] == seed[start:start + 6]


def test_kube_dns_lines_match_seed():
    seed = set(_seed_lines())
    rs = parse_save(KUBE_DNS_SAVE, strict=False)
    for chain in ("KUBE-SVC-TCOU7JCQXEZGVUNU", "KUBE-SEP-4JJWD7DPDSPAPXRS", "KUBE-SERVICES"):
        lines = format_listing(rs.chain("nat", chain)).splitlines()[2:]
        for line in lines:
            if "192.168.2.64" in line:
                continue  # the seed pipes this one through `column`, which re-spaces it
            assert line in seed, line


def test_counter_rounding_examples_from_chains_md():
    # CHAINS.md §9.3 worked examples of xtables_print_num
    assert format_count(100499) == " 100K" and format_count(100500) == " 101K"
    assert format_count(9999500) == "  10M" and format_count(61085) == "61085"
