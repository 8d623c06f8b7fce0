"""``nfwb lab trace DUMP ...``: run one packet through the real kernel (root; throw-away namespaces)."""

from __future__ import annotations

import argparse
import json
import sys

from .packet_args import add_packet_arguments, load_ruleset, packet_from_args, print_trace


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="lab_command", metavar="LAB_COMMAND")
    t = sub.add_parser("trace", help="trace one packet through DUMP's rules in the real kernel",
                       description="Load DUMP's rules into throw-away network namespaces with iptables-restore, "
                                   "send one real packet and print the kernel's TRACE (same JSON as nfwb trace).")
    add_packet_arguments(t)
    t.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the kernel's trace (default 5)")
    t.add_argument("--keep", action="store_true", help="leave the namespaces in place for a look (ip netns list)")


def run(args: argparse.Namespace) -> int:
    from ..model import InputError
    if getattr(args, "lab_command", None) != "trace":
        raise InputError("usage: nfwb lab trace DUMP --src IP --dst IP --proto P [--dport N] ...")
    from ..lab import lab_available, lab_trace
    packet = packet_from_args(args)
    ok, why = lab_available()
    if not ok:
        raise InputError(why)
    ruleset, node_ips = load_ruleset(args.dump, args.node_ip)
    trace = lab_trace(ruleset, packet, node_ips, timeout=args.timeout, keep=args.keep)
    if args.json:
        json.dump(trace.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print_trace(trace, sys.stdout)
    return 0
