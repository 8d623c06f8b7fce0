"""``-m limit`` (``xt_limit``, or nft's ``limit`` with iptables-nft) and ``-m hashlimit`` (``xt_hashlimit``):
token buckets, one per rule (limit) or per flow key in a named table (hashlimit).

Kernel semantics (``net/netfilter/xt_limit.c`` ``limit_mt_check``/``limit_mt``,
``xt_hashlimit.c`` ``rateinfo_init``/``hashlimit_mt_common``, read beside this code):

- a bucket starts full: ``credit = cost * burst`` (the kernel refuses burst 0), one packet costs
  ``cost``; so the first ``burst`` packets are within the limit. ``-m limit`` matches within the
  limit (it cannot be negated); ``--hashlimit-upto`` matches within it, ``--hashlimit-above`` (the
  INVERT mode bit) matches only over it: the first packet of a flow does NOT match ``-above``;
- hashlimit in bytes (``--hashlimit-upto 1kb/s``): the first packet's cost is capped at the full
  bucket (``hashlimit_byte_cost``), so it is within the limit too;
- ``--hashlimit-rate-match`` (revision 3): the first packet of a window counts 1 against
  ``burst + rate`` (packets: within); in bytes it counts the packet's length (assumed);
- a bucket in bytes or a rate-match met again by the same packet is assumed still within the limit.

The simulator judges each packet as the first since the rules were loaded (the lab re-inserts
these rules before each packet). One packet meeting the same bucket again (a chain jumped to twice,
two hashlimit rules of one ``--hashlimit-name``) uses one more token: over the limit after
``burst`` uses. The ``-L`` rendering of hashlimit does not show ``--hashlimit-name``: a rule read
from a listing has none.
"""

from __future__ import annotations

from ..addr import parse_int
from ..model import Match, Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader
from ..trace.state import Assume, AssumeFail, State
from ._first_packet import FIRST_PACKET, take
from .registry import Extension, OptionSpec

__all__ = ["EXTENSIONS"]

_DEFAULT_BURST = 5
#: hashlimit options printed by ``-L`` after ``mode``: (listed word, save flag, default not printed)
_HTABLE = (("htable-size", "--hashlimit-htable-size", None), ("htable-max", "--hashlimit-htable-max", None),
           ("htable-gcinterval", "--hashlimit-htable-gcinterval", "1000"),
           ("htable-expire", "--hashlimit-htable-expire", "10000"),
           ("srcmask", "--hashlimit-srcmask", None), ("dstmask", "--hashlimit-dstmask", None))
#: the packet fields each hashlimit mode keys its buckets on
_MODE_FIELDS = {"srcip": "src", "dstip": "dst", "srcport": "sport", "dstport": "dport"}


def _burst(text: str | None) -> int | None:
    """A packet burst (None for a byte burst such as ``2mb``)."""
    if text is None:
        return _DEFAULT_BURST
    return parse_int(text) if text.isdecimal() else None


def _verdict(desc: str, within: bool, above: bool, why: str) -> str | None:
    if within != above:
        return None
    return f"{desc}: {why}, so it does not match"


def _compile_limit(comp, rule: Rule, m: Match, checks: list, stats: list) -> None:
    for o in m.options:
        if o.flag not in ("--limit", "--limit-burst"):
            comp.unknown_option(m, o, checks)
    burst = _burst(m.get("--limit-burst").value if m.get("--limit-burst") else None) or 1
    desc, key = m.to_save(), (rule.table, rule.chain, rule.position)  # one bucket per rule

    def chk(s: State, desc=desc, key=key, burst=burst):
        used = take(s, "limit", key)
        s.note(f"-m limit: {FIRST_PACKET}")
        return _verdict(desc, used < burst, False,
                        f"this packet met the bucket {used + 1} times; its burst {burst} is used up")
    checks.append(chk)


def _compile_hashlimit(comp, rule: Rule, m: Match, checks: list, stats: list) -> None:
    above = m.get("--hashlimit-above") is not None
    rate = m.get("--hashlimit-above") or m.get("--hashlimit-upto") or m.get("--hashlimit")
    known = {"--hashlimit-above", "--hashlimit-upto", "--hashlimit", "--hashlimit-burst", "--hashlimit-mode",
             "--hashlimit-name", "--hashlimit-rate-match", "--hashlimit-rate-interval", *(f for _, f, _ in _HTABLE)}
    for o in m.options:
        if o.flag not in known:
            comp.unknown_option(m, o, checks)
    if rate is not None and rate.negated:  # "! --hashlimit-upto" is "--hashlimit-above" (and back)
        above = not above
    desc = m.to_save()
    if rate is None:
        comp.assumed_module(rule, m, checks, stats)
        return
    in_bytes = "b" in rate.value.partition("/")[0].lower()
    burst_opt = m.get("--hashlimit-burst")
    burst = _burst(burst_opt.value if burst_opt else None)
    rate_match = m.get("--hashlimit-rate-match") is not None
    if in_bytes and rate_match:
        checks.append(lambda s, d=desc: Assume(f"{d}: a byte rate-match counts the packet's length against "
                                               f"the window's burst; assumed to match"))
        return
    # in bytes or rate-match, only the first use is known to be within (see the module's docstring)
    exact_uses = 1 if in_bytes or burst is None or rate_match else burst
    name = m.get("--hashlimit-name")
    mode = m.get("--hashlimit-mode")
    fields = tuple(_MODE_FIELDS[w] for w in (mode.value.split(",") if mode else ()) if w in _MODE_FIELDS)

    def chk(s: State, desc=desc, above=above, n=exact_uses, exact=exact_uses == burst,
            name=name.value if name else (rule.table, rule.chain, rule.position), fields=fields):
        used = take(s, "hashlimit", (name, *(getattr(s, f) for f in fields)))
        s.note(f"-m hashlimit: {FIRST_PACKET}")
        if used >= n and not exact:  # taken as still within the limit (a packet is small against a byte rate)
            why = (f"{desc}: this packet met the bucket before; what is left depends on its length and the "
                   f"rate; assumed within the limit")
            return AssumeFail(why + ", so no match") if above else Assume(why + ", so a match")
        within = used < n
        why = ("the first packet is within the limit (the bucket starts full)" if within
               else f"this packet met the bucket {used + 1} times; its burst {n} is used up")
        return _verdict(desc, within, above, why)
    checks.append(chk)


# ---- the -L rendering --------------------------------------------------------------------------
def _text_limit(m: Match) -> str:
    """`` limit: avg 3/hour burst 5`` (libxt_limit prints the default burst too).

    >>> _text_limit(Match("limit", (Option("--limit", ("10/sec",)), Option("--limit-burst", ("1",)))))
    ' limit: avg 10/sec burst 1'
    """
    rate, burst = m.get("--limit"), m.get("--limit-burst")
    return f" limit: avg {rate.value if rate else '3/hour'} burst {burst.value if burst else _DEFAULT_BURST}"


def _text_hashlimit(m: Match) -> str:
    """`` limit: above 10/sec burst 1 mode srcip`` (libxt_hashlimit; the name is not shown).

    >>> _text_hashlimit(Match("hashlimit", (Option("--hashlimit-upto", ("1kb/s",)), Option("--hashlimit-burst", ("2mb",)),
    ...     Option("--hashlimit-mode", ("srcip,dstport",)), Option("--hashlimit-name", ("b",)),
    ...     Option("--hashlimit-htable-expire", ("5000",)), Option("--hashlimit-srcmask", ("24",)))))
    ' limit: up to 1kb/s burst 2mb mode srcip-dstport htable-expire 5000 srcmask 24'
    """
    above = m.get("--hashlimit-above")
    rate = above or m.get("--hashlimit-upto") or m.get("--hashlimit")
    if rate is not None and rate.negated:
        above = None if above else rate
    burst = m.get("--hashlimit-burst")
    out = f" limit: {'above' if above else 'up to'} {rate.value if rate else ''} burst {burst.value if burst else _DEFAULT_BURST}"
    mode = m.get("--hashlimit-mode")
    if mode is not None:
        out += f" mode {mode.value.replace(',', '-')}"
    for word, flag, default in _HTABLE:
        o = m.get(flag)
        if o is not None and o.value != default:
            out += f" {word} {o.value}"
    if m.get("--hashlimit-rate-match") is not None:
        out += " rate-match"
        interval = m.get("--hashlimit-rate-interval")
        if interval is not None and interval.value != "1":
            out += f" rate-interval {interval.value}"
    return out


def _read(t: list[str], i: int, neg: bool, ctx: ListingContext) -> tuple[Match, int]:
    """``limit: avg R burst B`` (limit) or ``limit: up to|above R burst B [mode ...] ...`` (hashlimit)."""
    n = len(t)
    if i + 2 >= n:
        raise NotThisReader
    if t[i + 1] == "avg":
        opts = [Option("--limit", (t[i + 2],))]
        j = i + 3
        if j + 1 < n and t[j] == "burst":
            if t[j + 1] != str(_DEFAULT_BURST):  # libxt_limit saves --limit-burst only when not the default
                opts.append(Option("--limit-burst", (t[j + 1],)))
            j += 2
        return Match("limit", tuple(opts)), j
    if t[i + 1] == "above":
        flag, j = "--hashlimit-above", i + 2
    elif t[i + 1] == "up" and t[i + 2] == "to":
        flag, j = "--hashlimit-upto", i + 3
    else:
        raise NotThisReader
    if j + 2 >= n + 1 or j >= n:
        raise NotThisReader
    opts = [Option(flag, (t[j],))]
    j += 1
    if j + 1 < n and t[j] == "burst":
        opts.append(Option("--hashlimit-burst", (t[j + 1],)))
        j += 2
    if j + 1 < n and t[j] == "mode":
        opts.append(Option("--hashlimit-mode", (t[j + 1].replace("-", ","),)))
        j += 2
    words = {word: flag for word, flag, _ in _HTABLE}
    while j < n:
        if t[j] in words and j + 1 < n:
            opts.append(Option(words[t[j]], (t[j + 1],)))
            j += 2
        elif t[j] == "rate-match":
            opts.append(Option("--hashlimit-rate-match"))
            j += 1
        elif t[j] == "rate-interval" and j + 1 < n:
            opts.append(Option("--hashlimit-rate-interval", (t[j + 1],)))
            j += 2
        else:
            break
    return Match("hashlimit", tuple(opts)), j


_HASHLIMIT_OPTIONS = (
    OptionSpec("--hashlimit-upto"), OptionSpec("--hashlimit-above"), OptionSpec("--hashlimit"),
    OptionSpec("--hashlimit-burst", negatable=False), OptionSpec("--hashlimit-mode", negatable=False),
    OptionSpec("--hashlimit-name", negatable=False), OptionSpec("--hashlimit-rate-match", 0, negatable=False),
    OptionSpec("--hashlimit-rate-interval", negatable=False),
    *(OptionSpec(flag, negatable=False) for _, flag, _ in _HTABLE),
)

EXTENSIONS = (
    Extension("limit", "match", "a token bucket per rule: matches while the rate is within --limit (burst first)",
              options=(OptionSpec("--limit", negatable=False), OptionSpec("--limit-burst", negatable=False)),
              listing_words=("limit:",), read_listing=_read, listing_text=_text_limit, compile=_compile_limit,
              owners=("ufw", "firewalld", "hardened hosts")),
    Extension("hashlimit", "match", "a token bucket per flow key (source, destination, ports) in a named table",
              options=_HASHLIMIT_OPTIONS, listing_text=_text_hashlimit, compile=_compile_hashlimit,
              owners=("hardened hosts", "ufw")),
)
