"""``nfwb trace DUMP --src IP --dst IP --proto P ...``: trace one packet through a ruleset (simulator);
``nfwb trace DUMP --capture FILE``: which of DUMP's rules a packet traced by the kernel hit.

Exit status: 0 after printing the trace; 2 for bad input (one line naming file:line);
with ``--fail-on-drop``, 1 when any branch ends in DROP or REJECT (so a script can ask
"does this packet get through on every path?").
"""

from __future__ import annotations

import argparse
import json
import sys

from .packet_args import add_packet_arguments, ipset_arg, load, packet_from_args, ruleset_for, write_text

__all__ = ["add_arguments", "run", "write_text"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = ("exit status: 0 trace printed; 1 with --fail-on-drop when a branch ends in DROP/REJECT; "
                "2 bad input (one line naming file:line)")
    add_packet_arguments(p)
    p.add_argument("--out-iface", metavar="IF", default=None,
                   help="interface the packet leaves on (for -o matches; default: the routing lookup in --routes, "
                        "else unknown and -o assumed to match)")
    p.add_argument("--ipset", action="append", default=[], type=ipset_arg, metavar="NAME=CIDR,...",
                   help="members of an ipset used by -m set (repeatable; sets not given are assumed to match)")
    p.add_argument("--ipset-save", metavar="FILE", default=None,
                   help="members of every set from an `ipset save` output file (default: a node dump's own "
                        "network/ipset.txt)")
    p.add_argument("--route-localnet", action="store_true",
                   help="the node runs with net.ipv4.conf.*.route_localnet=1 (kube-proxy sets it for localhost "
                        "NodePorts); default: the kernel's 0, loopback addresses do not cross interfaces")
    p.add_argument("--accept-local", action="store_true",
                   help="the node runs with net.ipv4.conf.*.accept_local=1; default: the kernel's 0, a packet "
                        "arriving with one of the node's own addresses as source is dropped (martian source)")
    p.add_argument("--routes", metavar="FILE", default=None,
                   help="the node's `ip route` output (default: the dump's own, if it has one): the routing lookup "
                        "after PREROUTING / before OUTPUT gives the output interface for -o (no route: dropped) and "
                        "-m rpfilter's way back; without routes -o is assumed to match and rpfilter assumes the way "
                        "back is the interface the packet came in on")
    p.add_argument("--backend", choices=["nft", "legacy"], default="nft",
                   help="how the rules were loaded: iptables-nft (default) or iptables-legacy (built-in chains the "
                        "dump leaves out exist, empty; security before nat at INPUT)")
    p.add_argument("--all-steps", action="store_true",
                   help="text output: list every rule evaluated with the reason it did not match")
    p.add_argument("--fail-on-drop", action="store_true", help="exit 1 when any branch ends in DROP or REJECT")
    p.add_argument("--capture", metavar="FILE", default=None,
                   help="a `nft monitor trace` or `xtables-monitor --trace` capture taken on the node: show which "
                        "of DUMP's rules the traced packet hit (by handle when DUMP has `nft -a`, else by rule "
                        "text) instead of simulating; --src/--dst/--proto are then read from the capture")
    p.add_argument("--trace-id", metavar="ID", default=None,
                   help="with --capture: which traced packet (default: the first in the capture)")
    for action in p._actions:   # the packet comes from the capture when --capture is given
        if action.dest in ("src", "dst", "proto"):
            action.required = False


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..model import InputError
    from ..trace import Tracer
    if args.capture:
        return _run_capture(args)
    if not (args.src and args.dst and args.proto):
        raise InputError("trace: --src, --dst and --proto are required (or --capture FILE)")
    packet = packet_from_args(args)
    if args.out_iface:
        packet = replace(packet, out_iface=args.out_iface)
    got = load(args.dump, args.node_ip)
    ruleset, node_ips = ruleset_for(got, args.dump, packet), got.node_ips
    ipsets = got.ipsets
    if args.ipset_save:
        from ..trace import ipsets_from_save
        ipsets = ipsets_from_save(_read(args.ipset_save))
    if args.ipset:
        ipsets = {**(ipsets or {}), **dict(args.ipset)}
    routes = _read(args.routes) if args.routes else got.routes
    if got.nft is not None:
        # native nftables (an nft listing, or a dump's nft view beside its iptables-save)
        from ..nft.trace import NftTracer
        tracer: Tracer = NftTracer(got.nft, ruleset if ruleset.tables else None, route_localnet=args.route_localnet,
                           accept_local=args.accept_local)
    else:
        tracer = Tracer(ruleset, backend=args.backend, route_localnet=args.route_localnet,
                        accept_local=args.accept_local)
    trace = tracer.trace(packet, node_ips, ipsets=ipsets, routes=routes)
    if args.json:
        json.dump(trace.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        write_text(trace, sys.stdout, all_steps=args.all_steps, node_ips=node_ips)
    if args.fail_on_drop and any(b.verdict in ("DROP", "REJECT") for b in trace.branches):
        return 1
    return 0


def _run_capture(args: argparse.Namespace) -> int:
    from ..trace_capture import trace_from_capture
    got = load(args.dump, args.node_ip)
    trace = trace_from_capture(_read(args.capture), got.ruleset, got.nft, trace_id=args.trace_id)
    if args.json:
        json.dump(trace.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        write_text(trace, sys.stdout, all_steps=args.all_steps, node_ips=got.node_ips)
    if args.fail_on_drop and any(b.verdict in ("DROP", "REJECT") for b in trace.branches):
        return 1
    return 0


def _read(path: str) -> str:
    """A text file given on the command line (--routes, --ipset-save): capped, UTF-8, no NUL bytes."""
    from pathlib import Path

    from ..model import InputError
    from ..parse.detect import read_input
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file")
    return read_input(p)[0]
