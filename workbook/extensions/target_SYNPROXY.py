"""``-j SYNPROXY``: answer TCP handshakes with SYN cookies before the server sees them
(``xt_SYNPROXY``; INPUT and FORWARD, ``-p tcp``). A SYN is consumed (NF_STOLEN: the kernel
sends the SYN-ACK itself, the SYN goes no further); an ACK completes a cookie handshake, or is
dropped when it answers no cookie; any other segment continues (``synproxy_tg4``)."""

from __future__ import annotations

from ..model import Rule
from ._legal import tables_of
from ._target_words import Word, assumed, printer, reader
from .registry import Extension, OptionSpec

_WORDS = (Word("sack-perm", "--sack-perm", 0), Word("timestamp", "--timestamp", 0), Word("wscale", "--wscale"),
          Word("mss", "--mss"), Word("ecn", "--ecn", 0))
_print = printer("SYNPROXY", _WORDS)


def _text(rule: Rule) -> str:
    """iptables ends the SYNPROXY listing with a space."""
    return _print(rule) + " "


def _apply(tracer: object, s, rule: Rule, ctx: object) -> str | None:
    """The tracer's first packet of a connection is a SYN, a later one an ACK."""
    if s.proto_num != 6:
        return None  # the kernel refuses SYNPROXY without -p tcp
    if s.ctstate in ("NEW", "UNTRACKED"):
        s.note("-j SYNPROXY: the kernel answers the SYN with a SYN-ACK cookie itself; the SYN goes no further "
               "(the server sees the handshake only after the client's ACK)")
        return "DROP"
    assumed(s, f"-j SYNPROXY: a {s.ctstate} packet is taken as an ACK that answers no SYN cookie of this node: "
               f"dropped (one answering a cookie would open the connection to the server)")
    return "DROP"


EXTENSIONS = (
    Extension("SYNPROXY", "target", "answer TCP handshakes with SYN cookies (SYN-flood protection)",
              options=tuple(OptionSpec(w.flag, w.nargs, False) for w in _WORDS), tables=tables_of("SYNPROXY"),
              read_listing=reader("SYNPROXY", _WORDS), listing_text=_text, apply=_apply, terminal=True,
              owners=("DDoS-protection rules",)),
)
