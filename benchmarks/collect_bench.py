"""Collect 10 namespace "nodes" over SSH: each runs its own OpenSSH sshd and holds a real kube-proxy
ruleset; print the wall time collecting all 10 in parallel, and one after the other for comparison,
both with one remote shell per host (the default) and with one SSH channel + shell per command.

Run as root from the repository root:
    .venv/bin/python benchmarks/collect_bench.py [--nodes 10] [--services 200] [--mode both|session|per-command]
Everything it creates (namespaces, veth pairs, sshd processes, keys) is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbook.collect import collect_local, collect_ssh  # noqa: E402
from workbook.dump import load_dump  # noqa: E402
from workbook.generate import generate_services, kube_proxy_save  # noqa: E402

SSHD = "/usr/sbin/sshd"


def sh(*argv: str, input: str | None = None) -> None:
    subprocess.run(argv, check=True, input=input, text=True, capture_output=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--services", type=int, default=200, help="kube-proxy services per node")
    ap.add_argument("--mode", choices=("both", "session", "per-command"), default="both")
    ap.add_argument("--local-runs", type=int, default=5,
                    help="also collect node 1 with --local --netns this many times per mode (median printed)")
    args = ap.parse_args()
    if os.geteuid() != 0 or not os.path.exists(SSHD):
        print("needs root and OpenSSH's sshd", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="nfwb-collect-bench-"))
    tag = f"nfwbb{os.getpid() % 10000}"
    net = 150 + os.getpid() % 40
    procs: list[subprocess.Popen] = []
    namespaces: list[str] = []
    try:
        key = tmp / "id_ed25519"
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
        known = tmp / "known_hosts"
        lines, targets = [], []
        os.makedirs("/run/sshd", exist_ok=True)
        t0 = time.monotonic()
        for k in range(1, args.nodes + 1):
            ns = f"{tag}-{k}"
            sh("ip", "netns", "add", ns)
            namespaces.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            ip_h, ip_n = f"10.{net}.{k}.1", f"10.{net}.{k}.2"
            sh("ip", "link", "add", f"{tag}h{k}", "type", "veth", "peer", "name", f"{tag}n{k}", "netns", ns)
            sh("ip", "addr", "add", f"{ip_h}/30", "dev", f"{tag}h{k}")
            sh("ip", "link", "set", f"{tag}h{k}", "up")
            sh("ip", "-n", ns, "addr", "add", f"{ip_n}/30", "dev", f"{tag}n{k}")
            sh("ip", "-n", ns, "link", "set", f"{tag}n{k}", "up")
            sh("ip", "netns", "exec", ns, "iptables-restore",
               input=kube_proxy_save(generate_services(args.services, seed=k)))
            d = tmp / ns
            d.mkdir()
            sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host_key"))
            shutil.copy(str(key) + ".pub", d / "authorized_keys")
            (d / "sshd_config").write_text(
                f"ListenAddress {ip_n}:22\nHostKey {d / 'host_key'}\nPidFile {d / 'sshd.pid'}\n"
                f"AuthorizedKeysFile {d / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
                "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nLogLevel ERROR\n")
            procs.append(subprocess.Popen(["ip", "netns", "exec", ns, SSHD, "-D", "-e", "-f", str(d / "sshd_config")],
                                          stderr=subprocess.DEVNULL))
            pub = (d / "host_key.pub").read_text().split()
            lines.append(f"{ip_n} {pub[0]} {pub[1]}\n")
            targets.append(f"root@{ip_n}")
        known.write_text("".join(lines))
        for t in targets:  # wait until every sshd answers
            host = t.split("@")[1]
            for _ in range(200):
                try:
                    socket.create_connection((host, 22), timeout=0.5).close()
                    break
                except OSError:
                    time.sleep(0.05)
        setup = time.monotonic() - t0

        print(f"nodes: {args.nodes}, kube-proxy services per node: {args.services}, CPU cores: {os.cpu_count()}, "
              f"load average before: {os.getloadavg()[0]:.1f}")
        print(f"set-up (namespaces, sshd, iptables-restore): {setup:.2f} s")
        modes = ("session", "per-command") if args.mode == "both" else (args.mode,)
        for mode in modes:
            t0 = time.monotonic()
            par = collect_ssh(targets, tmp / f"parallel-{mode}", identity=key, known_hosts=known, workers=args.nodes,
                              progress=False, session=mode == "session")
            t_par = time.monotonic() - t0
            t0 = time.monotonic()
            ser = collect_ssh(targets, tmp / f"serial-{mode}", identity=key, known_hosts=known, workers=1,
                              progress=False, session=mode == "session")
            t_ser = time.monotonic() - t0
            bad = [r for r in par + ser if not r.ok or r.mode != mode]
            if bad:
                for r in bad:
                    print(r, r.mode, r.failed, file=sys.stderr)
                return 1
            dumps = [load_dump(r.path) for r in par]
            rules = sum(len(d.ruleset) for d in dumps)
            size = sum(f.stat().st_size for r in par for f in r.path.rglob("*") if f.is_file())
            failed = sorted({f["command"] for r in par + ser for f in r.failed})
            print(f"[{mode}] rules collected: {rules} ({rules // args.nodes} per node), bytes: {size}, "
                  f"commands failing on the nodes: {failed or 'none'}")
            print(f"[{mode}] parallel ({args.nodes} workers): {t_par:.2f} s  ({t_par / args.nodes:.2f} s per node)")
            print(f"[{mode}] serial   (1 worker):  {t_ser:.2f} s  ({t_ser / args.nodes:.2f} s per node)")
            print(f"[{mode}] speed-up parallel vs serial: {t_ser / t_par:.1f}x")
        for mode in modes if args.local_runs else ():
            times = []
            for k in range(args.local_runs):
                t0 = time.monotonic()
                r = collect_local(tmp / f"local-{mode}-{k}", netns=namespaces[0], progress=False, session=mode == "session")
                times.append(time.monotonic() - t0)
                if not r.ok or r.mode != mode:
                    print(r, r.mode, file=sys.stderr)
                    return 1
            times.sort()
            print(f"[{mode}] local --netns (one node, {args.local_runs} runs): median {times[len(times) // 2]:.2f} s, "
                  f"best {times[0]:.2f} s")
        return 0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        for ns in namespaces:
            for pid in subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split():
                try:
                    os.kill(int(pid), 9)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
