"""The words of netfilter that every part shares, one table each and our own: tables, built-in
chains, hooks, protocols, ICMP/ICMPv6 types, the Trace's action names and Istio's kernel modules.

Nothing here is read from the machine (no ``/etc/protocols``): a rule reads the same everywhere.
Target-name sets that are properties of an extension (where it is legal, whether it ends the
walk) live with the extension (:mod:`workbook.extensions`), not here.
"""

from __future__ import annotations

__all__ = ["TABLES", "BUILTIN_CHAINS", "HOOKS", "PROTOCOLS", "PROTOCOL_NAMES", "PORT_PROTOCOLS", "PROTOCOL_MATCHES",
           "protocol_number", "protocol_name", "ICMP_TYPES", "ICMPV6_TYPES", "NAMED_ACTIONS",
           "LEGACY_TABLE_MODULES", "ISTIO_XT_MODULES", "ISTIO_MODULES"]

#: The five IPv4/IPv6 hooks, in the order of the classic packet-flow picture.
HOOKS: tuple[str, ...] = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")

#: The iptables tables, in the order iptables-legacy-save prints them (a fresh kernel with all
#: five modules; kernel registration order differs by backend).
TABLES: tuple[str, ...] = ("raw", "mangle", "nat", "filter", "security")

#: Built-in chains of each table, in the order iptables prints them (hook order).
BUILTIN_CHAINS: dict[str, tuple[str, ...]] = {
    "raw": ("PREROUTING", "OUTPUT"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "security": ("INPUT", "FORWARD", "OUTPUT"),
}

#: protocol number -> the name iptables-save prints for ``-p`` (iptables 1.8 asks getprotobynumber
#: first, so the names are those of Debian's netbase 6.4 ``/etc/protocols``, copied here as data;
#: a number missing here is printed as the number). 0 is "all" and is never printed.
PROTOCOL_NAMES: dict[int, str] = {
    1: "icmp", 2: "igmp", 3: "ggp", 4: "ipencap", 5: "st", 6: "tcp", 8: "egp", 9: "igp", 12: "pup", 17: "udp",
    20: "hmp", 22: "xns-idp", 27: "rdp", 29: "iso-tp4", 33: "dccp", 36: "xtp", 37: "ddp", 38: "idpr-cmtp",
    41: "ipv6", 43: "ipv6-route", 44: "ipv6-frag", 45: "idrp", 46: "rsvp", 47: "gre", 50: "esp", 51: "ah",
    57: "skip", 58: "ipv6-icmp", 59: "ipv6-nonxt", 60: "ipv6-opts", 73: "rspf", 81: "vmtp", 88: "eigrp",
    89: "ospf", 93: "ax.25", 94: "ipip", 97: "etherip", 98: "encap", 103: "pim", 108: "ipcomp", 112: "vrrp",
    115: "l2tp", 124: "isis", 132: "sctp", 133: "fc", 135: "mobility-header", 136: "udplite", 137: "mpls-in-ip",
    138: "manet", 139: "hip", 140: "shim6", 141: "wesp", 142: "rohc", 143: "ethernet",
}

#: every protocol name ``-p`` (and ``--ctproto``, nft ``meta l4proto``) accepts -> its number:
#: the printed names, netbase's aliases (lower case: iptables lower-cases ``-p``) and libxtables'
#: own ``xtables_chain_protos`` (``icmpv6``, ``mh``, ``ipv6-mh``, ``all``)
PROTOCOLS: dict[str, int] = {
    **{name: num for num, name in PROTOCOL_NAMES.items()},
    "all": 0, "ip": 0, "hopopt": 0, "ip-encap": 4, "ipsec-esp": 50, "ipsec-ah": 51, "cphb": 73, "ospfigp": 89,
    "icmpv6": 58, "mh": 135, "ipv6-mh": 135,
}

#: protocols whose packets have ports (``-m tcp/udp/udplite/sctp/dccp --sport/--dport``, multiport)
PORT_PROTOCOLS: frozenset[int] = frozenset({6, 17, 33, 132, 136})

#: ``-p NAME`` -> the match iptables loads implicitly for options written after it without ``-m``
#: (libxtables looks the protocol's name up as a match; ip6tables' ICMPv6 match is ``icmp6``)
PROTOCOL_MATCHES: dict[str, str] = {
    "tcp": "tcp", "udp": "udp", "udplite": "udplite", "sctp": "sctp", "dccp": "dccp", "icmp": "icmp",
    "icmpv6": "icmp6", "ipv6-icmp": "icmp6", "esp": "esp", "ah": "ah", "mh": "mh", "ipv6-mh": "mh",
    "mobility-header": "mh",
}


def protocol_number(text: str) -> int | None:
    """The number of a ``-p`` value (a name in any case, or a number 0-255); None when unknown.

    >>> protocol_number("TCP"), protocol_number("6"), protocol_number("all"), protocol_number("nope")
    (6, 6, 0, None)
    """
    t = text.lower()
    if t.isdecimal():
        n = int(t)
        return n if n <= 255 else None
    return PROTOCOLS.get(t)


def protocol_name(text: str) -> str:
    """The word iptables-save prints for a ``-p`` value ("all" for 0; unknown words as given, lower case).

    >>> protocol_name("6"), protocol_name("icmpv6"), protocol_name("0"), protocol_name("200")
    ('tcp', 'ipv6-icmp', 'all', '200')
    """
    n = protocol_number(text)
    if n is None:
        return text.lower()
    return "all" if n == 0 else PROTOCOL_NAMES.get(n, str(n))


#: ``--icmp-type`` names of libipt_icmp -> (type, code or None for every code); "any" is type 255,
#: which matches every ICMP packet
ICMP_TYPES: dict[str, tuple[int, int | None]] = {
    "any": (255, None), "echo-reply": (0, None), "pong": (0, None), "destination-unreachable": (3, None),
    "network-unreachable": (3, 0), "host-unreachable": (3, 1), "protocol-unreachable": (3, 2),
    "port-unreachable": (3, 3), "fragmentation-needed": (3, 4), "source-route-failed": (3, 5),
    "network-unknown": (3, 6), "host-unknown": (3, 7), "network-prohibited": (3, 9), "host-prohibited": (3, 10),
    "TOS-network-unreachable": (3, 11), "TOS-host-unreachable": (3, 12), "communication-prohibited": (3, 13),
    "host-precedence-violation": (3, 14), "precedence-cutoff": (3, 15), "source-quench": (4, None),
    "redirect": (5, None), "network-redirect": (5, 0), "host-redirect": (5, 1), "TOS-network-redirect": (5, 2),
    "TOS-host-redirect": (5, 3), "echo-request": (8, None), "ping": (8, None), "router-advertisement": (9, None),
    "router-solicitation": (10, None), "time-exceeded": (11, None), "ttl-exceeded": (11, None),
    "ttl-zero-during-transit": (11, 0), "ttl-zero-during-reassembly": (11, 1), "parameter-problem": (12, None),
    "ip-header-bad": (12, 0), "required-option-missing": (12, 1), "timestamp-request": (13, None),
    "timestamp-reply": (14, None), "address-mask-request": (17, None), "address-mask-reply": (18, None),
}

#: ``--icmpv6-type`` names of libip6t_icmp6 -> (type, code or None); checked against ip6tables-save
ICMPV6_TYPES: dict[str, tuple[int, int | None]] = {
    "destination-unreachable": (1, None), "no-route": (1, 0), "communication-prohibited": (1, 1),
    "beyond-scope": (1, 2), "address-unreachable": (1, 3), "port-unreachable": (1, 4), "failed-policy": (1, 5),
    "reject-route": (1, 6), "packet-too-big": (2, None), "time-exceeded": (3, None), "ttl-exceeded": (3, None),
    "ttl-zero-during-transit": (3, 0), "ttl-zero-during-reassembly": (3, 1), "parameter-problem": (4, None),
    "bad-header": (4, 0), "unknown-header-type": (4, 1), "unknown-option": (4, 2), "echo-request": (128, None),
    "ping": (128, None), "echo-reply": (129, None), "pong": (129, None), "router-solicitation": (133, None),
    "router-advertisement": (134, None), "neighbour-solicitation": (135, None),
    "neighbor-solicitation": (135, None), "neighbour-advertisement": (136, None),
    "neighbor-advertisement": (136, None), "redirect": (137, None),
}

#: Targets whose name is a Trace step's action (design contract, section 3); every other
#: target that is not a chain is ``CONTINUE`` (or its verdict for QUEUE/NFQUEUE)
NAMED_ACTIONS: frozenset[str] = frozenset({"ACCEPT", "DROP", "RETURN", "REJECT", "DNAT", "SNAT", "MASQUERADE",
                                           "REDIRECT", "MARK"})

#: The x_tables ("legacy") table modules the seed's /etc/modules-load.d/istio-iptables.conf loads.
LEGACY_TABLE_MODULES: tuple[str, ...] = ("iptable_nat", "iptable_mangle", "iptable_filter", "iptable_raw")
#: Extra xt modules istio-init's REDIRECT rules use (istio #44118's fix lists them too).
ISTIO_XT_MODULES: tuple[str, ...] = ("xt_REDIRECT", "xt_owner")
#: The one list of the kernel modules Istio's iptables-restore needs, for `nfwb check`, the
#: ModuleChecker widget and the notebooks' prose: the table modules, then the xt ones.
ISTIO_MODULES: tuple[str, ...] = LEGACY_TABLE_MODULES + ISTIO_XT_MODULES

# -- invariants ------------------------------------------------------------------------------------
assert set(BUILTIN_CHAINS) == set(TABLES), "every table has its built-in chains"
assert all(set(chains) <= set(HOOKS) for chains in BUILTIN_CHAINS.values()), "built-in chains are hooks"
assert all(PROTOCOLS[name] == num for num, name in PROTOCOL_NAMES.items()), "a printed name reads back"
assert all(0 <= n <= 255 for n in PROTOCOLS.values()), "protocol numbers are one byte"
assert all(name == name.lower() for name in PROTOCOLS), "-p is lower-cased before the lookup"
assert PORT_PROTOCOLS <= set(PROTOCOL_NAMES), "ported protocols have names"
assert set(PROTOCOL_MATCHES) <= set(PROTOCOLS), "implicit matches are named after protocols"
assert all(0 <= t <= 255 and (c is None or 0 <= c <= 255) for t, c in [*ICMP_TYPES.values(), *ICMPV6_TYPES.values()])
assert len(set(ISTIO_MODULES)) == len(ISTIO_MODULES), "no module twice"
