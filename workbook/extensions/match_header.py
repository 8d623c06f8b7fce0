"""IP header matches: length, ttl, hl, tos, dscp, ecn, tcpmss, u32, realm and the IPv6 extension headers.

length, ttl, tos, dscp, ecn (its IP bits) and tcpmss are decided on the packet's header fields
(:class:`workbook.trace.header.Header`; a field not given is assumed, saying so); the others are
``assumed`` with their reason: the traced packet carries no IPv6 extension headers, raw bytes or realm.
"""

from __future__ import annotations

from ..model import InputError, Match, Option
from ..parse.listing_words import NotThisReader, unquote, value_after
from ._assumed import assume_with, bang, read_value
from ._header_checks import DSCP_CLASSES, flags_compile, in_span, number, tos_value
from .registry import Extension, OptionSpec

_NO_FIELD = "the traced packet carries no {} (not modelled yet)"


def _why(what: str) -> str:
    return _NO_FIELD.format(what)


# ---- length ---------------------------------------------------------------------------------
def _length_text(m: Match) -> str:
    """`` length !100:200`` (libxt_length prints ``!`` glued to the range).

    >>> _length_text(Match("length", (Option("--length", ("100:200",), True),)))
    ' length !100:200'
    """
    o = m.get("--length")
    return f" length {bang(o)}{o.value}" if o else " length"


# ---- ttl / hl ----------------------------------------------------------------------------------
_CMP = {"--ttl-eq": "==", "--ttl-lt": "<", "--ttl-gt": ">", "--hl-eq": "==", "--hl-lt": "<", "--hl-gt": ">"}


def _cmp_reader(module: str, word: str):
    """``TTL match TTL == 5`` / ``HL match HL != 5`` as ``--ttl-eq`` / ``! --hl-eq``..."""
    ops = {"==": ("eq", False), "!=": ("eq", True), "<": ("lt", False), ">": ("gt", False)}

    def read(t: list[str], i: int, neg: bool, ctx: object) -> tuple[Match, int]:
        if i + 4 >= len(t) or t[i + 1] != "match" or t[i + 2] != word or t[i + 3] not in ops:
            raise NotThisReader
        suffix, inv = ops[t[i + 3]]
        return Match(module, (Option(f"--{module}-{suffix}", (t[i + 4],), inv),)), i + 5
    return read


def _cmp_text(word: str):
    def text(m: Match) -> str:
        """`` TTL match TTL == 5`` (``!=`` for a negated ``--ttl-eq``)."""
        for o in m.options:
            op = _CMP.get(o.flag)
            if op is not None:
                return f" {word} match {word} {'!=' if o.negated and op == '==' else op} {o.value}"
        return f" {word} match"
    return text


# ---- tos / dscp / tcpmss ---------------------------------------------------------------------
def _match_value_text(word: str, flag: str):
    def text(m: Match) -> str:
        """`` WORD match [!]VALUE`` (how tos, DSCP and tcpmss print)."""
        o = m.get(flag)
        return f" {word} match {bang(o)}{o.value}" if o else f" {word} match"
    return text


def _tos_text(m: Match) -> str:
    """`` tos match0x10/0x3f`` (libxt_tos prints no blank after "match").

    >>> _tos_text(Match("tos", (Option("--tos", ("0x08/0xff",), True),)))
    ' tos match!0x08/0xff'
    """
    o = m.get("--tos")
    return f" tos match{bang(o)}{o.value}" if o else " tos match"


def _dscp_text(m: Match) -> str:
    """`` DSCP match 0x0a`` (libxt_dscp prints the class as a number too).

    >>> _dscp_text(Match("dscp", (Option("--dscp", ("10",), True),)))
    ' DSCP match !0x0a'
    """
    o = m.get("--dscp") or m.get("--dscp-class")
    if o is None:
        return " DSCP match"
    v = o.value
    try:
        v = f"0x{int(v, 0):02x}"
    except ValueError:
        pass
    return f" DSCP match {bang(o)}{v}"


# ---- ecn -----------------------------------------------------------------------------------------
def _ecn_read(t: list[str], i: int, neg: bool, ctx: object) -> tuple[Match, int]:
    """``ECN match [!]ECE [!]CWR [!]ECT=N``."""
    if i + 1 >= len(t) or t[i + 1] != "match":
        raise NotThisReader
    j, opts = i + 2, []
    while j < len(t):
        w = t[j]
        inv = w.startswith("!")
        w = w[1:] if inv else w
        if w == "ECE":
            opts.append(Option("--ecn-tcp-ece", (), inv))
        elif w == "CWR":
            opts.append(Option("--ecn-tcp-cwr", (), inv))
        elif w.startswith("ECT="):
            opts.append(Option("--ecn-ip-ect", (w[4:],), inv))
        else:
            break
        j += 1
    return Match("ecn", tuple(opts)), j


def _ecn_text(m: Match) -> str:
    """`` ECN match !ECE CWR ECT=1``."""
    out = " ECN match"
    for o in m.options:
        word = {"--ecn-tcp-ece": "ECE", "--ecn-tcp-cwr": "CWR"}.get(o.flag)
        out += f" {bang(o)}{word}" if word else f" {bang(o)}ECT={o.value}"
    return out


# ---- u32 -------------------------------------------------------------------------------------------
def _u32_text(m: Match) -> str:
    """`` u32 "0x0>>0x16&0x3c@0x0>>0x18=0x6"`` (negated: `` u32 ! "..."``)."""
    o = m.get("--u32")
    return f" u32 {'! ' if o and o.negated else ''}\"{o.value if o else ''}\""


def _u32_read(t: list[str], i: int, neg: bool, ctx: object) -> tuple[Match, int]:
    """``u32 [!] "tests"``."""
    inv, v, j = value_after(t, i + 1, neg, glued=False)
    return Match("u32", (Option("--u32", (unquote(v),), inv),)), j


def _realm_text(m: Match) -> str:
    """`` ! realm 0x5/0xff`` (libxt_realm puts the ``!`` before its word)."""
    o = m.get("--realm")
    return f" {'! ' if o and o.negated else ''}realm {o.value if o else ''}"


# ---- the tracer's checks -------------------------------------------------------------------------
def _tos_test(text: str):
    """``--tos V[/M]``: (tos & M) == V."""
    v, mask = tos_value(text)
    return lambda t: (t & mask) == v


def _dscp_test(n: int):
    """DSCP ``n``: tos >> 2 == n."""
    return lambda t: t >> 2 == n


def _dscp_class(name: str) -> int:
    """The DSCP of a class name (``EF`` → 46); an unknown name is bad input."""
    if name.lower() not in DSCP_CLASSES:
        raise InputError(f"dscp-class {name[:40]!r}: not a DiffServ class name")
    return DSCP_CLASSES[name.lower()]


def _ecn_test(text: str):
    """``--ecn-ip-ect N``: tos & 3 == N (the TCP ECE/CWR flags are assumed: the packet has no flags)."""
    n = number(text, "ecn-ip-ect")
    return lambda t: t & 3 == n


def _ttl_tests(module: str) -> dict:
    """``--ttl-eq/-lt/-gt N`` on the TTL as the hook sees it (one less once forwarded)."""
    return {f"--{module}-eq": lambda x: (lambda v, n=number(x, module): v == n),
            f"--{module}-lt": lambda x: (lambda v, n=number(x, module): v < n),
            f"--{module}-gt": lambda x: (lambda v, n=number(x, module): v > n)}


_length_compile = flags_compile("length", "length", {"--length": in_span("length")})
_ttl_compile = flags_compile("TTL", "ttl", _ttl_tests("ttl"))
_tos_compile = flags_compile("TOS", "tos", {"--tos": _tos_test})
_dscp_compile = flags_compile("TOS", "tos", {"--dscp": lambda x: _dscp_test(number(x, "dscp")),
                                             "--dscp-class": lambda x: _dscp_test(_dscp_class(x))})
_ecn_compile = flags_compile("TOS", "tos", {"--ecn-ip-ect": _ecn_test})
#: no MSS option: matches only when negated (the check's "field not given" assumes instead)
_tcpmss_compile = flags_compile("MSS", "mss", {"--mss": in_span("mss")})


def _exact(name: str, summary: str, flags: tuple[str, ...], compile_, *, family: frozenset[str] | None = None,
           words: tuple[str, ...] = (), read=None, text=None, owners: tuple[str, ...] = (),
           nargs: dict[str, int] | None = None, negatable: tuple[str, ...] | None = None) -> Extension:
    """A header match the tracer decides on the packet's header fields."""
    n = nargs or {}
    return Extension(name, "match", summary, options=tuple(
        OptionSpec(f, n.get(f, 1), negatable=negatable is None or f in negatable) for f in flags),
        families=family or frozenset({"ipv4", "ipv6"}), listing_words=words, read_listing=read,
        listing_text=text, compile=compile_, owners=owners)


_HDR = frozenset({"ipv4"}), frozenset({"ipv6"})


def _ext(name: str, summary: str, what: str, flags: tuple[str, ...], *, family: frozenset[str] | None = None,
         words: tuple[str, ...] = (), read=None, text=None, owners: tuple[str, ...] = (),
         nargs: dict[str, int] | None = None) -> Extension:
    """An assumed header match: its options, reader, printer and the reason it is assumed."""
    n = nargs or {}
    return Extension(name, "match", summary, status="assumed", reason=_why(what),
                     options=tuple(OptionSpec(f, n.get(f, 1)) for f in flags),
                     families=family or frozenset({"ipv4", "ipv6"}), listing_words=words, read_listing=read,
                     listing_text=text, compile=assume_with(_why(what)), owners=owners)


EXTENSIONS = (
    _exact("length", "the layer-3 length (IP total length, IPv6 payload + 40)", ("--length",), _length_compile,
           words=("length",), read=read_value("length", "--length"), text=_length_text, owners=("Calico",)),
    _exact("ttl", "the IPv4 time to live (==, <, >)", ("--ttl-eq", "--ttl-lt", "--ttl-gt"),
           _ttl_compile, family=_HDR[0], negatable=("--ttl-eq",),
         words=("TTL",), read=_cmp_reader("ttl", "TTL"), text=_cmp_text("TTL")),
    _ext("hl", "the IPv6 hop limit (==, <, >)", "hop limit", ("--hl-eq", "--hl-lt", "--hl-gt"), family=_HDR[1],
         words=("HL",), read=_cmp_reader("hl", "HL"), text=_cmp_text("HL")),
    _exact("tos", "the IPv4 TOS / IPv6 traffic class byte under a mask", ("--tos",), _tos_compile,
         words=("tos",), read=read_value("tos", "--tos", skip=("match",)), text=_tos_text),
    _exact("dscp", "the DSCP bits of the TOS / traffic class byte", ("--dscp", "--dscp-class"), _dscp_compile,
         words=("DSCP",), read=read_value("dscp", "--dscp", skip=("match",)), text=_dscp_text),
    _exact("ecn", "the ECN bits of the IP header and the TCP ECE/CWR flags", (
        "--ecn-tcp-cwr", "--ecn-tcp-ece", "--ecn-ip-ect"), _ecn_compile, words=("ECN",), read=_ecn_read,
           text=_ecn_text, nargs={"--ecn-tcp-cwr": 0, "--ecn-tcp-ece": 0}),
    _exact("tcpmss", "the MSS option of a TCP SYN", ("--mss",), _tcpmss_compile, words=("tcpmss",),
         read=read_value("tcpmss", "--mss", skip=("match",)), text=_match_value_text("tcpmss", "--mss"),
         owners=("Calico",)),
    _ext("u32", "32-bit words of the packet at offsets, under masks", "raw packet bytes for u32 offsets",
         ("--u32",), words=("u32",), read=_u32_read, text=_u32_text, owners=("Calico",)),
    _ext("realm", "the routing realm of the route (ip route ... realm N)", "routing realm", ("--realm",),
         family=_HDR[0], words=("realm",), read=read_value("realm", "--realm", glued=False), text=_realm_text),
    _ext("ah", "the SPI of an IPsec AH header", "AH header", ("--ahspi", "--ahlen", "--ahres"),
         nargs={"--ahres": 0}),
    _ext("esp", "the SPI of an IPsec ESP header", "ESP header", ("--espspi",)),
    _ext("ipcomp", "the CPI of an IPComp header", "IPComp header", ("--ipcompspi", "--compres"),
         nargs={"--compres": 0}),
    _ext("ipv6header", "which IPv6 extension headers the packet has", "IPv6 extension headers",
         ("--header", "--soft"), family=_HDR[1], nargs={"--soft": 0}),
    _ext("frag", "the IPv6 fragment header", "IPv6 fragment header", (
        "--fragid", "--fraglen", "--fragres", "--fragfirst", "--fragmore", "--fraglast"), family=_HDR[1],
         nargs={"--fragres": 0, "--fragfirst": 0, "--fragmore": 0, "--fraglast": 0}),
    _ext("hbh", "the IPv6 hop-by-hop options header", "IPv6 hop-by-hop header", ("--hbh-len", "--hbh-opts"),
         family=_HDR[1]),
    _ext("dst", "the IPv6 destination options header", "IPv6 destination options header",
         ("--dst-len", "--dst-opts"), family=_HDR[1]),
    _ext("rt", "the IPv6 routing header", "IPv6 routing header", (
        "--rt-type", "--rt-segsleft", "--rt-len", "--rt-0-res", "--rt-0-addrs", "--rt-0-not-strict"),
         family=_HDR[1], nargs={"--rt-0-res": 0, "--rt-0-not-strict": 0}),
    _ext("srh", "the IPv6 segment routing header", "IPv6 segment routing header", (
        "--srh-next-hdr", "--srh-hdr-len-eq", "--srh-segs-left-eq", "--srh-last-entry-eq", "--srh-tag"),
         family=_HDR[1]),
    _ext("mh", "the IPv6 mobility header type", "IPv6 mobility header", ("--mh-type",), family=_HDR[1]),
    _ext("l2tp", "the L2TP tunnel/session id and type", "L2TP header", (
        "--tunnel-id", "--session-id", "--type", "--pversion")),
    _ext("eui64", "the IPv6 source's EUI-64 interface id against the source MAC", "source MAC", (),
         family=_HDR[1]),
)
