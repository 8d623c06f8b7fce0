"""Shadowed rules: a later rule that can never match because an earlier terminal rule in the same chain matches everything it would.

Conservative by design: an earlier rule A covers a later rule B only when every condition of A is
*proved* to hold for every packet B matches. Conditions understood: addresses (CIDR containment),
protocol, interfaces (``+`` wildcards), ``-f``, tcp/udp/sctp ports and multiport lists (range
containment), conntrack/state sets; any other match of A must appear identically in B. A rule A
with a match whose result depends on more than the packet (statistic, limit, recent, …) is never
taken as covering anything.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Iterator

from ..vocab import protocol_name
from ..extensions.registry import target_names
from ..model import Chain, Match, Rule
from ..shell_command import shell_note
from .context import Context, binary_for, ipt_line, rule_argv, rule_evidence
from .duplicates import is_redacted, normalized_key
from .finding import Finding
from ..i18n import msg, nmsg

__all__ = ["covers", "shadowed_rules", "find_shadowed", "TERMINAL_TARGETS"]

#: Targets after which the packet does not go on to the next rule of the chain.
TERMINAL_TARGETS = frozenset({"ACCEPT", "DROP", "RETURN"}) | target_names(terminal=True)
_IMPURE = frozenset({"statistic", "limit", "hashlimit", "recent", "quota", "quota2", "nth", "random",
                     "rateest", "connlimit", "cluster", "time"})
_PORT_MODULES = frozenset({"tcp", "udp", "sctp", "udplite", "dccp"})
_PORT_FLAGS = {"--dport": "d", "--destination-port": "d", "--sport": "s", "--source-port": "s"}
_MPORT_FLAGS = {"--dports": "d", "--destination-ports": "d", "--sports": "s", "--source-ports": "s"}
_STATE_FLAGS = {("conntrack", "--ctstate"), ("state", "--state")}
_ANY = frozenset({"0.0.0.0/0", "::/0"})


@lru_cache(maxsize=200_000)
def _net(value: str):
    try:
        n = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None
    return (n.version, int(n.network_address), n.prefixlen, n.max_prefixlen)


def _key(net, plen: int):
    v, addr, _, maxp = net
    return (v, addr >> (maxp - plen) if plen else 0, plen)


def _addr(value: str | None, neg: bool):
    """None for 'any'; else (negated, value)."""
    if value is None or (value in _ANY and not neg):
        return None
    return (neg, value)


def _addr_covers(a: tuple | None, b: tuple | None) -> bool:
    if a is None:
        return True
    if b is None:
        return False
    if a[0] or b[0]:
        return a == b
    na, nb = _net(a[1]), _net(b[1])
    if na is None or nb is None:
        return a == b
    return na[0] == nb[0] and na[2] <= nb[2] and _key(nb, na[2]) == _key(na, na[2])


def _proto(r: Rule) -> str | None:
    p = r.protocol
    if p is None:
        return None
    name = protocol_name(p)
    return None if name == "all" else name


def _iface_covers(a: str | None, an: bool, b: str | None, bn: bool) -> bool:
    if a is None or (a == "+" and not an):
        return True
    if b is None:
        return False
    if an or bn:
        return a == b and an == bn
    if a.endswith("+"):
        return b.startswith(a[:-1])
    return a == b


def _ranges(text: str) -> list[tuple[int, int]] | None:
    out = []
    for part in text.split(","):
        lo, sep, hi = part.partition(":")
        try:
            a = int(lo) if lo else 0
            b = (int(hi) if hi else 65535) if sep else a
        except ValueError:
            return None   # service names: cannot reason, treat as unknown
        out.append((a, b))
    return out


def _port_set(r: Rule, direction: str) -> list[tuple[int, int]] | None:
    """The ports B is limited to in one direction (None: not limited / unknown)."""
    best = None
    for m in r.matches:
        for o in m.options:
            if o.negated:
                continue
            if m.module in _PORT_MODULES and _PORT_FLAGS.get(o.flag) == direction:
                rg = _ranges(o.value)
            elif m.module == "multiport" and _MPORT_FLAGS.get(o.flag) == direction:
                rg = _ranges(o.value)
            else:
                continue
            if rg is not None and (best is None or sum(b - a for a, b in rg) < sum(b - a for a, b in best)):
                best = rg
    return best


def _ranges_cover(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> bool:
    return all(any(alo <= blo and bhi <= ahi for alo, ahi in a) for blo, bhi in b)


def _states(r: Rule) -> frozenset[str] | None:
    best = None
    for m in r.matches:
        for o in m.options:
            if (m.module, o.flag) in _STATE_FLAGS and not o.negated:
                s = frozenset(o.value.split(","))
                best = s if best is None else best & s
    return best


def _match_covers(am: Match, b: Rule) -> bool:
    mod = am.module
    if mod == "comment":
        return True
    if mod in _IMPURE:
        return False
    bmatches = [m for m in b.matches if m.module == mod]
    if not am.options:
        if mod in _PORT_MODULES:
            return _proto(b) == mod and not b.protocol_negated
        return any(not m.options for m in bmatches)
    for o in am.options:
        if not o.negated:
            if mod in _PORT_MODULES and o.flag in _PORT_FLAGS or mod == "multiport" and o.flag in _MPORT_FLAGS:
                a_rg = _ranges(o.value)
                flags = _PORT_FLAGS if mod in _PORT_MODULES else _MPORT_FLAGS
                b_rg = _port_set(b, flags[o.flag])
                if a_rg is None or b_rg is None or not _ranges_cover(a_rg, b_rg):
                    return False
                continue
            if (mod, o.flag) in _STATE_FLAGS:
                bs = _states(b)
                if bs is None or not bs <= frozenset(o.value.split(",")):
                    return False
                continue
        if not any(o in m.options for m in bmatches):
            return False
    if mod in _PORT_MODULES and (_proto(b) != mod or b.protocol_negated):
        return False
    return True


def covers(a: Rule, b: Rule) -> bool:
    """True when every packet that matches ``b`` also matches ``a`` (proved, never guessed).

    >>> from workbook.parse import parse_save
    >>> rs = parse_save('''*filter
    ... :INPUT ACCEPT [0:0]
    ... -A INPUT -s 10.0.0.0/8 -p tcp -m tcp --dport 1:1024 -j ACCEPT
    ... -A INPUT -s 10.1.2.3/32 -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j DROP
    ... -A INPUT -s 10.1.2.3/32 -p udp -m udp --dport 22 -j DROP
    ... COMMIT
    ... ''')
    >>> a, b, c = rs.iter_rules()
    >>> covers(a, b), covers(a, c), covers(b, a)
    (True, False, False)
    """
    if not _addr_covers(_addr(a.source, a.source_negated), _addr(b.source, b.source_negated)):
        return False
    if not _addr_covers(_addr(a.destination, a.destination_negated), _addr(b.destination, b.destination_negated)):
        return False
    pa = _proto(a)
    if pa is not None or a.protocol_negated:
        if pa != _proto(b) or a.protocol_negated != b.protocol_negated:
            return False
    if not _iface_covers(a.in_interface, a.in_interface_negated, b.in_interface, b.in_interface_negated):
        return False
    if not _iface_covers(a.out_interface, a.out_interface_negated, b.out_interface, b.out_interface_negated):
        return False
    if a.fragment is not None and a.fragment != b.fragment:
        return False
    return all(_match_covers(m, b) for m in a.matches)


def _terminal(r: Rule) -> bool:
    return r.goto or (r.target in TERMINAL_TARGETS) and not any(m.module in _IMPURE for m in r.matches)


class _Index:
    """Earlier terminal rules, bucketed so a later rule only meets the ones that could cover it."""

    def __init__(self) -> None:
        self.by_dst: dict[tuple, list[Rule]] = {}
        self.dst_plens: set[tuple[int, int]] = set()
        self.by_src: dict[tuple, list[Rule]] = {}
        self.src_plens: set[tuple[int, int]] = set()
        self.by_port: dict[tuple, list[Rule]] = {}
        self.broad: list[Rule] = []

    def add(self, a: Rule) -> None:
        for value, neg, table, plens in ((a.destination, a.destination_negated, self.by_dst, self.dst_plens),
                                         (a.source, a.source_negated, self.by_src, self.src_plens)):
            if value is not None and not neg and value not in _ANY:
                n = _net(value)
                if n is not None:
                    table.setdefault(_key(n, n[2]), []).append(a)
                    plens.add((n[0], n[2]))
                    return
        ports = _port_set(a, "d")
        if ports is not None and len(ports) == 1 and ports[0][0] == ports[0][1]:
            self.by_port.setdefault((_proto(a), ports[0][0]), []).append(a)
            return
        self.broad.append(a)

    def candidates(self, b: Rule) -> list[Rule]:
        out: list[Rule] = list(self.broad)
        for value, neg, table, plens in ((b.destination, b.destination_negated, self.by_dst, self.dst_plens),
                                         (b.source, b.source_negated, self.by_src, self.src_plens)):
            if value is None or neg or value in _ANY or not table:
                continue
            n = _net(value)
            if n is None:
                continue
            for v, plen in plens:
                if v == n[0] and plen <= n[2]:
                    out.extend(table.get(_key(n, plen), ()))
        if self.by_port:
            ports = _port_set(b, "d")
            if ports is not None and len(ports) == 1 and ports[0][0] == ports[0][1]:
                out.extend(self.by_port.get((_proto(b), ports[0][0]), ()))
        return out


def shadowed_rules(chain: Chain) -> Iterator[tuple[Rule, Rule]]:
    """``(shadowed, by)`` pairs for one chain; rules equal to an earlier rule are left to the
    duplicate finder, rules with redacted values are skipped."""
    idx = _Index()
    seen: set[tuple] = set()
    for b in chain.rules:
        if is_redacted(b):
            continue
        nk = normalized_key(b)
        if nk in seen:
            continue
        seen.add(nk)
        cands = idx.candidates(b)
        if cands:
            cands.sort(key=lambda r: r.position)
            for a in cands:
                if covers(a, b):
                    yield b, a
                    break
        if _terminal(b):
            idx.add(b)


def find_shadowed(ctx: Context) -> Iterator[Finding]:
    for name, rs in ctx.items():
        binary = binary_for(name, rs)
        for chain in rs.iter_chains():
            if len(chain.rules) < 2:
                continue
            pairs = list(shadowed_rules(chain))
            if not pairs:
                continue
            bs = [b for b, _ in pairs]
            ev = rule_evidence(bs, shadowed_by_position=[a.position for _, a in pairs],
                               shadowed_by=[a.spec for _, a in pairs])
            expl = msg("{n} rule(s) in {table} {chain} can never match: an earlier rule "
                    "in the same chain ends the packet's walk (ACCEPT, DROP, REJECT, RETURN, NAT, goto) "
                    "and matches every packet the later rule would match, so no packet ever gets to the "
                    "later rule (its counters stay at 0). Either the later rule is dead weight, or it was "
                    "meant to come first and the order is wrong. This is proved only for rules whose "
                    "matches are fully understood (addresses, protocol, interfaces, ports, conntrack "
                    "state, identical other matches).", n=len(pairs), table=chain.table, chain=chain.name)
            fix = ["# Delete a rule that is not needed (iptables -D by spec removes exactly this rule):"]
            for b, a in pairs[:100]:
                fix.append(ipt_line(binary, chain.table, ("-D", chain.name, *rule_argv(b))))
            insert = ipt_line(binary, chain.table, ("-I", chain.name, str(pairs[0][1].position), *rule_argv(pairs[0][0])))
            fix.append(shell_note("…or, if it was meant to win, re-insert it above the rule that shadows it, e.g. "
                                  + insert.lstrip("# ")))
            yield Finding("shadowed-rule", "warning",
                          nmsg("{table} {chain}: {n} rule shadowed by earlier rules",
                               "{table} {chain}: {n} rules shadowed by earlier rules", len(pairs),
                               table=chain.table, chain=chain.name), expl, ev, fix, None, chain.table, chain.name)
