"""Collect a node dump ("nfwb-dump/1") locally, in a network namespace, or over SSH (many hosts in parallel).

Nothing is changed on the node: every command only reads (``iptables-save``, ``iptables -L``,
``lsmod``, ``cat``, ``ls``). A command that fails is recorded in MANIFEST.json (``exit_code`` on
its file, or an entry in ``errors``) and the rest is still collected.

Over SSH all of a host's commands run in one remote ``sh`` (each under ``timeout``, results framed
back byte for byte), falling back to one SSH channel per command when that shell cannot be used;
MANIFEST.json's ``collection`` records which (benchmarks/collect_bench.py measures both).
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import html
import os
import re
import secrets
import shutil
import select
import shlex
import socket
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence

from .dump.confined import safe_rel as _safe_rel
from .dump import write_manifest
from .limits import max_input, one_line
from .model import InputError

__all__ = ["collect", "collect_local", "collect_ssh", "CollectResult", "CollectError", "parse_target",
           "plan_commands", "TABLES"]

from .vocab import TABLES

if TYPE_CHECKING:  # pragma: no cover
    import paramiko  # imported when an SSH connection is made

_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH; "
#: Files copied when present: (remote glob or path, folder in the dump).
_COPIES = (("/etc/modules-load.d/*", "kernel/modules-load.d"),
           ("/etc/cni/net.d/*", "kubelet/cni-net.d"),
           ("/var/lib/kubelet/config.yaml", "kubelet"),
           ("/etc/kubernetes/kubelet.conf", "kubelet"),
           ("/var/lib/kube-proxy/config.conf", "kubelet/kube-proxy"),
           ("/proc/net/ip_vs", "kernel"))
_TOOLS = ("iptables", "iptables-save", "iptables-legacy-save", "iptables-nft-save", "ip6tables-save",
          "ip6tables-legacy-save", "ip6tables-nft-save", "nft", "lsmod", "ip", "conntrack", "sysctl", "curl")
#: The sysctls that decide what netfilter sees (``-e``: a key of an unloaded module is no error).
_SYSCTLS = ("net.netfilter.nf_conntrack_max", "net.netfilter.nf_conntrack_count",
            "net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables",
            "net.ipv4.ip_forward", "net.ipv4.conf.all.route_localnet", "net.ipv4.conf.all.rp_filter")


_KNOWN_HOSTS_LOCK = __import__("threading").Lock()


def _accept_new_policy():
    """Accept an unknown key for this connection only (paramiko's AutoAddPolicy would rewrite
    known_hosts from each thread; we append the new line ourselves, under a lock)."""
    import paramiko

    class AcceptNew(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client, hostname, key):
            client.get_host_keys().add(hostname, key.get_name(), key)

    return AcceptNew()


class CollectError(InputError):
    """A host could not be collected at all (connection, authentication, host key)."""


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------

def parse_target(target: str, default_user: str = "root") -> tuple[str, str, int]:
    """``[USER@]HOST[:PORT]`` → ``(user, host, port)``; IPv6 as ``[::1]:2222``.

    >>> parse_target("10.0.0.5"), parse_target("ec2-user@node-1:2222"), parse_target("[fd00::5]:22")
    (('root', '10.0.0.5', 22), ('ec2-user', 'node-1', 2222), ('root', 'fd00::5', 22))
    """
    user, _, hostport = target.rpartition("@")
    user = user or default_user
    m = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?", hostport)
    if m:
        host, port = m.group(1), m.group(2)
    elif hostport.count(":") == 1:
        host, port = hostport.split(":")
    else:
        host, port = hostport, None
    shown = one_line(target, 80)
    if not host or (port is not None and not port.isdecimal()):
        raise InputError(f"{shown}: not [USER@]HOST[:PORT]")
    if port is not None and not (len(port) < 6 and 0 < int(port) < 65536):
        raise InputError(f"{shown}: port {port[:12]} out of range 1-65535")
    if not _USER.fullmatch(user):
        raise InputError(f"{shown}: not a user name (letters, digits, '.', '_', '-')")
    if not _HOST.fullmatch(host):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise InputError(f"{shown}: not a host name or IP address") from None
    return user, host, int(port) if port else 22


_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}\$?")
_HOST = re.compile(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?")


# --------------------------------------------------------------------------------------------
# Runners: run one shell command, return (exit code, stdout, stderr)
# --------------------------------------------------------------------------------------------

class _Timeout(Exception):
    pass


#: Bytes of one command's stderr kept (the rest is dropped; only its last line is ever shown).
_ERR_CAP = 64 << 10


_TABLE_LINE = re.compile(rb"\*(\w+)\s*$")


class _Spool:
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


def _spool(data: bytes) -> _Spool:
    s = _Spool()
    s.write(data)
    return s


def _pump(sources: list, deadline: float) -> None:
    """Read ``(fd, sink)`` pairs until each fd ends, a sink wants no more (its cap), or the deadline
    (:class:`_Timeout`); ``sink`` is a :class:`_Spool` or a bytearray kept to :data:`_ERR_CAP`."""
    live = dict(sources)
    while live:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Timeout()
        ready, _, _ = select.select(list(live), [], [], min(left, 1.0))
        for fd in ready:
            data = os.read(fd, 1 << 16)
            sink = live[fd]
            if not data:
                del live[fd]
            elif isinstance(sink, _Spool):
                if not sink.write(data):
                    return
            elif len(sink) < _ERR_CAP:
                sink.extend(data[:_ERR_CAP - len(sink)])


class LocalRunner:
    """Runs commands with ``sh -c`` on this machine, or inside ``ip netns exec NAME``."""

    def __init__(self, netns: str | None = None, sudo: bool = False):
        self.netns, self.sudo = netns, sudo

    def run(self, command: str, timeout: float) -> tuple[int | None, _Spool, bytes]:
        """(exit code, or None when stdout went over the cap; stdout; stderr) of ``command``."""
        argv = ["sh", "-c", _PATH + command]
        if self.sudo:
            argv = ["sudo", "-n", *argv]
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = p.stdout, p.stderr
        assert stdout is not None and stderr is not None  # both are pipes
        out, err = _Spool(), bytearray()
        try:
            _pump([(stdout.fileno(), out), (stderr.fileno(), err)], time.monotonic() + timeout)
            if out.truncated:  # over the cap: the rest is not wanted
                p.kill()
            rc = p.wait(max(0.1, timeout))
        except (_Timeout, subprocess.TimeoutExpired):
            out.close()
            raise _Timeout() from None
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            stdout.close()
            stderr.close()
        return (None if out.truncated else rc), out, bytes(err)

    def session(self, timeout: float) -> "_Session":
        """Start one ``sh`` (in the namespace, through ``sudo -n`` if asked) for all commands."""
        argv = ["sh", "-s"]
        if self.sudo:
            argv = ["sudo", "-n", *argv]
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        try:
            stream = _ProcessStream(argv)
        except OSError as e:
            raise _SessionFailed(f"cannot start {argv[0]}: {e.strerror}") from None
        try:
            return _Session(stream, _boundary(), timeout)
        except _SessionFailed:
            stream.close()
            raise

    def close(self) -> None:
        pass


class SSHRunner:
    """Runs commands over one paramiko SSH connection (one channel per command)."""

    def __init__(self, target: str, *, identity: str | os.PathLike | None = None,
                 known_hosts: str | os.PathLike | None = None, accept_new_host_key: bool = False,
                 sudo: bool = False, connect_timeout: float = 10.0, user: str = "root"):
        import paramiko
        self.user, self.host, self.port = parse_target(target, user)
        self.sudo = sudo
        client = paramiko.SSHClient()
        kh = Path(known_hosts).expanduser() if known_hosts else Path("~/.ssh/known_hosts").expanduser()
        if kh.exists():
            client.load_host_keys(str(kh))
        elif known_hosts:
            raise CollectError(f"{kh}: known_hosts file not found")
        was_known = client.get_host_keys().lookup(self.host if self.port == 22 else f"[{self.host}]:{self.port}") is not None
        client.set_missing_host_key_policy(_accept_new_policy() if accept_new_host_key else paramiko.RejectPolicy())
        name = self.host if self.port == 22 else f"[{self.host}]:{self.port}"
        try:
            client.connect(self.host, port=self.port, username=self.user,
                           key_filename=str(Path(identity).expanduser()) if identity else None,
                           look_for_keys=identity is None, allow_agent=True, timeout=connect_timeout,
                           banner_timeout=connect_timeout, auth_timeout=connect_timeout)
        except paramiko.BadHostKeyException as e:
            client.close()
            raise CollectError(f"host key CHANGED ({e.key.get_name()}; {kh} has a different key): "
                               "refusing to connect") from None
        except paramiko.AuthenticationException as e:
            client.close()
            raise CollectError(f"authentication failed for {self.user}@{name} ({e})") from None
        except paramiko.SSHException as e:
            client.close()
            if "No authentication methods available" in str(e):
                raise CollectError(f"no SSH key to offer for {self.user}@{name}: give --identity KEY or add a key "
                                   "to ssh-agent") from None
            if "not found in known_hosts" in str(e):
                raise CollectError(f"unknown host key for {name} (not in {kh}); verify it and add it, "
                                   "or pass --accept-new-host-key") from None
            raise CollectError(f"SSH failed: {e}") from None
        except socket.timeout:
            client.close()
            raise CollectError(f"connection to {name} timed out after {connect_timeout:g} s") from None
        except OSError as e:
            client.close()
            inner = list(getattr(e, "errors", {}).values())  # paramiko's NoValidConnectionsError
            if inner:
                e = inner[0]
            raise CollectError(f"cannot connect to {self.host} port {self.port}: {e.strerror or e}") from None
        if accept_new_host_key and not was_known:
            transport = client.get_transport()
            assert transport is not None  # just connected
            key = transport.get_remote_server_key()
            try:
                with _KNOWN_HOSTS_LOCK:  # many hosts may be accepted at once: append, never rewrite
                    kh.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                    with open(kh, "a") as f:
                        f.write(f"{name} {key.get_name()} {key.get_base64()}\n")
            except OSError as e:
                client.close()
                raise CollectError(f"{kh}: cannot record the new host key: {e.strerror}") from None
        self.client = client

    def run(self, command: str, timeout: float) -> tuple[int | None, _Spool, bytes]:
        """(exit code, or None when stdout went over the cap; stdout; stderr) of ``command``."""
        cmd = "sh -c " + shlex.quote(_PATH + command)
        if self.sudo:
            cmd = "sudo -n " + cmd
        chan = self._transport().open_session(timeout=timeout)
        try:
            chan.exec_command(cmd)
            chan.shutdown_write()
            out, err = _Spool(), bytearray()
            deadline = time.monotonic() + timeout

            def drain() -> None:
                while chan.recv_ready() and not out.truncated:
                    out.write(chan.recv(1 << 16))
                while chan.recv_stderr_ready():
                    data = chan.recv_stderr(1 << 16)
                    err.extend(data[:max(0, _ERR_CAP - len(err))])

            try:
                while not chan.eof_received and not out.truncated:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise _Timeout()
                    select.select([chan], [], [], min(left, 1.0))
                    drain()
                if out.truncated:  # over the cap: the rest is not wanted (the channel is closed below)
                    return None, out, bytes(err)
                drain()
                if not chan.status_event.wait(max(0.0, deadline - time.monotonic())):
                    raise _Timeout()
            except BaseException:
                out.close()
                raise
            return chan.recv_exit_status(), out, bytes(err)
        finally:
            chan.close()

    def _transport(self) -> "paramiko.Transport":
        """The connection's transport (None only once the client is closed)."""
        transport = self.client.get_transport()
        if transport is None:
            raise CollectError(f"the SSH connection to {self.host} is closed")
        return transport

    def session(self, timeout: float) -> "_Session":
        """Start one remote ``sh -s`` (through ``sudo -n`` if asked) for all commands: one SSH
        channel and one shell instead of one of each per command."""
        try:
            chan = self._transport().open_session(timeout=timeout)
            chan.exec_command("sudo -n sh -s" if self.sudo else "sh -s")
        except Exception as e:
            raise _SessionFailed(f"cannot open a shell session: {e}") from None
        stream = _ChannelStream(chan)
        try:
            return _Session(stream, _boundary(), timeout)
        except _SessionFailed:
            stream.close()
            raise

    def close(self) -> None:
        self.client.close()


# --------------------------------------------------------------------------------------------
# One shell for all commands: the script, the framing, the streams it runs over
# --------------------------------------------------------------------------------------------

class _SessionFailed(Exception):
    """The one-shell session could not start or broke; the caller runs commands one by one instead."""


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


class _ChannelStream:
    """A shell's stdin/stdout over one SSH channel."""

    def __init__(self, chan):
        self.chan, self.err = chan, bytearray()

    def send(self, data: bytes) -> None:
        self.chan.sendall(data)

    def recv(self, seconds: float) -> bytes:
        while self.chan.recv_stderr_ready():  # the shell's own stderr: read, so it never holds the window
            self.err.extend(self.chan.recv_stderr(1 << 16)[-(1 << 16):])
            del self.err[:-(1 << 16)]
        self.chan.settimeout(max(seconds, 0.01))
        try:
            return self.chan.recv(1 << 16)
        except socket.timeout:
            raise _Timeout() from None

    def end_input(self) -> None:
        self.chan.shutdown_write()

    def status(self, seconds: float) -> int | None:
        return self.chan.recv_exit_status() if self.chan.status_event.wait(seconds) else None

    def errors(self) -> bytes:
        while self.chan.recv_stderr_ready():
            self.err.extend(self.chan.recv_stderr(1 << 16))
        return bytes(self.err)

    def close(self) -> None:
        self.chan.close()


class _ProcessStream:
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
            raise _Timeout()
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
        for f in (self.stdin, self.stdout, self.err):
            try:
                f.close()
            except OSError:
                pass


class _OverCap(Exception):
    """A frame announced more output than the cap: its first ``cap`` bytes, then the session ends."""

    def __init__(self, rc: int, out: _Spool):
        super().__init__(f"output over the cap of {out.cap} bytes")
        self.rc, self.out = rc, out


class _Session:
    """One ``sh`` on the node running every command in turn; results come back framed.

    Each result is a header line ``BOUNDARY ID EXIT_CODE FLAG OUT_BYTES ERR_BYTES`` and then
    exactly ``OUT_BYTES + ERR_BYTES`` bytes, so any output (NULs, no final newline, text that
    looks like a header) comes back unchanged:

    >>> s = _Session.__new__(_Session)        # (no shell: frames as the node would print them)
    >>> s.buf, s.boundary = bytearray(b"B 0 3 - 12 4\\nB 1 0 - 0 0\\n\\0errB 1 0 T 0 0\\n"), "B"
    >>> rc, timed_out, out, err = s._frame(0, 1.0); rc, timed_out, out.head(), err
    (3, False, b'B 1 0 - 0 0\\n', b'\\x00err')
    >>> rc, timed_out, out, err = s._frame(1, 1.0); rc, timed_out, out.head(), err
    (0, True, b'', b'')
    """

    def __init__(self, stream, boundary: str, timeout: float):
        self.stream, self.boundary, self.buf = stream, boundary, bytearray()
        self.broken: str | None = None
        deadline = time.monotonic() + timeout + _SESSION_GRACE
        try:
            stream.send(f"nfwb_b={boundary}\n{_PATH.strip()}\nexport PATH\n{_PRELUDE}".encode())
            for _ in range(100):  # a login shell may print a banner first (.bashrc): skip it
                text = self._line(deadline).decode("utf-8", "replace")
                if boundary in text:
                    line = text[text.index(boundary):].split()
                    break
            else:
                raise _SessionFailed("the shell did not start the collection script")
        except (_Timeout, _SessionFailed, OSError, EOFError) as e:
            raise _SessionFailed(str(e) if isinstance(e, _SessionFailed) else self._why(e)) from None
        if line[:2] != [boundary, "ready"] or len(line) != 3:
            raise _SessionFailed("the shell did not start the collection script")
        #: how per-command time limits are enforced on the node
        self.timeouts = "coreutils timeout" if line[2] == "timeout" else "shell watchdog (no timeout command)"

    def _why(self, e: BaseException) -> str:
        if isinstance(e, _Timeout):
            return "no answer from the shell"
        code = self.stream.status(2.0)
        err = self.stream.errors().decode("utf-8", "replace").strip().splitlines()
        what = f"the shell exited (exit {code})" if code is not None else "the shell's output ended"
        return what + (f": {err[-1]}" if err else "")

    def _fill(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Timeout()
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
                raise _SessionFailed("garbage instead of a header line")
            self._fill(deadline)

    def _frame(self, ident: int, seconds: float) -> tuple[int, bool, _Spool, bytes]:
        """Read the frame of command ``ident``: (exit code, timed out?, stdout, stderr); its header
        must come within ``seconds``, and then no pause in its output may last longer."""
        deadline = time.monotonic() + seconds
        head = self._line(deadline).decode("ascii", "replace").split()
        if len(head) != 6 or head[0] != self.boundary or head[1] != str(ident) or head[3] not in ("-", "T"):
            raise _SessionFailed(f"unexpected header line from the shell: {' '.join(head)[:80]!r}")
        try:
            rc, nout, nerr = int(head[2]), int(head[4]), int(head[5])
        except ValueError:
            raise _SessionFailed(f"unexpected header line from the shell: {' '.join(head)[:80]!r}") from None
        out = _Spool()
        if nout > out.cap or nerr > out.cap:  # the rest of the session's framing cannot be trusted to end
            self._take(min(nout, out.cap), out, seconds)
            out.truncated = True
            raise _OverCap(rc, out)
        err = bytearray()
        self._take(nout, out, seconds)
        self._take(nerr, err, seconds)
        return rc, head[3] == "T", out, bytes(err)

    def _take(self, n: int, sink, seconds: float) -> None:
        """Move the next ``n`` bytes of the stream into ``sink`` (a _Spool, or a bytearray that keeps
        :data:`_ERR_CAP`), waiting while they keep coming (no pause longer than ``seconds``)."""
        while n > 0:
            if not self.buf:
                self._fill(time.monotonic() + seconds)
            piece = bytes(self.buf[:n])
            del self.buf[:len(piece)]
            n -= len(piece)
            if isinstance(sink, _Spool):
                sink.write(piece)
            elif len(sink) < _ERR_CAP:
                sink.extend(piece[:_ERR_CAP - len(sink)])

    def run_many(self, items: Sequence[tuple[str, str]], timeout: float):
        """Send every command at once, then yield ``(key, (exit code | None, stdout, stderr), at)``
        as each finishes. A command the node does not finish in time is yielded as timed out; if
        the shell gets stuck or dies, the command it was running is yielded as failed, ``broken``
        says why, and the rest are not yielded (the caller runs them another way)."""
        if self.broken or not items:
            return
        first = getattr(self, "_next", 0)
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
            at = _now()
            try:
                rc, timed_out, out, err = self._frame(first + k, timeout + _SESSION_GRACE)
            except _OverCap as e:
                self.broken = f"{key}: {e} (truncated; the session was abandoned)"
                yield key, (e.rc, e.out, b""), at
                return
            except _Timeout:
                self.broken = f"no result for {key} within {timeout + _SESSION_GRACE:g} s"
                yield key, (None, b"", f"timed out after {timeout:g} s".encode()), at
                return
            except (_SessionFailed, OSError, EOFError) as e:
                self.broken = str(e) if isinstance(e, _SessionFailed) else self._why(e)
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


# --------------------------------------------------------------------------------------------
# What to collect
# --------------------------------------------------------------------------------------------

_DISCOVER = ("for t in " + " ".join(_TOOLS) + "; do command -v $t >/dev/null 2>&1 && echo \"tool $t\"; done; "
             "for f in " + " ".join(g for g, _ in _COPIES) + "; do [ -f \"$f\" ] && echo \"file $f\"; done; "
             "for d in /var/lib/dockershim/sandbox /var/lib/cni/results; do [ -d \"$d\" ] && echo \"dir $d\"; done; "
             "[ -r /proc/net/ip_tables_names ] && sed 's/^/table /' /proc/net/ip_tables_names; "
             "hostname 2>/dev/null | sed 's/^/hostname /'; true")


@dataclass
class _Plan:
    items: list[tuple[str, str]]          # (relative path, shell command)
    skipped: list[dict]
    hostname: str | None


def plan_commands(discovered: str, save_tables: Iterable[str] = ()) -> _Plan:
    """Turn the discovery output into the list of (file, command) to run.

    >>> p = plan_commands("tool iptables\\ntool iptables-save\\ntool lsmod\\ntable filter\\n")
    >>> [f for f, _ in p.items][:4]
    ['iptables/iptables-save.txt', 'iptables/iptables-version.txt', 'iptables/iptables-L-filter.txt', 'kernel/lsmod.txt']
    >>> [s["command"] for s in p.skipped][:2]
    ['iptables-legacy-save -c', 'iptables-nft-save -c']
    """
    tools, files, dirs, tables, hostname = set(), [], set(), [], None
    for line in discovered.splitlines():
        kind, _, value = line.partition(" ")
        if kind == "tool":
            tools.add(value)
        elif kind == "file":
            files.append(value)
        elif kind == "dir":
            dirs.add(value)
        elif kind == "table" and value in TABLES and value not in tables:
            tables.append(value)
        elif kind == "hostname":
            hostname = value.strip() or None
    items: list[tuple[str, str]] = []
    skipped: list[dict] = []

    def want(tool: str, rel: str, cmd: str) -> None:
        if tool in tools:
            items.append((rel, cmd))
        else:
            skipped.append({"command": cmd, "reason": f"{tool} not installed"})

    want("iptables-save", "iptables/iptables-save.txt", "iptables-save -c")
    want("iptables-legacy-save", "iptables/iptables-legacy-save.txt", "iptables-legacy-save -c")
    want("iptables-nft-save", "iptables/iptables-nft-save.txt", "iptables-nft-save -c")
    want("ip6tables-save", "iptables/ip6tables-save.txt", "ip6tables-save -c")
    want("ip6tables-legacy-save", "iptables/ip6tables-legacy-save.txt", "ip6tables-legacy-save -c")
    want("ip6tables-nft-save", "iptables/ip6tables-nft-save.txt", "ip6tables-nft-save -c")
    want("iptables", "iptables/iptables-version.txt", "iptables -V")
    # tables: those in /proc/net/ip_tables_names (legacy) and in the save output (either backend),
    # else all five
    seen = set(tables) | set(save_tables)
    listed = [t for t in TABLES if t in seen] or list(TABLES)
    for t in listed:
        want("iptables", f"iptables/iptables-L-{t}.txt", f"iptables -t {t} -L -n -v -x --line-numbers")
    want("lsmod", "kernel/lsmod.txt", "lsmod")
    items.append(("kernel/ip_tables_names.txt", "cat /proc/net/ip_tables_names"))
    want("nft", "kernel/nft-ruleset.txt", "nft -a list ruleset")
    want("nft", "kernel/nft-ruleset.json", "nft -j list ruleset")
    want("nft", "kernel/nft-version.txt", "nft --version")
    want("conntrack", "kernel/conntrack.txt", "conntrack -L -o extended")
    want("conntrack", "kernel/conntrack6.txt", "conntrack -L -o extended -f ipv6")
    want("conntrack", "kernel/conntrack-stats.txt", "conntrack -S")
    want("conntrack", "kernel/conntrack-count.txt", "conntrack -C")
    want("sysctl", "kernel/sysctl.txt", "sysctl -e " + " ".join(_SYSCTLS))
    # kube-proxy answers its mode on its metrics port (iptables, ipvs, nftables)
    want("curl", "kubelet/kube-proxy-mode.txt", "curl -s --max-time 2 http://127.0.0.1:10249/proxyMode")
    want("ip", "network/ip-addr.txt", "ip -o addr")
    want("ip", "network/ip-route.txt", "ip route")
    for rel, d in (("kubelet/dockershim-sandbox.txt", "/var/lib/dockershim/sandbox"),
                   ("kubelet/cni-results.txt", "/var/lib/cni/results")):
        if d in dirs:
            items.append((rel, f"ls -la {d}"))
        else:
            skipped.append({"command": f"ls -la {d}", "reason": "no such directory"})
    for f in files:
        for glob, folder in _COPIES:
            if f == glob or (glob.endswith("/*") and f.startswith(glob[:-1]) and "/" not in f[len(glob) - 1:]):
                name = os.path.basename(f)
                if not name or name.startswith(".."):
                    continue
                items.append((f"{folder}/{name}", f"cat {shlex.quote(f)}"))
                break
    return _Plan(items, skipped, hostname)


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------

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

    def load(self):
        """The collected dump as a :class:`~workbook.dump.NodeDump`."""
        from .dump import load_dump
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

def _collect_with(runner, out: Path, *, host: str, timeout: float, extra: Mapping[str, str] | None,
                  channels: int = 4, tick: Callable[[int], None] = lambda n: None,
                  total_hint: Callable[[int], None] = lambda n: None, session: bool = True) -> CollectResult:
    start = time.monotonic()
    result = CollectResult(target=host)
    commands: dict[str, dict] = {}
    errors: list[dict] = []
    outputs: dict[str, tuple[int | None, _Spool | bytes, bytes, str, str]] = {}
    # one shell for every command when the node allows it; else (or for what a broken session
    # left) one shell per command, as before
    mode: dict = {"mode": "per-command", "timeouts": None, "note": None}
    sess: _Session | None = None
    if session:
        try:
            sess = runner.session(timeout)
            mode = {"mode": "session", "timeouts": sess.timeouts, "note": None}
        except _SessionFailed as e:
            mode["note"] = f"one shell session failed to start ({e}): one session per command"
    per_command: list[str] = []

    def run_one(rel: str, cmd: str) -> None:
        at = _now()
        try:
            rc, so, se = runner.run(cmd, timeout)
            outputs[rel] = (rc, so, se, cmd, at)
        except _Timeout:
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
        code = None
        in_session([(" discover", _DISCOVER)], count=False)
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
                code, disc, err = runner.run(_DISCOVER, timeout)
            except _Timeout:
                raise CollectError(f"no answer to the first command within {timeout:g} s") from None
        if isinstance(disc, _Spool) and disc.truncated:  # a few lines expected: this is no usable shell
            raise CollectError(f"the first command's output is over the cap of {disc.cap} bytes (a hostile or "
                               "broken node?)")
        if code != 0:
            last = err.decode("utf-8", "replace").strip().splitlines()
            raise CollectError(f"cannot run commands (exit {code}): {last[-1] if last else 'no error output'}")
        discovered = (disc.head() if isinstance(disc, _Spool) else disc).decode("utf-8", "replace")
        # the save output decides which tables to list when /proc/net/ip_tables_names is empty (nft)
        plan = plan_commands(discovered)
        save_item = next(((f, c) for f, c in plan.items if f == "iptables/iptables-save.txt"), None)
        if save_item:
            run_items([save_item])
            rc, so = outputs[save_item[0]][:2]
            tables = ([m.group(1).decode() for m in map(_TABLE_LINE.match, so.lines()) if m]
                      if rc == 0 and isinstance(so, _Spool) else [])
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
    outputs = {rel: outputs[rel] for rel in sorted(outputs)}

    out.mkdir(parents=True, exist_ok=True)
    written = 0
    notes: dict[str, str] = {}
    for rel, (rc, so, se, cmd, at) in outputs.items():
        if isinstance(so, _Spool) and so.truncated:
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
        if isinstance(so, _Spool):
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
    result.path, result.files, result.seconds = out, written, time.monotonic() - start
    result.mode = mode["mode"]
    return result


def _check_extra(extra: Mapping[str, str] | None) -> None:
    for rel in extra or {}:
        if _safe_rel(rel) != rel or rel == "MANIFEST.json":
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


def _bar(progress: bool | None, total: int, desc: str):
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit="cmd", disable=(None if progress is None else not progress), leave=False)


def _set_total(bar, n: int) -> None:
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
    import threading
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
                    bar.total += n - totals[target]
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
            netns: str | None = None, **kw) -> list[CollectResult]:
    """``collect(["root@10.0.0.5", "node-2"], "dumps/")`` over SSH, or ``collect(local=True,
    out="dumps/")`` for this machine (``netns=`` for a network namespace); each host into
    ``out/<host>/``. Returns one :class:`CollectResult` per host."""
    if local or netns:
        name = netns or socket.gethostname()
        return [collect_local(Path(out) / name, netns=netns, **kw)]
    if not targets:
        raise InputError("nothing to collect: give SSH targets or local=True")
    return collect_ssh(list(targets), out, **kw)
