"""Record the kernel lab run that notebook 07 shows where it cannot run the lab (Binder, not root).

Root only:   sudo .venv/bin/python notebooks/record_lab_run.py      → notebooks/recorded/lab-kube-dns.json

The packet, the dataset and the rules are exactly those of notebook 07; the file holds every
kernel trace (``nfwb lab trace --json`` shape) plus a note of the machine that made them.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import workbook as wb  # noqa: E402
from workbook.lessons.lab_runs import RECORDING, live_runs  # noqa: E402

DATASET = "datasets/eks-node"
PACKET = wb.Packet("192.168.3.98", "10.100.0.10", "udp", sport=40000, dport=53, in_iface="eni5d1d36193a1")
RUNS = 8


def main() -> int:
    dump = wb.load_dump(HERE.parent / DATASET)
    # a new source port each time: a new connection, a new random choice
    runs = [t.to_json() for t in live_runs(dump.ruleset, PACKET, dump.node_ips, count=RUNS)]
    version = subprocess.run(["iptables", "-V"], capture_output=True, text=True).stdout.strip()
    out = {
        "what": "kernel lab runs of notebook 07: one DNS query per run through datasets/eks-node",
        "recorded_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "kernel": platform.release(),
        "iptables": version,
        "dataset": DATASET,
        "source": "kernel",
        "runs": runs,
    }
    path = HERE / "recorded" / RECORDING
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {path} ({RUNS} runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
