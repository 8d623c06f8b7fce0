"""Targets that rewrite a header field and let the packet continue: ``TOS``, ``DSCP``, ``ECN``
(the TOS/traffic-class byte), ``TTL``/``HL`` (TTL / hop limit), ``TCPMSS`` (the MSS option of a
SYN) and ``CHECKSUM`` (fills in a checksum: nothing the tracer models). A later match on the
field (``-m tos``, ``-m ttl``...) sees the new value; a value that depends on an unknown one
stays unknown, so that match is assumed, never decided on a guess."""

from __future__ import annotations

from ..addr import parse_int
from ..model import InputError, Option, Rule
from ..parse.listing_words import NotThisReader
from ._header_checks import DSCP_CLASSES, TOS_NAMES
from ._legal import tables_of
from ._packet_fields import field, set_field
from ._target_words import Word, phrase_printer, phrase_reader, reader
from .registry import Extension, OptionSpec


def _continue(tracer: object, s: object, rule: Rule, ctx: object) -> None:
    return None


# ---- TOS -------------------------------------------------------------------------------------
def tos_value_mask(rule: Rule) -> tuple[int, int]:
    """(value, mask) of a TOS target: the new byte is ``(old & ~mask) ^ value`` (``tos_tg``).

    >>> from workbook.parse import parse_save
    >>> rs = parse_save("*mangle\\n:OUTPUT ACCEPT [0:0]\\n-A OUTPUT -j TOS --set-tos Minimize-Delay\\n"
    ...                 "-A OUTPUT -j TOS --and-tos 0x0f\\n-A OUTPUT -j TOS --set-tos 0x10\\nCOMMIT\\n")
    >>> [tos_value_mask(r) for r in rs.chain("mangle", "OUTPUT").rules]
    [(16, 63), (0, 240), (16, 255)]
    """
    o = rule.target_option
    if (set_tos := o("--set-tos")) is not None:
        text = set_tos.value
        if text.lower() in TOS_NAMES:
            return TOS_NAMES[text.lower()], 0x3F
        v, sep, m = text.partition("/")
        return parse_int(v), parse_int(m) if sep else 0xFF
    if (and_tos := o("--and-tos")) is not None:
        return 0, ~parse_int(and_tos.value) & 0xFF
    if (or_tos := o("--or-tos")) is not None:
        bits = parse_int(or_tos.value)
        return bits, bits
    if (xor_tos := o("--xor-tos")) is not None:
        return parse_int(xor_tos.value), 0
    raise InputError("-j TOS needs --set-tos, --and-tos, --or-tos or --xor-tos")


def _tos_text(rule: Rule) -> str:
    v, m = tos_value_mask(rule)
    return f" TOS set 0x{v:02x}/0x{m:02x}"


def _new_byte(s, keep_mask: int, value: int) -> None:
    """tos = (tos & keep_mask) ^ value; unknown when the kept bits are."""
    old = field(s, "tos")
    if keep_mask & 0xFF == 0:
        set_field(s, "tos", value & 0xFF)
    else:
        set_field(s, "tos", None if old is None else ((old & keep_mask) ^ value) & 0xFF)


def _tos_apply(tracer: object, s, rule: Rule, ctx: object) -> None:
    v, m = tos_value_mask(rule)
    _new_byte(s, ~m & 0xFF, v)
    return None


# ---- DSCP / ECN --------------------------------------------------------------------------------
def dscp_value(rule: Rule) -> int:
    """The DSCP a DSCP target sets (``--set-dscp N`` or ``--set-dscp-class NAME``)."""
    o = rule.target_option
    if (dscp := o("--set-dscp")) is not None:
        return parse_int(dscp.value)
    cls = o("--set-dscp-class")
    if cls is not None and cls.value.lower() in DSCP_CLASSES:
        return DSCP_CLASSES[cls.value.lower()]
    raise InputError("-j DSCP needs --set-dscp N or --set-dscp-class NAME")


def _dscp_text(rule: Rule) -> str:
    return f" DSCP set 0x{dscp_value(rule):02x}"


def _dscp_apply(tracer: object, s, rule: Rule, ctx: object) -> None:
    """The six DSCP bits are set, the two ECN bits kept (``dscp_tg``)."""
    _new_byte(s, 0x03, dscp_value(rule) << 2)
    return None





def _ecn_read(t: list[str], i: int, target: str, ctx: object) -> tuple[list[Option], int]:
    """``ECN TCP remove`` / ``ECN ECT codepoint=N``."""
    if t[i] == "ECN" and t[i + 1:i + 3] == ["TCP", "remove"]:
        return [Option("--ecn-tcp-remove")], i + 3
    if t[i] == "ECN" and i + 2 < len(t) and t[i + 1] == "ECT" and t[i + 2].startswith("codepoint="):
        return [Option("--ecn-ip-ect", (t[i + 2][len("codepoint="):],))], i + 3
    raise NotThisReader


def _ecn_text(rule: Rule) -> str:
    out = " ECN"
    if rule.target_option("--ecn-tcp-remove") is not None:
        out += " TCP remove"
    o = rule.target_option("--ecn-ip-ect")
    return out + (f" ECT codepoint={o.value}" if o is not None else "")


def _ecn_apply(tracer: object, s, rule: Rule, ctx: object) -> None:
    """--ecn-ip-ect sets the two ECN bits of the TOS byte; --ecn-tcp-remove clears ECE/CWR in
    the TCP header (flags the tracer does not model on a packet: nothing else changes)."""
    o = rule.target_option("--ecn-ip-ect")
    if o is not None:
        _new_byte(s, 0xFC, parse_int(o.value) & 0x03)
    return None


# ---- TTL / HL ----------------------------------------------------------------------------------
def _ttl_apply_for(prefix: str):
    def apply(tracer: object, s, rule: Rule, ctx: object) -> None:
        """set, or increment/decrement within 0-255 (``ttl_tg``/``hl_tg6``)."""
        o = rule.target_option
        old = field(s, "ttl")
        if (to := o(f"--{prefix}-set")) is not None:
            set_field(s, "ttl", parse_int(to.value) & 0xFF)
        elif (inc := o(f"--{prefix}-inc")) is not None:
            set_field(s, "ttl", None if old is None else min(old + parse_int(inc.value), 255))
        elif (dec := o(f"--{prefix}-dec")) is not None:
            set_field(s, "ttl", None if old is None else max(old - parse_int(dec.value), 0))
        return None
    return apply


def _ttl_phrases(prefix: str) -> tuple:
    return ((("set", "to"), f"--{prefix}-set", 1), (("increment", "by"), f"--{prefix}-inc", 1),
            (("decrement", "by"), f"--{prefix}-dec", 1))


# ---- TCPMSS -----------------------------------------------------------------------------------
_TCPMSS = ((("set",), "--set-mss", 1), (("clamp", "to", "PMTU"), "--clamp-mss-to-pmtu", 0))


def _tcpmss_apply(tracer: object, s, rule: Rule, ctx: object) -> None:
    """--set-mss N lowers the MSS option to N (never raises it: ``tcpmss_mangle_packet``);
    --clamp-mss-to-pmtu to the route's MTU less the headers, which the tracer does not know."""
    o = rule.target_option("--set-mss")
    old = field(s, "mss")
    if o is not None and old is not None:
        set_field(s, "mss", min(old, parse_int(o.value)))
    elif old is not None:
        set_field(s, "mss", None)
    return None


_TOS_OPTIONS = ("--set-tos", "--and-tos", "--or-tos", "--xor-tos")
EXTENSIONS = (
    Extension("TOS", "target", "rewrite the TOS / traffic-class byte: (tos & ~mask) ^ value",
              options=tuple(OptionSpec(f, negatable=False) for f in _TOS_OPTIONS), tables=tables_of("TOS"),
              read_listing=reader("TOS", (Word("set", "--set-tos"),)), listing_text=_tos_text, apply=_tos_apply),
    Extension("DSCP", "target", "set the six DSCP bits of the TOS / traffic-class byte",
              options=(OptionSpec("--set-dscp", negatable=False), OptionSpec("--set-dscp-class", negatable=False)),
              tables=tables_of("DSCP"), read_listing=reader("DSCP", (Word("set", "--set-dscp"),)),
              listing_text=_dscp_text, apply=_dscp_apply, owners=("Calico (QoS)", "hand-written QoS rules")),
    Extension("ECN", "target", "set the IP ECN codepoint, or clear the TCP ECE/CWR bits (IPv4 only)",
              options=(OptionSpec("--ecn-tcp-remove", 0, False), OptionSpec("--ecn-ip-ect", negatable=False)),
              tables=tables_of("ECN"), families=frozenset({"ipv4"}), read_listing=_ecn_read,
              listing_text=_ecn_text, apply=_ecn_apply),
    Extension("TTL", "target", "set, increment or decrement the IPv4 TTL",
              options=tuple(OptionSpec(f, negatable=False) for _, f, _ in _ttl_phrases("ttl")),
              tables=tables_of("TTL"), families=frozenset({"ipv4"}),
              read_listing=phrase_reader("TTL", _ttl_phrases("ttl")),
              listing_text=phrase_printer("TTL", _ttl_phrases("ttl")), apply=_ttl_apply_for("ttl")),
    Extension("HL", "target", "set, increment or decrement the IPv6 hop limit",
              options=tuple(OptionSpec(f, negatable=False) for _, f, _ in _ttl_phrases("hl")),
              tables=tables_of("HL"), families=frozenset({"ipv6"}),
              read_listing=phrase_reader("HL", _ttl_phrases("hl")),
              listing_text=phrase_printer("HL", _ttl_phrases("hl")), apply=_ttl_apply_for("hl")),
    Extension("TCPMSS", "target", "lower the MSS option of TCP SYNs (--set-mss, or the path MTU's)",
              options=(OptionSpec("--set-mss", negatable=False), OptionSpec("--clamp-mss-to-pmtu", 0, False)),
              tables=tables_of("TCPMSS"), read_listing=phrase_reader("TCPMSS", _TCPMSS),
              listing_text=phrase_printer("TCPMSS", _TCPMSS), apply=_tcpmss_apply,
              owners=("PPPoE/VPN gateways", "Calico (IPIP/VXLAN MSS clamping)", "WireGuard setups")),
    Extension("CHECKSUM", "target", "fill in a missing checksum (virtio/DHCP quirks); nothing the tracer models",
              options=(OptionSpec("--checksum-fill", 0, False),), tables=tables_of("CHECKSUM"),
              read_listing=phrase_reader("CHECKSUM", ((("fill",), "--checksum-fill", 0),)),
              listing_text=phrase_printer("CHECKSUM", ((("fill",), "--checksum-fill", 0),)), apply=_continue,
              owners=("libvirt", "OpenStack (DHCP)")),
)
