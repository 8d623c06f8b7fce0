"""The stateful matches and CT/NOTRACK in ``iptables -L -n -v``: the REAL iptables' text is read back to
the rules iptables-save prints, and our printer writes what iptables writes (both backends).

What ``-L`` never shows is left out of the comparison: a hashlimit's ``--hashlimit-name`` and the
``!`` of ``! --quota``. A hashlimit ``--hashlimit-rate-match`` rule is left out: iptables 1.8.9 lists
its rate divided by the interval (save ``5/sec``, ``-L`` ``1/sec``). ``-m rateest`` has a printer but no reader (``-L`` shows its rates in bytes,
rounded): its text stays ``-m ?``.
"""

from __future__ import annotations

import re

import pytest

from tests.parse.kernel import restore, run, save
from workbook.listing_print import match_text, target_text
from workbook.parse import parse_save
from workbook.parse.listing import parse_listing

pytestmark = [pytest.mark.root]

_MATCHES = (
    "-m limit --limit 3/hour", "-m limit --limit 10/sec --limit-burst 1", "-m limit --limit 100/min --limit-burst 5",
    "-m hashlimit --hashlimit-upto 10/sec --hashlimit-name a",
    "-m hashlimit --hashlimit-above 10/sec --hashlimit-burst 1 --hashlimit-mode srcip --hashlimit-name ssh",
    "-m hashlimit ! --hashlimit-upto 3/min --hashlimit-name q",
    "-m hashlimit --hashlimit-upto 1kb/s --hashlimit-burst 2mb --hashlimit-mode srcip,dstport --hashlimit-srcmask 24 "
    "--hashlimit-name b --hashlimit-htable-expire 5000",
    "-m hashlimit --hashlimit-upto 3/min --hashlimit-name r --hashlimit-dstmask 16 --hashlimit-htable-size 100 "
    "--hashlimit-htable-max 200 --hashlimit-htable-gcinterval 500",
    "-m quota --quota 10", "-m quota ! --quota 100000",
    "-m connlimit --connlimit-above 3 --connlimit-mask 32", "-m connlimit ! --connlimit-upto 2",
    "-m connlimit --connlimit-upto 2 --connlimit-mask 24 --connlimit-daddr",
    "-m statistic --mode nth --every 4 --packet 2", "-m statistic --mode nth ! --every 3 --packet 0",
    "-m statistic --mode random --probability 0.25", "-m statistic --mode random ! --probability 0.25",
    "-m recent --set --name x --mask 255.255.255.0 --rsource",
    "-m recent ! --rcheck --seconds 60 --hitcount 2 --rttl --name x --rdest",
    "-m recent --update --seconds 10 --reap --name y", "-m recent --remove",
    "-m helper --helper ftp", "-m helper ! --helper irc",
    "-m connbytes --connbytes 10:100 --connbytes-mode packets --connbytes-dir both",
    "-m connbytes ! --connbytes 1000 --connbytes-mode bytes --connbytes-dir original",
    "-m connlabel --label 3", "-m connlabel ! --label 5 --set",
    "-m time --timestart 08:00:00 --timestop 17:00:00 --weekdays Mon,Tue",
    "-m time --datestart 2024-01-01T00:00:00 --datestop 2025-01-01T00:00:00 --monthdays 1,15 --kerneltz",
    "-m time --timestart 22:00 --timestop 06:00 --contiguous",
    "-m time --timestart 08:00 --timestop 17:00 --monthdays 1,2,3,11,22 --weekdays Sat",
    "-m cluster --cluster-total-nodes 2 --cluster-local-node 1 --cluster-hash-seed 0xdeadbeef",
    "-m cluster --cluster-total-nodes 4 ! --cluster-local-nodemask 5 --cluster-hash-seed 1",
)
_TARGETS = ("-j CT --notrack", "-j NOTRACK", "-j CT --helper ftp", "-j CT --zone 5", "-j CT --zone-orig 5",
            "-j CT --ctevents new,related --expevents new", "-j CT --zone-reply mark")
#: save-form words that ``iptables -L`` does not show at all
_HIDDEN = re.compile(r" --hashlimit-name \S+|(?<=-m quota) !")


def _compare(ns: str, table: str, chain: str, backend: str) -> int:
    saved = list(parse_save(save(ns, backend=backend), "iptables-save").table(table).rules())
    listed_text = run(ns, "-t", table, "-L", chain, "-n", "-v", "-x", backend=backend)
    listed = list(parse_listing(listed_text, f"-L {chain}", table=table).table(table).rules())
    assert len(saved) == len(listed)
    lines = [" ".join(line.split()) for line in listed_text.splitlines()[2:]]
    for s, r, line in zip(saved, listed, lines):
        assert r.match("?") is None, line
        assert (r.target, _HIDDEN.sub("", r.spec)) == (s.target, _HIDDEN.sub("", s.spec)), line
        printed = "".join(match_text(m) for m in s.matches) + target_text(s)
        assert " ".join(printed.split()) in line, (printed, line)
    return len(saved)


@pytest.mark.parametrize("backend", ["nft", "legacy"])
def test_listing_read_back_and_printed(netns, backend):
    ns = netns("stf")
    text = ("*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            + "".join(f"-A PREROUTING -p tcp {t}\n" for t in _TARGETS) + "COMMIT\n"
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            + "".join(f"-A INPUT -p tcp {m} -j ACCEPT\n" for m in _MATCHES) + "COMMIT\n")
    r = restore(ns, text, backend=backend)
    assert r.returncode == 0, r.stderr
    n = _compare(ns, "filter", "INPUT", backend) + _compare(ns, "raw", "PREROUTING", backend)
    assert n == len(_MATCHES) + len(_TARGETS)
    print(f"stateful listing ({backend}): {n}/{n} rules read back and printed")


def test_rateest_is_printed_as_iptables_prints_it(netns):
    ns = netns("rate")
    text = ("*mangle\n:PREROUTING ACCEPT [0:0]\n"
            "-A PREROUTING -j RATEEST --rateest-name e1 --rateest-interval 250ms --rateest-ewmalog 1s\n"
            "-A PREROUTING -j RATEEST --rateest-name e2 --rateest-interval 250ms --rateest-ewmalog 1s\n"
            "-A PREROUTING -m rateest --rateest e1 --rateest-bps1 10kbit --rateest-gt\n"
            "-A PREROUTING -m rateest --rateest-delta --rateest1 e1 --rateest-bps1 10kbit --rateest-lt "
            "--rateest2 e2 --rateest-bps2 5kbit\nCOMMIT\n")
    assert restore(ns, text).returncode == 0
    saved = [r for r in parse_save(save(ns), "iptables-save").table("mangle").rules() if r.match("rateest")]
    lines = [" ".join(line.split()) for line in run(ns, "-t", "mangle", "-L", "PREROUTING", "-n").splitlines()
             if "rateest match" in line]
    assert len(saved) == len(lines) == 2
    for s, line in zip(saved, lines):
        assert " ".join(match_text(s.matches[0]).split()) in line, (match_text(s.matches[0]), line)
