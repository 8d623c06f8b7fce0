"""``nfwb lab trace DUMP ...``: run one packet through the real kernel (root; throw-away namespaces).

Same arguments and JSON as ``nfwb trace``; exit 0 after printing the trace, 2 for bad input
(or when the lab cannot run: not root, iptables/xtables-monitor missing), and with
``--fail-on-drop`` 1 when the kernel dropped or rejected the packet.
"""

from __future__ import annotations

import argparse
import json
import sys

from .packet_args import add_packet_arguments, ipset_arg, load, packet_from_args, write_text

from ..i18n import _


def _sysctl(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.startswith("net."):
        raise argparse.ArgumentTypeError(f"expected net.KEY=VALUE, got {text!r}")
    return key, value


def nft_text_for_lab(nft, iptables) -> str:
    """The native tables of ``nft`` as ``nft -f`` input; tables iptables-nft manages are left out
    when ``iptables`` (from iptables-save) has them: iptables-nft-restore loads those."""
    from ..nft.model import NftRuleset
    keep = NftRuleset(source=nft.source)
    keep.tables = {k: t for k, t in nft.tables.items()
                   if not (t.iptables_nft and k[0] == "ip" and k[1] in iptables.tables)}
    return keep.to_nft(stateless=True)


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="lab_command", metavar="LAB_COMMAND")
    t = sub.add_parser("trace", help="trace one packet through DUMP's rules in the real kernel",
                       description="Load DUMP's rules into throw-away network namespaces with iptables-restore, "
                                   "send one real packet and print the kernel's TRACE (same JSON as nfwb trace).")
    add_packet_arguments(t)
    t.add_argument("--out-iface", metavar="IF", default=None,
                   help="name of the node interface forwarded packets leave on (default nfwb-sink)")
    t.add_argument("--backend", choices=["nft", "legacy"], default="nft",
                   help="load with iptables-nft (default) or iptables-legacy")
    t.add_argument("--sysctl", action="append", default=[], type=_sysctl, metavar="net.KEY=VALUE",
                   help="set in the node namespace, e.g. net.ipv4.conf.all.route_localnet=1 (repeatable)")
    t.add_argument("--ipset", action="append", default=[], type=ipset_arg, metavar="NAME=CIDR,...",
                   help="create this ipset in the node namespace (repeatable), as nfwb trace --ipset")
    t.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the kernel's trace (default 5)")
    t.add_argument("--keep", action="store_true", help="leave the namespaces in place for a look (ip netns list)")
    t.add_argument("--fail-on-drop", action="store_true", help="exit 1 when the kernel drops or rejects the packet")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..model import InputError
    if getattr(args, "lab_command", None) != "trace":
        raise InputError("usage: nfwb lab trace DUMP --src IP --dst IP --proto P [--dport N] ...")
    from ..lab import lab_available, lab_trace
    packet = packet_from_args(args)
    if args.out_iface:
        packet = replace(packet, out_iface=args.out_iface)
    got = load(args.dump, args.node_ip)
    ruleset, node_ips = got.ruleset, got.node_ips
    ok, why = lab_available(args.backend)
    if not ok:
        raise InputError(why)
    if got.nft is not None:
        # native nftables: loaded with nft -f (the tables iptables-nft manages come from iptables-save
        # when the dump has it), traced with nft monitor trace
        from ..nft.lab import nft_lab_trace
        trace = nft_lab_trace(nft_text_for_lab(got.nft, ruleset), packet, node_ips,
                              iptables=ruleset if ruleset.tables else None, timeout=args.timeout, keep=args.keep,
                              sysctls=dict(args.sysctl))
    else:
        trace = lab_trace(ruleset, packet, node_ips, timeout=args.timeout, keep=args.keep, backend=args.backend,
                          sysctls=dict(args.sysctl), ipsets=dict(args.ipset) or None)
    if args.json:
        json.dump(trace.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(_("kernel trace (one real packet):") + "\n")
        write_text(trace, sys.stdout, node_ips=node_ips)
        for b in trace.branches:
            for note in b.notes:
                print(f"{_('note')}: {note}")
    if args.fail_on_drop and any(b.verdict in ("DROP", "REJECT") for b in trace.branches):
        return 1
    return 0
