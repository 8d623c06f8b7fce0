"""Issue 8 §4: input is bounded everywhere. /dev/zero, a FIFO that never ends and endless stdin
stop at the size cap (--max-input, $NFWB_MAX_INPUT; 512 MiB by default) with one line, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from tests.adversarial.cli_run import MAX_LINE, nfwb, refused
from tests.realparts import DATA, ROOT

SMALL = 1 << 20   # the cap the tests set, so they are fast
GOOD = DATA / "checks" / "seed-prerouting-after.iptables-save"
PACKET = ["--src", "10.0.0.1", "--dst", "10.0.0.2", "--proto", "tcp", "--dport", "80"]


def _nfwb_proc(argv: list[str], **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "NFWB_MAX_INPUT": str(SMALL)}
    return subprocess.run([sys.executable, "-m", "workbook", *argv], cwd=ROOT, capture_output=True, timeout=60,
                          env=env, **kw)


def _one_line(done: subprocess.CompletedProcess, where: str) -> str:
    err = done.stderr.decode()
    assert done.returncode == 2, (done.returncode, err[-2000:])
    assert err.count("\n") == 1 and len(err) <= MAX_LINE + 1, err[-2000:]
    assert where in err, err
    return err


@pytest.mark.parametrize("command", ["parse", "check", "trace"])
def test_dev_zero(command):
    # binary from the first byte: refused at once, whatever the cap
    argv = [command, "/dev/zero"] + (PACKET if command == "trace" else [])
    done = subprocess.run([sys.executable, "-m", "workbook", *argv], cwd=ROOT, capture_output=True, timeout=60)
    _one_line(done, "/dev/zero:1: binary data")


def test_endless_stdin():
    # `yes | nfwb parse -`: text that never ends
    yes = subprocess.Popen(["yes"], stdout=subprocess.PIPE)
    try:
        done = _nfwb_proc(["parse", "-"], stdin=yes.stdout)
    finally:
        yes.kill()
        yes.wait()
        yes.stdout.close()
    err = _one_line(done, f"<stdin>: more than {SMALL} bytes: over the input cap")
    assert "NFWB_MAX_INPUT" in err


def test_fifo_that_never_ends(tmp_path):
    fifo = tmp_path / "rules.fifo"
    os.mkfifo(fifo)
    stop = threading.Event()

    def writer() -> None:
        try:
            with open(fifo, "wb") as f:
                line = b"-A INPUT -j ACCEPT\n" * 1000
                f.write(b"*filter\n:INPUT ACCEPT [0:0]\n")
                while not stop.is_set():
                    f.write(line)
        except BrokenPipeError:
            pass

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        done = _nfwb_proc(["parse", str(fifo)])
    finally:
        stop.set()
        t.join(10)
    _one_line(done, f"{fifo}: more than {SMALL} bytes")


def test_max_input_option_and_env(tmp_path, monkeypatch):
    big = tmp_path / "big.save"
    big.write_text("*filter\n:INPUT ACCEPT [0:0]\n" + "-A INPUT -s 10.0.0.1/32 -j ACCEPT\n" * 40000 + "COMMIT\n")
    size = big.stat().st_size   # ~1.4 MB
    assert f"{big}: more than 1048576 bytes" in refused("parse", str(big), "--max-input", "1M")
    assert f"{big}: more than 1048576 bytes" in refused("check", str(big), "--max-input", "1M")
    assert f"{big}: more than 1048576 bytes" in refused("trace", str(big), *PACKET, "--max-input", "1M")
    monkeypatch.setenv("NFWB_MAX_INPUT", "1M")
    assert f"{big}: more than 1048576 bytes" in refused("parse", str(big))
    # the option wins over the environment; under the cap the same file parses
    rc, out, err = nfwb("parse", str(big), "--max-input", str(size))
    assert rc == 0 and "40000 rules" in out, err
    monkeypatch.setenv("NFWB_MAX_INPUT", "a lot")
    assert "NFWB_MAX_INPUT" in refused("parse", str(GOOD))


def test_routes_and_modules_files_are_capped_too(tmp_path):
    routes = tmp_path / "routes.txt"
    routes.write_text("10.0.0.0/8 dev eth0\n" * 100000)
    assert f"{routes}: more than 1048576 bytes" in refused("trace", str(GOOD), *PACKET, "--routes", str(routes),
                                                           "--max-input", "1M")
    lsmod = tmp_path / "lsmod.txt"
    lsmod.write_text("Module Size Used by\n" + "nf_nat 57344 3 xt_nat\n" * 60000)
    assert f"{lsmod}: more than 1048576 bytes" in refused("check", str(GOOD), "--modules", str(lsmod),
                                                          "--max-input", "1M")
