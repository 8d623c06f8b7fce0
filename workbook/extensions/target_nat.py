"""``-j DNAT``, ``SNAT``, ``MASQUERADE``, ``REDIRECT``, ``NETMAP`` (``xt_nat``, ``xt_MASQUERADE``,
``xt_REDIRECT``, ``xt_NETMAP``): the nat table's address rewrites, as ``nf_nat_setup_info`` does them.

Each ends the nat table's walk with ACCEPT. What the kernel picks (``get_unique_tuple``), for a
connection's first packet when no other connection holds the tuple:

- an address range: the address ``find_best_ips_proto`` hashes the flow to (exact, see
  :func:`~workbook.extensions._nat.pick_address`); SNAT keeps the source when it is already in the range;
- a port range: the packet's port when it is already in the range, else DNAT takes the first port;
  SNAT/MASQUERADE and ``--random``/``--random-fully`` take a random one (assumed: the first);
- REDIRECT: 127.0.0.1 (::1) in OUTPUT, else the incoming interface's first address (the node's
  first address of the packet's family is assumed); NETMAP: the network part replaced.
MASQUERADE's address is the output interface's (not known to a dump: ``masquerade`` in the trace).
"""

from __future__ import annotations

from ..addr import format_ip, parse_ip, parse_net
from ..model import Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader
from ..trace.state import Context, State
from ._nat import masquerade, nat_range, pick_address, rewrite_dst, rewrite_src
from .registry import Extension, OptionSpec

__all__ = ["EXTENSIONS"]

_NAT = frozenset({"nat"})
_RANDOM = ("--random", "--random-fully")


def _assumed(s: State, why: str) -> None:
    s.note(why)
    s.steps[-1].assumed = True


def _port(s: State, rule: Rule, have: int | None, lo: int | None, hi: int | None, *, dst: bool) -> int | None:
    """The port ``get_unique_tuple`` leaves the packet with (None: keep it)."""
    random = any(rule.target_option(f) is not None for f in _RANDOM)
    if have is None:
        return None
    if lo is None or hi is None:
        if random and not dst:  # the source port is in no verdict or path: a note, not an assumption
            s.note(f"{rule.spec}: the kernel picks a random source port; the packet's is shown")
        return None
    if not random and lo <= have <= hi:
        return None
    if dst and not random:
        return lo
    if lo != hi:
        why = f"{rule.spec}: the kernel picks a random port in {lo}-{hi}; the first is assumed"
        _assumed(s, why) if dst else s.note(why)
    return lo


def _address(s: State, rule: Rule, r, src: bool) -> str | None:
    """The address of range ``r`` the packet gets (None: kept): SNAT keeps a source already in the
    range (address and port) unless ``--random*``; else the flow's hash picks one."""
    if r.first is None:
        return None
    first, last = parse_ip(r.first), parse_ip(r.last or r.first)
    flow_src, flow_dst = parse_ip(s.orig_src), parse_ip(s.orig_dst)
    persistent = rule.target_option("--persistent") is not None
    if src and not any(rule.target_option(f) is not None for f in _RANDOM):
        port_ok = r.port_lo is None or s.sport is None or r.port_lo <= s.sport <= (r.port_hi or r.port_lo)
        if first[0] == s.src_i[0] and first[1] <= s.src_i[1] <= last[1] and port_ok:
            return None  # already in the range: kept
    return format_ip(first[0], pick_address(first, last, flow_src, flow_dst, persistent))


def _dnat(tracer, s: State, rule: Rule, ctx: Context) -> str:
    o = rule.target_option
    to = o("--to-destination") or o("--to")  # getopt takes an unambiguous abbreviation
    if to is None:
        s.note(f"{rule.spec}: DNAT without --to-destination")
        return "ACCEPT"
    if sum(1 for x in rule.target_options if x.flag == "--to-destination") > 1:
        _assumed(s, f"{rule.spec}: several --to-destination ranges; the first is used")
    r = nat_range(to.args[0])
    host = _address(s, rule, r, False)
    rewrite_dst(s, host, _port(s, rule, s.dport, r.port_lo, r.port_hi, dst=True))
    return "ACCEPT"


def _snat(tracer, s: State, rule: Rule, ctx: Context) -> str:
    o = rule.target_option
    to = o("--to-source") or o("--to")
    if to is None:
        return "ACCEPT"
    r = nat_range(to.args[0])
    host = _address(s, rule, r, True)
    rewrite_src(s, host or (s.src if r.first else None), _port(s, rule, s.sport, r.port_lo, r.port_hi, dst=False))
    return "ACCEPT"


def _masquerade(tracer, s: State, rule: Rule, ctx: Context) -> str:
    ports = rule.target_option("--to-ports")
    lo = hi = None
    if ports is not None:
        r = nat_range(":" + ports.value)
        lo, hi = r.port_lo, r.port_hi
    masquerade(s, _port(s, rule, s.sport, lo, hi, dst=False))
    return "ACCEPT"


def _redirect(tracer, s: State, rule: Rule, ctx: Context) -> str:
    v = s.dst_i[0]
    if s.hook == "OUTPUT":
        host = "127.0.0.1" if v == 4 else "::1"
    else:
        mine = sorted((a for a in ctx.local if parse_ip(a)[0] == v), key=lambda a: parse_ip(a)[1])
        if not mine:
            host = s.dst
            _assumed(s, "REDIRECT: the incoming interface's address is not known (give node_ips); destination kept")
        else:
            host = mine[0]
            if len(mine) > 1:
                _assumed(s, f"REDIRECT: the incoming interface's first address is assumed to be {host}")
    ports = rule.target_option("--to-ports")
    lo = hi = None
    if ports is not None:
        r = nat_range(":" + ports.value)
        lo, hi = r.port_lo, r.port_hi
    rewrite_dst(s, host, _port(s, rule, s.dport, lo, hi, dst=True))
    return "ACCEPT"


def _netmap(tracer, s: State, rule: Rule, ctx: Context) -> str:
    to = rule.target_option("--to")
    if to is None:
        return "ACCEPT"
    v, base, mask = parse_net(to.value)
    full = 0xFFFFFFFF if v == 4 else (1 << 128) - 1
    if s.hook in ("PREROUTING", "OUTPUT"):
        x = (s.dst_i[1] & ~mask & full) | base
        rewrite_dst(s, format_ip(v, x), None)
    else:
        x = (s.src_i[1] & ~mask & full) | base
        rewrite_src(s, format_ip(v, x), None)
    return "ACCEPT"


# ---- listing ---------------------------------------------------------------------------------

def _flags_after(t: list[str], j: int, allowed: dict[str, str]) -> tuple[list[Option], int]:
    opts = []
    while j < len(t) and t[j] in allowed:
        opts.append(Option(allowed[t[j]]))
        j += 1
    return opts, j


_RANGE_FLAGS = {"random": "--random", "random-fully": "--random-fully", "persistent": "--persistent"}
_TO = {"DNAT": "--to-destination", "SNAT": "--to-source", "NETMAP": "--to"}


def _read_to(t: list[str], i: int, target: str, ctx: ListingContext):
    """``to:10.0.0.1:80 random persistent`` (DNAT, SNAT), ``to:10.5.0.0/16`` (NETMAP)."""
    w = t[i]
    if not w.startswith("to:"):
        raise NotThisReader
    opts = [Option(_TO[target], (w[3:],))]
    more, j = _flags_after(t, i + 1, _RANGE_FLAGS if target != "NETMAP" else {})
    return opts + more, j


def _text_to(rule: Rule) -> str:
    out = "".join(f" to:{o.value}" for o in rule.target_options if o.flag in _TO.values())
    return out + "".join(f" {f[2:]}" for f in ("--random", "--random-fully", "--persistent")
                         if rule.target_option(f) is not None)


def _ports_reader(lead: tuple[str, str], flags: dict[str, str]):
    """MASQUERADE (``masq ports: A-B``) and REDIRECT (``redir ports 15001``): optional
    ``--to-ports`` after ``lead``, then flag words such as ``random-fully``."""
    def read(t: list[str], i: int, target: str, ctx: ListingContext):
        opts = []
        j = i
        if t[j] == lead[0] and j + 2 < len(t) and t[j + 1] == lead[1]:
            opts.append(Option("--to-ports", (t[j + 2],)))
            j += 3
        more, j = _flags_after(t, j, flags)
        if j == i:
            raise NotThisReader
        return opts + more, j
    return read


def _ports_text(lead: str, flags: tuple[str, ...]):
    def text(rule: Rule) -> str:
        ports = rule.target_option("--to-ports")
        out = f" {lead} {ports.value}" if ports is not None else ""
        return out + "".join(f" {f[2:]}" for f in flags if rule.target_option(f) is not None)
    return text


_OWNERS = ("kube-proxy", "CNI portmap", "Docker", "Calico", "AWS VPC CNI")
_RANGE_OPTS = (OptionSpec("--random", nargs=0, negatable=False), OptionSpec("--random-fully", nargs=0, negatable=False),
               OptionSpec("--persistent", nargs=0, negatable=False))

EXTENSIONS = (
    Extension("DNAT", "target", "rewrite the destination (address range and/or port range) of a new connection",
              options=(OptionSpec("--to-destination", negatable=False), *_RANGE_OPTS), tables=_NAT,
              owners=_OWNERS, read_listing=_read_to, listing_text=_text_to, apply=_dnat, terminal=True),
    Extension("SNAT", "target", "rewrite the source (address range and/or port range) of a new connection",
              options=(OptionSpec("--to-source", negatable=False), *_RANGE_OPTS), tables=_NAT,
              owners=_OWNERS, read_listing=_read_to, listing_text=_text_to, apply=_snat, terminal=True),
    Extension("MASQUERADE", "target", "SNAT to the address of the interface the packet leaves on",
              reason="the output interface's address is not in a dump: the trace says 'masquerade'",
              options=(OptionSpec("--to-ports", negatable=False), *_RANGE_OPTS[:2]), tables=_NAT, owners=_OWNERS,
              read_listing=_ports_reader(("masq", "ports:"), {"random": "--random", "random-fully": "--random-fully"}),
              listing_text=_ports_text("masq ports:", ("--random", "--random-fully")), apply=_masquerade, terminal=True),
    Extension("REDIRECT", "target", "DNAT to the node itself (127.0.0.1 in OUTPUT, else the incoming interface's address)",
              options=(OptionSpec("--to-ports", negatable=False), _RANGE_OPTS[0]), tables=_NAT,
              owners=("Istio", "Docker", "kube-proxy"),
              read_listing=_ports_reader(("redir", "ports"), {"random": "--random"}),
              listing_text=_ports_text("redir ports", ("--random",)), apply=_redirect, terminal=True),
    Extension("NETMAP", "target", "map a whole network onto another, host part kept (destination before routing, "
              "source after)", options=(OptionSpec("--to", negatable=False),), tables=_NAT,
              read_listing=_read_to, listing_text=_text_to, apply=_netmap, terminal=True),
)
