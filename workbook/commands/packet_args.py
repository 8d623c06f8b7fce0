"""The packet arguments ``nfwb trace`` and ``nfwb lab trace`` share, and loading their DUMP."""

from __future__ import annotations

import argparse
import ipaddress
from pathlib import Path

from ..model import InputError, Ruleset
from ..packet import Packet

__all__ = ["add_packet_arguments", "packet_from_args", "load_ruleset", "print_trace"]

PROTOCOLS = ("tcp", "udp", "sctp", "icmp")


def _port(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 < n < 65536:
        raise argparse.ArgumentTypeError(f"port out of range 1-65535: {n}")
    return n


def _ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IP address: {text!r}") from None


def add_packet_arguments(p: argparse.ArgumentParser) -> None:
    """DUMP --src --dst --proto [--sport] [--dport] [--in-iface] [--from-node] [--node-ip ...] [--json].

    >>> p = argparse.ArgumentParser(); add_packet_arguments(p)
    >>> a = p.parse_args(["rules.txt", "--src", "10.0.0.2", "--dst", "10.96.0.10", "--proto", "udp", "--dport", "53"])
    >>> pk = packet_from_args(a)
    >>> (pk.src, pk.dst, pk.proto, pk.sport, pk.dport, pk.in_iface, pk.from_node)
    ('10.0.0.2', '10.96.0.10', 'udp', 40000, 53, 'eth0', False)
    """
    p.add_argument("dump", metavar="DUMP", help="a rules file (iptables-save, -S, -L -n -v) or a node dump folder/archive")
    p.add_argument("--src", required=True, type=_ip, help="source address")
    p.add_argument("--dst", required=True, type=_ip, help="destination address")
    p.add_argument("--proto", required=True, choices=PROTOCOLS, type=str.lower, help="protocol")
    p.add_argument("--sport", type=_port, default=40000, help="source port (default 40000)")
    p.add_argument("--dport", type=_port, default=None, help="destination port")
    p.add_argument("--in-iface", default="eth0", metavar="IF", help="interface the packet arrives on (default eth0)")
    p.add_argument("--from-node", action="store_true", help="generated on the node itself (OUTPUT path)")
    p.add_argument("--node-ip", action="append", default=[], metavar="IP", type=_ip,
                   help="a local address of the node (repeatable; default: the dump's own addresses)")
    p.add_argument("--json", action="store_true", help="print the Trace JSON")


def packet_from_args(args: argparse.Namespace) -> Packet:
    """The Packet the arguments describe (ports are dropped for icmp)."""
    icmp = args.proto == "icmp"
    if not icmp and args.dport is None:
        raise InputError(f"--dport is required for {args.proto}")
    return Packet(args.src, args.dst, args.proto, None if icmp else args.sport, None if icmp else args.dport,
                  None if args.from_node else args.in_iface, bool(args.from_node))


def load_ruleset(dump: str, node_ips: list[str] | None = None) -> tuple[Ruleset, list[str]]:
    """The IPv4 ruleset of DUMP (a file, or a node dump folder/archive) and the node's addresses.

    ``node_ips`` given on the command line win over the dump's own addresses.
    """
    path = Path(dump)
    if not path.exists():
        raise InputError(f"{dump}: no such file or directory")
    if path.is_dir() or path.name.endswith((".tar.gz", ".tgz", ".tar", ".zip")):
        try:
            from ..dump import load_dump
        except ImportError:
            raise InputError(f"{dump}: reading node dump folders needs workbook.dump (not installed)") from None
        d = load_dump(path)
        rs = d.ruleset
        if rs is None:
            raise InputError(f"{dump}: no IPv4 ruleset found in this dump")
        return rs, list(node_ips or d.node_ips or [])
    from ..parse import parse
    rs = parse(str(path))
    if not isinstance(rs, Ruleset):
        raise InputError(f"{dump}: not a ruleset (lsmod output?)")
    return rs, list(node_ips or [])


def print_trace(trace, out) -> None:
    """A plain-text rendering of a Trace: one block per branch, one line per step."""
    p = trace.packet
    where = "from the node" if p.from_node else f"in on {p.in_iface}"
    ports = f":{p.sport} -> {p.dst}:{p.dport}" if p.dport else f" -> {p.dst}"
    out.write(f"{trace.source} trace: {p.proto} {p.src}{ports} ({where})\n")
    for i, b in enumerate(trace.branches):
        nat = ""
        if b.dnat:
            nat += f"  DNAT to {b.dnat}"
        if b.snat:
            nat += f"  SNAT to {b.snat}"
        if b.masquerade:
            nat += "  MASQUERADE"
        out.write(f"branch {i}: p={b.probability:.4g}  {b.verdict}{nat}\n")
        for s in b.steps:
            mark = "+" if s.matched else " "
            pos = "-" if s.position is None else str(s.position)
            spec = s.spec or ""
            out.write(f"  {mark} {s.hook:<11} {s.table:<8} {s.chain:<28} {pos:>4}  {s.action or '':<24} {spec}\n")
