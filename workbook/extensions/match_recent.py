"""``-m recent`` (``xt_recent``): named lists of recently seen addresses; ``--set`` adds the packet's
source (or ``--rdest`` destination), ``--rcheck``/``--update``/``--remove`` look it up.

The simulator's lists start empty for each packet (the lab empties ``/proc/net/xt_recent/*``
before each one): only what this very packet's walk added is in them. ``--seconds`` and
``--reap`` then always hold (the entries are from now); ``--hitcount N`` needs N sightings.
"""

from __future__ import annotations

from ..model import Match, Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader
from ..trace.state import State
from .registry import Extension, OptionSpec

__all__ = ["EXTENSIONS"]

#: the listed word of each command
_COMMANDS = {"--set": "SET", "--rcheck": "CHECK", "--update": "UPDATE", "--remove": "REMOVE"}
_LISTED = {word: flag for flag, word in _COMMANDS.items()}


def _compile(comp, rule: Rule, m: Match, checks: list, stats: list) -> None:
    name = m.get("--name").value if m.get("--name") else "DEFAULT"
    rdest = m.get("--rdest") is not None
    mode = next((o for o in m.options if o.flag in _COMMANDS), None)
    hitcount = m.get("--hitcount")
    need = int(hitcount.value) if hitcount else 1
    desc = m.to_save()
    neg = bool(mode and mode.negated)

    def chk(s: State, name=name, rdest=rdest, mode=mode, need=need, desc=desc, neg=neg):
        key = s.dst if rdest else s.src
        if s.recent is None:
            s.recent = {}
        table = s.recent.setdefault(name, {})
        s.note("-m recent: no earlier packets are assumed (the recent lists start empty)")
        if mode is None or mode.flag == "--set":
            table[key] = table.get(key, 0) + 1
            return None if not neg else f"{desc}: --set always matches"
        have = table.get(key, 0)
        hit = have >= need
        if mode.flag == "--update" and hit:
            table[key] = have + 1
        if mode.flag == "--remove" and hit:
            del table[key]
        if hit != neg:
            return None
        return f"{desc}: {key} is {'not ' if not hit else ''}in the recent list {name} (no earlier packets assumed)"
    checks.append(chk)


def _text(m: Match) -> str:
    """`` ! recent: CHECK seconds: 60 hit_count: 2 TTL-Match name: x side: dest mask: 255.255.255.255`` (libxt_recent).

    >>> _text(Match("recent", (Option("--set"), Option("--name", ("x",)), Option("--mask", ("255.255.255.0",)),
    ...                        Option("--rsource"))))
    ' recent: SET name: x side: source mask: 255.255.255.0'
    """
    mode = next((o for o in m.options if o.flag in _COMMANDS), None)
    out = f" {'! ' if mode and mode.negated else ''}recent:"
    if mode is not None:
        out += " " + _COMMANDS[mode.flag]
    get = m.get
    if get("--seconds") is not None:
        out += f" seconds: {get('--seconds').value}"
    if get("--reap") is not None:
        out += " reap"
    if get("--hitcount") is not None:
        out += f" hit_count: {get('--hitcount').value}"
    if get("--rttl") is not None:
        out += " TTL-Match"
    out += f" name: {get('--name').value if get('--name') else 'DEFAULT'}"
    out += f" side: {'dest' if get('--rdest') is not None else 'source'}"
    if get("--mask") is not None:
        out += f" mask: {get('--mask').value}"
    return out


def _read(t: list[str], i: int, neg: bool, ctx: ListingContext) -> tuple[Match, int]:
    j, n = i + 1, len(t)
    cmd = None
    values: dict[str, str] = {}
    switches: list[str] = []
    while j < n:
        w = t[j]
        if w in _LISTED and cmd is None:
            cmd, j = _LISTED[w], j + 1
        elif w in ("seconds:", "hit_count:", "name:", "side:", "mask:") and j + 1 < n:
            values[w], j = t[j + 1], j + 2
        elif w in ("reap", "TTL-Match"):
            switches.append(w)
            j += 1
        else:
            break
    if cmd is None:
        raise NotThisReader
    opts = [Option(cmd, (), neg)]
    if "seconds:" in values:
        opts.append(Option("--seconds", (values["seconds:"],)))
    if "reap" in switches:
        opts.append(Option("--reap"))
    if "hit_count:" in values:
        opts.append(Option("--hitcount", (values["hit_count:"],)))
    if "TTL-Match" in switches:
        opts.append(Option("--rttl"))
    if "name:" in values:
        opts.append(Option("--name", (values["name:"],)))
    if "mask:" in values:
        opts.append(Option("--mask", (values["mask:"],)))
    if "side:" in values:
        opts.append(Option("--rsource" if values["side:"] == "source" else "--rdest"))
    return Match("recent", tuple(opts)), j


EXTENSIONS = (
    Extension("recent", "match", "named lists of recently seen addresses: set, check, update, remove",
              options=(*(OptionSpec(f, 0) for f in _COMMANDS), OptionSpec("--seconds", negatable=False),
                       OptionSpec("--reap", 0, negatable=False), OptionSpec("--hitcount", negatable=False),
                       OptionSpec("--rttl", 0, negatable=False), OptionSpec("--name", negatable=False),
                       OptionSpec("--mask", negatable=False), OptionSpec("--rsource", 0, negatable=False),
                       OptionSpec("--rdest", 0, negatable=False)),
              listing_words=("recent:",), read_listing=_read, listing_text=_text, compile=_compile,
              owners=("hardened hosts", "ufw")),
)
