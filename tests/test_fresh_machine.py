"""A fresh Debian machine: every system program the code, tests, datasets or benchmarks run comes
from a Debian package that ``scripts/setup`` installs (or one every Debian system has)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.realparts import ROOT, need

#: Where programs are named: list literals whose first word is a program (``["ip", "netns", …]``),
#: ``which("x")``, the namespace runners (``nsexec(ns, "x", …)``, ``self._ns(node, "x", …)``),
#: and the collector's command lines (``want(key, path, "iptables-save -c")``).
_PATTERNS = [
    re.compile(r"""(?<![\w\])])\[\s*["']([A-Za-z][\w.+-]*)["']\s*[,\]]"""),
    re.compile(r"""which\(\s*["']([A-Za-z][\w.+-]*)["']"""),
    re.compile(r"""(?:nsexec|_ns|_nsrun|ns_run)\(\s*[\w.\[\]]+\s*,\s*["']([A-Za-z][\w.+-]*)["']"""),
    re.compile(r"""want\(\s*["'][^"']*["']\s*,\s*["'][^"']*["']\s*,\s*["']([A-Za-z][\w.+-]*)"""),
]
_SOURCES = ("workbook", "tests", "datasets", "benchmarks", "notebooks", "scripts")
_SYSTEM_DIRS = ("/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/")
#: On the machine before any setup (the environment's own base): the interpreter and git.
_BASE_IMAGE = {"python3", "python", "git"}


def _setup_packages() -> set[str]:
    text = (ROOT / "scripts" / "setup").read_text()
    return {p for group in re.findall(r"missing\+=\(([^)]*)\)", text) for p in group.split()}


def _named_programs() -> set[str]:
    names: set[str] = set()
    for top in _SOURCES:
        for path in (ROOT / top).rglob("*"):
            if path.suffix not in (".py", "") or not path.is_file() or ".venv" in path.parts:
                continue
            if path.suffix == "" and not path.read_bytes()[:2] == b"#!":
                continue
            text = path.read_text(errors="replace")
            for pat in _PATTERNS:
                names.update(pat.findall(text))
    return names


def _system_program(name: str) -> str | None:
    """The real path of ``name`` when it is a program of the system (not of the venv)."""
    venv_bin = str(ROOT / ".venv" / "bin")
    path = os.environ.get("PATH", "").split(os.pathsep)
    found = shutil.which(name, path=os.pathsep.join(p for p in path if not p.startswith(venv_bin)))
    if found is None:
        found = next((d + name for d in _SYSTEM_DIRS if os.access(d + name, os.X_OK)), None)
    if found is None:
        return None
    return found if os.path.realpath(found).startswith(_SYSTEM_DIRS) else None


def _package_of(path: str) -> str | None:
    real = os.path.realpath(path)
    for candidate in dict.fromkeys(p for p in (path, real) for p in (p, p[4:] if p.startswith("/usr/") else "/usr" + p)):
        out = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        owners = [line.split(":", 1)[0].split(",")[0].strip() for line in out.stdout.splitlines()
                  if ":" in line and not line.startswith("diversion ")]
        if out.returncode == 0 and owners:
            return owners[0]
    return None


def _everywhere(package: str) -> bool:
    """Essential or priority-required packages are on every Debian system."""
    out = subprocess.run(["dpkg-query", "-W", "-f=${Essential} ${Priority}", package],
                         capture_output=True, text=True)
    return out.returncode == 0 and (out.stdout.startswith("yes") or out.stdout.endswith("required"))


def test_the_scan_sees_the_programs_we_know_we_run():
    # Hand-picked: the lab runs `ip`, `conntrack` and `xtables-monitor`; the SSH tests run
    # `ssh-keygen`; the collector runs `iptables-save -c` and `nft list ruleset`.
    assert {"ip", "conntrack", "xtables-monitor", "ssh-keygen", "iptables-save", "nft"} <= _named_programs()


def test_setup_lists_the_packages_behind_the_known_programs():
    # Hand-written: the Debian package of each program the kernel lab and the tests need.
    assert {"iptables", "nftables", "conntrack", "ipset", "iproute2", "openssh-server",
            "openssh-client", "graphviz", "chromium", "fonts-noto-cjk", "time"} <= _setup_packages()


def test_every_program_we_run_comes_from_a_package_setup_installs():
    need(shutil.which("dpkg") is not None, "needs Debian's dpkg")
    wanted = _setup_packages()
    unowned = []
    for name in sorted(_named_programs() - _BASE_IMAGE):
        real = _system_program(name)
        if real is None:
            continue   # not a program here (a word such as "trace"), or not installed: tests catch that
        package = _package_of(real)
        if package is None or (package not in wanted and not _everywhere(package)):
            unowned.append(f"{name} ({real}, package {package})")
    assert not unowned, "scripts/setup does not install: " + "; ".join(unowned)
