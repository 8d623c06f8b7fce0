"""What flows along one branch of a trace (:class:`State`), what is fixed for one trace
(:class:`Context`), and the results a check may give (None, a reason, :class:`Assume`)."""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ..addr import parse_ip, parse_net, port_range
from ..model import InputError
from ..netfilter import local_addresses
from ..routing import ROUTE_ERRORS, Route, parse_routes

if TYPE_CHECKING:
    from ..packet import Step
    from .header import Header

__all__ = ["State", "Assume", "AssumeFail", "Check", "Context", "set_entry", "is_local_int", "addr_types", "KEY_SLOTS",
           "state_key"]


class State:
    """Everything that flows along one branch of a trace (copied when a branch splits)."""

    # The slots' types (annotations only: __slots__ keeps the storage); set by the tracers' _initial.
    src: str
    dst: str
    src_i: tuple[int, int]  # (IP version, address as an int)
    dst_i: tuple[int, int]
    sport: int | None
    dport: int | None
    proto: str
    proto_num: int
    in_iface: str | None
    out_iface: str | None
    user_out: str | None
    mark: int
    ctmark: int
    ctstate: str
    ct_dnat: bool
    ct_snat: bool
    nat_done: set[str]
    orig_src: str
    orig_dst: str
    orig_sport: int | None
    orig_dport: int | None
    icmp: tuple[int, int]
    prob: float
    steps: list[Step]
    notes: list[str]
    stack: list[list[Any]]  # the chain frames; their layout is the tracer's (trace.walk, nft.trace)
    hook: str | None
    table: Any  # a table name; the nft tracer also puts its hook entries (an nft base chain) here
    base: Any  # the base chain being walked (the tracer's compiled chain)
    from_node: bool
    lo: bool
    routed: bool
    dnat: str | None
    snat: str | None
    masq: bool
    recent: dict[Any, dict[Any, int]] | None  # -m recent lists and nft set updates: name → key → hits
    verdict: str | None
    assumed: bool
    hook_in: str | None  # the interfaces -i / -o see at the current hook
    hook_out: str | None
    route_out: str | None
    splits: int
    memo: dict[Any, Any] | None
    counted: int
    tcp_flags: int | None
    set_ops: tuple[tuple[str, str, tuple], ...]
    hdr: Header
    owner: tuple[int, int, tuple[int, ...] | None] | None  # -- core-proof -- (its slot comes with that branch)

    __slots__ = ("src", "dst", "src_i", "dst_i", "sport", "dport", "proto", "proto_num", "in_iface",
                 "out_iface", "user_out", "mark", "ctmark", "ctstate", "ct_dnat", "ct_snat", "nat_done",
                 "orig_src", "orig_dst", "orig_sport", "orig_dport", "icmp", "prob", "steps", "notes",
                 "stack", "hook", "table", "base", "from_node", "lo", "routed", "dnat", "snat", "masq",
                 "recent", "verdict", "assumed", "hook_in", "hook_out", "route_out",
                 "splits", "memo", "counted",
                 # -- ext-core -- the TCP flags byte; -- ext-targets -- what -j SET did to sets
                 # (("add"|"del", set, entry), ...); -- ext-header -- the header fields (TTL, TOS, MSS...)
                 "tcp_flags", "set_ops", "hdr",
                 # -- core-proof -- the sending socket's (uid, gid, supplementary groups or None) when given
                 "owner")

    def clone(self) -> "State":
        c = State.__new__(State)
        (c.src, c.dst, c.src_i, c.dst_i, c.sport, c.dport, c.proto, c.proto_num, c.in_iface, c.out_iface,
         c.user_out, c.mark, c.ctmark, c.ctstate, c.ct_dnat, c.ct_snat, c.orig_src, c.orig_dst, c.orig_sport,
         c.orig_dport, c.icmp, c.prob, c.hook, c.table, c.base, c.from_node, c.lo, c.routed, c.dnat, c.snat,
         c.masq, c.verdict, c.assumed, c.hook_in, c.hook_out, c.route_out) = (
            self.src, self.dst, self.src_i, self.dst_i, self.sport, self.dport, self.proto, self.proto_num,
            self.in_iface, self.out_iface, self.user_out, self.mark, self.ctmark, self.ctstate, self.ct_dnat,
            self.ct_snat, self.orig_src, self.orig_dst, self.orig_sport, self.orig_dport, self.icmp, self.prob,
            self.hook, self.table, self.base, self.from_node, self.lo, self.routed, self.dnat, self.snat,
            self.masq, self.verdict, self.assumed, self.hook_in, self.hook_out, self.route_out)
        c.steps = self.steps[:]
        c.notes = self.notes[:]
        c.stack = [f[:] for f in self.stack]
        c.nat_done = set(self.nat_done)
        c.recent = {k: dict(v) for k, v in self.recent.items()} if self.recent else self.recent
        c.splits = self.splits
        c.memo = dict(self.memo) if self.memo is not None else None
        c.counted = len(c.steps)
        c.tcp_flags = self.tcp_flags  # -- ext-core -- the TCP flags byte (None: not given)
        c.set_ops = self.set_ops  # -- ext-targets --
        c.hdr = self.hdr  # -- ext-header -- (immutable)
        c.owner = self.owner  # -- core-proof -- (immutable)
        return c

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def set_dst(self, ip: str) -> None:
        self.dst = ip
        self.dst_i = parse_ip(ip)

    def set_src(self, ip: str) -> None:
        self.src = ip
        self.src_i = parse_ip(ip)

    def ctstates(self) -> set[str]:
        out = {self.ctstate}
        if self.ct_dnat:
            out.add("DNAT")
        if self.ct_snat:
            out.add("SNAT")
        return out


#: What a chain's walk may depend on or change: two entries into a chain with equal values walk alike.
KEY_SLOTS = tuple(n for n in State.__slots__ if n not in (
    "steps", "notes", "stack", "prob", "splits", "memo", "counted", "nat_done", "recent",
    "verdict", "base"))
state_key = attrgetter(*KEY_SLOTS)


class Assume(str):
    """A check result meaning: could not judge; assumed to hold (the text says why)."""


class AssumeFail(str):
    """A check result meaning: could not judge; assumed NOT to hold (the text says why)."""


# A check takes the state and returns None (holds), a str (fails: why) or an Assume (assumed).
Check = Callable[[State], Any]


class Context:
    """What checks may read that is fixed for one trace: local addresses, ipset contents, routes."""

    __slots__ = ("local", "local_i", "ipsets", "ipsets_obj", "routes", "routes_obj", "route_families", "local_nets")

    def __init__(self, node_ips: Iterable[str], ipsets: dict[str, list[str]] | None,
                 routes: Iterable | str | None = None):
        self.ipsets_obj = ipsets
        self.local = local_addresses(node_ips)
        self.local_i = frozenset(parse_ip(a) for a in self.local)
        self.ipsets = {k: [set_entry(e) for e in v] for k, v in (ipsets or {}).items()}
        self.routes_obj = routes
        self.routes = None if routes is None else parse_routes(routes)
        self.route_families = frozenset(r.version for r in self.routes or ())
        # `local` routes (table local: the node's addresses, AnyIP prefixes) are local like node_ips
        self.local_nets = tuple((r.version, r.base, r.mask) for r in self.routes or () if r.type == "local")

    def route(self, v: int, x: int) -> "Route | None":
        """The longest-prefix route towards an address (None: no route); only when routes were given."""
        for r in self.routes or ():
            if r.version == v and (x & r.mask) == r.base:
                return r
        return None

    def lookup(self, v: int, x: int) -> tuple[str, "Route | None"]:
        """The kernel's routing lookup (``fib_lookup``) of a destination, as (kind, route).

        kind: ``"local"`` (delivered to the node: INPUT), ``"out"`` (leaves on ``route.dev``;
        None when the route names no device), ``"none"`` (no route: ENETUNREACH), ``"error"``
        (a blackhole, unreachable or prohibit route) or ``"unknown"`` (no routes of this address
        family were given; also multicast).
        """
        if is_local_int(self, v, x):
            return "local", None
        if v not in self.route_families:
            return "unknown", None
        if v == 4 and ((x >> 28) == 0xE or x == 0xFFFFFFFF) or v == 6 and (x >> 120) == 0xFF:
            return ("local", None) if x == 0xFFFFFFFF else ("unknown", None)
        r = self.route(v, x)
        if r is None or r.type == "throw":
            return "none", r
        if r.type in ("local", "broadcast", "anycast"):
            return "local", r
        if r.type == "unicast":
            return "out", r
        if r.type in ROUTE_ERRORS:
            return "error", r
        return "unknown", r


def set_entry(text: str) -> tuple:
    parts: list[tuple] = []
    text, nomatch = str(text).strip(), False  # -- ext-targets -- "CIDR nomatch": an exception in a hash:net set
    if text.endswith(" nomatch"):
        text, nomatch = text[:-len(" nomatch")], True
    for comp in text.split(","):
        comp = comp.strip()
        try:
            parts.append(("net", parse_net(comp)))
            continue
        except InputError:
            pass
        proto, sep, port = comp.rpartition(":")
        try:
            lo, hi = port_range(port.replace("-", ":"))
            parts.append(("port", proto if sep else None, lo, hi))
        except ValueError:
            parts.append(("name", comp))
    return tuple(parts) + ((("nomatch",),) if nomatch else ())


def is_local_int(ctx: Context, v: int, x: int) -> bool:
    if v == 4 and (x >> 24) == 127:
        return True
    if v == 6 and x == 1:
        return True
    if (v, x) in ctx.local_i:
        return True
    for lv, base, mask in ctx.local_nets:
        if lv == v and (x & mask) == base:
            return True
    return False


def addr_types(ctx: Context, v: int, x: int) -> set[str]:
    if is_local_int(ctx, v, x):
        return {"LOCAL"}
    if x == 0:
        return {"UNSPEC"}
    if v == 4 and x == 0xFFFFFFFF:
        return {"BROADCAST"}
    if (v == 4 and (x >> 28) == 0xE) or (v == 6 and (x >> 120) == 0xFF):
        return {"MULTICAST"}
    return {"UNICAST"}


# -- ext-targets --
def set_members(s: State, ctx: Context, name: str) -> tuple[list[tuple], bool]:
    """The members of ipset ``name`` as this branch sees them: the trace's given contents with
    the ``-j SET --add-set/--del-set`` changes made earlier in the walk applied in order, and
    whether that list is complete (False when the set's contents were not given).

    >>> ctx = Context([], {"S": ["10.0.0.1"]})
    >>> s = State.__new__(State); s.set_ops = (("add", "S", set_entry("10.0.0.2")), ("del", "S", set_entry("10.0.0.1")))
    >>> set_members(s, ctx, "S"), set_members(s, ctx, "T")[1]
    (([(('net', (4, 167772162, 4294967295)),)], True), False)
    """
    given = ctx.ipsets.get(name)
    members = list(given or ())
    for op, set_name, entry in s.set_ops:
        if set_name != name:
            continue
        if op == "add":
            if entry not in members:
                members.append(entry)
        else:
            members = [e for e in members if e != entry]
    return members, given is not None
