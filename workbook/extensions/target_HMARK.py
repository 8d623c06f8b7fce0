"""``-j HMARK``: set the packet mark to a hash of its addresses, ports and protocol, modulo
``--hmark-mod`` plus ``--hmark-offset`` (``xt_HMARK``). The tracer does not compute the hash:
the mark after HMARK is assumed to be unchanged, and the step says so."""

from __future__ import annotations

from ..model import Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader
from ._legal import tables_of
from ._target_words import assumed
from .registry import Extension, OptionSpec

#: (listing word, save flag, save format) in iptables-save's order (``HMARK_save``)
_SAVE = (("src-prefix", "--hmark-src-prefix", "{}"), ("dst-prefix", "--hmark-dst-prefix", "{}"),
         ("sport-mask", "--hmark-sport-mask", "0x{:04x}"), ("dport-mask", "--hmark-dport-mask", "0x{:04x}"),
         ("spi-mask", "--hmark-spi-mask", "0x{:08x}"), ("sport", "--hmark-sport", "0x{:04x}"),
         ("dport", "--hmark-dport", "0x{:04x}"), ("spi", "--hmark-spi", "0x{:08x}"),
         ("proto-mask", "--hmark-proto-mask", "0x{:02x}"), ("rnd", "--hmark-rnd", "0x{:08x}"),
         ("mod", "--hmark-mod", "{}"), ("+", "--hmark-offset", "{}"))
#: the order ``HMARK_print`` lists them in (``ct,`` after the offset)
_LIST = ("mod", "+", "src-prefix", "dst-prefix", "sport-mask", "dport-mask", "spi-mask", "sport", "dport", "spi",
         "proto-mask", "rnd")
REASON = "the hash is not computed: the mark after HMARK is assumed unchanged"


def _read(t: list[str], i: int, target: str, ctx: ListingContext) -> tuple[list[Option], int]:
    """``HMARK mod 10 + 0x5 src-prefix 32 ... rnd 0x1234`` → the save options in save order."""
    if t[i] != "HMARK":
        raise NotThisReader
    j, n = i + 1, len(t)
    seen: dict[str, int] = {}
    ct = False
    words = {w for w, _, _ in _SAVE}
    while j < n:
        if t[j] == "ct,":
            ct, j = True, j + 1
        elif t[j] in words and j + 1 < n:
            seen[t[j]] = int(t[j + 1], 0)
            j += 2
        else:
            break
    opts = [Option(flag, (fmt.format(seen[w]),)) for w, flag, fmt in _SAVE if w in seen]
    if ct:
        opts.append(Option("--hmark-tuple", ("ct",)))
    return opts, j


def _text(rule: Rule) -> str:
    """`` HMARK mod N + 0xOFF src-prefix P ... rnd 0xR `` (with iptables' trailing space)."""
    by_flag = {o.flag: o.value for o in rule.target_options}
    flag_of = {w: flag for w, flag, _ in _SAVE}
    out = " HMARK "
    for w in _LIST:
        v = by_flag.get(flag_of[w])
        if v is None:
            continue
        n = int(v, 0)
        out += f"{w} {n if w in ('mod', 'src-prefix', 'dst-prefix') else hex(n)} "
        if w == "+" and by_flag.get("--hmark-tuple") == "ct":
            out += "ct, "
    return out


def _apply(tracer: object, s, rule: Rule, ctx: object) -> None:
    assumed(s, f"-j HMARK: the mark is set to a hash of the packet's tuple (not computed by the tracer); "
               f"later mark matches are judged on the mark before it ({s.mark:#x})")
    return None


EXTENSIONS = (
    Extension("HMARK", "target", "set the mark to a hash of the packet's tuple (load balancing over routes)",
              status="assumed", reason=REASON,
              options=(OptionSpec("--hmark-tuple", negatable=False),
                       *(OptionSpec(flag, negatable=False) for _, flag, _ in _SAVE)),
              tables=tables_of("HMARK"), read_listing=_read, listing_text=_text, apply=_apply),
)
