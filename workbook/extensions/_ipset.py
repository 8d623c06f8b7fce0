"""The ipset lookup ``-m set`` and ``-j SET`` share (``ip_set_test`` / ``ip_set_add``): a
packet's key in a set's dimensions, the member the kernel finds for it, the entry SET adds."""

from __future__ import annotations

from ..trace.state import State, set_entry

__all__ = ["split_flags", "find_member", "packet_entry", "key_text", "UNKNOWN_KIND"]

#: what :func:`find_member` returns when a member has a dimension the tracer cannot compare
#: (an interface name, a MAC address, a mark)
UNKNOWN_KIND = ("unknown",)


def split_flags(args: tuple[str, ...]) -> tuple[str, list[str]]:
    """``(set name, ["src", "dst", ...])`` of ``--match-set NAME src,dst`` (also ``--add-set``)."""
    name = args[0] if args else ""
    dirs = args[1].split(",") if len(args) > 1 else ["src"]
    return name, dirs


def _dims(entry: tuple) -> int:
    return len(entry) - (1 if entry and entry[-1] == ("nomatch",) else 0)


def _prefix(entry: tuple) -> int:
    comp = entry[0]
    return bin(comp[1][2]).count("1") if comp[0] == "net" else 0


def find_member(members: list[tuple], dirs: list[str], s: State) -> tuple | None:
    """The member holding the packet's key (the most specific one, as ``hash:net`` looks its
    prefixes up longest first), None when there is none, or :data:`UNKNOWN_KIND`.

    A member with more dimensions than the rule has flags is never found (``ip_set_test``:
    ``opt->dim < set->type->dimension``); flags beyond the member's dimensions are ignored.

    >>> from workbook.addr import parse_ip
    >>> class S: pass
    >>> s = S(); s.src_i = parse_ip("10.0.1.5"); s.dst_i = parse_ip("10.9.9.9"); s.sport, s.dport, s.proto = 4000, 80, "tcp"
    >>> m = [set_entry("10.0.0.0/16"), set_entry("10.0.1.0/24 nomatch")]
    >>> find_member(m, ["src"], s) == set_entry("10.0.1.0/24 nomatch"), find_member(m, ["dst"], s)
    (True, None)
    """
    best = None
    for entry in members:
        n = _dims(entry)
        if n > len(dirs):
            continue
        for i in range(n):
            comp, d = entry[i], dirs[i]
            kind = comp[0]
            if kind == "net":
                v, base, mask = comp[1]
                pv, px = s.src_i if d == "src" else s.dst_i
                if not (pv == v and (px & mask) == base):
                    break
            elif kind == "port":
                p = s.sport if d == "src" else s.dport
                if p is None or not comp[2] <= p <= comp[3] or comp[1] and comp[1].lower() != s.proto:
                    break
            else:
                return UNKNOWN_KIND
        else:
            if best is None or _prefix(entry) > _prefix(best):
                best = entry
    return best


def packet_entry(dirs: list[str], s: State, shape: tuple | None) -> tuple:
    """The entry ``-j SET --add-set NAME dirs`` adds (or deletes) for this packet: the address
    as a host entry, later dimensions as ports (or addresses, when the set's members are
    ``ip,port,ip``/``net,net``: ``shape`` is one member of the set, None when none is known)."""
    parts = []
    for i, d in enumerate(dirs):
        kind = shape[i][0] if shape is not None and i < _dims(shape) else ("net" if i == 0 else "port")
        if kind == "net":
            parts.append(s.src if d == "src" else s.dst)
        else:
            p = s.sport if d == "src" else s.dport
            parts.append(f"{s.proto}:{p}" if p is not None else "0")
        if shape is not None and i + 1 >= _dims(shape):
            break
    return set_entry(",".join(parts))


def key_text(dirs: list[str], s: State) -> str:
    """The packet's key as ipset prints it (``10.0.0.1,80``)."""
    parts = []
    for i, d in enumerate(dirs):
        if i == 0:
            parts.append(s.src if d == "src" else s.dst)
        else:
            parts.append(str(s.sport if d == "src" else s.dport))
    return ",".join(parts)
