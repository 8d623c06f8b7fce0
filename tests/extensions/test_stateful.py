"""Kernel vs simulator for the stateful matches and the conntrack targets: limit, hashlimit, quota,
connlimit, statistic, recent, helper, connlabel, CT and NOTRACK.

Each packet is judged as the first since the rules were loaded: the lab flushes conntrack, empties
the recent lists and re-inserts the limit/hashlimit/quota/statistic/connlimit rules before each
packet (``Lab._reset_stateful``). A seeded generator per extension writes rules using each option
with and without ``!`` where iptables takes it, in the tables and hooks the kernel accepts, each
jumping to an empty user chain (``HIT``) so that its match shows in the kernel's trace; some rules
sit in a chain entered twice (``TWICE``), so one packet meets their bucket, quota or label twice.
Packets with a given length (sent by the lab as raw frames) go to the node (INPUT) or through it
(FORWARD). The kernel's path must be one of the simulator's branches; the agreement per extension
and backend is printed (expected: 100%).
"""

from __future__ import annotations

import random

import pytest

from tests.lab.conftest import need_lab
from tests.lab.differential import NODE_IP, Case, run_case, simulator
from workbook.packet import Packet
from workbook.parse import parse_save

pytestmark = [pytest.mark.root, pytest.mark.slow]

SEED = 11
RULES, PACKETS = 10, 14
#: where a match rule may go: (table, chain)
PLACES = (("raw", "PREROUTING"), ("mangle", "PREROUTING"), ("mangle", "INPUT"), ("filter", "INPUT"),
          ("filter", "FORWARD"), ("mangle", "FORWARD"))
#: where a conntrack-entry match may go (after conntrack: not raw)
TRACKED = PLACES[1:]


def _bang(rng: random.Random) -> str:
    return "! " if rng.random() < 0.4 else ""


def _limit(rng):
    burst = rng.choice(["", " --limit-burst 1", " --limit-burst 2", " --limit-burst 5"])
    return f"-m limit --limit {rng.choice(['1/hour', '3/min', '10/sec'])}{burst}"


_NAMES: dict[tuple[str, str, str], str] = {}


def _hashlimit(rng):
    kind = rng.choice(["upto", "above"])
    rate = rng.choice(["1/hour", "5/min", "10/sec", "1kb/s", "100kb/min"])
    mode = rng.choice(["", " --hashlimit-mode srcip", " --hashlimit-mode srcip,dstport", " --hashlimit-mode dstip"])
    burst = rng.choice(["", " --hashlimit-burst 1", " --hashlimit-burst 2"]) if "b/" not in rate else ""
    # rules of one name share one table, whose rate, burst and mode are the first rule's: one name per
    # configuration, so that rules sharing a bucket agree on it
    name = _NAMES.setdefault((rate, burst, mode), f"h{len(_NAMES)}")
    return f"-m hashlimit {_bang(rng)}--hashlimit-{kind} {rate}{burst}{mode} --hashlimit-name {name}"


def _quota(rng):
    return f"-m quota {_bang(rng)}--quota {rng.choice([0, 10, 19, 40, 52, 60, 80, 100, 1000, 70000])}"


def _connlimit(rng):
    kind = rng.choice(["above", "upto"])
    side = rng.choice(["", " --connlimit-saddr", " --connlimit-daddr"])
    return (f"-m connlimit {_bang(rng)}--connlimit-{kind} {rng.choice([0, 1, 2, 3])}"
            f" --connlimit-mask {rng.choice([32, 24, 16])}{side}")


def _statistic(rng):
    if rng.random() < 0.3:
        return f"-m statistic --mode random {_bang(rng)}--probability {rng.choice(['0.5', '0.25', '1', '0'])}"
    every = rng.randrange(1, 5)
    return f"-m statistic --mode nth {_bang(rng)}--every {every} --packet {rng.randrange(every)}"


def _recent(rng):
    name = rng.choice(["r1", "r2"])
    side = rng.choice(["--rsource", "--rdest"])
    cmd = rng.choice(["--set", "--rcheck", "--update", "--remove", "--rcheck --hitcount 2", "--rcheck --seconds 60"])
    bang = _bang(rng) if cmd != "--set" else ""
    return f"-m recent {bang}{cmd.split()[0]} {' '.join(cmd.split()[1:])} --name {name} {side}".replace("  ", " ")


def _helper(rng):
    return f"-m helper {rng.choice(['', '! '])}--helper {rng.choice(['ftp', 'sip', 'irc'])}"


def _connlabel(rng):
    return f"-m connlabel {_bang(rng)}--label {rng.choice([1, 2])}" + (" --set" if rng.random() < 0.4 else "")


GENERATORS = {"limit": _limit, "hashlimit": _hashlimit, "quota": _quota, "connlimit": _connlimit,
              "statistic": _statistic, "recent": _recent, "helper": _helper, "connlabel": _connlabel}


def _packet(rng: random.Random, i: int) -> Packet:
    proto = rng.choice(["tcp", "udp"])
    base = 44 if proto == "tcp" else 32  # IP + TCP + MSS option / IP + UDP + 4 bytes
    dst = rng.choice([NODE_IP, NODE_IP, "10.77.0.9"])
    return Packet(f"10.1.{rng.randrange(1, 4)}.{rng.randrange(2, 6)}", dst, proto, 30000 + i,
                  rng.choice([80, 443]), "eth0", length=base + rng.choice([0, 0, 8, 16, 30]))


def _case(name: str, seed: int) -> Case:
    rng = random.Random(f"{seed}-{name}")
    by_table: dict[str, list[str]] = {}
    places = TRACKED if name in ("helper", "connlabel", "connlimit") else PLACES
    jumped: set[tuple[str, str]] = set()
    for _ in range(RULES):
        table, chain = rng.choice(places)
        opt = GENERATORS[name](rng)
        rules = by_table.setdefault(table, [])
        if rng.random() < 0.3:  # in a chain entered twice: the packet meets the rule twice
            rules.append(f"-A TWICE {opt} -j HIT")
            if (table, chain) not in jumped:
                jumped.add((table, chain))
                rules += [f"-A {chain} -j TWICE"] * 2
        else:
            rules.append(f"-A {chain} {opt} -j HIT")
    packets = [_packet(rng, i) for i in range(PACKETS)]
    text = "".join(f"*{t}\n:HIT - [0:0]\n:TWICE - [0:0]\n" + "\n".join(rules) + "\nCOMMIT\n"
                   for t, rules in sorted(by_table.items()))
    return Case(f"{name}-seed{seed}", parse_save(text), (NODE_IP,), packets,
                {"kind": "stateful", "extension": name, "seed": seed})


def _ct_case() -> Case:
    """NOTRACK / CT --notrack in raw, CT with a template, then who sees the packet as UNTRACKED (and no nat)."""
    text = """*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p udp --dport 53 -j NOTRACK
-A PREROUTING -p tcp --dport 80 -j CT --notrack
-A PREROUTING -p tcp --dport 443 -j CT --zone 5
-A PREROUTING -p tcp --dport 443 -j CT --notrack
-A OUTPUT -p udp --dport 123 -j CT --notrack
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:HIT - [0:0]
-A PREROUTING -j HIT
-A OUTPUT -j HIT
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:HIT - [0:0]
-A INPUT -m conntrack --ctstate UNTRACKED -j HIT
-A INPUT -m conntrack --ctstate NEW -j HIT
-A FORWARD -m state --state UNTRACKED -j HIT
-A OUTPUT -m conntrack --ctstate UNTRACKED -j HIT
COMMIT
"""
    pk = [Packet("10.1.1.5", NODE_IP, "udp", 31000, 53, "eth0"), Packet("10.1.1.5", NODE_IP, "tcp", 31001, 80, "eth0"),
          Packet("10.1.1.5", NODE_IP, "tcp", 31002, 443, "eth0"), Packet("10.1.1.5", "10.77.0.9", "udp", 31003, 53, "eth0"),
          Packet("10.1.1.5", NODE_IP, "tcp", 31004, 22, "eth0"), Packet(NODE_IP, "10.77.0.9", "udp", 31005, 123, None, True),
          Packet(NODE_IP, "10.77.0.9", "udp", 31006, 53, None, True)]
    return Case("CT-NOTRACK", parse_save(text), (NODE_IP,), pk, {"kind": "stateful", "extension": "CT"})


@pytest.mark.parametrize("backend", ["nft", "legacy"])
def test_stateful_matches_agree_with_the_kernel(backend):
    need_lab(backend)
    sim = simulator(backend)
    report, bad = {}, []
    cases = [_case(name, SEED) for name in GENERATORS] + [_ct_case()]
    for case in cases:
        results = run_case(case, sim, backend)
        judged = [r for r in results if r["agree"] is not None]
        agreed = sum(1 for r in judged if r["agree"])
        hits = sum(1 for r in judged for step in r["kernel"]["path"] if step[3] == "JUMP:HIT")
        report[case.origin["extension"]] = f"{agreed}/{len(judged)} ({hits} rule hits)"
        if hits == 0:
            bad.append(f"{case.name}: no rule matched any packet")
        if len(judged) < len(case.packets) - 1:
            bad.append(f"{case.name}: too few kernel traces: {results}")
        bad += [r for r in judged if not r["agree"]]
    print(f"\n[{backend}] agreement per extension:", report)
    assert not bad, bad[:3]
