"""Shared fixtures: throw-away network namespaces (deleted after each test), and the CI rule:
under ``CI=true`` no test may skip."""

from __future__ import annotations

import itertools
import os
import subprocess

import pytest

from tests.realparts import IN_CI, have_root_netns, need

# Tests expect the library's English words unless they choose a language themselves
# (workbook.i18n reads LANGUAGE first): a developer whose shell speaks Korean gets the same results.
os.environ["LANGUAGE"] = "en"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a skip is a failure, whatever raised it (a need(), a skip marker, an
    importorskip added later): the kernel-lab, SSH and browser tests must run there."""
    outcome = yield
    rep = outcome.get_result()
    if IN_CI and rep.skipped and not hasattr(rep, "wasxfail"):
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = f"skipped under CI=true, where every test must run: {reason}"


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


