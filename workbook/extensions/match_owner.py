"""``-m owner`` (``xt_owner``): the uid, gid or existence of the socket that sent the packet.

Legal in OUTPUT and POSTROUTING only. A forwarded packet has no socket: the kernel's
``owner_mt`` then matches exactly when every option given is negated (``(match ^ invert) == 0``),
which the tracer decides. A packet of the node's own socket: its uid/gid is not in any dump,
so the match is assumed (with that reason) unless the packet names them (``Packet.extra["uid"]``,
``["gid"]``, ``["groups"]``: the socket's fsuid, fsgid and supplementary groups); then it is decided
as ``owner_mt`` does.
"""

from __future__ import annotations

from ..model import Match, Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader
from ..trace.state import Assume, State
from .registry import Extension, OptionSpec

__all__ = ["EXTENSIONS"]

_TESTS = ("--uid-owner", "--gid-owner", "--socket-exists")
_WORDS = {"UID": "--uid-owner", "GID": "--gid-owner"}


def _id_range(text: str) -> tuple[int, int] | None:
    """``1000`` or ``1000-2000`` as an inclusive range; None for a user or group name (resolved by the
    machine that loaded the rule, not known here).

    >>> _id_range("1337"), _id_range("1000-2000"), _id_range("nobody")
    ((1337, 1337), (1000, 2000), None)
    """
    a, _, b = text.partition("-")
    if not a.isdecimal() or b and not b.isdecimal():
        return None
    return int(a), int(b or a)


def _owned(m: Match, owner: tuple[int, int, tuple[int, ...] | None]) -> bool | str:
    """``owner_mt`` for a packet of a socket whose file has ``owner`` = (fsuid, fsgid, groups):
    True/False, or the reason it cannot be told (a name, unknown supplementary groups)."""
    uid, gid, groups = owner
    suppl = m.get("--suppl-groups") is not None
    for o in m.options:
        if o.flag == "--socket-exists":
            if o.negated:
                return False
        elif o.flag in ("--uid-owner", "--gid-owner"):
            r = _id_range(o.value)
            if r is None:
                return f"{o.value} is a name, resolved to a number where the rule was loaded (not known here)"
            have = uid if o.flag == "--uid-owner" else gid
            hit = r[0] <= have <= r[1]
            if not hit and o.flag == "--gid-owner" and suppl:
                if groups is None:
                    return "the socket's supplementary groups are not known (give the packet's extra groups)"
                hit = any(r[0] <= g <= r[1] for g in groups)
            if hit == o.negated:
                return False
    return True


def _compile(comp, rule: Rule, m: Match, checks: list, stats: list) -> None:
    desc = m.to_save()
    # --suppl-groups sets its own bit in the match mask, never in the invert mask
    all_negated = all(o.negated for o in m.options if o.flag in _TESTS) and m.get("--suppl-groups") is None
    only_socket = all(o.flag == "--socket-exists" for o in m.options)

    def chk(s: State):
        if s.from_node:
            if s.owner is not None:  # -- core-proof -- the packet names its socket's uid/gid
                hit = _owned(m, s.owner)
                if isinstance(hit, str):
                    return Assume(f"{desc}: {hit}; assumed to match")
                return None if hit else f"{desc} does not match the socket of uid {s.owner[0]} gid {s.owner[1]}"
            if only_socket:  # a packet a node's socket sent: the socket exists
                return None if not any(o.negated for o in m.options) else f"{desc}: the packet has a socket"
            return Assume(f"{desc}: the uid/gid of the node's socket that sent the packet is not known "
                          f"(give the packet's extra uid/gid); assumed to match")
        if all_negated:
            return None
        return f"{desc}: a forwarded packet has no socket (only negated owner options match it)"
    checks.append(chk)


def _text(m: Match) -> str:
    """`` owner UID match 1337``, `` ! owner GID match 5 incl. suppl. groups``, `` owner socket exists``."""
    out = ""
    for o in m.options:
        bang = " !" if o.negated else ""
        if o.flag == "--uid-owner":
            out += f"{bang} owner UID match {o.value}"
        elif o.flag == "--gid-owner":
            out += f"{bang} owner GID match {o.value}"
        elif o.flag == "--socket-exists":
            out += f"{bang} owner socket exists"
        elif o.flag == "--suppl-groups":
            out += " incl. suppl. groups"
        else:
            out += f" {o.to_save()}"
    return out


def _read(t: list[str], i: int, neg: bool, ctx: ListingContext) -> tuple[Match, int]:
    opts: list[Option] = []
    n = len(t)
    inv = neg
    while i < n:
        j = i
        if t[j] == "!" and j + 1 < n and t[j + 1] == "owner" and opts:
            inv, j = True, j + 1
        if t[j:j + 3] == ["incl.", "suppl.", "groups"] and opts:
            opts.append(Option("--suppl-groups"))
            i = j + 3
            continue
        if t[j] != "owner" or j + 1 >= n:
            break
        kind = t[j + 1]
        if kind in _WORDS and j + 3 < n and t[j + 2] == "match":
            opts.append(Option(_WORDS[kind], (t[j + 3],), inv))
            i = j + 4
        elif kind == "socket" and j + 2 < n and t[j + 2] == "exists":
            opts.append(Option("--socket-exists", (), inv))
            i = j + 3
        else:
            break
        inv = False
    if not opts:
        raise NotThisReader
    return Match("owner", tuple(opts)), i


EXTENSIONS = (
    Extension("owner", "match", "the uid/gid of the local socket that sent the packet (OUTPUT, POSTROUTING)",
              reason="a socket's uid/gid is not in a dump: assumed for the node's own packets unless the packet names "
                     "them (forwarded ones have no socket and are decided)",
              options=(OptionSpec("--uid-owner"), OptionSpec("--gid-owner"), OptionSpec("--socket-exists", nargs=0),
                       OptionSpec("--suppl-groups", nargs=0, negatable=False)),
              listing_words=("owner",), owners=("Istio", "firewalld", "Calico"),
              read_listing=_read, listing_text=_text, compile=_compile),
)
