"""Graphviz drawings: the netfilter hook diagram, chain graphs, and one packet's trace."""

from __future__ import annotations

import fnmatch
import html
import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import graphviz

from ..extensions.registry import target_names
from .drawing import TIP_HREF as _TIP, Drawing, to_html, to_svg
from ..listing_print import format_count, match_text, target_text
from ..model import Chain, Rule, Ruleset
from ..netfilter import HOOKS, TABLES_AT_HOOK, HookTable

__all__ = ["draw_hooks", "draw_chains", "draw_trace", "to_svg", "to_html", "Drawing",
           "rule_summary", "chain_group", "STANDARD_TARGETS", "FONT"]

#: Noto Sans CJK KR has Hangul (Debian fonts-noto-cjk: scripts/setup, binder/apt.txt); then Latin fallbacks.
FONT = "Noto Sans CJK KR,Helvetica,sans-serif"
#: The smallest font size (pt) any drawing uses: 12 CSS px at 1:1, 9 px when a cell scales it by 0.75.
SMALL = "9"
RED = "#c62828"
GREY = "#9e9e9e"
HOT = "#e65100"          # the packet's path
HOT_FILL = "#ffe0b2"
PRESENT_FILL = "#e3f2fd"

#: The kernel's name of each hook (include/uapi/linux/netfilter.h).
_KERNEL_HOOK = {"PREROUTING": "NF_INET_PRE_ROUTING", "INPUT": "NF_INET_LOCAL_IN",
                "FORWARD": "NF_INET_FORWARD", "OUTPUT": "NF_INET_LOCAL_OUT",
                "POSTROUTING": "NF_INET_POST_ROUTING"}

#: Targets that are extensions or verdicts, not chains (a jump to anything else must be a chain).
STANDARD_TARGETS = frozenset("""
ACCEPT DROP RETURN DNAT SNAT MASQUERADE REDIRECT NETMAP MARK CONNMARK
TCPOPTSTRIP MIRROR SAME BALANCE DNPT SNPT
""".split()) | target_names()


# Names in a dump are hostile input: every id and label built from one goes through _id, _esc or _h.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_ID_UNSAFE = re.compile(r'[%\\":<\x00-\x1f\x7f-\x9f]')


def _visible(text: str) -> str:
    r"""Control characters (no DOT string or HTML label may hold them) shown as ``\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _esc(text: str) -> str:
    r"""Plain-label text: backslashes doubled so DOT does not read them as escapes, never taken
    for an HTML label (a chain named ``<x>``), control characters shown as escapes.

    >>> print(graphviz.quoting.quote(_esc('tail\\ <x>')))   # one backslash: DOT reads it back as one
    "tail\\ <x>"
    """
    return graphviz.nohtml(_visible(text).replace("\\", "\\\\"))


def _id(name: str) -> str:
    r"""A node id DOT reads back whole: ``%``, ``\``, ``"``, ``:`` (``a:b`` in an edge is node ``a``,
    port ``b``), ``<`` (an id ``<…>`` would be HTML) and control characters are %-encoded.

    >>> _id('a:b\\"c<d>%'), _id("KUBE-SVC-X")
    ('a%3Ab%5C%22c%3Cd>%25', 'KUBE-SVC-X')
    """
    return _ID_UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}", name)


def _h(text: object) -> str:
    """Text for an HTML-like label: escaped, control characters shown as escapes."""
    return html.escape(_visible(str(text)), quote=True)


def _counts(pkts: int | None, byts: int | None) -> str:
    if pkts is None:
        return ""
    return f"{format_count(pkts, table=False)} pkts / {format_count(byts, table=False)} bytes"


def _short(n: int) -> str:
    """1234 → '1.2k', 23412 → '23k'."""
    if n < 1000:
        return str(n)
    if n < 10000:
        return f"{n / 1000:.1f}k".replace(".0k", "k")
    if n < 1_000_000:
        return f"{round(n / 1000)}k"
    return f"{n / 1_000_000:.1f}M".replace(".0M", "M")


def _addr(v: str) -> str:
    return v[:-3] if v.endswith("/32") else v


def rule_summary(rule: Rule, width: int = 40) -> str:
    """A short description of what a rule matches, for edge labels.

    >>> from workbook.parse import parse_save
    >>> rs = parse_save('*nat\\n:X - [0:0]\\n-A X -d 10.100.0.10/32 -p udp -m comment --comment "kube-dns" -m udp --dport 53 -j Y\\n-A X -m comment --comment "a -> b" -m statistic --mode random --probability 0.50000000000 -j Z\\nCOMMIT\\n', strict=False)
    >>> [rule_summary(r) for r in rs.chain("nat", "X").rules]
    ['udp dst 10.100.0.10 dpt:53', 'p=50%']
    """
    bits: list[str] = []
    if rule.protocol:
        bits.append(("!" if rule.protocol_negated else "") + rule.protocol)
    for value, neg, word in ((rule.in_interface, rule.in_interface_negated, "in"),
                             (rule.out_interface, rule.out_interface_negated, "out"),
                             (rule.source, rule.source_negated, "src"),
                             (rule.destination, rule.destination_negated, "dst")):
        if value is not None:
            bits.append(f"{word} {'!' if neg else ''}{_addr(value)}")
    for m in rule.matches:
        if m.module == "comment":
            continue
        if m.module == "statistic":
            p = m.get("--probability")
            if p is not None:
                try:
                    bits.append(f"p={float(p.value):.0%}")
                    continue
                except ValueError:
                    pass
        text = match_text(m).strip()
        if m.module in ("tcp", "udp", "sctp") and text.startswith(m.module):
            text = text[len(m.module):].strip()
        if m.module == "addrtype":
            text = text.replace("ADDRTYPE match ", "")
        if text:
            bits.append(text)
    text = " ".join(bits)
    if not text:
        text = rule.comment or "all"
    return text if len(text) <= width else text[: width - 1] + "…"


def chain_group(name: str) -> str | None:
    """The family a chain belongs to for collapsing: the name up to its last ``-``.

    >>> chain_group("KUBE-SVC-NPX46M4PTMTKRN6Y"), chain_group("cali-tw-cali112d888c0c2"), chain_group("INPUT")
    ('KUBE-SVC-', 'cali-tw-', None)
    """
    i = name.rfind("-")
    if i <= 0 or i == len(name) - 1:
        return None
    return name[: i + 1]


# ---------------------------------------------------------------------------------------------
# Analysis of one table: jumps, duplicates, missing chains.

@dataclass
class _Jump:
    rule: Rule
    target: str
    duplicate_of: int | None = None


@dataclass
class _ChainFacts:
    chain: Chain
    jumps: list[_Jump] = field(default_factory=list)
    duplicates: list[tuple[int, int]] = field(default_factory=list)   # (position, first position)
    in_pkts: int | None = None
    in_bytes: int | None = None


def _analyse(chain: Chain, table_chains: dict[str, Chain]) -> _ChainFacts:
    """Jumps of a chain, and its duplicates as ``nfwb check`` sees them
    (:func:`workbook.checks.duplicates.duplicate_groups`): a drawing marks red exactly the
    rules the duplicate-rule finding reports."""
    from ..checks.duplicates import duplicate_groups

    facts = _ChainFacts(chain)
    dup_of: dict[int, int] = {}
    if len(chain.rules) > 1:
        for _kind, group in duplicate_groups(chain.rules):
            for r in group[1:]:
                dup_of[r.position] = group[0].position
        facts.duplicates.extend(sorted(dup_of.items()))
    for r in chain.rules:
        t = r.target
        if t and (t in table_chains or t not in STANDARD_TARGETS):
            facts.jumps.append(_Jump(r, t, dup_of.get(r.position)))
    return facts


class _TableIndex:
    """Jumps, duplicates and incoming counters of every chain of one table (computed lazily)."""

    def __init__(self, ruleset: Ruleset, table: str):
        self.table = table
        self.chains: dict[str, Chain] = ruleset.table(table).chains
        self._facts: dict[str, _ChainFacts] = {}

    def facts(self, name: str) -> _ChainFacts:
        f = self._facts.get(name)
        if f is None:
            f = self._facts[name] = _analyse(self.chains[name], self.chains)
        return f

    def fill_incoming(self, names: Iterable[str]) -> None:
        for n in names:
            for j in self.facts(n).jumps:
                if j.target in self.chains and j.rule.pkts is not None:
                    tf = self.facts(j.target)
                    tf.in_pkts = (tf.in_pkts or 0) + j.rule.pkts
                    tf.in_bytes = (tf.in_bytes or 0) + (j.rule.bytes or 0)


def _reachable(index: _TableIndex, roots: Sequence[str], depth: int | None) -> dict[str, int]:
    """Chain (or missing target) → distance from the roots, breadth first."""
    dist: dict[str, int] = {r: 0 for r in roots}
    frontier = list(roots)
    d = 0
    while frontier and (depth is None or d < depth):
        d += 1
        nxt = []
        for name in frontier:
            if name not in index.chains:
                continue
            for j in index.facts(name).jumps:
                if j.target not in dist:
                    dist[j.target] = d
                    nxt.append(j.target)
        frontier = nxt
    return dist


def _expand_match(name: str, expand: Sequence[str]) -> bool:
    return any(name == e or (any(c in e for c in "*?[") and fnmatch.fnmatchcase(name, e)) for e in expand)


def _layout_nodes(index: _TableIndex, names: Iterable[str], roots: Sequence[str], expand: Sequence[str],
                  max_fanout: int) -> dict[str, str]:
    """Chain name → node id: itself, or the group node ``PREFIX*`` it is collapsed into."""
    names = list(names)
    present = set(names)
    pinned = set(roots) | {n for n in names if n in index.chains and index.chains[n].builtin}
    pinned |= {n for n in names if expand and _expand_match(n, expand)}
    # Chains with a small fan-out pin their targets (so an expanded KUBE-SVC shows its KUBE-SEPs).
    stack = list(pinned)
    while stack:
        n = stack.pop()
        if n not in index.chains:
            continue
        targets = {j.target for j in index.facts(n).jumps if j.target in present}
        if len(targets) > max_fanout:
            continue
        for t in targets:
            if t not in pinned:
                pinned.add(t)
                stack.append(t)
    groups: dict[tuple[str, bool], list[str]] = {}
    totals: dict[str, int] = {}
    for n in names:
        g = chain_group(n)
        if g is None:
            continue
        totals[g] = totals.get(g, 0) + 1
        if n not in pinned:
            groups.setdefault((g, n in index.chains), []).append(n)
    node: dict[str, str] = {n: n for n in names}
    for (g, exists), members in groups.items():
        if totals[g] > max_fanout and len(members) > 1:
            gid = g + "*" if exists else g + "* (missing)"
            for n in members:
                node[n] = gid
    return node


def _chain_label(c: Chain, facts: _ChainFacts) -> str:
    rows = [f"<B>{_h(c.name)}</B>"]
    n = len(c.rules)
    rows.append(f"{n} rule{'s' if n != 1 else ''}")
    if c.builtin or c.policy is not None:
        pol = f"policy {_h(c.policy or 'ACCEPT')}"
        if c.pkts is not None:
            pol += f" {_h(_counts(c.pkts, c.bytes))}"
        rows.append(pol)
    elif facts.in_pkts is not None:
        rows.append(f"in: {_h(_counts(facts.in_pkts, facts.in_bytes))}")
    if facts.duplicates:
        pairs = ", ".join(f"#{p}=#{f}" for p, f in facts.duplicates[:4])
        more = " …" if len(facts.duplicates) > 4 else ""
        rows.append(f'<FONT COLOR="{RED}">⚠ {len(facts.duplicates)} duplicate rule'
                    f'{"s" if len(facts.duplicates) != 1 else ""} ({pairs}{more})</FONT>')
    return "<" + "<BR/>".join(rows) + ">"


def _group_label(gid: str, members: list[str], index: _TableIndex, missing: bool) -> str:
    if missing:
        return f"<<B>{_h(gid)}</B><BR/>×{len(members)} missing chains>"
    rules = sum(len(index.chains[m].rules) for m in members)
    dups = sum(len(index.facts(m).duplicates) for m in members)
    pk = [index.facts(m).in_pkts for m in members]
    rows = [f"<B>{_h(gid)} ×{len(members)}</B>", f"{_short(rules)} rules"]
    if any(p is not None for p in pk):
        by = sum(index.facts(m).in_bytes or 0 for m in members)
        rows.append(f"in: {_h(_counts(sum(p or 0 for p in pk), by))}")
    if dups:
        rows.append(f'<FONT COLOR="{RED}">⚠ {dups} duplicate rules</FONT>')
    return "<" + "<BR/>".join(rows) + ">"


def _edge_label(j: _Jump) -> str:
    r = j.rule
    text = f"#{r.position} {rule_summary(r)}"
    if j.duplicate_of is not None:
        text = f"DUPLICATE of #{j.duplicate_of}\\n" + _esc(text)
    else:
        text = _esc(text)
    if r.pkts is not None:
        text += "\\n" + _esc(_counts(r.pkts, r.bytes))
    return text


#: Targets that rewrite the destination: a chain graph drawn from one chain ends in them.
_NAT_ENDS = {"DNAT": "--to-destination", "REDIRECT": "--to-ports"}


def _nat_end_groups(chain: Chain) -> dict[tuple[str, str], list[tuple[int, str]]]:
    """(target, address) → [(rule position, port)] of a chain's DNAT/REDIRECT rules."""
    out: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for r in chain.rules:
        target = r.target or ""
        flag = _NAT_ENDS.get(target)
        opt = r.target_option(flag) if flag else None
        if opt is None:
            continue
        dest = opt.value
        if target == "REDIRECT":
            addr, port = "this node", dest
        elif dest.count(":") == 1 or (dest.startswith("[") and "]:" in dest):
            addr, port = dest.rsplit(":", 1)
        else:
            addr, port = dest, ""
        out.setdefault((target, addr), []).append((r.position, port))
    return out


def _add_nat_ends(g: graphviz.Digraph, chain: Chain, src: str) -> None:
    """One node per rewritten destination of ``chain`` (``DNAT → 10.42.1.17`` with its ports)."""
    for (target, addr), rules in _nat_end_groups(chain).items():
        ports = ", ".join(":" + p for _, p in rules if p)
        label = _esc(f"{target} → {addr}") + (f"\\n{_esc(ports)}" if ports else "")
        tid = _id(f"{src}>{target} {addr}")
        g.node(tid, label=label, shape="box", style="rounded,filled", fillcolor="#e8f5e9", color="#2e7d32",
               **{"class": "nat-end"})
        g.edge(src, tid, label=", ".join(f"#{p}" for p, _ in rules), fontsize=SMALL, color="#2e7d32")


def _build_chain_graph(g: graphviz.Digraph, index: _TableIndex, names: dict[str, int], roots: Sequence[str],
                       expand: Sequence[str], max_fanout: int, prefix: str = "",
                       highlight: set[str] | frozenset = frozenset(), nat_ends: bool = False) -> dict[str, str]:
    """Add nodes and edges for ``names`` (chain → distance) to ``g``; return chain → node id.

    With ``nat_ends``, each chain drawn on its own ends in its DNAT/REDIRECT destinations."""
    index.fill_incoming(n for n in names if n in index.chains)
    node = _layout_nodes(index, names, roots, expand, max_fanout)
    members: dict[str, list[str]] = {}
    for n, nid in node.items():
        members.setdefault(nid, []).append(n)
    for nid, ms in members.items():
        gid = _id(prefix + nid)
        if nid.endswith("*") or nid.endswith("(missing)"):
            missing = nid.endswith("(missing)")
            attrs = {"shape": "box3d", "style": "filled", "fillcolor": "#f5f5f5",
                     "class": "group missing" if missing else "group"}
            if missing or any(index.facts(m).duplicates for m in ms if m in index.chains):
                attrs["color"] = RED
            g.node(gid, label=_group_label(nid, ms, index, missing), **attrs)
            continue
        n = ms[0]
        if n not in index.chains:
            g.node(gid, label=f"<<B>{_h(n)}</B><BR/><FONT COLOR=\"{RED}\">missing chain</FONT>>",
                   shape="box", style="dashed", color=RED, fontcolor=RED, **{"class": "missing"})
            continue
        c = index.chains[n]
        facts = index.facts(n)
        attrs = {"shape": "box", "style": "rounded,filled", "fillcolor": PRESENT_FILL if c.builtin else "white"}
        cls = ["chain"]
        if c.builtin:
            attrs["penwidth"] = "2"
            cls.append("builtin")
        if facts.duplicates:
            attrs["color"] = RED
            attrs["penwidth"] = "2.5"
            cls.append("duplicate")
        if n in highlight:
            attrs["color"] = HOT
            attrs["fillcolor"] = HOT_FILL
            attrs["penwidth"] = "3"
            cls.append("visited")
        attrs["class"] = " ".join(cls)
        g.node(gid, label=_chain_label(c, facts), **attrs)
    # Edges: one per rule between individual chains; aggregated when a group is involved or many.
    pairs: dict[tuple[str, str], list[_Jump]] = {}
    for n in names:
        if n not in index.chains:
            continue
        for j in index.facts(n).jumps:
            if j.target in node:
                pairs.setdefault((node[n], node[j.target]), []).append(j)
    for (a, b), jumps in pairs.items():
        group = a.endswith("*") or b.endswith("*") or b.endswith("(missing)") or a.endswith("(missing)")
        missing = b not in index.chains and not b.endswith("*")
        if not group and len(jumps) <= 4:
            for j in jumps:
                attrs = {"label": _edge_label(j), "fontsize": SMALL}
                if j.rule.goto:
                    attrs["style"] = "dashed"
                if j.duplicate_of is not None or missing:
                    attrs["color"] = RED
                    attrs["fontcolor"] = RED
                    attrs["penwidth"] = "2"
                    attrs["class"] = "duplicate" if j.duplicate_of is not None else "missing"
                g.edge(_id(prefix + a), _id(prefix + b), **attrs)
            continue
        gotos = sum(1 for j in jumps if j.rule.goto)
        dups = sum(1 for j in jumps if j.duplicate_of is not None)
        text = f"×{len(jumps)} {'gotos' if gotos == len(jumps) else 'jumps'}"
        pk = [j.rule.pkts for j in jumps]
        if any(p is not None for p in pk):
            text += "\\n" + _counts(sum(p or 0 for p in pk), sum(j.rule.bytes or 0 for j in jumps))
        attrs = {"label": text, "fontsize": SMALL, "penwidth": "2"}
        if gotos == len(jumps):
            attrs["style"] = "dashed"
        if dups or b.endswith("(missing)") or missing:
            attrs["color"] = RED
            attrs["fontcolor"] = RED
            if dups:
                attrs["label"] += f"\\n{dups} duplicate"
        g.edge(_id(prefix + a), _id(prefix + b), **attrs)
    if nat_ends:
        for n, nid in node.items():
            if nid == n and n in index.chains:
                _add_nat_ends(g, index.chains[n], _id(prefix + n))
    return node


def draw_chains(ruleset: Ruleset, table: str, chain: str | None = None, *, depth: int | None = None,
                max_fanout: int = 25, expand: Sequence[str] = (), rankdir: str = "LR") -> "Drawing":
    """The chain graph of ``table`` (or of what ``chain`` reaches): chains as nodes, jumps as edges.

    Node labels give rule count, policy and counters; edges give rule position, a summary of the
    match and counters (``-g`` gotos dashed). Duplicated rules and jumps to missing chains are red.
    When more than ``max_fanout`` chains of one family (``KUBE-SVC-*``) would be drawn, they become
    one summary node, except chains named (or matched by a pattern) in ``expand``. Drawn from one
    ``chain``, the graph ends in the destinations its DNAT/REDIRECT rules rewrite to
    (``class="nat-end"``: ``DNAT → 192.168.1.77`` with the ports). ``rankdir="TB"`` draws it top to
    bottom (narrower when a chain jumps to few chains but the path is long).

    >>> from workbook.parse import parse_save
    >>> rs = parse_save('''*nat
    ... :PREROUTING ACCEPT [0:0]
    ... :KUBE-SERVICES - [0:0]
    ... -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
    ... -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
    ... -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
    ... COMMIT
    ... ''', strict=False)
    >>> g = draw_chains(rs, "nat")
    >>> '"KUBE-SERVICES" [label=' in g.source, 'missing chain' in g.source, 'DUPLICATE of #2' in g.source
    (True, True, True)
    """
    if table not in ruleset:
        raise KeyError(f"no table {table!r} in {ruleset.source} (has: {', '.join(ruleset.tables) or 'none'})")
    index = _TableIndex(ruleset, table)
    if chain is not None:
        if chain not in index.chains:
            raise KeyError(f"no chain {chain!r} in table {table!r} of {ruleset.source}")
        roots = [chain]
        names = _reachable(index, roots, depth)
    else:
        builtins = [c.name for c in index.chains.values() if c.builtin]
        roots = builtins
        if depth is None:
            names = {n: 0 for n in index.chains}
            for n in list(index.chains):
                for j in index.facts(n).jumps:
                    names.setdefault(j.target, 1)
        else:
            names = _reachable(index, roots, depth)
    title = f"{table} table" + (f" from {chain}" if chain else "") + f" — {ruleset.source}"
    g = Drawing(_id(f"chains_{table}"), graph_attr={"rankdir": rankdir, "label": _esc(title), "labelloc": "t",
                                                 "fontname": FONT, "ranksep": "0.25"},
                node_attr={"fontname": FONT, "fontsize": "10"}, edge_attr={"fontname": FONT})
    _build_chain_graph(g, index, names, roots, tuple(expand), max_fanout, nat_ends=chain is not None)
    return g


# ---------------------------------------------------------------------------------------------
# The hook diagram.

def _branch_path(branch, from_node: bool) -> list[str]:
    hooks = [s.hook for s in branch.steps]
    seen = set(hooks)
    if from_node:
        path = ["local", "OUTPUT", "routing_out", "POSTROUTING"]
        if "INPUT" in seen or "PREROUTING" in seen:
            # to a local address: back in over lo (workbook.netfilter.packet_path(True, True))
            path += ["PREROUTING", "routing_in", "INPUT", "local"]
        else:
            path += ["egress"]
    else:
        path = ["ingress", "PREROUTING", "routing_in"]
        if "FORWARD" in seen or ("POSTROUTING" in seen and "INPUT" not in seen):
            path += ["FORWARD", "POSTROUTING", "egress"]
        elif "INPUT" in seen:
            path += ["INPUT", "local"]
    if branch.verdict in ("DROP", "REJECT") and hooks:
        last = hooks[-1]
        if last in path:
            path = path[: path.index(last) + 1]
    return path


def _trace_facts(trace) -> tuple[set[str], set[tuple[str, str]], set[tuple[str, str]]]:
    nodes: set[str] = set()
    edges: set[tuple[str, str]] = set()
    cells: set[tuple[str, str]] = set()
    if trace is None:
        return nodes, edges, cells
    for b in trace.branches:
        path = _branch_path(b, trace.packet.from_node)
        nodes.update(path)
        edges.update(zip(path, path[1:]))
        cells.update((s.hook, s.table) for s in b.steps)
    return nodes, edges, cells


def _hook_label(hook: str, tables: tuple[HookTable, ...], ruleset: Ruleset | None,
                cells: set[tuple[str, str]], family: str) -> str:
    visited_hook = any(h == hook for h, _ in cells)
    head_bg = HOT_FILL if visited_hook else "#eceff1"
    rows = [f'<TR><TD COLSPAN="3" BGCOLOR="{head_bg}"><B>{hook}</B><BR/>'
            f'<FONT POINT-SIZE="{SMALL}">{_KERNEL_HOOK[hook]}</FONT></TD></TR>']
    for t, prio in tables:
        name = t + (" (DNAT)" if t == "nat" and prio < 0 else " (SNAT)" if t == "nat" else "")
        info = ""
        style_open, style_close = "", ""
        bg = ""
        if ruleset is not None:
            c = ruleset.tables[t].chains.get(hook) if t in ruleset.tables else None
            if c is None:
                style_open, style_close = f'<FONT COLOR="{GREY}">', "</FONT>"
                info = "absent"
            else:
                style_open, style_close = "<B>", "</B>"
                info = f"{len(c.rules)} rule{'s' if len(c.rules) != 1 else ''}"
                if c.policy and c.policy != "ACCEPT":
                    info += f", policy {c.policy}"
                if c.pkts:
                    info += f", {format_count(c.pkts, table=False)} pkts"
                bg = f' BGCOLOR="{PRESENT_FILL}"'
        if (hook, t) in cells:
            bg = f' BGCOLOR="{HOT_FILL}"'
        rows.append(f'<TR><TD PORT="{t}" ALIGN="LEFT"{bg}>{style_open}{_h(name)}{style_close}</TD>'
                    f'<TD ALIGN="RIGHT"{bg}>{style_open}{prio}{style_close}</TD>'
                    f'<TD ALIGN="LEFT"{bg}>{style_open}{_h(info)}{style_close}</TD></TR>')
    return ('<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">' + "".join(rows) + "</TABLE>>")


def _verdict_text(trace) -> str:
    """One line per outcome (verdict and NAT) with its total probability (equal branches merged)."""
    merged: dict[str, float] = {}
    for b in trace.branches:
        key = b.verdict + (f" DNAT→{b.dnat}" if b.dnat else "") + (f" SNAT→{b.snat}" if b.snat else "") + \
            (" MASQUERADE" if b.masquerade else "")
        merged[key] = merged.get(key, 0.0) + b.probability
    return "\\n".join(_esc(f"{p:.0%} {k}") for k, p in merged.items())


def _add_hooks(g: graphviz.Digraph, ruleset: Ruleset | None, trace, family: str) -> None:
    nodes, edges, cells = _trace_facts(trace)

    def mark(name: str, attrs: dict) -> dict:
        if name in nodes:
            attrs = dict(attrs, color=HOT, penwidth="3", **{"class": attrs.get("class", "") + " visited"})
        return attrs

    g.node("ingress", label="ingress\\n(packet in)", **mark("ingress", {"shape": "cds", "class": "endpoint"}))
    g.node("egress", label="egress\\n(packet out)", **mark("egress", {"shape": "cds", "class": "endpoint"}))
    g.node("routing_in", label="routing\\ndecision", **mark("routing_in", {"shape": "diamond", "class": "routing"}))
    g.node("routing_out", label="routing\\ndecision", **mark("routing_out", {"shape": "diamond", "class": "routing"}))
    g.node("local", label="local process\\n(hostNetwork process / socket)",
           **mark("local", {"shape": "box", "style": "rounded,filled", "fillcolor": "#fffde7", "class": "local"}))
    for hook in HOOKS:
        g.node(hook, label=_hook_label(hook, TABLES_AT_HOOK[hook], ruleset, cells, family),
               **mark(hook, {"shape": "plain", "class": "hook"}))
    flow = [("ingress", "PREROUTING", ""), ("PREROUTING", "routing_in", ""),
            ("routing_in", "INPUT", "for this host"), ("routing_in", "FORWARD", "for another host"),
            ("INPUT", "local", ""), ("local", "OUTPUT", ""), ("OUTPUT", "routing_out", ""),
            ("routing_out", "POSTROUTING", ""), ("FORWARD", "POSTROUTING", ""), ("POSTROUTING", "egress", "")]
    for a, b, label in flow:
        attrs = {"label": label, "fontsize": SMALL} if label else {}
        if (a, b) in edges:
            attrs.update(color=HOT, penwidth="3", **{"class": "visited"})
        g.edge(a, b, **attrs)
    if ("POSTROUTING", "PREROUTING") in edges:
        g.edge("POSTROUTING", "PREROUTING", label="back in over lo", fontsize=SMALL, style="dashed",
               constraint="false", color=HOT, penwidth="3", **{"class": "visited"})
    if trace is not None and trace.branches:
        g.node("verdict", label=_verdict_text(trace), shape="note", style="filled", fillcolor=HOT_FILL,
               **{"class": "verdict"})
        ends = set()
        for b in trace.branches:
            path = _branch_path(b, trace.packet.from_node)
            ends.add(path[-1])
        for e in sorted(ends):
            g.edge(e, "verdict", style="dotted", arrowhead="none")


def draw_hooks(ruleset: Ruleset | None = None, trace=None, family: str = "ipv4") -> "Drawing":
    """The netfilter hook diagram with the tables at each hook in priority order.

    Given a ruleset, the tables whose built-in chain exists are bold (with rule counts) and the
    others grey; given a trace, the packet's path is drawn in orange.

    >>> g = draw_hooks()
    >>> all(h in g.source for h in ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"))
    True
    >>> g.source.index('PORT="raw"') < g.source.index('PORT="mangle"') < g.source.index('PORT="nat"')
    True
    """
    if ruleset is not None and family == "ipv4":
        family = ruleset.family
    tool = "ip6tables" if family == "ipv6" else "iptables"
    title = f"netfilter hooks ({family}, {tool})"
    if ruleset is not None:
        title += f" — {ruleset.source}"
    # top to bottom: INPUT and FORWARD side by side is as wide as it gets, so it is never scaled
    # down in a notebook (left to right, nine steps wide, it was: text under 6 px)
    g = Drawing("hooks", graph_attr={"rankdir": "TB", "label": _esc(title), "labelloc": "t",
                                     "fontname": FONT, "nodesep": "0.4", "ranksep": "0.3"},
                node_attr={"fontname": FONT, "fontsize": "10"}, edge_attr={"fontname": FONT})
    _add_hooks(g, ruleset, trace, family)
    return g


# ---------------------------------------------------------------------------------------------
# A trace drawn top to bottom: a summary (packet, outcomes, hook path), then each hook's chains.

def _jump_target(action: str | None) -> tuple[str, bool] | None:
    if not action:
        return None
    if action.startswith("JUMP:"):
        return action[5:], False
    if action.startswith("GOTO:"):
        return action[5:], True
    return None


def _font(text: str, **attrs: str) -> str:
    """``<FONT ...>text</FONT>``, or nothing for empty text (graphviz rejects empty HTML elements)."""
    if not text:
        return ""
    a = " ".join(f'{k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f"<FONT {a}>{text}</FONT>"


def _tip_td(text: str, tooltip: str | None, align: str = "LEFT") -> str:
    """A table cell whose hover text (SVG ``<title>``) is ``tooltip``: the full rule behind a short label."""
    tip = f' HREF="{_TIP}" TOOLTIP="{_h(tooltip)}"' if tooltip else ""
    return f'<TD ALIGN="{align}"{tip}>{text}</TD>'


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _step_rule(ruleset: Ruleset | None, s) -> Rule | None:
    """The rule a trace step evaluated, when the ruleset is given and still holds it."""
    if ruleset is None or s.position is None or s.table not in ruleset.tables:
        return None
    c = ruleset.tables[s.table].chains.get(s.chain)
    if c is None or not 0 < s.position <= len(c.rules):
        return None
    r = c.rules[s.position - 1]
    return r if r.position == s.position else None


def _spec_summary(spec: str) -> str:
    """A rule's matches from its ``-A CHAIN … -j TARGET …`` text (no ruleset at hand): what is left between."""
    text = re.sub(r"^-A \S+\s*", "", spec)
    text = re.split(r"\s-[jg] \S+", " " + text, maxsplit=1)[0].strip()
    text = re.sub(r'-m comment --comment ("[^"]*"|\S+)\s*', "", text).strip()
    return text or "all"


def _action_text(s, rule: Rule | None) -> str:
    """What a step did, short: ``jump``, ``DNAT to:10.0.0.1:53``, ``policy ACCEPT``."""
    act = s.action or ""
    if act.startswith(("JUMP:", "GOTO:")):
        return ("goto " if act.startswith("GOTO:") else "jump ") + _shorten(act[5:], 20)
    if act.startswith("policy:"):
        return act[7:]
    if rule is not None and rule.target and act == rule.target:
        extra = target_text(rule).strip()
        return _shorten(f"{act} {extra}" if extra else act, 34)
    return _shorten(act, 34)


_SUMMARY_WIDTH = 30


def _visit_label(table: str, chain: str, steps: list, max_rules: int, ruleset: Ruleset | None) -> str:
    """A visited chain: its name and table, then the rules evaluated there (short; full rule on hover)."""
    rows = [f'<TR><TD COLSPAN="3" BGCOLOR="{HOT_FILL}"><B>{_h(chain)}</B><BR/>'
            f'<FONT POINT-SIZE="{SMALL}">{_h(table)} table</FONT></TD></TR>']
    unmatched = [s for s in steps if not s.matched]
    show_unmatched = len(unmatched) <= max_rules
    skipped = 0
    for s in steps:
        if not s.matched and not show_unmatched:
            skipped += 1
            continue
        rule = _step_rule(ruleset, s)
        pos = "policy" if s.position is None else f"#{s.position}"
        act = _h(_action_text(s, rule))
        if s.matched:
            what = rule_summary(rule, _SUMMARY_WIDTH) if rule is not None else \
                _shorten(_spec_summary(s.spec), _SUMMARY_WIDTH) if s.spec else ""
            rows.append(f'<TR><TD ALIGN="LEFT"><B>{pos}</B></TD><TD ALIGN="LEFT"><B>✔ {act}</B></TD>'
                        + _tip_td(_font(_h(what), POINT_SIZE=SMALL), s.spec) + "</TR>")
        else:
            why = _h(_shorten(s.why or "", _SUMMARY_WIDTH))
            rows.append(f'<TR><TD ALIGN="LEFT">{_font(pos, COLOR=GREY)}</TD>'
                        f'<TD ALIGN="LEFT">{_font("✘ " + act, COLOR=GREY)}</TD>'
                        + _tip_td(_font(why, COLOR=GREY, POINT_SIZE=SMALL), s.spec) + "</TR>")
    if skipped:
        rows.insert(1, f'<TR><TD COLSPAN="3"><FONT COLOR="{GREY}">{skipped} rules evaluated, not matched</FONT></TD></TR>')
    return '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">' + "".join(rows) + "</TABLE>>"


def _packet_text(p) -> str:
    where = "from the node" if p.from_node else f"in on {p.in_iface}" if p.in_iface else "arriving"
    dport = f":{p.dport}" if p.dport is not None else ""
    sport = f":{p.sport}" if p.sport is not None else ""
    return f"{p.proto} {p.src}{sport} → {p.dst}{dport} ({where})"


def _outcome_text(b, sep: str = " ") -> str:
    """A branch's verdict and NAT: ``ACCEPT DNAT → 10.0.0.1:53``."""
    return b.verdict + (f"{sep}DNAT → {b.dnat}" if b.dnat else "") + (f"{sep}SNAT → {b.snat}" if b.snat else "") + \
        (f"{sep}MASQUERADE" if b.masquerade else "")


def _summary_label(trace) -> str:
    """The compact summary at the top: the packet and each outcome with its share."""
    merged: dict[str, float] = {}
    for b in trace.branches:
        merged[_outcome_text(b)] = merged.get(_outcome_text(b), 0.0) + b.probability
    rows = [f'<TR><TD ALIGN="LEFT" BGCOLOR="#eceff1"><B>{_h(_packet_text(trace.packet))}</B></TD></TR>']
    for text, p in merged.items():
        rows.append(f'<TR><TD ALIGN="LEFT">{p:.0%} {_h(text)}</TD></TR>')
    if not trace.branches:
        rows.append("<TR><TD>no branch</TD></TR>")
    return '<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3">' + "".join(rows) + "</TABLE>>"


_PATH_LABEL = {"ingress": "in", "egress": "out", "routing_in": "route", "routing_out": "route", "local": "local"}


def _add_path(g: graphviz.Digraph, trace) -> list[str]:
    """The hooks the packet went through, one row (``class="hook visited"``); return the row's nodes."""
    order: list[str] = []
    edges: list[tuple[str, str]] = []
    for b in trace.branches:
        path = _branch_path(b, trace.packet.from_node)
        for n in path:
            if n not in order:
                order.append(n)
        for e in zip(path, path[1:]):
            if e not in edges:
                edges.append(e)
    with g.subgraph(name="path") as row:
        row.attr(rank="same")
        for n in order:
            if n in HOOKS:
                row.node(n, label=n, shape="box", style="rounded,filled", fillcolor=HOT_FILL, color=HOT,
                         penwidth="2", **{"class": "hook visited"})
            else:
                shape = "diamond" if n.startswith("routing") else "cds" if n in ("ingress", "egress") else "box"
                row.node(n, label=_PATH_LABEL[n], shape=shape, fontsize=SMALL, color=HOT,
                         **{"class": "path visited"})
    for a, b2 in edges:
        label = "lo" if (a, b2) == ("POSTROUTING", "PREROUTING") else ""
        g.edge(a, b2, label=label, fontsize=SMALL, color=HOT, penwidth="2", **{"class": "visited"})
    return order


def _deepest(nodes: list[str], edges: list[tuple[str, str]]) -> str:
    """The node of ``nodes`` at the end of the longest path of ``edges`` among them (dot ranks it lowest)."""
    level = {n: 0 for n in nodes}
    inside = [(a, b) for a, b in edges if a in level and b in level and a != b]
    for _ in range(len(nodes)):
        changed = False
        for a, b in inside:
            if level[b] < level[a] + 1:
                level[b] = level[a] + 1
                changed = True
        if not changed:
            break
    return max(nodes, key=lambda n: level[n])


def _not_taken_label(name_counts: list[tuple[str, int]], total: int) -> str:
    lines = [f"{total} jumps not taken"]
    for name, n in name_counts[:4]:
        lines.append(f"{name} ×{n}" if n > 1 else name)
    if len(name_counts) > 4:
        lines.append(f"… {len(name_counts) - 4} more")
    return "\\n".join(_esc(x) for x in lines)


def draw_trace(trace, ruleset: Ruleset | None = None, *, max_rules: int = 8, max_fanout: int = 25,
               max_not_taken: int = 2) -> "Drawing":
    """One packet's path, top to bottom: a summary, then each hook's chains in the order met.

    At the top, the packet and its outcomes (with their shares) and the hooks it went through
    (``class="hook visited"``). Below, one box per hook holding the chains visited there, in
    orange (``class="visited chain"``), each listing the rules evaluated (matched ones bold; the
    full rule is the cell's tooltip); jumps are labelled with the rule position and, after a
    ``-m statistic`` split, the share of branches that took them (``50%``). With ``ruleset`` the
    jumps not taken from visited chains are drawn grey: one node each up to ``max_not_taken``
    (and ``max_fanout``), else one node per chain listing them by family.

    >>> from workbook.packet import Packet, Step, Branch, Trace
    >>> steps = [Step("PREROUTING", "nat", "PREROUTING", 1, "-A PREROUTING -j KUBE-SERVICES", True, "JUMP:KUBE-SERVICES")]
    >>> t = Trace(Packet("10.0.0.2", "10.100.0.10", "udp", dport=53), [Branch(1.0, "ACCEPT", steps)])
    >>> g = draw_trace(t)
    >>> '"PREROUTING.nat.KUBE-SERVICES"' in g.source and 'class="visited chain"' in g.source
    True
    """
    g = Drawing("trace", graph_attr={"rankdir": "TB", "fontname": FONT, "label": _esc(f"{trace.source} trace"),
                                     "labelloc": "t", "nodesep": "0.3", "ranksep": "0.35"},
                node_attr={"fontname": FONT, "fontsize": "10"}, edge_attr={"fontname": FONT, "fontsize": SMALL})
    g.node("summary", label=_summary_label(trace), shape="plain", **{"class": "summary"})
    path = _add_path(g, trace)
    if path:
        g.edge("summary", path[0], style="invis", weight="0")
    visits, edges = _trace_visits(trace)
    nid = {k: _id(".".join(k)) for k in visits}
    not_taken = _not_taken(ruleset, visits, edges, nid, max_fanout, max_not_taken) if ruleset is not None else {}
    # inner: the edges inside the hook boxes (drawn or not), to find each box's lowest node
    firsts, members, inner = _add_hook_boxes(g, visits, nid, not_taken, max_rules, ruleset)
    inner += _add_jumps(g, trace, edges, nid, not_taken)
    bottoms = {hook: _deepest(members[hook], inner) for hook, _ in firsts}
    # One hook below the other: the next hook's first chain under the lowest node of this one
    # (one invisible edge each, so the boxes stay in one column).
    for (h1, _), (_, first2) in zip(firsts, firsts[1:]):
        g.edge(bottoms[h1], first2, style="invis")
    if path and firsts:
        g.edge(firsts[0][0] if firsts[0][0] in path else path[0], firsts[0][1], style="invis")
    _add_outcomes(g, trace, nid, bottoms[firsts[-1][0]] if firsts else None)
    return g


_Visit = tuple[str, str, str]   # (hook, table, chain)
_Taken = tuple[_Visit, _Visit, "int | None", bool]   # (from, to, rule position, goto)


def _trace_visits(trace) -> tuple[dict[_Visit, list], dict[_Taken, float]]:
    """Visited chains in first-visit order with their steps merged over branches, and the jumps
    taken with the share of branches that took each."""
    visits: dict[_Visit, list] = {}
    seen_steps: dict[_Visit, set] = {}
    edges: dict[_Taken, float] = {}
    for b in trace.branches:
        taken = set()
        for s in b.steps:
            key = (s.hook, s.table, s.chain)
            visits.setdefault(key, [])
            sk = (s.position, s.spec, s.matched, s.action)
            if sk not in seen_steps.setdefault(key, set()):
                seen_steps[key].add(sk)
                visits[key].append(s)
            jt = _jump_target(s.action) if s.matched else None
            if jt is not None:
                ek = (key, (s.hook, s.table, jt[0]), s.position, jt[1])
                if ek not in taken:
                    taken.add(ek)
                    edges[ek] = edges.get(ek, 0.0) + b.probability
    for (_, b2, _, _) in edges:
        visits.setdefault(b2, [])
    return visits, edges


_NotTaken = dict[_Visit, list[tuple[str, dict, str, dict]]]   # chain → [(node id, node attrs, edge label, edge attrs)]


def _not_taken(ruleset: Ruleset, visits: dict[_Visit, list], edges: dict[_Taken, float], nid: dict[_Visit, str],
               max_fanout: int, max_not_taken: int) -> _NotTaken:
    """The jumps visited chains have but the packet did not take: grey nodes, one each up to
    ``max_not_taken`` (and ``max_fanout``), else one node per chain listing them by family."""
    out: _NotTaken = {}
    indexes: dict[str, _TableIndex] = {}
    for k in visits:
        hook, table, chain = k
        if table not in ruleset or chain not in ruleset.table(table).chains:
            continue
        index = indexes.setdefault(table, _TableIndex(ruleset, table))
        taken_targets = {b2[2] for (a, b2, _, _) in edges if a == k}
        others = [j for j in index.facts(chain).jumps
                  if j.target not in taken_targets and (hook, table, j.target) not in visits]
        if not others:
            continue
        nodes = out.setdefault(k, [])
        if len(others) <= min(max_not_taken, max_fanout):
            for j in others:
                nodes.append((_id(f"{nid[k]}>{j.target}"),
                              {"label": _esc(_shorten(j.target, 28)), "shape": "box", "style": "rounded",
                               "color": GREY, "fontcolor": GREY, "tooltip": _esc(j.rule.spec), "class": "unvisited"},
                              f"#{j.rule.position}", {"style": "dashed" if j.rule.goto else "solid"}))
            continue
        fam: dict[str, list[str]] = {}
        for j in others:
            fam.setdefault(chain_group(j.target) or j.target, []).append(j.target)
        names = sorted(((ts[0] if len(ts) == 1 else grp + "*", len(ts)) for grp, ts in fam.items()),
                       key=lambda x: (-x[1], x[0]))
        tip = "\\n".join(_esc(f"#{j.rule.position} → {j.target}") for j in others[:200])
        nodes.append((_id(f"{nid[k]}>not-taken"),
                      {"label": _not_taken_label(names, len(others)), "shape": "box3d", "color": GREY,
                       "fontcolor": GREY, "fontsize": SMALL, "tooltip": tip, "class": "unvisited group"},
                      f"×{len(others)}", {}))
    return out


def _hook_order(hook: str, keys: Iterable[_Visit]) -> list[_Visit]:
    """The built-in chains among ``keys`` of the tables met at ``hook``, in kernel priority order."""
    order = [t.table for t in TABLES_AT_HOOK[hook]]
    return sorted((k for k in keys if k[2] == hook), key=lambda k: order.index(k[1]) if k[1] in order else 99)


def _add_hook_boxes(g: graphviz.Digraph, visits: dict[_Visit, list], nid: dict[_Visit, str], not_taken: _NotTaken,
                    max_rules: int, ruleset: Ruleset | None
                    ) -> tuple[list[tuple[str, str]], dict[str, list[str]], list[tuple[str, str]]]:
    """One box per hook with its visited chains (and jumps not taken); return each hook's first
    node, the nodes in each box, and the "then" edges between the hook's built-in chains."""
    by_hook: dict[str, list[_Visit]] = {}
    for k in visits:
        by_hook.setdefault(k[0], []).append(k)
    firsts: list[tuple[str, str]] = []
    members: dict[str, list[str]] = {}
    then: list[tuple[str, str]] = []
    for hook in HOOKS:
        keys = by_hook.get(hook)
        if not keys:
            continue
        with g.subgraph(name=f"cluster_{hook}") as c:
            c.attr(label=hook, style="rounded", color=HOT, fontcolor=HOT, labeljust="l")
            for k in keys:
                if visits[k]:
                    c.node(nid[k], label=_visit_label(k[1], k[2], visits[k], max_rules, ruleset), shape="box",
                           style="rounded", color=HOT, penwidth="3", **{"class": "visited chain"})
                else:   # jumped to, never evaluated (e.g. a trace cut short)
                    c.node(nid[k], label=_esc(k[2]), shape="box", color=HOT, **{"class": "visited chain"})
                members.setdefault(hook, []).append(nid[k])
                for tid, attrs, _, _ in not_taken.get(k, ()):
                    c.node(tid, **attrs)
                    members[hook].append(tid)
            builtins = _hook_order(hook, keys)
            firsts.append((hook, nid[builtins[0]] if builtins else nid[keys[0]]))
            for a, b2 in zip(builtins, builtins[1:]):
                c.edge(nid[a], nid[b2], style="dotted", color=HOT, label="then")
                then.append((nid[a], nid[b2]))
    return firsts, members, then


def _add_jumps(g: graphviz.Digraph, trace, edges: dict[_Taken, float], nid: dict[_Visit, str],
               not_taken: _NotTaken) -> list[tuple[str, str]]:
    """The jumps taken (orange, with their share) and not taken (grey); return every edge drawn,
    the invisible ones too: more than two jumps taken from one chain are stacked, one below the other."""
    drawn: list[tuple[str, str]] = []
    children: dict[_Visit, list[tuple[int, str]]] = {}
    for (a, b2, pos, goto), p in edges.items():
        label = "" if pos is None else f"#{pos}"
        if len(trace.branches) > 1 and p < 0.9999:
            label += f"\\n{p:.0%}"
        attrs = {"label": label, "color": HOT, "penwidth": "2.5", "fontcolor": HOT, "class": "visited"}
        if goto:
            attrs["style"] = "dashed"
        g.edge(nid[a], nid[b2], **attrs)
        drawn.append((nid[a], nid[b2]))
        children.setdefault(a, []).append((pos or 0, nid[b2]))
    for k, out in not_taken.items():
        for tid, _, label, eattrs in out:
            g.edge(nid[k], tid, label=label, color=GREY, fontcolor=GREY, **eattrs)
            drawn.append((nid[k], tid))
    for kids in children.values():
        kids.sort()
        if len(kids) > 2:
            for (_, x), (_, y) in zip(kids, kids[1:]):
                g.edge(x, y, style="invis", weight="0")
                drawn.append((x, y))
    return drawn


def _add_outcomes(g: graphviz.Digraph, trace, nid: dict[_Visit, str], bottom: str | None) -> None:
    """One node per distinct result, fed by the last chain of each branch, below ``bottom``."""
    outcomes: dict[str, tuple[str, float, set]] = {}
    for b in trace.branches:
        text = _outcome_text(b, "\\n")
        oid = f"outcome{len(outcomes)}" if text not in outcomes else outcomes[text][0]
        prev = outcomes.get(text, (oid, 0.0, set()))
        last = next(((s.hook, s.table, s.chain) for s in reversed(b.steps) if s.matched), None)
        outcomes[text] = (oid, prev[1] + b.probability, prev[2] | ({last} if last else set()))
    for text, (oid, p, srcs) in outcomes.items():
        if bottom is not None:
            g.edge(bottom, oid, style="invis")
        color = RED if text.startswith(("DROP", "REJECT")) else "#2e7d32"
        g.node(oid, label=_esc(f"{p:.0%} ") + text, shape="doubleoctagon", color=color, fontcolor=color,
               penwidth="2", **{"class": "outcome"})
        for src in srcs:
            if src in nid:
                g.edge(nid[src], oid, color=color, style="bold")
