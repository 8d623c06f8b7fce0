"""``-m time`` (``xt_time``): the packet's arrival time against a daytime span, weekdays, days of the
month and a date range. A trace gives no clock, so the match is assumed (with the reason).

``iptables -L`` words (libxt_time): ``TIME from 08:00:00 to 17:00:00 on Mon,Tue on 1st,15th starting
from 2024-01-01 00:00:00 until date 2025-01-01 00:00:00 UTC contiguous``; ``UTC`` is shown unless
``--kerneltz``; the default end date (``--datestop 2038-01-19T03:14:07``, which iptables-save prints)
is not shown. ``! --weekdays``/``! --monthdays`` are saved as the complement, never negated.
"""

from __future__ import annotations

from ..model import Match, Option
from ..parse.listing_words import ListingContext, NotThisReader
from ._assumed import assume_with
from .registry import Extension, OptionSpec

__all__ = ["EXTENSIONS"]

_DATESTOP = "2038-01-19T03:14:07"
_WEEKDAYS = frozenset({"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"})


def _ordinal(day: str) -> str:
    """A day of the month as libxt_time lists it: the suffix follows the last digit only (``11st``).

    >>> [_ordinal(d) for d in ("1", "2", "3", "4", "11", "12", "13", "21", "22", "31")]
    ['1st', '2nd', '3rd', '4th', '11st', '12nd', '13rd', '21st', '22nd', '31st']
    """
    n = int(day)
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _text(m: Match) -> str:
    """The listed form.

    >>> from workbook.parse import parse_save
    >>> r = next(parse_save("*filter\\n:INPUT ACCEPT [0:0]\\n-A INPUT -m time --timestart 08:00:00 --timestop 17:00:00 "
    ...     "--monthdays 1,2 --weekdays Sat --datestop 2038-01-19T03:14:07\\nCOMMIT\\n").iter_rules())
    >>> _text(r.matches[0])
    ' TIME from 08:00:00 to 17:00:00 on Sat on 1st,2nd UTC'
    """
    get = m.get
    out = " TIME"
    if get("--timestart") or get("--timestop"):
        out += f" from {get('--timestart').value if get('--timestart') else '00:00:00'}"
        out += f" to {get('--timestop').value if get('--timestop') else '23:59:59'}"
    if get("--weekdays"):
        out += f" on {get('--weekdays').value}"
    if get("--monthdays"):
        out += " on " + ",".join(_ordinal(d) for d in get("--monthdays").value.split(","))
    if get("--datestart"):
        out += " starting from " + get("--datestart").value.replace("T", " ")
    if get("--datestop") and get("--datestop").value != _DATESTOP:
        out += " until date " + get("--datestop").value.replace("T", " ")
    if get("--kerneltz") is None:
        out += " UTC"
    if get("--contiguous") is not None:
        out += " contiguous"
    return out


def _read(t: list[str], i: int, neg: bool, ctx: ListingContext) -> tuple[Match, int]:
    j, n = i + 1, len(t)
    found: dict[str, str] = {}
    utc = contiguous = False
    while j < n:
        w = t[j]
        if w == "from" and j + 3 < n and t[j + 2] == "to":
            found["--timestart"], found["--timestop"] = t[j + 1], t[j + 3]
            j += 4
        elif w == "on" and j + 1 < n:
            days = t[j + 1].split(",")
            if all(d in _WEEKDAYS for d in days):
                found["--weekdays"] = t[j + 1]
            else:
                found["--monthdays"] = ",".join(d.rstrip("stndrh") for d in days)
            j += 2
        elif w == "starting" and j + 3 < n and t[j + 1] == "from":
            found["--datestart"] = f"{t[j + 2]}T{t[j + 3]}"
            j += 4
        elif w == "until" and j + 3 < n and t[j + 1] == "date":
            found["--datestop"] = f"{t[j + 2]}T{t[j + 3]}"
            j += 4
        elif w == "UTC":
            utc, j = True, j + 1
        elif w == "contiguous":
            contiguous, j = True, j + 1
        else:
            break
    if j == i + 1:
        raise NotThisReader
    found.setdefault("--datestop", _DATESTOP)
    opts = [Option(f, (found[f],)) for f in ("--timestart", "--timestop", "--monthdays", "--weekdays",
                                             "--datestart", "--datestop") if f in found]
    if not utc:
        opts.append(Option("--kerneltz"))
    if contiguous:
        opts.append(Option("--contiguous"))
    return Match("time", tuple(opts)), j


EXTENSIONS = (
    Extension("time", "match", "the packet's arrival time: daytime, weekdays, days of the month, dates",
              status="assumed", reason="a trace has no clock: the arrival time is not known",
              options=(OptionSpec("--timestart", negatable=False), OptionSpec("--timestop", negatable=False),
                       OptionSpec("--monthdays"), OptionSpec("--weekdays"), OptionSpec("--datestart", negatable=False),
                       OptionSpec("--datestop", negatable=False), OptionSpec("--kerneltz", 0, negatable=False),
                       OptionSpec("--utc", 0, negatable=False), OptionSpec("--localtz", 0, negatable=False),
                       OptionSpec("--contiguous", 0, negatable=False)),
              listing_words=("TIME",), read_listing=_read, listing_text=_text,
              compile=assume_with("the packet's arrival time is not known (a trace has no clock)")),
)
