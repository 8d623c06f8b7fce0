"""Reaching a node over SSH (paramiko): its target syntax, host keys, one channel per command or one shell."""

from __future__ import annotations

import ipaddress
import os
import re
import select
import shlex
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..limits import one_line
from ..model import InputError
from .transport import CollectError, CommandTimeout, SessionFailed, ShellStream, Spool, keep_err, with_shell_path

if TYPE_CHECKING:  # pragma: no cover
    import paramiko  # imported when an SSH connection is made

__all__ = ["parse_target", "SSHRunner", "ChannelStream"]


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


_KNOWN_HOSTS_LOCK = threading.Lock()


def _accept_new_policy() -> "paramiko.MissingHostKeyPolicy":
    """Accept an unknown key for this connection only (paramiko's AutoAddPolicy would rewrite
    known_hosts from each thread; we append the new line ourselves, under a lock)."""
    import paramiko

    class AcceptNew(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
            client.get_host_keys().add(hostname, key.get_name(), key)

    return AcceptNew()


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

    def run(self, command: str, timeout: float) -> tuple[int | None, Spool, bytes]:
        """(exit code, or None when stdout went over the cap; stdout; stderr) of ``command``."""
        cmd = "sh -c " + shlex.quote(with_shell_path(command))
        if self.sudo:
            cmd = "sudo -n " + cmd
        chan = self._transport().open_session(timeout=timeout)
        try:
            chan.exec_command(cmd)
            chan.shutdown_write()
            out, err = Spool(), bytearray()
            deadline = time.monotonic() + timeout

            def drain() -> None:
                while chan.recv_ready() and not out.truncated:
                    out.write(chan.recv(1 << 16))
                while chan.recv_stderr_ready():
                    keep_err(err, chan.recv_stderr(1 << 16))

            try:
                while not chan.eof_received and not out.truncated:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise CommandTimeout()
                    select.select([chan], [], [], min(left, 1.0))
                    drain()
                if out.truncated:  # over the cap: the rest is not wanted (the channel is closed below)
                    return None, out, bytes(err)
                drain()
                if not chan.status_event.wait(max(0.0, deadline - time.monotonic())):
                    raise CommandTimeout()
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

    def shell(self, timeout: float) -> ShellStream:
        """Start one remote ``sh -s`` (through ``sudo -n`` if asked) for all commands: one SSH
        channel and one shell instead of one of each per command."""
        try:
            chan = self._transport().open_session(timeout=timeout)
            chan.exec_command("sudo -n sh -s" if self.sudo else "sh -s")
        except Exception as e:
            raise SessionFailed(f"cannot open a shell session: {e}") from None
        return ChannelStream(chan)

    def close(self) -> None:
        self.client.close()


class ChannelStream:
    """A shell's stdin/stdout over one SSH channel."""

    def __init__(self, chan: "paramiko.Channel"):
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
            raise CommandTimeout() from None

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
