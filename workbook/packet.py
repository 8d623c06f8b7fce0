"""A packet to trace, and the Trace that says where it went (the shape of ``nfwb trace --json``)."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Packet", "Step", "Branch", "Trace"]


@dataclass(frozen=True, slots=True)
class Packet:
    """The first packet of a connection.

    ``from_node``: generated on the node (OUTPUT path); otherwise it arrives on ``in_iface``
    (PREROUTING path).

    >>> Packet("10.0.0.2", "10.100.0.10", "udp", dport=53).to_json()["dport"]
    53
    """

    src: str
    dst: str
    proto: str = "tcp"
    sport: int | None = 40000
    dport: int | None = None
    in_iface: str | None = "eth0"
    from_node: bool = False
    mark: int = 0
    ctstate: str = "NEW"
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    out_iface: str | None = None  # for -o matches; None: not known
    # -- ext-header -- header fields on the wire; None: not given (a match on it is assumed)
    ttl: int | None = None  # IPv4 TTL / IPv6 hop limit as sent
    tos: int | None = None  # the TOS / traffic class byte (DSCP << 2 | ECN)
    length: int | None = None  # layer-3 length (IPv4 total length)
    mss: int | None = None  # the MSS option of a TCP SYN
    src_mac: str | None = None  # the Ethernet source address of an arriving packet

    def __post_init__(self) -> None:
        """Refuse nonsense: addresses of two families, ports outside 0-65535.

        >>> Packet("10.0.0.2", "fd00::1", "tcp", dport=80)
        Traceback (most recent call last):
        ...
        workbook.model.InputError: packet 10.0.0.2 -> fd00::1: source and destination are of different address families
        >>> Packet("10.0.0.2", "10.0.0.1", "tcp", dport=65536)
        Traceback (most recent call last):
        ...
        workbook.model.InputError: packet dport 65536: not a port number 0-65535
        """
        import ipaddress

        from .model import InputError
        try:
            families = {ipaddress.ip_address(self.src).version, ipaddress.ip_address(self.dst).version}
        except ValueError:
            families = set()  # not addresses: the tracer says which one
        if len(families) > 1:
            raise InputError(f"packet {self.src} -> {self.dst}: source and destination are of different "
                             "address families")
        for name in ("sport", "dport"):
            v = getattr(self, name)
            if v is not None and (type(v) is not int or not 0 <= v <= 65535):
                raise InputError(f"packet {name} {str(v)[:20]}: not a port number 0-65535")
        for name, top in (("ttl", 255), ("tos", 255), ("length", 65535), ("mss", 65535)):  # -- ext-header --
            v = getattr(self, name)
            if v is not None and (type(v) is not int or not 0 <= v <= top):
                raise InputError(f"packet {name} {str(v)[:20]}: not a number 0-{top}")
        if self.src_mac is not None and not _MAC.fullmatch(str(self.src_mac)):
            raise InputError(f"packet src_mac {str(self.src_mac)[:20]!r}: not a MAC address like 02:00:00:00:00:01")

    def to_json(self) -> dict[str, Any]:
        return {"src": self.src, "dst": self.dst, "proto": self.proto, "sport": self.sport,
                "dport": self.dport, "in_iface": None if self.from_node else self.in_iface,
                "from_node": self.from_node,
                **{k: getattr(self, k) for k in _HEADER if getattr(self, k) is not None}}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Packet":
        return cls(d["src"], d["dst"], d.get("proto", "tcp"), d.get("sport"), d.get("dport"),
                   d.get("in_iface"), bool(d.get("from_node", False)), **{k: d[k] for k in _HEADER if k in d})


_MAC = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}")
#: the header fields of a Packet (-- ext-header --), in its JSON only when given
_HEADER = ("ttl", "tos", "length", "mss", "src_mac")


@dataclass(slots=True)
class Step:
    """One rule evaluated (or a chain's policy/fall-through), in the order the packet met it."""

    hook: str
    table: str
    chain: str
    position: int | None
    spec: str | None
    matched: bool
    action: str | None
    why: str | None = None
    assumed: bool = False
    #: native nftables steps only: the table's family (``ip``, ``inet``…) and the rule's handle
    family: str | None = None
    handle: int | None = None

    def to_json(self) -> dict[str, Any]:
        d = {"hook": self.hook, "table": self.table, "chain": self.chain, "position": self.position,
             "spec": self.spec, "matched": self.matched, "action": self.action}
        if self.family is not None:
            d["family"] = self.family
            if self.handle is not None:
                d["handle"] = self.handle
        if not self.matched and self.why is not None:
            d["why"] = self.why
        if self.assumed:
            d["assumed"] = True
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Step":
        return cls(d["hook"], d["table"], d["chain"], d.get("position"), d.get("spec"),
                   bool(d.get("matched")), d.get("action"), d.get("why"), bool(d.get("assumed", False)),
                   d.get("family"), d.get("handle"))


@dataclass(slots=True)
class Branch:
    """One possible path (``-m statistic`` splits a trace into branches whose probabilities add to 1)."""

    probability: float
    verdict: str
    steps: list[Step] = field(default_factory=list)
    dnat: str | None = None
    snat: str | None = None
    masquerade: bool = False
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"probability": self.probability, "verdict": self.verdict, "dnat": self.dnat,
                "snat": self.snat, "masquerade": self.masquerade,
                "steps": [s.to_json() for s in self.steps]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Branch":
        return cls(float(d["probability"]), d["verdict"], [Step.from_json(s) for s in d.get("steps", [])],
                   d.get("dnat"), d.get("snat"), bool(d.get("masquerade", False)))

    def matched_path(self) -> list[tuple[str, str, int | None, str | None]]:
        """(table, chain, position, action) of every matched rule or policy: what the kernel's TRACE shows.

        The implicit return at the end of a user chain (a step with no position and action
        ``RETURN``) is left out: nf_tables' trace (Linux 6.x, ``xtables-monitor --trace``) has
        no event for it (checked in the lab), while an explicit ``-j RETURN`` rule is kept.
        """
        return [(s.table, s.chain, s.position, s.action) for s in self.steps
                if s.matched and not (s.position is None and s.action == "RETURN")]


@dataclass(slots=True)
class Trace:
    """Where a packet goes: the packet, and its branches (one unless a random split happened)."""

    packet: Packet
    branches: list[Branch] = field(default_factory=list)
    source: str = "simulator"  # or "kernel"
    notes: list[str] = field(default_factory=list)

    @property
    def assumed(self) -> bool:
        """True when some step rests on an assumption (an option the tracer could not judge)."""
        return any(s.assumed for b in self.branches for s in b.steps)

    @property
    def verdicts(self) -> dict[str, float]:
        """Verdict → total probability, e.g. ``{"ACCEPT": 1.0}``."""
        out: dict[str, float] = {}
        for b in self.branches:
            out[b.verdict] = out.get(b.verdict, 0.0) + b.probability
        return out

    @property
    def destinations(self) -> dict[str | None, float]:
        """DNAT destination (``"ip:port"`` or None) → probability."""
        out: dict[str | None, float] = {}
        for b in self.branches:
            out[b.dnat] = out.get(b.dnat, 0.0) + b.probability
        return out

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"packet": self.packet.to_json(), "branches": [b.to_json() for b in self.branches]}
        if self.assumed:
            d["assumed"] = True
        if self.notes:
            d["notes"] = list(self.notes)
        return d

    def to_json_text(self) -> str:
        return json.dumps(self.to_json(), indent=1)

    @classmethod
    def from_json(cls, d: dict[str, Any], source: str = "simulator") -> "Trace":
        return cls(Packet.from_json(d["packet"]), [Branch.from_json(b) for b in d["branches"]], source,
                   list(d.get("notes", [])))

    @property
    def steps(self):
        """A pandas frame of every step of every branch (columns: branch, probability, hook, ...)."""
        import pandas as pd
        rows = []
        for i, b in enumerate(self.branches):
            for s in b.steps:
                row: dict[str, Any] = {"branch": i, "probability": b.probability}
                row.update(s.to_json())
                row.setdefault("why", None)
                row.setdefault("assumed", False)
                rows.append(row)
        cols = ["branch", "probability", "hook", "table", "chain", "position", "spec", "matched", "action", "why",
                "assumed"]
        if any(s.family is not None for b in self.branches for s in b.steps):
            cols[3:3] = ["family"]  # native nftables steps: the table's family, and the rule's handle
            cols.append("handle")
        return pd.DataFrame(rows, columns=cols)

    def __repr__(self) -> str:
        v = ", ".join(f"{k} {p:.0%}" for k, p in self.verdicts.items())
        return f"<Trace {self.packet.proto} {self.packet.src} -> {self.packet.dst}:{self.packet.dport} [{v}] {len(self.branches)} branch(es)>"

    def _repr_html_(self) -> str:
        p = self.packet
        head = (f"<b>Trace</b> ({html.escape(self.source)}) {html.escape(p.proto)} "
                f"{html.escape(p.src)}:{p.sport} → {html.escape(p.dst)}:{p.dport} "
                f"{'from the node' if p.from_node else 'in on ' + html.escape(str(p.in_iface))}")
        parts = [f"<div>{head}"]
        for i, b in enumerate(self.branches):
            rows = "".join(
                f"<tr style='opacity:{1 if s.matched else 0.55}'><td>{html.escape(s.hook)}</td><td>{html.escape(s.table)}</td>"
                f"<td>{html.escape(s.chain)}</td><td>{'' if s.position is None else s.position}</td>"
                f"<td>{'✔' if s.matched else '✘'}</td><td>{html.escape(s.action or '')}</td>"
                f"<td><code>{html.escape(s.spec or '')}</code></td><td>{html.escape(s.why or '')}{' (assumed)' if s.assumed else ''}</td></tr>"
                for s in b.steps)
            nat = f" DNAT→{html.escape(b.dnat)}" if b.dnat else ""
            nat += " MASQUERADE" if b.masquerade else ""
            nat += f" SNAT→{html.escape(b.snat)}" if b.snat else ""
            parts.append(f"<details {'open' if i == 0 else ''}><summary>branch {i}: p={b.probability:.4g} "
                         f"<b>{html.escape(b.verdict)}</b>{nat}</summary><table><thead><tr><th>hook</th><th>table</th>"
                         f"<th>chain</th><th>#</th><th></th><th>action</th><th>rule</th><th>why</th></tr></thead>"
                         f"<tbody>{rows}</tbody></table></details>")
        if self.notes:
            items = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
            parts.append(f"<details><summary>{len(self.notes)} note(s)"
                         f"{' — some steps rest on assumptions' if self.assumed else ''}</summary><ul>{items}</ul></details>")
        parts.append("</div>")
        return "".join(parts)
