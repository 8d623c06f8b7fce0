"""The common-line fast path of the conntrack reader (``_COMMON`` + ``_common_entry``) against the general
reader (``_entry``): on every line the fast path accepts, both give the same entry; on every line the
general reader refuses, the fast path does not accept (so the error, file:line, is the general one)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from workbook.model import ParseError
from workbook.parse import conntrack as ct_mod
from workbook.parse.conntrack import _COMMON, _common_entry, _entry, parse_conntrack

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

TEMPLATES = [
    "ipv4     2 tcp      6 431999 ESTABLISHED src=10.244.1.5 dst=10.96.0.1 sport=40000 dport=443 "
    "src=192.168.1.20 dst=10.244.1.5 sport=6443 dport=40000 [ASSURED] mark=0 use=1",
    "ipv4     2 udp      17 29 src=10.0.0.1 dst=10.96.0.10 sport=34195 dport=53 [UNREPLIED] "
    "src=10.0.0.5 dst=10.0.0.1 sport=53 dport=34195 mark=0 use=1",
    "tcp      6 117 SYN_SENT src=10.10.20.51 dst=10.10.20.21 sport=34443 dport=80 [UNREPLIED] "
    "src=10.42.134.75 dst=10.10.20.51 sport=80 dport=34443 mark=0 use=1",
    "ipv4     2 tcp      6 120 TIME_WAIT src=10.10.20.21 dst=10.42.134.83 sport=45001 dport=10254 "
    "src=10.42.134.83 dst=10.10.20.21 sport=10254 dport=45001 [ASSURED] mark=0 zone=3 use=2",
]
# what a mutation puts in place of one word (out of range, odd forms, other kinds of value)
SWAPS = ["65536", "99999", "4294967296", "4294967295", "0", "007", "٣", "SYN_SENT2", "BOGUS", "[OFFLOAD]",
         "[NOPE]", "[UNREPLIED]", "256.1.1.1", "10.0.0.01", "fd00::1", "::ffff:10.0.0.1", "ipv6", "10", "1",
         "icmp", "sctp", "zone=70000", "zone=7", "use=x", "id=4", "delta-time=3", "secctx=x", "mark=4294967296",
         "src=10.9.9.9", "dport=53", ""]


def _both(line: str):
    m = _COMMON.fullmatch(line.strip())
    fast = _common_entry(m, 7) if m else None
    try:
        general = _entry(line.strip(), 7)
    except ValueError:
        general = None
    return fast, general


def _agree(line: str) -> bool:
    fast, general = _both(line)
    if fast is not None:
        assert general is not None, line            # never accepts what the general reader refuses
        assert fast == general, line
        return True
    return False


def _mutations(seed: int, n: int):
    rng = random.Random(seed)
    for _ in range(n):
        words = rng.choice(TEMPLATES).split(" ")
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(words))
            kind = rng.random()
            if kind < 0.5 and "=" in words[i]:
                key = words[i].split("=")[0]
                words[i] = f"{key}={rng.choice(SWAPS)}"
            elif kind < 0.8:
                words[i] = rng.choice(SWAPS)
            else:
                words.insert(i, rng.choice(SWAPS))
        yield rng.choice([" ", "  ", "\t", " \u00a0"]).join(words)


def test_templates_take_the_fast_path():
    assert all(_agree(line) for line in TEMPLATES)


def test_seeded_mutations_agree():
    accepted = sum(_agree(line) for line in _mutations(11, 6000))
    assert 0 < accepted < 6000          # both kinds were tried


def test_real_listings_and_the_benchmarks_lines_agree():
    from nft_check_bench import conntrack_lines
    from workbook.generate import generate_services
    lines = conntrack_lines(generate_services(50, seed=3), 2000).splitlines()
    for path in sorted((ROOT / "datasets").glob("**/kernel/conntrack.txt")):
        lines += path.read_text().splitlines()
    assert all(_agree(line) for line in lines)


def test_whole_parse_equals_the_general_reader(monkeypatch):
    text = "\n".join(list(_mutations(5, 800)) + TEMPLATES) + "\n"
    fast = parse_conntrack(text, "ct.txt", strict=False)

    class Never:
        @staticmethod
        def fullmatch(_line):
            return None
    monkeypatch.setattr(ct_mod, "_COMMON", Never)
    general = parse_conntrack(text, "ct.txt", strict=False)
    assert fast.entries == general.entries and fast.problems == general.problems
    bad = TEMPLATES[0].replace("sport=40000", "sport=65536")
    with pytest.raises(ParseError) as e:
        parse_conntrack(TEMPLATES[1] + "\n" + bad + "\n", "ct.txt")
    assert "ct.txt:2" in str(e.value) and "65536" in str(e.value)
