"""``-j MARK`` (``xt_mark``'s target) and ``-j CONNMARK`` (``xt_connmark``'s): set the packet's or its
connection's mark, or copy one into the other; the walk goes on with the next rule.

Both take ``--set-xmark V/M`` (new = (old & ~M) ^ V), which iptables-save prints for every
``--set-mark``/``--and-mark``/``--or-mark``/``--xor-mark``. CONNMARK ``--save-mark`` copies the
packet's mark into the connection's (ctmark = (ctmark & ~ctmask) ^ (mark & nfmask)),
``--restore-mark`` the other way (mark = (mark & ~nfmask) ^ (ctmark & ctmask)). A packet without
a conntrack entry (INVALID, UNTRACKED, or in the raw table, before conntrack) has no connection mark
to set or read: CONNMARK does nothing.
"""

from __future__ import annotations

from ..addr import parse_int
from ..model import Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader
from ..trace.state import Context, State
from ._ct_entry import no_entry
from ._marks import MARK_OPS, apply_xmark, read_xmark, xmark_of, xmark_words
from .registry import Extension, OptionSpec

__all__ = ["EXTENSIONS"]

_ALL = 0xFFFFFFFF


def _mark(tracer, s: State, rule: Rule, ctx: Context) -> None:
    s.mark = apply_xmark(s.mark, rule)
    return None


def _masks(rule: Rule) -> tuple[int, int]:
    """(nfmask, ctmask) of --save-mark/--restore-mark (``--mask`` sets both; all ones by default)."""
    o = rule.target_option
    both = o("--mask")
    nf, ct = o("--nfmask") or both, o("--ctmask") or both
    return (parse_int(nf.value) if nf else _ALL), (parse_int(ct.value) if ct else _ALL)


def _connmark(tracer, s: State, rule: Rule, ctx: Context) -> None:
    why = no_entry(s)
    if why:
        s.note(f"{rule.spec}: {why}; CONNMARK does nothing")
        return None
    o = rule.target_option
    if o("--save-mark") is not None:
        nf, ct = _masks(rule)
        s.ctmark = ((s.ctmark & ~ct) ^ (s.mark & nf)) & _ALL
    elif o("--restore-mark") is not None:
        nf, ct = _masks(rule)
        s.mark = ((s.mark & ~nf) ^ (s.ctmark & ct)) & _ALL
    else:
        s.ctmark = apply_xmark(s.ctmark, rule)
    return None


def _mark_text(rule: Rule) -> str:
    """`` MARK or 0x4000`` (libxt_MARK lists --set-xmark by what it does).

    >>> from workbook.parse import parse_save
    >>> r = next(parse_save("*mangle\\n:X - [0:0]\\n-A X -j MARK --set-mark 0x5\\nCOMMIT\\n").iter_rules())
    >>> _mark_text(r)
    ' MARK set 0x5'
    """
    word = rule.target or "MARK"
    for o in rule.target_options:
        if o.flag in MARK_OPS:
            v, m = xmark_of(o)
            return xmark_words(word, f"0x{v:x}/0x{m:x}")
    return ""


def _connmark_text(rule: Rule) -> str:
    """`` CONNMARK save nfmask 0xff ctmask ~0xff00`` (libxt_CONNMARK's words; default masks left out)."""
    o = rule.target_option
    for flag, word in (("--save-mark", "save"), ("--restore-mark", "restore")):
        if o(flag) is not None:
            nf, ct = _masks(rule)
            out = f" CONNMARK {word}"
            if nf == ct:
                return out + (f" mask 0x{nf:x}" if nf != _ALL else "")
            if word == "restore":
                return out + f" ctmask 0x{ct:x} nfmask ~0x{nf:x}"
            return out + f" nfmask 0x{nf:x} ctmask ~0x{ct:x}"
    return _mark_text(rule)


def _read_mark(t: list[str], i: int, target: str, ctx: ListingContext):
    o, j = read_xmark(t, i, "MARK")
    return [o], j


def _read_connmark(t: list[str], i: int, target: str, ctx: ListingContext):
    if t[i] != "CONNMARK" or i + 1 >= len(t):
        raise NotThisReader
    op = t[i + 1]
    if op not in ("save", "restore"):
        o, j = read_xmark(t, i, "CONNMARK")
        return [o], j
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


_SETS = tuple(OptionSpec(f, negatable=False) for f in MARK_OPS)

EXTENSIONS = (
    Extension("MARK", "target", "set the packet's mark (skb->mark); the walk goes on",
              options=_SETS, owners=("kube-proxy", "Calico", "Istio", "AWS VPC CNI", "Docker"),
              read_listing=_read_mark, listing_text=_mark_text, apply=_mark),
    Extension("CONNMARK", "target", "set the connection's mark, or copy it to or from the packet's; the walk goes on",
              options=(*_SETS, OptionSpec("--save-mark", nargs=0, negatable=False),
                       OptionSpec("--restore-mark", nargs=0, negatable=False), OptionSpec("--mask", negatable=False),
                       OptionSpec("--nfmask", negatable=False), OptionSpec("--ctmask", negatable=False)),
              owners=("Calico", "Istio", "AWS VPC CNI"),
              read_listing=_read_connmark, listing_text=_connmark_text, apply=_connmark),
)
