"""Collecting hosts into dumps: discovery, the plan, its commands (one shell, else one each), MANIFEST.json."""

from __future__ import annotations

import html
import os
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ..dump import write_manifest
from ..dump.confined import safe_rel
from ..dump.manifest import utc_now
from ..model import InputError
from .plan import DISCOVER, SAVE_FILE, Plan, plan_commands, saved_tables
from .session import Session, start_session
from .ssh import SSHRunner, parse_target
from .transport import CollectError, CommandTimeout, LocalRunner, Runner, SessionFailed, Spool

if TYPE_CHECKING:  # pragma: no cover
    from tqdm.auto import tqdm

    from ..dump import NodeDump

__all__ = ["collect", "collect_local", "collect_ssh", "CollectResult"]

#: One command's result as kept until the dump is written: (exit code, or None when it did not finish;
#: stdout; stderr; the command; when it started).
Output = tuple[int | None, Spool | bytes, bytes, str, str]


@dataclass
class CollectResult:
    """What happened for one host: where its dump went, or why there is none."""

    target: str
    path: Path | None = None
    error: str | None = None
    files: int = 0
    failed: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    #: how the commands ran: "session" (one shell for all), "per-command", or "session+per-command"
    mode: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def load(self) -> "NodeDump":
        """The collected dump as a :class:`~workbook.dump.NodeDump`."""
        from ..dump import load_dump
        if self.path is None:
            raise CollectError(f"{self.target}: nothing was collected ({self.error})")
        return load_dump(self.path)

    def to_dict(self) -> dict:
        return {"target": self.target, "path": str(self.path) if self.path else None, "ok": self.ok,
                "error": self.error, "files": self.files, "failed": self.failed, "seconds": round(self.seconds, 3), "mode": self.mode}

    def __str__(self) -> str:
        if not self.ok:
            return f"{self.target}: FAILED: {self.error}"
        extra = f", {len(self.failed)} command(s) failed (see MANIFEST.json)" if self.failed else ""
        return f"{self.target}: {self.files} files in {self.path} ({self.seconds:.1f} s){extra}"

    def _repr_html_(self) -> str:
        colour = "#080" if self.ok and not self.failed else ("#b60" if self.ok else "#b00")
        return f"<div style='color:{colour}'>{html.escape(str(self))}</div>"


# --------------------------------------------------------------------------------------------
# Collection
# --------------------------------------------------------------------------------------------

def _collect_with(runner: Runner, out: Path, *, host: str, timeout: float, extra: Mapping[str, str] | None,
                  channels: int = 4, tick: Callable[[int], object] = lambda n: None,
                  total_hint: Callable[[int], None] = lambda n: None, session: bool = True) -> CollectResult:
    start = time.monotonic()
    outputs: dict[str, Output] = {}
    # one shell for every command when the node allows it; else (or for what a broken session
    # left) one shell per command, as before
    mode: dict[str, Any] = {"mode": "per-command", "timeouts": None, "note": None}
    sess: Session | None = None
    if session:
        try:
            sess = start_session(runner, timeout)
            mode = {"mode": "session", "timeouts": sess.timeouts, "note": None}
        except SessionFailed as e:
            mode["note"] = f"one shell session failed to start ({e}): one session per command"
    per_command: list[str] = []

    def run_one(rel: str, cmd: str) -> None:
        at = utc_now()
        try:
            rc, so, se = runner.run(cmd, timeout)
            outputs[rel] = (rc, so, se, cmd, at)
        except CommandTimeout:
            outputs[rel] = (None, b"", f"timed out after {timeout:g} s".encode(), cmd, at)
        except Exception as e:  # the connection broke: this command failed, keep what we have
            outputs[rel] = (None, b"", f"{type(e).__name__}: {e}".encode(), cmd, at)
        tick(1)

    def in_session(items: list[tuple[str, str]], count: bool = True) -> list[tuple[str, str]]:
        """Run ``items`` in the session while it works; return those left to run one by one."""
        nonlocal sess
        if sess is None:
            return items
        cmds = dict(items)
        for rel, (rc, so, se), at in sess.run_many(items, timeout):
            outputs[rel] = (rc, so, se, cmds[rel], at)
            if count:
                tick(1)
        if sess.broken:
            mode["mode"] = "session+per-command"
            mode["note"] = f"the shell session broke ({sess.broken}): the remaining commands ran one session each"
            sess.close()
            sess = None
        return [(rel, cmd) for rel, cmd in items if rel not in outputs]

    def run_items(items: list[tuple[str, str]]) -> None:
        items = in_session(items)
        per_command.extend(rel for rel, _ in items)
        if channels <= 1 or len(items) <= 1:
            for rel, cmd in items:
                run_one(rel, cmd)
        else:  # several commands at once over the same connection (one SSH channel each)
            with ThreadPoolExecutor(max_workers=channels) as pool:
                list(pool.map(lambda item: run_one(*item), items))

    try:
        code: int | None = None
        disc: Spool | bytes
        in_session([(" discover", DISCOVER)], count=False)
        found = outputs.pop(" discover", None)
        if found is not None and found[0] is not None:
            code, disc, err = found[:3]
        else:  # no session, or it could not even discover: everything one session per command
            if found is not None:  # the session took it but did not finish it (timed out, or broke)
                if sess is not None:
                    sess.close()
                    sess = None
                mode.update(mode="per-command", note="discovery failed in the shell session "
                            f"({found[2].decode('utf-8', 'replace')}): one session per command")
            try:
                code, disc, err = runner.run(DISCOVER, timeout)
            except CommandTimeout:
                raise CollectError(f"no answer to the first command within {timeout:g} s") from None
        if isinstance(disc, Spool) and disc.truncated:  # a few lines expected: this is no usable shell
            raise CollectError(f"the first command's output is over the cap of {disc.cap} bytes (a hostile or "
                               "broken node?)")
        if code != 0:
            last = err.decode("utf-8", "replace").strip().splitlines()
            raise CollectError(f"cannot run commands (exit {code}): {last[-1] if last else 'no error output'}")
        discovered = (disc.head() if isinstance(disc, Spool) else disc).decode("utf-8", "replace")
        # the save output decides which tables to list when /proc/net/ip_tables_names is empty (nft)
        plan = plan_commands(discovered)
        save_item = next(((f, c) for f, c in plan.items if f == SAVE_FILE), None)
        if save_item:
            run_items([save_item])
            rc, so = outputs[save_item[0]][:2]
            tables = saved_tables(so.lines()) if rc == 0 and isinstance(so, Spool) else []
            plan = plan_commands(discovered, tables)
        items = [(f, c) for f, c in plan.items if f not in outputs]
        for rel, cmd in (extra or {}).items():
            if rel not in outputs and all(rel != f for f, _ in items):
                items.append((rel, cmd))
        total_hint(len(items) + len(outputs))
        run_items(items)
    finally:
        if sess is not None:
            sess.close()
    if per_command and mode["mode"] != "per-command":
        mode["per_command"] = sorted(per_command)
    result = _write_dump(out, {rel: outputs[rel] for rel in sorted(outputs)}, host=host, plan=plan, mode=mode)
    result.seconds = time.monotonic() - start
    return result


def _write_dump(out: Path, outputs: Mapping[str, Output], *, host: str, plan: Plan,
                mode: dict[str, Any]) -> CollectResult:
    """Write each command's output to its file in ``out`` and MANIFEST.json (exit codes, stderr,
    failures, caps, how the commands ran); what happened, as a result without ``seconds``."""
    result = CollectResult(target=host)
    commands: dict[str, dict] = {}
    errors: list[dict] = []
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    notes: dict[str, str] = {}
    for rel, (rc, so, se, cmd, at) in outputs.items():
        if isinstance(so, Spool) and so.truncated:
            note = f"output over the cap of {so.cap} bytes: truncated to the first {so.cap}"
            errors.append({"command": cmd, "error": f"{rel}: {note}"})
            result.failed.append({"path": rel, "command": cmd, "exit_code": rc, "error": errors[-1]["error"]})
            notes[rel] = note
        elif rc is None:
            errors.append({"command": cmd, "error": se.decode("utf-8", "replace")})
            result.failed.append({"path": rel, "command": cmd, "exit_code": None, "error": se.decode("utf-8", "replace")})
            continue
        if rc != 0 and rel not in notes:
            msg = se.decode("utf-8", "replace").strip().splitlines()
            errors.append({"command": cmd, "error": f"exit {rc}: " + (msg[-1] if msg else "no error output")})
            result.failed.append({"path": rel, "command": cmd, "exit_code": rc, "error": errors[-1]["error"]})
            if not so:
                continue
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(so, Spool):
            so.save(path)
            so.close()
        else:
            path.write_bytes(so)
        commands[rel] = {"command": cmd, "exit_code": rc, "collected_at": at,
                         "stderr": se.decode("utf-8", "replace").strip()[:2000] or None}
        if rel in notes:
            commands[rel]["note"] = notes[rel]
        written += 1
    write_manifest(out, host=host, commands=commands, errors=errors,
                   extra={"hostname": plan.hostname, "skipped": plan.skipped, "collection": mode})
    result.path, result.files = out, written
    result.mode = mode["mode"]
    return result


def _check_extra(extra: Mapping[str, str] | None) -> None:
    for rel in extra or {}:
        if safe_rel(rel) != rel or rel == "MANIFEST.json":
            raise InputError(f"{rel}: not a usable file name for an extra command (a relative path inside the dump)")


def _fresh(out: Path) -> Path:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out}: already exists and is not empty (a dump is never overwritten)")
    return out


def collect_local(out: str | os.PathLike, *, netns: str | None = None, sudo: bool = False, timeout: float = 30.0,
                  extra: Mapping[str, str] | None = None, progress: bool | None = None,
                  channels: int = 4, session: bool = False) -> CollectResult:
    """Collect this machine (or network namespace ``netns``, via ``ip netns exec``) into the new
    folder ``out``. ``extra`` adds ``{relative path: shell command}`` to the standard set.

    Each command runs in its own ``sh``, ``channels`` at once; ``session=True`` runs them all,
    one after the other, in one ``sh`` as over SSH (measured slower here: local processes are
    cheap and lose the parallelism, see benchmarks/collect_bench.py). MANIFEST.json's
    ``collection`` says which way it went."""
    out = _fresh(Path(out))
    _check_extra(extra)
    if netns and not re.fullmatch(r"[A-Za-z0-9_.-]+", netns):
        raise InputError(f"{netns}: not a network namespace name")
    host = netns or socket.gethostname()
    bar = _bar(progress, 1, "collect")
    try:
        return _collect_with(LocalRunner(netns, sudo), out, host=host, timeout=timeout, extra=extra,
                             channels=channels, tick=bar.update, total_hint=lambda n: _set_total(bar, n),
                             session=session)
    finally:
        bar.close()


def _bar(progress: bool | None, total: int, desc: str) -> "tqdm":
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit="cmd", disable=(None if progress is None else not progress), leave=False)


def _set_total(bar: "tqdm", n: int) -> None:
    bar.total = n
    bar.refresh()


def _folder_name(target: str) -> str:
    user, host, port = parse_target(target)
    name = host if port == 22 else f"{host}_{port}"
    return re.sub(r"[^A-Za-z0-9_.:-]", "_", name).replace(":", "_")


def collect_ssh(targets: Sequence[str], out: str | os.PathLike, *, identity: str | os.PathLike | None = None,
                known_hosts: str | os.PathLike | None = None, accept_new_host_key: bool = False,
                sudo: bool = False, timeout: float = 30.0, connect_timeout: float = 10.0, workers: int = 8,
                extra: Mapping[str, str] | None = None, progress: bool | None = None,
                channels: int = 4, session: bool = True) -> list[CollectResult]:
    """Collect each ``[USER@]HOST[:PORT]`` over SSH into ``out/<host>/``, in parallel.

    Host keys are checked against ``known_hosts`` (default ``~/.ssh/known_hosts``): an unknown
    key is refused unless ``accept_new_host_key`` (then it is recorded in ``known_hosts``), a
    changed key is always refused. A host that cannot be reached gives a result with ``error``;
    the other hosts are still collected. ``workers`` hosts are collected at once.

    Each host's commands run one after the other in ONE remote shell (``sh -s`` over one SSH
    channel; each under ``timeout`` with its stdout, stderr and exit code framed back), which
    spares sshd a session and a shell per command. If that shell cannot start or breaks, the
    commands left run one SSH channel each (``channels`` at once), as with ``session=False``;
    MANIFEST.json's ``collection`` records the mode.
    """
    out = Path(out)
    _check_extra(extra)
    names = [_folder_name(t) for t in targets]
    if len(set(names)) != len(names):
        raise InputError("the same host is given twice")
    for n in names:
        _fresh(out / n)
    bar = _bar(progress, len(targets) * 20, f"collect {len(targets)} host(s)")
    results: dict[str, CollectResult] = {}
    lock = threading.Lock()
    totals = {t: 20 for t in targets}

    def tick(n: int) -> None:
        with lock:
            bar.update(n)

    def one(target: str, name: str) -> CollectResult:
        start = time.monotonic()
        try:
            runner = SSHRunner(target, identity=identity, known_hosts=known_hosts,
                               accept_new_host_key=accept_new_host_key, sudo=sudo, connect_timeout=connect_timeout)
        except CollectError as e:
            with lock:
                bar.update(totals[target])
            return CollectResult(target=target, error=str(e), seconds=time.monotonic() - start)
        try:
            def hint(n: int) -> None:
                with lock:
                    bar.total = (bar.total or 0) + n - totals[target]
                    totals[target] = n
                    bar.refresh()
            return _collect_with(runner, out / name, host=target, timeout=timeout, extra=extra, channels=channels,
                                 tick=tick, session=session,
                                 total_hint=hint)
        except CollectError as e:
            return CollectResult(target=target, error=str(e), seconds=time.monotonic() - start)
        except Exception as e:  # a connection dropped mid-way: this host fails, the others go on
            return CollectResult(target=target, error=f"{type(e).__name__}: {e}", seconds=time.monotonic() - start)
        finally:
            runner.close()

    try:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(targets)))) as pool:
            futs = {pool.submit(one, t, n): t for t, n in zip(targets, names)}
            for f in as_completed(futs):
                results[futs[f]] = f.result()
    finally:
        bar.close()
    return [results[t] for t in targets]


def collect(targets: Sequence[str] | None = None, out: str | os.PathLike = ".", *, local: bool = False,
            netns: str | None = None, **kw: Any) -> list[CollectResult]:
    """``collect(["root@10.0.0.5", "node-2"], "dumps/")`` over SSH, or ``collect(local=True,
    out="dumps/")`` for this machine (``netns=`` for a network namespace); each host into
    ``out/<host>/``. Returns one :class:`CollectResult` per host."""
    if local or netns:
        name = netns or socket.gethostname()
        return [collect_local(Path(out) / name, netns=netns, **kw)]
    if not targets:
        raise InputError("nothing to collect: give SSH targets or local=True")
    return collect_ssh(list(targets), out, **kw)
