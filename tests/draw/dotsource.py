"""Read nodes and edges (with their attributes) back out of a graphviz source, for assertions."""

from __future__ import annotations

import re

_ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|<.*?>(?= \w+=|\]$)|[^ \]]+)')


def _unquote(name: str) -> str:
    name = name.strip()
    return name[1:-1] if len(name) >= 2 and name[0] == name[-1] == '"' else name


def parse_dot(source: str) -> tuple[dict[str, dict[str, str]], list[tuple[str, str, dict[str, str]]]]:
    """Nodes (id → attrs) and edges ([(a, b, attrs)]) of a python-graphviz source (one statement a line)."""
    nodes: dict[str, dict[str, str]] = {}
    edges: list[tuple[str, str, dict[str, str]]] = []
    for line in source.splitlines():
        line = line.strip()
        if not line or line.startswith(("digraph", "graph", "subgraph", "}", "label=", "style=", "color=")):
            continue
        if line.endswith("{") or "[" not in line and " -> " not in line:
            continue
        head, _, rest = line.partition(" [")
        attrs = {k: v.strip('"') for k, v in _ATTR.findall(rest.rstrip("]"))} if rest else {}
        if head in ("graph", "node", "edge"):
            continue
        if " -> " in head:
            a, b = head.split(" -> ", 1)
            edges.append((_unquote(a), _unquote(b), attrs))
        else:
            nodes[_unquote(head)] = attrs
    return nodes, edges
