"""Run ``nfwb`` in-process through :func:`workbook.cli.main` (the console script's entry) and check
the bad-input contract: exit 2 and exactly one short line on stderr."""

from __future__ import annotations

import contextlib
import io

from workbook.cli import main

#: "One error line is at most a few hundred characters" (issue 8 §4)
MAX_LINE = 400


def nfwb(*argv: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    """``(exit status, stdout, stderr)`` of ``nfwb ARGV...``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def refused(*argv: str) -> str:
    """The one error line of ``nfwb ARGV...``, which must exit 2 with nothing on stdout."""
    rc, out, err = nfwb(*argv)
    lines = err.split("\n")
    assert rc == 2, (rc, err[-2000:])
    assert len(lines) == 2 and lines[1] == "", err[-2000:]   # one line, newline-terminated
    assert len(lines[0]) <= MAX_LINE, len(lines[0])
    assert "internal error" not in lines[0] and "Traceback" not in err
    assert out == "", out[-2000:]
    return lines[0]
