"""Parse ``conntrack -L [-o extended]`` and ``/proc/net/nf_conntrack`` into :class:`Conntrack`."""

from __future__ import annotations

import html
import ipaddress
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

from ..gc_pause import paused_gc
from ..model import ParseError, Problem
from .save import check_text

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["FlowTuple", "ConntrackEntry", "Conntrack", "parse_conntrack", "CONNTRACK_COLUMNS",
           "looks_like_conntrack", "entries_frame"]

#: Columns of :attr:`Conntrack.frame`.
CONNTRACK_COLUMNS = ["family", "protocol", "state", "timeout", "orig_src", "orig_dst", "orig_sport",
                     "orig_dport", "reply_src", "reply_dst", "reply_sport", "reply_dport", "flags",
                     "mark", "zone", "dnat", "origin"]

# The flags conntrack prints between and after the tuples ("[UNREPLIED]", "[ASSURED]", …).
_FLAGS = {"UNREPLIED", "ASSURED", "OFFLOAD", "HW_OFFLOAD", "UNCONFIRMED", "DYING", "FIXED_TIMEOUT"}
_TCP_STATES = {"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK",
               "TIME_WAIT", "CLOSE", "SYN_SENT2", "LISTEN"}
_SCTP_STATES = {"CLOSED", "COOKIE_WAIT", "COOKIE_ECHOED", "ESTABLISHED", "SHUTDOWN_SENT",
                "SHUTDOWN_RECD", "SHUTDOWN_ACK_SENT", "HEARTBEAT_SENT", "HEARTBEAT_ACKED"}
_STATES = _TCP_STATES | _SCTP_STATES
_TUPLE_KEYS = ("src", "dst", "sport", "dport", "type", "code", "id")
_U32 = 2 ** 32 - 1


@dataclass(frozen=True, slots=True)
class FlowTuple:
    """One direction of a connection: ``src=10.0.0.1 dst=10.96.0.10 sport=40000 dport=53``."""

    src: str
    dst: str
    sport: int | None = None
    dport: int | None = None
    icmp: tuple[int, int, int] | None = None     # type, code, id

    def __str__(self) -> str:
        if self.sport is None:
            return f"{self.src} → {self.dst}"
        return f"{_hostport(self.src, self.sport)} → {_hostport(self.dst, self.dport)}"


@dataclass(frozen=True, slots=True)
class ConntrackEntry:
    """One tracked connection as ``conntrack -L`` prints it.

    ``original`` is the tuple the first packet had; ``reply`` the tuple the kernel expects back,
    so a DNAT shows as ``reply.src`` differing from ``original.dst``.
    """

    family: str
    protocol: str
    protonum: int
    timeout: int | None
    state: str | None
    original: FlowTuple
    reply: FlowTuple
    flags: tuple[str, ...] = ()
    mark: int | None = None
    zone: int | None = None
    line: int = 0

    @property
    def dnat(self) -> str | None:
        """Where the kernel sent the connection (``ip:port``) when it rewrote the destination."""
        if self.reply.src == self.original.dst and self.reply.sport == self.original.dport:
            return None
        return _hostport(self.reply.src, self.reply.sport)

    @property
    def unreplied(self) -> bool:
        return "UNREPLIED" in self.flags


@dataclass
class Conntrack:
    """A node's connection tracking table.

    >>> ct = parse_conntrack("udp      17 29 src=10.0.0.1 dst=10.96.0.10 sport=34195 dport=53 [UNREPLIED] "
    ...                      "src=10.0.0.5 dst=10.0.0.1 sport=53 dport=34195 mark=0 use=1\\n")
    >>> e = ct.entries[0]
    >>> e.protocol, e.timeout, e.original.dst, e.dnat, e.unreplied
    ('udp', 29, '10.96.0.10', '10.0.0.5:53', True)
    """

    entries: list[ConntrackEntry] = field(default_factory=list)
    source: str = "<text>"
    problems: list[Problem] = field(default_factory=list)
    #: ``conntrack -S`` per-CPU counters when the file holds them (the EKS collector's does).
    stats: list[dict[str, int]] = field(default_factory=list)
    #: ``conntrack -C`` (the kernel's count), when the file holds it.
    count: int | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[ConntrackEntry]:
        return iter(self.entries)

    @property
    def frame(self) -> "pd.DataFrame":
        """One row per entry (columns :data:`CONNTRACK_COLUMNS`)."""
        return entries_frame(self.entries, self.source)

    def _repr_html_(self) -> str:
        head = f"<p><b>conntrack</b> {html.escape(self.source)}: {len(self.entries)} entries</p>"
        return head + self.frame.head(50).to_html(index=False, na_rep="")


def entries_frame(es: list[ConntrackEntry], src: str) -> "pd.DataFrame":
    """Rows of :attr:`Conntrack.frame` for the entries ``es`` of a table read from ``src`` (same
    columns and types for any subset, so a check can build the frame of only the rows it shows)."""
    import pandas as pd
    df = pd.DataFrame({
        "family": [e.family for e in es], "protocol": [e.protocol for e in es],
        "state": [e.state for e in es], "timeout": [e.timeout for e in es],
        "orig_src": [e.original.src for e in es], "orig_dst": [e.original.dst for e in es],
        "orig_sport": [e.original.sport for e in es], "orig_dport": [e.original.dport for e in es],
        "reply_src": [e.reply.src for e in es], "reply_dst": [e.reply.dst for e in es],
        "reply_sport": [e.reply.sport for e in es], "reply_dport": [e.reply.dport for e in es],
        "flags": [" ".join(e.flags) for e in es], "mark": [e.mark for e in es], "zone": [e.zone for e in es],
        "dnat": [e.dnat for e in es], "origin": [f"{src}:{e.line}" for e in es]}, columns=CONNTRACK_COLUMNS)
    for col in ("timeout", "orig_sport", "orig_dport", "reply_sport", "reply_dport", "mark", "zone"):
        df[col] = df[col].astype("Int64")
    return df


def _hostport(ip: str, port: int | None) -> str:
    if port is None:
        return ip
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def looks_like_conntrack(text: str) -> bool:
    """True when the first meaningful line reads like a conntrack entry."""
    for line in text.split("\n", 20)[:20]:
        words = line.split()
        if not words or line.startswith("conntrack v"):
            continue
        if words[0] in ("ipv4", "ipv6"):
            words = words[2:]
        return len(words) >= 4 and words[1].isdigit() and any(w.startswith("src=") for w in words)
    return False


def parse_conntrack(text: str, source: str = "<text>", *, strict: bool = True) -> Conntrack:
    """Read ``conntrack -L``, ``conntrack -L -o extended`` or ``/proc/net/nf_conntrack`` text.

    conntrack's closing "N flow entries have been shown." line is ignored; the EKS log collector's
    ``*** Output of conntrack -S ***`` headers and ``cpu=N found=…`` counters are read into
    :attr:`Conntrack.stats`, a lone number (``conntrack -C``) into :attr:`Conntrack.count`. A line
    that is not an entry raises :class:`~workbook.model.ParseError` naming ``source:line`` (``strict=False``:
    kept in ``problems`` and skipped).
    """
    check_text(text, source)
    with paused_gc():
        return _read(text, source, strict)


def _read(text: str, source: str, strict: bool) -> Conntrack:
    out = Conntrack(source=source)
    entries, common = out.entries, _COMMON.fullmatch
    for n, line in enumerate(text.split("\n"), 1):
        m = common(line)                  # the usual line, as the kernel prints it: no stripping needed
        if m is not None:
            e = _common_entry(m, n)
            if e is not None:
                entries.append(e)
                continue
        stripped = line.strip()
        if not stripped or stripped.startswith(("conntrack v", "*** ")):
            continue
        try:
            if stripped.startswith("cpu="):
                out.stats.append(_stats(stripped))
            elif stripped.isdigit() and out.count is None and not out.entries:
                out.count = _int(stripped, "count")
            else:
                m = common(stripped)
                entries.append((m and _common_entry(m, n)) or _entry(stripped, n))
        except ValueError as e:
            if strict:
                raise ParseError(source, n, f"not a conntrack entry: {e}") from None
            out.problems.append(Problem(source, n, f"not a conntrack entry: {e}"))
    return out


def _int(word: str, what: str, limit: int = _U32) -> int:
    if not word.isdigit() or len(word) > 20 or int(word) > limit:
        raise ValueError(f"bad {what} {word[:40]!r}")
    return int(word)


def _stats(line: str) -> dict[str, int]:
    """``cpu=0 found=0 invalid=0 insert=0 …`` (conntrack -S)."""
    out: dict[str, int] = {}
    for word in line.split():
        key, eq, value = word.partition("=")
        if not eq:
            raise ValueError(f"unexpected word {word[:40]!r} in conntrack -S counters")
        out[key] = _int(value, key, 2 ** 64 - 1)
    return out


_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])")


def _address(word: str) -> str:
    """The address in conntrack's (canonical) form; IPv4 by a pattern (ipaddress is ~20x slower on
    the 400,000 addresses of a 100k-entry table), IPv6 through ipaddress (it canonicalises)."""
    if _IPV4.fullmatch(word):
        return word
    try:
        return str(ipaddress.ip_address(word))
    except ValueError:
        raise ValueError(f"bad address {word[:60]!r}") from None


def _entry(line: str, n: int) -> ConntrackEntry:
    words = line.split()
    family = "ipv4"
    if words[0] in ("ipv4", "ipv6"):
        family = words[0]
        words = words[2:]
    if len(words) < 3:
        raise ValueError("too few fields")
    proto, protonum = words[0], _int(words[1], "protocol number", 255)
    i = 2
    timeout = None
    if i < len(words) and words[i].isdigit():
        timeout = _int(words[i], "timeout")
        i += 1
    state = None
    if i < len(words) and "=" not in words[i] and not words[i].startswith("["):
        if words[i] not in _STATES:
            raise ValueError(f"unknown state {words[i][:40]!r}")
        state = words[i]
        i += 1
    tuples: list[dict[str, str]] = [{}]
    flags: list[str] = []
    extra: dict[str, str] = {}
    for w in words[i:]:
        if w.startswith("[") and w.endswith("]"):
            if w[1:-1] not in _FLAGS:
                raise ValueError(f"unknown flag {w[:40]!r}")
            flags.append(w[1:-1])
            continue
        key, eq, value = w.partition("=")
        if not eq:
            raise ValueError(f"unexpected word {w[:40]!r}")
        if key in _TUPLE_KEYS:
            if key in tuples[-1]:
                if len(tuples) == 2:
                    raise ValueError(f"a third {key}=")
                tuples.append({})
            tuples[-1][key] = value
        else:
            extra[key] = value
    if len(tuples) != 2 or "src" not in tuples[0] or "src" not in tuples[1]:
        raise ValueError("expected an original and a reply tuple")
    original, reply = (_tuple(t) for t in tuples)
    if ":" in original.src:
        family = "ipv6"
    return ConntrackEntry(family, proto, protonum, timeout, state, original, reply, tuple(flags),
                          _int(extra["mark"], "mark") if "mark" in extra else None,
                          _int(extra["zone"], "zone", 65535) if "zone" in extra else None, n)


_N = "[0-9]"
_SP = "[ \t]+"
_IP4 = _IPV4.pattern
#: The line almost every entry is: IPv4 tcp/udp, ``conntrack -L [-o extended]`` or /proc/net/nf_conntrack.
#: What it accepts :func:`_entry` reads the same way (tests/conntrack/test_fast_parse.py); any other line,
#: or one whose numbers are out of range, goes to :func:`_entry`.
_COMMON = re.compile(
    f"(?:ipv4{_SP}2{_SP})?(tcp|udp){_SP}(6|17){_SP}({_N}{{1,10}}){_SP}(?:([A-Z_2]+){_SP})?"
    f"src=({_IP4}){_SP}dst=({_IP4}){_SP}sport=({_N}{{1,5}}){_SP}dport=({_N}{{1,5}}){_SP}(\\[UNREPLIED\\]{_SP})?"
    f"src=({_IP4}){_SP}dst=({_IP4}){_SP}sport=({_N}{{1,5}}){_SP}dport=({_N}{{1,5}})((?:{_SP}\\[[A-Z_]+\\])*)"
    f"{_SP}mark=({_N}{{1,10}})(?:{_SP}zone=({_N}{{1,5}}))?{_SP}use={_N}{{1,10}}")


def _common_entry(m: re.Match, n: int) -> ConntrackEntry | None:
    """The entry of a line :data:`_COMMON` matched; None when a value is out of range (then
    :func:`_entry` says which)."""
    proto, protonum, timeout, state, s1, d1, sp1, dp1, unrep, s2, d2, sp2, dp2, more, mark, zone = m.groups()
    sp1, dp1, sp2, dp2, t, k = int(sp1), int(dp1), int(sp2), int(dp2), int(timeout), int(mark)
    if sp1 > 65535 or dp1 > 65535 or sp2 > 65535 or dp2 > 65535 or t > _U32 or k > _U32 \
            or (zone and int(zone) > 65535) or (state is not None and state not in _STATES):
        return None
    if more:
        flags = ["UNREPLIED"] if unrep else []
        for w in more.split():
            if w[1:-1] not in _FLAGS:
                return None
            flags.append(w[1:-1])
        fl = tuple(flags)
    else:
        fl = _UNREPLIED if unrep else ()
    return ConntrackEntry("ipv4", proto, 6 if protonum == "6" else 17, t, state, FlowTuple(s1, d1, sp1, dp1),
                          FlowTuple(s2, d2, sp2, dp2), fl, k, int(zone) if zone else None, n)


_UNREPLIED = ("UNREPLIED",)


def _tuple(t: dict[str, str]) -> FlowTuple:
    if "dst" not in t:
        raise ValueError("a tuple without dst=")
    sport = _int(t["sport"], "port", 65535) if "sport" in t else None
    dport = _int(t["dport"], "port", 65535) if "dport" in t else None
    icmp = None
    if "type" in t:
        icmp = (_int(t["type"], "icmp type", 255), _int(t.get("code", "0"), "icmp code", 255),
                _int(t.get("id", "0"), "icmp id", 65535))
    return FlowTuple(_address(t["src"]), _address(t["dst"]), sport, dport, icmp)
