"""Parse ``iptables -L [-n] [-v] [-x] [--line-numbers]`` listings (also ``| column -t`` re-flowed) into the save-form Rule model."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from ..extensions import listing_reader, match_extension, target_extension
from ..limits import MAX_COUNT
from ..model import Chain, Match, Option, ParseError, Problem, Rule, Ruleset, Table
from .listing_words import ListingContext as _Ctx, NotThisReader as _Unknown
from .listing_words import hex_text as _hex, port_words as _port, tcp_flag_names as _tcp_flag_names
from .listing_words import unquote as _unquote, value_after as _value
from .rule import KNOWN_TABLES
from .save import check_text, split_lines
from .session import parse_command, prompt_command
from .spec import _order_chains, infer_table

__all__ = ["parse_listing", "parse_count", "listed_options", "UNPARSED"]

#: Flag of the Option that keeps listing text this parser could not map (inside a Match named "?").
UNPARSED = "--unparsed"

_SUFFIX = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_COUNT = re.compile(r"^(\d+)([KMGT]?)$")


def parse_count(tok: str) -> tuple[int, bool] | None:
    """A listed counter as ``(value, approximate)``: K/M/G/T are decimal (×1000) and rounded.

    >>> parse_count("3519K"), parse_count("61085"), parse_count("42M"), parse_count("x")
    ((3519000, True), (61085, False), (42000000, True), None)
    """
    m = _COUNT.match(tok)
    if not m or len(m.group(1)) > 19:
        return None
    n = int(m.group(1)) * _SUFFIX[m.group(2)]
    return (n, bool(m.group(2))) if n <= MAX_COUNT else None


# --------------------------------------------------------------------------- chain headers
_CHAIN = re.compile(r"^Chain (\S+) \((?:policy (\S+)(?: (\S+) packets, (\S+) bytes)?|(\d+) references?|ERROR obtaining refs)\)\s*$")

# protocol numbers iptables 1.8.9/1.8.10 print with -n, mapped to the name iptables-save prints
_PROTO_NAMES = {"0": None, "all": None, "1": "icmp", "2": "igmp", "4": "ipencap", "6": "tcp", "8": "egp", "17": "udp",
                "33": "dccp", "41": "ipv6", "47": "gre", "50": "esp", "51": "ah", "58": "ipv6-icmp", "89": "ospf",
                "94": "ipip", "103": "pim", "112": "vrrp", "132": "sctp", "135": "mh", "136": "udplite"}


def _load_protocols() -> None:
    try:
        with open("/etc/protocols", encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split("#", 1)[0].split()
                if len(parts) >= 2 and parts[1].isdecimal() and parts[1] not in _PROTO_NAMES:
                    _PROTO_NAMES[parts[1]] = parts[0]
    except OSError:  # pragma: no cover - no /etc/protocols
        pass


_load_protocols()

_OPTS = frozenset({"--", "-f", "!f"})
_ANY_ADDR = frozenset({"0.0.0.0/0", "::/0", "anywhere"})
_ANY_IF = frozenset({"*", "any"})
_IP4 = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


def _addr(tok: str, family: str) -> tuple[str | None, bool]:
    neg = tok.startswith("!")
    if neg:
        tok = tok[1:]
    if tok in _ANY_ADDR:
        return None, neg
    if "/" not in tok:
        if _IP4.match(tok):
            tok += "/32"
        elif ":" in tok:
            tok += "/128"
        elif tok == "localhost":
            tok = "::1/128" if family == "ipv6" else "127.0.0.1/32"
    return tok, neg


def _iface(tok: str) -> tuple[str | None, bool]:
    neg = tok.startswith("!")
    if neg:
        tok = tok[1:]
    if tok in _ANY_IF:
        return None, neg
    return tok, neg


# --------------------------------------------------------------------------- option text tokens
_TOK = re.compile(r'/\*.*?\*/|"[^"]*"(?=\s|$)|"[^"]*$|\S+')
_GLUE = re.compile(r"(?<=\S)(flags:|option=)")


def _tokens(text: str, reflowed: bool) -> list[str]:
    """Split the options text: ``/* comment */`` and ``"quoted"`` stay one token each."""
    out: list[str] = []
    for m in _TOK.finditer(text):
        t = m.group(0)
        if t.startswith("/*") or t.startswith('"'):
            if reflowed:
                t = " ".join(t.split())
            out.append(t)
        elif "flags:" in t[1:] or "option=" in t[1:]:
            out.extend(_GLUE.sub(r" \1", t).split())
        elif t.startswith(("match0x", "match!")):  # libxt_tos prints " tos match" + "0x10/0x3f"
            out.extend(("match", t[5:]))
        else:
            out.append(t)
    return out


_ICMP_NAMES = {
    "any": (255, None), "echo-reply": (0, None), "pong": (0, None), "destination-unreachable": (3, None),
    "network-unreachable": (3, 0), "host-unreachable": (3, 1), "protocol-unreachable": (3, 2),
    "port-unreachable": (3, 3), "fragmentation-needed": (3, 4), "source-route-failed": (3, 5),
    "network-unknown": (3, 6), "host-unknown": (3, 7), "network-prohibited": (3, 9), "host-prohibited": (3, 10),
    "TOS-network-unreachable": (3, 11), "TOS-host-unreachable": (3, 12), "communication-prohibited": (3, 13),
    "host-precedence-violation": (3, 14), "precedence-cutoff": (3, 15), "source-quench": (4, None),
    "redirect": (5, None), "network-redirect": (5, 0), "host-redirect": (5, 1), "TOS-network-redirect": (5, 2),
    "TOS-host-redirect": (5, 3), "echo-request": (8, None), "ping": (8, None), "router-advertisement": (9, None),
    "router-solicitation": (10, None), "time-exceeded": (11, None), "ttl-zero-during-transit": (11, 0),
    "ttl-zero-during-reassembly": (11, 1), "parameter-problem": (12, None), "ip-header-bad": (12, 0),
    "required-option-missing": (12, 1), "timestamp-request": (13, None), "timestamp-reply": (14, None),
    "address-mask-request": (17, None), "address-mask-reply": (18, None),
}
_LOG_LEVELS = {"emerg": 0, "alert": 1, "crit": 2, "err": 3, "error": 3, "warning": 4, "warn": 4, "notice": 5,
               "info": 6, "debug": 7, "panic": 0}
_LOG_FLAGS = (("tcp-sequence", 0x01, "--log-tcp-sequence"), ("tcp-options", 0x02, "--log-tcp-options"),
              ("ip-options", 0x04, "--log-ip-options"), ("uid", 0x08, "--log-uid"),
              ("macdecode", 0x20, "--log-macdecode"))


# --------------------------------------------------------------------------- match printers
# Each takes (tokens, i, negated, ctx) with tokens[i] the keyword and returns (Match, next_i).

def _m_proto(t, i, neg, ctx):
    mod = t[i]
    proto = mod
    opts: list[Option] = []
    i += 1
    n = len(t)
    while i < n:
        w = t[i]
        k, sep, v = w.partition(":")
        if sep and k in ("spt", "spts", "dpt", "dpts"):
            inv = v.startswith("!")
            v = v[1:] if inv else v
            opts.append(Option("--sport" if k[0] == "s" else "--dport", (_port(v, proto, ctx),), inv))
            i += 1
        elif w.startswith("flags:") and mod == "tcp":
            v = w[6:] or (t[i + 1] if i + 1 < n else "")
            i += 1 if w[6:] else 2
            inv = v.startswith("!")
            v = v[1:] if inv else v
            mask, _, comp = v.partition("/")
            opts.append(Option("--tcp-flags", (_tcp_flag_names(mask), _tcp_flag_names(comp)), inv))
        elif w.startswith("option=") and mod == "tcp":
            v = w[7:]
            inv = v.startswith("!")
            opts.append(Option("--tcp-option", (v[1:] if inv else v,), inv))
            i += 1
        else:
            break
    # save order: --sport, --dport, --tcp-option, --tcp-flags (libxt_tcp tcp_save)
    order = {"--sport": 0, "--dport": 1, "--tcp-option": 2, "--tcp-flags": 3}
    opts.sort(key=lambda o: order[o.flag])
    return Match(mod, tuple(opts)), i


def _m_multiport(t, i, neg, ctx):
    if i + 1 >= len(t) or t[i + 1] not in ("sports", "dports", "ports"):
        raise _Unknown
    kind = t[i + 1]
    inv, v, j = _value(t, i + 2, False)
    return Match("multiport", (Option("--" + kind, (_port(v, ctx.protocol or "tcp", ctx),), inv),)), j


def _m_icmp(t, i, neg, ctx):
    w = t[i]
    v6 = w.startswith("ipv6-icmp")
    mod, flag = ("icmp6", "--icmpv6-type") if v6 else ("icmp", "--icmp-type")
    rest = w[9:] if v6 else w[4:]
    j = i + 1
    inv = False
    if rest == "" and j < len(t) and t[j] in ("!type", "type", "!"):
        rest = t[j]
        j += 1
    if rest.startswith("!"):
        inv, rest = True, rest[1:]
    if rest == "type":
        if j >= len(t):
            raise _Unknown
        typ = int(t[j])
        j += 1
        code = None
        if j + 1 < len(t) and t[j] == "code":
            code = t[j + 1]
            j += 2
        elif j + 1 < len(t) and t[j] == "codes":
            lo, _, hi = t[j + 1].partition("-")
            code = lo if lo == hi or (lo, hi) != ("0", "255") else None
            j += 2
        value = "any" if typ == 255 and not v6 else str(typ)
        if code is not None:
            value += f"/{code}"
        return Match(mod, (Option(flag, (value,), inv),)), j
    if rest == "" and j < len(t):  # name form without -n: "icmp echo-request"
        name = t[j]
        if name.startswith("!"):
            inv, name = True, name[1:]
        if name in _ICMP_NAMES and not v6:
            typ, code = _ICMP_NAMES[name]
            value = "any" if typ == 255 else str(typ) + ("" if code is None else f"/{code}")
            return Match(mod, (Option(flag, (value,), inv),)), j + 1
        if v6:
            return Match(mod, (Option(flag, (name,), inv),)), j + 1
    raise _Unknown


def _m_mark(t, i, neg, ctx):
    mod = t[i]
    if i + 1 >= len(t) or t[i + 1] != "match":
        raise _Unknown
    inv, v, j = _value(t, i + 2, neg)
    return Match(mod, (Option("--mark", (v,), inv),)), j


def _m_statistic(t, i, neg, ctx):
    if i + 2 >= len(t) or t[i + 1] != "mode":
        raise _Unknown
    mode = t[i + 2]
    opts = [Option("--mode", (mode,))]
    j = i + 3
    inv = neg
    n = len(t)
    while j < n:
        w = t[j]
        if w == "!":
            inv = True
            j += 1
            continue
        if mode == "random" and w == "probability" and j + 1 < n:
            opts.append(Option("--probability", (t[j + 1],), inv))
        elif mode == "nth" and w == "every" and j + 1 < n:
            opts.append(Option("--every", (t[j + 1],), inv))
        elif mode == "nth" and w == "packet" and j + 1 < n:
            opts.append(Option("--packet", (t[j + 1],)))
        else:
            break
        inv = False
        j += 2
    return Match("statistic", tuple(opts)), j


_RECENT_CMD = {"SET": "--set", "CHECK": "--rcheck", "UPDATE": "--update", "REMOVE": "--remove"}


def _m_recent(t, i, neg, ctx):
    j = i + 1
    n = len(t)
    cmd = seconds = hit = name = mask = side = None
    reap = rttl = False
    while j < n:
        w = t[j]
        if w in _RECENT_CMD and cmd is None:
            cmd = _RECENT_CMD[w]
            j += 1
        elif w == "seconds:" and j + 1 < n:
            seconds, j = t[j + 1], j + 2
        elif w == "reap":
            reap, j = True, j + 1
        elif w == "hit_count:" and j + 1 < n:
            hit, j = t[j + 1], j + 2
        elif w == "TTL-Match":
            rttl, j = True, j + 1
        elif w == "name:" and j + 1 < n:
            name, j = t[j + 1], j + 2
        elif w == "side:" and j + 1 < n:
            side, j = t[j + 1], j + 2
        elif w == "mask:" and j + 1 < n:
            mask, j = t[j + 1], j + 2
        else:
            break
    if cmd is None:
        raise _Unknown
    opts = [Option(cmd, (), neg)]
    if seconds is not None:
        opts.append(Option("--seconds", (seconds,)))
    if reap:
        opts.append(Option("--reap"))
    if hit is not None:
        opts.append(Option("--hitcount", (hit,)))
    if rttl:
        opts.append(Option("--rttl"))
    if name is not None:
        opts.append(Option("--name", (name,)))
    if mask is not None:
        opts.append(Option("--mask", (mask,)))
    if side is not None:
        opts.append(Option("--rsource" if side == "source" else "--rdest"))
    return Match("recent", tuple(opts)), j


def _m_set(t, i, neg, ctx):
    if i + 2 >= len(t):
        raise _Unknown
    return Match("set", (Option("--match-set", (t[i + 1], t[i + 2]), neg),)), i + 3


_OWNER = {"UID": "--uid-owner", "GID": "--gid-owner"}


def _m_owner(t, i, neg, ctx):
    opts: list[Option] = []
    n = len(t)
    inv = neg
    while i < n:
        j = i
        if t[j] == "!" and j + 1 < n and t[j + 1] == "owner" and opts:
            inv, j = True, j + 1
        if t[j] != "owner" or j + 1 >= n:
            break
        kind = t[j + 1]
        if kind in _OWNER and j + 3 < n + 1 and j + 2 < n and t[j + 2] == "match":
            k = j + 3
            if k < n and t[k] == "!":
                inv, k = True, k + 1
            if k >= n:
                break
            opts.append(Option(_OWNER[kind], (t[k],), inv))
            i = k + 1
        elif kind == "socket" and j + 2 < n and t[j + 2] == "exists":
            opts.append(Option("--socket-exists", (), inv))
            i = j + 3
        else:
            break
        inv = False
    if not opts:
        raise _Unknown
    return Match("owner", tuple(opts)), i


def _m_nfacct(t, i, neg, ctx):
    if i + 1 >= len(t):
        raise _Unknown
    return Match("nfacct", (Option("--nfacct-name", (t[i + 1],)),)), i + 2


def _m_limit(t, i, neg, ctx):
    if i + 2 >= len(t) or t[i + 1] != "avg":
        raise _Unknown
    opts = [Option("--limit", (t[i + 2],))]
    j = i + 3
    if j + 1 < len(t) and t[j] == "burst":
        if t[j + 1] != "5":  # libxt_limit saves --limit-burst only when it is not the default 5
            opts.append(Option("--limit-burst", (t[j + 1],)))
        j += 2
    return Match("limit", tuple(opts)), j


def _m_addrtype(t, i, neg, ctx):
    if i + 1 >= len(t) or t[i + 1] != "match":
        raise _Unknown
    j = i + 2
    opts: list[Option] = []
    n = len(t)
    while j < n:
        w = t[j]
        if w in ("src-type", "dst-type") and j + 1 < n:
            v = t[j + 1]
            inv = v.startswith("!")
            opts.append(Option("--" + w, (v[1:] if inv else v,), inv))
            j += 2
        elif w == "limit-in":
            opts.append(Option("--limit-iface-in"))
            j += 1
        elif w == "limit-out":
            opts.append(Option("--limit-iface-out"))
            j += 1
        else:
            break
    return Match("addrtype", tuple(opts)), j


def _m_iprange(t, i, neg, ctx):
    opts: list[Option] = []
    n = len(t)
    while i + 3 < n and t[i] in ("source", "destination") and t[i + 1] == "IP" and t[i + 2] == "range":
        j = i + 3
        inv = False
        if t[j] == "!":
            inv, j = True, j + 1
        if j >= n:
            break
        opts.append(Option("--src-range" if t[i] == "source" else "--dst-range", (t[j],), inv))
        i = j + 1
    if not opts:
        raise _Unknown
    return Match("iprange", tuple(opts)), i


def _m_mac(t, i, neg, ctx):
    inv, v, j = _value(t, i + 1, neg, glued=False)
    return Match("mac", (Option("--mac-source", (v,), inv),)), j


def _m_pkttype(t, i, neg, ctx):
    if i + 2 >= len(t) or t[i + 1] not in ("=", "!="):
        raise _Unknown
    return Match("pkttype", (Option("--pkt-type", (t[i + 2],), t[i + 1] == "!="),)), i + 3


def _m_length(t, i, neg, ctx):
    inv, v, j = _value(t, i + 1, neg)
    if not re.match(r"^\d+(:\d+)?$", v):
        raise _Unknown
    return Match("length", (Option("--length", (v,), inv),)), j


def _m_helper(t, i, neg, ctx):
    if i + 2 >= len(t) or t[i + 1] != "match":
        raise _Unknown
    inv, v, j = _value(t, i + 2, neg, glued=False)
    return Match("helper", (Option("--helper", (_unquote(v),), inv),)), j


_TTL_OPS = {"==": ("--ttl-eq", False), "!=": ("--ttl-eq", True), "<": ("--ttl-lt", False), ">": ("--ttl-gt", False)}


def _m_ttl(t, i, neg, ctx):
    if i + 4 >= len(t) or t[i + 1] != "match" or t[i + 2] != "TTL" or t[i + 3] not in _TTL_OPS:
        raise _Unknown
    flag, inv = _TTL_OPS[t[i + 3]]
    return Match("ttl", (Option(flag, (t[i + 4],), inv),)), i + 5


def _m_match_value(module: str, flag: str):
    """The reader of ``<word> match [!]VALUE`` (how dscp, tos and tcpmss print) for ``module --flag``."""
    def read(t, i, neg, ctx):
        if i + 2 >= len(t) or t[i + 1] != "match":
            raise _Unknown
        v = t[i + 2]
        inv = v.startswith("!")
        return Match(module, (Option(flag, (v[1:] if inv else v,), inv),)), i + 3
    return read


_m_dscp = _m_match_value("dscp", "--dscp")
_m_tos = _m_match_value("tos", "--tos")
_m_tcpmss = _m_match_value("tcpmss", "--mss")


def _m_policy(t, i, neg, ctx):
    if i + 1 >= len(t) or t[i + 1] != "match":
        raise _Unknown
    j = i + 2
    opts: list[Option] = []
    while j + 1 < len(t) and t[j] in ("dir", "pol"):
        opts.append(Option("--" + t[j], (t[j + 1],)))
        j += 2
    if j < len(t) and t[j] == "strict":
        opts.append(Option("--strict"))
        j += 1
    return Match("policy", tuple(opts)), j


def _m_quota(t, i, neg, ctx):
    if i + 2 >= len(t) or t[i + 2] != "bytes":
        raise _Unknown
    return Match("quota", (Option("--quota", (t[i + 1],), neg),)), i + 3


def _m_devgroup(t, i, neg, ctx):
    opts = []
    n = len(t)
    while i + 1 < n and t[i] in ("src-group", "dst-group"):
        j = i + 1
        inv = False
        if t[j] == "!":
            inv, j = True, j + 1
        opts.append(Option("--" + t[i], (t[j],), inv))
        i = j + 1
    return Match("devgroup", tuple(opts)), i


def _m_connbytes(t, i, neg, ctx):
    if i + 7 >= len(t) or (t[i + 2], t[i + 3], t[i + 5], t[i + 6]) != ("connbytes", "mode", "connbytes", "direction"):
        raise _Unknown
    v = t[i + 1]
    inv = v.startswith("!")
    return Match("connbytes", (Option("--connbytes", (v[1:] if inv else v,), inv),
                               Option("--connbytes-mode", (t[i + 4],)), Option("--connbytes-dir", (t[i + 7],)))), i + 8


def _m_u32(t, i, neg, ctx):
    if i + 1 >= len(t):
        raise _Unknown
    return Match("u32", (Option("--u32", (_unquote(t[i + 1]),), neg),)), i + 2


def _m_socket(t, i, neg, ctx):
    return Match("socket", ()), i + 1


def _m_string(t, i, neg, ctx):
    if i + 1 >= len(t) or t[i + 1] != "match":
        raise _Unknown
    j = i + 2
    inv = neg
    if j < len(t) and t[j] == "!":
        inv, j = True, j + 1
    if j + 3 >= len(t) + 0 or t[j + 1] != "ALGO" or t[j + 2] != "name":
        raise _Unknown
    return Match("string", (Option("--string", (_unquote(t[j]),), inv), Option("--algo", (t[j + 3],)))), j + 4


def _m_physdev(t, i, neg, ctx):
    if i + 1 >= len(t) or t[i + 1] != "match":
        raise _Unknown
    j = i + 2
    opts = []
    inv = False
    while j < len(t):
        w = t[j]
        if w == "!":
            inv, j = True, j + 1
            continue
        if w in ("--physdev-in", "--physdev-out") and j + 1 < len(t):
            opts.append(Option(w, (t[j + 1],), inv))
            j += 2
        elif w in ("--physdev-is-in", "--physdev-is-out", "--physdev-is-bridged"):
            opts.append(Option(w, (), inv))
            j += 1
        else:
            break
        inv = False
    return Match("physdev", tuple(opts)), j


def _comment_reader():
    ext = match_extension("comment")
    assert ext is not None and ext.read_listing is not None
    return ext.read_listing


_MATCHES = {
    "tcp": _m_proto, "udp": _m_proto, "udplite": _m_proto, "sctp": _m_proto, "dccp": _m_proto,
    "multiport": _m_multiport, "mark": _m_mark, "connmark": _m_mark,
    "statistic": _m_statistic, "recent:": _m_recent, "match-set": _m_set, "owner": _m_owner,
    "nfacct-name": _m_nfacct, "limit:": _m_limit, "ADDRTYPE": _m_addrtype, "source": _m_iprange,
    "destination": _m_iprange, "MAC": _m_mac, "PKTTYPE": _m_pkttype, "length": _m_length,
    "helper": _m_helper, "TTL": _m_ttl, "DSCP": _m_dscp, "tos": _m_tos, "tcpmss": _m_tcpmss,
    "policy": _m_policy, "quota:": _m_quota, "src-group": _m_devgroup, "dst-group": _m_devgroup,
    "connbytes": _m_connbytes, "u32": _m_u32, "socket": _m_socket, "STRING": _m_string, "PHYSDEV": _m_physdev,
}


# --------------------------------------------------------------------------- target printers
# Each takes (tokens, i, target, ctx) and returns (options, next_i[, new_target]).

def _flags_after(t, j, allowed: dict[str, str]) -> tuple[list[Option], int]:
    opts = []
    while j < len(t) and t[j] in allowed:
        opts.append(Option(allowed[t[j]]))
        j += 1
    return opts, j


def _t_nat(t, i, target, ctx):
    w = t[i]
    if not w.startswith("to:"):
        raise _Unknown
    flag = {"DNAT": "--to-destination", "SNAT": "--to-source", "NETMAP": "--to"}[target]
    opts = [Option(flag, (w[3:],))]
    more, j = _flags_after(t, i + 1, {"random": "--random", "random-fully": "--random-fully",
                                       "persistent": "--persistent"})
    return opts + more, j


def _ports_target(lead: tuple[str, str], flags: dict[str, str]):
    """MASQUERADE (``masq ports: A-B``) and REDIRECT (``redir ports 15001``): optional
    ``--to-ports`` after ``lead``, then flag words such as ``random-fully``."""
    def read(t, i, target, ctx):
        opts = []
        j = i
        if t[j] == lead[0] and j + 2 < len(t) and t[j + 1] == lead[1]:
            opts.append(Option("--to-ports", (t[j + 2],)))
            j += 3
        more, j = _flags_after(t, j, flags)
        if j == i:
            raise _Unknown
        return opts + more, j
    return read


_t_masq = _ports_target(("masq", "ports:"), {"random": "--random", "random-fully": "--random-fully"})
_t_redirect = _ports_target(("redir", "ports"), {"random": "--random"})


def _t_reject(t, i, target, ctx):
    if t[i] != "reject-with" or i + 1 >= len(t):
        raise _Unknown
    return [Option("--reject-with", (t[i + 1],))], i + 2


def _t_log(t, i, target, ctx):
    if t[i] != "LOG":
        raise _Unknown
    j = i + 1
    n = len(t)
    flags = 0
    level = 4
    prefix = None
    while j < n:
        w = t[j]
        if w == "flags" and j + 1 < n and t[j + 1].isdecimal():
            flags, j = int(t[j + 1]), j + 2
        elif w == "level" and j + 1 < n:
            v = t[j + 1]
            level = int(v) if v.isdecimal() else _LOG_LEVELS.get(v, 4)
            if not v.isdecimal():
                ctx.names.append(f"level {v}={level}")
            j += 2
        elif w == "prefix" and j + 1 < n:
            prefix, j = _unquote(t[j + 1]), j + 2
        elif any(w == name for name, _, _ in _LOG_FLAGS):
            flags |= next(bit for name, bit, _ in _LOG_FLAGS if name == w)
            j += 1
        else:
            break
    opts = []
    if prefix:
        opts.append(Option("--log-prefix", (prefix,)))
    if level != 4:
        opts.append(Option("--log-level", (str(level),)))
    for _, bit, flag in _LOG_FLAGS:
        if flags & bit:
            opts.append(Option(flag))
    return opts, j


def _xmark(t, i, word):
    if t[i] != word or i + 1 >= len(t):
        raise _Unknown
    op = t[i + 1]
    if op == "xset" and i + 2 < len(t):
        return Option("--set-xmark", (t[i + 2],)), i + 3
    if i + 2 >= len(t):
        raise _Unknown
    v = int(t[i + 2], 16)
    if op == "or":
        val, mask = v, v
    elif op == "xor":
        val, mask = v, 0
    elif op == "set":
        val, mask = v, 0xFFFFFFFF
    elif op == "and":
        val, mask = 0, ~v & 0xFFFFFFFF
    else:
        raise _Unknown
    return Option("--set-xmark", (f"{_hex(val)}/{_hex(mask)}",)), i + 3


def _t_mark(t, i, target, ctx):
    o, j = _xmark(t, i, "MARK")
    return [o], j


def _t_connmark(t, i, target, ctx):
    if t[i] != "CONNMARK" or i + 1 >= len(t):
        raise _Unknown
    op = t[i + 1]
    if op in ("save", "restore"):
        j = i + 2
        nf = ct = "0xffffffff"
        n = len(t)
        while j + 1 < n and t[j] in ("mask", "nfmask", "ctmask"):
            v = t[j + 1].lstrip("~")
            if t[j] == "mask":
                nf = ct = v
            elif t[j] == "nfmask":
                nf = v
            else:
                ct = v
            j += 2
        return [Option("--save-mark" if op == "save" else "--restore-mark"), Option("--nfmask", (nf,)),
                Option("--ctmask", (ct,))], j
    o, j = _xmark(t, i, "CONNMARK")
    return [o], j


def _t_tproxy(t, i, target, ctx):
    if t[i] != "TPROXY" or i + 2 >= len(t) or t[i + 1] != "redirect":
        raise _Unknown
    ip, _, port = t[i + 2].rpartition(":")
    opts = [Option("--on-port", (port,)), Option("--on-ip", (ip.strip("[]"),))]
    j = i + 3
    if j + 1 < len(t) and t[j] == "mark":
        opts.append(Option("--tproxy-mark", (t[j + 1],)))
        j += 2
    return opts, j


def _t_ct(t, i, target, ctx):
    w = t[i]
    if w == "NOTRACK":
        return ([], i + 1, "NOTRACK")
    if w != "CT" or i + 1 >= len(t):
        raise _Unknown
    j = i + 1
    opts = []
    n = len(t)
    while j < n:
        if t[j] == "notrack":
            opts.append(Option("--notrack"))
            j += 1
        elif t[j] in ("helper", "zone", "timeout", "ctevents", "expevents") and j + 1 < n:
            opts.append(Option("--" + t[j], (t[j + 1],)))
            j += 2
        else:
            break
    return opts, j


def _t_simple(word: str, table: dict[tuple[str, ...], tuple[str, bool]]):
    """Targets printed as ``WORD words... [value]`` → ``--flag [value]``."""
    def printer(t, i, target, ctx):
        if t[i] != word:
            raise _Unknown
        for words, (flag, takes) in table.items():
            k = len(words)
            if tuple(t[i + 1:i + 1 + k]) == words:
                if takes:
                    if i + 1 + k >= len(t):
                        raise _Unknown
                    return [Option(flag, (t[i + 1 + k],))], i + 2 + k
                return [Option(flag)], i + 1 + k
        raise _Unknown
    return printer


def _t_classify(t, i, target, ctx):
    if t[i] != "CLASSIFY" or i + 2 >= len(t) or t[i + 1] != "set":
        raise _Unknown
    major, _, minor = t[i + 2].partition(":")
    return [Option("--set-class", ("%04x:%04x" % (int(major, 16), int(minor or "0", 16)),))], i + 3


def _t_nflog(t, i, target, ctx):
    opts = []
    j = i
    while j + 1 < len(t) and t[j].startswith("nflog-"):
        opts.append(Option("--" + t[j], (_unquote(t[j + 1]),)))
        j += 2
    if j == i:
        raise _Unknown
    return opts, j


_TARGETS = {
    "DNAT": _t_nat, "SNAT": _t_nat, "NETMAP": _t_nat, "MASQUERADE": _t_masq, "REDIRECT": _t_redirect,
    "REJECT": _t_reject, "LOG": _t_log, "MARK": _t_mark, "CONNMARK": _t_connmark, "TPROXY": _t_tproxy,
    "CT": _t_ct, "CLASSIFY": _t_classify, "NFLOG": _t_nflog,
    "CHECKSUM": _t_simple("CHECKSUM", {("fill",): ("--checksum-fill", False)}),
    "TCPMSS": _t_simple("TCPMSS", {("clamp", "to", "PMTU"): ("--clamp-mss-to-pmtu", False),
                                   ("set",): ("--set-mss", True)}),
    "TOS": _t_simple("TOS", {("set",): ("--set-tos", True)}),
    "DSCP": _t_simple("DSCP", {("set",): ("--set-dscp", True)}),
    "TTL": _t_simple("TTL", {("set", "to"): ("--ttl-set", True), ("increment", "by"): ("--ttl-inc", True),
                             ("decrement", "by"): ("--ttl-dec", True)}),
}

# a match keyword that is also a target's first printed word only counts as a match when
# the next word says so ("TTL match" vs "TTL set to", "DSCP match" vs "DSCP set")
_NEEDS_MATCH_WORD = frozenset({"TTL", "DSCP", "tos", "helper", "mark", "connmark", "tcpmss", "policy"})


def listed_options(text: str, target: str | None, protocol: str | None = None, *, family: str = "ipv4",
                   reflowed: bool = False) -> tuple[tuple[Match, ...], tuple[Option, ...], str | None, list[str], list[str]]:
    """Map the options text of one listed rule (everything after the destination column) to
    save-form matches and target options.

    Returns ``(matches, target_options, target, unparsed_texts, resolved_names)``; text that no
    printer recognises is kept as ``Match("?", (Option("--unparsed", (text,)),))``.

    >>> m, o, tgt, bad, _ = listed_options('/* kube-system/kube-dns:dns */ udp to:192.168.1.77:53', "DNAT", "udp")
    >>> " ".join(x.to_save() for x in m), " ".join(x.to_save() for x in o)
    ('-m comment --comment "kube-system/kube-dns:dns" -m udp', '--to-destination 192.168.1.77:53')
    >>> m, o, tgt, bad, _ = listed_options("MARK or 0x4000", "MARK"); o[0].to_save()
    '--set-xmark 0x4000/0x4000'
    >>> m, o, tgt, bad, _ = listed_options("frobnicate 7", "ACCEPT"); (m[0].module, bad)
    ('?', ['frobnicate 7'])
    """
    t = _tokens(text, reflowed)
    ctx = _Ctx(protocol, family, [])
    matches: list[Match] = []
    topts: list[Option] = []
    unknown: list[str] = []
    bad: list[str] = []
    text_ext = target_extension(target or "")
    tprinter = text_ext.read_listing if text_ext is not None and text_ext.read_listing else _TARGETS.get(target or "")
    if target == "CT" or target == "NOTRACK":
        tprinter = _t_ct
    i = 0
    n = len(t)
    neg = False

    def flush():
        if unknown:
            txt = " ".join(unknown)
            matches.append(Match("?", (Option(UNPARSED, (txt,)),)))
            bad.append(txt)
            unknown.clear()

    while i < n:
        w = t[i]
        if w.startswith("/*"):
            flush()
            matches.append(_comment_reader()(t, i, False, ctx)[0])
            i += 1
            continue
        if w == "!" and i + 1 < n:
            neg = True
            i += 1
            continue
        key = w
        if w.startswith("icmp") or w.startswith("ipv6-icmp"):
            fn = _m_icmp
        else:
            ext = listing_reader(key)
            fn = ext.read_listing if ext is not None else _MATCHES.get(key)
            if fn is not None and key in _NEEDS_MATCH_WORD and (i + 1 >= n or t[i + 1] != "match"):
                fn = None
            if fn is _m_iprange and not (i + 2 < n and t[i + 1] == "IP"):
                fn = None
        if fn is not None:
            try:
                m, j = fn(t, i, neg, ctx)
            except (_Unknown, ValueError, IndexError):
                fn = None
            else:
                flush()
                matches.append(m)
                i = j
                neg = False
                continue
        if tprinter is not None and not topts:
            try:
                res = tprinter(t, i, target, ctx)
            except (_Unknown, ValueError, IndexError):
                pass
            else:
                flush()
                topts.extend(res[0])
                if len(res) > 2:
                    target = res[2]
                i = res[1]
                neg = False
                continue
        if neg:
            unknown.append("!")
            neg = False
        unknown.append(w)
        i += 1
    if neg:
        unknown.append("!")
    flush()
    if target == "REJECT" and not topts:
        topts.append(Option("--reject-with", ("icmp-port-unreachable",)))
    return tuple(matches), tuple(topts), target, bad, ctx.names


# --------------------------------------------------------------------------- the listing
@dataclass
class _Columns:
    num: bool = False
    counters: bool = True
    inout: bool = True

    @classmethod
    def from_header(cls, words: list[str]) -> "_Columns":
        return cls(num=words[0] == "num", counters="pkts" in words, inout="in" in words)


@dataclass
class _Section:
    table: str | None
    family: str | None
    line: int
    why: str | None = None
    chains: dict[str, Chain] = field(default_factory=dict)
    targets: set[str] = field(default_factory=set)
    trailer: tuple[int, int] | None = None      # (line, N) of "Total Number of Rules: N"
    sed_count: int = 0                           # lines the EKS collector's sed would count


_HEADER_WORDS = frozenset({"num", "pkts", "target"})
_BUILTIN_NAMES = frozenset({"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"})
_SED_SKIP = re.compile(r"^num|^$|^Chain|^ pkts.*.destination")


def parse_listing(text: str | bytes, source: str = "<text>", strict: bool = True, table: str | None = None,
                  *, family: str | None = None) -> Ruleset:
    """Parse ``iptables -L`` output into a :class:`~workbook.model.Ruleset` (``format="listing"``).

    Accepts ``-L -n -v`` with or without ``-x`` and ``--line-numbers``, ``-L -n`` (no counters,
    no in/out), ``-L -v`` without ``-n`` (names: ``anywhere``, service names resolved through
    ``/etc/services``), iptables 1.8.9/1.8.10 numeric protocols, ``| column -t`` re-flowed
    output, pasted shell sessions (the table is read from ``iptables -t nat -L`` prompt lines)
    and the EKS log collector's ``Total Number of Rules: N`` trailer (the count is checked).
    Without a table from the caller or a command line, it is inferred (see
    :func:`~workbook.parse.spec.infer_table`) and the guess is noted in ``ruleset.notes``.

    Each rule is mapped back to the save form (``Rule.spec`` equals the iptables-save line
    where the listing shows enough). Counters printed with K/M/G/T are decimal and rounded:
    such rules and chains have ``counters_approx=True`` and the rules frame gets a
    ``counters_approx`` column. Listing text no printer recognises never fails the parse: it is
    kept in the rule as ``Match("?", (Option("--unparsed", (text,)),))``; ``strict=False`` also
    lists it in ``problems`` while ``strict=True`` only counts it in ``notes``. Lines that are
    not a listing at all raise :class:`~workbook.model.ParseError` with ``strict``.

    What a listing cannot show, so a listed rule's ``spec`` can differ from iptables-save:
    in/out interfaces without ``-v``; exact counters without ``-x``; numbers for names
    without ``-n`` (ports are resolved through ``/etc/services``, user/host names are kept as
    printed); defaults that save prints but ``-L`` hides (hashlimit burst/mode, connlimit
    mask, time's datestop: such rules keep their text as ``-m ?``); the original spacing of a
    comment in ``| column -t`` output (runs of blanks become one space).

    >>> rs = parse_listing('''Chain KUBE-MARK-MASQ (9 references)
    ...  pkts bytes target     prot opt in     out     source               destination
    ...     3   180 MARK       all  --  *      *       0.0.0.0/0            0.0.0.0/0            MARK or 0x4000
    ... ''', "l.txt", table="nat")
    >>> r = rs.chain("nat", "KUBE-MARK-MASQ").rules[0]
    >>> r.spec, r.counters, rs.chain("nat", "KUBE-MARK-MASQ").references
    ('-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000', (3, 180), 9)
    """
    text = check_text(text, source)
    if table is not None and table not in KNOWN_TABLES:
        raise ParseError(source, 0, f"unknown table {table!r} (known: raw, mangle, nat, filter, security)")
    rs = Ruleset(source=source, format="listing")
    problems = rs.problems
    notes = rs.notes

    def problem(lineno: int, msg: str, line: str) -> None:
        if strict:
            raise ParseError(source, lineno, msg)
        problems.append(Problem(source, lineno, msg, line))

    sections: list[_Section] = [_Section(table, family, 1, "given" if table else None)]
    chain: Chain | None = None
    cols: _Columns | None = None
    reflowed = False
    skipping = False
    approx_any = False
    unparsed_count = 0
    names_resolved: set[str] = set()
    lines = split_lines(text)
    for lineno, raw in enumerate(lines, 1):
        stripped = raw.strip()
        sec = sections[-1]
        if not stripped:
            if not skipping:
                pass
            continue
        if stripped.startswith("Total Number of Rules:"):
            num = stripped.rpartition(":")[2].strip()
            if num.isdecimal():
                sec.trailer = (lineno, int(num))
                continue
        if stripped.startswith("=====") and not stripped.strip("="):
            continue
        cmd = prompt_command(raw) if not raw[:1].isdecimal() else None
        if cmd is not None and not stripped.startswith("Chain"):
            if not cmd:
                continue
            c = parse_command(cmd)
            if c is None or c.kind != "listing":
                skipping = True
                if c is not None and c.kind in ("spec", "save"):
                    problem(lineno, f"{c.kind} output of {cmd!r} inside an iptables -L dump (parse it separately)", raw)
                else:
                    notes.append(f"{source}:{lineno}: skipped shell command {cmd!r}")
                continue
            skipping = False
            t = table or c.default_table
            why = f"from the command line {cmd!r}" if c.table else f"{cmd!r} has no -t: filter"
            sections.append(_Section(t, c.family, lineno, why))
            chain = None
            cols = None
            continue
        if stripped.startswith("#"):
            if "Warning:" in stripped:
                notes.append(stripped.lstrip("# ").strip())
            continue
        if skipping:
            continue
        words = stripped.split()
        if words[0] == "Chain":
            norm = " ".join(words)
            m = _CHAIN.match(norm)
            if not m:
                problem(lineno, f"bad chain header {norm[:70]!r}", raw)
                chain = None
                continue
            name, pol, pk, by, refs = m.groups()
            reflowed = "  " in stripped
            if name in sec.chains:
                if name in _BUILTIN_NAMES:
                    # the same built-in chain again without a command line: another table's listing
                    sec = _Section(table, family, lineno, "given" if table else None)
                    sections.append(sec)
                else:
                    notes.append(f"{source}:{lineno}: chain {name} listed again; keeping the later listing")
                    del sec.chains[name]
            ch = Chain("", name, origin=f"{source}:{lineno}")
            if pol is not None:
                ch.policy = pol
                if pk is not None:
                    p = parse_count(pk)
                    b = parse_count(by)
                    if p is None or b is None:
                        problem(lineno, f"bad policy counters in {norm!r}", raw)
                    else:
                        ch.pkts, ch.bytes = p[0], b[0]
                        if p[1] or b[1]:
                            ch.counters_approx = True
                            approx_any = True
            elif refs is not None:
                ch.references = int(refs)
            sec.chains[name] = ch
            chain = ch
            cols = None
            sec.sed_count += 0
            continue
        if words[0] in _HEADER_WORDS and "source" in words and "destination" in words:
            cols = _Columns.from_header(words)
            if _SED_SKIP.match(raw) is None:
                sec.sed_count += 1
            continue
        if chain is None:
            problem(lineno, f"not an iptables -L line: {stripped[:60]!r}", raw)
            continue
        if _SED_SKIP.match(raw) is None:
            sec.sed_count += 1
        res = _rule(raw, words, cols, chain, sec, family or sec.family or "ipv4", reflowed, f"{source}:{lineno}")
        if isinstance(res, str):
            problem(lineno, res, raw)
            if _SED_SKIP.match(raw) is None:
                sec.sed_count -= 1
            continue
        rule, bad, names, approx = res
        if approx:
            approx_any = True
        names_resolved.update(names)
        if bad:
            unparsed_count += 1
            if not strict:
                for b in bad:
                    problems.append(Problem(source, lineno, f"listing text not understood, kept as -m ? --unparsed: {b!r}", raw))
        chain.rules.append(rule)

    fam_all = family or next((s.family for s in sections if s.family), None)
    for sec in sections:
        if not sec.chains:
            if sec.trailer:
                _check_trailer(sec, 0, problem)
            continue
        tname = sec.table
        if tname is None:
            tname, why = infer_table(sec.chains, sec.targets)
            notes.append(f"{source}: table {tname!r} inferred: {why}")
        _check_trailer(sec, sum(len(c.rules) for c in sec.chains.values()), problem)
        tbl = rs.tables.get(tname)
        if tbl is None:
            tbl = rs.tables[tname] = Table(tname)
        for name, ch in sec.chains.items():
            ch.table = tname
            ch.rules[:] = [replace(r, table=tname) for r in ch.rules]
            if name in tbl.chains:
                notes.append(f"{source}:{sec.line}: chain {tname}/{name} listed again; keeping the later listing")
            tbl.chains[name] = ch
    fam = fam_all or ("ipv6" if any(r.source and ":" in r.source or r.destination and ":" in r.destination
                                   for r in rs.iter_rules()) else "ipv4")
    rs.family = fam
    if fam == "ipv6":
        for c in rs.iter_chains():
            c.rules[:] = [r if r.family == "ipv6" else replace(r, family="ipv6") for r in c.rules]
    _order_chains(rs)
    if approx_any:
        notes.append(f"{source}: counters printed with K/M/G/T are rounded (decimal ×1000 steps); "
                     "those rules/chains have counters_approx=True")
    if unparsed_count and strict:
        notes.append(f"{source}: {unparsed_count} rule(s) have listing text that was not understood, "
                     "kept as -m ? --unparsed (parse with strict=False to list them as problems)")
    if names_resolved:
        notes.append(f"{source}: names resolved to numbers (listing without -n): {', '.join(sorted(names_resolved))}")
    return rs


def _check_trailer(sec: _Section, rules: int, problem) -> None:
    if sec.trailer is None:
        return
    line, n = sec.trailer
    if n != sec.sed_count:
        problem(line, f"trailer says 'Total Number of Rules: {n}' but the listing above has {sec.sed_count} "
                      f"rule line(s) ({rules} parsed): truncated or edited file?", "")


def _rule(raw: str, words: list[str], cols: _Columns | None, chain: Chain, sec: _Section, family: str,
          reflowed: bool, origin: str):
    """One rule line → (Rule, unparsed texts, resolved names, approx) or an error message."""
    if cols is None:  # no column header seen: guess from the first words
        cols = _Columns(num=False, counters=len(words) > 1 and parse_count(words[0]) is not None
                        and parse_count(words[1]) is not None, inout=True)
        if not cols.counters:
            cols.inout = False
    spans = [m for m in re.finditer(r"\S+", raw)]
    toks = [m.group(0) for m in spans]
    i = 0
    n = len(toks)
    position = len(chain.rules) + 1
    if cols.num:
        if not toks[0].isdecimal():
            return f"expected a rule number, got {toks[0]!r}"
        if int(toks[0]) != position:
            return f"rule number {toks[0]} but this is rule {position} of chain {chain.name} (lines missing?)"
        i = 1
    pkts = byts = None
    approx = False
    if cols.counters:
        if n < i + 2:
            return f"not an iptables -L rule line: {raw.strip()[:60]!r}"
        p, b = parse_count(toks[i]), parse_count(toks[i + 1])
        if p is None or b is None:
            return f"bad counters {toks[i]!r} {toks[i + 1]!r}"
        pkts, byts = p[0], b[0]
        approx = p[1] or b[1]
        i += 2
    need = 2 + (2 if cols.inout else 0) + 2
    if n < i + need - 1:
        return f"not an iptables -L rule line: {raw.strip()[:60]!r}"
    if i + 2 < n and toks[i + 2] in _OPTS:
        target, prot, frag = toks[i], toks[i + 1], toks[i + 2]
        i += 3
    elif i + 1 < n and toks[i + 1] in _OPTS:
        target, prot, frag = None, toks[i], toks[i + 1]
        i += 2
    else:
        return f"cannot find the prot/opt columns in {raw.strip()[:60]!r}"
    if n < i + (4 if cols.inout else 2):
        return f"not an iptables -L rule line: {raw.strip()[:60]!r}"
    f: dict = {}
    pneg = prot.startswith("!")
    if pneg:
        prot = prot[1:]
    proto = _PROTO_NAMES.get(prot, prot) if prot.isdecimal() or prot == "all" else prot
    if proto is not None:
        f["protocol"] = proto
        f["protocol_negated"] = pneg
    if frag != "--":
        f["fragment"] = frag == "-f"
    if cols.inout:
        iv, ineg = _iface(toks[i])
        ov, oneg = _iface(toks[i + 1])
        if iv is not None:
            f["in_interface"], f["in_interface_negated"] = iv, ineg
        if ov is not None:
            f["out_interface"], f["out_interface_negated"] = ov, oneg
        i += 2
    sv, sneg = _addr(toks[i], family)
    dv, dneg = _addr(toks[i + 1], family)
    if sv is not None:
        f["source"], f["source_negated"] = sv, sneg
    if dv is not None:
        f["destination"], f["destination_negated"] = dv, dneg
    rest = raw[spans[i + 1].end():].strip()
    goto = False
    if rest.startswith("[goto]"):
        goto = True
        rest = rest[6:].strip()
    matches, topts, target2, bad, names = listed_options(rest, target, proto, family=family, reflowed=reflowed)
    if target2:
        sec.targets.add(target2)
    rule = Rule(table="", chain=chain.name, position=position, matches=matches, target=target2, goto=goto,
                target_options=topts, pkts=pkts, bytes=byts, family=family, origin=origin,
                counters_approx=approx, **f)
    return rule, bad, names, approx
