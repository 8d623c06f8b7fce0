"""The words of netfilter that every part shares: protocols, ICMP types (one table each, our own)."""

from __future__ import annotations

__all__ = ["PROTOCOLS", "ICMP_TYPES"]

#: protocol name -> number (IANA), for ``-p``, ``--ctproto`` and nft ``meta l4proto``; our own
#: table, so a rule never reads differently on another machine (no ``/etc/protocols``)
PROTOCOLS: dict[str, int] = {"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51,
                             "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132, "udplite": 136, "dccp": 33,
                             "mh": 135, "ipip": 4}

#: ``--icmp-type`` names as iptables knows them -> (type, code or None); "any" matches every type
ICMP_TYPES = {"any": None, "echo-reply": (0, None), "pong": (0, None), "destination-unreachable": (3, None),
               "network-unreachable": (3, 0), "host-unreachable": (3, 1), "protocol-unreachable": (3, 2),
               "port-unreachable": (3, 3), "fragmentation-needed": (3, 4), "source-quench": (4, None),
               "redirect": (5, None), "echo-request": (8, None), "ping": (8, None),
               "router-advertisement": (9, None), "router-solicitation": (10, None),
               "time-exceeded": (11, None), "ttl-exceeded": (11, None), "parameter-problem": (12, None),
               "timestamp-request": (13, None), "timestamp-reply": (14, None)}
