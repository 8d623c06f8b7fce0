"""One shell on the node for all of a host's commands: the script, the framing of each result, a stuck shell."""

from __future__ import annotations

import secrets
import shlex
import time
from typing import Iterator, Sequence

from ..dump.manifest import utc_now
from .transport import CommandTimeout, Runner, SessionFailed, ShellStream, Spool, keep_err, shell_setup

__all__ = ["Session", "start_session"]

#: Defines ``nfwb_run ID SECONDS COMMAND``: runs COMMAND under a time limit (coreutils ``timeout``
#: -- its exit 124, or 137 when TERM was ignored and KILL followed, counts as timed out -- else a
#: shell watchdog) with stdout/stderr into files, then prints one header line
#: ``BOUNDARY ID EXIT_CODE FLAG STDOUT_BYTES STDERR_BYTES`` followed by exactly those bytes (binary
#: safe: the lengths, not the boundary, delimit the data; FLAG is T when the limit was hit).
_PRELUDE = r"""umask 077
nfwb_d=$(mktemp -d 2>/dev/null) || { nfwb_d=/tmp/nfwb.$$.$(date +%s); mkdir "$nfwb_d"; } || exit 97
trap 'rm -rf "$nfwb_d"' EXIT
trap 'exit 129' HUP PIPE
if timeout -k 2 5 true </dev/null >/dev/null 2>&1; then nfwb_to=timeout; else nfwb_to=sh; fi
nfwb_run() {
  if [ "$nfwb_to" = timeout ]; then
    timeout -k 2 "$2" sh -c "$3" </dev/null >"$nfwb_d/o" 2>"$nfwb_d/e"; nfwb_rc=$?
    case $nfwb_rc in 124|137) : >"$nfwb_d/t$1" ;; esac
  else
    sh -c "$3" </dev/null >"$nfwb_d/o" 2>"$nfwb_d/e" & nfwb_p=$!
    ( sleep "$2" & echo $! >"$nfwb_d/s$1"; wait $! || exit 0
      : >"$nfwb_d/t$1"; kill -TERM $nfwb_p; sleep 2; kill -KILL $nfwb_p ) </dev/null >/dev/null 2>&1 &
    nfwb_w=$!
    wait $nfwb_p; nfwb_rc=$?
    read nfwb_s 2>/dev/null <"$nfwb_d/s$1" && kill $nfwb_s 2>/dev/null
    kill $nfwb_w 2>/dev/null; wait $nfwb_w 2>/dev/null
  fi
  if [ -f "$nfwb_d/t$1" ]; then nfwb_f=T; else nfwb_f=-; fi
  set -- $(wc -c "$nfwb_d/o" "$nfwb_d/e")
  printf '%s %s %s %s %s %s\n' "$nfwb_b" "$nfwb_id" "$nfwb_rc" "$nfwb_f" "$1" "$3"
  cat "$nfwb_d/o" "$nfwb_d/e"
}
printf '%s ready %s\n' "$nfwb_b" "$nfwb_to"
"""
# (No TERM trap in that shell: dash lets a just-forked child inherit it for a moment, and the
# watchdog subshell, killed in that moment, would live on.)
#: Seconds (beyond the per-command timeout) to wait for a frame before the session counts as stuck.
_SESSION_GRACE = 10.0


def _boundary() -> str:
    """A fresh, unguessable marker for one session's header lines."""
    return "nfwb-" + secrets.token_hex(16)


def start_session(runner: Runner, timeout: float) -> "Session":
    """One shell from ``runner`` with the collection script started in it (:class:`SessionFailed` if
    the shell cannot start or does not run the script)."""
    stream = runner.shell(timeout)
    try:
        return Session(stream, _boundary(), timeout)
    except SessionFailed:
        stream.close()
        raise


class _OverCap(Exception):
    """A frame announced more output than the cap: its first ``cap`` bytes, then the session ends."""

    def __init__(self, rc: int, out: Spool):
        super().__init__(f"output over the cap of {out.cap} bytes")
        self.rc, self.out = rc, out


class Session:
    """One ``sh`` on the node running every command in turn; results come back framed.

    Each result is a header line ``BOUNDARY ID EXIT_CODE FLAG OUT_BYTES ERR_BYTES`` and then
    exactly ``OUT_BYTES + ERR_BYTES`` bytes, so any output (NULs, no final newline, text that
    looks like a header) comes back unchanged:

    >>> s = Session.__new__(Session)        # (no shell: frames as the node would print them)
    >>> s.buf, s.boundary = bytearray(b"B 0 3 - 12 4\\nB 1 0 - 0 0\\n\\0errB 1 0 T 0 0\\n"), "B"
    >>> rc, timed_out, out, err = s._frame(0, 1.0); rc, timed_out, out.head(), err
    (3, False, b'B 1 0 - 0 0\\n', b'\\x00err')
    >>> rc, timed_out, out, err = s._frame(1, 1.0); rc, timed_out, out.head(), err
    (0, True, b'', b'')
    """

    def __init__(self, stream: ShellStream, boundary: str, timeout: float):
        self.stream, self.boundary, self.buf = stream, boundary, bytearray()
        self.broken: str | None = None
        self._next = 0
        deadline = time.monotonic() + timeout + _SESSION_GRACE
        try:
            stream.send(f"nfwb_b={boundary}\n{shell_setup()}{_PRELUDE}".encode())
            for _ in range(100):  # a login shell may print a banner first (.bashrc): skip it
                text = self._line(deadline).decode("utf-8", "replace")
                if boundary in text:
                    line = text[text.index(boundary):].split()
                    break
            else:
                raise SessionFailed("the shell did not start the collection script")
        except (CommandTimeout, SessionFailed, OSError, EOFError) as e:
            raise SessionFailed(str(e) if isinstance(e, SessionFailed) else self._why(e)) from None
        if line[:2] != [boundary, "ready"] or len(line) != 3:
            raise SessionFailed("the shell did not start the collection script")
        #: how per-command time limits are enforced on the node
        self.timeouts = "coreutils timeout" if line[2] == "timeout" else "shell watchdog (no timeout command)"

    def _why(self, e: BaseException) -> str:
        if isinstance(e, CommandTimeout):
            return "no answer from the shell"
        code = self.stream.status(2.0)
        err = self.stream.errors().decode("utf-8", "replace").strip().splitlines()
        what = f"the shell exited (exit {code})" if code is not None else "the shell's output ended"
        return what + (f": {err[-1]}" if err else "")

    def _fill(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise CommandTimeout()
        data = self.stream.recv(left)
        if not data:
            raise EOFError()
        self.buf.extend(data)

    def _line(self, deadline: float) -> bytes:
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 1]
                return line
            if len(self.buf) > 4096:
                raise SessionFailed("garbage instead of a header line")
            self._fill(deadline)

    def _frame(self, ident: int, seconds: float) -> tuple[int, bool, Spool, bytes]:
        """Read the frame of command ``ident``: (exit code, timed out?, stdout, stderr); its header
        must come within ``seconds``, and then no pause in its output may last longer."""
        deadline = time.monotonic() + seconds
        head = self._line(deadline).decode("ascii", "replace").split()
        if len(head) != 6 or head[0] != self.boundary or head[1] != str(ident) or head[3] not in ("-", "T"):
            raise SessionFailed(f"unexpected header line from the shell: {' '.join(head)[:80]!r}")
        try:
            rc, nout, nerr = int(head[2]), int(head[4]), int(head[5])
        except ValueError:
            raise SessionFailed(f"unexpected header line from the shell: {' '.join(head)[:80]!r}") from None
        out = Spool()
        if nout > out.cap or nerr > out.cap:  # the rest of the session's framing cannot be trusted to end
            self._take(min(nout, out.cap), out, seconds)
            out.truncated = True
            raise _OverCap(rc, out)
        err = bytearray()
        self._take(nout, out, seconds)
        self._take(nerr, err, seconds)
        return rc, head[3] == "T", out, bytes(err)

    def _take(self, n: int, sink: Spool | bytearray, seconds: float) -> None:
        """Move the next ``n`` bytes of the stream into ``sink`` (a Spool, or a bytearray that keeps
        :data:`~workbook.collect.transport.ERR_CAP`), waiting while they keep coming (no pause longer
        than ``seconds``)."""
        while n > 0:
            if not self.buf:
                self._fill(time.monotonic() + seconds)
            piece = bytes(self.buf[:n])
            del self.buf[:len(piece)]
            n -= len(piece)
            if isinstance(sink, Spool):
                sink.write(piece)
            else:
                keep_err(sink, piece)

    def run_many(self, items: Sequence[tuple[str, str]], timeout: float
                 ) -> Iterator[tuple[str, tuple[int | None, Spool | bytes, bytes], str]]:
        """Send every command at once, then yield ``(key, (exit code | None, stdout, stderr), at)``
        as each finishes. A command the node does not finish in time is yielded as timed out; if
        the shell gets stuck or dies, the command it was running is yielded as failed, ``broken``
        says why, and the rest are not yielded (the caller runs them another way)."""
        if self.broken or not items:
            return
        first = self._next
        self._next = first + len(items)
        limit = f"{timeout:g}"
        script = "".join(f"nfwb_id={first + k}; nfwb_run {first + k} {limit} {shlex.quote(cmd)}\n"
                         for k, (_, cmd) in enumerate(items))
        try:
            self.stream.send(script.encode())
        except OSError as e:
            self.broken = f"cannot send the commands: {e}"
            return
        for k, (key, _) in enumerate(items):
            at = utc_now()
            try:
                rc, timed_out, out, err = self._frame(first + k, timeout + _SESSION_GRACE)
            except _OverCap as e:
                self.broken = f"{key}: {e} (truncated; the session was abandoned)"
                yield key, (e.rc, e.out, b""), at
                return
            except CommandTimeout:
                self.broken = f"no result for {key} within {timeout + _SESSION_GRACE:g} s"
                yield key, (None, b"", f"timed out after {timeout:g} s".encode()), at
                return
            except (SessionFailed, OSError, EOFError) as e:
                self.broken = str(e) if isinstance(e, SessionFailed) else self._why(e)
                yield key, (None, b"", f"the collection shell broke: {self.broken}".encode()), at
                return
            if timed_out:
                yield key, (None, b"", f"timed out after {timeout:g} s".encode()), at
            else:
                yield key, (rc, out, err), at

    def close(self) -> None:
        try:
            if not self.broken:
                self.stream.send(b"exit 0\n")
                self.stream.end_input()
                self.stream.status(5.0)
        except OSError:
            pass
        finally:
            self.stream.close()
