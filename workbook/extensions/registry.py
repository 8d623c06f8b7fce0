"""The registry of netfilter extensions: one :class:`Extension` per match or target module."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal

if TYPE_CHECKING:
    from ..model import Match, Option, Rule

__all__ = ["OptionSpec", "Extension", "match_extension", "target_extension", "extensions", "listing_reader"]

#: how sure the tracer is of an extension: decided exactly, assumed (with ``reason``), or refused
#: as unsupported (kept in the ruleset as an opaque match that is assumed to hold)
Status = Literal["exact", "assumed", "unsupported"]


@dataclass(frozen=True)
class OptionSpec:
    """One option of an extension as ``iptables-save`` prints it."""

    flag: str
    #: how many words follow the flag (0 for a switch such as ``--rsource``)
    nargs: int = 1
    #: whether ``! --flag`` is legal
    negatable: bool = True
    #: other spellings iptables accepts on input (``--destination-port`` for ``--dport``)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Extension:
    """Everything about one match (``-m NAME``) or target (``-j NAME``), in one place.

    The callables are optional: a missing one means "generic" (the save form is printed and
    read as is; the tracer assumes the match holds, or the target continues, and says why).

    - ``read_listing(tokens, i, negated, ctx) -> (Match, next_i)`` for a match, or
      ``(tokens, i, target, ctx) -> (options, next_i[, new_target])`` for a target: reads its
      ``iptables -L -n -v`` words, starting at one of ``listing_words``;
    - ``listing_text(match_or_rule) -> str``: the listed form, with its leading space;
    - ``compile(compiler, rule, match, checks, stats)``: appends the tracer's checks (a match);
    - ``apply(tracer, state, rule, ctx) -> verdict | None``: what the target does to the packet
      state; None continues with the next rule, a verdict ("ACCEPT", "DROP", ...) ends the table.
    """

    name: str
    kind: Literal["match", "target"]
    summary: str
    status: Status = "exact"
    #: why the tracer assumes (or refuses) it; empty when exact
    reason: str = ""
    options: tuple[OptionSpec, ...] = ()
    #: tables where the kernel accepts it (None: every table)
    tables: frozenset[str] | None = None
    families: frozenset[str] = frozenset({"ipv4", "ipv6"})
    #: words that start its ``-L`` rendering (a match's keyword, e.g. "ADDRTYPE", "limit:")
    listing_words: tuple[str, ...] = ()
    #: who writes rules using it (kube-proxy, Calico, Docker...): hints for the owners frame
    owners: tuple[str, ...] = ()
    read_listing: Callable[..., Any] | None = None
    listing_text: Callable[..., str] | None = None
    compile: Callable[..., None] | None = None
    apply: Callable[..., str | None] | None = None
    #: a target that ends the walk of the table whatever ``apply`` says (DROP-like)
    terminal: bool = False
    aliases: tuple[str, ...] = field(default=())

    def option(self, flag: str) -> OptionSpec | None:
        """The spec of ``flag`` (or of one of its aliases)."""
        for spec in self.options:
            if spec.flag == flag or flag in spec.aliases:
                return spec
        return None


_MATCHES: dict[str, Extension] = {}
_TARGETS: dict[str, Extension] = {}
_LISTING: dict[str, Extension] = {}
_loaded = False


def _load() -> None:
    """Import every module of this package once; each defines ``EXTENSIONS`` (a tuple)."""
    global _loaded
    if _loaded:
        return
    from . import __path__ as here
    for info in sorted(pkgutil.iter_modules(here), key=lambda i: i.name):
        if info.name in ("registry",) or info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__package__}.{info.name}")
        for ext in getattr(mod, "EXTENSIONS", ()):
            table = _MATCHES if ext.kind == "match" else _TARGETS
            for name in (ext.name, *ext.aliases):
                assert name not in table, f"extension {ext.kind} {name} defined twice ({info.name})"
                table[name] = ext
            if ext.kind == "match":
                for word in ext.listing_words:
                    assert word not in _LISTING, f"listing word {word!r} claimed twice ({info.name})"
                    _LISTING[word] = ext
    _loaded = True


def match_extension(name: str) -> Extension | None:
    """The match extension ``-m name`` (None when no module knows it).

    >>> match_extension("comment").summary
    'a comment kept with the rule; never changes a verdict'
    """
    if not _loaded:
        _load()
    return _MATCHES.get(name)


def target_extension(name: str) -> Extension | None:
    """The target extension ``-j name`` (None when no module knows it, e.g. a user chain)."""
    if not _loaded:
        _load()
    return _TARGETS.get(name)


def listing_reader(word: str) -> Extension | None:
    """The match extension whose ``-L`` rendering starts with ``word``."""
    if not _loaded:
        _load()
    return _LISTING.get(word)


def extensions() -> list[Extension]:
    """Every registered extension, matches first, by name."""
    if not _loaded:
        _load()
    seen: dict[int, Extension] = {}
    for ext in [*_MATCHES.values(), *_TARGETS.values()]:
        seen.setdefault(id(ext), ext)
    return sorted(seen.values(), key=lambda e: (e.kind != "match", e.name))


def _unused(_: "Match | Option | Rule") -> None:  # keeps the TYPE_CHECKING names referenced
    return None


# -- ext-targets --
def target_names(only_in: str | None = None, *, terminal: bool | None = None) -> frozenset[str]:
    """The names (aliases too) of the registered targets: not chains. ``only_in``: those the
    kernel accepts in that table alone; ``terminal``: those that end the table's walk (or not).

    >>> sorted(target_names("mangle"))[:3], "REJECT" in target_names(terminal=True)
    (['CHECKSUM', 'DSCP', 'ECN'], True)
    """
    if not _loaded:
        _load()
    return frozenset(name for name, ext in _TARGETS.items()
                     if (only_in is None or ext.tables == frozenset({only_in}))
                     and (terminal is None or ext.terminal == terminal))
