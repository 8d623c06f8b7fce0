"""``-j REJECT``: drop the packet and answer its sender (``libipt_REJECT``/``libip6t_REJECT``,
``nf_reject``): an ICMP/ICMPv6 error of the chosen type, or a TCP RST. Legal in filter only."""

from __future__ import annotations

from ..model import InputError, Rule
from ..parse.listing_words import ListingContext, NotThisReader
from ..model import Option
from ._legal import tables_of
from .registry import Extension, OptionSpec

#: --reject-with types as iptables-save prints them → (ICMP type, code) of the reply, and the
#: other spellings iptables accepts; IPv4 first, then IPv6 (None: a TCP RST)
TYPES_V4 = {"icmp-net-unreachable": ((3, 0), ("net-unreach",)), "icmp-host-unreachable": ((3, 1), ("host-unreach",)),
            "icmp-proto-unreachable": ((3, 2), ("proto-unreach",)), "icmp-port-unreachable": ((3, 3), ("port-unreach",)),
            "icmp-net-prohibited": ((3, 9), ("net-prohib",)), "icmp-host-prohibited": ((3, 10), ("host-prohib",)),
            "icmp-admin-prohibited": ((3, 13), ("admin-prohib",)), "tcp-reset": (None, ("tcp-rst",))}
TYPES_V6 = {"icmp6-no-route": ((1, 0), ("no-route",)), "icmp6-adm-prohibited": ((1, 1), ("adm-prohibited",)),
            "icmp6-addr-unreachable": ((1, 3), ("addr-unreach",)), "icmp6-port-unreachable": ((1, 4), ("port-unreach",)),
            "icmp6-policy-fail": ((1, 5), ("policy-fail",)), "icmp6-reject-route": ((1, 6), ("reject-route",)),
            "tcp-reset": (None, ())}
DEFAULT = {4: "icmp-port-unreachable", 6: "icmp6-port-unreachable"}


def reject_type(text: str | None, version: int) -> str:
    """The canonical name of a --reject-with type (aliases resolved; None: the default).

    >>> reject_type("host-unreach", 4), reject_type("port-unreach", 6), reject_type(None, 6)
    ('icmp-host-unreachable', 'icmp6-port-unreachable', 'icmp6-port-unreachable')
    """
    if text is None:
        return DEFAULT[version]
    types = TYPES_V4 if version == 4 else TYPES_V6
    for name, (_, aliases) in types.items():
        if text == name or text in aliases:
            return name
    raise InputError(f"--reject-with {text[:40]}: not an IPv{version} reject type")


def _read(t: list[str], i: int, target: str, ctx: ListingContext) -> tuple[list[Option], int]:
    if t[i] != "reject-with" or i + 1 >= len(t):
        raise NotThisReader
    return [Option("--reject-with", (t[i + 1],))], i + 2


def _text(rule: Rule) -> str:
    """`` reject-with TYPE`` (iptables always prints the type, the default too)."""
    o = rule.target_option("--reject-with")
    return f" reject-with {reject_type(o.value if o else None, 6 if rule.family == 'ipv6' else 4)}"


def _apply(tracer: object, s, rule: Rule, ctx: object) -> str:
    """REJECT: the packet goes no further; the kernel sends the reply (``nf_send_unreach`` /
    ``nf_send_reset``) and returns NF_DROP."""
    o = rule.target_option("--reject-with")
    version = s.src_i[0]
    kind = reject_type(o.value if o else None, version)
    code = (TYPES_V4 if version == 4 else TYPES_V6)[kind][0]
    if code is None:
        s.note(f"REJECT --reject-with tcp-reset: the kernel answers {s.src} with a TCP RST")
    else:
        s.note(f"REJECT --reject-with {kind}: the kernel answers {s.src} with ICMP{'v6' if version == 6 else ''} "
               f"type {code[0]} code {code[1]} (never about an ICMP error)")
    return "REJECT"


EXTENSIONS = (
    Extension("REJECT", "target", "drop the packet and answer its sender (ICMP error or TCP RST)",
              options=(OptionSpec("--reject-with", negatable=False),), tables=tables_of("REJECT"),
              read_listing=_read, listing_text=_text, apply=_apply, terminal=True,
              owners=("kube-proxy (services without endpoints)", "firewalld", "ufw", "Docker")),
)
