"""Resource caps on hostile input: bytes read per file or stream, and the length of one message line."""

from __future__ import annotations

import os
import re
import unicodedata
from typing import BinaryIO

from .model import InputError, ParseError

__all__ = ["DEFAULT_MAX_INPUT", "ENV_MAX_INPUT", "max_input", "set_max_input", "parse_size", "read_capped",
           "one_line", "MAX_LINE", "MAX_COUNT", "check_count", "fits_count"]

#: Default cap on the bytes read from one input file or stream (far above the largest real dump:
#: a 10,000-Service kube-proxy iptables-save is ~14 MB).
DEFAULT_MAX_INPUT = 512 << 20
#: Environment variable that sets the cap (``nfwb --max-input`` wins over it).
ENV_MAX_INPUT = "NFWB_MAX_INPUT"
#: Characters of one message line at most (a 10 MB token is shown cut).
MAX_LINE = 300
#: Largest counter or size accepted: the kernel's counters are u64, but no real one reaches 2^63
#: (9.2 EB through one rule) and the frames hold them as Int64.
MAX_COUNT = (1 << 63) - 1

_override: int | None = None
_SIZE = re.compile(r"(\d+)\s*([kmgt]?)(i?b)?", re.I)


def parse_size(text: str) -> int:
    """``4096``, ``64K``, ``512M``, ``512MiB``, ``1G`` → bytes (binary multiples; at least 1).

    >>> parse_size("512M"), parse_size("64KiB"), parse_size("100")
    (536870912, 65536, 100)
    >>> parse_size("lots")
    Traceback (most recent call last):
    ...
    workbook.model.InputError: not a size: 'lots' (e.g. 512M, 64K, 4096)
    """
    m = _SIZE.fullmatch(text.strip())
    if not m or int(m.group(1)) < 1 or len(m.group(1)) > 15:
        raise InputError(f"not a size: {one_line(repr(text), 60)} (e.g. 512M, 64K, 4096)")
    return int(m.group(1)) << (10 * "_kmgt".index((m.group(2) or "_").lower()))


def max_input() -> int:
    """The cap in bytes: :func:`set_max_input`'s value, else ``$NFWB_MAX_INPUT``, else 512 MiB."""
    if _override is not None:
        return _override
    env = os.environ.get(ENV_MAX_INPUT)
    if env:
        try:
            return parse_size(env)
        except InputError as e:
            raise InputError(f"${ENV_MAX_INPUT}: {e}") from None
    return DEFAULT_MAX_INPUT


def set_max_input(size: int | None) -> None:
    """Set the cap for this process (None: back to the environment / default)."""
    global _override
    _override = size


def read_capped(f: BinaryIO, source: str, cap: int | None = None) -> bytes:
    """All of ``f`` (a file, FIFO, device or pipe), refused with a one-line error past ``cap`` bytes.

    Binary data (a NUL byte) is refused at the first chunk that has one, so ``/dev/zero`` ends at once.

    >>> import io
    >>> read_capped(io.BytesIO(b"y\\n" * 10), "<stdin>", cap=100)[:4]
    b'y\\ny\\n'
    >>> read_capped(io.BytesIO(b"y\\n" * 100), "<stdin>", cap=100)
    Traceback (most recent call last):
    ...
    workbook.model.ParseError: <stdin>: more than 100 bytes: over the input cap (--max-input SIZE or $NFWB_MAX_INPUT)
    """
    cap = max_input() if cap is None else cap
    chunks: list[bytes] = []
    size = 0
    lines = 0
    while True:
        chunk = f.read(min(1 << 20, cap + 1 - size))
        if not chunk:
            break
        nul = chunk.find(b"\x00")
        if nul >= 0:
            raise ParseError(source, lines + chunk.count(b"\n", 0, nul) + 1, "binary data (NUL byte), not a text dump")
        lines += chunk.count(b"\n")
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            raise ParseError(source, 0, f"more than {cap} bytes: over the input cap (--max-input SIZE or "
                                        f"${ENV_MAX_INPUT})")
    return b"".join(chunks)


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """``text`` as one printable line of at most about ``limit`` characters: line breaks and other
    control characters escaped, a long text cut in the middle with the number of characters left out.

    >>> one_line("a\\nb\\u2028c")
    'a\\\\nb\\\\u2028c'
    >>> one_line("x" * 1000, 40)
    'xxxxxxxxxxxxxxxxxxxx…[980 characters]…'
    """
    total = len(text)
    text = text[:limit * 2]  # enough to show
    out = []
    for ch in text:
        if ch.isprintable() or ch == " ":
            out.append(ch)
        elif unicodedata.category(ch) in ("Zl", "Zp") or ord(ch) > 0xFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(repr(ch)[1:-1])
    s = "".join(out)
    if len(s) <= limit and total == len(text):
        return s
    shown = s[:limit // 2]
    return shown + f"…[{total - len(shown)} characters]…"


def check_count(n: int, what: str = "counter") -> int:
    """``n`` if it fits a real counter/size, else ValueError naming it (the caller adds file:line)."""
    if n > MAX_COUNT:
        raise ValueError(f"{what} {str(n)[:24]}{'…' if len(str(n)) > 24 else ''} beyond 63 bits "
                         "(more than any real value: a corrupt or forged dump)")
    return n


def fits_count(tok: str) -> bool:
    """Is ``tok`` a decimal counter or size below 2^63 (larger ones are refused as forged)?

    >>> fits_count("9223372036854775807"), fits_count("9223372036854775808"), fits_count("²")
    (True, False, False)
    """
    return tok.isdecimal() and (len(tok) < 19 or len(tok) == 19 and int(tok) <= MAX_COUNT)
