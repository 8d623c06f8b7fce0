"""``-j SET``: add the packet's key to an ipset, or delete it (``libxt_SET``, ``xt_SET``). The
change is part of the trace's state: a later ``-m set`` in the same walk sees it
(:func:`workbook.trace.state.set_members`). ``--map-set`` (skb mark/priority/queue from the
member's skbinfo) is assumed: the trace's sets carry no skbinfo."""

from __future__ import annotations

from ..model import Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader
from ..trace.state import set_members
from ._ipset import packet_entry, split_flags
from ._legal import tables_of
from ._target_words import assumed
from .registry import Extension, OptionSpec

_SETS = ("--add-set", "--del-set", "--map-set")
_SWITCHES = ("--exist", "--map-mark", "--map-prio", "--map-queue")


def _read(t: list[str], i: int, target: str, ctx: ListingContext) -> tuple[list[Option], int]:
    """``add-set NAME FLAGS [exist] [timeout N]`` / ``del-set NAME FLAGS`` / ``map-set NAME FLAGS [map-mark]...``."""
    if "--" + t[i] not in _SETS or i + 2 >= len(t):
        raise NotThisReader
    opts = [Option("--" + t[i], (t[i + 1], t[i + 2]))]
    j, n = i + 3, len(t)
    while j < n:
        flag = "--" + t[j]
        if flag in _SWITCHES:
            opts.append(Option(flag))
            j += 1
        elif flag == "--timeout" and j + 1 < n:
            opts.append(Option(flag, (t[j + 1],)))
            j += 2
        else:
            break
    return opts, j


def _text(rule: Rule) -> str:
    """The save options without their dashes (``add-set S src exist timeout 10``)."""
    return "".join(f" {o.flag[2:]}" + (f" {' '.join(o.args)}" if o.args else "") for o in rule.target_options)


def _apply(tracer: object, s, rule: Rule, ctx) -> None:
    """Record the addition or deletion of the packet's key; the packet continues."""
    for o in rule.target_options:
        if o.flag not in ("--add-set", "--del-set"):
            continue
        name, dirs = split_flags(o.args)
        members, _ = set_members(s, ctx, name)
        entry = packet_entry(dirs, s, members[0] if members else None)
        s.set_ops = s.set_ops + (("add" if o.flag == "--add-set" else "del", name, entry),)
    if (map_set := rule.target_option("--map-set")) is not None:
        assumed(s, f"-j SET {map_set.to_save()}: the member's skbinfo (mark, priority, "
                   f"queue) is not known; the packet is taken as unchanged")
    return None


EXTENSIONS = (
    Extension("SET", "target", "add the packet's address (and port) to an ipset, or delete it",
              options=(*(OptionSpec(f, nargs=2, negatable=False) for f in _SETS),
                       OptionSpec("--timeout", negatable=False), *(OptionSpec(f, 0, False) for f in _SWITCHES)),
              tables=tables_of("SET"), read_listing=_read, listing_text=_text, apply=_apply,
              owners=("fail2ban", "firewalld", "port-knocking / rate-ban rules")),
)
