"""``-m conntrack`` and ``-m state``: the packet's connection tracking entry (``xt_conntrack``, ``xt_state``).

Kernel semantics (``net/netfilter/xt_conntrack.c`` ``conntrack_mt``, read beside this code):

- the state test runs first; a packet without a conntrack entry (INVALID, UNTRACKED, and every
  packet in the raw table before conntrack saw it: see ``_ct_entry``) then matches
  exactly when the rule has a state test (``return info->match_flags & XT_CONNTRACK_STATE``):
  every other option is ignored for it, negated or not;
- ``--ctstatus`` holds when ``ct->status & mask`` is not zero; ``NONE`` is the mask 0
  (``libxt_conntrack.c`` ``conntrack_ps_status``), so ``--ctstatus NONE`` never matches and
  ``! --ctstatus NONE`` matches every tracked packet;
- a NEW connection is not CONFIRMED before the last hook (``nf_conntrack_confirm`` runs at
  priority INT_MAX, after every iptables table) and has no reply yet: none of EXPECTED,
  SEEN_REPLY, ASSURED, CONFIRMED is set (a RELATED one is EXPECTED: assumed, see below);
  an ESTABLISHED one is CONFIRMED and SEEN_REPLY; ASSURED depends on the protocol's history
  (assumed).
"""

from __future__ import annotations

from typing import Any, Callable

from ..addr import parse_ip, parse_net, port_range
from ..model import Match, Option
from ._ct_entry import entry_state, no_entry
from .registry import Extension, OptionSpec

#: the ``-L`` words of ``-m conntrack`` (each an option name without its dashes)
CT_KEYS = ("ctstate", "ctproto", "ctorigsrc", "ctorigdst", "ctreplsrc", "ctrepldst", "ctorigsrcport",
           "ctorigdstport", "ctreplsrcport", "ctrepldstport", "ctstatus", "ctexpire", "ctdir")



def _read_conntrack(t: list[str], i: int, neg: bool, ctx) -> tuple[Match, int]:
    """``ctstate RELATED,ESTABLISHED ! ctstatus NONE ...`` up to the first word that is not one."""
    from ..parse.listing_words import NotThisReader
    opts: list[Option] = []
    seen: set[str] = set()
    n = len(t)
    while i < n:
        inv = False
        j = i
        if t[j] == "!" and j + 1 < n and t[j + 1] in CT_KEYS:
            inv, j = True, j + 1
        k = t[j]
        if k not in CT_KEYS or k in seen or j + 1 >= n and k != "ctdir":
            break
        if not opts and neg:
            inv = True
        seen.add(k)
        v = t[j + 1]
        if v.startswith("!"):
            inv, v = True, v[1:]
        # the ct address options are printed as iptables-save prints them (a host without /32)
        opts.append(Option("--" + k, (v,), inv))
        i = j + 2
    if not opts:
        raise NotThisReader
    return Match("conntrack", tuple(opts)), i


def _read_state(t: list[str], i: int, neg: bool, ctx) -> tuple[Match, int]:
    """``state RELATED,ESTABLISHED``."""
    from ..parse.listing_words import NotThisReader
    if i + 1 >= len(t):
        raise NotThisReader
    return Match("state", (Option("--state", (t[i + 1],), neg),)), i + 2


def _bang(o: Option) -> str:
    return "! " if o.negated else ""


def _text_conntrack(m: Match) -> str:
    """The listed form.

    >>> _text_conntrack(Match("conntrack", (Option("--ctstate", ("RELATED,ESTABLISHED,DNAT",), True),)))
    ' ! ctstate RELATED,ESTABLISHED,DNAT'
    """
    return "".join(f" {_bang(o)}{o.flag.lstrip('-')} {o.value}".rstrip() for o in m.options)


def _text_state(m: Match) -> str:
    """The listed form.

    >>> _text_state(Match("state", (Option("--state", ("INVALID",)),)))
    ' state INVALID'
    """
    o = m.get("--state")
    return f" {_bang(o) if o else ''}state {o.value if o else ''}".rstrip()


def _compile(comp, rule, m: Match, checks: list, stats: list) -> None:
    """One check per option, with the kernel's rule for packets without an entry first."""
    from ..trace.state import Assume, State
    has_state = any(o.flag in ("--ctstate", "--state") for o in m.options)
    untracked = ("INVALID", "UNTRACKED")
    for o in m.options:
        desc, neg, f = o.to_save(), o.negated, o.flag
        if f in ("--ctstate", "--state"):
            want = set(o.value.upper().split(","))

            def chk(s, want=want, desc=desc, neg=neg):
                have = s.ctstates() if entry_state(s) == s.ctstate else {entry_state(s)}  # raw: no entry yet
                if bool(have & want) != neg:
                    return None
                return f"{desc} does not match conntrack state {','.join(sorted(have))}"
            checks.append(chk)
            continue
        skip: tuple[str, ...]
        if has_state:
            skip = untracked  # the kernel returns after the state test for these
        else:
            skip = ()

        def wrap(inner, desc=desc, skip=skip):
            def chk(s):
                if entry_state(s) in untracked:
                    if skip:
                        return None
                    return f"-m conntrack {desc}: {no_entry(s)}"
                return inner(s)
            return chk

        inner: Callable[[Any], Any]  # one check per option kind, each closing over its own values
        if f == "--ctstatus":
            want = set(o.value.upper().split(",")) - {"NONE"}

            def status(s: State, want: set[str] = want, desc: str = desc, neg: bool = neg) -> str | Assume | None:
                if s.ctstate == "NEW":
                    have: set[str] = set()
                elif s.ctstate == "ESTABLISHED" and "ASSURED" not in want and "EXPECTED" not in want:
                    have = {"SEEN_REPLY", "CONFIRMED"}
                else:
                    return Assume(f"{desc}: the status bits of a {s.ctstate} connection depend on its history; assumed to match")
                if bool(have & want) != neg:
                    return None
                return f"{desc} does not match conntrack status {','.join(sorted(have)) or 'NONE'}"
            inner = status
        elif f == "--ctproto":
            c = comp.proto(o.value, neg)

            def proto(s, c=c, desc=desc):
                return None if c(s) is None else f"{desc} does not match {s.proto}"
            inner = proto
        elif f in ("--ctorigsrc", "--ctorigdst", "--ctreplsrc", "--ctrepldst"):
            v, base, mask = parse_net(o.value)

            def address(s, v=v, base=base, mask=mask, f=f, desc=desc, neg=neg):
                addr = {"--ctorigsrc": s.orig_src, "--ctorigdst": s.orig_dst,
                        "--ctreplsrc": s.dst if s.ct_dnat else s.orig_dst,
                        "--ctrepldst": s.src if s.ct_snat else s.orig_src}[f]
                av, ax = parse_ip(addr)
                if (av == v and (ax & mask) == base) != neg:
                    return None
                return f"{desc} does not match {addr}"
            inner = address
        elif f in ("--ctorigsrcport", "--ctorigdstport", "--ctreplsrcport", "--ctrepldstport"):
            lo, hi = port_range(o.value)

            def port(s, lo=lo, hi=hi, f=f, desc=desc, neg=neg):
                p = {"--ctorigsrcport": s.orig_sport, "--ctorigdstport": s.orig_dport,
                     "--ctreplsrcport": s.dport if s.ct_dnat else s.orig_dport,
                     "--ctrepldstport": s.sport if s.ct_snat else s.orig_sport}[f]
                if (p is not None and lo <= p <= hi) != neg:
                    return None
                return f"{desc} does not match {p}"
            inner = port
        elif f == "--ctdir":
            want_dir = o.value.upper()

            def direction(s, want=want_dir, desc=desc, neg=neg):
                return None if (want == "ORIGINAL") != neg else f"{desc}: the packet goes in the ORIGINAL direction"
            inner = direction
        elif f == "--ctexpire":
            def expire(s, desc=desc):
                return Assume(f"{desc}: the remaining lifetime of the entry is not known; assumed to match")
            inner = expire
        else:
            comp.unknown_option(m, o, checks)
            continue
        checks.append(wrap(inner))


_OWNERS = ("kube-proxy", "Calico", "Docker", "Cilium", "CNI portmap")

EXTENSIONS = (
    Extension("conntrack", "match", "the packet's connection tracking state, status, tuple and direction",
              options=tuple(OptionSpec("--" + k) for k in CT_KEYS),
              listing_words=CT_KEYS, read_listing=_read_conntrack, listing_text=_text_conntrack,
              compile=_compile, owners=_OWNERS),
    Extension("state", "match", "the packet's connection tracking state (the older form of -m conntrack --ctstate)",
              options=(OptionSpec("--state"),), listing_words=("state",), read_listing=_read_state,
              listing_text=_text_state, compile=_compile, owners=("Docker", "firewalld", "ufw")),
)
