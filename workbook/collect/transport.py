"""Running commands on a node: the runner interface, output spooled and capped, time limits, the local runner."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Protocol

from ..limits import max_input
from ..model import InputError

__all__ = ["SHELL_PATH", "with_shell_path", "shell_setup", "ERR_CAP", "CollectError", "CommandTimeout",
           "SessionFailed", "Spool", "keep_err", "pump", "Runner", "ShellStream", "LocalRunner", "ProcessStream"]

#: Put before every command (and sent first to a session's shell): the programs of a node whose
#: login PATH leaves out the sbin folders are still found.
SHELL_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH; "
#: Bytes of one command's stderr kept (the rest is dropped; only its last line is ever shown).
ERR_CAP = 64 << 10


class CollectError(InputError):
    """A host could not be collected at all (connection, authentication, host key)."""


class CommandTimeout(Exception):
    """A command (or the shell running it) gave no answer within its time limit."""


class SessionFailed(Exception):
    """The one-shell session could not start or broke; the caller runs commands one by one instead."""


# --------------------------------------------------------------------------------------------
# Where a command's output goes
# --------------------------------------------------------------------------------------------

class Spool:
    """One command's stdout on its way to the dump: spooled to a temporary file past 1 MiB, at
    most ``cap`` bytes kept (:func:`~workbook.limits.max_input`); what comes after is dropped
    and ``truncated`` says so (a node that streams forever cannot fill memory or disk)."""

    def __init__(self, cap: int | None = None):
        self.cap = max_input() if cap is None else cap
        self.f = tempfile.SpooledTemporaryFile(max_size=1 << 20)
        self.size = 0
        self.truncated = False

    def write(self, data: bytes) -> bool:
        """Keep what fits; False once the cap is reached (the rest of the output is not wanted)."""
        room = self.cap - self.size
        if len(data) > room:
            data = data[:room]
            self.truncated = True
        if data:
            self.f.write(data)
            self.size += len(data)
        return not self.truncated

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size > 0

    def head(self, n: int = 1 << 20) -> bytes:
        """The first ``n`` bytes (for the small outputs the plan reads: discovery)."""
        self.f.seek(0)
        return self.f.read(n)

    def lines(self, width: int = 1 << 16) -> Iterable[bytes]:
        """Its lines from the start, each cut into pieces of at most ``width`` bytes; only the first
        piece of a line starts with what the line starts with (the others are yielded as b"")."""
        self.f.seek(0)
        start = True
        while True:
            piece = self.f.readline(width)
            if not piece:
                return
            yield piece if start else b""
            start = piece.endswith(b"\n")

    def save(self, path: Path) -> None:
        self.f.seek(0)
        with open(path, "wb") as out:
            shutil.copyfileobj(self.f, out, 1 << 20)

    def close(self) -> None:
        self.f.close()


def keep_err(err: bytearray, data: bytes) -> None:
    """Add ``data`` to a command's stderr, keeping at most :data:`ERR_CAP` bytes.

    >>> err = bytearray(ERR_CAP - 2); keep_err(err, b"abcd"); len(err), bytes(err[-2:])
    (65536, b'ab')
    """
    if len(err) < ERR_CAP:
        err.extend(data[:ERR_CAP - len(err)])


def pump(sources: list[tuple[int, Spool | bytearray]], deadline: float) -> None:
    """Read ``(fd, sink)`` pairs until each fd ends, a sink wants no more (its cap), or the deadline
    (:class:`CommandTimeout`); ``sink`` is a :class:`Spool` or a bytearray kept to :data:`ERR_CAP`."""
    live = dict(sources)
    while live:
        left = deadline - time.monotonic()
        if left <= 0:
            raise CommandTimeout()
        ready, _, _ = select.select(list(live), [], [], min(left, 1.0))
        for fd in ready:
            data = os.read(fd, 1 << 16)
            sink = live[fd]
            if not data:
                del live[fd]
            elif isinstance(sink, Spool):
                if not sink.write(data):
                    return
            else:
                keep_err(sink, data)


# --------------------------------------------------------------------------------------------
# Runners: run one shell command, return (exit code, stdout, stderr); or start one shell (SSH: ssh.py)
# --------------------------------------------------------------------------------------------

class ShellStream(Protocol):
    """A shell's stdin and stdout (and its own stderr, exit status), however it is reached."""

    def send(self, data: bytes) -> None: ...
    def recv(self, seconds: float) -> bytes: ...
    def end_input(self) -> None: ...
    def status(self, seconds: float) -> int | None: ...
    def errors(self) -> bytes: ...
    def close(self) -> None: ...


class Runner(Protocol):
    """Runs commands on one node: each in its own shell (:meth:`run`), or all in one (:meth:`shell`)."""

    def run(self, command: str, timeout: float) -> tuple[int | None, Spool, bytes]: ...
    def shell(self, timeout: float) -> ShellStream: ...
    def close(self) -> None: ...


def with_shell_path(command: str) -> str:
    """``command`` run with :data:`SHELL_PATH` (read when called, as in :func:`shell_setup`: tests change it)."""
    return SHELL_PATH + command


def shell_setup() -> str:
    """The lines that give a fresh shell :data:`SHELL_PATH`, exported."""
    return f"{SHELL_PATH.strip()}\nexport PATH\n"


class LocalRunner:
    """Runs commands with ``sh -c`` on this machine, or inside ``ip netns exec NAME``."""

    def __init__(self, netns: str | None = None, sudo: bool = False):
        self.netns, self.sudo = netns, sudo

    def _argv(self, *argv: str) -> list[str]:
        out = list(argv)
        if self.sudo:
            out = ["sudo", "-n", *out]
        if self.netns:
            out = ["ip", "netns", "exec", self.netns, *out]
        return out

    def run(self, command: str, timeout: float) -> tuple[int | None, Spool, bytes]:
        """(exit code, or None when stdout went over the cap; stdout; stderr) of ``command``."""
        argv = self._argv("sh", "-c", with_shell_path(command))
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = p.stdout, p.stderr
        assert stdout is not None and stderr is not None  # both are pipes
        out, err = Spool(), bytearray()
        try:
            pump([(stdout.fileno(), out), (stderr.fileno(), err)], time.monotonic() + timeout)
            if out.truncated:  # over the cap: the rest is not wanted
                p.kill()
            rc = p.wait(max(0.1, timeout))
        except (CommandTimeout, subprocess.TimeoutExpired):
            out.close()
            raise CommandTimeout() from None
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            stdout.close()
            stderr.close()
        return (None if out.truncated else rc), out, bytes(err)

    def shell(self, timeout: float) -> ShellStream:
        """Start one ``sh`` (in the namespace, through ``sudo -n`` if asked) for all commands."""
        argv = self._argv("sh", "-s")
        try:
            stream = ProcessStream(argv)
        except OSError as e:
            raise SessionFailed(f"cannot start {argv[0]}: {e.strerror}") from None
        return stream

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------------------------
# The stream one shell for all commands runs over, locally (over SSH: ssh.ChannelStream)
# --------------------------------------------------------------------------------------------

class ProcessStream:
    """A shell's stdin/stdout as a local child process."""

    def __init__(self, argv: list[str]):
        self.err = tempfile.TemporaryFile()
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err)
        assert self.p.stdin is not None and self.p.stdout is not None  # both are pipes
        self.stdin, self.stdout = self.p.stdin, self.p.stdout

    def send(self, data: bytes) -> None:
        self.stdin.write(data)
        self.stdin.flush()

    def recv(self, seconds: float) -> bytes:
        ready, _, _ = select.select([self.stdout], [], [], max(seconds, 0.0))
        if not ready:
            raise CommandTimeout()
        return os.read(self.stdout.fileno(), 1 << 16)

    def end_input(self) -> None:
        self.stdin.close()

    def status(self, seconds: float) -> int | None:
        try:
            return self.p.wait(seconds)
        except subprocess.TimeoutExpired:
            return None

    def errors(self) -> bytes:
        self.err.seek(0)
        return self.err.read()

    def close(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        files: tuple[Any, ...] = (self.stdin, self.stdout, self.err)
        for f in files:
            try:
                f.close()
            except OSError:
                pass
