"""``nfwb collect``: collect node dumps locally (or in a network namespace) or over SSH, each into DIR/<host>/."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--local", action="store_true", help="collect this machine")
    where.add_argument("--ssh", nargs="+", metavar="[USER@]HOST[:PORT]", help="collect these hosts over SSH, in parallel")
    where.add_argument("--verify", metavar="DUMP", help="check a collected dump against its MANIFEST.json and summarise it")
    p.add_argument("-o", "--output", metavar="DIR", help="each host's dump goes to DIR/<host>/ (must not exist yet)")
    p.add_argument("--netns", metavar="NAME", help="with --local: collect inside network namespace NAME (ip netns exec)")
    p.add_argument("--identity", "-i", metavar="KEY", help="SSH private key file (default: ssh-agent and ~/.ssh keys)")
    p.add_argument("--known-hosts", metavar="FILE", help="known_hosts file to check host keys against (default ~/.ssh/known_hosts)")
    p.add_argument("--accept-new-host-key", action="store_true",
                   help="accept and record a host key not yet in known_hosts (a CHANGED key is still refused)")
    p.add_argument("--user", default="root", help="SSH user when a target has no USER@ (default root)")
    p.add_argument("--sudo", action="store_true", help="run every command through `sudo -n`")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S", help="per-command timeout in seconds (default 30)")
    p.add_argument("--connect-timeout", type=float, default=10.0, metavar="S", help="SSH connect timeout (default 10)")
    p.add_argument("--workers", type=int, default=8, help="hosts collected at once (default 8)")
    p.add_argument("--mode", choices=("auto", "session", "per-command"), default="auto",
                   help="session: all of a host's commands in one shell (one SSH channel); per-command: one shell "
                        "(SSH channel) each, 4 at once; auto (default): session over SSH, per-command with --local")
    p.add_argument("--json", action="store_true", help="print one JSON object per host (a JSON list)")


def run(args: argparse.Namespace) -> int:
    from ..collect import collect_local, collect_ssh
    from ..model import InputError
    from pathlib import Path
    import socket
    progress = None if not args.json else False
    if args.verify:
        from ..dump import load_dump
        d = load_dump(args.verify)  # strict: a changed or missing file is an InputError (exit 2)
        if d.tampered:   # files the manifest does not list: tampering too (exit 2, one line)
            more = f" (and {len(d.tampered) - 1} more)" if len(d.tampered) > 1 else ""
            raise InputError(f"MANIFEST.json: {d.tampered[0]} is {d.tampering[d.tampered[0]]}{more}")
        if not d.manifest:
            raise InputError(f"{args.verify}: no MANIFEST.json: nothing to verify against")
        if args.json:
            json.dump({"path": str(d.path), "layout": d.layout, "host": d.host, "collected_at": d.collected_at,
                       "files": len(d.files), "rulesets": {k: len(v) for k, v in d.rulesets.items()},
                       "problems": [str(p) for p in d.problems], "notes": d.notes}, sys.stdout, indent=1)
            sys.stdout.write("\n")
        else:
            print(d.summary())
        return 0
    if not args.output:
        raise InputError("-o DIR is required to collect")
    if args.local:
        name = args.netns or socket.gethostname()
        results = [collect_local(Path(args.output) / name, netns=args.netns, sudo=args.sudo,
                                 timeout=args.timeout, progress=progress,
                                 session=args.mode == "session")]
    else:
        if args.netns:
            raise InputError("--netns works with --local only")
        targets = [t if "@" in t else f"{args.user}@{t}" for t in args.ssh]
        results = collect_ssh(targets, args.output, identity=args.identity, known_hosts=args.known_hosts,
                              accept_new_host_key=args.accept_new_host_key, sudo=args.sudo, timeout=args.timeout,
                              connect_timeout=args.connect_timeout, workers=args.workers, progress=progress,
                              session=args.mode != "per-command")
    if args.json:
        json.dump([r.to_dict() for r in results], sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        for r in results:
            if r.ok:
                print(r)
    for r in results:
        if not r.ok:
            print(f"nfwb collect: error: {r.target}: {r.error}", file=sys.stderr)
    return 0 if all(r.ok for r in results) else 2
