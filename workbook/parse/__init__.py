"""Parsers for every dump format, and ``parse()`` that picks the right one."""

from __future__ import annotations

from .rule import build_rule, tokenize
from .save import parse_save

__all__ = ["parse", "parse_save", "build_rule", "tokenize"]


def parse(path_or_text, *, format: str = "auto", strict: bool = True, **kw):
    """Parse a dump given as a path or as text; returns a Ruleset (or Modules for lsmod).

    ``format`` is ``auto`` (detect by content), ``save``, ``spec``, ``listing`` or ``lsmod``.

    >>> parse("*filter\\n:INPUT ACCEPT [0:0]\\nCOMMIT\\n").format
    'save'
    """
    from .detect import read_input, detect_format
    text, source = read_input(path_or_text)
    fmt = detect_format(text, source) if format == "auto" else format
    if fmt == "save":
        return parse_save(text, source, strict=strict, **kw)
    if fmt == "spec":
        from .spec import parse_spec
        return parse_spec(text, source, strict=strict, **kw)
    if fmt == "listing":
        from .listing import parse_listing
        return parse_listing(text, source, strict=strict, **kw)
    if fmt == "lsmod":
        from .lsmod import parse_lsmod
        return parse_lsmod(text, source, strict=strict, **kw)
    raise ValueError(f"unknown format {fmt!r} (auto, save, spec, listing, lsmod)")
