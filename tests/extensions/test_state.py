"""Kernel differential for ``-m conntrack`` / ``-m state``: seeded rules with and without ``!``,
first packets through the real kernel (both backends), the kernel's path must be a simulator branch.

Each rule jumps to its own empty chain, so the kernel's trace names every rule that matched.
Expected values come from the kernel; the simulator's reading is in workbook/extensions/match_conntrack.py.
"""

from __future__ import annotations

import random

import pytest

from tests.lab.conftest import need_lab
from tests.lab.differential import Case, run_case, simulator
from workbook.packet import Packet
from workbook.parse import parse_save

pytestmark = [pytest.mark.root, pytest.mark.slow]

NODE = "192.168.0.2"

#: option texts the generator draws from (each also drawn negated when legal)
_OPTIONS = (
    "-m conntrack --ctstate NEW", "-m conntrack --ctstate RELATED,ESTABLISHED",
    "-m conntrack --ctstate INVALID", "-m conntrack --ctstate UNTRACKED", "-m conntrack --ctstate DNAT",
    "-m conntrack --ctstatus NONE", "-m conntrack --ctstatus SEEN_REPLY", "-m conntrack --ctstatus CONFIRMED",
    "-m conntrack --ctstatus EXPECTED", "-m conntrack --ctstatus ASSURED,SEEN_REPLY",
    "-m conntrack --ctproto 6", "-m conntrack --ctproto 17", "-m conntrack --ctorigdst 10.0.0.0/8",
    "-m conntrack --ctorigsrc 10.244.0.0/16", "-m conntrack --ctorigdstport 80",
    "-m conntrack --ctorigsrcport 1000:2000", "-m conntrack --ctreplsrc 10.96.0.10",
    "-m conntrack --ctdir ORIGINAL", "-m conntrack --ctdir REPLY",
    "-m state --state NEW", "-m state --state ESTABLISHED,RELATED", "-m state --state INVALID",
)


def _negate(opt: str) -> str:
    """``-m conntrack ! --ctstate NEW`` (``--ctdir`` cannot be negated)."""
    _, mod, flag, value = opt.split(" ", 3)
    return f"-m {mod} ! {flag} {value}"


def case(seed: int) -> Case:
    """One filter ruleset of 12 seeded rules in INPUT/FORWARD/OUTPUT and a few first packets."""
    rnd = random.Random(seed)
    chains = ["INPUT", "FORWARD", "OUTPUT"]
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
    rules = []
    for n in range(12):
        opt = rnd.choice(_OPTIONS)
        if "--ctdir" not in opt and rnd.random() < 0.5:
            opt = _negate(opt)
        lines.append(f":C{n} - [0:0]")
        rules.append(f"-A {rnd.choice(chains)} {opt} -j C{n}")
    text = "\n".join(lines + rules + ["COMMIT", ""])
    pkts = [Packet("10.244.1.5", NODE, "tcp", rnd.randrange(1000, 3000), 80, "eth0"),
            Packet("10.244.1.6", "10.96.0.10", "udp", rnd.randrange(1000, 3000), 53, "eth0"),
            Packet("172.16.0.9", "10.1.2.3", "tcp", 40000, 443, "eth0"),
            Packet(NODE, "10.96.0.10", "tcp", rnd.randrange(30000, 40000), 80, None, True)]
    return Case(f"conntrack-seed{seed}", parse_save(text, f"conntrack-seed{seed}.rules"), (NODE,), pkts,
                origin={"seed": seed})


@pytest.mark.parametrize("backend", ["nft", "legacy"])
def test_conntrack_kernel_differential(backend):
    need_lab(backend)
    sim = simulator(backend)
    results = []
    for seed in range(1, 7):
        results += run_case(case(seed), sim, backend)
    compared = [r for r in results if r["agree"] is not None]
    agree = [r for r in compared if r["agree"]]
    print(f"conntrack/state ({backend}): {len(agree)}/{len(compared)} flows agree")
    assert len(compared) >= 20, f"too few flows reached the kernel: {len(compared)} of {len(results)}"
    bad = [r for r in compared if not r["agree"]]
    assert not bad, bad[:2]
