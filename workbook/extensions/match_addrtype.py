"""``-m addrtype`` (``xt_addrtype``): the route type of the source or destination address.

IPv4 (``inet_dev_addr_type``): 0.0.0.0/8 and 255.255.255.255 are BROADCAST, 224.0.0.0/4 MULTICAST,
an address of the node LOCAL (the local routing table), anything else UNICAST. A subnet's
broadcast address and BLACKHOLE/UNREACHABLE/PROHIBIT/THROW/NAT/XRESOLVE need the node's local
routing table, which a dump rarely holds: a rule asking for them is assumed. With
``--limit-iface-in/out`` the type counts only when the address's route is on that interface,
which is not known for the node's addresses: assumed.
"""

from __future__ import annotations

from ..model import Match, Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader
from ..trace.state import Assume, AssumeFail, Context, State, addr_types, is_local_int
from .registry import Extension, OptionSpec

__all__ = ["EXTENSIONS", "address_types"]

#: the types the tracer can tell apart; the others need the local routing table
_KNOWN = frozenset({"LOCAL", "UNICAST", "UNSPEC", "BROADCAST", "MULTICAST"})
TYPES = ("UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST", "BLACKHOLE", "UNREACHABLE",
         "PROHIBIT", "THROW", "NAT", "XRESOLVE")


def address_types(ctx: Context, v: int, x: int) -> set[str]:
    """The route types ``xt_addrtype`` gives an address (IPv6: :func:`~workbook.trace.state.addr_types`).

    >>> ctx = Context(["10.0.0.1"], None)
    >>> [sorted(address_types(ctx, 4, x)) for x in (0x0A000001, 0, 0xFFFFFFFF, 0xE0000001, 0x08080808)]
    [['LOCAL'], ['BROADCAST'], ['BROADCAST'], ['MULTICAST'], ['UNICAST']]
    """
    if v != 4:
        return addr_types(ctx, v, x)
    if (x >> 24) == 0 or x == 0xFFFFFFFF:
        return {"BROADCAST"}
    if (x >> 28) == 0xE:
        return {"MULTICAST"}
    return {"LOCAL"} if is_local_int(ctx, v, x) else {"UNICAST"}


def _compile(comp, rule: Rule, m: Match, checks: list, stats: list) -> None:
    limit = next((o.flag for o in m.options if o.flag in ("--limit-iface-in", "--limit-iface-out")), None)
    ctx_ref = comp.ctx_ref
    for o in m.options:
        if o.flag in ("--limit-iface-in", "--limit-iface-out"):
            continue
        if o.flag not in ("--src-type", "--dst-type"):
            comp.unknown_option(m, o, checks)
            continue
        types = set(o.value.upper().split(","))
        unknown = types - _KNOWN
        desc, neg = o.to_save(), o.negated
        field = "src_i" if o.flag == "--src-type" else "dst_i"

        def chk(s: State, types=types, unknown=unknown, desc=desc, neg=neg, field=field):
            have = address_types(ctx_ref[0], *getattr(s, field))
            ok = bool(have & types) != neg
            addr = s.src if field == "src_i" else s.dst
            if unknown or limit and "LOCAL" in have:
                why = (f"-m addrtype {desc}: "
                       + (f"route types {','.join(sorted(unknown))} need the node's local routing table"
                          if unknown else f"{limit} counts a LOCAL address only on the interface that holds it, "
                                          f"which is not known")
                       + f"; {addr} taken as {','.join(sorted(have))}")
                return Assume(why) if ok else AssumeFail(why)
            return None if ok else f"-m addrtype {desc} does not match {addr} ({','.join(sorted(have))})"
        checks.append(chk)


def _text(m: Match) -> str:
    """`` ADDRTYPE match src-type UNICAST,LOCAL dst-type !BROADCAST limit-in``.

    >>> _text(Match("addrtype", (Option("--dst-type", ("LOCAL",)),)))
    ' ADDRTYPE match dst-type LOCAL'
    """
    out = " ADDRTYPE match"
    for o in m.options:
        if o.flag in ("--src-type", "--dst-type"):
            out += f" {o.flag[2:]} {'!' if o.negated else ''}{o.value}"
        elif o.flag == "--limit-iface-in":
            out += " limit-in"
        elif o.flag == "--limit-iface-out":
            out += " limit-out"
    return out


def _read(t: list[str], i: int, neg: bool, ctx: ListingContext) -> tuple[Match, int]:
    if i + 1 >= len(t) or t[i + 1] != "match":
        raise NotThisReader
    j = i + 2
    opts: list[Option] = []
    n = len(t)
    while j < n:
        w = t[j]
        if w in ("src-type", "dst-type") and j + 1 < n:
            v = t[j + 1]
            inv = v.startswith("!")
            opts.append(Option("--" + w, (v[1:] if inv else v,), inv))
            j += 2
        elif w == "limit-in":
            opts.append(Option("--limit-iface-in"))
            j += 1
        elif w == "limit-out":
            opts.append(Option("--limit-iface-out"))
            j += 1
        else:
            break
    return Match("addrtype", tuple(opts)), j


EXTENSIONS = (
    Extension("addrtype", "match", "the route type (LOCAL, UNICAST, BROADCAST...) of the source or destination address",
              options=(OptionSpec("--src-type"), OptionSpec("--dst-type"), OptionSpec("--limit-iface-in", nargs=0, negatable=False),
                       OptionSpec("--limit-iface-out", nargs=0, negatable=False)),
              listing_words=("ADDRTYPE",), owners=("kube-proxy", "CNI portmap", "Docker", "Calico", "AWS VPC CNI"),
              read_listing=_read, listing_text=_text, compile=_compile),
)
