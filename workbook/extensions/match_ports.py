"""``-m tcp``, ``udp``, ``udplite``, ``sctp``, ``dccp`` (``xt_tcpudp``, ``xt_sctp``, ``xt_dccp``) and
``-m multiport`` (``xt_multiport``): ports, TCP flags and options, SCTP chunk types, DCCP packet types.

What the tracer knows of a packet beyond its ports: a first packet (conntrack NEW) of TCP is a SYN,
of SCTP one INIT chunk, of DCCP a REQUEST (what a connecting socket sends); ``Packet.extra
["tcp_flags"]`` gives other TCP flags. Later packets' flags are assumed ACK, their chunks and
types are not known (assumed), nor are TCP/DCCP options.
"""

from __future__ import annotations

from ..model import Match, Option, Rule
from ..parse.listing_words import TCP_FLAGS, ListingContext, NotThisReader, port_words, tcp_flag_bits, tcp_flag_names
from ..trace.state import Assume, AssumeFail, State
from ._ports import PORT_FIELDS, listed_port, port_check, ranges_text, read_port_word
from .registry import Extension, OptionSpec

__all__ = ["EXTENSIONS", "packet_tcp_flags"]


#: SCTP chunk types by number (libxt_sctp's names; iptables-save lists them in this order)
SCTP_CHUNKS = {0: "DATA", 1: "INIT", 2: "INIT_ACK", 3: "SACK", 4: "HEARTBEAT", 5: "HEARTBEAT_ACK", 6: "ABORT",
               7: "SHUTDOWN", 8: "SHUTDOWN_ACK", 9: "ERROR", 10: "COOKIE_ECHO", 11: "COOKIE_ACK", 12: "ECN_ECNE",
               13: "ECN_CWR", 14: "SHUTDOWN_COMPLETE", 64: "I_DATA", 128: "ASCONF_ACK", 130: "RE_CONFIG",
               132: "PAD", 192: "FORWARD_TSN", 193: "ASCONF", 194: "I_FORWARD_TSN"}
_SCTP_NUM = {v: k for k, v in SCTP_CHUNKS.items()}
#: DCCP packet types (libxt_dccp); INVALID stands for 10-15
DCCP_TYPES = ("REQUEST", "RESPONSE", "DATA", "ACK", "DATAACK", "CLOSEREQ", "CLOSE", "RESET", "SYNC", "SYNCACK",
              "INVALID")
_PROTO_NUM = {"tcp": 6, "udp": 17, "udplite": 136, "sctp": 132, "dccp": 33}


# ---- TCP flags -------------------------------------------------------------------------------

def packet_tcp_flags(s: State) -> tuple[int, bool]:
    """(flags byte, known): given flags, else SYN for a first packet, else ACK (assumed)."""
    if s.tcp_flags is not None:
        return s.tcp_flags, True
    if s.ctstate == "NEW":
        return 0x02, True
    return 0x10, False


def _flag_names(bits: int) -> str:
    return ",".join(n for n, b in TCP_FLAGS if bits & b) or "NONE"


def _flags_check(o: Option) -> "object":
    if o.flag == "--syn":
        mask, comp = 0x17, 0x02
    else:
        mask, comp = tcp_flag_bits(o.args[0]), tcp_flag_bits(o.args[1])
    desc, neg = o.to_save(), o.negated

    def chk(s: State):
        flags, known = packet_tcp_flags(s)
        ok = ((flags & mask) == comp) != neg
        if not known:
            why = f"{desc}: a later packet's flags are not known; taken as ACK"
            return Assume(why) if ok else AssumeFail(why)
        return None if ok else f"{desc} does not match the flags {_flag_names(flags)}"
    return chk


# ---- the compiled checks -----------------------------------------------------------------------

def _proto_check(mod: str):
    num = _PROTO_NUM[mod]

    def chk(s: State):
        return None if s.proto_num == num else f"-m {mod}: not a {mod} packet"
    return chk


def _compile(comp, rule: Rule, m: Match, checks: list, stats: list) -> None:
    mod = m.module
    checks.append(comp.shared(("proto-of", mod), lambda: _proto_check(mod)))
    for o in m.options:
        known = PORT_FIELDS.get(o.flag)
        if known is not None and not known[0].endswith("s"):
            checks.append(port_check(comp, known[0], o.value, o.negated, known[1]))
        elif mod == "tcp" and o.flag in ("--tcp-flags", "--syn"):
            checks.append(_flags_check(o))
        elif mod == "sctp" and o.flag == "--chunk-types":
            checks.append(_chunks_check(o))
        elif mod == "dccp" and o.flag == "--dccp-types":
            checks.append(_dccp_types_check(o))
        elif o.flag in ("--tcp-option", "--dccp-option"):
            d = f"-m {mod} {o.to_save()}"
            checks.append(lambda s, d=d: Assume(f"{d}: the packet's {mod.upper()} options are not known; assumed to match"))
        else:
            comp.unknown_option(m, o, checks)


def _chunks_check(o: Option):
    """``xt_sctp``'s ``match_packet``: any/all/only of the listed chunk types (flags: assumed)."""
    how, _, spec = o.value.partition(" ")
    want: dict[int, str] = {}
    for item in spec.split(","):
        name, _, flags = item.partition(":")
        num = _SCTP_NUM.get(name.upper())
        if num is None:
            raise ValueError(f"unknown SCTP chunk type {name[:20]!r}")
        want[num] = flags
    desc, neg = o.to_save(), o.negated

    def chk(s: State):
        if s.ctstate != "NEW":
            return Assume(f"-m sctp {desc}: the chunks of a later packet are not known; assumed to match")
        have = {1}  # a first packet: one INIT chunk
        if any(want.get(c) for c in have):
            return Assume(f"-m sctp {desc}: chunk flags are not known; assumed to match")
        if how == "any":
            hit = bool(have & set(want))
        elif how == "all":
            hit = set(want) <= have
        else:  # only
            hit = have <= set(want)
        if hit != neg:
            return None
        return f"-m sctp {desc} does not match a first packet (one INIT chunk)"
    return chk


def _dccp_types_check(o: Option):
    want = set()
    for name in o.value.upper().split(","):
        if name not in DCCP_TYPES:
            raise ValueError(f"unknown DCCP type {name[:20]!r}")
        want.add(name)
    desc, neg = o.to_save(), o.negated

    def chk(s: State):
        if s.ctstate != "NEW":
            return Assume(f"-m dccp {desc}: the type of a later packet is not known; assumed to match")
        hit = "REQUEST" in want
        return None if hit != neg else f"-m dccp {desc} does not match a first packet (REQUEST)"
    return chk


# ---- save form tidying, listing ------------------------------------------------------------------

#: the order libxt_tcp/sctp/dccp print and save their options in: ports, then the rest
_PRINT_ORDER = {"--sport": 0, "--source-port": 0, "--dport": 1, "--destination-port": 1, "--tcp-option": 2,
                "--tcp-flags": 3, "--syn": 3, "--chunk-types": 2, "--dccp-types": 2, "--dccp-option": 3}


def _text(m: Match) -> str:
    """libxt_tcp/udp/sctp/dccp's ``print`` with ``-n``.

    >>> from workbook.model import Option as O
    >>> _text(Match("tcp", (O("--dport", ("1000:",), True), O("--tcp-flags", ("SYN,ACK,FIN,RST", "SYN")))))
    ' tcp dpts:!1000:65535 flags:0x17/0x02'
    """
    mod = m.module
    out = f" {mod}"
    for o in sorted(m.options, key=lambda o: _PRINT_ORDER.get(o.flag, 9)):  # libxt_*'s order, not as written
        known = PORT_FIELDS.get(o.flag)
        if known is not None and not known[0].endswith("s"):
            out += " " + listed_port("spt" if known[1] == "sport" else "dpt", o.value, o.negated)
        elif o.flag in ("--tcp-flags", "--syn"):
            mask, comp = (0x17, 0x02) if o.flag == "--syn" else (tcp_flag_bits(o.args[0]), tcp_flag_bits(o.args[1]))
            out += f" flags:{'!' if o.negated else ''}0x{mask:02X}/0x{comp:02X}"
        elif o.flag in ("--tcp-option", "--dccp-option"):
            out += f" option={'!' if o.negated else ''}{o.value}"
        elif o.flag == "--chunk-types":
            how, _, spec = o.value.partition(" ")
            items = []
            for item in sorted(spec.split(","), key=lambda x: _SCTP_NUM[x.partition(":")[0].upper()]):  # a bitmap: by number
                name, sep, flags = item.partition(":")
                items.append(f"0x{_SCTP_NUM[name.upper()]:04X}" + (f":{flags}" if sep else ""))
            out += f"{' !' if o.negated else ''} {how} {','.join(items)}"
        elif o.flag == "--dccp-types":
            nums = []
            for name in o.value.upper().split(","):
                k = DCCP_TYPES.index(name)
                nums += [str(k)] if k < 10 else [str(n) for n in range(10, 16)]
            out += f"{' !' if o.negated else ''} {','.join(nums)}"  # libxt_dccp print_types: " !" then " "
        else:
            out += f" {o.to_save()}"
    return out


def _read(t: list[str], i: int, neg: bool, ctx: ListingContext) -> tuple[Match, int]:
    """``tcp spt:80 dpts:!1:2 flags:0x17/0x02 option=2``, ``sctp ! any 0x0001``, ``dccp 0,1 option=!4``."""
    mod = t[i]
    opts: list[Option] = []
    i += 1
    n = len(t)
    while i < n:
        w = t[i]
        try:
            flag, value, inv = read_port_word(w, mod, ctx)
        except NotThisReader:
            pass
        else:
            opts.append(Option(flag, (value,), inv))
            i += 1
            continue
        if w.startswith("flags:") and mod == "tcp":
            v = w[6:] or (t[i + 1] if i + 1 < n else "")
            i += 1 if w[6:] else 2
            inv = v.startswith("!")
            mask, _, comp = (v[1:] if inv else v).partition("/")
            opts.append(Option("--tcp-flags", (tcp_flag_names(mask), tcp_flag_names(comp)), inv))
        elif w.startswith("option=") and mod in ("tcp", "dccp"):
            v = w[7:]
            inv = v.startswith("!")
            opts.append(Option(f"--{mod}-option", (v[1:] if inv else v,), inv))
            i += 1
        elif mod == "sctp" and (w in ("any", "all", "only") or w == "!" and i + 1 < n and t[i + 1] in ("any", "all", "only")):
            inv = w == "!"
            how = t[i + 1] if inv else w
            j = i + (2 if inv else 1)
            if j >= n:
                raise NotThisReader
            items = []
            for item in t[j].split(","):
                name, sep, flags = item.partition(":")
                if name.lower().startswith("0x"):
                    name = SCTP_CHUNKS[int(name, 16)]
                items.append(name + (f":{flags}" if sep else ""))
            items.sort(key=lambda x: _SCTP_NUM[x.partition(":")[0]])
            opts.append(Option("--chunk-types", (how, ",".join(items)), inv))
            i = j + 1
        elif mod == "dccp" and (w[:1].isdecimal() or w.startswith("!") and w[1:2].isdecimal()
                                or w.lstrip("!").split(",")[0] in DCCP_TYPES
                                or w == "!" and i + 1 < n and (t[i + 1][:1].isdecimal() or t[i + 1].split(",")[0] in DCCP_TYPES)):
            inv = w.startswith("!")
            if w == "!":  # libxt_dccp lists "! 10,11": the types are the next word
                i += 1
                w = "!" + t[i]
            names: list[str] = []
            for x in (w[1:] if inv else w).split(","):
                name = DCCP_TYPES[min(int(x), 10)] if x.isdecimal() else x
                if name not in names:
                    names.append(name)
            opts.append(Option("--dccp-types", (",".join(names),), inv))
            i += 1
        else:
            break
    opts.sort(key=lambda o: _PRINT_ORDER[o.flag])
    return Match(mod, tuple(opts)), i


# ---- multiport ---------------------------------------------------------------------------------

_MULTI_WORDS = {"--dports": "dports", "--destination-ports": "dports", "--sports": "sports",
                "--source-ports": "sports", "--ports": "ports"}


def _multiport_compile(comp, rule: Rule, m: Match, checks: list, stats: list) -> None:
    """``ports_match_v1``: any listed port or range holds (``--ports``: source or destination)."""
    for o in m.options:
        known = PORT_FIELDS.get(o.flag)
        if known is not None and known[0].endswith("s"):
            checks.append(port_check(comp, known[0], o.value, o.negated, known[1]))
        elif o.flag == "--ports":
            d = port_check(comp, "--ports", o.value, False, "dport")
            sp = port_check(comp, "--ports", o.value, False, "sport")
            desc, neg = o.to_save(), o.negated

            def chk(s, d=d, sp=sp, desc=desc, neg=neg):
                if s.dport is None:
                    return f"-m multiport {desc}: the packet has no ports"
                hit = d(s) is None or sp(s) is None
                return None if hit != neg else f"{desc} does not match {s.sport}/{s.dport}"
            checks.append(chk)
        else:
            comp.unknown_option(m, o, checks)


def _multiport_text(m: Match) -> str:
    """`` multiport dports 80,443`` (``multiport sports  !53,54`` when negated: libxt_multiport's spacing)."""
    out = " multiport"
    for o in m.options:
        word = _MULTI_WORDS.get(o.flag, o.flag.lstrip("-"))
        out += f" {word} {' !' if o.negated else ''}{ranges_text(o.value)}"
    return out


def _multiport_read(t: list[str], i: int, neg: bool, ctx: ListingContext) -> tuple[Match, int]:
    if i + 1 >= len(t) or t[i + 1] not in ("sports", "dports", "ports"):
        raise NotThisReader
    kind = t[i + 1]
    j = i + 2
    inv = False
    if j < len(t) and t[j] == "!":
        inv, j = True, j + 1
    if j >= len(t):
        raise NotThisReader
    v = t[j]
    if v.startswith("!"):
        inv, v = True, v[1:]
    return Match("multiport", (Option("--" + kind, (port_words(v, ctx.protocol or "tcp", ctx),), inv),)), j + 1


_PORT_OPTS = (OptionSpec("--sport", aliases=("--source-port",)), OptionSpec("--dport", aliases=("--destination-port",)))
_OWNERS = ("kube-proxy", "Calico", "CNI portmap", "Docker", "Istio", "ufw", "firewalld")


def _ports_ext(name: str, summary: str, extra: tuple[OptionSpec, ...] = ()) -> Extension:
    return Extension(name, "match", summary, options=_PORT_OPTS + extra, listing_words=(name,), owners=_OWNERS,
                     read_listing=_read, listing_text=_text, compile=_compile)


EXTENSIONS = (
    _ports_ext("tcp", "TCP ports, flags (--syn) and options of a TCP packet (-p tcp)",
               (OptionSpec("--tcp-flags", nargs=2), OptionSpec("--syn", nargs=0), OptionSpec("--tcp-option"))),
    _ports_ext("udp", "UDP ports (-p udp)"),
    _ports_ext("udplite", "UDP-Lite ports (-p udplite; the kernel has the match, Debian's iptables has no "
                          "libxt_udplite, so only hand-written rules hold it)"),
    _ports_ext("sctp", "SCTP ports and chunk types (-p sctp)", (OptionSpec("--chunk-types", nargs=2),)),
    _ports_ext("dccp", "DCCP ports, packet types and options (-p dccp)",
               (OptionSpec("--dccp-types"), OptionSpec("--dccp-option"))),
    Extension("multiport", "match", "up to 15 ports or ranges, source, destination or either (-p tcp/udp/sctp/dccp)",
              options=(OptionSpec("--sports", aliases=("--source-ports",)),
                       OptionSpec("--dports", aliases=("--destination-ports",)), OptionSpec("--ports")),
              listing_words=("multiport",), owners=_OWNERS, read_listing=_multiport_read,
              listing_text=_multiport_text, compile=_multiport_compile),
)
