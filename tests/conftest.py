"""Shared fixtures: throw-away network namespaces (deleted after each test)."""

from __future__ import annotations

import itertools
import os
import subprocess

import pytest

from tests.realparts import have_root_netns, need


@pytest.fixture
def root_netns():
    """Require root + ip + iptables (skip on a laptop, fail under CI=true)."""
    ok, why = have_root_netns()
    need(ok, why)


_counter = itertools.count()



@pytest.fixture
def netns(root_netns):
    """Factory making uniquely named namespaces (``netns()`` → name); all deleted afterwards."""
    made: list[str] = []

    def make(prefix: str = "t") -> str:
        name = f"nfwbt-{os.getpid()}-{prefix}{next(_counter)}"
        subprocess.run(["ip", "netns", "add", name], check=True)
        made.append(name)
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        return name

    yield make
    for name in made:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


