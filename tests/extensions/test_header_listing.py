"""The header/link matches through the REAL iptables: ``iptables -L -n -v`` read back by our
listing reader gives the rules iptables-save prints, and our printer prints what iptables lists.
Expected values are what iptables prints, never what the code under test produced."""

from __future__ import annotations

import pytest

from tests.parse.kernel import canonical, restore, run, save
from workbook.listing_print import format_rule
from workbook.parse import parse_save
from workbook.parse.listing import parse_listing

#: (family, table, rules) using every header/link match with a listing reader, with and without !
RULES = {
    ("ipv4", "mangle"): """
-A PREROUTING -m length --length 100:200
-A PREROUTING -m length ! --length 64
-A PREROUTING -m ttl --ttl-eq 64
-A PREROUTING -m ttl ! --ttl-eq 63
-A PREROUTING -m ttl --ttl-lt 10
-A PREROUTING -m ttl --ttl-gt 200
-A PREROUTING -m tos --tos 0x10/0x3f
-A PREROUTING -m tos ! --tos 0x08/0xff
-A PREROUTING -m dscp --dscp 0x0a
-A PREROUTING -m dscp ! --dscp 0x2e
-A PREROUTING -m ecn --ecn-ip-ect 1
-A PREROUTING -p tcp -m ecn ! --ecn-tcp-ece --ecn-tcp-cwr
-A PREROUTING -p tcp -m tcpmss --mss 1000:1460
-A PREROUTING -p tcp -m tcpmss ! --mss 536
-A PREROUTING -m u32 --u32 "0x0>>0x16&0x3c@0x0>>0x18=0x6"
-A PREROUTING -m u32 ! --u32 "0x6&0xff=0x11"
-A PREROUTING -m mac --mac-source 02:AA:00:00:00:01
-A PREROUTING -m mac ! --mac-source 02:AA:00:00:00:02
-A PREROUTING -m physdev --physdev-in veth0 ! --physdev-is-bridged
-A PREROUTING -m string --string "GET /" --algo bm --to 65535
-A PREROUTING -m string ! --string "evil" --algo kmp --from 20 --to 400
-A PREROUTING -m devgroup --src-group 0x1
-A PREROUTING -m devgroup ! --src-group 0x2
-A FORWARD -m devgroup --src-group 0x2 ! --dst-group 0x3
-A PREROUTING -m cpu ! --cpu 1
-A PREROUTING -m cpu --cpu 0
-A INPUT -m realm ! --realm 0x5/0xff
-A INPUT -m realm --realm 0x7
-A PREROUTING -m socket --transparent
-A PREROUTING -m socket
""",
}


def _rules(text: str) -> list[str]:
    return [l.strip() for l in text.splitlines() if l.strip()]


@pytest.mark.parametrize("backend", ["nft", "legacy"])
@pytest.mark.parametrize("where", sorted(RULES))
def test_listing_reads_back_and_prints(netns, backend, where):
    family, table = where
    ns = netns("hdr")
    text = f"*{table}\n" + "\n".join(_rules(RULES[where])) + "\nCOMMIT\n"
    r = restore(ns, text, family=family, backend=backend)
    assert r.returncode == 0, r.stderr
    saved = save(ns, family=family, backend=backend)
    kept = parse_save(saved)
    for chain in {l.split()[1] for l in _rules(RULES[where])}:
        # iptables-save's rules, quoting normalised by the save parser (u32 and string values are quoted)
        expected = [r.to_save() for r in kept.chain(table, chain).rules]
        assert len(expected) == len(canonical(saved)[table][1][chain])
        listing = run(ns, "-t", table, "-L", chain, "-n", "-v", family=family, backend=backend)
        # the reader: iptables' listing gives back iptables-save's rules
        read = parse_listing(listing, table=table, family=family)
        assert [r.to_save() for r in read.chain(table, chain).rules] == expected
        # the printer: our rendering of iptables-save's rules is iptables' listing, line by line
        listed = [l for l in listing.splitlines()[2:] if l.strip()]
        ours = [format_rule(r, numeric_proto=True) for r in kept.chain(table, chain).rules]
        assert [l.rstrip() for l in ours] == [l.rstrip() for l in listed]
