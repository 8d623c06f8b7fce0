"""A forged nft listing whose rule holds a word where a number belongs: `nfwb trace` names the rule's
file:line and exits 2 (the fuzz run found exit 3 here)."""

from __future__ import annotations

from tests.adversarial.cli_run import refused

FORGED = """table ip filter {
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tmeta mark > -j accept
\t\ttcp dport 22 accept
\t}
}
"""


def test_a_word_where_a_number_belongs(tmp_path):
    f = tmp_path / "nft.txt"
    f.write_text(FORGED)
    line = refused("trace", str(f), "--src", "10.0.0.1", "--dst", "10.0.0.2", "--proto", "tcp",
                   "--dport", "22", "--node-ip", "10.0.0.2")
    assert f"{f}:4: " in line and "meta mark > -j accept" in line
