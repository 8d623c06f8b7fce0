"""The CI rule of tests/conftest.py: under CI=true a skipped test fails; elsewhere it skips."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.realparts import ROOT

INNER = '''
import pytest

def test_needs_something_missing():
    pytest.skip("no chromium here")

@pytest.mark.skipif(True, reason="marker skip")
def test_marker_skip():
    pass
'''


def _run(ci: str) -> subprocess.CompletedProcess:
    d = ROOT / "tests" / "_ci_rule_probe"
    d.mkdir(exist_ok=True)
    try:
        (d / "__init__.py").write_text("")
        (d / "test_probe.py").write_text(INNER)
        env = {**os.environ, "CI": ci}
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-header",
                               str(d / "test_probe.py")], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120)
    finally:
        for f in d.iterdir():
            f.unlink()
        d.rmdir()


def test_skips_fail_under_ci():
    p = _run("true")
    # both tests skip → neither may pass as a skip: the call-time skip is a failure, the marker skip
    # (raised while setting the test up) an error; pytest exits non-zero
    assert p.returncode == 1, p.stdout
    assert "1 failed, 1 error" in p.stdout and " skipped" not in p.stdout.splitlines()[-1]
    assert p.stdout.count("skipped under CI=true") >= 2


def test_skips_stay_skips_on_a_laptop():
    p = _run("")
    assert p.returncode == 0, p.stdout
    assert "2 skipped" in p.stdout
