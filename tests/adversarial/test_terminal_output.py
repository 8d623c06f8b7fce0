"""Dump text printed by `nfwb check` cannot drive the analyst's terminal: an escape sequence or a
bidi override in a comment reaches the screen as visible escapes."""

from __future__ import annotations

import subprocess
import sys

# A duplicated rule (so the finding quotes it) whose comment clears the screen, recolours and
# reverses the text that follows.
HOSTILE = ("*nat\n:PREROUTING ACCEPT [0:0]\n:X - [0:0]\n"
           '-A PREROUTING -m comment --comment "\x1b[2J\x1b[31mok\u202e" -j X\n'
           '-A PREROUTING -m comment --comment "\x1b[2J\x1b[31mok\u202e" -j X\n'
           "COMMIT\n")


def test_check_output_holds_no_control_characters(tmp_path):
    f = tmp_path / "rules.txt"
    f.write_text(HOSTILE)
    out = subprocess.run([sys.executable, "-m", "workbook", "check", str(f)], capture_output=True, text=True)
    assert out.returncode in (0, 1), out.stderr
    assert "duplicate-rule" in out.stdout
    assert "\x1b" not in out.stdout and "\u202e" not in out.stdout
    assert "\\x1b[2J" in out.stdout       # shown, escaped
