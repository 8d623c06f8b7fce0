"""``nfwb diff A B``: rule-level, order-aware differences; exit 1 when the rules differ (like diff(1))."""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", help="the earlier dump: a rules file or a node dump folder/archive")
    p.add_argument("b", help="the later dump")
    p.add_argument("--json", action="store_true", help="print the changes as JSON")
    p.add_argument("--context", type=int, default=2, help="unchanged rules shown around each change")
    p.add_argument("--no-counters", action="store_true", help="leave out counter-only changes")


def run(args: argparse.Namespace) -> int:
    from ..target import open_target
    from ..diff import diff_rulesets
    d = diff_rulesets(open_target(args.a).subject, open_target(args.b).subject, context=args.context)
    if args.no_counters:
        d.rows = [r for r in d.rows if r["change"] != "counters"]
    if args.json:
        sys.stdout.write(d.to_json(indent=1) + "\n")
    else:
        print(f"nfwb diff: {d.summary()}")
        if d.rows:
            sys.stdout.write(d.text())
    return 1 if d else 0
