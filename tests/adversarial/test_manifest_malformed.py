"""Issue 8 §5: a hostile MANIFEST.json is one line naming it and exit 2, never an internal error."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from tests.adversarial.hostile_dumps import nfwb
from tests.realparts import DATA

MINIMAL = DATA / "dumps" / "nfwb-minimal"


def _with(manifest_text: str, tmp_path):
    d = tmp_path / "node"
    shutil.copytree(MINIMAL, d)
    (d / "MANIFEST.json").write_text(manifest_text)
    return d


def _edited(**changes) -> str:
    m = json.loads((MINIMAL / "MANIFEST.json").read_text())
    m.update(changes)
    return json.dumps(m)


@pytest.mark.parametrize("text,message", [
    ("[" * 100_000 + "]" * 100_000, "MANIFEST.json:1: not valid JSON (nested too deeply)"),
    ('{"a":' * 100_000 + "1" + "}" * 100_000, "MANIFEST.json:1: not valid JSON (nested too deeply)"),
    (_edited(errors=["boom", 5]), "MANIFEST.json: 'errors' must be a list of objects whose 'command' and 'error' are text"),
    (_edited(errors=7), "MANIFEST.json: 'errors' must be a list of objects whose 'command' and 'error' are text"),
    (_edited(errors=[{"command": ["iptables-save"], "error": {"x": 1}}]),
     "MANIFEST.json: 'errors' must be a list of objects whose 'command' and 'error' are text"),
    (_edited(host={"name": "n"}), "MANIFEST.json: 'host' must be text"),
    (_edited(format=["nfwb-dump/1"]), "MANIFEST.json: unsupported format list (expected 'nfwb-dump/1')"),
    (re.sub(r'"size": \d+', '"size": ' + "9" * 5000, _edited(), count=1),
     "MANIFEST.json:1: not valid JSON (Exceeds the limit (4300 digits) for integer string conversion: value has 5000 digits)"),
])
def test_hostile_manifest_is_one_line_exit_2(tmp_path, text, message):
    d = _with(text, tmp_path)
    p = nfwb("check", str(d))
    assert (p.returncode, p.stdout, p.stderr) == (2, "", f"nfwb check: error: {message}\n")
    p = nfwb("collect", "--verify", str(d))
    assert (p.returncode, p.stderr) == (2, f"nfwb collect: error: {message}\n")
