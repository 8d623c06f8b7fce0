"""``nfwb parse FILE``: parse any supported dump and print it as text, CSV or JSON."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="a dump file: iptables-save, iptables -S, iptables -L -n -v, lsmod")
    p.add_argument("--format", default="auto", choices=["auto", "save", "spec", "listing", "lsmod"])
    out = p.add_mutually_exclusive_group()
    out.add_argument("--csv", action="store_true", help="print the rules (or modules) frame as CSV")
    out.add_argument("--json", action="store_true", help="print the frame as JSON records")
    p.add_argument("--lenient", action="store_true", help="keep what parses; list problems on stderr")
    p.add_argument("--save", action="store_true", help="print the ruleset back as iptables-save text")


def run(args: argparse.Namespace) -> int:
    from ..parse import parse
    obj = parse(args.file, format=args.format, strict=not args.lenient)
    for prob in getattr(obj, "problems", []):
        print(f"warning: {prob}", file=sys.stderr)
    if args.save and hasattr(obj, "to_save"):
        sys.stdout.write(obj.to_save(counters=True))
        return 0
    frame = obj.frame if hasattr(obj, "frame") else obj.rules
    if args.csv:
        frame.to_csv(sys.stdout, index=False)
    elif args.json:
        json.dump(json.loads(frame.to_json(orient="records", default_handler=str)), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(obj.summary() if hasattr(obj, "summary") else repr(obj))
        import pandas as pd
        with pd.option_context("display.max_rows", 200, "display.width", 200, "display.max_colwidth", 80):
            cols = [c for c in ("table", "chain", "position", "target", "pkts", "bytes", "spec") if c in frame.columns]
            print(frame[cols].to_string(index=False) if cols else frame.to_string(index=False))
    return 0
