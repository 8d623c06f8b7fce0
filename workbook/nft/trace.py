"""The nftables tracer: one packet walk over every base chain of every table at each hook, by priority.

:class:`NftTracer` is the iptables :class:`~workbook.trace.Tracer` (its packet state,
routing, conntrack and NAT rules) with native nftables base chains added at each hook:

- At a hook the packet meets, lowest priority first, the iptables-nft tables read from
  iptables-save (at their classic priorities) and the native base chains of the ``ip`` and
  ``inet`` families. nat-type chains run inside the kernel's NAT hook (priority -100 for
  prerouting/output, 100 for input/postrouting) in their own priority order, and only until
  one of them sets up a NAT binding. Of two base chains at the same hook and priority the kernel
  runs the one registered last first (checked in the lab); a listing does not show that order, so
  it is assumed (iptables-nft's tables created before native ones, native ones in listing order),
  the first step of each such chain is ``assumed`` and a note says why.
- A rule's statements run in order: matches (payload, meta, ``ct``, ``fib … type``, binops,
  concatenations, named and anonymous sets), verdicts (``accept``, ``drop``, ``jump``,
  ``goto`` — which does not come back: the end of the target returns to the caller's caller —
  ``return``, ``continue``), verdict maps, ``numgen random mod N`` (N branches of 1/N),
  ``numgen inc`` (its counter taken as 0: the first packet), NAT (``dnat``, ``snat``,
  ``masquerade``, ``redirect``: the rule accepts), ``reject`` (the packet is dropped; the
  kernel's trace shows ``drop``), ``meta mark set``/``ct mark set``, ``update``/``add`` of a
  dynamic set (affinity: empty before the first packet), ``counter``, ``log``, ``limit``
  (within the limit), ``notrack``. Anything else is *assumed* (never silently matched).
- Steps carry ``family`` and ``handle``; ``spec`` is the rule as ``nft list ruleset`` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ..model import InputError, Ruleset
from ..netfilter import NAT_MANIP
from ..packet import Packet, Step, Trace
from ..trace.state import Context as _Ctx, State as _State
from ..vocab import PROTOCOL_NAMES
from ..extensions._nat import masquerade, rewrite_dst, rewrite_src
from ..trace.walk import MAX_DEPTH, Tracer
from .actions import nft_action
from .match import (ABSENT, SetIndex, Unknown, anon_elements, getter, kind_of, set_kinds, set_or_values,
                    split_list, value_test)
from .model import NftChain, NftRule, NftRuleset
from .statements import (AnonSet, Counter, Field, Limit, Log, Match, Nat, Notrack, Reject, SetField, SetUpdate, Verdict,
                         VerdictMap, Xt)

__all__ = ["NftTracer", "trace_nft"]

#: where nat-type chains run (the kernel's NAT hook) at each hook
_NAT_PRIORITY = {"PREROUTING": -100, "OUTPUT": -100, "INPUT": 100, "POSTROUTING": 100}


@dataclass(eq=False)
class _Entry:
    """A native base chain as the hook loop sees it (``s.table`` while it runs)."""

    family: str
    table: str
    chain: str
    priority: int
    is_nat: bool
    tie: str | None = None  # why its order against another chain is assumed

    def __str__(self) -> str:
        return f"{self.family} {self.table} {self.chain}"


# -- compiled rules -------------------------------------------------------------------------

class _Fail(str):
    """The rule does not match (the text says which statement failed)."""


class _Assumed(str):
    """Could not judge; assumed to hold (the text says why)."""


class _NRule:
    __slots__ = ("rule", "ops", "position", "handle", "spec", "_actions")

    def __init__(self, rule: NftRule, ops: list):
        self.rule, self.ops = rule, ops
        self.position, self.handle, self.spec = rule.position, rule.handle, rule.spec
        self._actions: dict[str, str] = {}

    def action(self, verdict_text: str) -> str:
        """The Trace action of this rule giving ``verdict_text`` (cached per verdict)."""
        a = self._actions.get(verdict_text)
        if a is None:
            a = self._actions[verdict_text] = nft_action(self.spec, verdict_text)
        return a


class _NChain:
    __slots__ = ("family", "table", "name", "rules", "policy", "policy_action", "src")

    def __init__(self, chain: NftChain):
        self.family, self.table, self.name = chain.family, chain.table, chain.name
        self.policy = (chain.policy or "accept").upper()
        self.policy_action = f"policy:{self.policy}"
        self.src = chain
        self.rules: list[_NRule] | None = None


class _Compiler:
    """Turns nft statements into ops ``op(state) -> None | _Fail | _Assumed | ("verdict", kind, target)
    | ("split", [(prob, verdict)…]) | ("nat", Nat)``."""

    def __init__(self, nft: NftRuleset, ctx_ref: list):
        self.nft = nft
        self.ctx_ref = ctx_ref
        self.sets: dict[tuple, SetIndex | None] = {}

    def set_index(self, family: str, table: str, name: str, key: Any) -> SetIndex | None:
        k = (family, table, name)
        if k not in self.sets:
            t = self.nft.tables.get((family, table))
            st = t.sets.get(name) if t is not None else None
            if st is None:
                self.sets[k] = None
            else:
                els = [(e.key, e.value) for e in st.elements]
                self.sets[k] = SetIndex(name, set_kinds(st.type, key), els)
        return self.sets[k]

    def is_dynamic(self, family: str, table: str, name: str) -> bool:
        t = self.nft.tables.get((family, table))
        st = t.sets.get(name) if t is not None else None
        return st is not None and ("dynamic" in st.flags or "timeout" in st.flags)

    def rule(self, r: NftRule) -> _NRule:
        try:
            stmts = r.statements
        except ValueError as e:
            msg = f"{r.spec}: the tracer cannot read this rule ({e}); assumed to match and do nothing"
            return _NRule(r, [lambda s, m=msg: _Assumed(m)])
        try:
            ops = [self.statement(r, st) for st in stmts]
        except InputError:
            raise
        except (ValueError, OverflowError) as e:   # a number that is not one (a damaged or forged listing)
            from ..limits import one_line
            raise InputError(one_line(f"{self.nft.source}:{r.line}: the tracer cannot read a value in "
                                      f"{r.spec!r}: {e}")) from None
        return _NRule(r, ops)

    # -- statements ----------------------------------------------------------------------
    def statement(self, r: NftRule, st: Any):
        try:
            if isinstance(st, Match):
                return self.match(r, st)
            if isinstance(st, Verdict):
                v = ("verdict", st.kind, st.target, f"{st.kind} {st.target}" if st.target else st.kind)
                return lambda s: v
            if isinstance(st, VerdictMap):
                return self.vmap(r, st)
            if isinstance(st, Nat):
                if st.to_map is not None:
                    raise Unknown(f"{st.text}: NAT to an address chosen by a map is not evaluated")
                nat = ("nat", st)
                return lambda s: nat
            if isinstance(st, Reject):
                v = ("verdict", "reject", None, "drop")
                return lambda s: v
            if isinstance(st, SetField):
                return self.set_field(st)
            if isinstance(st, SetUpdate):
                return self.set_update(r, st)
            if isinstance(st, (Counter, Log)):
                return lambda s: None
            if isinstance(st, Limit):
                text = st.text

                def limit(s, text=text):
                    s.note(f"{text}: the first packet is within the limit")
                    return None
                return limit
            if isinstance(st, Notrack):
                def notrack(s):
                    s.ctstate = "UNTRACKED"
                    return None
                return notrack
            if isinstance(st, Xt):
                raise Unknown(f"{st.text}: an iptables-nft compat expression (read this table from iptables-save)")
            raise Unknown(f"{getattr(st, 'text', st)}: statement not evaluated by the tracer")
        except Unknown as e:
            msg = f"{e}; assumed to hold"
            return lambda s, m=msg: _Assumed(m)

    def match(self, r: NftRule, st: Match):
        text = st.text
        op = st.op
        left = st.left
        if getattr(left, "kind", None) == "numgen":
            raise Unknown(f"{text}: a numgen match outside a vmap is not evaluated")
        get = getter(left, self.ctx_ref)
        kind = kind_of(left)
        what, right = set_or_values(st.right)
        neg = op == "!="
        if what == "set":
            dynamic = self.is_dynamic(r.family, r.table, right)
            idx = self.set_index(r.family, r.table, right, left)
            if idx is None:
                raise Unknown(f"{text}: set @{right} is not in the dump")
            name, fam, tab = right, r.family, r.table

            def in_set(s, get=get, idx=idx, name=name):
                v = get(s)
                if v is ABSENT:
                    return _Fail(f"{text}: the packet has no such field")
                hit = idx.get(v) is not None
                if not hit and dynamic and s.recent:
                    hit = v in s.recent.get(("nft", fam, tab, name), {})
                if hit != neg:
                    return None
                why = f"{text}: {_show(v, idx.kinds)} is {'' if hit else 'not '}in @{name}"
                return _Fail(why + (" (a dynamic set: empty before the first packet)" if dynamic and not hit else ""))
            return in_set
        if what == "anon":
            test = _anon_test(right, kind)
        elif what == "lit":
            if op in ("<", ">", "<=", ">="):
                bound = int(right, 0) if kind != "addr" else None
                if bound is None:
                    raise Unknown(f"{text}: address comparison not evaluated")
                cmp = {"<": lambda a: a < bound, ">": lambda a: a > bound, "<=": lambda a: a <= bound,
                       ">=": lambda a: a >= bound}[op]

                def compare(s, get=get, cmp=cmp):
                    v = get(s)
                    if v is ABSENT:
                        return _Fail(f"{text}: the packet has no such field")
                    return None if cmp(v) else _Fail(f"{text} does not hold for {_show(v, kind)}")
                return compare
            test = value_test(kind, [right] if kind == "flags" else split_list(right))
            fast = _address_match(left, right, neg, text)
            if fast is not None:
                return fast
        else:
            raise Unknown(f"{text}: comparison not evaluated by the tracer")

        def lit(s, get=get, test=test):
            v = get(s)
            if v is ABSENT:
                return _Fail(f"{text}: the packet has no such field")
            if test(v) != neg:
                return None
            return _Fail(f"{text} does not match {_show(v, kind)}")
        return lit

    def vmap(self, r: NftRule, st: VerdictMap):
        key = st.key
        text = st.text
        if isinstance(key, Field) and key.kind == "numgen":
            entries = anon_elements(st.map) if isinstance(st.map, AnonSet) else None
            if entries is None:
                raise Unknown(f"{text}: numgen over a named map is not evaluated")
            mod, off = key.modulus or 1, key.offset
            table = {}
            for k, v in entries:
                for part in split_list(k):
                    lo, _, hi = part.partition("-")
                    for n in range(int(lo), int(hi or lo) + 1):
                        table[n] = v
            values = [table.get(off + i) for i in range(mod)]
            if key.key == "inc":
                first = values[0]

                def inc(s, first=first):
                    s.note(f"{text}: numgen inc taken at its first value ({off}): the first packet since the rule was loaded")
                    return _Fail(f"{text}: no element for {off}") if first is None else ("verdict",) + _verdict(first)
                return inc
            if key.key != "random":
                raise Unknown(f"{text}: numgen {key.key} not evaluated")
            branches = [(1.0 / mod, None if v is None else _verdict(v)) for v in values]
            out = ("split", branches)
            return lambda s: out
        get = getter(key, self.ctx_ref)
        if hasattr(st.map, "name"):
            idx = self.set_index(r.family, r.table, st.map.name, key)
            if idx is None:
                raise Unknown(f"{text}: map @{st.map.name} is not in the dump")
        else:
            kinds = [kind_of(p) for p in key.parts] if hasattr(key, "parts") else [kind_of(key)]
            idx = SetIndex("{…}", kinds, anon_elements(st.map))
        cache: dict = {}

        def lookup(s, get=get, idx=idx):
            v = get(s)
            if v is ABSENT:
                return _Fail(f"{text}: the packet has no such field")
            hit = idx.get(v)
            if hit is None:
                return _Fail(f"{text}: {_show(v, idx.kinds)} is not in the map")
            out = cache.get(hit)
            if out is None:
                out = cache[hit] = ("verdict",) + _verdict(hit)
            return out
        return lookup

    def set_field(self, st: SetField):
        f = st.field
        target = f"{f.kind} {f.key}"
        if target not in ("meta mark", "ct mark", "meta nftrace", "meta priority", "ct zone", "meta pkttype"):
            raise Unknown(f"{st.text}: not evaluated")
        if target in ("meta nftrace", "meta priority", "meta pkttype", "ct zone"):
            return lambda s: None
        value = getter(st.value, self.ctx_ref) if not hasattr(st.value, "text") or not _is_int(st.value) else None
        const = int(st.value.text, 0) if value is None else 0  # used only when value is None
        attr = "mark" if f.kind == "meta" else "ctmark"

        def setter(s):
            v = const if value is None else value(s)
            if v is ABSENT:
                return _Assumed(f"{st.text}: the value is not known; mark kept")
            setattr(s, attr, int(v) & 0xFFFFFFFF)
            return None
        return setter

    def set_update(self, r: NftRule, st: SetUpdate):
        get = getter(st.key, self.ctx_ref)
        k = ("nft", r.family, r.table, st.set)

        def update(s):
            v = get(s)
            if v is ABSENT:
                return None
            if s.recent is None:
                s.recent = {}
            s.recent.setdefault(k, {})[v] = 1
            return None
        return update


def _address_match(left: Any, right: str, neg: bool, text: str):
    """``ip saddr|daddr [!=] ADDR[/LEN]`` as one closure (the commonest match: no getter, no test call)."""
    if not (isinstance(left, Field) and left.kind == "payload" and left.key in ("ip saddr", "ip daddr")
            and ", " not in right and "-" not in right):
        return None
    from .match import parse_value
    spec = parse_value("addr", right)
    if spec[0] == "eq":
        (v, base), mask = spec[1], 0xFFFFFFFF
    else:
        _, v, base, mask = spec
    if v != 4:
        return None
    attr = "src_i" if left.key == "ip saddr" else "dst_i"
    shown = "src" if attr == "src_i" else "dst"

    def addr(s):
        x = getattr(s, attr)
        if (x[0] == 4 and (x[1] & mask) == base) != neg:
            return None
        return _Fail(f"{text} does not match {getattr(s, shown)}")
    return addr


def _is_int(expr: Any) -> bool:
    t = getattr(expr, "text", "")
    try:
        int(t, 0)
        return type(expr).__name__ == "Literal"
    except (TypeError, ValueError):
        return False


def _verdict(text: str) -> tuple[str, str | None, str]:
    """``"goto X"`` → ("goto", "X", "goto X"); ``"drop"`` → ("drop", None, "drop")."""
    word, _, rest = text.strip().partition(" ")
    target = rest.strip() or None
    return word, target, f"{word} {target}" if target else word


def _anon_test(node, kind: str):
    texts = [k for k, _ in anon_elements(node)]
    return value_test(kind, texts)




def _show(v: Any, kind: Any = None) -> str:
    """A value as the why text shows it, by its kind (``addr``, ``proto``…; a list for a concatenation).

    >>> _show(((4, 0x0A600029), 6, 80), ["addr", "proto", "port"]), _show(0x4000, "int")
    ('10.96.0.41 . tcp . 80', '0x4000')
    """
    if type(kind) is list:
        if type(v) is tuple and len(v) == len(kind):
            return " . ".join(_show(x, k) for x, k in zip(v, kind))
        kind = kind[0] if len(kind) == 1 else None
    if kind == "addr" and type(v) is tuple:
        ver, x = v
        if ver == 4:
            return f"{x >> 24}.{(x >> 16) & 255}.{(x >> 8) & 255}.{x & 255}"
        from ..addr import format_ip as _fmt_ip
        return _fmt_ip(ver, x)
    if kind == "proto" and type(v) is int:
        return PROTOCOL_NAMES.get(v, str(v))
    if type(v) is frozenset:
        return ",".join(sorted(v)) or "(none)"
    if type(v) is int and kind == "int":
        return hex(v)
    if type(v) is tuple:
        return " . ".join(_show(x) for x in v)
    return str(v)


# -- the tracer ------------------------------------------------------------------------------

class NftTracer(Tracer):
    """Trace packets through native nftables tables (``nft``) and iptables-nft tables (``iptables``).

    ``nft`` is an :class:`~workbook.nft.model.NftRuleset`; ``iptables`` a
    :class:`~workbook.model.Ruleset` from iptables-save (its tables replace the nft view of the
    tables iptables-nft manages). Other arguments as :class:`~workbook.trace.Tracer`.
    """

    def __init__(self, nft: NftRuleset | None, iptables: Ruleset | None = None, node_ips: Iterable[str] = (), *,
                 ipsets: dict[str, list[str]] | None = None, max_branches: int = 10000,
                 route_localnet: bool = False, accept_local: bool = False, routes=None):
        super().__init__(iptables if iptables is not None else Ruleset(source="<none>"), node_ips, ipsets=ipsets,
                         max_branches=max_branches, route_localnet=route_localnet, accept_local=accept_local,
                         routes=routes, backend="nft")
        self.nft = nft if nft is not None else NftRuleset()
        self.ipt_names = set(self.compiled.tables) if iptables is not None else set()
        self.ncomp = _Compiler(self.nft, self.compiled.ctx_ref)
        self.nchains: dict[tuple[str, str, str], _NChain] = {}
        self._entries: dict[str, list] = {}
        self._ipt_ties: dict[tuple[str, str], str] = {}
        self._positions: dict[tuple[str, int], int] = {}
        self._last_nat: dict[tuple[str, int], bool] = {}

    # ---- the hook's tables and base chains, in order ------------------------------------
    def _hook_entries(self, hook: str) -> list:
        got = self._entries.get(hook)
        if got is not None:
            return got
        items: list[tuple[int, int, int, str | _Entry]] = []  # (effective priority, own priority, seq, entry)
        seq = 0
        for ht in self._hook_tables[hook]:
            if ht.table in self.compiled.tables:
                items.append((ht.priority, ht.priority, seq, ht.table))
                seq += 1
        for c in self.nft.base_chains("ip", hook.lower()):
            t = self.nft.tables.get((c.family, c.table))
            if t is not None and t.iptables_nft and c.family == "ip" and c.table in self.ipt_names:
                continue  # read from iptables-save instead
            if c.type == "route" and hook == "OUTPUT":
                pass
            prio = c.priority if c.priority is not None else 0
            nat = c.type == "nat"
            eff = _NAT_PRIORITY.get(hook, prio) if nat else prio
            items.append((eff, prio, seq, _Entry(c.family, c.table, c.name, prio, nat)))
            seq += 1
        # equal priorities: the kernel puts a newly registered hook before the ones already there
        # (nf_hook_entries_grow), so the chain created last runs first. Creation order is assumed
        # to be iptables-nft's tables first (kubelet and the CNI start before kube-proxy, which
        # also re-creates its base chains when it starts), then native chains in listing order.
        items.sort(key=lambda x: (x[0], x[1], -x[2]))
        out = []
        for i, (eff, prio, _, e) in enumerate(items):
            if i and (items[i - 1][0], items[i - 1][1]) == (eff, prio):
                prev = items[i - 1][3]
                why = (f"{hook}: {_name(prev)} and {_name(e)} are both at priority {prio}; the kernel runs the one "
                       f"registered last first, and a listing does not show that order: assumed {_name(prev)} "
                       f"was created later (iptables-nft tables before native ones, then listing order)")
                for x in (prev, e):  # whichever of them runs: its first step rests on this order
                    if isinstance(x, _Entry):
                        x.tie = x.tie or why
                    else:
                        self._ipt_ties.setdefault((hook, x), why)
            out.append(e)
        self._entries[hook] = out
        return out

    def _position(self, hook: str, entry) -> int:
        """Where ``entry`` is in the hook's order."""
        pos = self._positions.get((hook, id(entry)))
        if pos is None:
            pos = next(i for i, e in enumerate(self._hook_entries(hook)) if e is entry)
            self._positions[(hook, id(entry))] = pos
        return pos

    def _next_table(self, s: _State, after) -> Any:
        hook = _at_hook(s)
        order = self._hook_entries(hook)
        k = 0 if after is None else self._position(hook, after) + 1
        while k < len(order):
            t = order[k]
            k += 1
            if self._is_nat(t) and (s.ctstate != "NEW" or NAT_MANIP[hook] in s.nat_done):
                continue
            return t
        return None

    def _is_nat(self, table) -> bool:
        return table == "nat" or (isinstance(table, _Entry) and table.is_nat)

    def _nat_walked(self, s: _State) -> None:
        hook = _at_hook(s)
        manip = NAT_MANIP[hook]
        if (s.ct_dnat if manip == "DNAT" else s.ct_snat):
            s.nat_done.add(manip)  # a binding is set up: the other nat chains here are skipped
            return
        key = (hook, id(s.table))
        last = self._last_nat.get(key)
        if last is None:
            order = self._hook_entries(hook)
            k = self._position(hook, s.table)
            last = self._last_nat[key] = not any(self._is_nat(e) for e in order[k + 1:])
        if last:
            s.nat_done.add(manip)  # every nat chain was consulted: a null binding

    def _enter_table(self, s: _State, tables) -> None:
        e = s.table
        if not isinstance(e, _Entry):
            super()._enter_table(s, tables)
            return
        c = self._nchain(e.family, e.table, e.chain)
        s.base = c
        s.stack = [[c, 0]]
        if e.tie:
            s.note(e.tie)

    def _nchain(self, family: str, table: str, name: str) -> _NChain:
        key = (family, table, name)
        c = self.nchains.get(key)
        if c is None:
            t = self.nft.tables.get((family, table))
            if t is None or name not in t.chains:
                raise InputError(f"nft: chain {name!r} of table {family} {table} is not in the dump")
            c = self.nchains[key] = _NChain(t.chains[name])
        if c.rules is None:
            c.rules = [self.ncomp.rule(r) for r in c.src.rules]
        return c

    def _walk_current(self, s: _State, pending: list, budget: list, ctx: _Ctx) -> str:
        e = s.table
        if not isinstance(e, _Entry):
            why = self._ipt_ties.get((_at_hook(s), e)) if self._ipt_ties else None
            start: int | None = len(s.steps)
            verdict = self._walk(s, pending, budget, ctx)
            if why:
                s.note(why)
                if start is not None and start < len(s.steps):
                    s.steps[start].assumed = True
            return verdict
        start = len(s.steps) if e.tie and s.stack and s.stack[0][1] == 0 and len(s.stack[-1]) == 2 else None
        verdict = self._walk_nft(s, pending, budget, ctx, e)
        if start is not None and start < len(s.steps):
            s.steps[start].assumed = True
        return verdict

    def _walk_nft(self, s: _State, pending: list, budget: list, ctx: _Ctx, e: _Entry) -> str:
        hook, fam, table = _at_hook(s), e.family, e.table
        stack = s.stack
        steps = s.steps
        while stack:
            frame = stack[-1]
            c: _NChain = frame[0]
            i = frame[1]
            rules = c.rules
            assert rules is not None  # _nchain compiles a chain's rules before it is entered
            if i >= len(rules) and frame.__len__() == 2:
                stack.pop()
                if not stack:
                    steps.append(Step(hook, table, s.base.name, None, None, True, s.base.policy_action, None, False,
                                      fam, None))
                    return s.base.policy
                steps.append(Step(hook, table, c.name, None, None, True, "RETURN", None, False, fam, None))
                continue
            if len(frame) == 3:  # a branch cloned at a numgen rule: that rule, with this branch's number
                pending_v, assumed = frame.pop()
                nr = rules[i - 1]
                result = None if pending_v is None else ("verdict",) + pending_v
                if result is None:
                    steps.append(Step(hook, table, c.name, nr.position, nr.spec, False, None,
                                      "numgen: no element for the number drawn in this branch", assumed, fam, nr.handle))
                    continue
            else:
                frame[1] = i + 1
                nr = rules[i]
                assumed = False
                result = None
                for op in nr.ops:
                    try:
                        r = op(s)
                    except Unknown as e:  # known only while walking (e.g. oifname without routes)
                        r = _Assumed(f"{e}; assumed to hold")
                    if r is None:
                        continue
                    if type(r) is _Assumed:
                        assumed = True
                        s.note(str(r))
                        continue
                    result = r
                    break
            if type(result) is _Fail:
                steps.append(Step(hook, table, c.name, nr.position, nr.spec, False, None, str(result), assumed,
                                  fam, nr.handle))
                continue
            if result is not None and result[0] == "split":
                result = self._split(s, pending, budget, result[1], nr, hook, table, fam, assumed)
                if result is None:
                    steps.append(Step(hook, table, c.name, nr.position, nr.spec, False, None,
                                      "numgen: no element for the number drawn in this branch", assumed, fam, nr.handle))
                    continue
            if result is None:  # matched, no verdict: on to the next rule
                steps.append(Step(hook, table, c.name, nr.position, nr.spec, True, "CONTINUE", None, assumed,
                                  fam, nr.handle))
                continue
            if result[0] == "nat":
                self._nft_nat(s, result[1], nr, ctx)
                verdict_text = "accept"
            else:
                kind, target, verdict_text = result[1], result[2], result[3]
            steps.append(Step(hook, table, c.name, nr.position, nr.spec, True, nr.action(verdict_text),
                              None, assumed, fam, nr.handle))
            if result[0] == "nat":
                stack.clear()
                return "ACCEPT"
            if kind in ("jump", "goto"):
                if len(stack) >= MAX_DEPTH:
                    raise InputError(f"nft: chain jumps nested deeper than {MAX_DEPTH} at {table} {c.name} (a loop?)")
                sub = self._nchain(fam, table, target)
                if kind == "goto":
                    stack[-1] = [sub, 0]
                else:
                    stack.append([sub, 0])
                continue
            if kind == "accept":
                stack.clear()
                return "ACCEPT"
            if kind == "drop":
                stack.clear()
                return "DROP"
            if kind == "reject":
                stack.clear()
                return "REJECT"
            if kind == "return":
                stack.pop()
                if not stack:
                    steps.append(Step(hook, table, s.base.name, None, None, True, s.base.policy_action, None, False,
                                      fam, None))
                    return s.base.policy
                continue
            if kind == "continue":
                continue
            s.note(f"{nr.spec}: verdict {kind} not followed by the tracer (taken as accept)")
            steps[-1].assumed = True
            stack.clear()
            return "ACCEPT"
        return s.base.policy

    def _split(self, s: _State, pending: list, budget: list, branches: list, nr: _NRule, hook, table, fam, assumed):
        """``numgen random mod N``: this state takes the first number, clones (queued) the others."""
        first_p, first_v = branches[0]
        rest = branches[1:]
        if len(rest) > budget[0]:
            s.note(f"more than {self.max_branches} branches: {nr.spec} taken at its first number only")
            rest = []
        budget[0] -= len(rest)
        clones = []
        for p, v in rest:
            o = s.clone()
            o.prob *= p
            o.stack[-1].append((v, assumed))
            clones.append(o)
        s.prob *= first_p
        pending.extend(reversed(clones))  # popped from the end: number 1 runs next
        return None if first_v is None else ("verdict",) + first_v

    def _nft_nat(self, s: _State, st: Nat, nr: _NRule, ctx: _Ctx) -> None:
        kind = st.kind
        if kind == "dnat":
            port = st.port
            rewrite_dst(s, st.addr, port.split("-")[0] if port else None)
        elif kind == "redirect":
            host: str | None
            if s.hook == "OUTPUT":
                host = "127.0.0.1"
            else:
                host = next(iter(sorted(ctx.local)), None) if ctx.local else s.dst
                s.note(f"{nr.spec}: the incoming interface's first address is assumed to be {host}")
            rewrite_dst(s, host, st.port.split("-")[0] if st.port else None)
        elif kind == "snat":
            rewrite_src(s, st.addr, st.port)
        else:  # masquerade
            masquerade(s, st.port)


def _at_hook(s: _State) -> str:
    """The hook a state is at (set once its walk has started: only None before the first hook)."""
    assert s.hook is not None
    return s.hook


def _name(e: Any) -> str:
    return f"iptables-nft table {e}" if isinstance(e, str) else f"{e.family} {e.table} {e.chain}"


def trace_nft(nft: NftRuleset | None, packet: Packet, node_ips: Iterable[str] = (), *,
              iptables: Ruleset | None = None, **options) -> Trace:
    """Trace ``packet`` through native nftables tables and (optionally) iptables-nft tables."""
    return NftTracer(nft, iptables, node_ips, **options).trace(packet)
