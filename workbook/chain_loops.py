"""Loops among a table's chains (jumps and gotos) that a packet can reach: the kernel refuses them."""

from __future__ import annotations

from typing import Iterable

from .model import Rule, Ruleset

__all__ = ["chain_loops", "MAX_LOOPS"]

#: Loops returned per table at most (each needs its own fix; a table full of them is one story).
MAX_LOOPS = 20


def chain_loops(rs: Ruleset, table: str, roots: Iterable[str] | None = None, limit: int = MAX_LOOPS) -> list[list[Rule]]:
    """Loops among the chains of ``table`` that a packet can reach from a built-in chain: each
    is the list of ``-j``/``-g`` rules that close it, in order (the last rule jumps back to the
    chain of the first). The kernel checks only chains reachable from a hook, and so does this
    (``roots``: start from these chains instead of the built-in ones): iptables-restore refuses
    such a ruleset (legacy: "line N failed"; nft: "Too many links").

    >>> from workbook.parse import parse_save
    >>> rs = parse_save("*filter\\n:INPUT ACCEPT [0:0]\\n:A - [0:0]\\n:B - [0:0]\\n-A INPUT -j A\\n-A A -j B\\n-A B -g A\\nCOMMIT\\n")
    >>> [[r.spec for r in loop] for loop in chain_loops(rs, "filter")]
    [['-A A -j B', '-A B -g A']]
    """
    t = rs.tables.get(table)
    if t is None:
        return []
    edges: dict[str, list[Rule]] = {}
    for c in t.chains.values():
        out = [r for r in c.rules if r.target and r.target in t.chains]
        if out:
            edges[c.name] = out
    if not edges:
        return []
    loops: list[list[Rule]] = []
    seen_loops: set[frozenset] = set()
    state: dict[str, int] = {}            # 1: on the current path, 2: done
    starts = [c.name for c in t.chains.values() if c.builtin] if roots is None else list(roots)
    for name in starts:
        if name not in t.chains or name in state:
            continue
        path: list[str] = [name]
        via: list[Rule] = []             # via[k] is the rule from path[k] to path[k + 1]
        todo = [iter(edges.get(name, ()))]
        state[name] = 1
        while todo:
            rule = next(todo[-1], None)
            if rule is None:
                todo.pop()
                state[path.pop()] = 2
                if via:
                    via.pop()
                continue
            nxt = rule.target
            assert nxt is not None  # edges hold only rules that jump to a chain of the table
            st = state.get(nxt)
            if st == 1:                  # back to a chain on the path: a loop
                k = path.index(nxt)
                loop = via[k:] + [rule]
                key = frozenset(id(r) for r in loop)
                if key not in seen_loops and len(loops) < limit:
                    seen_loops.add(key)
                    loops.append(loop)
                    if len(loops) >= limit:
                        return loops
                continue
            if st == 2:
                continue
            state[nxt] = 1
            path.append(nxt)
            via.append(rule)
            todo.append(iter(edges.get(nxt, ())))
    return loops
