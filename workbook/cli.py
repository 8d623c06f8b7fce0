"""The ``nfwb`` command: one subcommand per module in :mod:`workbook.commands`."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from contextlib import nullcontext

from . import __version__
from .gc_pause import paused_gc
from .i18n import _
from .limits import one_line, parse_size, set_max_input
from .model import InputError

__all__ = ["main", "SUBCOMMANDS"]

#: subcommand → module in workbook.commands providing ``add_arguments(parser)`` and ``run(args) -> int``
SUBCOMMANDS: dict[str, str] = {
    "parse": "Parse a dump file (save, -S, -L -n -v, lsmod) and print it as a table, CSV or JSON.",
    "trace": "Trace one packet through a ruleset (simulator).",
    "lab": "Run a packet through the real kernel in throw-away network namespaces (root).",
    "check": "Findings with evidence and fix commands for a dump.",
    "diff": "Rule-level, order-aware differences between two dumps.",
    "report": "Write a standalone HTML report for a dump.",
    "collect": "Collect a node dump locally or over SSH.",
}


#: Commands that read dumps and exit: a parsed dump is ~100k tracked objects and no cycle, and the
#: cyclic GC walking it on every allocation burst costs 30 % of a 10k-Service check (benchmarks/
#: parse_bench.py); these short processes run without it (refcounting still frees everything).
_NO_CYCLIC_GC = frozenset({"parse", "check", "diff", "report"})


class UsageError(Exception):
    """A bad command line: ``str(err)`` is the one line the CLI prints (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse with errors as one line (no usage dump): ``nfwb trace: error: argument --dport: ...``."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)")


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except InputError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="nfwb", description="netfilter-workbook: take apart iptables state of a Kubernetes node.")
    p.add_argument("--version", action="version", version=f"nfwb {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_ in SUBCOMMANDS.items():
        mod = importlib.import_module(f"workbook.commands.{name}")
        sp = sub.add_parser(name, help=help_, description=help_)
        mod.add_arguments(sp)
        nested = [a for a in sp._actions if isinstance(a, argparse._SubParsersAction)]
        for leaf in [c for a in nested for c in a.choices.values()] or [sp]:   # nfwb lab trace: on trace
            leaf.add_argument("--max-input", type=_size, metavar="SIZE", default=None,
                              help="refuse an input file or stream larger than SIZE (e.g. 64M; default "
                                   "$NFWB_MAX_INPUT, else 512M)")
        sp.set_defaults(_run=mod.run)
    return p


def _say(message: str) -> None:
    """Print one message line on stderr (its parts from the input already cut by :func:`one_line`)."""
    print(message, file=sys.stderr)


def _check_utf8(argv: list[str]) -> None:
    """Refuse a command-line word that is not UTF-8 (Python holds its bytes as surrogates, which
    no output, JSON or HTML can carry): one line naming it, like any other argument error."""
    for word in argv:
        try:
            word.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"nfwb: error: argument {one_line(repr(word), 80)} is not UTF-8 text (rename the file, "
                             "or give a UTF-8 name that links to it)") from None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        _check_utf8(argv)
        args = parser.parse_args(argv)
    except UsageError as e:
        _say(str(e))
        return 2
    except SystemExit as e:  # --help, --version
        return e.code if isinstance(e.code, int) else 0
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    with paused_gc() if args.command in _NO_CYCLIC_GC else nullcontext():
        try:
            set_max_input(getattr(args, "max_input", None))
            return int(args._run(args) or 0)
        except InputError as e:
            _say(f"nfwb {args.command}: {_('error')}: {one_line(str(e))}")
            return 2
        except FileNotFoundError as e:
            _say(f"nfwb {args.command}: {_('error')}: {one_line(str(e.filename))}: {_('no such file')}")
            return 2
        except KeyboardInterrupt:
            return 130
        except BrokenPipeError:
            return 0
        except Exception as e:  # a bug or an environment failure: one line, the traceback on request
            if os.environ.get("NFWB_DEBUG"):
                raise
            _say(f"nfwb {args.command}: {_('internal error')}: {type(e).__name__}: {one_line(str(e))} "
                 f"({_('set NFWB_DEBUG=1 for the traceback')})")
            return 3
        finally:
            set_max_input(None)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
