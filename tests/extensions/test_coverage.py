"""Every extension Debian's iptables ships is in the registry (exact, assumed or refused), and the
README's coverage table is the generated one."""

from __future__ import annotations

import os
import pathlib

import pytest

from workbook.extensions import match_extension, target_extension
from workbook.extensions._coverage import README_END, README_START, SHIPPED, installed, shipped_names, table

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"

def _registered(name: str, kind: str) -> bool:
    return (match_extension(name) if kind == "match" else target_extension(name)) is not None


def _missing(libs: tuple[str, ...]) -> list[tuple[str, str]]:
    return sorted(nk for nk in shipped_names(libs) if not _registered(*nk))


def test_checked_in_list_is_registered():
    """The Debian list kept in the repo (for a machine without iptables) is fully covered."""
    assert len(SHIPPED) > 100
    assert _missing(SHIPPED) == []


@pytest.mark.skipif(not installed() and not os.environ.get("CI"), reason="no iptables extension libraries here")
def test_installed_libraries_are_registered():
    """Every extension library installed on this machine is registered."""
    libs = installed()
    assert libs, "CI: iptables' extension libraries should be installed (scripts/setup)"
    assert _missing(libs) == []


def test_refusals_say_unsupported_extension():
    from workbook.extensions import extensions
    refused = [e for e in extensions() if e.status == "unsupported"]
    assert refused
    for e in refused:
        assert e.reason.startswith(f"unsupported extension {e.name}"), e.reason
    for e in extensions():
        assert e.status == "exact" or e.reason, f"{e.name} is {e.status} without a reason"


def test_readme_table_is_generated():
    """README.md holds exactly ``python -m workbook.extensions`` between its markers."""
    text = README.read_text(encoding="utf-8")
    start, end = text.index(README_START) + len(README_START), text.index(README_END)
    assert text[start:end].strip() == table().strip(), "regenerate: python -m workbook.extensions"
