"""One home per netfilter extension, as iptables keeps one ``libxt_*.c`` per extension.

Each module here (``match_<name>.py``, ``target_<name>.py``) defines ``EXTENSIONS``: the
:class:`~workbook.extensions.registry.Extension` records holding an extension's option grammar,
its ``-L`` reader and printer, its tracer semantics and its owner hints. ``parse``, ``listing``,
``listing_print`` and ``trace`` consult :func:`match_extension` / :func:`target_extension`.
"""

from .registry import Extension, OptionSpec, extensions, listing_reader, match_extension, target_extension

__all__ = ["Extension", "OptionSpec", "extensions", "listing_reader", "match_extension", "target_extension"]
