"""``-m conntrack`` / ``-m state`` in ``iptables -L -n -v``: the REAL iptables' text is read back to
the rules iptables-save prints, and our printer writes what iptables writes (both backends)."""

from __future__ import annotations

import pytest

from tests.parse.kernel import restore, run, save
from workbook.listing_print import match_text
from workbook.parse import parse_save
from workbook.parse.listing import parse_listing

pytestmark = [pytest.mark.root]

_RULES = (
    "-m conntrack --ctstate RELATED,ESTABLISHED", "-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT",
    "-m conntrack --ctstate INVALID", "-m conntrack ! --ctstate UNTRACKED,SNAT",
    "-m conntrack --ctstatus NONE", "-m conntrack ! --ctstatus NONE",
    "-m conntrack --ctstatus EXPECTED,SEEN_REPLY,ASSURED,CONFIRMED", "-m conntrack ! --ctstatus ASSURED",
    "-m conntrack --ctproto 6", "-m conntrack ! --ctproto 17",
    "-m conntrack --ctorigsrc 10.244.0.0/16 ! --ctorigdst 10.96.0.10",
    "-m conntrack --ctreplsrc 10.0.0.1 --ctrepldst 192.168.0.0/24",
    "-m conntrack --ctorigsrcport 1000:2000 ! --ctorigdstport 80",
    "-m conntrack --ctreplsrcport 53 --ctrepldstport 30000:40000",
    "-m conntrack --ctexpire 10:100", "-m conntrack ! --ctexpire 5",
    "-m conntrack --ctdir ORIGINAL", "-m conntrack --ctdir REPLY",
    "-m conntrack --ctstate NEW --ctstatus CONFIRMED --ctproto 6 --ctdir ORIGINAL",
    "-m state --state NEW", "-m state ! --state ESTABLISHED,RELATED", "-m state --state INVALID,UNTRACKED",
)


@pytest.mark.parametrize("backend", ["nft", "legacy"])
def test_listing_read_back_and_printed(netns, backend):
    ns = netns("ct")
    text = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" + \
        "".join(f"-A INPUT -p tcp {r} -j ACCEPT\n" for r in _RULES) + "COMMIT\n"
    restore(ns, text, backend=backend)
    saved = list(parse_save(save(ns, backend=backend), "iptables-save").table("filter").rules())
    listed_text = run(ns, "-t", "filter", "-L", "INPUT", "-n", "-v", "-x", backend=backend)
    listed = list(parse_listing(listed_text, "-L INPUT", table="filter").table("filter").rules())
    assert len(saved) == len(listed) == len(_RULES)
    lines = [" ".join(l.split()) for l in listed_text.splitlines()[2:]]
    for s, r, line in zip(saved, listed, lines):
        assert (r.target, r.spec) == (s.target, s.spec), line
        printed = "".join(match_text(m) for m in s.matches)
        assert " ".join(printed.split()) in line, (printed, line)
    print(f"conntrack/state listing ({backend}): {len(_RULES)}/{len(_RULES)} rules read back and printed")
