"""Kernel lab: run one real packet through a ruleset loaded into throw-away network namespaces.

The kernel is the oracle: :func:`lab_trace` loads the rules with the real ``iptables-restore``
(iptables-nft, or iptables-legacy with ``backend="legacy"``) into a node namespace, inserts a
``-j TRACE`` rule that matches only the flow at the top of raw PREROUTING (or raw OUTPUT for a
packet from the node), sends one real packet, and turns the kernel's own trace
(``xtables-monitor --trace``; nfnetlink_log for legacy) into a :class:`~workbook.packet.Trace`
with ``source="kernel"`` and one branch. The kernel reports only what matched (rules and
policies), so every step has ``matched=True``; it shows no step for falling off the end of a
user chain. ``dnat`` comes from conntrack. Root only; nothing outside the lab's namespaces is
touched, and they are deleted afterwards (also on errors and Ctrl-C).

Stateful matches start clean for every packet: conntrack is flushed and ``-m recent`` lists are
emptied; ``-m limit``/``hashlimit``/``quota`` keep their state within one :class:`Lab`.
"""

from __future__ import annotations

import atexit
import ipaddress
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from .vocab import NAMED_ACTIONS
from .extensions.registry import target_names
from .model import BUILTIN_CHAINS, InputError, Rule, Ruleset
from .netfilter import HOOKS, TABLES_AT_HOOK, TABLES_AT_HOOK_NFT
from .packet import Branch, Packet, Trace
from .parse.save import split_lines

__all__ = ["Lab", "lab_trace", "lab_available", "parse_monitor", "MonitorEvent", "nft_handles",
           "rule_action", "trace_finished", "kernel_agrees"]

# NAMED_ACTIONS (targets whose name is the action; every other non-chain is CONTINUE): workbook.vocab

#: Target extensions of iptables (a target not listed here and not a named action is a chain):
#: the registry's (:mod:`workbook.extensions`), refused ones included.
EXTENSION_TARGETS = target_names()

#: nf_tables verdict codes as xtables-monitor prints unknown ones (``0xfffffffb`` = NFT_RETURN).
_VERDICT_CODES = {0xFFFFFFFB: "RETURN", 0xFFFFFFFC: "GOTO", 0xFFFFFFFD: "JUMP", 0xFFFFFFFE: "BREAK",
                  0xFFFFFFFF: "CONTINUE"}

_TRACE_RE = re.compile(r"^\s*TRACE:\s+(\d+)\s+([0-9a-f]+)\s+(\S+)(?:\s+(.*))?$")
_HANDLE_RE = re.compile(r"#\s*handle\s+(\d+)\s*$")
_CHAIN_RE = re.compile(r"^\s*chain\s+(\S+)\s*\{")

_lab_counter = itertools.count()
_open_labs: "weakref.WeakSet[Lab]" = weakref.WeakSet()


@atexit.register
def _close_open_labs() -> None:
    """Whatever happens to the process (short of SIGKILL), its namespaces do not outlive it."""
    for lab in list(_open_labs):
        try:
            lab.close()
        except Exception:
            pass


# -- parsing the kernel's words ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MonitorEvent:
    """One ``TRACE:`` line of ``xtables-monitor --trace``.

    >>> e = MonitorEvent.parse(" TRACE: 2 fc475095 nat:PREROUTING:rule:0x6:JUMP:X  -4 -t nat -A PREROUTING -j X")
    >>> (e.trace_id, e.table, e.chain, e.kind, e.handle, e.verdict, e.text)
    ('fc475095', 'nat', 'PREROUTING', 'rule', 6, 'JUMP:X', '-A PREROUTING -j X')
    >>> MonitorEvent.parse(" TRACE: 2 fc475095 mangle:M:rule:0x9:0xfffffffb  -4 -t mangle -A M -j RETURN").verdict
    'RETURN'
    >>> MonitorEvent.parse(" TRACE: 2 fc475095 filter:FORWARD:policy:DROP ").verdict
    'DROP'
    >>> e = MonitorEvent.parse(" TRACE: 2 00000000 filter:KUBE-SERVICES:return:#2")  # from the nflog listener
    >>> (e.kind, e.number, e.handle, e.verdict)
    ('return', 2, None, '')
    """

    trace_id: str
    table: str
    chain: str
    kind: str  # rule | return | policy
    handle: int | None
    verdict: str
    text: str | None
    number: int | None = None  # iptables-legacy's TRACE names the rule (or policy) by number

    @classmethod
    def parse(cls, line: str) -> "MonitorEvent | None":
        m = _TRACE_RE.match(line)
        if not m:
            return None
        _, tid, head, tail = m.groups()
        parts = head.split(":")
        if len(parts) < 3:
            return None
        table, chain, kind, rest = parts[0], parts[1], parts[2], parts[3:]
        handle = None
        number = None
        if kind == "rule" and rest and rest[0].startswith("0x"):
            handle = int(rest[0], 16)
            rest = rest[1:]
        elif rest and rest[0].startswith("#") and rest[0][1:].isdigit():
            number = int(rest[0][1:])
            rest = rest[1:]
        verdict = ":".join(rest)
        if verdict.startswith("0x"):
            verdict = _VERDICT_CODES.get(int(verdict, 16), verdict)
        text = None
        if tail:
            # "-4 -t nat -A PREROUTING ..." → "-A PREROUTING ..."
            t = re.sub(r"^-4\s+-t\s+\S+\s+", "", tail.strip())
            text = t or None
        return cls(tid, table, chain, kind, handle, verdict, text, number)


def parse_monitor(text: str) -> list[MonitorEvent]:
    """All TRACE events of an ``xtables-monitor --trace`` output, in order (PACKET lines skipped).

    >>> out = '''PACKET: 2 271b5af4 IN=eth0 SRC=10.0.0.2 DST=10.96.0.10 SPORT=40000 DPORT=80 SYN
    ...  TRACE: 2 271b5af4 raw:PREROUTING:policy:ACCEPT
    ...  TRACE: 2 271b5af4 nat:X:rule:0x7:ACCEPT  -4 -t nat -A X -p tcp -j DNAT --to-destination 10.244.1.5:8080'''
    >>> [(e.table, e.chain, e.kind, e.verdict) for e in parse_monitor(out)]
    [('raw', 'PREROUTING', 'policy', 'ACCEPT'), ('nat', 'X', 'rule', 'ACCEPT')]
    """
    return [e for e in (MonitorEvent.parse(l) for l in split_lines(text)) if e is not None]


_OUT_RE = re.compile(r"\bOUT=(\S+)")


def trace_finished(lines: list[str], last: Mapping[str, str] | None = None) -> bool:
    """Do these monitor lines show the packet leaving its last hook (INPUT, POSTROUTING not to lo) or a DROP?

    ``last`` names the last table at INPUT and POSTROUTING that has rules there (see
    :meth:`Lab._last_tables`): the packet has left the hook when that table's base chain ends
    (its policy, or an ACCEPT in it or in a chain it called). Without it, the hook's kernel
    order decides (the nat table is last at both).

    >>> trace_finished(["PACKET: 2 a IN=eth0 OUT=lxn1 SRC=10.0.0.2", " TRACE: 2 a nat:POSTROUTING:policy:ACCEPT "])
    True
    >>> trace_finished(["PACKET: 2 a OUT=lo SRC=127.0.0.1", " TRACE: 2 a nat:POSTROUTING:policy:ACCEPT "])
    False
    >>> trace_finished([" TRACE: 2 a filter:KUBE-SERVICES:rule:0x7:DROP  -4 -t filter -A KUBE-SERVICES -j REJECT"])
    True

    Entering INPUT is not leaving it: the filter table's rules are still to come.

    >>> entered = [" TRACE: 2 a filter:INPUT:rule:0x2:JUMP:ufw-before-input  -4 -t filter -A INPUT -j ufw-before-input"]
    >>> trace_finished(entered, {"INPUT": "filter"})
    False
    >>> trace_finished(entered + [" TRACE: 2 a filter:ufw-user-input:rule:0x9:ACCEPT  -4 -t filter -A ufw-user-input -j ACCEPT"],
    ...                {"INPUT": "filter"})
    True
    """
    out = None
    hook = None
    for line in lines:
        if line.startswith("PACKET:"):
            m = _OUT_RE.search(line)
            out = m.group(1) if m else None
            continue
        ev = MonitorEvent.parse(line)
        if ev is None:
            continue
        if ev.verdict == "DROP":
            return True
        if ev.chain in HOOKS:
            hook = ev.chain
        if hook == "INPUT" or (hook == "POSTROUTING" and out not in (None, "lo")):
            final = (last or {}).get(hook, TABLES_AT_HOOK[hook][-1].table)
            if ev.table == final and (ev.kind == "policy" or ev.verdict == "ACCEPT"):
                return True
    return False


def nft_handles(listing: str) -> dict[str, list[int]]:
    """Chain → rule handles in order, from ``nft -a list table ip T`` (one nft rule per iptables rule).

    >>> nft_handles('''table ip nat { # handle 5
    ... 	chain PREROUTING { # handle 1
    ... 		type nat hook prerouting priority dstnat; policy accept;
    ... 		counter packets 1 bytes 29 jump Y # handle 7
    ... 		ip daddr 10.96.0.10 udp dport 53 counter packets 1 bytes 29 goto X # handle 8
    ... 	}
    ... 	chain Y { # handle 6
    ... 	}
    ... }''')
    {'PREROUTING': [7, 8], 'Y': []}
    """
    out: dict[str, list[int]] = {}
    current: str | None = None
    for line in split_lines(listing):
        m = _CHAIN_RE.match(line)
        if m:
            current = m.group(1).strip('"')
            out[current] = []
            continue
        if line.strip() == "}":
            current = None
            continue
        if current is not None:
            h = _HANDLE_RE.search(line)
            if h:
                out[current].append(int(h.group(1)))
    return out


def rule_action(rule: Rule, ruleset: Ruleset | None = None) -> str:
    """A rule's action in the Trace vocabulary (a target that is a chain of ``ruleset`` is a jump).

    >>> from workbook.parse import parse_save
    >>> rs = parse_save('*nat\\n:PREROUTING ACCEPT [0:0]\\n:X - [0:0]\\n-A PREROUTING -j X\\n-A PREROUTING -g X\\n'
    ...                 '-A PREROUTING -j LOG\\n-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:80\\n'
    ...                 '-A PREROUTING -m comment --comment nothing\\nCOMMIT\\n')
    >>> [rule_action(r, rs) for r in rs.chain("nat", "PREROUTING").rules]
    ['JUMP:X', 'GOTO:X', 'CONTINUE', 'DNAT', 'CONTINUE']
    """
    t = rule.target
    if t is None:
        return "CONTINUE"
    if rule.goto:
        return f"GOTO:{t}"
    if t in NAMED_ACTIONS:
        return t
    if ruleset is not None:
        is_chain = rule.table in ruleset.tables and t in ruleset.table(rule.table)
    else:
        is_chain = t not in EXTENSION_TARGETS
    if is_chain:
        return f"JUMP:{t}"
    # a registered target that ends the table's walk is its own action (the tracer's step says the same)
    return t if t in target_names(terminal=True) else "CONTINUE"


# -- environment ---------------------------------------------------------------------------------

def _which(name: str) -> str | None:
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.path.exists(p)), None)


def lab_available(backend: str = "nft") -> tuple[bool, str]:
    """(True, "") when this process can run the lab: root, ip, iptables-restore, xtables-monitor, conntrack."""
    if os.geteuid() != 0:
        return False, "the kernel lab needs root (network namespaces and iptables)"
    if backend == "legacy":
        need = ["ip", "conntrack", "iptables-legacy", "iptables-legacy-restore"]
    else:
        need = ["ip", "nft", "conntrack", "xtables-monitor", "iptables-nft", "iptables-nft-restore"]
    missing = [n for n in need if not _which(n)]
    if missing:
        return False, f"the kernel lab needs {', '.join(missing)} (Debian: iptables, iproute2, nftables, conntrack)"
    return True, ""


def _run(cmd: list[str], *, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, input=input, text=True, capture_output=True)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {(p.stderr or p.stdout).strip()}")
    return p


# A tiny sender kept alive inside a namespace: one JSON request per line, answers "ok" or "error ...".
_SENDER = r"""
import json, os, socket, struct, sys
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
def crc32c(b):
    c = 0xffffffff
    for x in b:
        c ^= x
        for _ in range(8): c = (c >> 1) ^ (0x82f63b78 if c & 1 else 0)
    return c ^ 0xffffffff
try:
    socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132).close(); SCTP_SOCKETS = True
except OSError:
    SCTP_SOCKETS = False
def owned(r, make):
    # -- core-proof -- a socket made as uid/gid (its file's credentials are what -m owner reads), then root again
    if r.get("uid") is None and r.get("gid") is None:
        return make()
    groups = os.getgroups()
    os.setgroups(r.get("groups") or []); os.setegid(r.get("gid") or 0); os.seteuid(r.get("uid") or 0)
    try:
        return make()
    finally:
        os.seteuid(0); os.setegid(0); os.setgroups(groups)
def frame(r):
    # a whole Ethernet frame, for packets routing would keep inside this namespace (to 127.0.0.0/8)
    p = {"tcp": 6, "udp": 17, "icmp": 1, "sctp": 132}[r["proto"]]
    src, dst = socket.inet_aton(r["src"]), socket.inet_aton(r["dst"])
    if p == 6:
        opt = struct.pack("!BBH", 2, 4, r["mss"]) if r.get("mss") is not None else b""
        flags = 2 if r.get("tcp_flags") is None else r["tcp_flags"]  # -- ext-core -- a SYN unless given
        l4 = struct.pack("!HHIIBBHHH", r["sport"] or 40000, r["dport"], 1, 1 if flags & 0x10 else 0, (5 + len(opt) // 4) << 4, flags, 64240, 0, 0) + opt
    elif p == 17:
        l4 = struct.pack("!HHHH", r["sport"] or 40000, r["dport"], 12, 0) + b"nfwb"
    elif p == 1:
        l4 = struct.pack("!BBHHH", *(r.get("icmp") or (8, 0)), 0, (r["sport"] or 4242) & 0xffff, 1) + b"nfwb"
    else:
        raise ValueError("raw frames for tcp, udp and icmp only")
    if r.get("length") is not None:  # pad the payload to the asked layer-3 length
        pad = r["length"] - 20 - len(l4)
        if pad < 0: raise ValueError("length %d is below the headers' %d bytes" % (r["length"], 20 + len(l4)))
        l4 += b"\0" * pad
        if p == 17: l4 = l4[:4] + struct.pack("!H", len(l4)) + l4[6:]
    if p in (6, 17):
        c = csum(src + dst + struct.pack("!BBH", 0, p, len(l4)) + l4)
        at = 16 if p == 6 else 6
        l4 = l4[:at] + struct.pack("!H", c) + l4[at + 2:]
    else:
        l4 = l4[:2] + struct.pack("!H", csum(l4)) + l4[4:]
    ttl, tos = r.get("ttl"), r.get("tos")
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, tos or 0, 20 + len(l4), 1, 0x4000, 64 if ttl is None else ttl, p, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    own = r.get("src_mac") or r["own_mac"]
    return bytes.fromhex(r["mac"].replace(":", "")) + bytes.fromhex(own.replace(":", "")) + b"\x08\x00" + ip + l4
for line in sys.stdin:
    r = json.loads(line)
    try:
        p = r["proto"]
        if r.get("mac"):
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            s.bind((r["dev"], 0))
            s.send(frame(r)); socks = [s]
        elif p == "tcp" and r.get("tcp_flags") is not None:
            # -- ext-core -- a TCP segment with the given flags (not a connect's SYN): a raw socket
            s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
            s.setsockopt(socket.SOL_IP, 19, 1)
            s.bind((r["src"], 0))
            l4 = struct.pack("!HHIIBBHHH", r["sport"] or 40000, r["dport"], 1, 1 if r["tcp_flags"] & 0x10 else 0, 5 << 4, r["tcp_flags"], 64240, 0, 0)
            c = csum(socket.inet_aton(r["src"]) + socket.inet_aton(r["dst"]) + struct.pack("!BBH", 0, 6, len(l4)) + l4)
            s.sendto(l4[:16] + struct.pack("!H", c) + l4[18:], (r["dst"], 0)); socks = [s]
        elif p == "tcp":
            s = owned(r, lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.SOL_IP, 19, 1)  # IP_TRANSPARENT: any source address
            s.bind((r["src"], r["sport"] or 0)); s.setblocking(False)
            e = s.connect_ex((r["dst"], r["dport"] or 0)); socks = [s]
            if e not in (0, 115): raise OSError(e, "connect")
        elif p == "udp":
            s = owned(r, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.SOL_IP, 19, 1)
            s.bind((r["src"], r["sport"] or 0)); s.sendto(b"nfwb", (r["dst"], r["dport"] or 0)); socks = [s]
        elif p == "sctp" and not SCTP_SOCKETS:
            # -- ext-core -- no SCTP sockets in this kernel: an INIT chunk through a raw socket
            s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 132)
            s.setsockopt(socket.SOL_IP, 19, 1)
            s.bind((r["src"], 0))
            pkt = struct.pack("!HHII", r["sport"] or 40000, r["dport"], 0, 0) + struct.pack("!BBHIIHHI", 1, 0, 20, 0x6e667762, 65535, 1, 1, 1)
            s.sendto(pkt[:8] + struct.pack("<I", crc32c(pkt)) + pkt[12:], (r["dst"], 0)); socks = [s]
        elif p == "sctp":
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132)
            s.setsockopt(socket.SOL_IP, 19, 1)
            s.bind((r["src"], r["sport"] or 0)); s.setblocking(False)
            s.connect_ex((r["dst"], r["dport"] or 0)); socks = [s]
        elif p == "icmp":
            s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            s.setsockopt(socket.SOL_IP, 19, 1)
            s.bind((r["src"], 0))
            ident = (r["sport"] or 4242) & 0xffff
            icmp = r.get("icmp") or (8, 0)  # -- ext-core -- type/code (an echo request unless given)
            hdr = struct.pack("!BBHHH", icmp[0], icmp[1], 0, ident, 1) + b"nfwb"
            hdr = hdr[:2] + struct.pack("!H", csum(hdr)) + hdr[4:]
            s.sendto(hdr, (r["dst"], 0)); socks = [s]
        else:
            raise ValueError("unsupported protocol " + p)
        for x in socks:
            x.close()  # a SYN/INIT is already out; closing in SYN_SENT sends nothing, and nothing retransmits
        print("ok", flush=True)
    except Exception as e:
        print("error " + repr(e), flush=True)
"""


# iptables-legacy's TRACE goes to nf_log; with nfnetlink_log as the namespace's IPv4 logger it
# arrives on NFLOG group 0. This listener prints it in xtables-monitor's shape, the rule number
# as "#N" (legacy names rules by number and prints no verdict).
_NFLOG = r"""
import socket, struct, sys
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
s.bind((0, 0))
seq = 0
def attr(t, data):
    n = 4 + len(data)
    return struct.pack("=HH", n, t) + data + b"\0" * ((4 - n % 4) % 4)
def cfg(family, body):
    global seq
    seq += 1
    msg = struct.pack("BBH", family, 0, 0) + body
    s.send(struct.pack("=IHHII", 16 + len(msg), (4 << 8) | 1, 1 | 4, seq, 0) + msg)
    r = s.recv(65536)
    if struct.unpack("=IHHII", r[:16])[1] == 2 and struct.unpack("=i", r[16:20])[0]:
        raise SystemExit("nfnetlink_log config error %d" % struct.unpack("=i", r[16:20])[0])
cfg(socket.AF_INET, attr(1, bytes([4, 0, 0, 0])))    # PF_UNBIND
cfg(socket.AF_INET, attr(1, bytes([3, 0, 0, 0])))    # PF_BIND
cfg(socket.AF_UNSPEC, attr(1, bytes([1, 0, 0, 0])))  # BIND group 0
cfg(socket.AF_UNSPEC, attr(2, struct.pack(">IBB", 0, 1, 0)))  # copy mode: meta data only
while True:
    data = s.recv(1 << 20)
    off = 0
    while off + 16 <= len(data):
        ln, typ = struct.unpack("=IH", data[off:off + 6])
        if ln < 16:
            break
        if typ == (4 << 8):
            a, prefix, dev = off + 20, None, {4: None, 5: None}
            while a + 4 <= off + ln:
                al, at = struct.unpack("=HH", data[a:a + 4])
                if al < 4:
                    break
                at &= 0x7FFF
                if at == 10:
                    prefix = data[a + 4:a + al].rstrip(b"\0").decode(errors="replace")
                elif at in dev:
                    dev[at] = struct.unpack(">I", data[a + 4:a + 8])[0]
                a += (al + 3) & ~3
            if prefix and prefix.startswith("TRACE: "):
                t, c, kind, num = prefix[7:].strip().rsplit(":", 3)[-4:]
                out = "lo" if dev[5] == 1 else ("if%d" % dev[5] if dev[5] else None)
                print("PACKET: 2 00000000" + (" OUT=" + out if out else ""))
                print(" TRACE: 2 00000000 %s:%s:%s:#%s" % (t, c, kind, num), flush=True)
        off += (ln + 3) & ~3
"""


# `nfacct add NAME...` over nfnetlink (NFNL_SUBSYS_ACCT, NFNL_MSG_ACCT_NEW, NFACCT_NAME).
_NFACCT = r"""
import socket, struct, sys
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)
s.bind((0, 0))
for i, name in enumerate(sys.argv[1:], 1):
    v = name.encode()[:31] + b"\0"
    a = struct.pack("=HH", 4 + len(v), 1) + v + b"\0" * ((4 - len(v) % 4) % 4)
    body = struct.pack("BBH", socket.AF_UNSPEC, 0, 0) + a
    s.send(struct.pack("=IHHII", 16 + len(body), (7 << 8) | 0, 1 | 4 | 0x400, i, 0) + body)  # REQUEST|ACK|CREATE
    r = s.recv(4096)
    if struct.unpack("=IHHII", r[:16])[1] == 2 and struct.unpack("=i", r[16:20])[0] not in (0, -17):
        raise SystemExit("nfacct %s: error %d" % (name, struct.unpack("=i", r[16:20])[0]))
"""


class _Monitor:
    """``xtables-monitor --trace`` (or the legacy NFLOG listener) in a namespace, read by a thread."""

    def __init__(self, ns: str, legacy: bool = False, command: list[str] | None = None,
                 finished=None):
        cmd = ["ip", "netns", "exec", ns]
        self.finished = finished or trace_finished
        if legacy:
            cmd += [sys.executable, "-I", "-S", "-u", "-c", _NFLOG]
        else:
            if _which("stdbuf"):
                cmd += ["stdbuf", "-oL"]
            cmd += command or [_which("xtables-monitor") or "xtables-monitor", "--trace"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     bufsize=1, start_new_session=True)
        self.lines: list[str] = []
        self.last = time.monotonic()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append(line.rstrip("\n"))
                self.last = time.monotonic()

    def mark(self) -> int:
        with self.lock:
            return len(self.lines)

    def since(self, mark: int) -> list[str]:
        with self.lock:
            return self.lines[mark:]

    def wait_quiet(self, mark: int, *, quiet: float, timeout: float, need: int = 1,
                   settle: float | None = None, last_tables: Mapping[str, str] | None = None) -> list[str]:
        """Wait until at least ``need`` lines arrived after ``mark`` and none came for ``quiet`` seconds.

        With ``settle``, a shorter quiet time applies once the lines show the packet's last hook
        (see :func:`trace_finished`).
        """
        end = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            with self.lock:
                n = len(self.lines) - mark
                last = self.last
                lines = self.lines[mark:] if settle is not None and n >= need else None
            q = settle if lines is not None and self.finished(lines, last_tables) else quiet
            if n >= need and now - last >= q:
                break
            if now >= end:
                break
            time.sleep(0.005)
        return self.since(mark)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 15)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(timeout=2)
        self.thread.join(timeout=1)


#: Packet fields only a raw frame can set (-- ext-header --): a packet giving one is sent as a frame
_HEADER_FIELDS = ("ttl", "tos", "length", "mss", "src_mac")
#: matches whose state outlives a packet's conntrack entry (see Lab._reset_stateful)
_STATEFUL = frozenset({"limit", "hashlimit", "quota", "statistic", "connlimit"})


def _sent_fields(packet: Packet) -> dict:
    """-- ext-core -- what the sender needs beyond addresses and ports: ``extra["icmp_type"]``
    ("3/3") and ``extra["tcp_flags"]`` ("ACK,PSH", or a number: a raw segment instead of a SYN); for the
    node's own tcp/udp packet ``extra["uid"]``/``["gid"]``/``["groups"]``, its socket's owner (-- core-proof --)."""
    extra = packet.extra or {}
    out: dict = {}
    if packet.proto == "icmp" and extra.get("icmp_type") is not None:
        a, _, b = str(extra["icmp_type"]).partition("/")
        out["icmp"] = [int(a), int(b or 0)]
    if packet.proto == "tcp" and extra.get("tcp_flags") is not None:
        from .trace.header import tcp_flags_of
        out["tcp_flags"] = tcp_flags_of(packet)
    if packet.from_node:  # -- core-proof -- the sending socket's owner (a tcp or udp socket)
        out.update({k: extra[k] for k in ("uid", "gid", "groups") if extra.get(k) is not None})
    return out


class _Sender:
    """A Python process kept alive inside a namespace that sends one packet per request."""

    def __init__(self, ns: str):
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-I", "-S", "-c", _SENDER],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1, start_new_session=True)

    def send(self, packet: Packet, frame_to: tuple[str, str, str] | None = None) -> str:
        """Send one packet; "ok", or the error the socket call gave (EPERM: dropped on the way out).

        ``frame_to`` = (device, its MAC, the peer's MAC): write the packet as a raw Ethernet frame
        on that device instead of through routing.
        """
        assert self.proc.stdin and self.proc.stdout
        req = {"proto": packet.proto, "src": packet.src, "dst": packet.dst, "sport": packet.sport,
               "dport": packet.dport, **_sent_fields(packet)}
        if frame_to:
            req.update(dev=frame_to[0], own_mac=frame_to[1], mac=frame_to[2])
            req.update({k: getattr(packet, k) for k in _HEADER_FIELDS})  # -- ext-header --
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if not answer:
            err = self.proc.stderr.read() if self.proc.poll() is not None and self.proc.stderr else ""
            raise RuntimeError(f"lab: the packet sender died: {err.strip()}")
        return answer

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                if self.proc.stdin:
                    self.proc.stdin.close()
                self.proc.wait(timeout=2)
            except (subprocess.TimeoutExpired, BrokenPipeError, OSError):
                try:
                    os.killpg(self.proc.pid, 9)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=2)


def _as_ruleset(ruleset: Ruleset | str) -> Ruleset:
    if isinstance(ruleset, Ruleset):
        return ruleset
    from .target import open_target
    return open_target(ruleset).ruleset


def _iface_ok(name: str) -> bool:
    return 0 < len(name) <= 15 and not any(c in name for c in "+/ :") and name not in (".", "..", "lo")


def _check_packet(packet: Packet) -> None:
    for a in (packet.src, packet.dst):
        try:
            version = ipaddress.ip_address(a).version
        except ValueError:
            raise InputError(f"lab: not an IP address: {a!r}") from None
        if version != 4:
            raise InputError(f"lab: only IPv4 packets are supported, got {a}")
    if packet.proto not in ("tcp", "udp", "sctp", "icmp"):
        raise InputError(f"lab: protocol must be tcp, udp, sctp or icmp, not {packet.proto!r}")
    if packet.proto in ("tcp", "udp", "sctp") and not packet.dport:
        raise InputError(f"lab: a {packet.proto} packet needs a destination port (--dport)")
    if not packet.from_node and ipaddress.ip_address(packet.dst).is_loopback and packet.proto == "sctp":
        raise InputError(f"lab: an sctp packet arriving on an interface cannot be addressed to {packet.dst}")
    if packet.from_node and any(getattr(packet, k) is not None for k in _HEADER_FIELDS):
        raise InputError("lab: header fields (ttl, tos, length, mss, src_mac) are sent on arriving packets only")
    if not packet.from_node and packet.in_iface and not _iface_ok(packet.in_iface):
        raise InputError(f"lab: {packet.in_iface!r} is not a usable interface name (max 15 characters, no '+')")


# -- the lab -------------------------------------------------------------------------------------

@dataclass(eq=False)
class Lab:
    """Throw-away namespaces holding one ruleset: reuse it to trace many packets, then close it.

    Layout: ``client`` namespaces (one per input interface name) ─veth─ ``node`` (the ruleset,
    ``node_ips``, ip_forward=1, default route to the sink) ─veth─ ``sink`` (answers for every
    address, so DNATed endpoints are reachable). Use as a context manager::

        with Lab(ruleset, ["192.168.0.2"]) as lab:
            trace = lab.trace(Packet("10.0.0.2", "172.30.0.41", "tcp", 40000, 80))
    """

    ruleset: Ruleset
    node_ips: tuple[str, ...] = ()
    backend: str = "nft"
    keep: bool = False
    conntrack: bool = True
    sysctls: dict[str, str] = field(default_factory=dict)
    #: ipsets the rules use (``-m set --match-set NAME``): name → member addresses/CIDRs
    ipsets: dict[str, list[str]] | None = None
    #: name of the node's interface towards the sink (where forwarded and DNATed packets leave)
    out_iface: str = "nfwb-sink"
    prefix: str = field(default_factory=lambda: f"nfwb-lab-{os.getpid()}-{next(_lab_counter)}")
    _made_ns: list[str] = field(default_factory=list, init=False, repr=False)
    _ifaces: dict[str, str] = field(default_factory=dict, init=False, repr=False)  # in_iface → client ns
    _senders: dict[str, _Sender] = field(default_factory=dict, init=False, repr=False)
    _monitor: _Monitor | None = field(default=None, init=False, repr=False)
    _handles: dict[tuple[str, int], tuple[str, int]] = field(default_factory=dict, init=False, repr=False)
    _open: bool = field(default=False, init=False, repr=False)
    _recent: bool = field(default=False, init=False, repr=False)
    _macs: dict[str, tuple[str, str, str]] = field(default_factory=dict, init=False, repr=False)
    #: the monitor's lines of the last :meth:`trace` (what ``xtables-monitor --trace`` / ``nft monitor trace`` printed)
    last_capture: list[str] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.ruleset = _as_ruleset(self.ruleset)
        if not _iface_ok(self.out_iface):
            raise InputError(f"lab: {self.out_iface!r} is not a usable interface name (max 15 characters, no '+')")
        self.node_ips = tuple(_lab_addresses(self.node_ips or ()))
        self._recent = any(r.match("recent") is not None for r in self.ruleset.iter_rules())
        if self.backend not in ("nft", "legacy"):
            raise InputError(f"lab: backend must be 'nft' or 'legacy', not {self.backend!r}")

    @property
    def _iptables(self) -> str:
        return "iptables-legacy" if self.backend == "legacy" else "iptables-nft"

    @property
    def node(self) -> str:
        return f"{self.prefix}-n"

    @property
    def sink(self) -> str:
        return f"{self.prefix}-s"

    def _ns(self, ns: str, *cmd: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        return _run(["ip", "netns", "exec", ns, *cmd], input=input, check=check)

    def _add_ns(self, name: str) -> None:
        _run(["ip", "netns", "add", name])
        self._made_ns.append(name)
        _run(["ip", "-n", name, "link", "set", "lo", "up"])

    # -- set-up ---------------------------------------------------------------------------
    def open(self, first_iface: str = "eth0") -> "Lab":
        ok, why = lab_available(self.backend)
        if not ok:
            raise InputError(f"lab: {why}")
        if self._open:
            return self
        self._open = True
        _open_labs.add(self)
        try:
            self._setup(first_iface)
        except BaseException:
            self.close()
            raise
        return self

    def _setup(self, first_iface: str) -> None:
        n, s = self.node, self.sink
        self._add_ns(n)
        self._add_ns(s)
        for k, v in (("net.ipv4.ip_forward", "1"), ("net.ipv4.conf.all.rp_filter", "0"),
                     ("net.ipv4.conf.default.rp_filter", "0"), ("net.ipv4.ip_nonlocal_bind", "1")):
            self._ns(n, "sysctl", "-qw", f"{k}={v}")
        # node ─ sink: the sink owns every address (AnyIP), so DNATed endpoints answer.
        # veth pairs are made inside the namespaces, with their final names: nothing of the lab is
        # ever in the host namespace, and names only need to be unique within each namespace
        _run(["ip", "-n", n, "link", "add", self.out_iface, "type", "veth", "peer", "name", "up0", "netns", s])
        _run(["ip", "-n", n, "link", "set", self.out_iface, "up"])
        _run(["ip", "-n", s, "link", "set", "up0", "up"])
        _run(["ip", "-n", s, "route", "add", "local", "0.0.0.0/0", "dev", "lo"])
        _run(["ip", "-n", n, "route", "add", "default", "dev", self.out_iface])
        if not self.node_ips:
            # a node always has an address on its way out (MASQUERADE needs one)
            _run(["ip", "-n", n, "addr", "add", "169.254.0.1/32", "dev", self.out_iface])
        self._iface(first_iface)
        for ip in self.node_ips:
            _run(["ip", "-n", n, "addr", "add", f"{ip}/32", "dev", first_iface])
        for k, v in self.sysctls.items():  # after the interfaces, so net.ipv4.conf.<if>.* work too
            p = self._ns(n, "sysctl", "-qw", f"{k}={v}", check=False)
            if p.returncode != 0:
                raise InputError(f"lab: sysctl {k}={v}: {(p.stderr or p.stdout).strip()}")
        if self.backend == "legacy":
            self._ns(n, "sysctl", "-qw", "net.netfilter.nf_log.2=nfnetlink_log")
        self._load()
        self._monitor = self._start_monitor()
        self._wait_monitor()

    def _start_monitor(self) -> _Monitor:
        return _Monitor(self.node, legacy=self.backend == "legacy")

    def _iface(self, name: str) -> str:
        """The client namespace behind node interface ``name`` (made on first use)."""
        if name in self._ifaces:
            return self._ifaces[name]
        i = len(self._ifaces)
        c = f"{self.prefix}-c{i}"
        self._add_ns(c)
        self._ns(c, "sysctl", "-qw", "net.ipv4.ip_nonlocal_bind=1")
        _run(["ip", "-n", self.node, "link", "add", name, "type", "veth", "peer", "name", "up0", "netns", c])
        _run(["ip", "-n", self.node, "link", "set", name, "up"])
        _run(["ip", "-n", c, "link", "set", "up0", "up"])
        info = json.loads(_run(["ip", "-n", self.node, "-j", "link", "show", "dev", name]).stdout)
        mac = info[0]["address"]
        own = json.loads(_run(["ip", "-n", c, "-j", "link", "show", "dev", "up0"]).stdout)[0]["address"]
        self._macs[name] = ("up0", own, mac)
        _run(["ip", "-n", c, "route", "add", "169.254.1.1", "dev", "up0", "scope", "link"])
        _run(["ip", "-n", c, "neigh", "replace", "169.254.1.1", "lladdr", mac, "dev", "up0", "nud", "permanent"])
        _run(["ip", "-n", c, "route", "add", "default", "via", "169.254.1.1", "dev", "up0", "onlink"])
        self._ifaces[name] = c
        return c

    def _restore_text(self) -> str:
        return self.ruleset.to_save()

    def _load(self) -> None:
        restore = "iptables-legacy-restore" if self.backend == "legacy" else "iptables-nft-restore"
        for name, members in (self.ipsets or {}).items():
            # ipset is per network namespace: the node's own sets, made before the rules that use them
            nets = [m for m in members if "," not in m]
            if len(nets) != len(members):
                raise InputError(f"lab: ipset {name}: only address/CIDR members are supported here")
            script = f"create {name} hash:net family inet\n" + "".join(f"add {name} {m}\n" for m in nets)
            p = self._ns(self.node, "ipset", "restore", input=script, check=False)
            if p.returncode != 0:
                raise InputError(f"lab: ipset {name}: {(p.stderr or p.stdout).strip()}")
        acct = sorted({o.value for r in self.ruleset.iter_rules() for m in r.matches if m.module == "nfacct"
                       for o in m.options if o.flag == "--nfacct-name"})
        if acct:
            # -m nfacct needs its accounting object to exist (`nfacct add NAME`)
            p = self._ns(self.node, sys.executable, "-I", "-S", "-c", _NFACCT, *acct, check=False)
            if p.returncode != 0:
                raise InputError(f"lab: could not create nfacct objects {', '.join(acct)}: {p.stderr.strip()}")
        p = self._ns(self.node, restore, input=self._restore_text(), check=False)
        if p.returncode != 0:
            msg = (p.stderr or p.stdout).strip().splitlines()
            raise InputError(f"lab: {restore} refused {self.ruleset.source}: {' '.join(msg[:2])}")
        if self.conntrack:
            # A real node always has conntrack running (kube-proxy, docker and CNIs use it); a tiny
            # ruleset without any conntrack user would leave it off and skip the nat table.
            # An unreachable chain is enough: initialising a ct match switches conntrack on, and
            # an unreachable rule never shows up in a trace.
            self._ns(self.node, self._iptables, "-w", "-t", "raw", "-N", "NFWB-LAB-CT")
            self._ns(self.node, self._iptables, "-w", "-t", "raw", "-A", "NFWB-LAB-CT", "-m", "conntrack",
                     "--ctstate", "NEW")
            # A connection the node refuses itself (nothing listens: it answers RST) leaves conntrack at once
            # ("if only reply is a RST ... delete immediately", nf_conntrack_proto_tcp.c), and its NAT (a
            # REDIRECT to a local port) with it. The node's own RSTs are dropped before conntrack sees them.
            self._ns(self.node, "nft", "add table ip nfwb_lab; add chain ip nfwb_lab rst { type filter hook output "
                     "priority -350; }; add rule ip nfwb_lab rst tcp flags & rst != 0 drop")
        # Empty mangle base chains at every hook the ruleset leaves out: their (hidden) policy events
        # show how far the packet got, so a packet the kernel lost outside the rules (routing) is
        # told apart from one that went all the way.
        declared = set(self.ruleset.tables["mangle"].chains) if "mangle" in self.ruleset.tables else set()
        missing = [c for c in BUILTIN_CHAINS["mangle"] if c not in declared]
        if missing:
            text = "*mangle\n" + "".join(f":{c} ACCEPT [0:0]\n" for c in missing) + "COMMIT\n"
            self._ns(self.node, restore, "--noflush", input=text)
        self._read_handles()

    def _visible(self, table: str, chain: str) -> bool:
        """Is this table/chain part of the ruleset (not one the lab added to watch the packet)?"""
        t = self.ruleset.tables.get(table)
        if t is None:
            return False
        # legacy tables always have all their built-in chains; iptables-nft only the declared ones
        return self.backend == "legacy" or chain in t.chains or chain not in BUILTIN_CHAINS.get(table, ())

    def _read_handles(self) -> None:
        self._handles.clear()
        if self.backend == "legacy":
            return  # legacy TRACE names rules by number
        for table in self.ruleset.tables:
            p = self._ns(self.node, "nft", "-a", "list", "table", "ip", table, check=False)
            if p.returncode != 0:
                continue
            for chain, handles in nft_handles(p.stdout).items():
                for pos, h in enumerate(handles, 1):
                    self._handles[(table, h)] = (chain, pos)

    def _wait_monitor(self) -> None:
        """Send probe packets until the monitor shows a trace: then it is subscribed."""
        assert self._monitor is not None
        probe = ["-s", "127.0.0.1", "-d", "127.0.0.1", "-p", "udp", "--sport", "9", "--dport", "9", "-j", "TRACE"]
        self._ns(self.node, self._iptables, "-w", "-t", "raw", "-I", "OUTPUT", "1", *probe)
        try:
            self._probe_until_traced("nfnetlink_log" if self.backend == "legacy" else "xtables-monitor --trace")
            time.sleep(0.05)
        finally:
            self._ns(self.node, self._iptables, "-w", "-t", "raw", "-D", "OUTPUT", *probe, check=False)
        self._monitor.wait_quiet(self._monitor.mark(), quiet=0.1, timeout=1, need=0)
        if "raw" in self.ruleset.tables:
            self._read_handles()

    def _probe_until_traced(self, monitor_name: str) -> None:
        """Send the node's probe packet (udp 127.0.0.1:9, traced by whatever the caller armed) until the
        monitor shows it: only then is the monitor subscribed."""
        assert self._monitor is not None
        sender = self._sender(self.node)
        end = time.monotonic() + 5
        while time.monotonic() < end:
            m = self._monitor.mark()
            sender.send(Packet("127.0.0.1", "127.0.0.1", "udp", 9, 9, None, True))
            if self._monitor.wait_quiet(m, quiet=0.05, timeout=0.3):
                return
        raise RuntimeError(f"the kernel's trace ({monitor_name}) showed nothing within 5 s")

    def _sender(self, ns: str) -> _Sender:
        if ns not in self._senders:
            self._senders[ns] = _Sender(ns)
        return self._senders[ns]

    # -- tracing --------------------------------------------------------------------------
    def _last_tables(self, from_node: bool = False) -> dict[str, str]:
        """The last table at INPUT and POSTROUTING whose base chain is loaded (iptables-nft creates
        only the base chains a ruleset declares; legacy has every one of a table it loads).

        A node's own packet delivered locally had its NAT set up at OUTPUT/POSTROUTING, so nat INPUT
        is not walked for it: its INPUT ends with the table before (the lab's mangle INPUT at least)."""
        order = TABLES_AT_HOOK if self.backend == "legacy" else TABLES_AT_HOOK_NFT
        last = {}
        for hook in ("INPUT", "POSTROUTING"):
            have = [t.table for t in order[hook] if t.table in self.ruleset.tables
                    and (self.backend == "legacy" or hook in self.ruleset.tables[t.table].chains)
                    and not (from_node and hook == "INPUT" and t.table == "nat")]
            if have:
                last[hook] = have[-1]
            elif from_node and hook == "INPUT":
                last[hook] = "mangle"
        return last

    def trace(self, packet: Packet, *, timeout: float = 5.0, quiet: float = 1.0, settle: float = 0.04) -> Trace:
        """Send ``packet`` once through the node and return the kernel's path as a Trace.

        The trace is complete when no event came for ``settle`` seconds after the packet reached
        its last hook (INPUT, POSTROUTING to a real device, or a DROP), or for ``quiet`` seconds
        otherwise (a packet lost to routing shows no last hook; on a busy machine the monitor can fall
        silent for a few hundred ms in the middle of a trace, so ``quiet`` is long).
        """
        _check_packet(packet)
        if not self._open:
            self.open(packet.in_iface or "eth0")
        assert self._monitor is not None
        n = self.node
        if packet.from_node:
            sender_ns = n
            chain = "OUTPUT"
        else:
            iface = packet.in_iface or "eth0"
            if iface == self.out_iface:
                raise InputError(f"lab: {iface!r} is the interface this lab sends forwarded packets out of; "
                                 "the packet cannot arrive on it too")
            sender_ns = self._iface(iface)
            chain = "PREROUTING"
            # The client does not own packet.src (IP_TRANSPARENT lets it send from any address): an address of the client would
            # turn a later packet to that address into local traffic of the client.
            _run(["ip", "-n", n, "route", "replace", f"{packet.src}/32", "dev", iface])
        self._ns(n, "conntrack", "-F", check=False)
        if self._recent:
            # -m recent lists outlive conntrack: empty them so every packet starts from a clean slate
            self._ns(n, "sh", "-c", 'for f in /proc/net/xt_recent/*; do [ -e "$f" ] && echo / > "$f"; done; true',
                     check=False)
        self._reset_stateful()
        armed = self._trace_on(packet, chain)
        try:
            mark = self._monitor.mark()
            raw = None
            if not packet.from_node and (ipaddress.ip_address(packet.dst).is_loopback
                                         or any(getattr(packet, k) is not None for k in _HEADER_FIELDS)):
                raw = self._macs[packet.in_iface or "eth0"]  # routing would keep it in the client
            sent = self._sender(sender_ns).send(packet, raw)
            lines = self._monitor.wait_quiet(mark, quiet=quiet, timeout=timeout, settle=settle,
                                             last_tables=self._last_tables(packet.from_node))
            dnat = self._conntrack_dnat(packet)
            self.last_capture = list(lines)
        finally:
            self._trace_off(armed)
            if not packet.from_node:  # the next packet must not find this source's route (it would steer its replies' way)
                _run(["ip", "-n", n, "route", "del", f"{packet.src}/32", "dev", iface], check=False)
        events = self._events(lines)
        if not events and sent != "ok":
            raise InputError(f"lab: could not send {packet.proto} {packet.src} -> {packet.dst}: {sent[6:] or sent}")
        if not events:
            raise RuntimeError(f"lab: the kernel showed no trace for {packet.proto} {packet.src}:{packet.sport} -> "
                               f"{packet.dst}:{packet.dport} within {timeout} s (sender: {sent})")
        return self._to_trace(packet, events, dnat, chain)

    def _reset_stateful(self) -> None:
        """Delete and re-insert every rule whose match keeps state from packet to packet (limit's and
        hashlimit's buckets, quota's bytes, statistic's nth counter), so each packet is judged alone, as
        the first packet since the rules were loaded (the simulator's view; -m recent lists are emptied
        for the same reason). Delete first: a hashlimit table lives on while a rule of its name does."""
        rules = [r for r in self.ruleset.iter_rules() if any(m.module in _STATEFUL for m in r.matches)]
        if not rules:
            return
        restore = "iptables-legacy-restore" if self.backend == "legacy" else "iptables-nft-restore"
        tables = sorted({r.table for r in rules})

        def script(lines) -> str:  # one restore per step: the deletions are committed before the insertions
            lines = list(lines)  # read once per table (a generator would feed only the first table)
            return "".join(f"*{t}\n" + "".join(text for table, text in lines if table == t) + "COMMIT\n" for t in tables)
        self._ns(self.node, restore, "--noflush", input=script(
            (r.table, f"-D {r.chain} {r.position}\n") for r in sorted(rules, key=lambda r: -r.position)))
        self._ns(self.node, restore, "--noflush", input=script(
            (r.table, f"-I {r.chain} {r.position} {r.spec.split(' ', 2)[2]}\n") for r in sorted(rules, key=lambda r: r.position)))
        self._read_handles()

    def _trace_on(self, packet: Packet, chain: str) -> list[str]:
        """Switch tracing on for this packet's flow only (a -j TRACE rule at the top of raw ``chain``)."""
        match = ["-s", packet.src, "-d", packet.dst, "-p", packet.proto]
        if packet.proto == "icmp":  # the request only: a node pinging itself would trace the reply too
            icmp = _sent_fields(packet).get("icmp")  # -- ext-core -- the type/code sent
            match += ["--icmp-type", "%d/%d" % tuple(icmp) if icmp else "echo-request"]
        if packet.proto in ("tcp", "udp", "sctp"):
            if packet.sport:
                match += ["--sport", str(packet.sport)]
            match += ["--dport", str(packet.dport)]
        rule = [*match, "-j", "TRACE"]
        self._ns(self.node, self._iptables, "-w", "-t", "raw", "-I", chain, "1", *rule)
        return [chain, *rule]

    def _trace_off(self, armed: list[str]) -> None:
        self._ns(self.node, self._iptables, "-w", "-t", "raw", "-D", *armed, check=False)

    def _events(self, lines: list[str]) -> list:
        return parse_monitor("\n".join(lines))

    def _conntrack_dnat(self, packet: Packet) -> tuple[str, int | None] | None:
        """The reply tuple's source when it differs from the original destination (DNAT happened)."""
        cmd = ["conntrack", "-L", "-p", packet.proto, "--orig-src", packet.src, "--orig-dst", packet.dst]
        if packet.proto in ("tcp", "udp", "sctp") and packet.sport:
            cmd += ["--orig-port-src", str(packet.sport), "--orig-port-dst", str(packet.dport)]
        p = self._ns(self.node, *cmd, check=False)
        for line in split_lines(p.stdout):
            srcs = re.findall(r"\bsrc=(\S+)", line)
            sports = re.findall(r"\bsport=(\d+)", line)
            if len(srcs) >= 2:
                rsrc = srcs[1]
                rsport = int(sports[1]) if len(sports) >= 2 else None
                if rsrc != packet.dst or (rsport is not None and rsport != packet.dport):
                    return rsrc, rsport
                return None
        return None

    def _to_trace(self, packet: Packet, events: list[MonitorEvent], ct_dnat, trace_chain: str = "") -> Trace:
        from .kernel_trace import xtables_events_to_trace

        def locate(ev: MonitorEvent) -> tuple[str, int] | None:
            return self._handles.get((ev.table, ev.handle)) if ev.handle is not None else None
        return xtables_events_to_trace(packet, events, self.ruleset, locate, self._visible,
                                       trace_chain=trace_chain, ct_dnat=ct_dnat)

    # -- tear-down ------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the monitor and senders, delete every namespace (and so every veth) this lab made."""
        for snd in self._senders.values():
            snd.stop()
        self._senders.clear()
        if self._monitor is not None:
            self._monitor.stop()
            self._monitor = None
        if not self.keep:
            for ns in reversed(self._made_ns):
                subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            self._made_ns.clear()
        self._open = False
        _open_labs.discard(self)

    def __enter__(self) -> "Lab":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - safety net
        try:
            if self._open:
                self.close()
        except Exception:
            pass


def _lab_addresses(ips: Iterable[str]) -> list[str]:
    """The node addresses the lab gives its node: IPv4 only, without loopback (``lo`` has those)
    and link-local ones — a dump's ``ip addr`` lists ``127.0.0.1``, ``::1`` and ``fe80::…`` too.

    >>> _lab_addresses(["127.0.0.1", "::1", "192.168.3.215", "fe80::1", "169.254.1.1", "10.0.0.1/24"])
    ['192.168.3.215', '10.0.0.1']
    """
    out: list[str] = []
    for ip in ips:
        try:
            a = ipaddress.ip_address(str(ip).split("/")[0])
        except ValueError:
            raise InputError(f"lab: node address {ip!r} is not an IP address") from None
        if a.version == 4 and not a.is_loopback and not a.is_link_local and str(a) not in out:
            out.append(str(a))
    return out


def lab_trace(ruleset: Ruleset | str, packet: Packet, node_ips: Iterable[str] | None = None, *,
              timeout: float = 5.0, keep: bool = False, backend: str = "nft",
              sysctls: dict[str, str] | None = None, ipsets: dict[str, list[str]] | None = None) -> Trace:
    """Send ``packet`` through ``ruleset`` in the real kernel; the Trace of what the kernel did.

    Root only: makes throw-away namespaces, loads the ruleset with ``iptables-restore``, sends one
    packet and reads ``xtables-monitor --trace``; everything is deleted afterwards (``keep`` leaves
    the namespaces for a look with ``ip netns exec``). ``backend`` is ``"nft"`` (iptables-nft,
    read with xtables-monitor) or ``"legacy"`` (iptables-legacy, read from nfnetlink_log);
    ``sysctls`` are set in the node namespace (e.g. ``{"net.ipv4.conf.all.route_localnet": "1"}``,
    as kube-proxy sets); ``ipsets`` (name → CIDRs) are created in the node namespace before the
    rules, as ``trace_packet(..., ipsets=...)`` takes them. Forwarded packets leave on
    ``packet.out_iface`` when given.
    """
    _check_packet(packet)
    ips = list(node_ips or ())
    if packet.from_node and packet.src not in ips and not ipaddress.ip_address(packet.src).is_loopback:
        ips.append(packet.src)
    out = getattr(packet, "out_iface", None)
    in_ = packet.in_iface if (packet.in_iface and not packet.from_node) else "eth0"
    if out and out == in_:
        raise InputError(f"lab: the packet cannot arrive and leave on the same interface {out!r} here")
    lab = Lab(ruleset, tuple(ips), backend=backend, keep=keep, sysctls=dict(sysctls or {}),
              out_iface=out or "nfwb-sink", ipsets=ipsets)
    try:
        lab.open(in_)
        return lab.trace(packet, timeout=timeout)
    finally:
        lab.close()


def kernel_agrees(kernel: Trace, simulated: Trace) -> tuple[bool, str]:
    """Is the kernel's path one of the simulator's branches, with the same DNAT destination?

    (True, "") when it is; else (False, "path") or (False, "dnat"). A random split is one draw
    in the kernel, so one matching branch is enough.

    >>> from workbook.packet import Branch, Step
    >>> p = Packet("10.0.0.2", "10.96.0.10", "udp", 40000, 53)
    >>> k = Trace(p, [Branch(1.0, "ACCEPT", [Step("PREROUTING", "nat", "X", 2, None, True, "DNAT")], "10.1.0.2:53")], "kernel")
    >>> sim = Trace(p, [Branch(0.5, "ACCEPT", [Step("PREROUTING", "nat", "X", 1, None, True, "DNAT")], "10.1.0.1:53"),
    ...                 Branch(0.5, "ACCEPT", [Step("PREROUTING", "nat", "X", 1, None, False, None),
    ...                                        Step("PREROUTING", "nat", "X", 2, None, True, "DNAT")], "10.1.0.2:53")])
    >>> kernel_agrees(k, sim)
    (True, '')
    """
    def path(b: Branch) -> list:
        return [x for x in b.matched_path() if not (x[2] is None and x[3] == "RETURN")]
    (kb,) = kernel.branches
    same = [b for b in simulated.branches if path(b) == path(kb)]
    if not same:
        return False, "path"
    if not any(b.dnat == kb.dnat for b in same):
        return False, "dnat"
    return True, ""

