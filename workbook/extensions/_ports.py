"""Ports and port ranges as the port matches write, list and test them (tcp, udp, sctp, dccp, multiport)."""

from __future__ import annotations

from ..addr import port_range
from ..parse.listing_words import ListingContext, NotThisReader, port_words
from ..trace.state import Check, State

__all__ = ["port_ranges", "ranges_text", "port_check", "listed_port", "read_port_word", "PORT_FIELDS"]

#: the option of a port match -> (the flag as saved, the packet field it tests)
PORT_FIELDS = {"--dport": ("--dport", "dport"), "--destination-port": ("--dport", "dport"),
               "--sport": ("--sport", "sport"), "--source-port": ("--sport", "sport"),
               "--dports": ("--dports", "dport"), "--destination-ports": ("--dports", "dport"),
               "--sports": ("--sports", "sport"), "--source-ports": ("--sports", "sport")}


def port_ranges(text: str) -> list[tuple[int, int]]:
    """``80,443,1000:2000`` (also ``1000:``, ``:500``) as inclusive ranges; ValueError for a bad port.

    >>> port_ranges("80,1000:,:5")
    [(80, 80), (1000, 65535), (0, 5)]
    """
    return [port_range(p) for p in text.split(",")]


def ranges_text(text: str, sep: str = ":") -> str:
    """Ports as iptables prints them back: ranges in full, a one-port range as the port.

    >>> ranges_text("1000:"), ranges_text(":500"), ranges_text("80:80,8080")
    ('1000:65535', '0:500', '80,8080')
    """
    out = []
    for lo, hi in port_ranges(text):
        out.append(str(lo) if lo == hi else f"{lo}{sep}{hi}")
    return ",".join(out)


def port_check(comp, flag: str, text: str, neg: bool, field: str) -> Check:
    """The check of ``[!] flag text`` on the packet's ``field`` (``sport``/``dport``), shared among rules.

    The kernel's ``port_match``: ``(lo <= port <= hi) ^ invert`` for any of the ranges.
    """
    def make() -> Check:
        ranges = port_ranges(text)
        desc = f"{'! ' if neg else ''}{flag} {text}"

        def chk(s: State):
            p = getattr(s, field)
            if p is None:
                return f"{desc}: the packet has no {'source' if field == 'sport' else 'destination'} port"
            hit = any(lo <= p <= hi for lo, hi in ranges)
            if hit != neg:
                return None
            return f"{desc} does not match {p}"
        return chk
    return comp.shared(("ports", flag, text, neg, field), make)


def listed_port(prefix: str, value: str, neg: bool) -> str:
    """``spt:80``, ``dpts:!1000:2000`` (libxt_tcp's ``print_ports``).

    >>> listed_port("dpt", "1000:", True), listed_port("spt", "53", False)
    ('dpts:!1000:65535', 'spt:53')
    """
    v = ranges_text(value)
    return f"{prefix}{'s' if ':' in v else ''}:{'!' if neg else ''}{v}"


def read_port_word(word: str, proto: str, ctx: ListingContext) -> tuple[str, str, bool]:
    """``spt:80`` / ``dpts:!1:2`` -> (``--sport``/``--dport``, value as saved, negated); NotThisReader otherwise."""
    k, sep, v = word.partition(":")
    if not sep or k not in ("spt", "spts", "dpt", "dpts"):
        raise NotThisReader
    neg = v.startswith("!")
    return ("--sport" if k[0] == "s" else "--dport"), port_words(v[1:] if neg else v, proto, ctx), neg
