"""Where the checks tests' own data lives."""

from __future__ import annotations

from tests.realparts import DATA

CHECKS_DATA = DATA / "checks"
