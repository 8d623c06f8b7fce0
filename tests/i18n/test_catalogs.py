"""The gettext catalogs: every marked message translated, placeholders kept, each .mo compiled from its .po."""

import importlib.machinery
import importlib.util
import subprocess
import sys
from pathlib import Path

from workbook import i18n

ROOT = Path(__file__).resolve().parents[2]


def _catalogs_script():
    loader = importlib.machinery.SourceFileLoader("nfwb_catalogs", str(ROOT / "scripts" / "catalogs"))
    spec = importlib.util.spec_from_loader("nfwb_catalogs", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def test_every_marked_message_is_translated_and_each_mo_matches_its_po():
    catalogs = _catalogs_script()
    assert catalogs.po_paths(), "no .po catalog found"
    assert catalogs.problems() == []


def test_the_check_command_says_so_too():
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "catalogs"), "check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_stale_mo_is_caught(tmp_path, monkeypatch):
    catalogs = _catalogs_script()
    locale = tmp_path / "locale"
    (locale / "ko" / "LC_MESSAGES").mkdir(parents=True)
    src = i18n.LOCALE_DIR / "ko" / "LC_MESSAGES"
    po = (src / "nfwb.po").read_text(encoding="utf-8")
    (locale / "ko" / "LC_MESSAGES" / "nfwb.po").write_text(po.replace('msgstr "근거"', 'msgstr "증거"'), encoding="utf-8")
    (locale / "ko" / "LC_MESSAGES" / "nfwb.mo").write_bytes((src / "nfwb.mo").read_bytes())
    monkeypatch.setattr(catalogs, "LOCALE", locale)
    assert any("is not the compiled nfwb.po" in p for p in catalogs.problems())


def test_a_non_literal_message_id_is_refused(tmp_path):
    catalogs = _catalogs_script()
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "m.py").write_text('x = 1\nmsg(f"{x} rules")\n_("fine")\n')
    found, problems = catalogs.extract(pkg)
    assert list(found) == [("fine", None)]
    assert problems == ["pkg/m.py:2: msg() needs string literal message ids"]


def test_the_catalogs_ship_with_the_package():
    text = (ROOT / "pyproject.toml").read_text()
    assert '"locale/*/LC_MESSAGES/*.mo"' in text
