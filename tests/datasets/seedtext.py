"""Helpers for comparing kernel listings with the seed post's pasted listings."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.realparts import ROOT, SHARED

DATASETS = ROOT / "datasets"
SEED_NAME = "000_81fac245e6421696.txt"

# iptables 1.8.9 and 1.8.10 print protocol *numbers* in the prot column when -n is given
# (iptables commit da8ecc62, reverted in 1.8.11 by 34f085b1; CHAINS.md §9.4 item 4). The seed's
# nodes ran an iptables that prints names ("all", "tcp", "udp"). The kernel listing is therefore
# mapped back to names before it is compared: only the prot field changes, padded to the same
# "%-4s" width, so every other character of the line is the kernel's own.
PROTO_NAMES = {"0": "all", "6": "tcp", "17": "udp", "1": "icmp", "132": "sctp"}
_OPT = {"--", "-f", "!f"}


def seed_path() -> Path | None:
    path = SHARED / "seed" / SEED_NAME
    return path if path.exists() else None


def names_for_numbers(listing: str) -> str:
    """Replace the numeric prot field of every rule line of ``iptables -L -v -n`` output by its name.

    >>> names_for_numbers("    0     0 DNAT       17   --  *      *       0.0.0.0/0            0.0.0.0/0")
    '    0     0 DNAT       udp  --  *      *       0.0.0.0/0            0.0.0.0/0'
    """
    out = []
    for line in listing.split("\n"):
        fields = list(re.finditer(r"\S+", line))
        for i, m in enumerate(fields[:6]):
            if m.group() in _OPT and i >= 1:
                prot = fields[i - 1]
                num = prot.group().lstrip("!")
                if num in PROTO_NAMES:
                    name = prot.group()[: len(prot.group()) - len(num)] + PROTO_NAMES[num]
                    # same span up to the opt field ("%-4s " keeps both forms 5 wide)
                    cell = name.ljust(max(m.start() - prot.start() - 1, len(name))) + " "
                    line = line[: prot.start()] + cell + line[m.start():]
                break
        out.append(line)
    return "\n".join(out)


def column(text: str, *args: str) -> str:
    """Pipe ``text`` through the real util-linux/bsdextrautils ``column``."""
    return subprocess.run(["column", *args], input=text, capture_output=True, text=True, check=True).stdout


def output_lines(seed_note: str) -> list[str]:
    """The pasted command output of a notes/seed-*.txt file: prompt lines dropped, trailing blanks stripped."""
    return [l.rstrip() for l in seed_note.splitlines() if not l.startswith("[root@")]


def rstrip_lines(text: str) -> list[str]:
    return [l.rstrip() for l in text.splitlines()]
