"""``nfwb trace DUMP --src IP --dst IP --proto P ...``: trace one packet through a ruleset (simulator).

Exit status: 0 after printing the trace; 2 for bad input (one line naming file:line);
with ``--fail-on-drop``, 1 when any branch ends in DROP or REJECT (so a script can ask
"does this packet get through on every path?").
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from .packet_args import add_packet_arguments, load_ruleset, packet_from_args


def _ipset(text: str) -> tuple[str, list[str]]:
    name, sep, members = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=CIDR[,CIDR...], got {text!r}")
    return name, [m for m in members.split(",") if m]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = ("exit status: 0 trace printed; 1 with --fail-on-drop when a branch ends in DROP/REJECT; "
                "2 bad input (one line naming file:line)")
    add_packet_arguments(p)
    p.add_argument("--out-iface", metavar="IF", default=None,
                   help="interface the packet leaves on (for -o matches; unknown otherwise: assumed)")
    p.add_argument("--ipset", action="append", default=[], type=_ipset, metavar="NAME=CIDR,...",
                   help="members of an ipset used by -m set (repeatable; sets not given are assumed to match)")
    p.add_argument("--ipset-save", metavar="FILE", default=None,
                   help="members of every set from an `ipset save` output file")
    p.add_argument("--route-localnet", action="store_true",
                   help="the node runs with net.ipv4.conf.*.route_localnet=1 (kube-proxy sets it for localhost "
                        "NodePorts); default: the kernel's 0, loopback addresses do not cross interfaces")
    p.add_argument("--all-steps", action="store_true",
                   help="text output: list every rule evaluated with the reason it did not match")
    p.add_argument("--fail-on-drop", action="store_true", help="exit 1 when any branch ends in DROP or REJECT")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..trace import trace_packet
    packet = packet_from_args(args)
    if args.out_iface:
        packet = replace(packet, out_iface=args.out_iface)
    ruleset, node_ips = _load(args.dump, args.node_ip, packet)
    ipsets = None
    if args.ipset_save:
        from pathlib import Path

        from ..model import InputError
        from ..trace import ipsets_from_save
        try:
            ipsets = ipsets_from_save(Path(args.ipset_save).read_text())
        except OSError as e:
            raise InputError(f"{args.ipset_save}: {e.strerror or e}") from None
    if args.ipset:
        ipsets = {**(ipsets or {}), **dict(args.ipset)}
    trace = trace_packet(ruleset, packet, node_ips, ipsets=ipsets, route_localnet=args.route_localnet)
    if args.json:
        json.dump(trace.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        write_text(trace, sys.stdout, all_steps=args.all_steps, node_ips=node_ips)
    if args.fail_on_drop and any(b.verdict in ("DROP", "REJECT") for b in trace.branches):
        return 1
    return 0


def _load(dump: str, node_ips: list[str], packet):
    """DUMP's ruleset for the packet's family: a node dump's ip6tables rules for an IPv6 packet."""
    import ipaddress
    from pathlib import Path
    ruleset, ips = load_ruleset(dump, node_ips)
    if ipaddress.ip_address(packet.src).version == 6 and ruleset.family != "ipv6" and Path(dump).is_dir():
        from ..dump import load_dump
        from ..model import InputError
        v6 = load_dump(dump).rulesets.get("ip6tables")
        if v6 is None:
            raise InputError(f"{dump}: an IPv6 packet, but the dump has no ip6tables rules")
        ruleset = v6
    return ruleset, ips


def write_text(trace, out: TextIO, *, all_steps: bool = False, node_ips=()) -> None:
    """A readable path per branch: the hooks and the rules that matched (all steps with ``all_steps``).

    >>> from workbook.parse import parse_save
    >>> from workbook.packet import Packet
    >>> from workbook.trace import trace_packet
    >>> rs = parse_save("*filter\\n:INPUT DROP [0:0]\\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\\nCOMMIT\\n")
    >>> write_text(trace_packet(rs, Packet("10.0.0.9", "10.0.0.1", "tcp", dport=22), ["10.0.0.1"]), sys.stdout)
    tcp 10.0.0.9:40000 -> 10.0.0.1:22, in on eth0
    branch 1/1  probability 1  ACCEPT
      INPUT        filter   INPUT                           #1    ACCEPT  -p tcp -m tcp --dport 22 -j ACCEPT
    """
    p = trace.packet
    where = "from the node" if p.from_node else f"in on {p.in_iface}"
    ports = f":{p.sport} -> {p.dst}:{p.dport}" if p.dport is not None else f" -> {p.dst}"
    nodes = f" (node addresses: {', '.join(node_ips)})" if node_ips else ""
    out.write(f"{p.proto} {p.src}{ports}, {where}{nodes}\n")
    n = len(trace.branches)
    for i, b in enumerate(trace.branches, 1):
        extra = ""
        if b.dnat:
            extra += f"  DNAT→{b.dnat}"
        if b.snat:
            extra += f"  SNAT→{b.snat}"
        if b.masquerade:
            extra += "  MASQUERADE"
        out.write(f"branch {i}/{n}  probability {b.probability:.4g}  {b.verdict}{extra}\n")
        for s in b.steps:
            if not s.matched and not all_steps:
                continue
            pos = "" if s.position is None else f"#{s.position}"
            flag = "" if s.matched else "✗ "
            body = ""
            if s.spec:
                body = s.spec.split(" ", 2)[2] if s.spec.count(" ") >= 2 else s.spec
            line = f"  {s.hook:<12} {s.table:<8} {s.chain:<31} {pos:<5} {flag}{s.action or ''}"
            if s.matched:
                line += f"  {body}" if body else ""
            else:
                line += f"{s.why or ''}"
            if s.assumed:
                line += "  [assumed]"
            out.write(line.rstrip() + "\n")
    for note in trace.notes:
        out.write(f"note: {note}\n")
