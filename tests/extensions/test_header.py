"""Kernel vs simulator for the header matches decided exactly: length, ttl, tos, dscp, ecn, tcpmss, mac.

For each extension a seeded generator writes rules using each option with and without ``!`` in the
tables (raw, mangle, nat, filter) and hooks (PREROUTING, INPUT, FORWARD) the kernel accepts, each
rule jumping to an empty user chain so that its match shows in the kernel's trace; packets with
random header fields (sent by the lab as raw frames with those fields) go to the node (INPUT) or
through it (FORWARD, where the TTL is one less). The kernel's path must be one of the simulator's
branches; the agreement per extension and backend is printed (expected: 100%).
"""

from __future__ import annotations

import random

import pytest

from tests.lab.conftest import need_lab
from tests.lab.differential import NODE_IP, Case, judged_case, simulator
from workbook.packet import Packet
from workbook.parse import parse_save

SEED = 9
RULES, PACKETS = 10, 20
#: where a rule may go: (table, chain); mac is only legal where a frame arrived
PLACES = (("raw", "PREROUTING"), ("mangle", "PREROUTING"), ("nat", "PREROUTING"), ("mangle", "FORWARD"),
          ("filter", "FORWARD"), ("filter", "INPUT"), ("mangle", "INPUT"))
MACS = ("02:00:00:00:00:01", "02:00:00:00:00:02", "0a:bc:de:f0:12:34")


def _bang(rng: random.Random) -> str:
    return "! " if rng.random() < 0.4 else ""


def _length(rng):
    lo = rng.randrange(30, 80)
    return "-m length " + _bang(rng) + "--length " + rng.choice([str(lo), f"{lo}:{lo + rng.randrange(0, 30)}", f"{lo}:"])


def _ttl(rng):
    n = rng.randrange(2, 70)
    kind = rng.choice(["eq", "lt", "gt"])
    return "-m ttl " + (_bang(rng) if kind == "eq" else "") + f"--ttl-{kind} {n}"


def _tos(rng):
    v = rng.choice([0, 0x10, 0x08, 0x04, 0x02, 0x20, 0xb8])
    return "-m tos " + _bang(rng) + "--tos " + rng.choice([f"0x{v:02x}/0x{rng.choice([0xff, 0x3f, 0xfc, 0xf0]):02x}",
                                                          f"0x{v:02x}", "Minimize-Delay"])


def _dscp(rng):
    if rng.random() < 0.3:
        return "-m dscp " + _bang(rng) + "--dscp-class " + rng.choice(["EF", "AF11", "CS1", "BE", "AF41"])
    return "-m dscp " + _bang(rng) + f"--dscp {rng.choice([0, 4, 10, 46, 8, 34])}"


def _ecn(rng):
    return "-m ecn " + _bang(rng) + f"--ecn-ip-ect {rng.randrange(0, 4)}"


def _tcpmss(rng):
    lo = rng.choice([536, 1000, 1400, 1460])
    return "-p tcp -m tcpmss " + _bang(rng) + "--mss " + rng.choice([str(lo), f"{lo}:{lo + rng.choice([0, 60, 500])}"])


def _mac(rng):
    return "-m mac " + _bang(rng) + "--mac-source " + rng.choice(MACS).upper()


GENERATORS = {"length": _length, "ttl": _ttl, "tos": _tos, "dscp": _dscp, "ecn": _ecn, "tcpmss": _tcpmss, "mac": _mac}


def _packet(rng: random.Random, i: int) -> Packet:
    proto = rng.choice(["tcp", "udp"])
    base = 44 if proto == "tcp" else 32  # IP + TCP + MSS option / IP + UDP + 4 bytes
    tos = rng.choice([0, 0x10, 0x28, 0xb8, 0x12, 0x01, 0x02, 0x03, 0x22])
    dst = rng.choice([NODE_IP, "10.77.0.9"])
    return Packet(f"10.1.{rng.randrange(1, 200)}.{rng.randrange(2, 250)}", dst, proto, 30000 + i,
                  rng.choice([80, 443, 8080]), "eth0", ttl=rng.choice([2, 3, 32, 63, 64, 65, 128, 255]), tos=tos,
                  length=base + rng.choice([0, 0, 4, 10, 30]), mss=rng.choice([536, 1000, 1460, 1500, 9000]),
                  src_mac=rng.choice(MACS))


def _case(name: str, seed: int) -> Case:
    rng = random.Random(f"{seed}-{name}")
    by_table: dict[str, list[str]] = {}
    for _ in range(RULES):
        table, chain = rng.choice(PLACES)
        by_table.setdefault(table, []).append(f"-A {chain} {GENERATORS[name](rng)} -j HIT")
    packets = [_packet(rng, i) for i in range(PACKETS)]
    if name == "ttl":  # the boundary of forwarding: routing lowers the TTL before FORWARD, not before INPUT
        by_table.setdefault("filter", []).extend(["-A FORWARD -m ttl --ttl-eq 63 -j HIT",
                                                  "-A INPUT -m ttl --ttl-eq 64 -j HIT"])
        packets += [Packet("10.1.0.7", "10.77.0.9", "udp", 31000, 53, "eth0", ttl=64),
                    Packet("10.1.0.8", NODE_IP, "udp", 31001, 53, "eth0", ttl=64)]
    text = "".join(f"*{t}\n:HIT - [0:0]\n" + "\n".join(rules) + "\nCOMMIT\n" for t, rules in sorted(by_table.items()))
    return Case(f"{name}-seed{seed}", parse_save(text), (NODE_IP,), packets,
                {"kind": "header", "extension": name, "seed": seed})


@pytest.mark.parametrize("backend", ["nft", "legacy"])
def test_header_matches_agree_with_the_kernel(backend):
    need_lab(backend)
    sim = simulator(backend)
    report, bad = {}, []
    for name in GENERATORS:
        results, judged, hits, report[name] = judged_case(_case(name, SEED), sim, backend)
        assert 0 < hits < len(judged) * RULES, f"{name}: the rules should match some packets and miss others"
        assert len(judged) >= PACKETS - 1, f"{name}: too few kernel traces: {results}"
        bad += [r for r in judged if not r["agree"]]
    print(f"\n[{backend}] agreement per extension:", report)
    assert not bad, bad[:3]
