"""``nfwb parse FILE``: parse any supported dump and print it as text, CSV or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..i18n import _
from ..vocab import TABLES


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="a dump file: iptables-save, iptables -S, iptables -L [-n] [-v], lsmod, /proc/modules "
                                "(also pasted terminal sessions), nft list ruleset [-a] [-s], nft -j list ruleset; "
                                "'-' reads stdin")
    p.add_argument("--format", default="auto", choices=["auto", "save", "spec", "listing", "lsmod", "nft", "nft-json"],
                   help="input format (default: detect from the content)")
    p.add_argument("--table", choices=list(TABLES),
                   help="table of an iptables -S / -L dump (default: from a pasted command line, else inferred)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--csv", action="store_true", help="print the rules (or modules) frame as CSV")
    out.add_argument("--json", action="store_true", help="print the frame as JSON records")
    out.add_argument("--save", action="store_true", help="print the ruleset back as iptables-save -c text")
    out.add_argument("--nft", action="store_true", help="print an nftables ruleset back as nft list ruleset text")
    p.add_argument("--lenient", action="store_true", help="keep what parses; list problems on stderr")


def run(args: argparse.Namespace) -> int:
    from ..limits import one_line
    from ..model import InputError
    from ..parse import parse
    src: str | Path  # the text itself (stdin) or the file
    if args.file == "-":
        from ..limits import read_capped
        from ..parse.save import check_text
        src = check_text(read_capped(sys.stdin.buffer, "<stdin>"), "<stdin>")
        if "\n" not in src:
            src += "\n"  # one line without a newline is text, not a file name
    else:
        path = Path(args.file)
        if not path.exists():
            raise InputError(f"{args.file}: no such file")
        src = path
    kw = {"table": args.table} if args.table and args.format in ("auto", "spec", "listing") else {}
    if kw and args.format == "auto":
        from ..parse.detect import detect_format, read_input
        text, source = read_input(src)
        if detect_format(text, source) not in ("spec", "listing"):
            kw = {}
    if args.file == "-":
        kw["source"] = "<stdin>"
    obj = parse(src, format=args.format, strict=not args.lenient, **kw)
    for prob in getattr(obj, "problems", []):
        print(f"{_('warning')}: {one_line(str(prob))}", file=sys.stderr)
    if args.nft:
        if not hasattr(obj, "to_nft"):
            raise InputError(f"{args.file}: --nft needs an nftables ruleset, this is {type(obj).__name__}")
        sys.stdout.write(obj.to_nft())
        return 0
    if args.save:
        if not hasattr(obj, "to_save"):
            raise InputError(f"{args.file}: --save needs a ruleset, this is {type(obj).__name__}")
        sys.stdout.write(obj.to_save(counters=True))
        return 0
    frame = obj.frame if hasattr(obj, "frame") else obj.rules
    if args.csv:
        frame.to_csv(sys.stdout, index=False)
    elif args.json:
        json.dump(json.loads(frame.to_json(orient="records", default_handler=str)), sys.stdout, indent=1,
                  ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(obj.summary() if hasattr(obj, "summary") else repr(obj))
        for note in getattr(obj, "notes", []):
            print(f"{_('note')}: {note}")
        import pandas as pd
        with pd.option_context("display.max_rows", 200, "display.width", 200, "display.max_colwidth", 80):
            cols = [c for c in ("family", "table", "chain", "position", "handle", "target", "verdict", "pkts", "bytes",
                                "spec") if c in frame.columns]
            print(frame[cols].to_string(index=False) if cols else frame.to_string(index=False))
    return 0
