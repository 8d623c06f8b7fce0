"""Which rule was hit: a ``nft monitor trace`` or ``xtables-monitor --trace`` capture mapped onto a dump's rules (by handle, else by rule text), as a Trace."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from .diff_nft import comparable_rule_text as _norm
from .kernel_trace import NftPlaces, nft_events_to_trace, xtables_events_to_trace
from .lab import MonitorEvent
from .model import InputError, Ruleset
from .nft.lab import NftEvent
from .packet import Packet, Trace
from .parse.save import split_lines

__all__ = ["trace_from_capture", "capture_format", "capture_ids"]

#: A capture larger than this is refused (a trace of one packet is a few kB).
MAX_CAPTURE = 64 * 1024 * 1024

_NFT_LINE = re.compile(r"^trace id (\S+) ")
_XT_LINE = re.compile(r"^\s*(?:PACKET|TRACE):\s+\d+\s+([0-9a-f]+)\b")
_XT_FIELD = re.compile(r"\b([A-Z]+)=(\S*)")
_TCP_FLAGS = {"SYN", "ACK", "FIN", "RST", "PSH", "URG"}


def capture_format(text: str) -> str:
    """``"nft"`` for ``nft monitor trace`` output, ``"xtables"`` for ``xtables-monitor --trace``.

    >>> capture_format('trace id 1a2b ip kube-proxy nat-prerouting rule jump services (verdict jump services)')
    'nft'
    >>> capture_format(' TRACE: 2 fc475095 nat:PREROUTING:policy:ACCEPT ')
    'xtables'
    """
    for line in split_lines(text):
        if _NFT_LINE.match(line):
            return "nft"
        if _XT_LINE.match(line):
            return "xtables"
    raise InputError("capture: neither `nft monitor trace` nor `xtables-monitor --trace` output "
                     "(no 'trace id …' nor 'TRACE: …' line)")


def capture_ids(text: str) -> list[str]:
    """The trace ids (one per traced packet) in order of first appearance."""
    seen: dict[str, None] = {}
    for line in split_lines(text):
        m = _NFT_LINE.match(line) or _XT_LINE.match(line)
        if m:
            seen.setdefault(m.group(1), None)
    return list(seen)


def _nft_packet(line: str) -> Packet:
    """The Packet of an ``nft monitor trace`` ``packet:`` line (no ``iif``: sent by the node).

    >>> p = _nft_packet('trace id 1 ip t c packet: iif "eth0" ip saddr 10.0.0.2 ip daddr 10.96.0.10 udp sport 40000 udp dport 53')
    >>> (p.src, p.dst, p.proto, p.sport, p.dport, p.in_iface, p.from_node)
    ('10.0.0.2', '10.96.0.10', 'udp', 40000, 53, 'eth0', False)
    >>> _nft_packet('trace id 1 ip t c packet: iif 4 ip saddr 10.0.0.2 ip daddr 10.0.0.9 tcp sport 1 tcp dport 80').in_iface
    'ifindex 4'
    >>> _nft_packet('trace id 1 ip t c packet: oif "eth0" ip saddr 10.0.0.1 ip daddr 10.0.0.9 tcp sport 1 tcp dport 80').from_node
    True
    """
    def get(pattern: str) -> str | None:
        m = re.search(pattern, line)
        return m.group(1) if m else None
    src, dst = get(r"\bip6? saddr (\S+)"), get(r"\bip6? daddr (\S+)")
    if not src or not dst:
        raise InputError("capture: the packet line names no ip saddr/daddr")
    proto = get(r"\b(tcp|udp|sctp) sport ") or ("icmp" if re.search(r"\bicmp type ", line) else None)
    proto = proto or get(r"\bip protocol (\S+)") or "tcp"
    sport = get(rf"\b{proto} sport (\d+)")
    dport = get(rf"\b{proto} dport (\d+)")
    # nft names the interface, or prints its index when it did not know the name when it started
    m = re.search(r'\biif (?:"([^"]*)"|(\d+))', line)
    iif = (m.group(1) or f"ifindex {m.group(2)}") if m else None
    arrived = m is not None
    return Packet(src, dst, proto, int(sport) if sport else None, int(dport) if dport else None,
                  iif or None, not arrived)


def _xt_packet(line: str) -> Packet:
    """The Packet of an ``xtables-monitor`` ``PACKET:`` line. It prints no protocol field: TCP flags
    say tcp, ports without flags udp, ``TYPE=`` icmp.

    >>> p = _xt_packet("PACKET: 2 c8 IN=eni5 MACPROTO=0800 SRC=192.168.3.98 DST=10.100.0.10 LEN=32 TTL=64 SPORT=40000 DPORT=53 ")
    >>> (p.src, p.dst, p.proto, p.sport, p.dport, p.in_iface, p.from_node)
    ('192.168.3.98', '10.100.0.10', 'udp', 40000, 53, 'eni5', False)
    >>> _xt_packet("PACKET: 2 c8 OUT=eth0 SRC=10.0.0.1 DST=10.0.0.9 LEN=60 SPORT=1 DPORT=80 SYN ").proto
    'tcp'
    """
    fields = dict(_XT_FIELD.findall(line))
    words = set(line.split())
    if "SRC" not in fields or "DST" not in fields:
        raise InputError("capture: the PACKET line names no SRC/DST")
    if words & _TCP_FLAGS:
        proto = "tcp"
    elif "SPORT" in fields:
        proto = "udp"
    else:
        proto = "icmp"
    sport = int(fields["SPORT"]) if fields.get("SPORT", "").isdigit() else None
    dport = int(fields["DPORT"]) if fields.get("DPORT", "").isdigit() else None
    iif = fields.get("IN") or None
    return Packet(fields["SRC"], fields["DST"], proto, sport, dport, iif, iif is None)


@dataclass
class _Mapping:
    """How the capture's rule events were found in the dump (reported in the Trace's notes)."""

    by_handle: int = 0
    by_text: int = 0
    missing: int = 0

    def notes(self) -> list[str]:
        out = [f"capture mapped onto the dump: {self.by_handle} rule(s) by handle, {self.by_text} by rule text"]
        if self.missing:
            out.append(f"{self.missing} rule event(s) of the capture match no rule of the dump (a different "
                       "ruleset, or a rule added to switch tracing on): shown with the capture's text")
        return out


def _nft_tables(nft) -> dict:
    return dict(nft.tables) if nft is not None else {}


def _in_chain(chain, ev, mapping: _Mapping) -> int | None:
    """Position of the event's rule in an nft chain: by handle, else by text."""
    if chain is None:
        mapping.missing += 1
        return None
    want = _norm(ev.text)
    if ev.handle is not None:
        for r in chain.rules:
            # a handle of another load of the rules names another rule: the text must agree too
            if r.handle == ev.handle and (not want or _norm(r.text) == want):
                mapping.by_handle += 1
                return r.position
    if want:
        for r in chain.rules:
            if _norm(r.text) == want:
                mapping.by_text += 1
                return r.position
    mapping.missing += 1
    return None


def _same_rule(rs: Ruleset, ev: MonitorEvent, position: int) -> bool:
    """Is the iptables rule at ``position`` the one the event prints (when it prints one)?"""
    try:
        rule = rs.chain(ev.table, ev.chain).rules[position - 1]
    except (KeyError, IndexError):
        return False
    return not ev.text or _norm(rule.spec) == _norm(ev.text)


def _rule_in_view(ruleset: Ruleset, table: str, chain: str, text: str | None, mapping: _Mapping) -> tuple[str, int] | None:
    """An iptables rule by its ``-A CHAIN …`` text."""
    t = ruleset.tables.get(table)
    c = t.chains.get(chain) if t is not None else None
    want = _norm(text)
    if c is not None and want:
        for i, r in enumerate(c.rules, 1):
            if _norm(r.spec) == want:
                mapping.by_text += 1
                return chain, i
    return None


def trace_from_capture(capture: str, ruleset: Ruleset | None = None, nft=None, *,
                       trace_id: str | None = None) -> Trace:
    """Map one traced packet of ``capture`` onto the dump's rules: ``ruleset`` (iptables-save) and
    ``nft`` (its :class:`~workbook.nft.model.NftRuleset`). A rule is found by its handle when the
    dump's nft listing has handles (``nft -a``), else by its text. ``trace_id``: which packet
    (default: the first one in the capture).
    """
    if len(capture) > MAX_CAPTURE:
        raise InputError(f"capture: larger than {MAX_CAPTURE} bytes")
    fmt = capture_format(capture)
    ids = capture_ids(capture)
    tid = trace_id or ids[0]
    if tid not in ids:
        raise InputError(f"capture: no trace id {tid} (has: {', '.join(ids[:10])})")
    rs = ruleset if ruleset is not None else Ruleset(source="<none>")
    notes = [f"the capture holds {len(ids)} traced packets; this is trace id {tid}"] if len(ids) > 1 else []
    lines = [l for l in split_lines(capture) if (m := _NFT_LINE.match(l) or _XT_LINE.match(l)) and m.group(1) == tid]
    mapping = _Mapping()
    if fmt == "nft":
        trace = _from_nft(lines, rs, nft, mapping, notes)
    else:
        trace = _from_xtables(lines, rs, nft, mapping, notes)
    trace.branches[0].notes[len(notes):len(notes)] = mapping.notes()
    return trace


def _from_nft(lines: list[str], rs: Ruleset, nft, mapping: _Mapping, notes: list[str]) -> Trace:
    events = [e for e in (NftEvent.parse(l) for l in lines) if e is not None]
    first = next((l for l in lines if " packet: " in l), None)
    if first is None:
        raise InputError("capture: the trace has no 'packet:' line (the packet's addresses are unknown)")
    packet = _nft_packet(first)
    tables = _nft_tables(nft)
    switches = {k for k, t in tables.items() if _tracing_switch(t)}
    native = {k for k, t in tables.items()
              if not (t.iptables_nft and k[0] == "ip" and k[1] in rs.tables) and k not in switches}
    if switches:
        notes.append("left out: " + ", ".join(f"table {f} {n}" for f, n in sorted(switches)) +
                     " (its rules only switch tracing on: meta nftrace set 1)")
    hooks = {(f, n, c.name): c.hook.upper() for (f, n), t in tables.items() for c in t.chains.values() if c.hook}

    def locate_native(ev) -> int | None:
        t = tables.get((ev.family, ev.table))
        return _in_chain(t.chains.get(ev.chain) if t else None, ev, mapping)

    def locate_iptables(ev) -> tuple[str, int] | None:
        # one nft rule per iptables rule, in order: the nft listing's position is the iptables position
        t = tables.get((ev.family, ev.table))
        pos = _in_chain(t.chains.get(ev.chain) if t else None, ev, mapping) if t is not None else None
        if pos is None:
            if t is None:
                mapping.missing += 1
            return None
        return ev.chain, pos

    def visible(table: str, chain: str) -> bool:
        return chain in rs.tables[table].chains

    places = NftPlaces(hooks=hooks, native=native, locate_native=locate_native, locate_iptables=locate_iptables,
                       visible=visible, keep_unknown=True)
    ended = _last_hook_nft(events, hooks, rs)
    return nft_events_to_trace(packet, events, rs, places, complete=ended, notes=notes)


def _tracing_switch(table) -> bool:
    """A table that only switches tracing on (every rule sets ``meta nftrace set 1``; other chains empty)."""
    rules = [r for c in table.chains.values() for r in c.rules]
    return bool(rules) and all("nftrace set 1" in r.text for r in rules)


def _last_hook_nft(events: Iterable[NftEvent], hooks: dict, rs: Ruleset) -> bool:
    from .model import BUILTIN_CHAINS
    last = None
    for ev in events:
        last = hooks.get((ev.family, ev.table, ev.chain)) or (ev.chain if ev.chain in BUILTIN_CHAINS.get(ev.table, ())
                                                               else last)
    return last in ("INPUT", "POSTROUTING")


def _from_xtables(lines: list[str], rs: Ruleset, nft, mapping: _Mapping, notes: list[str]) -> Trace:
    events = [e for e in (MonitorEvent.parse(l) for l in lines) if e is not None]
    first = next((l for l in lines if l.lstrip().startswith("PACKET:")), None)
    if first is None:
        raise InputError("capture: the trace has no PACKET line (the packet's addresses are unknown)")
    packet = _xt_packet(first)
    tables = _nft_tables(nft)

    def locate(ev: MonitorEvent) -> tuple[str, int] | None:
        t = tables.get(("ip", ev.table))
        chain = t.chains.get(ev.chain) if t is not None else None
        if chain is not None and ev.handle is not None:
            for r in chain.rules:
                if r.handle == ev.handle and _same_rule(rs, ev, r.position):
                    mapping.by_handle += 1
                    return ev.chain, r.position
        found = _rule_in_view(rs, ev.table, ev.chain, ev.text, mapping)
        if found is None and not (ev.table == "raw" and (ev.text or "").endswith("-j TRACE")):
            mapping.missing += 1
        return found

    def visible(table: str, chain: str) -> bool:
        t = rs.tables.get(table)
        return t is not None and chain in t.chains

    from .netfilter import HOOKS
    last = next((e.chain for e in reversed(events) if e.chain in HOOKS), None)
    return xtables_events_to_trace(packet, events, rs, locate, visible, complete=last in ("INPUT", "POSTROUTING"),
                                   notes=notes)
