"""Kernel lab for nftables: load an nft ruleset with ``nft -f``, trace one real packet with ``nft monitor trace``.

:class:`NftLab` is the kernel lab of :mod:`workbook.lab` (its namespaces, veths, packet sender
and conntrack reading) with nftables in place of iptables: the native ruleset is loaded with
``nft -f``; an iptables-save part (the iptables-nft tables of a mixed node) with
``iptables-nft-restore`` beside it. Tracing is switched on by a table of the lab's own,
``ip nfwb-trace``: base chains at priority -350 (before raw) at prerouting and output set
``meta nftrace set 1`` for the one flow traced, and empty base chains at priority 1000 at
input, forward and postrouting show how far the packet got. ``nft -a monitor trace`` is read
and turned into the same :class:`~workbook.packet.Trace` as the simulator's: native steps
carry ``family`` and ``handle``; steps of the iptables-nft tables are named as in iptables-save.
The kernel prints nothing for a rule that did not match nor for the end of a regular chain,
and shows ``reject`` as ``drop``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from ..kernel_trace import NftPlaces, nft_events_to_trace
from ..lab import Lab, _check_packet, _lab_addresses, _Monitor, _run
from ..model import InputError, Ruleset
from ..packet import Packet, Trace
from ..parse.save import split_lines

__all__ = ["NftLab", "nft_lab_trace", "NftEvent", "parse_nft_trace", "nft_listing_index", "NftIndex",
           "nft_trace_finished", "TRACE_TABLE"]

#: the lab's own table (never part of a trace)
TRACE_TABLE = "nfwb-trace"

_EVENT_RE = re.compile(r"^trace id (\S+) (\S+) (\S+) (\S+) (packet|rule|policy|unknown|return)\b:?\s?(.*)$")
_HANDLE_TAIL_RE = re.compile(r"\s*#\s*handle\s+(\d+)\s*")
_VERDICT_RE = re.compile(r"\s*\(verdict ([^)]*)\)\s*$")
_OIF_RE = re.compile(r'\boif "([^"]*)"')


@dataclass(frozen=True, slots=True)
class NftEvent:
    """One line of ``nft -a monitor trace``.

    >>> e = NftEvent.parse('trace id 4e637e59 ip kube-proxy nat-prerouting rule jump services # handle 45 (verdict jump services)')
    >>> (e.family, e.table, e.chain, e.kind, e.text, e.handle, e.verdict)
    ('ip', 'kube-proxy', 'nat-prerouting', 'rule', 'jump services', 45, 'jump services')
    >>> e = NftEvent.parse('trace id 4e637e59 ip kube-proxy filter-forward policy accept meta mark 0x00004000 ')
    >>> (e.kind, e.verdict)
    ('policy', 'accept')
    >>> NftEvent.parse('trace id 4e637e59 ip nfwb-trace post packet: iif "eth0" oif "sink" ip saddr 10.0.0.2').oif
    'sink'
    """

    trace_id: str
    family: str
    table: str
    chain: str
    kind: str  # packet | rule | policy | return
    text: str | None
    handle: int | None
    verdict: str
    oif: str | None = None

    @classmethod
    def parse(cls, line: str) -> "NftEvent | None":
        m = _EVENT_RE.match(line.rstrip("\n"))
        if not m:
            return None
        tid, fam, table, chain, kind, rest = m.groups()
        chain = chain.strip('"')
        table = table.strip('"')
        if kind == "packet":
            o = _OIF_RE.search(rest)
            return cls(tid, fam, table, chain, kind, None, None, "", o.group(1) if o else None)
        if kind == "policy":
            return cls(tid, fam, table, chain, kind, None, None, rest.split()[0] if rest.split() else "accept")
        verdict = ""
        v = _VERDICT_RE.search(rest)
        if v:
            verdict = v.group(1).strip()
            rest = rest[:v.start()]
        handle = None
        h = _HANDLE_TAIL_RE.search(rest)
        if h:
            handle = int(h.group(1))
            rest = rest[:h.start()] + rest[h.end():]
        return cls(tid, fam, table, chain, kind, rest.strip() or None, handle, verdict)


def parse_nft_trace(text: str | Iterable[str]) -> list[NftEvent]:
    """Every event of ``nft -a monitor trace`` output, in order (other lines skipped)."""
    lines = split_lines(text) if isinstance(text, str) else list(text)
    return [e for e in (NftEvent.parse(l) for l in lines) if e is not None]


def nft_trace_finished(lines: list[str], last_tables: object = None) -> bool:
    """Do these lines show the packet's last hook (the lab's input or postrouting witness chain, not
    towards lo), or a drop? (``last_tables`` is not needed: the witness chains come after every table.)

    >>> nft_trace_finished(['trace id 1 ip nfwb-trace seen-postrouting packet: oif "sink" ip saddr 10.0.0.2',
    ...                     'trace id 1 ip nfwb-trace seen-postrouting policy accept '])
    True
    >>> nft_trace_finished(['trace id 1 ip kube-proxy reject-chain rule reject # handle 9 (verdict drop)'])
    True
    >>> nft_trace_finished(['trace id 1 ip nfwb-trace seen-postrouting packet: oif "lo" ip saddr 10.0.0.2',
    ...                     'trace id 1 ip nfwb-trace seen-postrouting policy accept '])
    False
    """
    oif = None
    for ev in parse_nft_trace(lines):
        if ev.kind == "packet":
            oif = ev.oif
            continue
        if ev.verdict == "drop":
            return True
        if ev.table == TRACE_TABLE and ev.kind == "policy" and (ev.chain == "seen-input" or ev.chain == "seen-postrouting" and oif != "lo"):
            return True
    return False


@dataclass
class NftIndex:
    """What an ``nft -a list ruleset`` listing says about rules and base chains.

    ``rules``: (family, table, handle) → (chain, position, text); ``base``: (family, table,
    chain) → (HOOK, priority text, policy); ``tables``: (family, table) in order.
    """

    rules: dict[tuple[str, str, int], tuple[str, int, str]] = field(default_factory=dict)
    base: dict[tuple[str, str, str], tuple[str, str, str]] = field(default_factory=dict)
    tables: list[tuple[str, str]] = field(default_factory=list)


_TABLE_RE = re.compile(r"^table\s+(\S+)\s+(\S+)\s*\{")
_CHAIN_LINE_RE = re.compile(r"^\s*chain\s+(\S+|\"[^\"]*\")\s*\{")
_BASE_RE = re.compile(r"^\s*type\s+\S+\s+hook\s+(\S+)(?:\s+device\s+\S+)?\s+priority\s+([^;]+);(?:\s*policy\s+(\w+);)?")


def nft_listing_index(listing: str) -> NftIndex:
    """Rule positions by handle and base chains, from ``nft -a list ruleset`` (one rule per line).

    >>> ix = nft_listing_index('''table ip kube-proxy { # handle 5
    ... 	set s { # handle 3
    ... 		type ipv4_addr
    ... 		elements = { 10.0.0.1 }
    ... 	}
    ... 	chain nat-prerouting { # handle 1
    ... 		type nat hook prerouting priority dstnat; policy accept;
    ... 		jump services # handle 7
    ... 	}
    ... 	chain services { # handle 2
    ... 		ip daddr @s drop # handle 8
    ... 		ip daddr . meta l4proto . th dport vmap @service-ips # handle 9
    ... 	}
    ... }''')
    >>> ix.rules[("ip", "kube-proxy", 9)]
    ('services', 2, 'ip daddr . meta l4proto . th dport vmap @service-ips')
    >>> ix.base[("ip", "kube-proxy", "nat-prerouting")]
    ('PREROUTING', 'dstnat', 'accept')
    """
    ix = NftIndex()
    table: tuple[str, str] | None = None
    chain: str | None = None
    pos = 0
    depth = 0
    for line in split_lines(listing):
        stripped = line.strip()
        if depth == 0:
            m = _TABLE_RE.match(stripped)
            if m:
                table = (m.group(1), m.group(2).strip('"'))
                ix.tables.append(table)
                depth = 1
            continue
        if depth == 1:
            if stripped == "}":
                depth, table = 0, None
                continue
            m = _CHAIN_LINE_RE.match(line)
            if m:
                chain, pos, depth = m.group(1).strip('"'), 0, 2
                if stripped.endswith("}"):  # an empty chain on one line
                    chain, depth = None, 1
                continue
            if stripped.endswith("{") or re.search(r"\{\s*#\s*handle\s+\d+\s*$", stripped):
                depth = 2 + stripped.count("{") - 1 - stripped.count("}")
                chain = None
            continue
        # depth >= 2: inside a chain, set, map, flowtable…
        if chain is None:
            depth += stripped.count("{") - stripped.count("}")
            if depth < 2:
                depth = 1
            continue
        if stripped == "}":
            chain, depth = None, 1
            continue
        assert table is not None
        b = _BASE_RE.match(stripped)
        if b:
            ix.base[(table[0], table[1], chain)] = (b.group(1).upper(), b.group(2).strip(), b.group(3) or "accept")
            continue
        h = _HANDLE_TAIL_RE.search(stripped)
        if h and h.end() == len(stripped) and not stripped.startswith("comment "):
            pos += 1
            ix.rules[(table[0], table[1], int(h.group(1)))] = (chain, pos, stripped[:h.start()].strip())
    return ix


#: the hook each chain of the lab's table stands for
WITNESS_HOOKS = {"pre": "PREROUTING", "out": "OUTPUT", "probe": "OUTPUT", "seen-input": "INPUT",
                 "seen-forward": "FORWARD", "seen-postrouting": "POSTROUTING"}

#: the lab's table: trace switches at -350 (before raw) and witnesses at 1000 (after everything)
_TRACE_TABLE_TEXT = f"""table ip {TRACE_TABLE} {{
	chain probe {{ type filter hook output priority -351; policy accept; ip saddr 127.0.0.1 ip daddr 127.0.0.1 udp dport 9 meta nftrace set 1; }}
	chain pre {{ type filter hook prerouting priority -350; policy accept; }}
	chain out {{ type filter hook output priority -350; policy accept; }}
	chain seen-input {{ type filter hook input priority 1000; policy accept; }}
	chain seen-forward {{ type filter hook forward priority 1000; policy accept; }}
	chain seen-postrouting {{ type filter hook postrouting priority 1000; policy accept; }}
}}
"""


@dataclass(eq=False)
class NftLab(Lab):
    """A kernel lab holding a native nftables ruleset (``nft_text``), and optionally iptables-nft
    tables (``ruleset``, from iptables-save) beside it::

        with NftLab(Ruleset(), ["192.168.0.2"], nft_text=kube_proxy_nft(services)) as lab:
            trace = lab.trace(Packet("10.244.0.5", "10.96.0.10", "udp", 40000, 53))
    """

    nft_text: str = ""
    _index: NftIndex = field(default_factory=NftIndex, init=False, repr=False)
    _native: set = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.backend != "nft":
            raise InputError("lab: an nftables lab runs on the nft backend only")
        super().__post_init__()

    def _load(self) -> None:
        if self.ruleset.tables:
            super()._load()  # the iptables-nft tables, with the lab's conntrack switch and mangle witnesses
        before = set(nft_listing_index(self._ns(self.node, "nft", "list", "ruleset").stdout).tables)
        p = self._ns(self.node, "nft", "-f", "-", input=self.nft_text, check=False)
        if p.returncode != 0:
            msg = (p.stderr or p.stdout).strip().splitlines()
            raise InputError(f"lab: nft -f refused the ruleset: {' '.join(msg[:2])}")
        listed = self._ns(self.node, "nft", "-a", "list", "ruleset").stdout
        native = nft_listing_index(listed)
        self._native = set(native.tables) - before
        self._ns(self.node, "nft", "-f", "-", input=_TRACE_TABLE_TEXT)
        self._index = native

    def _start_monitor(self) -> _Monitor:
        return _Monitor(self.node, command=["nft", "-a", "monitor", "trace"], finished=nft_trace_finished)

    def _wait_monitor(self) -> None:
        assert self._monitor is not None
        self._probe_until_traced("nft monitor trace")   # the lab's own trace table traces the probe
        self._monitor.wait_quiet(self._monitor.mark(), quiet=0.1, timeout=1, need=0)

    def _trace_on(self, packet: Packet, chain: str) -> list[str]:
        where = "out" if chain == "OUTPUT" else "pre"
        match = ["ip", "saddr", packet.src, "ip", "daddr", packet.dst, "meta", "l4proto", packet.proto]
        if packet.proto in ("tcp", "udp", "sctp"):
            if packet.sport:
                match += ["th", "sport", str(packet.sport)]
            match += ["th", "dport", str(packet.dport)]
        self._ns(self.node, "nft", "add", "rule", "ip", TRACE_TABLE, where, *match, "meta", "nftrace", "set", "1")
        return [where]

    def _trace_off(self, armed: list[str]) -> None:
        self._ns(self.node, "nft", "flush", "chain", "ip", TRACE_TABLE, armed[0], check=False)

    def _events(self, lines: list[str]) -> list:
        return parse_nft_trace(lines)

    def _to_trace(self, packet: Packet, events: list, ct_dnat, trace_chain: str = "") -> Trace:
        ix = self._index
        places = NftPlaces(
            hooks={k: v[0] for k, v in ix.base.items()}, native=set(self._native),
            locate_native=lambda ev: (ix.rules.get((ev.family, ev.table, ev.handle)) or (None, None))[1]
            if ev.handle is not None else None,
            locate_iptables=lambda ev: self._handles.get((ev.table, ev.handle)) if ev.handle is not None else None,
            visible=self._visible, witness={TRACE_TABLE: WITNESS_HOOKS})
        return nft_events_to_trace(packet, events, self.ruleset, places, ct_dnat=ct_dnat)


def nft_lab_trace(nft_text: str, packet: Packet, node_ips: Iterable[str] | None = None, *,
                  iptables: Ruleset | str | None = None, timeout: float = 5.0, keep: bool = False,
                  sysctls: dict[str, str] | None = None) -> Trace:
    """Send ``packet`` through the nft ruleset ``nft_text`` (and iptables-nft tables ``iptables``)
    in the real kernel: the Trace of what it did. Root only; everything is deleted afterwards."""
    _check_packet(packet)
    ips = list(node_ips or ())
    rs = iptables if isinstance(iptables, Ruleset) else (Ruleset(source="<none>") if not iptables else None)
    if rs is None:
        from ..parse import parse
        rs = parse(str(iptables))
    in_ = packet.in_iface if (packet.in_iface and not packet.from_node) else "eth0"
    lab = NftLab(rs, tuple(ips), keep=keep, sysctls=dict(sysctls or {}), nft_text=nft_text,
                 out_iface=getattr(packet, "out_iface", None) or "nfwb-sink")
    try:
        lab.open(in_)
        return lab.trace(packet, timeout=timeout)
    finally:
        lab.close()
