"""Parsers for every dump format, and ``parse()`` that picks the right one."""

from __future__ import annotations

from .rule import build_rule, tokenize
from .save import parse_save

__all__ = ["parse", "parse_save", "parse_spec", "parse_listing", "parse_lsmod", "build_rule", "tokenize"]


def __getattr__(name: str):
    if name in ("parse_spec", "parse_listing", "parse_lsmod"):
        import importlib
        mod = importlib.import_module(f".{name[6:]}", __name__)
        return getattr(mod, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parse(path_or_text, *, format: str = "auto", strict: bool = True, **kw):
    """Parse a dump given as a path or as text; returns a Ruleset (or Modules for lsmod).

    ``format`` is ``auto`` (detect by content, see :func:`~workbook.parse.detect.detect_format`),
    ``save``, ``spec``, ``listing``, ``lsmod``, ``nft`` (``nft list ruleset`` text, returns an
    :class:`~workbook.nft.model.NftRuleset`) or ``nft-json`` (``nft -j list ruleset``). Extra
    keywords go to the parser (``table=`` for spec/listing, ``family=``). Formats this package does
    not read (nft -f scripts, ipset, XML) raise :class:`~workbook.parse.detect.UnsupportedFormat`
    naming the file.

    >>> parse("*filter\\n:INPUT ACCEPT [0:0]\\nCOMMIT\\n").format
    'save'
    >>> parse("Module  Size  Used by\\nnf_nat 57344 3 xt_nat\\n").names
    {'nf_nat'}
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
    if fmt == "nft":
        from ..nft.parse_text import parse_nft_text
        return parse_nft_text(text, source, strict=strict, **kw)
    if fmt == "nft-json":
        from ..nft.parse_json import parse_nft_json
        return parse_nft_json(text, source, strict=strict, **kw)
    from ..model import InputError
    raise InputError(f"unknown format {fmt!r} (auto, save, spec, listing, lsmod, nft, nft-json)")
