"""Print an NftRuleset as ``nft list ruleset`` does (nft 1.0.6 layout), for ``nft -f`` and diffs."""

from __future__ import annotations

import re

from .model import NftChain, NftObject, NftRuleset, NftSet, NftTable, priority_text
from .rule_text import stateless as stateless_text

__all__ = ["print_ruleset", "print_table", "elements_text", "quote_name"]

_BARE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")

# Element types nft prints five to a line, and two to a line (its calculate_delim()); every
# other type (concatenations, interface names…) one to a line.
_FIVE = frozenset({"nf_proto", "inet_proto", "inet_service", "tcp_flag", "dccp_pkttype", "mark", "iface_index",
                   "classid", "uid", "gid", "ct_dir"})
_TWO = frozenset({"ipv4_addr", "ct_state", "ct_status", "pkttype"})
_TYPEOF = {"saddr": None, "daddr": None, "dport": "inet_service", "sport": "inet_service", "l4proto": "inet_proto",
           "protocol": "inet_proto", "mark": "mark", "iif": "iface_index", "oif": "iface_index", "state": "ct_state",
           "status": "ct_status", "pkttype": "pkttype", "skuid": "uid", "skgid": "gid", "nexthdr": "inet_proto"}
# Declaration lines of a set after ``flags`` and before ``timeout`` / after it (as nft orders them).
_BEFORE_TIMEOUT = ("counter", "auto-merge")


def quote_name(name: str) -> str:
    """A table/chain/set name as nft prints it (quoted when not a plain identifier)."""
    return name if _BARE_NAME.match(name) else '"' + name.replace('"', '\\"') + '"'


def _per_line(s: NftSet) -> int:
    t = (s.type or "").strip()
    if " . " in t:
        return 1
    if s.typeof:
        words = t.split()
        last = words[-1] if words else ""
        if last in ("saddr", "daddr"):
            t = "ipv6_addr" if words[0] == "ip6" else "ipv4_addr" if words[0] in ("ip", "ct") else "ether_addr"
        else:
            t = _TYPEOF.get(last) or ""
    if t in _FIVE:
        return 5
    if t in _TWO:
        return 2
    return 1


def elements_text(s: NftSet, stateless: bool = False) -> str:
    """``elements = { … }`` wrapped as nft wraps it."""
    n = _per_line(s)
    out = ["elements = { "]
    count = 0
    delim: str  # set by the element before: set before its first use (i > 0)
    for i, e in enumerate(s.elements):
        if i:
            out.append(delim)
        out.append(e.text(stateless))
        count += 1
        if count < n:
            delim = ", "
        else:
            count = 0
            delim = ",\n\t\t\t     "
    out.append(" }")
    return "".join(out)


def _handle(h: int | None, handles: bool) -> str:
    return f" # handle {h}" if handles and h is not None else ""


def _set_lines(s: NftSet, stateless: bool, handles: bool) -> list[str]:
    lines = [f"\t{s.kind} {quote_name(s.name)} {{{_handle(s.handle, handles)}"]
    decl = ("typeof " if s.typeof else "type ") + (s.type or "")
    if s.data:
        decl += " : " + s.data
    lines.append("\t\t" + decl)
    if s.policy:
        lines.append(f"\t\tpolicy {s.policy}")
    if s.size is not None:
        lines.append(f"\t\tsize {s.size}")
    if s.flags:
        lines.append("\t\tflags " + ",".join(s.flags))
    before = [x for x in s.extra if x.split(" ", 1)[0] in _BEFORE_TIMEOUT]
    after = [x for x in s.extra if x not in before]
    lines.extend("\t\t" + x for x in before)
    if s.timeout:
        lines.append(f"\t\ttimeout {s.timeout}")
    lines.extend("\t\t" + x for x in after)
    if s.comment is not None:
        lines.append('\t\tcomment "' + s.comment.replace('"', '\\"') + '"')
    if s.elements:
        lines.append("\t\t" + elements_text(s, stateless))
    lines.append("\t}")
    return lines


def _object_lines(o: NftObject, stateless: bool, handles: bool) -> list[str]:
    lines = [f"\t{o.kind} {quote_name(o.name)} {{{_handle(o.handle, handles)}"]
    for b in o.body:
        if stateless and o.kind == "counter" and b.startswith("packets "):
            continue
        if stateless and o.kind == "quota":
            b = re.sub(r" used \d+ \w+$", "", b)
        lines.append("\t\t" + b)
    lines.append("\t}")
    return lines


def _chain_lines(c: NftChain, stateless: bool, handles: bool, portable: bool = False) -> list[str]:
    lines = [f"\tchain {quote_name(c.name)} {{{_handle(c.handle, handles)}"]
    if c.comment is not None:
        lines.append('\t\tcomment "' + c.comment.replace('"', '\\"') + '"')
    if c.hook:
        dev = ""
        if c.device:
            dev = (f"devices = {{ {c.device} }} " if "," in c.device
                   else f'device "{c.device}" ')
        prio = c.priority_text
        if portable and c.priority is not None or prio is None:
            prio = priority_text(c.priority or 0, c.family, c.hook)
        lines.append(f"\t\ttype {c.type} hook {c.hook} {dev}priority {prio}; policy {c.policy or 'accept'};")
    for r in c.rules:
        text = stateless_text(r.text) if stateless else r.text
        lines.append("\t\t" + text + _handle(r.handle, handles))
    lines.append("\t}")
    return lines


def print_table(t: NftTable, stateless: bool = False, handles: bool = False, portable: bool = False) -> str:
    """One ``table … { … }`` block (``portable``: chain priorities named only where nft 1.0.6
    accepts the name for that hook, e.g. ``-100`` rather than ``dstnat`` at hook output)."""
    out = [f"table {t.family} {quote_name(t.name)} {{{_handle(t.handle, handles)}"]
    delim = ""
    if t.flags:
        out.append("\tflags " + ",".join(t.flags))
        delim = "\n"
    if t.comment is not None:
        out.append('\tcomment "' + t.comment.replace('"', '\\"') + '"')
    blocks: list[list[str]] = []
    blocks.extend(_object_lines(o, stateless, handles) for o in t.objects)
    blocks.extend(_set_lines(s, stateless, handles) for s in t.sets.values())
    for f in t.flowtables.values():
        fl = [f"\tflowtable {quote_name(f.name)} {{{_handle(f.handle, handles)}"]
        if f.hook:
            fl.append(f"\t\thook {f.hook} priority {f.priority_text}")
        if f.devices:
            fl.append("\t\tdevices = { " + ", ".join(f.devices) + " }")
        fl.extend("\t\t" + x for x in f.extra)
        fl.append("\t}")
        blocks.append(fl)
    blocks.extend(_chain_lines(c, stateless, handles, portable) for c in t.chains.values())
    text = "\n".join(out) + "\n"
    for b in blocks:
        text += delim + "\n".join(b) + "\n"
        delim = "\n"
    return text + "}\n"


def print_ruleset(rs: NftRuleset, stateless: bool = False, handles: bool = False, portable: bool = False) -> str:
    """The whole ruleset as ``nft list ruleset`` prints it (``-s`` / ``-a`` with the flags;
    ``portable`` for ``nft -f`` of nft 1.0.6, see :func:`print_table`)."""
    return "".join(print_table(t, stateless, handles, portable) for t in rs.tables.values())
