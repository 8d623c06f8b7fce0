"""What the tests need from the real world: paths, the CI rule for real parts, namespaces."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: shared/ (the project's reference material): beside the checkout (as CI lays it out), or two levels up
#: from a worktree kept in a folder beside the checkout; NFWB_SHARED names another place.
SHARED: Path = next((p for p in ([Path(os.environ["NFWB_SHARED"])] if os.environ.get("NFWB_SHARED") else [])
                     + [ROOT.parent / "shared", ROOT.parent.parent / "shared"] if p.is_dir()),
                    ROOT.parent / "shared")
DATA = ROOT / "tests" / "data"
#: The public dumps in shared/ (some are copied into tests/data/rulesets: see :func:`public_ruleset`).
RULESETS = SHARED / "rulesets"
IN_CI = os.environ.get("CI") == "true"


def public_ruleset(name: str) -> Path:
    """A public dump by file name: the copy in tests/data/rulesets when there is one, else shared/'s."""
    local = DATA / "rulesets" / name
    return local if local.exists() else RULESETS / name


def need(ok: bool, reason: str) -> None:
    """Skip with ``reason`` on a laptop; under ``CI=true`` fail instead (real parts must run there)."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"CI=true but a required real part is unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


def have_root_netns() -> tuple[bool, str]:
    if os.geteuid() != 0:
        return False, "needs root for network namespaces and iptables"
    if not shutil.which("ip"):
        return False, "needs iproute2 (ip)"
    if not (shutil.which("iptables") or os.path.exists("/usr/sbin/iptables")):
        return False, "needs Debian's iptables"
    return True, ""


def nsexec(ns: str, *cmd: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command inside namespace ``ns`` and capture text output."""
    return subprocess.run(["ip", "netns", "exec", ns, *cmd], input=input, text=True,
                          capture_output=True, check=check)


def veth_link(a: tuple[str, str, str], b: tuple[str, str, str]) -> None:
    """A veth pair between two namespaces, each end ``(namespace, device, address/prefix)``, up."""
    subprocess.run(["ip", "link", "add", a[1], "netns", a[0], "type", "veth", "peer", "name", b[1],
                    "netns", b[0]], check=True)
    for ns, dev, addr in (a, b):
        subprocess.run(["ip", "-n", ns, "addr", "add", addr, "dev", dev], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", dev, "up"], check=True)
