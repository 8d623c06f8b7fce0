"""Bad input: one-line file:line errors (strict), partial results with problems (lenient), CLI exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from workbook.model import InputError, ParseError
from workbook.parse import parse
from workbook.parse.detect import UnsupportedFormat

from tests.realparts import DATA, ROOT

LOCAL = DATA / "rulesets"
GOOD = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n"

# (file content, expected one-line message) — messages written by hand from the input
BAD = {
    "truncated.rules": (GOOD.replace("COMMIT\n", ""),
                        "truncated.rules:4: table 'filter' (line 1) has no COMMIT: file truncated?"),
    "junk.bin": (b"*filter\n\x7fELF\x02\x01\x01\x00\x00\x00", "junk.bin:2: binary data (NUL byte), not a text dump"),
    "unknown-table.rules": ("*natt\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n",
                            "unknown-table.rules:1: unknown table 'natt' (known: raw, mangle, nat, filter, security)"),
    "outside.rules": (":INPUT ACCEPT [0:0]\n*filter\nCOMMIT\n", "outside.rules:1: chain declaration outside a table"),
    "outside2.rules": ("*filter\nCOMMIT\n-A INPUT -j DROP\n",
                       "outside2.rules:3: rule outside a table (no '*table' line before it)"),
    "quote.rules": ('*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment "oops -j ACCEPT\nCOMMIT\n',
                    "quote.rules:3: unterminated quote"),
    "quote-spec.txt": ('-P INPUT ACCEPT\n-A INPUT -m comment --comment "oops -j ACCEPT\n',
                       "quote-spec.txt:2: unterminated quote"),
    "listing-bad.txt": ("Chain INPUT (policy ACCEPT 0 packets, 0 bytes)\n"
                        " pkts bytes target     prot opt in     out     source               destination\n"
                        "   12 ACCEPT all\n",
                        "listing-bad.txt:3: bad counters '12' 'ACCEPT'"),
    "lsmod-bad.txt": ("Module                  Size  Used by\nnf_nat 57344 3\nlsmod: ERROR: could not open\n",
                      "lsmod-bad.txt:3: not an lsmod line: 'lsmod: ERROR: could not open'"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_strict_errors_name_file_and_line(tmp_path, name):
    content, msg = BAD[name]
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ParseError) as e:
        parse(path)
    assert str(e.value) == str(path.parent / msg)


@pytest.mark.parametrize("name", ["truncated.rules", "quote.rules", "outside2.rules"])
def test_cli_exit_2_one_line(tmp_path, name):
    content, msg = BAD[name]
    path = tmp_path / name
    path.write_text(content)
    p = subprocess.run([sys.executable, "-m", "workbook", "parse", str(path)], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.splitlines() == [f"nfwb parse: error: {tmp_path / msg}"]


def test_lenient_keeps_what_parsed(tmp_path):
    text = ('*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -m comment --comment "oops -j ACCEPT\n'
            "-A INPUT -j\n-A INPUT -j DROP\nCOMMIT\n*natt\nCOMMIT\n")
    rs = parse(text, strict=False)
    # lines 4 (quote) and 5 (-j without target) and 8 (unknown table) are the problems
    assert [r.spec for r in rs.iter_rules()] == ["-A INPUT -i lo -j ACCEPT", "-A INPUT -j DROP"]
    assert [p.line for p in rs.problems] == [4, 5, 8]
    path = tmp_path / "bad.rules"
    path.write_text(text)
    p = subprocess.run([sys.executable, "-m", "workbook", "parse", "--lenient", "--csv", str(path)], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0
    assert len(p.stderr.splitlines()) == 3 and all(l.startswith("warning: ") for l in p.stderr.splitlines())
    assert p.stdout.count("\n") == 3  # header + 2 rules


UNSUPPORTED = {
    "calico-issue13263-nixos.nft-commands.txt": "nftables script",
    "istio-ambient-nft.golden": "nftables script",
    "istio-sidecar-tproxy.golden": "several iptables/ip6tables-restore commands",
    "kube-router-dualstack.ipset-save": "ipset save",
    "iptables-tests-fedora27-firewalld.iptables.xml": "XML",
    "moby-usernet-portmap.iptables-vL-linenumbers-and-S.md": "Markdown",
}


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_formats_say_so(name):
    path = LOCAL / name
    with pytest.raises(UnsupportedFormat) as e:
        parse(path)
    msg = str(e.value)
    assert msg.startswith(str(path) + ":") and "unsupported format" in msg and UNSUPPORTED[name] in msg
    p = subprocess.run([sys.executable, "-m", "workbook", "parse", str(path)], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 2 and len(p.stderr.splitlines()) == 1 and "unsupported format" in p.stderr


def test_missing_file_and_bad_format_name():
    with pytest.raises(InputError) as e:
        parse("no/such/dump.txt")
    assert str(e.value) == "no/such/dump.txt: no such file"
    with pytest.raises(InputError):
        parse(GOOD, format="nft")
    p = subprocess.run([sys.executable, "-m", "workbook", "parse", "no-such-file.txt"], cwd=ROOT,
                       capture_output=True, text=True)
    assert (p.returncode, p.stderr) == (2, "nfwb parse: error: no-such-file.txt: no such file\n")
