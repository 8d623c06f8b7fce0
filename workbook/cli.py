"""The ``nfwb`` command: one subcommand per module in :mod:`workbook.commands`."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import __version__
from .i18n import _
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nfwb", description="netfilter-workbook: take apart iptables state of a Kubernetes node.")
    p.add_argument("--version", action="version", version=f"nfwb {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_ in SUBCOMMANDS.items():
        mod = importlib.import_module(f"workbook.commands.{name}")
        sp = sub.add_parser(name, help=help_, description=help_)
        mod.add_arguments(sp)
        sp.set_defaults(_run=mod.run)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except InputError as e:
        print(f"nfwb {args.command}: {_('error')}: {e}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(f"nfwb {args.command}: {_('error')}: {e.filename}: {_('no such file')}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # a bug or an environment failure: one line, the traceback on request
        if os.environ.get("NFWB_DEBUG"):
            raise
        print(f"nfwb {args.command}: {_('internal error')}: {type(e).__name__}: {e} "
              f"({_('set NFWB_DEBUG=1 for the traceback')})", file=sys.stderr)
        return 3


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
