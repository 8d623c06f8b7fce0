"""parse_save's fast path (lazily filled rules) builds the same Rule objects as the full parser
(tokenize + build_rule) over every save file in tests/data and generated kube-proxy dumps of
several sizes, with and without counters."""

from __future__ import annotations

import pytest

from workbook.generate import generate_services, kube_proxy_save
from workbook.model import ParseError, Rule
from workbook.parse import parse_save

from tests.realparts import DATA

_SAVE_FILES = sorted(p for p in DATA.rglob("*") if p.is_file() and p.suffix in ("", ".save", ".rules", ".txt")
                     and p.stat().st_size < 5_000_000)


def _fields(r: Rule) -> tuple:
    return tuple(getattr(r, f) for f in Rule.__dataclass_fields__ if f != "_lazy")


def _same(text: str, name: str) -> int:
    lazy = list(parse_save(text, name, strict=False).iter_rules())
    eager = list(parse_save(text, name, strict=False, lazy=False).iter_rules())
    assert [_fields(r) for r in lazy] == [_fields(r) for r in eager], name
    return len(lazy)


@pytest.mark.parametrize("services,counters", [(1, False), (50, True), (400, False), (2000, True)])
def test_generated_kube_proxy(services, counters):
    text = kube_proxy_save(generate_services(services, seed=services, features=True), counters=counters)
    assert _same(text, f"gen{services}") == text.count("-A ")


def test_every_save_file_in_tests_data():
    compared = 0
    for path in _SAVE_FILES:
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        if "\n-A " not in text and "] -A " not in text:
            continue
        try:
            compared += _same(text, path.name)
        except ParseError:
            continue  # not a save file at all (a listing, a bad-input case)
    assert compared > 1000
