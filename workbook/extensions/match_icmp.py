"""``-m icmp --icmp-type`` (``libipt_icmp``/``ip_tables``) and ``-m icmp6 --icmpv6-type`` (``libip6t_icmp6``).

The kernel's ``icmp_type_code_match``: type 255 ("any", IPv4 only) matches every ICMP packet, else the
type must be equal and the code within the rule's range (every code when none is given). The
packet's type/code is ``Packet.extra["icmp_type"]`` ("8/0", an echo request, when not given).
"""

from __future__ import annotations

from ..model import Match, Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader
from ..trace.state import State
from ..vocab import ICMP_TYPES, ICMPV6_TYPES
from .registry import Extension, OptionSpec

__all__ = ["EXTENSIONS", "icmp_want"]


def icmp_want(text: str, v6: bool = False) -> tuple[int, int, int]:
    """(type, lowest code, highest code) of an ``--icmp-type`` value: a name, ``T`` or ``T/C``.

    >>> icmp_want("any"), icmp_want("port-unreachable"), icmp_want("11"), icmp_want("echo-request", v6=True)
    ((255, 0, 255), (3, 3, 3), (11, 0, 255), (128, 0, 255))
    """
    names = ICMPV6_TYPES if v6 else ICMP_TYPES
    if text in names:
        typ, code = names[text]
    else:
        a, sep, b = text.partition("/")
        if not a.isdecimal() or sep and not b.isdecimal():
            raise ValueError(f"unknown ICMP{'v6' if v6 else ''} type {text[:30]!r}")
        typ, code = int(a), int(b) if sep else None
        if typ > 255 or code is not None and code > 255:
            raise ValueError(f"ICMP type {text[:30]!r} out of range")
    return (typ, 0, 255) if code is None else (typ, code, code)


def _compile(comp, rule: Rule, m: Match, checks: list, stats: list) -> None:
    v6 = m.module == "icmp6"
    flag = "--icmpv6-type" if v6 else "--icmp-type"
    num = 58 if v6 else 1
    for o in m.options:
        if o.flag != flag:
            comp.unknown_option(m, o, checks)
            continue
        typ, lo, hi = icmp_want(o.value, v6)
        desc, neg = o.to_save(), o.negated

        def chk(s: State, typ=typ, lo=lo, hi=hi, desc=desc, neg=neg):
            if s.proto_num != num:
                return f"-m {m.module} {desc}: not an {'ICMPv6' if v6 else 'ICMP'} packet"
            ty, code = s.icmp
            ok = (typ == 255 and not v6) or (ty == typ and lo <= code <= hi)
            return None if ok != neg else f"{desc} does not match icmp type {ty}/{code}"
        checks.append(chk)


def _text(m: Match) -> str:
    """`` icmptype 8``, `` icmp !type 3 code 3`` (``ipv6-icmp`` for icmp6), as iptables lists them with ``-n``.

    >>> _text(Match("icmp", (Option("--icmp-type", ("port-unreachable",), True),)))
    ' icmp !type 3 code 3'
    >>> _text(Match("icmp6", (Option("--icmpv6-type", ("echo-request",)),)))
    ' ipv6-icmptype 128'
    """
    v6 = m.module == "icmp6"
    o = m.get("--icmpv6-type" if v6 else "--icmp-type")
    word = "ipv6-icmp" if v6 else "icmp"
    if o is None:
        return f" {word}"
    typ, lo, hi = icmp_want(o.value, v6)
    out = f" {word}{' !' if o.negated else ''}type {typ}"
    if (lo, hi) != (0, 255):
        out += f" code {lo}" if lo == hi else f" codes {lo}-{hi}"
    return out


def _read(t: list[str], i: int, neg: bool, ctx: ListingContext) -> tuple[Match, int]:
    """``icmptype 8 [code C|codes A-B]``, ``icmp !type 8``; without ``-n``: ``icmp echo-request``."""
    w = t[i]
    v6 = w.startswith("ipv6-icmp")
    mod, flag = ("icmp6", "--icmpv6-type") if v6 else ("icmp", "--icmp-type")
    rest = w[9:] if v6 else w[4:]
    j = i + 1
    inv = False
    if rest == "" and j < len(t) and t[j] in ("!type", "type", "!"):
        rest = t[j]
        j += 1
    if rest.startswith("!"):
        inv, rest = True, rest[1:]
    if rest == "type":
        if j >= len(t) or not t[j].isdecimal():
            raise NotThisReader
        typ = int(t[j])
        j += 1
        code = None
        if j + 1 < len(t) and t[j] == "code":
            code = t[j + 1]
            j += 2
        elif j + 1 < len(t) and t[j] == "codes":
            lo, _, hi = t[j + 1].partition("-")
            code = lo if lo == hi or (lo, hi) != ("0", "255") else None
            j += 2
        value = "any" if typ == 255 and not v6 else str(typ)
        if code is not None:
            value += f"/{code}"
        return Match(mod, (Option(flag, (value,), inv),)), j
    if rest == "" and j < len(t):  # the name form without -n: "icmp echo-request", "icmp !port-unreachable"
        name = t[j]
        if name.startswith("!"):
            inv, name = True, name[1:]
        names = ICMPV6_TYPES if v6 else ICMP_TYPES
        if name in names:
            typ, c = names[name]
            value = "any" if typ == 255 else str(typ) + ("" if c is None else f"/{c}")
            return Match(mod, (Option(flag, (value,), inv),)), j + 1
    raise NotThisReader


EXTENSIONS = (
    Extension("icmp", "match", "the ICMP type and code of an IPv4 ICMP packet (-p icmp)",
              options=(OptionSpec("--icmp-type"),), families=frozenset({"ipv4"}),
              listing_words=("icmp", "icmptype"), owners=("ufw", "firewalld", "Calico", "Docker"),
              read_listing=_read, listing_text=_text, compile=_compile),
    Extension("icmp6", "match", "the ICMPv6 type and code of an IPv6 ICMP packet (-p ipv6-icmp)",
              options=(OptionSpec("--icmpv6-type"),), families=frozenset({"ipv6"}),
              listing_words=("ipv6-icmp", "ipv6-icmptype"), owners=("ufw", "firewalld", "Calico", "kube-proxy"),
              read_listing=_read, listing_text=_text, compile=_compile),
)
