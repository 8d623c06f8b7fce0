"""``nfwb check DUMP``: findings with evidence and fix commands; exit 1 when any is an error."""

from __future__ import annotations

import argparse
import json
import sys

from ..i18n import _


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dump", help="a rules file (iptables-save, -S, -L -n -v, lsmod, nft list ruleset, nft -j) "
                                "or a node dump folder/archive")
    p.add_argument("--modules", metavar="LSMOD", help="an lsmod (or /proc/modules) file to check the modules against")
    p.add_argument("--severity", default="info", choices=["error", "warning", "info"],
                   help="show findings at least this bad (default: info = all); the exit status counts errors")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.add_argument("--max-rows", type=int, default=20, help="evidence rows printed per finding (text output)")


def run(args: argparse.Namespace) -> int:
    from ..checks import check
    from ..target import open_target
    from ..gc_pause import keep_loaded
    target = open_target(args.dump).subject
    keep_loaded()   # a one-shot process: the checks\x27 collections need not walk the loaded dump again
    modules = None
    if args.modules:
        from pathlib import Path

        from ..model import InputError
        from ..parse import parse
        if not Path(args.modules).is_file():
            raise InputError(f"{args.modules}: no such file")
        modules = parse(Path(args.modules), format="lsmod")  # read like any input: capped, strict, file:line
    findings = check(target, modules)
    shown = findings.at_least(args.severity)
    if args.json:
        doc = json.loads(shown.to_json())
        doc["target"] = str(args.dump)
        doc["summary"] = findings.counts()
        json.dump(doc, sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
    else:
        print(f"nfwb check {args.dump}: {findings.summary()}")
        from ..checks.context import Context
        ctx = Context.of(target, modules)
        for name, rs in ctx.rulesets.items():
            print("  " + _("checked {name}: {n} rules from {source}").format(name=name, n=len(rs), source=rs.source))
        if ctx.nft is not None:
            from ..nft.kube_proxy import kube_proxy_nft
            print("  " + _("checked nft: {n} rules in {tables} tables from {source}").format(
                n=len(ctx.nft), tables=len(ctx.nft.tables), source=ctx.nft.source))
            kp = kube_proxy_nft(ctx.nft)
            if kp is not None:
                print(f"  {kp.summary()}")
        if ctx.modules is not None:
            print("  " + _("checked modules: {n} from {source}").format(n=len(ctx.modules),
                                                                    source=ctx.modules_source or "lsmod"))
        from ..limits import one_line
        main = target if getattr(target, "format", None) in ("nft", "nft-json") else getattr(target, "ruleset", target)
        for p in getattr(main, "problems", [])[:20]:
            print(f"  {_('note')}: {one_line(str(p))}")
        if shown:
            print()
            print("\n\n".join(f.text(args.max_rows) for f in shown))
    return 1 if findings.has_errors else 0
