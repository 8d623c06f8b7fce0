"""``-j CT`` (``xt_CT``) and ``-j NOTRACK`` (the same module, ``CT --notrack``): in the raw table, give the
packet a conntrack template (helper, zone, timeout, events) or none at all.

Kernel semantics (``net/netfilter/xt_CT.c`` ``xt_ct_target``, read beside this code): a packet that
already has a conntrack reference is left alone ("previously seen": a node's packet looped back
to itself keeps the entry it got in OUTPUT; so does one a CT rule already marked). ``--notrack``
makes it UNTRACKED: conntrack skips it, the nat table is not walked for it, ``-m conntrack
--ctstate UNTRACKED`` matches it. A template (helper, zone...) does not change what the first
packet's matches see; its effects on later packets (helpers' RELATED connections, zones) are not
simulated. The walk always goes on with the next rule.
"""

from __future__ import annotations

from ..model import Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader
from ..trace.state import Context, State
from ._first_packet import take
from ._legal import tables_of
from .registry import Extension, OptionSpec

__all__ = ["EXTENSIONS"]

#: CT's options that take a value, as ``-L`` words (the save flag is ``--`` + the word)
_VALUED = ("helper", "timeout", "ctevents", "expevents", "zone-orig", "zone-reply", "zone")


def _apply(tracer, s: State, rule: Rule, ctx: Context) -> None:
    notrack = rule.target == "NOTRACK" or rule.target_option("--notrack") is not None
    if s.from_node and s.hook == "PREROUTING":
        s.note(f"{rule.spec}: the packet came back from the node over lo with its conntrack entry; "
               f"CT leaves it alone")
        return None
    if s.ctstate == "UNTRACKED" or take(s, "CT template", 0, 0):
        s.note(f"{rule.spec}: an earlier CT rule already gave the packet its conntrack (template); this one does nothing")
        return None
    if notrack:
        s.ctstate = "UNTRACKED"
    else:
        take(s, "CT template", 0)
        s.note(f"{rule.spec}: the conntrack template (helper, zone, timeout, events) does not change this "
               f"packet's matches; its effects on later packets are not simulated")
    return None


def _text(rule: Rule) -> str:
    """`` CT notrack``, `` NOTRACK``, `` CT helper ftp zone 5`` (libxt_CT).

    >>> from workbook.parse import parse_save
    >>> rs = parse_save("*raw\\n:PREROUTING ACCEPT [0:0]\\n-A PREROUTING -j CT --zone 5 --helper ftp\\n-A PREROUTING -j NOTRACK\\nCOMMIT\\n")
    >>> [_text(r) for r in rs.iter_rules()]
    [' CT zone 5 helper ftp', ' NOTRACK']
    """
    if rule.target == "NOTRACK":
        return " NOTRACK"
    return " CT" + "".join(f" {o.flag[2:]}" + (f" {o.value}" if o.args else "") for o in rule.target_options)


def _read(t: list[str], i: int, target: str, ctx: ListingContext):
    """``NOTRACK`` (a CT target listed as NOTRACK: ``-j NOTRACK``) or ``CT notrack helper ftp ...``."""
    if t[i] == "NOTRACK":
        return [], i + 1, "NOTRACK"
    if t[i] != "CT" or i + 1 >= len(t):
        raise NotThisReader
    j, n = i + 1, len(t)
    opts: list[Option] = []
    while j < n:
        if t[j] == "notrack":
            opts.append(Option("--notrack"))
            j += 1
        elif t[j] in _VALUED and j + 1 < n:
            opts.append(Option("--" + t[j], (t[j + 1],)))
            j += 2
        else:
            break
    return opts, j


EXTENSIONS = (
    Extension("CT", "target", "gives the packet a conntrack template (helper, zone...) or, with --notrack, none",
              options=(OptionSpec("--notrack", 0, negatable=False),
                       *(OptionSpec("--" + w, negatable=False) for w in _VALUED)),
              tables=tables_of("CT"), read_listing=_read, listing_text=_text, apply=_apply,
              aliases=("NOTRACK",), owners=("Calico", "Cilium", "hardened hosts")),
)
