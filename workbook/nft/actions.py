"""The Trace ``action`` word of an nft rule, from its statements and the verdict it gave."""

from __future__ import annotations

import re

__all__ = ["nft_action", "strip_comment"]

_COMMENT_RE = re.compile(r'\s*comment\s+"(?:[^"\\]|\\.)*"')
_WORD_RE = re.compile(r"(?<![\w@-])(dnat|snat|masquerade|redirect|reject)(?![\w-])")


def strip_comment(text: str) -> str:
    """A rule's text without its ``comment "…"`` (words in a comment are not statements).

    >>> strip_comment('ip daddr @cluster-ips reject comment "Reject traffic to invalid ports"')
    'ip daddr @cluster-ips reject'
    """
    return _COMMENT_RE.sub("", text)


def nft_action(text: str, verdict: str) -> str:
    """Trace vocabulary for a rule that matched: ``verdict`` is what ``nft monitor trace`` prints.

    ``accept`` by a NAT statement is that statement (``DNAT``, ``SNAT``, ``MASQUERADE``,
    ``REDIRECT``); ``drop`` by ``reject`` is ``REJECT`` (the kernel shows a reject as drop).

    >>> nft_action("meta l4proto tcp dnat to 10.180.0.1:80", "accept")
    'DNAT'
    >>> nft_action("numgen random mod 2 vmap { 0 : goto endpoint-A, 1 : goto endpoint-B }", "goto endpoint-B")
    'GOTO:endpoint-B'
    >>> nft_action("reject", "drop"), nft_action("ip daddr 10.96.0.0/12 drop", "drop")
    ('REJECT', 'DROP')
    >>> nft_action("meta mark set meta mark | 0x00004000", "continue")
    'CONTINUE'
    """
    v = verdict.strip()
    word, _, target = v.partition(" ")
    word = word.lower()
    if word in ("jump", "goto"):
        return f"{word.upper()}:{target.strip()}"
    if word in ("accept", "drop"):
        found = {m.group(1) for m in _WORD_RE.finditer(strip_comment(text))}
        if word == "accept":
            for stmt in ("dnat", "snat", "masquerade", "redirect"):
                if stmt in found:
                    return stmt.upper()
            return "ACCEPT"
        return "REJECT" if "reject" in found else "DROP"
    if word in ("return", "continue", "queue"):
        return word.upper()
    return word.upper() or "CONTINUE"
