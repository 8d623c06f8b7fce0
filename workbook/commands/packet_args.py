"""The packet arguments ``nfwb trace`` and ``nfwb lab trace`` share, and loading their DUMP."""

from __future__ import annotations

import argparse
import ipaddress
from pathlib import Path
from typing import TextIO

from ..model import InputError, Ruleset
from ..packet import Packet
from ..target import Target, open_target
from ..i18n import _

__all__ = ["add_packet_arguments", "packet_from_args", "load", "ruleset_for", "ipset_arg", "nat_summary",
           "write_text"]

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


def load(dump: str, node_ips: list[str] | None = None) -> Target:
    """DUMP opened by :func:`~workbook.target.open_target`, refused when it holds no rules to trace.

    ``node_ips`` given on the command line win over the dump's own addresses.
    """
    got = open_target(dump, node_ips)
    if got.dump is not None and got.dump.ruleset is None and got.nft is None:
        raise InputError(f"{dump}: no IPv4 ruleset found in this dump")
    if got.dump is None and got.modules is not None:
        raise InputError(f"{dump}: not a ruleset (lsmod output?)")
    return got


def ruleset_for(got: Target, dump: str, packet: Packet) -> Ruleset:
    """DUMP's ruleset for the packet's family (a node dump's ip6tables rules for an IPv6 packet);
    a packet of the other family than a rules file's is refused, not traced."""
    version = ipaddress.ip_address(packet.src).version
    ruleset = got.ruleset
    if version == 6 and ruleset.family != "ipv6" and got.dump is not None:
        v6 = got.dump.rulesets.get("ip6tables")
        if v6 is None:
            raise InputError(f"{dump}: an IPv6 packet, but the dump has no ip6tables rules")
        ruleset = v6
    from ..trace import family_mismatch
    wrong = family_mismatch(ruleset, version) if got.nft is None else None  # nft tables say their own family
    if wrong:
        raise InputError(f"{dump}: {wrong}")
    return ruleset


def ipset_arg(text: str) -> tuple[str, list[str]]:
    """``--ipset NAME=CIDR[,CIDR...]`` as (name, members).

    >>> ipset_arg("allow=10.0.0.0/8,192.168.1.5")
    ('allow', ['10.0.0.0/8', '192.168.1.5'])
    """
    name, sep, members = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=CIDR[,CIDR...], got {text!r}")
    out = [m for m in members.split(",") if m]
    for m in out:
        try:
            ipaddress.ip_network(m, strict=False)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: {m!r} is not an address or CIDR") from None
    return name, out


def nat_summary(branch, arrow: str = "→") -> str:
    """What NAT did on a branch, e.g. ``"  DNAT→10.244.1.5:53  MASQUERADE"`` ("" when nothing).

    >>> from workbook.packet import Branch
    >>> nat_summary(Branch(1.0, "ACCEPT", [], "10.244.1.5:53", None, True))
    '  DNAT→10.244.1.5:53  MASQUERADE'
    """
    out = ""
    if branch.dnat:
        out += f"  DNAT{arrow}{branch.dnat}"
    if branch.snat:
        out += f"  SNAT{arrow}{branch.snat}"
    if branch.masquerade:
        out += "  MASQUERADE"
    return out


def write_text(trace, out: TextIO, *, all_steps: bool = False, node_ips=()) -> None:
    """A readable path per branch: the hooks and the rules that matched (all steps with ``all_steps``).

    >>> import sys
    >>> from workbook.parse import parse_save
    >>> from workbook.trace import trace_packet
    >>> rs = parse_save("*filter\\n:INPUT DROP [0:0]\\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\\nCOMMIT\\n")
    >>> write_text(trace_packet(rs, Packet("10.0.0.9", "10.0.0.1", "tcp", dport=22), ["10.0.0.1"]), sys.stdout)
    tcp 10.0.0.9:40000 -> 10.0.0.1:22, in on eth0
    branch 1/1  probability 1  ACCEPT
      INPUT        filter   INPUT                           #1    ACCEPT  -p tcp -m tcp --dport 22 -j ACCEPT
    """
    p = trace.packet
    where = _("from the node") if p.from_node else _("in on {iface}").format(iface=p.in_iface)
    ports = f":{p.sport} -> {p.dst}:{p.dport}" if p.dport is not None else f" -> {p.dst}"
    nodes = " (" + _("node addresses: {ips}").format(ips=", ".join(node_ips)) + ")" if node_ips else ""
    out.write(f"{p.proto} {p.src}{ports}, {where}{nodes}\n")
    n = len(trace.branches)
    for i, b in enumerate(trace.branches, 1):
        out.write(_("branch {i}/{n}  probability {p}").format(i=i, n=n, p=f"{b.probability:.4g}")
                  + f"  {b.verdict}{nat_summary(b)}\n")
        for s in b.steps:
            if not s.matched and not all_steps:
                continue
            pos = "" if s.position is None else f"#{s.position}"
            flag = "" if s.matched else "✗ "
            body = ""
            if s.spec:
                # an iptables spec starts with "-A CHAIN"; an nft rule (family set) is shown whole
                body = s.spec if s.family is not None or s.spec.count(" ") < 2 else s.spec.split(" ", 2)[2]
            line = f"  {s.hook:<12} {s.table:<8} {s.chain:<31} {pos:<5} {flag}{s.action or ''}"
            if s.matched:
                line += f"  {body}" if body else ""
            else:
                line += f"{s.why or ''}"
            if s.assumed:
                line += f"  [{_('assumed')}]"
            out.write(line.rstrip() + "\n")
    for note in trace.notes:
        out.write(f"{_('note')}: {note}\n")
