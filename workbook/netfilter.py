"""The netfilter model: the five IPv4 hooks, the tables at each hook in priority order, and routing."""

from __future__ import annotations

import ipaddress
from typing import Iterable, NamedTuple

__all__ = [
    "HOOKS", "PRIORITY", "TABLES_AT_HOOK", "TABLES_AT_HOOK_NFT", "HookTable", "tables_at", "is_local", "local_addresses",
    "routing_decision", "packet_path", "path_for", "NAT_MANIP",
]

from .vocab import HOOKS

#: Priority of each table (``include/uapi/linux/netfilter_ipv4.h``); nat has two:
#: destination NAT (PREROUTING, OUTPUT) at -100 and source NAT (INPUT, POSTROUTING) at 100.
PRIORITY: dict[str, int] = {"raw": -300, "mangle": -150, "nat(DNAT)": -100, "filter": 0,
                            "security": 50, "nat(SNAT)": 100}


class HookTable(NamedTuple):
    """One table registered at a hook, with its priority (lower runs first)."""

    table: str
    priority: int


#: Tables at each hook, lowest priority first: the order a packet meets them.
#:
#: >>> [t.table for t in TABLES_AT_HOOK["INPUT"]]
#: ['mangle', 'filter', 'security', 'nat']
#: >>> TABLES_AT_HOOK["POSTROUTING"][-1]
#: HookTable(table='nat', priority=100)
TABLES_AT_HOOK: dict[str, tuple[HookTable, ...]] = {
    "PREROUTING": (HookTable("raw", -300), HookTable("mangle", -150), HookTable("nat", -100)),
    "INPUT": (HookTable("mangle", -150), HookTable("filter", 0), HookTable("security", 50),
              HookTable("nat", 100)),
    "FORWARD": (HookTable("mangle", -150), HookTable("filter", 0), HookTable("security", 50)),
    "OUTPUT": (HookTable("raw", -300), HookTable("mangle", -150), HookTable("nat", -100),
               HookTable("filter", 0), HookTable("security", 50)),
    "POSTROUTING": (HookTable("mangle", -150), HookTable("nat", 100)),
}

#: The same for rules loaded by iptables-nft, which registers the security table's base chains
#: at priority 150 (iptables ``nft.c``), not the kernel's NF_IP_PRI_SECURITY 50: at INPUT the
#: security table then comes after nat (100). Checked in the lab (tests/lab/test_regressions.py).
#:
#: >>> [t.table for t in TABLES_AT_HOOK_NFT["INPUT"]]
#: ['mangle', 'filter', 'nat', 'security']
TABLES_AT_HOOK_NFT: dict[str, tuple[HookTable, ...]] = {
    hook: tuple(sorted((HookTable(t.table, 150 if t.table == "security" else t.priority) for t in tables),
                       key=lambda t: t.priority))
    for hook, tables in TABLES_AT_HOOK.items()}

#: Which NAT manipulation the nat table does at a hook ("DNAT" before routing, "SNAT" after).
NAT_MANIP: dict[str, str] = {"PREROUTING": "DNAT", "OUTPUT": "DNAT", "INPUT": "SNAT", "POSTROUTING": "SNAT"}


def tables_at(hook: str, ruleset=None) -> list[str]:
    """Tables a packet meets at ``hook``, in order; with a ruleset, only the tables it has.

    >>> tables_at("PREROUTING")
    ['raw', 'mangle', 'nat']
    >>> from workbook.parse import parse_save
    >>> tables_at("OUTPUT", parse_save("*filter\\n:OUTPUT ACCEPT [0:0]\\nCOMMIT\\n*nat\\n:OUTPUT ACCEPT [0:0]\\nCOMMIT\\n"))
    ['nat', 'filter']
    """
    try:
        entries = TABLES_AT_HOOK[hook]
    except KeyError:
        raise ValueError(f"unknown hook {hook!r} (one of {', '.join(HOOKS)})") from None
    if ruleset is None:
        return [e.table for e in entries]
    return [e.table for e in entries if e.table in ruleset.tables]


_LOOPBACK4 = ipaddress.ip_network("127.0.0.0/8")
_LOOPBACK6 = ipaddress.ip_address("::1")


def local_addresses(node_ips: Iterable[str] = ()) -> frozenset[str]:
    """The node's own addresses as normalised strings (loopback is always local, see :func:`is_local`).

    >>> sorted(local_addresses(["192.168.3.215", "::ffff:10.0.0.1"]))
    ['10.0.0.1', '192.168.3.215']
    """
    out = set()
    for ip in node_ips:
        a = ipaddress.ip_address(str(ip).split("/")[0])
        if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
            a = a.ipv4_mapped
        out.add(str(a))
    return frozenset(out)


def is_local(addr: str, node_ips: Iterable[str] = ()) -> bool:
    """Is ``addr`` one of the node's addresses (the kernel's ``local`` routing table)?

    The node addresses, all of 127.0.0.0/8 and ::1 are local.

    >>> is_local("127.0.0.53"), is_local("::1"), is_local("10.0.0.5", ["10.0.0.5"]), is_local("10.0.0.6", ["10.0.0.5"])
    (True, True, True, False)
    """
    a = ipaddress.ip_address(addr)
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
        a = a.ipv4_mapped
    if isinstance(a, ipaddress.IPv4Address) and a in _LOOPBACK4 or a == _LOOPBACK6:
        return True
    locals_ = node_ips if isinstance(node_ips, frozenset) else local_addresses(node_ips)
    return str(a) in locals_


def routing_decision(dst: str, node_ips: Iterable[str] = (), routes=None) -> str:
    """The routing decision after PREROUTING: ``"INPUT"`` (local delivery) or ``"FORWARD"``.

    With the node's ``routes`` (``ip route`` text, see :func:`workbook.trace.parse_routes`) a
    destination without a usable route (none, blackhole, unreachable, prohibit) is ``"DROP"``.

    >>> routing_decision("10.100.0.10", ["192.168.3.215"]), routing_decision("192.168.3.215", ["192.168.3.215"])
    ('FORWARD', 'INPUT')
    >>> routing_decision("10.42.134.75", routes=["blackhole 10.42.134.64/26", "default dev eth0"])
    'DROP'
    """
    if routes is None:
        return "INPUT" if is_local(dst, node_ips) else "FORWARD"
    from .addr import parse_ip
    from .trace.state import Context
    kind, _ = Context(node_ips, None, routes).lookup(*parse_ip(dst))
    return {"local": "INPUT", "out": "FORWARD", "unknown": "FORWARD"}.get(kind, "DROP")


def packet_path(from_node: bool, local: bool) -> list[str]:
    """The hooks a packet passes, given where it comes from and whether its destination is local.

    Arriving on an interface: PREROUTING → routing → INPUT (local) or FORWARD → POSTROUTING.
    Generated on the node: OUTPUT → routing → POSTROUTING; when the destination is local the
    packet then comes back in over ``lo`` and passes PREROUTING and INPUT as well (the nat
    table is not consulted again there: both NAT manipulations were set up on the way out).

    >>> packet_path(False, True)
    ['PREROUTING', 'INPUT']
    >>> packet_path(False, False)
    ['PREROUTING', 'FORWARD', 'POSTROUTING']
    >>> packet_path(True, False)
    ['OUTPUT', 'POSTROUTING']
    >>> packet_path(True, True)
    ['OUTPUT', 'POSTROUTING', 'PREROUTING', 'INPUT']
    """
    if from_node:
        return ["OUTPUT", "POSTROUTING", "PREROUTING", "INPUT"] if local else ["OUTPUT", "POSTROUTING"]
    return ["PREROUTING", "INPUT"] if local else ["PREROUTING", "FORWARD", "POSTROUTING"]


def path_for(packet, node_ips: Iterable[str] = ()) -> list[str]:
    """:func:`packet_path` for a :class:`~workbook.packet.Packet`, judged on its (un-NATed) destination.

    The tracer re-decides after DNAT (a packet DNATed to a pod is forwarded, not delivered).

    >>> from workbook.packet import Packet
    >>> path_for(Packet("10.0.0.2", "10.100.0.10", "udp", dport=53), ["192.168.3.215"])
    ['PREROUTING', 'FORWARD', 'POSTROUTING']
    """
    return packet_path(packet.from_node, is_local(packet.dst, node_ips))
