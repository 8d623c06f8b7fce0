"""``mypy workbook`` is clean: the package ships py.typed, so its annotations must hold.

The settings (and the few per-module exceptions, each with its reason) are in pyproject.toml's
``[tool.mypy]``; mypy runs in a child process as a user would run it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_workbook_is_clean():
    pytest.importorskip("mypy", reason="mypy is in the test extra: scripts/setup --test")  # CI=true: fails
    p = subprocess.run([sys.executable, "-m", "mypy", "workbook"], cwd=ROOT, capture_output=True, text=True,
                       timeout=540)
    out = p.stdout + p.stderr
    assert p.returncode == 0, "mypy workbook found problems:\n" + out
    assert out.strip().splitlines()[-1].startswith("Success: no issues found"), out
    assert "error:" not in out, out
