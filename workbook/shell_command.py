"""Printed shell commands built from argv lists: every word quoted, nothing a shell or terminal would act on."""

from __future__ import annotations

import re
import shlex
import unicodedata
from typing import Iterable, Sequence

__all__ = ["shell_line", "shell_lines", "shell_note", "terminal_safe", "refusal", "commands_or_refusal", "iptables_chain_problem",
           "kube_name_problem", "Refused", "MAX_CHAIN_NAME"]

#: iptables chain names are shorter than XT_EXTENSION_MAXNAMELEN (29): at most 28 characters.
MAX_CHAIN_NAME = 28

_KUBE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


class Refused(ValueError):
    """A command that is not printed; ``str(err)`` says why (one line, safe to print after ``#``)."""


def _unsafe_char(word: str) -> str | None:
    """The first character a terminal or shell reading a pasted line would act on (None: none)."""
    for ch in word:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn") and ch != " ":
            return ch
    return None


def shell_line(argv: Sequence[str]) -> str:
    """One command line for a POSIX shell: each word of ``argv`` quoted with :func:`shlex.quote`.

    A word holding a control or format character (a newline, a carriage return, an escape, a
    bidi override…) raises :class:`Refused`: pasted into a terminal it would end the line or
    rewrite what the reader sees, so no quoting makes it safe to print.

    >>> shell_line(["iptables", "-t", "nat", "-F", "KUBE-SEP-ABC"])
    'iptables -t nat -F KUBE-SEP-ABC'
    >>> shell_line(["iptables", "-D", "X", "-m", "comment", "--comment", "$(touch /tmp/x) `id`; \\"q\\""])
    'iptables -D X -m comment --comment \\'$(touch /tmp/x) `id`; "q"\\''
    >>> shell_line(["kubectl", "-n", "a\\nb"])
    Traceback (most recent call last):
    ...
    workbook.shell_command.Refused: a word holds the control character U+000A, which a terminal would act on
    """
    words = [str(w) for w in argv]
    if not words:
        raise ValueError("empty command")
    for w in words:
        bad = _unsafe_char(w)
        if bad is not None:
            raise Refused(f"a word holds the control character U+{ord(bad):04X}, which a terminal would act on")
    return " ".join(shlex.quote(w) for w in words)


def shell_lines(*argvs: Sequence[str], joiner: str = "&&") -> str:
    """Several commands on one line, joined by ``&&`` (or ``;``): ``a && b``.

    >>> shell_lines(["iptables", "-F", "X"], ["iptables", "-X", "X"])
    'iptables -F X && iptables -X X'
    """
    if joiner not in ("&&", ";", "||"):
        raise ValueError(f"bad joiner {joiner!r}")
    return f" {joiner} ".join(shell_line(a) for a in argvs)


def terminal_safe(text: str) -> str:
    """``text`` with every control or format character but the newline shown as an escape, so dump
    text printed to a terminal (evidence tables, titles) cannot move the cursor, recolour or hide.

    >>> terminal_safe("KUBE-\\x1b[2J\\nX")
    'KUBE-\\\\x1b[2J\\nX'
    """
    if all(ch == "\n" or _unsafe_char(ch) is None for ch in text):
        return text
    return "".join(ch if ch == "\n" or _unsafe_char(ch) is None else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


def shell_note(text: str) -> str:
    """A ``#`` explanation line that stays one line: control characters are shown as escapes.

    >>> shell_note("chain 'a\\nb' is odd")
    "# chain 'a\\\\nb' is odd"
    """
    out = []
    for ch in text:
        if _unsafe_char(ch) is not None:
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    body = "".join(out)
    return body if body.startswith("#") else "# " + body


def iptables_chain_problem(name: str) -> str | None:
    """Why iptables would refuse ``name`` as a chain name (None: it is a valid name).

    iptables (``iptables -N``) refuses a name of 29 characters or more, one that starts with
    ``-`` or ``!``, and one holding whitespace; the names of built-in chains are valid.

    >>> iptables_chain_problem("KUBE-SVC-NPX46M4PTMTKRN6Y") is None
    True
    >>> iptables_chain_problem("A" * 29)
    'the chain name is 29 bytes long (iptables allows at most 28)'
    >>> iptables_chain_problem("a b")
    'the chain name holds whitespace (iptables refuses it)'
    """
    if not name:
        return "the chain name is empty"
    size = len(name.encode("utf-8", "surrogateescape"))
    if size > MAX_CHAIN_NAME:
        return f"the chain name is {size} bytes long (iptables allows at most {MAX_CHAIN_NAME})"
    if name[0] in "-!":
        return f"the chain name starts with {name[0]!r} (iptables refuses it)"
    if any(c.isspace() for c in name):
        return "the chain name holds whitespace (iptables refuses it)"
    if _unsafe_char(name) is not None:
        return "the chain name holds a control character"
    return None


def kube_name_problem(kind: str, name: str) -> str | None:
    """Why ``name`` cannot be a Kubernetes namespace or Service name (an RFC 1123 label).

    >>> kube_name_problem("namespace", "kube-system") is None
    True
    >>> kube_name_problem("namespace", "$(id)")
    "the namespace '$(id)' is not a Kubernetes name (lower-case letters, digits and '-', at most 63)"
    """
    if _KUBE_NAME.fullmatch(name):
        return None
    shown = shell_note(name)[2:] if _unsafe_char(name) else name
    return f"the {kind} {shown[:70]!r} is not a Kubernetes name (lower-case letters, digits and '-', at most 63)"


def refusal(why: str, what: str = "command") -> str:
    """The ``#`` line printed instead of a refused command."""
    return shell_note(f"(no {what} printed: {why})")


def commands_or_refusal(argvs: Iterable[Sequence[str]], joiner: str = "&&", what: str = "command") -> str:
    """:func:`shell_lines`, or the ``#`` line saying why they are not printed."""
    try:
        return shell_lines(*argvs, joiner=joiner)
    except Refused as e:
        return refusal(str(e), what)
