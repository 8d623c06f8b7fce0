"""Issue 8 §5: inputs that ended in exit 3 ("internal error") are one line naming file:line, exit 2."""

from __future__ import annotations

import os

import pytest

from tests.adversarial.cli_run import nfwb, refused

PACKET = ["--src", "10.0.0.1", "--dst", "10.0.0.2", "--proto", "tcp", "--dport", "80"]


def _save(tmp_path, *lines: str, table: str = "filter", chain: str = "INPUT", name: str = "rules.save"):
    """An iptables-save file whose line 3 is the first of ``lines`` (line 1 *table, 2 the chain)."""
    path = tmp_path / name
    path.write_text(f"*{table}\n:{chain} ACCEPT [0:0]\n" + "".join(ln + "\n" for ln in lines) + "COMMIT\n")
    return path


BIG = "1" + "0" * 25    # 10^25: beyond 64 bits


@pytest.mark.parametrize("command", ["parse", "check", "trace"])
def test_rule_counters_beyond_64_bits(tmp_path, command):
    path = _save(tmp_path, f"[{BIG}:0] -A INPUT -j ACCEPT")
    extra = PACKET if command == "trace" else []
    line = refused(command, str(path), *extra)
    assert f"{path}:3: bad counters" in line, line


def test_chain_counters_beyond_64_bits(tmp_path):
    path = tmp_path / "rules.save"
    path.write_text(f"*filter\n:INPUT ACCEPT [0:{BIG}]\n-A INPUT -j ACCEPT\nCOMMIT\n")
    assert f"{path}:2: bad chain counters" in refused("parse", str(path))


def test_spec_and_listing_counters_beyond_64_bits(tmp_path):
    spec = tmp_path / "rules.spec"
    spec.write_text(f"-P INPUT ACCEPT -c {BIG} 0\n-A INPUT -j ACCEPT\n")
    assert f"{spec}:1:" in refused("parse", str(spec))
    listing = tmp_path / "rules.listing"
    listing.write_text(f"Chain INPUT (policy ACCEPT {BIG} packets, 0 bytes)\n"
                       " pkts bytes target     prot opt in     out     source               destination\n"
                       f" {BIG}     0 ACCEPT     all  --  *      *       0.0.0.0/0            0.0.0.0/0\n")
    assert f"{listing}:" in refused("parse", str(listing))


def test_lsmod_size_beyond_64_bits(tmp_path):
    path = tmp_path / "lsmod.txt"
    path.write_text(f"Module                  Size  Used by\nnf_nat {BIG} 3 xt_nat\n")
    assert f"{path}:2: module size" in refused("parse", str(path))
    rules = _save(tmp_path, "-A INPUT -j ACCEPT")
    assert f"{path}:2:" in refused("check", str(rules), "--modules", str(path))


@pytest.mark.parametrize("rule", [
    "-A PREROUTING -m mark --mark 0xzz -j ACCEPT",
    "-A PREROUTING -m mark --mark 0x1/0xgg -j ACCEPT",
    "-A PREROUTING -m connmark --mark x -j ACCEPT",
    "-A PREROUTING -j MARK --set-xmark abc/0xff",
    "-A PREROUTING -j MARK --set-mark 0x1/zz",
    "-A PREROUTING -j MARK --or-mark y",
    "-A PREROUTING -j CONNMARK --save-mark --nfmask q --ctmask 0x1",
])
def test_mark_or_mask_not_a_number(tmp_path, rule):
    path = _save(tmp_path, rule, table="mangle", chain="PREROUTING")
    assert refused("trace", str(path), *PACKET).startswith(f"nfwb trace: error: {path}:3: ")


def test_probability_not_a_number(tmp_path):
    path = _save(tmp_path, "-A PREROUTING -m statistic --mode random --probability 0.5x -j ACCEPT",
                 table="nat", chain="PREROUTING")
    line = refused("trace", str(path), *PACKET)
    assert line.startswith(f"nfwb trace: error: {path}:3: ") and "0.5x" in line, line


def test_bad_address_in_a_rule_names_its_line(tmp_path):
    path = _save(tmp_path, "-A PREROUTING -s 10.0.0.9/32 -j ACCEPT", "-A PREROUTING -d 10.0.0.0/65536 -j DROP",
                 table="nat", chain="PREROUTING")
    line = refused("trace", str(path), *PACKET)
    assert line.startswith(f"nfwb trace: error: {path}:4: ") and "10.0.0.0/65536" in line, line


def test_bad_address_in_an_indexed_chain_names_its_line(tmp_path):
    # a chain long enough to be indexed by destination: the bad address is met while indexing
    rules = [f"-A PREROUTING -d 10.96.0.{i}/32 -j ACCEPT" for i in range(1, 40)] + ["-A PREROUTING -d 10.96.0.300/32 -j DROP"]
    path = _save(tmp_path, *rules, table="nat", chain="PREROUTING")
    line = refused("trace", str(path), *PACKET)
    assert line.startswith(f"nfwb trace: error: {path}:{3 + 39}: "), line


def test_binary_routes_file(tmp_path):
    rules = _save(tmp_path, "-A INPUT -j ACCEPT")
    routes = tmp_path / "routes.bin"
    routes.write_bytes(b"default via 10.0.0.1 dev eth0\n\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    line = refused("trace", str(rules), *PACKET, "--routes", str(routes))
    assert line == f"nfwb trace: error: {routes}:4: binary data (NUL byte), not a text dump"  # after two \\n
    routes.write_bytes(b"default via 10.0.0.1 dev eth0\n\xff\xfe\n")
    assert refused("trace", str(rules), *PACKET, "--routes", str(routes)).endswith(f"{routes}:2: not UTF-8 text (binary data?)")


def test_non_utf8_ssh_target(tmp_path):
    target = os.fsdecode(b"root@node-\xff\xfe")   # what Python makes of a non-UTF-8 argv word
    line = refused("collect", "--ssh", target, "-o", str(tmp_path / "out"))
    assert "is not UTF-8 text" in line and "node-" in line, line
    assert not (tmp_path / "out").exists()
    # the collector refuses it too when called directly
    from workbook.collect import parse_target
    with pytest.raises(ValueError, match="not a host name or IP address"):
        parse_target(target)


@pytest.mark.parametrize("command", ["parse", "check", "report", "trace"])
def test_non_utf8_file_name(tmp_path, command):
    name = os.fsdecode(b"rules-\xff.save")
    (tmp_path / "good.save").write_text("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n")
    os.symlink(tmp_path / "good.save", os.path.join(os.fsencode(tmp_path), b"rules-\xff.save"))
    extra = {"report": ["-o", str(tmp_path / "r.html")], "trace": PACKET}.get(command, [])
    assert "is not UTF-8 text" in refused(command, str(tmp_path / name), *extra)


@pytest.mark.parametrize("argv", [
    ["trace", "x", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--proto", "tcp", "--dport", "99999"],
    ["trace", "x", "--src", "10.0.0.1", "--dst", "nope", "--proto", "tcp"],
    ["trace", "x", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--proto", "gre"],
    ["parse", "x", "--format", "pf"],
    ["parse"],
    ["check", "x", "--max-rows", "many"],
    ["check", "x", "--no-such-option"],
    ["collect", "--local", "--timeout", "soon"],
    ["nosuchcommand"],
    ["parse", "x", "--max-input", "lots"],
])
def test_argument_errors_are_one_line(argv):
    line = refused(*argv)
    assert line.startswith("nfwb") and "error:" in line, line


def test_a_10mb_token_is_shown_cut(tmp_path):
    path = tmp_path / "rules.save"
    path.write_text("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT " + "x" * (10 << 20) + "\nCOMMIT\n")
    line = refused("parse", str(path))
    assert line.startswith(f"nfwb parse: error: {path}:3: "), line[:200]


def test_a_newline_in_a_value_stays_one_line(tmp_path):
    line = refused("parse", str(tmp_path / "a\nb\u2028c.txt"))
    assert "\\n" in line and "\\u2028" in line, line


def test_help_and_version_exit_0():
    assert nfwb("--version")[0] == 0
    rc, out, _ = nfwb("trace", "--help")
    assert rc == 0 and "--src" in out


@pytest.mark.parametrize("rule", ["-A PREROUTING -p tcp -j DNAT --to-destination",
                                  "-A PREROUTING -p tcp -j SNAT --to-source"])
def test_nat_option_without_its_value(tmp_path, rule):
    path = _save(tmp_path, rule, table="nat", chain="PREROUTING")
    assert refused("trace", str(path), *PACKET) == (f"nfwb trace: error: {path}:3: cannot read this rule "
                                                    "(an option without its value)")


def test_nft_rule_with_a_word_for_a_number(tmp_path):
    # nft text whose counter has a word where its byte count goes: one line naming the rule's line
    path = tmp_path / "ruleset.nft"
    path.write_text("table ip nat {\n\tchain POSTROUTING {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
                    "\t\tcounter packets 1 bytes --to-destination jump KUBE-POSTROUTING\n\t}\n}\n")
    line = refused("trace", str(path), *PACKET)
    assert line.startswith(f"nfwb trace: error: {path}:4: cannot read "), line
