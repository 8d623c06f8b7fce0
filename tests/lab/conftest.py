"""Fixtures of the kernel lab tests: the lab must be usable (skip on a laptop, fail under CI=true)."""

from __future__ import annotations

import subprocess

import pytest

from tests.realparts import need


def need_lab(backend: str = "nft") -> None:
    from workbook.lab import lab_available
    ok, why = lab_available(backend)
    need(ok, why)


@pytest.fixture
def lab_ok():
    need_lab("nft")


def lab_namespaces(prefix: str = "nfwb-lab-") -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [l.split()[0] for l in out.splitlines() if l.startswith(prefix)]
