"""How a target's options are listed by ``iptables -L``: a lead word, then one listing word
per option (a switch, a value after it, or a value glued to it as ``gw:10.0.0.1``). One
grammar gives both the reader (listing → save options) and the printer (rule → listing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..model import Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader, unquote
from ..trace.state import State

__all__ = ["Word", "reader", "printer", "assumed"]


@dataclass(frozen=True)
class Word:
    """One option as listed: ``word`` (ending in ``:`` or ``=`` when the value is glued to it),
    its save ``flag``, ``nargs`` 0 (a switch) or 1, and whether the value is printed quoted."""

    word: str
    flag: str
    nargs: int = 1
    quoted: bool = False

    @property
    def glued(self) -> bool:
        return self.word.endswith((":", "="))


def reader(lead: str, words: tuple[Word, ...]) -> Callable[..., tuple[list[Option], int]]:
    """A target reader: ``lead`` (when not empty) then any of ``words`` in any order.

    >>> read = reader("TEE", (Word("gw:", "--gateway"), Word("oif=", "--oif")))
    >>> [o.to_save() for o in read(["TEE", "gw:10.0.0.1", "oif=eth0"], 0, "TEE", None)[0]]
    ['--gateway 10.0.0.1', '--oif eth0']
    """
    by_word = {w.word: w for w in words}

    def read(t: list[str], i: int, target: str, ctx: ListingContext | None) -> tuple[list[Option], int]:
        j, n = i, len(t)
        if lead:
            if t[j] != lead:
                raise NotThisReader
            j += 1
        opts: list[Option] = []
        while j < n:
            w = by_word.get(t[j])
            if w is not None and not w.glued:
                if w.nargs == 0:
                    opts.append(Option(w.flag))
                    j += 1
                    continue
                if j + 1 >= n:
                    break
                opts.append(Option(w.flag, (unquote(t[j + 1]) if w.quoted else t[j + 1],)))
                j += 2
                continue
            head = next((g for g in words if g.glued and t[j].startswith(g.word)), None)
            if head is None:
                break
            value = t[j][len(head.word):]
            opts.append(Option(head.flag, (unquote(value) if head.quoted else value,)))
            j += 1
        if j == i:
            raise NotThisReader
        return opts, j
    return read


def printer(lead: str, words: tuple[Word, ...]) -> Callable[[Rule], str]:
    """The listing text of a rule's target options, in the rule's option order.

    >>> from workbook.parse import parse_save
    >>> r = parse_save("*filter\\n:FORWARD ACCEPT [0:0]\\n-A FORWARD -j TEE --gateway 10.0.0.1\\nCOMMIT\\n").chain("filter", "FORWARD").rules[0]
    >>> printer("TEE", (Word("gw:", "--gateway"),))(r)
    ' TEE gw:10.0.0.1'
    """
    by_flag = {w.flag: w for w in words}

    def text(rule: Rule) -> str:
        out = f" {lead}" if lead else ""
        for o in rule.target_options:
            w = by_flag.get(o.flag)
            if w is None:
                out += f" {o.to_save()}"
                continue
            value = f'"{o.value}"' if w.quoted else o.value
            if w.nargs == 0:
                out += f" {w.word}"
            elif w.glued:
                out += f" {w.word}{value}"
            else:
                out += f" {w.word} {value}"
        return out
    return text


def assumed(state: State, text: str) -> None:
    """Say why the target's effect is assumed: a branch note, and the target's step is marked."""
    state.note(text)
    steps = state.steps
    if steps:
        steps[-1].assumed = True


#: a target printed as ``LEAD words... [value]`` per option: (listing words, save flag, nargs)
Phrase = tuple[tuple[str, ...], str, int]


def phrase_reader(lead: str, phrases: tuple[Phrase, ...]) -> Callable[..., tuple[list[Option], int]]:
    """A reader for ``TTL set to 5`` / ``TCPMSS clamp to PMTU`` (one option after ``lead``).

    >>> read = phrase_reader("TTL", ((("set", "to"), "--ttl-set", 1), (("increment", "by"), "--ttl-inc", 1)))
    >>> read(["TTL", "increment", "by", "2"], 0, "TTL", None)
    ([Option(flag='--ttl-inc', args=('2',), negated=False)], 4)
    """
    def read(t: list[str], i: int, target: str, ctx: ListingContext | None) -> tuple[list[Option], int]:
        if t[i] != lead:
            raise NotThisReader
        for words, flag, nargs in phrases:
            k = i + 1 + len(words)
            if tuple(t[i + 1:k]) == words and k + nargs <= len(t):
                return [Option(flag, tuple(t[k:k + nargs]))], k + nargs
        raise NotThisReader
    return read


def phrase_printer(lead: str, phrases: tuple[Phrase, ...]) -> Callable[[Rule], str]:
    """The printer matching :func:`phrase_reader`."""
    by_flag = {flag: words for words, flag, _ in phrases}

    def text(rule: Rule) -> str:
        out = f" {lead}"
        for o in rule.target_options:
            words = by_flag.get(o.flag)
            out += f" {' '.join(words)}{' ' + o.value if o.args else ''}" if words else f" {o.to_save()}"
        return out
    return text
