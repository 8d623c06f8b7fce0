"""The packet tracer: walk one packet through a ruleset's hooks, tables and chains, like the kernel does.

The tracer follows the kernel (``ipt_do_table``/``nft_do_chain``): tables at each hook in
priority order (:mod:`workbook.netfilter`), jumps and gotos with a return stack, ``RETURN``,
the implicit return at the end of a user chain and the policy at the end of a built-in
chain. Packet state (addresses, ports, ``mark``, ``ctmark``, conntrack state, NAT) flows
along the trace. ``-m statistic --mode random`` splits the trace into branches.

Every step names what happened; a rule whose matches did not all hold says which one failed
first (``why``). An option the tracer cannot judge (an unknown match, the uid of a socket, an
unknown set) is assumed to hold and the step is marked ``assumed``; the branch notes say why.

Big chains (``KUBE-SERVICES`` with thousands of rules) are indexed on the rules' exact
destination address (or exact ``--dport``): only rules that can match are compiled and evaluated, and each
run of skipped rules is one summarised step (``matched: false``, ``position`` = the first
skipped rule, ``why`` = "N rules skipped (positions a-b): their -d does not match X").
Chains shorter than :data:`INDEX_MIN_RULES` are always walked rule by rule.

Kernel behaviour the tracer copies (each checked against the real kernel in the lab, see
tests/engine/test_kernel_parity.py): nat is consulted only while a connection is NEW and once
per direction (a node's packet to itself passes OUTPUT, POSTROUTING, then PREROUTING and INPUT
over ``lo`` without nat there); DNAT changes the routing decision; ``--ctstate DNAT`` holds after
a DNAT; a built-in chain the dump does not declare is not traversed (iptables-nft); loopback
addresses do not cross interfaces unless ``route_localnet``; a packet from outside with one of
the node's addresses as its source is a martian (``accept_local``=0); ``-m rpfilter`` looks the
source up in the node's routes; with the node's routes the routing lookup after PREROUTING (and
before OUTPUT, again after nat OUTPUT) gives the output interface ``-o`` sees, and a destination
without a route (or with a blackhole/unreachable/prohibit route) is dropped; the end of a user chain returns
without a kernel trace event (the step is kept, ``Branch.matched_path()`` leaves it out).

Every walk ends. A loop of jumps or gotos (the kernel refuses one at load time, so a dump holding
it was tampered with) is an :class:`~workbook.model.InputError` naming it; so is nesting deeper
than :data:`MAX_DEPTH` (gotos counted), more than ``max_branches`` branches or :data:`MAX_STEPS`
steps ("narrow the flow"). Once a branch has :data:`MEMO_AFTER_STEPS` steps, a chain entered again
in the same packet state is not walked again: one ``RETURN`` step names the steps of its first walk.
"""

from __future__ import annotations

from typing import Callable, Iterable

from ..addr import parse_ip as _ip
from ..addr import parse_net as _net
from ..chain_loops import chain_loops
from ..extensions import match_extension, target_extension
from ..extensions._ct_entry import refused_first
from .header import forwarded, header_of, socket_owner, tcp_flags_of
from ..model import InputError, ParseError, Rule, Ruleset
from ..netfilter import NAT_MANIP, TABLES_AT_HOOK, TABLES_AT_HOOK_NFT
from ..packet import Branch, Packet, Step, Trace
from ..parse.save import split_lines
from ..routing import Route, no_route as _no_route, parse_routes
from ..vocab import NAMED_ACTIONS, PORT_PROTOCOLS, PROTOCOLS
from .state import KEY_SLOTS as _KEY_SLOTS, Assume as _Assume, AssumeFail as _AssumeFail, Check
from .state import Context as _Ctx, State as _State, is_local_int as _is_local_i
from .state import state_key as _state_key

__all__ = ["trace_packet", "Tracer", "ipsets_from_save", "parse_routes", "Route", "INDEX_MIN_RULES", "PROTOCOLS"]

#: Chains with at least this many rules are indexed (see the module docstring).
INDEX_MIN_RULES = 32
#: Deepest chain nesting followed, jumps and gotos counted (the kernel refuses loops at load time).
MAX_DEPTH = 128
#: Most steps one trace may record, all branches together (a walk that fans out is stopped here).
MAX_STEPS = 500_000
#: Once a branch has this many steps, a chain entered again in the same packet state is not walked
#: again: its earlier walk is reused (one summary step). Honest traces have tens of steps.
MEMO_AFTER_STEPS = 1000

_TERMINAL_VERDICTS = frozenset({"DROP", "REJECT"})
_ROUTING_DROP = "(dropped by routing)"
_NON_TERMINATING = frozenset({"NFACCT"})
# -----------------------------------------------------------------------------------------
# addresses


def family_mismatch(ruleset: Ruleset, version: int) -> str | None:
    """Why an IPv``version`` packet cannot go through ``ruleset`` (None when it can): an ip6tables
    ruleset never sees IPv4 packets, nor iptables rules IPv6 ones. A ruleset read as IPv4 only by
    default (no header, no addresses) takes either; its first IPv4 address decides.

    >>> from workbook.parse import parse_save
    >>> family_mismatch(parse_save("*nat\\n:PREROUTING ACCEPT [0:0]\\n-A PREROUTING -j DNAT --to-destination 10.1.1.1\\nCOMMIT\\n", "r"), 6)
    'an IPv6 packet cannot be traced through IPv4 (iptables) rules (r:3 has the IPv4 address 10.1.1.1)'
    """
    if ruleset.family == "ipv6":
        return None if version == 6 else "an IPv4 packet cannot be traced through IPv6 (ip6tables) rules"
    if version != 6:
        return None
    for rule in ruleset.iter_rules():
        values = [rule.source, rule.destination]
        values += [o.value for o in rule.target_options if o.flag in ("--to-destination", "--to-source", "--to")]
        for v in values:
            if v and "." in v and ":" not in v.split("/")[0].rstrip(":0123456789-"):
                where = rule.origin or f"{rule.table} {rule.chain} rule {rule.position}"
                return (f"an IPv6 packet cannot be traced through IPv4 (iptables) rules "
                        f"({where} has the IPv4 address {v.split('/')[0]})")
    return None


#: what reading a rule's values raises when they are nonsense (a word that is not a number, an
#: option without its value, a number out of range)
_UNREADABLE = (ValueError, ArithmeticError, IndexError)


def _at_rule(rule: Rule, e: Exception) -> ParseError:
    """What the tracer could not read in ``rule`` (a bad address, mark, probability, port...) as
    one line naming the rule's file:line (or its chain and position when it has no origin)."""
    if isinstance(e, ParseError):
        return e
    source, sep, line = (rule.origin or "").rpartition(":")
    if not sep or not line.isdecimal():
        source, line = f"{rule.table} {rule.chain} rule {rule.position}", "0"
    if isinstance(e, InputError):
        why = str(e)
    elif isinstance(e, IndexError):
        why = "cannot read this rule (an option without its value)"
    else:
        why = f"cannot read this rule ({e})"
    return ParseError(source, int(line), why)


def _compile_rule(rule: Rule, comp: "_Compiler", chains: dict) -> "_CRule":
    try:
        return _CRule(rule, comp, chains)
    except _UNREADABLE as e:
        raise _at_rule(rule, e) from None


# -----------------------------------------------------------------------------------------
# the state of one branch




# -----------------------------------------------------------------------------------------
# compiling a rule into checks


class _Compiler:
    """Turns one Rule into checks; says which options it had to assume."""

    def __init__(self, ctx_ref: list):
        self.ctx_ref = ctx_ref  # [ _Ctx ] set per trace
        self._memo: dict[tuple, Check] = {}  # the same test in many rules is one closure

    def _shared(self, key: tuple, make: Callable[[], Check]) -> Check:
        chk = self._memo.get(key)
        if chk is None:
            if len(self._memo) > 200_000:
                self._memo.clear()
            chk = self._memo[key] = make()
        return chk

    # ---- basic header fields --------------------------------------------------------
    def addr(self, which: str, text: str, neg: bool) -> Check:
        return self._shared(("addr", which, text, neg), lambda: self._make_addr(which, text, neg))

    def _make_addr(self, which: str, text: str, neg: bool) -> Check:
        v, base, mask = _net(text)
        flag = f"{'! ' if neg else ''}{'-s' if which == 'src' else '-d'} {text}"
        if which == "src":
            def chk(s: _State):
                sv, sx = s.src_i
                if (sv == v and (sx & mask) == base) != neg:
                    return None
                return f"{flag} does not match {s.src}"
        else:
            def chk(s: _State):
                dv, dx = s.dst_i
                if (dv == v and (dx & mask) == base) != neg:
                    return None
                return f"{flag} does not match {s.dst}"
        return chk

    def iface(self, which: str, name: str, neg: bool) -> Check:
        return self._shared(("iface", which, name, neg), lambda: self._make_iface(which, name, neg))

    def _make_iface(self, which: str, name: str, neg: bool) -> Check:
        wild = name.endswith("+")
        stem = name[:-1] if wild else name
        flag = f"{'! ' if neg else ''}{'-i' if which == 'in' else '-o'} {name}"

        def chk(s: _State):
            have = s.hook_in if which == "in" else s.hook_out
            if have is None:
                if which == "out" and s.hook in ("FORWARD", "POSTROUTING", "OUTPUT") and not s.lo:
                    return _Assume(f"{flag}: the output interface is not known (give out_iface or the node's "
                                   f"routes); assumed to match")
                have = ""
            ok = have.startswith(stem) if wild else have == stem
            if ok != neg:
                return None
            return f"{flag} does not match {have or '(no ' + ('input' if which == 'in' else 'output') + ' interface at ' + s.hook + ')'}"
        return chk

    def proto(self, text: str, neg: bool) -> Check:
        return self._shared(("proto", text, neg), lambda: self._make_proto(text, neg))

    def _make_proto(self, text: str, neg: bool) -> Check:
        t = text.lower()
        num = int(t) if t.isdecimal() else PROTOCOLS.get(t)
        flag = f"{'! ' if neg else ''}-p {text}"
        if t in ("all", "0"):
            def chk(s: _State):
                return None if not neg else f"{flag} never matches"
            return chk
        if num is None:
            def chk(s: _State):
                return _Assume(f"{flag}: unknown protocol name; assumed to match")
            return chk

        def chk(s: _State):
            if (s.proto_num == num) != neg:
                return None
            return f"{flag} does not match {s.proto}"
        return chk

    # ---- matches ---------------------------------------------------------------------
    def match(self, rule: Rule, m, checks: list, stats: list) -> None:
        mod = m.module
        ext = match_extension(mod)
        if ext is not None and ext.compile is not None:
            ext.compile(self, rule, m, checks, stats)
            return
        desc = m.to_save()
        checks.append(lambda s, d=desc: _Assume(f"{d}: the tracer does not evaluate -m {mod}; assumed to match"))

    # the API extension modules use (workbook.extensions): ``comp.shared(key, make)`` shares one check
    # among rules, ``comp.unknown_option(m, o, checks)`` / ``comp.assumed_module(rule, m, checks,
    # stats)`` assume with a reason, ``comp.ctx_ref[0]`` is the trace's Context (node addresses,
    # ipsets, routes), ``comp.addr/iface/proto`` build the basic checks.
    def shared(self, key: tuple, make: Callable[[], Check]) -> Check:
        return self._shared(key, make)

    def unknown_option(self, m, o, checks: list) -> None:
        self._unknown_opt(m, o, checks)

    def assumed_module(self, rule, m, checks: list, stats: list) -> None:
        self._assumed_module(rule, m, checks, stats)

    def _unknown_opt(self, m, o, checks: list) -> None:
        d = f"-m {m.module} {o.to_save()}"
        checks.append(lambda s, d=d: _Assume(f"{d}: option not evaluated; assumed to match"))

    def _assumed_module(self, rule, m, checks, stats):
        desc = m.to_save()
        checks.append(lambda s, d=desc: _Assume(f"{d}: not evaluated by the tracer; assumed to match"))



# -----------------------------------------------------------------------------------------
# compiled rules and chains


class _CRule:
    __slots__ = ("rule", "position", "_spec", "checks", "stat", "kind", "target", "action", "ext")

    @property
    def spec(self) -> str:
        sp = self._spec
        if sp is None:
            sp = self._spec = self.rule.spec
        return sp

    def __init__(self, rule: Rule, comp: _Compiler, chains: dict):
        self.rule = rule
        self.position = rule.position
        self._spec = None
        checks: list[Check] = []
        stats: list[float] = []
        if rule.source is not None:
            checks.append(comp.addr("src", rule.source, rule.source_negated))
        if rule.destination is not None:
            checks.append(comp.addr("dst", rule.destination, rule.destination_negated))
        if rule.in_interface is not None:
            checks.append(comp.iface("in", rule.in_interface, rule.in_interface_negated))
        if rule.out_interface is not None:
            checks.append(comp.iface("out", rule.out_interface, rule.out_interface_negated))
        if rule.protocol is not None:
            checks.append(comp.proto(rule.protocol, rule.protocol_negated))
        if rule.fragment is not None:
            frag = rule.fragment
            checks.append(lambda s, frag=frag: None if not frag else "-f: the packet is not a second or later fragment")
        for m in rule.matches:
            comp.match(rule, m, checks, stats)
        self.checks = tuple(checks)
        p = 1.0
        for x in stats:
            p *= x
        self.stat = p if stats else None
        # target
        t = rule.target
        self.target = t
        if t is None:
            self.kind, self.action = "none", "CONTINUE"
        elif t in chains:
            self.kind, self.action = ("goto", f"GOTO:{t}") if rule.goto else ("jump", f"JUMP:{t}")
        elif t in ("ACCEPT", "DROP", "RETURN"):
            self.kind, self.action = t, t
        elif (ext := target_extension(t)) is not None and ext.apply is not None:
            self.ext = ext
            self.kind, self.action = "ext", t if ext.terminal or t in NAMED_ACTIONS else "CONTINUE"
        elif t in _NON_TERMINATING:
            self.kind, self.action = t, "CONTINUE"
        else:
            self.kind, self.action = "unknown", "CONTINUE"


def _dst_key(rule: Rule) -> tuple[int, int] | None:
    """The index key of a rule's exact destination (``-d 10.96.0.10/32``), or None."""
    if rule.destination and not rule.destination_negated:
        try:
            v, base, mask = _net(rule.destination)
        except InputError as e:
            raise _at_rule(rule, e) from None
        if mask == (0xFFFFFFFF if v == 4 else (1 << 128) - 1):
            return v, base
    return None


def _dport_key(rule: Rule) -> int | None:
    """The index key of a rule's one exact ``--dport`` (of -p tcp/udp/sctp), or None."""
    if rule.protocol in ("tcp", "udp", "sctp") and not rule.protocol_negated:
        for m in rule.matches:
            if m.module == rule.protocol:
                o = m.get("--dport") or m.get("--destination-port")
                if o is not None and not o.negated and o.value.isdecimal():
                    return int(o.value)
    return None


class _LazyRules:
    """The compiled rules of an indexed chain, each compiled when a packet first reaches it:
    a packet meets only the few rules the index names, so entering a 10,000-rule
    KUBE-SERVICES does not compile 10,000 rules."""

    __slots__ = ("src", "comp", "chains", "done")

    def __init__(self, src: list[Rule], comp: "_Compiler", chains: dict):
        self.src, self.comp, self.chains = src, comp, chains
        self.done: list = [None] * len(src)

    def __len__(self) -> int:
        return len(self.done)

    def __getitem__(self, i: int) -> _CRule:
        r = self.done[i]
        if r is None:
            r = self.done[i] = _compile_rule(self.src[i], self.comp, self.chains)
        return r


class _CChain:
    __slots__ = ("table", "name", "builtin", "policy", "rules", "positions", "index_kind", "index", "generic")

    def __init__(self, chain, comp: _Compiler, chains: dict):
        self.table = chain.table
        self.name = chain.name
        self.builtin = chain.builtin
        self.policy = chain.policy or "ACCEPT"
        src = chain.rules
        self.positions = [r.position for r in src]
        self.index_kind = None
        self.index: dict = {}
        self.generic: list[int] = []
        if len(src) >= INDEX_MIN_RULES:
            dst = [_dst_key(r) for r in src]
            port = [_dport_key(r) for r in src]
            by_dst = len(src) - dst.count(None)
            by_port = len(src) - port.count(None)
            if max(by_dst, by_port) >= len(src) // 2:
                kind = "dst" if by_dst >= by_port else "dport"
                self.index_kind = kind
                for i, key in enumerate(dst if kind == "dst" else port):
                    if key is None:
                        self.generic.append(i)
                    else:
                        self.index.setdefault(key, []).append(i)
                self.rules = _LazyRules(src, comp, chains)
                return
        self.rules = [_compile_rule(r, comp, chains) for r in src]

    def candidates(self, s: _State) -> list[int] | None:
        if self.index_kind is None:
            return None
        key = s.dst_i if self.index_kind == "dst" else s.dport
        hit = self.index.get(key)
        if not hit:
            return self.generic
        if not self.generic:
            return hit
        return sorted(hit + self.generic)


class _LazyChains(dict):
    """Compiled chains of one table, each compiled the first time a packet enters it."""

    def __init__(self, chains: dict, comp: _Compiler):
        super().__init__()
        self.src = chains
        self.comp = comp

    def __missing__(self, name: str) -> _CChain:
        c = self.src[name]  # KeyError for a chain that is not there
        out = self[name] = _CChain(c, self.comp, self.src)
        return out

    def get(self, name: str, default=None):  # type: ignore[override]
        try:
            return self[name]
        except KeyError:
            return default


class _Compiled:
    def __init__(self, ruleset: Ruleset):
        self.ctx_ref: list = [None]
        comp = _Compiler(self.ctx_ref)
        self.tables: dict[str, _LazyChains] = {name: _LazyChains(t.chains, comp) for name, t in ruleset.tables.items()}
        self.family = ruleset.family

    def compile_all(self) -> None:
        """Compile every chain now (a rule the tracer cannot read raises here, not mid-trace)."""
        for chains in self.tables.values():
            for name in chains.src:
                c = chains[name]
                for i in range(len(c.rules)):
                    c.rules[i]


# -----------------------------------------------------------------------------------------
# the walk


class Tracer:
    """A ruleset compiled for tracing many packets (what :func:`trace_packet` uses and caches).

    ``backend`` is how the rules were loaded: ``"nft"`` (iptables-nft, the default) or
    ``"legacy"``. They differ twice. A built-in chain the dump does not declare (e.g.
    kube-proxy's restore input, or a hand-written snippet) does not exist with iptables-nft,
    which creates a base chain only when it is declared (``iptables-nft-save`` prints all of
    them anyway, so real dumps always declare them); iptables-legacy has it, empty, policy
    ACCEPT (``missing_builtins="absent"``/``"empty"`` chooses this alone). And iptables-nft
    puts the security table after nat at INPUT (:data:`~workbook.netfilter.TABLES_AT_HOOK_NFT`).

    ``route_localnet`` is the sysctl ``net.ipv4.conf.*.route_localnet``: 0 (the kernel's
    default) makes routing drop loopback addresses arriving on another interface and a
    loopback source DNATed off the host; kube-proxy sets 1 for localhost NodePorts.
    ``accept_local`` is ``net.ipv4.conf.*.accept_local``: 0 (the default) makes routing drop
    a packet arriving on an interface other than ``lo`` whose source is one of the node's own
    addresses (a martian source). ``routes`` are the node's routes (``ip route`` text, its
    lines, or (prefix, dev) pairs: :func:`parse_routes`); ``-m rpfilter`` looks the source up
    in them (without routes it assumes the path back is the arrival interface, and says so), and
    the destination is looked up after PREROUTING and before OUTPUT (again after a DNAT in nat
    OUTPUT): the route's device is what ``-o`` matches in FORWARD, OUTPUT and POSTROUTING (a
    packet's own ``out_iface`` wins), and no route drops the packet. Without routes (or none of
    the packet's address family) ``-o`` is assumed to match, and the notes say so.

    >>> from workbook.parse import parse_save
    >>> rs = parse_save("*filter\\n:INPUT DROP [0:0]\\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\\nCOMMIT\\n")
    >>> t = Tracer(rs, node_ips=["10.0.0.1"])
    >>> t.trace(Packet("10.0.0.9", "10.0.0.1", "tcp", dport=22)).verdicts
    {'ACCEPT': 1.0}
    >>> t.trace(Packet("10.0.0.9", "10.0.0.1", "tcp", dport=23)).branches[0].steps[-1].action
    'policy:DROP'
    """

    def __init__(self, ruleset: Ruleset, node_ips: Iterable[str] = (), *, ipsets: dict[str, list[str]] | None = None,
                 max_branches: int = 10000, missing_builtins: str | None = None, route_localnet: bool = False,
                 accept_local: bool = False, routes: Iterable | str | None = None, backend: str = "nft"):
        self.route_localnet = route_localnet
        self.accept_local = accept_local
        if backend not in ("nft", "legacy"):
            raise ValueError("backend is 'nft' (iptables-nft) or 'legacy' (iptables-legacy)")
        self.backend = backend
        self._hook_tables = TABLES_AT_HOOK_NFT if backend == "nft" else TABLES_AT_HOOK
        if missing_builtins is None:
            missing_builtins = "absent" if backend == "nft" else "empty"
        if missing_builtins not in ("absent", "empty"):
            raise ValueError("missing_builtins is 'absent' (iptables-nft) or 'empty' (iptables-legacy)")
        self.missing_builtins = missing_builtins
        self.ruleset = ruleset
        self.compiled = _Compiled(ruleset)
        self.node_ips = tuple(node_ips)
        self.ipsets = ipsets
        self.routes = routes
        self.ctx = _Ctx(self.node_ips, ipsets, routes)
        self._ctxs: dict[tuple, _Ctx] = {}
        self._order: dict[str, list[str]] = {}
        self.max_branches = max_branches

    def trace(self, packet: Packet, node_ips: Iterable[str] | None = None, *,
              ipsets: dict[str, list[str]] | None = None, routes: Iterable | str | None = None) -> Trace:
        ctx = self.ctx
        if (node_ips is not None and tuple(node_ips) != self.node_ips or ipsets is not None and ipsets is not self.ipsets
                or routes is not None and routes is not self.routes):
            ips = self.node_ips if node_ips is None else tuple(node_ips)
            sets = self.ipsets if ipsets is None else ipsets
            rts = self.routes if routes is None else routes
            key = (ips, id(sets), id(rts))
            ctx = self._ctxs.get(key)
            if ctx is None or ctx.ipsets_obj is not sets or ctx.routes_obj is not rts:
                if len(self._ctxs) > 16:
                    self._ctxs.clear()
                ctx = self._ctxs[key] = _Ctx(ips, sets, rts)
        self.compiled.ctx_ref[0] = ctx
        s0 = self._initial(packet, ctx)
        pending = [s0]
        done: list[_State] = []
        budget = [self.max_branches - 1, MAX_STEPS]
        while pending:
            s = pending.pop()
            self._run(s, pending, budget, ctx)
            budget[1] -= len(s.steps) - s.counted
            if budget[1] < 0:
                raise _too_many_steps()
            done.append(s)
        branches = [Branch(s.prob, s.verdict, s.steps, s.dnat, s.snat, s.masq, s.notes) for s in done]
        notes: list[str] = []
        if not ctx.local:
            notes.append("no node addresses given: only 127.0.0.0/8 and ::1 count as local "
                         "(routing to INPUT, --dst-type LOCAL); pass node_ips / --node-ip")
        for b in branches:
            for n in b.notes:
                if n not in notes:
                    notes.append(n)
        return Trace(packet, branches, "simulator", notes=notes)

    # ---- set-up ----------------------------------------------------------------------
    def _initial(self, p: Packet, ctx: _Ctx) -> _State:
        s = _State.__new__(_State)
        try:
            s.src_i = _ip(p.src)
            s.dst_i = _ip(p.dst)
        except ValueError as e:
            raise InputError(f"bad packet address: {e}") from None
        if s.src_i[0] == 6 or self.compiled.family == "ipv6":
            wrong = family_mismatch(self.ruleset, s.src_i[0])
            if wrong:
                raise InputError(f"{p.src} -> {p.dst}: {wrong}")
        s.src, s.dst = p.src, p.dst
        s.proto = (p.proto or "tcp").lower()
        s.proto_num = PROTOCOLS.get(s.proto, int(s.proto) if s.proto.isdecimal() else -1)
        if s.proto_num == 1 and s.src_i[0] == 6:  # "icmp" for an IPv6 packet means ICMPv6
            s.proto_num = 58
        ported = s.proto_num in PORT_PROTOCOLS
        s.sport = p.sport if ported else None
        s.dport = p.dport if ported else None
        s.in_iface = None if p.from_node else (p.in_iface or "eth0")
        s.user_out = getattr(p, "out_iface", None)
        s.out_iface = s.user_out
        s.mark = int(p.mark or 0)
        s.ctmark = int((p.extra or {}).get("ctmark", 0))
        st = (p.ctstate or "NEW").upper()
        s.ctstate = st
        s.ct_dnat = s.ct_snat = False
        s.nat_done = set()
        s.orig_src, s.orig_dst, s.orig_sport, s.orig_dport = s.src, s.dst, s.sport, s.dport
        icmp = (p.extra or {}).get("icmp_type", "128/0" if s.proto_num == 58 else "8/0")  # an echo request
        a, _, b = str(icmp).partition("/")
        s.icmp = (int(a), int(b or 0))
        s.prob = 1.0
        s.steps = []
        s.notes = []
        s.stack = []
        s.hook = None
        s.table = None
        s.base = None
        s.from_node = bool(p.from_node)
        s.lo = False
        s.routed = False
        s.dnat = s.snat = None
        s.masq = False
        s.recent = None
        s.verdict = None
        s.assumed = False
        s.hook_in = s.hook_out = None
        s.route_out = None
        s.splits = s.counted = 0
        s.memo = None
        s.tcp_flags = tcp_flags_of(p) if s.proto_num == 6 else None
        s.set_ops = ()  # -- ext-targets --
        s.hdr = header_of(p)
        s.owner = socket_owner(p)  # -- core-proof --
        refused = refused_first(s.proto_num, s.tcp_flags, s.icmp) if st == "NEW" else None
        if refused:  # -- core-proof -- conntrack gives such a first packet no entry
            s.ctstate = "INVALID"
            s.note(f"conntrack state INVALID: {refused}")
        if st != "NEW":
            s.note(f"conntrack state {st}: the nat table is not consulted (only the first packet of a connection "
                   f"sees it); any NAT the first packet set up is not known here, so the addresses are kept")
        return s

    # ---- hook sequence ------------------------------------------------------------------
    def _next_hook(self, s: _State, ctx: _Ctx) -> str | None:
        """The next hook after ``s.hook`` (the routing decisions), None at the end, or a routing drop."""
        h = s.hook
        if h is None:
            if not s.from_node:
                return "PREROUTING"
            # a socket's packet is routed before OUTPUT: no route, and it is never sent
            why = self._route(s, ctx, forwarded=False)
            if why:
                s.note(f"not sent: {why}; no hook sees the packet")
                return _ROUTING_DROP
            return "OUTPUT"
        if s.from_node:
            if h == "OUTPUT":
                # the route POSTROUTING sees: re-done after nat OUTPUT when it changed the destination
                self._route(s, ctx, forwarded=False, quiet=s.dst == s.orig_dst)
                s.lo = _is_local_i(ctx, *s.dst_i)
                return "POSTROUTING"
            if h == "POSTROUTING":
                if s.lo:
                    s.in_iface = "lo"
                    return "PREROUTING"
                return None
            if h == "PREROUTING":
                return "INPUT"
            return None
        if h == "PREROUTING":
            v, x = s.dst_i
            sv, sx = s.src_i
            if s.in_iface != "lo" and ((v == 4 and (x >> 24) == 127) or (sv == 4 and (sx >> 24) == 127)):
                which = "destination" if v == 4 and (x >> 24) == 127 else "source"
                if not self.route_localnet:
                    s.note(f"dropped by routing after PREROUTING: a loopback {which} ({s.dst if which == 'destination' else s.src}) "
                           f"arriving on {s.in_iface} is a martian unless route_localnet=1 (kube-proxy sets it for "
                           f"localhost NodePorts; trace with route_localnet=True / --route-localnet)")
                    return _ROUTING_DROP
                s.note(f"a loopback {which} arriving on {s.in_iface}: routed because route_localnet=1")
            if s.in_iface != "lo" and sv == 4:
                martian = self._martian_source(s, ctx)
                if martian:
                    s.note(f"dropped by routing after PREROUTING: martian source: {martian}")
                    return _ROUTING_DROP
            if _is_local_i(ctx, v, x):
                return "INPUT"
            why = self._route(s, ctx, forwarded=True)
            if why == "local":
                return "INPUT"
            if why:
                s.note(f"dropped by routing after PREROUTING: {why}")
                return _ROUTING_DROP
            if s.hdr.ttl is not None and s.hdr.ttl <= 1:
                s.note(f"dropped by routing after PREROUTING: TTL {s.hdr.ttl} expires when forwarded (ICMP time exceeded)")
                return _ROUTING_DROP
            s.hdr = forwarded(s.hdr)
            return "FORWARD"
        if h == "FORWARD":
            return "POSTROUTING"
        return None

    def _route(self, s: _State, ctx: _Ctx, forwarded: bool, quiet: bool = False) -> str | None:
        """Route the packet's current destination (when routes are given): sets ``s.route_out``.

        Returns None (routed, or routes not known), ``"local"`` (a local route of a forwarded
        packet's destination: INPUT) or why routing drops it.
        """
        kind, r = ctx.lookup(*s.dst_i)
        s.route_out = None
        if kind == "local":
            return "local" if forwarded else None
        if kind == "out":
            s.route_out = r.dev
            if not quiet:
                via = f"{r.prefix} dev {r.dev}" if r.dev else f"{r.prefix} (no device named: -o is assumed)"
                s.note(f"routing: {s.dst} goes out of {r.dev or 'an unknown interface'} (route {via})")
            return None
        if kind in ("none", "error"):
            return _no_route(kind, r, s.dst, forwarded)
        return None

    def _martian_source(self, s: _State, ctx: _Ctx) -> str | None:
        """Why routing refuses the IPv4 source of a packet arriving on ``s.in_iface`` (not lo), or None."""
        sx = s.src_i[1]
        if (sx >> 28) == 0xE or sx == 0xFFFFFFFF:
            return f"{s.src} is a multicast or broadcast address"
        if (sx >> 24) == 0 and not (s.dst_i[1] == 0xFFFFFFFF or sx == 0 and s.dst_i[1] == 0):
            return f"{s.src} is in 0.0.0.0/8"
        if s.src_i in ctx.local_i and not self.accept_local:
            return (f"{s.src} is one of the node's own addresses, arriving on {s.in_iface} "
                    f"(accept_local=0, the kernel's default; trace with accept_local=True / --accept-local "
                    f"for a node that sets net.ipv4.conf.*.accept_local=1)")
        return None

    def _set_ifaces(self, s: _State, ctx: _Ctx) -> None:
        h = s.hook
        if h in ("PREROUTING", "INPUT"):
            s.hook_in, s.hook_out = s.in_iface, None
        elif h == "FORWARD":
            s.hook_in, s.hook_out = s.in_iface, s.user_out or s.route_out
        else:  # OUTPUT, POSTROUTING
            # OUTPUT's -o is the route found before OUTPUT, for every table there (the hook's
            # state->out): a re-route after nat OUTPUT shows only from POSTROUTING on
            local = s.lo if h == "POSTROUTING" else _is_local_i(ctx, *s.dst_i)
            s.hook_in, s.hook_out = None, ("lo" if local else s.user_out or s.route_out)

    # ---- running one branch to its end -----------------------------------------------------
    def _run(self, s: _State, pending: list, budget: list, ctx: _Ctx) -> None:
        tables = self.compiled.tables
        while True:
            if s.stack:
                verdict = self._walk_current(s, pending, budget, ctx)
                if verdict is None:  # table walk not finished (cannot happen) — safety
                    continue
                nat = self._is_nat(s.table)
                if nat:
                    self._nat_walked(s)
                if verdict in _TERMINAL_VERDICTS:
                    s.verdict = verdict
                    return
                if (s.hook == "OUTPUT" and nat and s.ct_dnat and not self.route_localnet
                        and s.src_i[0] == 4 and (s.src_i[1] >> 24) == 127 and not _is_local_i(ctx, *s.dst_i)):
                    # the re-route after nat OUTPUT: a loopback source may not leave the host
                    s.note(f"dropped by the re-route after nat OUTPUT: source {s.src} may only leave lo with "
                           f"route_localnet=1 (kube-proxy sets it for localhost NodePorts; trace with "
                           f"route_localnet=True / --route-localnet)")
                    s.verdict = "DROP"
                    return
                if s.hook == "OUTPUT" and nat and s.ct_dnat and s.dst != s.orig_dst:
                    # the re-route after nat OUTPUT (ip_route_me_harder): no route now drops it
                    why = self._route(s, ctx, forwarded=False, quiet=True)
                    if why:
                        s.note(f"dropped by the re-route after nat OUTPUT: {why}")
                        s.verdict = "DROP"
                        return
                s.table = self._next_table(s, s.table)
                if s.table is not None:
                    self._enter_table(s, tables)
                continue
            if s.table is None:
                nxt = self._next_hook(s, ctx)
                if nxt is None:
                    s.verdict = "ACCEPT"
                    return
                if nxt is _ROUTING_DROP:
                    s.verdict = "DROP"
                    return
                s.hook = nxt
                self._set_ifaces(s, ctx)
                s.table = self._next_table(s, None)
                if s.table is not None:
                    self._enter_table(s, tables)
                continue
            # an entered table with nothing on the stack (its built-in chain is missing)
            s.table = self._next_table(s, s.table)
            if s.table is not None:
                self._enter_table(s, tables)

    # ---- what a hook runs (overridden by the nftables tracer, which adds native base chains) ----
    def _walk_current(self, s: _State, pending: list, budget: list, ctx: _Ctx) -> str:
        """Walk the table (base chain) entered at the current hook until it gives a verdict."""
        return self._walk(s, pending, budget, ctx)

    def _is_nat(self, table) -> bool:
        return table == "nat"

    def _nat_walked(self, s: _State) -> None:
        """The nat table was consulted at this hook: not again for this direction."""
        s.nat_done.add(NAT_MANIP[s.hook])

    def _next_table(self, s: _State, after: str | None) -> str | None:
        order = self._order.get(s.hook)
        if order is None:
            tables = self.compiled.tables
            order = self._order[s.hook] = [ht.table for ht in self._hook_tables[s.hook] if ht.table in tables]
        k = 0 if after is None else order.index(after) + 1
        while k < len(order):
            t = order[k]
            k += 1
            if t == "nat" and (s.ctstate != "NEW" or NAT_MANIP[s.hook] in s.nat_done):
                continue
            return t
        return None

    def _enter_table(self, s: _State, tables) -> None:
        chains = tables[s.table]
        c = chains.get(s.hook)
        if c is None:
            if s.table == "nat":
                s.nat_done.add(NAT_MANIP[s.hook])
            if self.missing_builtins == "empty":
                # iptables-legacy: a loaded table always has all its built-in chains (empty, ACCEPT)
                s.steps.append(Step(s.hook, s.table, s.hook, None, None, True, "policy:ACCEPT"))
                s.note(f"{s.table} {s.hook} is not in the dump: taken as an empty chain with policy ACCEPT")
            else:
                s.note(f"{s.table} {s.hook} is not in the dump: not traversed (iptables-nft creates a "
                       f"built-in chain only when it is declared)")
            return
        s.base = c
        s.stack = [[c, 0, c.candidates(s), 0, 1, None]]

    def _walk(self, s: _State, pending: list, budget: list, ctx: _Ctx) -> str:
        """Walk the current table at the current hook until it gives a verdict.

        A frame of ``s.stack`` is ``[chain, next index, candidate order, next position not yet
        stepped over, depth (the built-in chain is 1; a jump or a goto adds 1), memo record or None]``.
        """
        steps = s.steps
        append = steps.append
        hook, table = s.hook, s.table
        chains = self.compiled.tables[table]
        stack = s.stack
        _Step = Step
        max_depth, memo_after = MAX_DEPTH, MEMO_AFTER_STEPS
        while stack:
            frame = stack[-1]
            c: _CChain = frame[0]
            rules = c.rules
            order = frame[2]
            i = frame[1]
            if order is None:
                if i >= len(rules):
                    stack.pop()
                    if frame[5] is not None and stack:
                        self._remember(s, frame[5])
                    if stack:  # implicit return from a user chain
                        append(_Step(hook, table, c.name, None, None, True, "RETURN"))
                        continue
                    if self._chain_end(s, c, steps, popped=True):
                        return s.base.policy
                    continue
                idx = i
            else:
                if i >= len(order):
                    if frame[3] < len(rules):
                        self._skipped(s, c, frame[3], len(rules), steps)
                        frame[3] = len(rules)
                    stack.pop()
                    if frame[5] is not None and stack:
                        self._remember(s, frame[5])
                    if self._chain_end(s, c, steps, popped=True):
                        return s.base.policy
                    continue
                idx = order[i]
                if idx > frame[3]:
                    self._skipped(s, c, frame[3], idx, steps)
                frame[3] = idx + 1   # (only an indexed chain reads it)
            frame[1] = i + 1
            cr: _CRule = rules[idx]
            why = None
            assumed = False
            for chk in cr.checks:
                r = chk(s)
                if r is None:
                    continue
                if type(r) is str:   # the common failure: why it does not match
                    why = r
                    break
                if type(r) is _Assume:
                    assumed = True
                    s.note(str(r))
                    continue
                if type(r) is _AssumeFail:
                    assumed = True
                    s.note(str(r))
                why = r
                break
            if why is not None:
                append(_Step(hook, table, c.name, cr.position, cr._spec or cr.spec, False, None, why, assumed))
                continue
            if cr.stat is not None:
                p = cr.stat
                if p < 1.0:
                    if p <= 0.0:
                        append(_Step(hook, table, c.name, cr.position, cr._spec or cr.spec, False, None,
                                     "statistic: probability 0 never matches", assumed))
                        continue
                    if budget[0] <= 0:
                        raise InputError(f"too many branches ({self.max_branches}); narrow the flow: the "
                                         f"-m statistic rules this packet meets split its walk into more than "
                                         f"{self.max_branches} branches (at {table} {c.name} rule {cr.position})")
                    budget[0] -= 1
                    s.splits += 1
                    other = s.clone()
                    other.prob *= (1.0 - p)
                    other.steps.append(_Step(hook, table, c.name, cr.position, cr._spec or cr.spec, False, None,
                                             f"statistic random: not chosen in this branch (probability {1.0 - p:.11g})",
                                             assumed))
                    other.counted = len(other.steps)
                    budget[1] -= other.counted
                    if budget[1] < len(steps) - s.counted:
                        raise _too_many_steps()
                    pending.append(other)
                    s.prob *= p
            kind = cr.kind
            if kind == "unknown":
                assumed = True
                s.note(f"target {cr.target} is not known to the tracer (or its chain is not in the dump); treated as CONTINUE")
            append(_Step(hook, table, c.name, cr.position, cr._spec or cr.spec, True, cr.action, None, assumed))
            if kind == "jump":
                sub = chains[cr.target]
                if frame[4] >= max_depth:
                    raise self._too_deep(s, c, cr)
                if len(steps) > memo_after:   # a long walk: bounded, and shared where it repeats
                    record = self._long_walk(s, sub, steps, budget)
                    if record is True:
                        continue
                    stack.append([sub, 0, sub.candidates(s) if sub.index_kind else None, 0, frame[4] + 1, record])
                    continue
                stack.append([sub, 0, sub.candidates(s) if sub.index_kind else None, 0, frame[4] + 1, None])
                continue
            if kind == "none" or kind == "unknown":
                continue
            if kind == "ACCEPT":
                stack.clear()
                return "ACCEPT"
            if kind == "RETURN":
                stack.pop()
                if frame[5] is not None and stack:
                    self._remember(s, frame[5])
                if not stack:
                    self._policy(s, steps)
                    return s.base.policy
                continue
            if kind == "goto":
                sub = chains[cr.target]
                if frame[4] >= max_depth:
                    raise self._too_deep(s, c, cr)
                if len(steps) > memo_after and len(steps) - s.counted > budget[1]:
                    raise _too_many_steps()
                stack.pop()
                stack.append([sub, 0, sub.candidates(s) if sub.index_kind else None, 0, frame[4] + 1, None])
                continue
            if kind == "DROP":
                stack.clear()
                return kind
            if kind == "ext":
                verdict = self._apply(cr, s, ctx)
                if verdict is None:
                    continue
                stack.clear()
                return verdict
            # other non-terminating targets (LOG, NFLOG, TRACE, CT, ...)
        return s.base.policy

    @staticmethod
    def _long_walk(s: _State, sub: _CChain, steps: list, budget: list) -> tuple | bool | None:
        """Before a jump to ``sub`` in a long walk: stop past :data:`MAX_STEPS`; True when ``sub``
        was walked before in this very packet state (the walk's result is applied and one step
        names it), else the record to remember its walk by (None: not remembered)."""
        if len(steps) - s.counted > budget[1]:
            raise _too_many_steps()
        if s.recent is not None:
            return None
        key = (s.hook, s.table, sub.name, frozenset(s.nat_done), _state_key(s))
        memo = s.memo
        if memo is None:
            memo = s.memo = {}
        done = memo.get(key)
        if done is None:
            return (key, len(steps), s.splits)
        after, first, last = done
        for name, value in zip(_KEY_SLOTS, after):
            setattr(s, name, value)
        s.note("a chain entered again in the same packet state is walked once: later entries are one "
               "RETURN step naming the steps of the first walk")
        steps.append(Step(s.hook, s.table, sub.name, None, None, True, "RETURN",
                          f"the same walk as steps {first + 1}-{last} (same chain, same packet state): not repeated"))
        return True

    @staticmethod
    def _remember(s: _State, record: tuple) -> None:
        """A chain's walk returned: remember where it left the packet (see :data:`MEMO_AFTER_STEPS`),
        unless a branch split inside it."""
        if record[2] == s.splits and s.recent is None:
            s.memo[record[0]] = (_state_key(s), record[1], len(s.steps))

    def _too_deep(self, s: _State, c: _CChain, cr: _CRule) -> InputError:
        """Nesting beyond :data:`MAX_DEPTH`: the loop the walk is caught in, else the depth."""
        loops = chain_loops(self.ruleset, s.table, roots=[s.base.name], limit=1)
        if loops:
            loop = loops[0]
            last = loop[-1]
            cycle = " -> ".join([r.chain for r in loop] + [last.target])
            where = f" ({last.origin})" if last.origin else ""
            return InputError(f"loop in table {s.table}: {cycle} (rule {last.position} of {last.chain}{where}); "
                              f"iptables-restore refuses a ruleset with a loop, so this dump is evidence of "
                              f"tampering or corruption")
        return InputError(f"chains nested deeper than {MAX_DEPTH} (jumps and gotos) at {s.table} {c.name} "
                          f"rule {cr.position}{_at(cr)}")

    def _chain_end(self, s: _State, c: _CChain, steps: list, popped: bool = False) -> bool:
        """End of chain ``c``: implicit return, or the policy when the stack is empty. True = policy."""
        if not popped:
            frame = s.stack.pop()
            if frame[5] is not None and s.stack:
                self._remember(s, frame[5])
        if c.builtin and c is s.base and not s.stack:
            self._policy(s, steps)
            return True
        steps.append(Step(s.hook, s.table, c.name, None, None, True, "RETURN"))
        if not s.stack:
            self._policy(s, steps)
            return True
        return False

    def _policy(self, s: _State, steps: list) -> None:
        base = s.base
        steps.append(Step(s.hook, s.table, base.name, None, None, True, f"policy:{base.policy}"))

    def _skipped(self, s: _State, c: _CChain, a: int, b: int, steps: list) -> None:
        n = b - a
        first, last = c.positions[a], c.positions[b - 1]
        if c.index_kind == "dst":
            what = f"their -d does not match {s.dst}"
        elif s.dport is None:
            what = "they need a --dport and the packet has no port"
        else:
            what = f"their --dport does not match {s.dport}"
        steps.append(Step(s.hook, s.table, c.name, first, None, False, None,
                          f"{n} rule{'s' if n != 1 else ''} skipped (positions {first}-{last}): {what}"))

    # ---- targets ---------------------------------------------------------------------
    def _apply(self, cr: "_CRule", s: _State, ctx: _Ctx) -> str | None:
        """A registered target's action (:mod:`workbook.extensions`); a value it cannot read
        names the rule's file:line."""
        try:
            return cr.ext.apply(self, s, cr.rule, ctx)
        except _UNREADABLE as e:
            raise _at_rule(cr.rule, e) from None


def _at(cr: _CRule) -> str:
    return f" ({cr.rule.origin})" if cr.rule.origin else ""


def _too_many_steps() -> InputError:
    return InputError(f"too many steps (more than {MAX_STEPS:,}); narrow the flow: this packet's walk fans out "
                      f"(chains that jump to the same chains again and again in changing packet states)")


def ipsets_from_save(text: str) -> dict[str, list[str]]:
    """Set members from ``ipset save`` output, as the ``ipsets=`` argument of :func:`trace_packet`.

    Options after a member (``timeout 0``, ``comment "x"``) are dropped; a ``nomatch`` member
    (an exception inside a hash:net set) keeps its flag (``"10.0.1.0/24 nomatch"``): the most
    specific member covering an address decides, as the kernel's lookup does.

    >>> ipsets_from_save("create svip hash:ip family inet\\nadd svip 10.96.0.1 timeout 0\\n"
    ...                  "create prt hash:ip,port family inet\\nadd prt 10.96.0.1,tcp:443\\n")
    {'svip': ['10.96.0.1'], 'prt': ['10.96.0.1,tcp:443']}
    """
    out: dict[str, list[str]] = {}
    for line in split_lines(text):
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("create", "-N", "-exist"):
            out.setdefault(parts[1], [])
        elif len(parts) >= 3 and parts[0] in ("add", "-A"):
            out.setdefault(parts[1], []).append(parts[2] + (" nomatch" if "nomatch" in parts[3:] else ""))
    return out


# -----------------------------------------------------------------------------------------
# the public entry point with a small cache of compiled rulesets

_CACHE: dict[int, tuple[Ruleset, tuple, Tracer]] = {}


def _fingerprint(rs: Ruleset) -> tuple:
    return tuple((name, id(t.chains), len(t.chains)) for name, t in rs.tables.items())


def _tracer_for(ruleset: Ruleset) -> Tracer:
    key = id(ruleset)
    hit = _CACHE.get(key)
    fp = _fingerprint(ruleset)
    if hit is not None and hit[0] is ruleset and hit[1] == fp:
        return hit[2]
    tr = Tracer(ruleset)
    if len(_CACHE) >= 8:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = (ruleset, fp, tr)
    return tr


def trace_packet(ruleset: Ruleset, packet: Packet, node_ips: Iterable[str] = (), *,
                 ipsets: dict[str, list[str]] | None = None, max_branches: int = 10000,
                 route_localnet: bool = False, accept_local: bool = False,
                 routes: Iterable | str | None = None) -> Trace:
    """Trace ``packet`` through ``ruleset``: every rule evaluated, branch by branch.

    ``node_ips`` are the node's addresses (local: INPUT, ``--dst-type LOCAL``); ``ipsets``
    gives set contents as ``{name: [cidr, ...]}``; ``route_localnet``, ``accept_local`` and
    ``routes`` as in :class:`Tracer` (kube-proxy nodes run with route_localnet on). The compiled form of a ruleset is cached
    per Ruleset object (build a :class:`Tracer` yourself after changing a ruleset in place).

    >>> from workbook.parse import parse_save
    >>> rs = parse_save('''*nat
    ... :PREROUTING ACCEPT [0:0]
    ... :KUBE-SVC-X - [0:0]
    ... -A PREROUTING -d 10.96.0.10/32 -p udp -m udp --dport 53 -j KUBE-SVC-X
    ... -A KUBE-SVC-X -m statistic --mode random --probability 0.50000000000 -j DNAT --to-destination 10.244.1.5:53
    ... -A KUBE-SVC-X -j DNAT --to-destination 10.244.2.7:53
    ... COMMIT
    ... ''')
    >>> t = trace_packet(rs, Packet("10.244.3.3", "10.96.0.10", "udp", dport=53))
    >>> t.destinations
    {'10.244.1.5:53': 0.5, '10.244.2.7:53': 0.5}
    >>> [(s.hook, s.action) for s in t.branches[0].steps]   # nat POSTROUTING is not declared: not traversed
    [('PREROUTING', 'JUMP:KUBE-SVC-X'), ('PREROUTING', 'DNAT')]
    """
    tr = _tracer_for(ruleset)
    tr.max_branches = max_branches
    tr.route_localnet = route_localnet
    tr.accept_local = accept_local
    return tr.trace(packet, node_ips, ipsets=ipsets, routes=routes)
