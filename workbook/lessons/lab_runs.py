"""Kernel runs for notebook 07: live in throw-away namespaces when this machine can, else the recorded run."""

from __future__ import annotations

import dataclasses
import html
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from .lesson import find_folder
from ..model import Ruleset
from ..packet import Packet, Trace
from ..i18n import _

__all__ = ["RECORDING", "KernelRuns", "live_lab_unavailable", "kernel_runs", "live_runs", "load_recording"]

#: The recorded run, in ``notebooks/recorded/`` (made by ``notebooks/record_lab_run.py``).
RECORDING = "lab-kube-dns.json"
_BINDER_VARS = ("BINDER_SERVICE_HOST", "BINDER_LAUNCH_HOST", "BINDER_REPO_URL")


def live_lab_unavailable() -> str | None:
    """Why the live lab cannot run here, in one line; None when it can (it may still fail later).

    >>> import os; os.environ["NFWB_NOTEBOOK_LAB"] = "0"; live_lab_unavailable()
    'the live lab is switched off (NFWB_NOTEBOOK_LAB=0)'
    >>> del os.environ["NFWB_NOTEBOOK_LAB"]
    """
    if os.environ.get("NFWB_NOTEBOOK_LAB", "1") == "0":
        return _("the live lab is switched off (NFWB_NOTEBOOK_LAB=0)")
    if platform.system() != "Linux":
        return _("the kernel lab needs Linux, this is {system}").format(system=platform.system())
    if any(k in os.environ for k in _BINDER_VARS):
        return _("on Binder you are not root, and the kernel lab needs root")
    from ..lab import lab_available

    ok, why = lab_available()
    return None if ok else why


def load_recording(path: Path | None = None) -> tuple[list[Trace], dict]:
    """The recorded kernel traces and the note of the machine that made them."""
    path = path or find_folder("recorded", RECORDING) / RECORDING
    recorded = json.loads(path.read_text())
    note = {k: recorded.get(k) for k in ("recorded_at", "kernel", "iptables")}
    return [Trace.from_json(r, source="kernel") for r in recorded["runs"]], note


@dataclass(frozen=True)
class KernelRuns:
    """The kernel's traces of one packet sent ``len(runs)`` times, and where they come from.

    ``live`` is True for a run on this machine's kernel; otherwise ``reason`` says in one line why
    the recorded run is shown instead.
    """

    runs: list[Trace]
    live: bool
    reason: str
    note: dict

    def headline(self) -> str:
        n = len(self.runs)
        if self.live:
            return _("live run: {n} packets through this machine's kernel {kernel}").format(
                n=n, kernel=self.note.get("kernel", "")).rstrip()
        when = ", ".join(f"{k} {v}" for k, v in self.note.items() if v)
        return _("recorded run ({n} packets; {when}), shown because {reason}").format(n=n, when=when, reason=self.reason)

    def __repr__(self) -> str:
        return self.headline()

    def _repr_html_(self) -> str:
        colour = "#1e8e3e" if self.live else "#b06000"
        return (f"<div style='border-left:4px solid {colour};padding:4px 10px'>"
                f"{html.escape(self.headline())}</div>")


def kernel_runs(ruleset: Ruleset, packet: Packet, node_ips: list[str], *, count: int = 8,
                recording: Path | None = None, progress: bool = True) -> KernelRuns:
    """Send ``packet`` ``count`` times (a new source port each time, so a new connection and a new
    random draw) through ``ruleset`` in the real kernel, or fall back to the recorded run.

    Never raises for the machine's sake: not root, no network namespaces, a missing tool, or a lab
    that fails half-way all give the recorded run with the reason in one line.
    """
    why = live_lab_unavailable()
    if why is None:
        try:
            runs = live_runs(ruleset, packet, node_ips, count=count, progress=progress)
            return KernelRuns(runs=runs, live=True, reason="", note={"kernel": platform.release()})
        except Exception as exc:  # the machine, not the learner: fall back, say why in one line
            text = " ".join(str(exc).split()) or type(exc).__name__
            why = f"the live lab failed here: {text[:200]}"
    runs, note = load_recording(recording)
    return KernelRuns(runs=runs, live=False, reason=why, note=note)


def live_runs(ruleset: Ruleset, packet: Packet, node_ips: list[str], *, count: int = 8,
              progress: bool = True) -> list[Trace]:
    """``count`` kernel traces of ``packet`` from source ports ``sport``, ``sport + 1``, … (root only)."""
    from tqdm.auto import tqdm

    from ..lab import Lab, _lab_addresses

    sport = packet.sport or 40000
    with Lab(ruleset, tuple(_lab_addresses(node_ips))) as lab:
        runs = [lab.trace(dataclasses.replace(packet, sport=sport + i))
                for i in tqdm(range(count), desc="kernel runs", disable=not progress)]
    return runs
