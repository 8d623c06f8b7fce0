"""``nfwb report DUMP -o report.html``: one standalone HTML file (inline CSS and SVG, opens offline)."""

from __future__ import annotations

import argparse
import json
import sys

from ..i18n import _


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dump", help="a rules file or a node dump folder/archive")
    p.add_argument("-o", "--output", required=True, help="the HTML file to write")
    p.add_argument("--title", help="page title (default: the dump's name)")
    p.add_argument("--json", action="store_true", help="print where the report went and the finding counts as JSON")


def run(args: argparse.Namespace) -> int:
    from ..checks import check
    from ..target import open_target
    from ..view.report import write_report
    target = open_target(args.dump).subject
    findings = check(target)
    path = write_report(target, args.output, title=args.title, findings=findings)
    counts = findings.counts()
    if args.json:
        json.dump({"report": str(path), "findings": counts}, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(_("wrote {path} ({size} bytes; findings: {counts})").format(
            path=path, size=path.stat().st_size,
            counts=_("{error} error, {warning} warning, {info} info").format(**counts)))
    return 0
