"""``-m rpfilter`` (``xt_rpfilter``): is the source reachable back through the interface the packet came in on?

Legal in raw and mangle PREROUTING. The reverse lookup uses the node's routes (``routes=``, the
dump's ``ip route``); without them the path back is assumed to be the arrival interface, and
the step says so. ``--validmark`` (the lookup uses the packet's mark) does not change a lookup
in routes that have no mark rules.
"""

from __future__ import annotations

from ..model import Match, Option, Rule
from ..parse.listing_words import ListingContext
from ..trace.state import Assume, AssumeFail, Context, State, is_local_int
from .registry import Extension, OptionSpec

__all__ = ["EXTENSIONS", "reverse_path"]

_FLAGS = ("--loose", "--validmark", "--accept-local", "--invert")


def reverse_path(ctx: Context, s: State, loose: bool, accept_local: bool) -> tuple[bool, str, bool]:
    """(valid, why, sure): ``xt_rpfilter``'s reverse lookup of the source (``rpfilter_mt``).

    Without routes (``routes=None``) a non-local source is assumed to route back through the
    interface it came in on (valid, not sure); a local source is a local route: invalid
    unless ``--accept-local``.
    """
    iface = s.in_iface
    if iface is None or iface == "lo":
        return True, "a packet from the node (loopback) always passes", True
    v, x = s.src_i
    if v == 4 and x >> 24 == 0 and (s.dst_i[1] == 0xFFFFFFFF or (s.dst_i[1] >> 8) == 0xE00000):
        return True, f"source {s.src} to a broadcast or link-local multicast address passes", True
    if is_local_int(ctx, v, x):
        if not accept_local:
            return False, (f"source {s.src} is a local address: the reverse lookup finds a local route, "
                           f"not a valid path without --accept-local"), True
        r = ctx.route(v, x)
        if r is None or r.type != "local" or r.dev is None:
            return True, (f"source {s.src} is local and --accept-local is given (the interface of that "
                          f"address is not known: assumed {iface})"), False
        return loose or r.dev == iface, f"source {s.src} is local on {r.dev}, the packet came in on {iface}", True
    if ctx.routes is None:
        return True, (f"no routes given (routes=... / the dump's ip route): the reverse path of {s.src} is "
                      f"assumed to be {iface}, where it came in"), False
    r = ctx.route(v, x)
    if r is None:
        return False, f"no route back to {s.src}", True
    if r.type != "unicast":
        return False, f"the route back to {s.src} is {r.type} {r.prefix}", True
    if loose:
        return True, f"a route back to {s.src} exists ({r.prefix} dev {r.dev}); --loose takes any interface", True
    return r.dev == iface, f"the route back to {s.src} is {r.prefix} dev {r.dev}, the packet came in on {iface}", True


def _compile(comp, rule: Rule, m: Match, checks: list, stats: list) -> None:
    flags = {o.flag for o in m.options}
    if flags - set(_FLAGS):
        comp.assumed_module(rule, m, checks, stats)
        return
    invert, loose, accept_local = "--invert" in flags, "--loose" in flags, "--accept-local" in flags
    desc = m.to_save()
    ctx_ref = comp.ctx_ref

    def chk(s: State):
        valid, why, sure = reverse_path(ctx_ref[0], s, loose, accept_local)
        ok = valid != invert
        text = f"{desc}: {why}"
        if not sure:
            return Assume(text) if ok else AssumeFail(text)
        return None if ok else text
    checks.append(chk)


def _text(m: Match) -> str:
    """`` rpfilter loose validmark accept-local invert`` (the options in libxt_rpfilter's order)."""
    have = {o.flag for o in m.options}
    return " rpfilter" + "".join(f" {f[2:]}" for f in _FLAGS if f in have)


def _read(t: list[str], i: int, neg: bool, ctx: ListingContext) -> tuple[Match, int]:
    j = i + 1
    opts = []
    while j < len(t) and "--" + t[j] in _FLAGS:
        opts.append(Option("--" + t[j]))
        j += 1
    return Match("rpfilter", tuple(opts)), j


EXTENSIONS = (
    Extension("rpfilter", "match", "reverse-path filter: the source routes back through the arrival interface",
              options=tuple(OptionSpec(f, nargs=0, negatable=False) for f in _FLAGS),
              tables=frozenset({"raw", "mangle"}), listing_words=("rpfilter",), owners=("firewalld", "Calico"),
              read_listing=_read, listing_text=_text, compile=_compile),
)
