"""Printed fix commands are pasted into root shells: names and comments from a hostile dump must reach
the command as one word each, never as shell code (issue 8 §2).

The dump below holds chain names, comments, Service names, namespaces and legacy table names made
of ``$(…)``, backticks, ``;``, quotes and an escape character. Every fix line ``nfwb check`` prints
(``--json`` and the human text) is pasted into ``bash`` whose PATH holds only stub programs that
record their argv. Then: no marker file exists, ``touch`` never ran, no other program was looked
for, and the stubs got exactly the words the dump names (expected argv written by hand below).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.realparts import need
from workbook.cli import main

# chain names (no whitespace: iptables-save cannot print one; at most 28 bytes), comments, etc.
C1, C2, C3 = "X;touch${IFS}M1", "`touch${IFS}M2`", "$(touch${IFS}M3)"
MISSING = "MISSING;touch${IFS}M8"
SVC, SEP = "KUBE-SVC-$(touch${IFS}M10)", "KUBE-SEP-`touch${IFS}M11`"
DN1, DN2 = "CNI-DN-$(touch${IFS}M12)", "CNI-DN-;touch${IFS}M13"
# comments as iptables reads them (after iptables-restore's unquoting of the save line below)
DUP = "$(touch M4) `touch M5`; touch M6 \"q\" 'x' \\ z"
GONE, SHADOW, NODEPORTS = "gone $(touch M7)", "sh $(touch M9)", "kubernetes service nodeports; $(touch M16)"
HP1 = 'dnat name: "k8s-pod-network" id: "$(touch M17)"'
ESC = "esc \x1b[2J $(touch M21)"           # an escape sequence: no command may carry it to a terminal
TABLES = ["$(touch${IFS}M19)", "`touch M20`;x"]

SAVE = f"""*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:{C1} - [0:0]
:{C2} - [0:0]
:{C3} - [0:0]
-A INPUT -m comment --comment "$(touch M4) `touch M5`; touch M6 \\"q\\" 'x' \\\\ z" -j DROP
-A INPUT -m comment --comment "$(touch M4) `touch M5`; touch M6 \\"q\\" 'x' \\\\ z" -j DROP
-A INPUT -m comment --comment "{GONE}" -j {MISSING}
-A {C1} -j ACCEPT
-A {C1} -s 10.0.0.1/32 -m comment --comment "{SHADOW}" -j DROP
-A {C2} -j RETURN
-A {C3} -j RETURN
-A OUTPUT -m comment --comment "{ESC}" -j ACCEPT
-A OUTPUT -m comment --comment "{ESC}" -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:{SVC} - [0:0]
:{SEP} - [0:0]
:CNI-HOSTPORT-DNAT - [0:0]
:{DN1} - [0:0]
:{DN2} - [0:0]
-A PREROUTING -j KUBE-SERVICES
-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment "$(touch${{IFS}}M14)/x;touch${{IFS}}M15:dns cluster IP" -m tcp --dport 53 -j {SVC}
-A KUBE-SERVICES -m comment --comment "{NODEPORTS}" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-SERVICES -d 10.96.0.1/32 -j RETURN
-A {SEP} -p tcp -m comment --comment "ns/svc" -m tcp -j DNAT --to-destination 10.244.0.5:53
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"k8s-pod-network\\" id: \\"$(touch M17)\\"" -m multiport --dports 80 -j {DN1}
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"k8s-pod-network\\" id: \\"`touch M18`\\"" -m multiport --dports 80 -j {DN2}
-A {DN1} -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.244.0.6:80
-A {DN2} -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.244.0.7:80
COMMIT
"""

#: Invocations the fixes must make, word for word (hand-written from the dump above).
EXPECTED = [
    ["iptables", "-t", "filter", "-N", MISSING],
    ["iptables", "-t", "filter", "-D", "INPUT", "-m", "comment", "--comment", GONE, "-j", MISSING],
    ["iptables", "-t", "filter", "-D", "INPUT", "-m", "comment", "--comment", DUP, "-j", "DROP"],
    ["iptables", "-t", "filter", "-D", C1, "-s", "10.0.0.1/32", "-m", "comment", "--comment", SHADOW, "-j", "DROP"],
    *[["iptables", "-t", "filter", op, c] for c in (C1, C2, C3) for op in ("-F", "-X")],
    ["iptables", "-t", "nat", "-F", SEP], ["iptables", "-t", "nat", "-X", SEP],
    ["iptables", "-t", "nat", "-F", DN1], ["iptables", "-t", "nat", "-X", DN1],
    ["iptables", "-t", "nat", "-D", "CNI-HOSTPORT-DNAT", "-p", "tcp", "-m", "comment", "--comment", HP1,
     "-m", "multiport", "--dports", "80", "-j", DN1],
    ["iptables", "-t", "nat", "-D", "KUBE-SERVICES", "-m", "comment", "--comment", NODEPORTS, "-m", "addrtype",
     "--dst-type", "LOCAL", "-j", "KUBE-NODEPORTS"],
    *[["iptables-legacy", "-t", t, op] for t in TABLES for op in ("-F", "-X")],
]
#: Every word an iptables* stub may receive: the dump's names verbatim, or plain option words.
HOSTILE = {C1, C2, C3, MISSING, SVC, SEP, DN1, DN2, DUP, GONE, SHADOW, NODEPORTS, HP1, *TABLES}
STUBS = ["iptables", "iptables-save", "iptables-legacy", "iptables-legacy-save", "iptables-nft-save", "ip6tables",
         "kubectl", "crictl", "modprobe", "lsmod", "grep", "cat", "hostname", "touch", "tee", "sed", "nft",
         "conntrack"]


def _dump(tmp: Path) -> Path:
    d = tmp / "dump"
    (d / "iptables").mkdir(parents=True)
    (d / "kernel").mkdir()
    (d / "iptables" / "iptables-save.txt").write_text(SAVE)
    (d / "iptables" / "iptables-version.txt").write_text("iptables v1.8.9 (nf_tables)\n")
    (d / "iptables" / "iptables-legacy-save.txt").write_text(
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n")
    (d / "kernel" / "ip_tables_names.txt").write_text("filter\n" + "\n".join(TABLES) + "\n")
    (d / "kernel" / "lsmod.txt").write_text("Module  Size  Used by\nnf_tables 1 0\nnft_compat 1 0\nnft_chain_nat 1 0\n")
    return d


def _stubs(tmp: Path, log: Path) -> Path:
    bin_ = tmp / "stubs"
    bin_.mkdir()
    for name in STUBS:
        body = f'#!/bin/sh\nprintf \'%s\\0\' "$#" "${{0##*/}}" "$@" >> {log}\n'
        if name == "touch":   # a real effect, so that an injected touch would leave a marker
            body += 'for f in "$@"; do : > "$f"; done\n'
        (bin_ / name).write_text(body)
        (bin_ / name).chmod(0o755)
    return bin_


def _calls(log: Path) -> list[list[str]]:
    words = log.read_bytes().split(b"\0")[:-1] if log.exists() else []
    out, k = [], 0
    while k < len(words):
        n = int(words[k])
        out.append([w.decode() for w in words[k + 1:k + 2 + n]])
        k += 2 + n
    return out


def _paste(lines: list[str], tmp: Path, name: str) -> tuple[list[list[str]], list[str]]:
    """Run the lines in bash (stubs only on PATH, /etc/modules-load.d and /root on a private tmpfs);
    return the stub calls and the commands bash could not find."""
    work = tmp / name
    work.mkdir()
    log, missing = work / "calls", work / "not-found"
    stubs = _stubs(work, log)
    script = work / "fix.sh"
    script.write_text(f"command_not_found_handle() {{ printf '%s\\n' \"$1\" >> {missing}; return 127; }}\n"
                      + "\n".join(lines) + "\n")
    q = shlex.quote
    # the fixes write /etc/modules-load.d/… and /root/…: give them empty private copies (or stop)
    inner = ("if [ -d /etc/modules-load.d ]; then mount -t tmpfs nfwb /etc/modules-load.d || exit 97; fi; "
             "mount -t tmpfs nfwb /root || exit 97; "
             f"cd {q(str(work))} && exec env -i PATH={q(str(stubs))} HOME={q(str(work))} /bin/bash {q(str(script))}")
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", inner],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode != 97, done.stderr
    markers = sorted(p.name for p in work.iterdir() if p.name.startswith("M"))
    assert markers == [], f"injected commands ran: {markers}"
    return _calls(log), (missing.read_text().split() if missing.exists() else [])


def _check_calls(calls: list[list[str]], not_found: list[str]) -> None:
    assert not_found == []                                        # nothing but the stubs was looked for
    assert [c for c in calls if c[0] == "touch"] == []            # no injected command ran
    for c in calls:
        if c[0].startswith("iptables"):
            for w in c[1:]:                                       # each word whole: a name or an option word
                assert w in HOSTILE or all(ch.isalnum() or ch in "-_./:," for ch in w), (c, w)
    for want in EXPECTED:
        assert want in calls, want


def test_every_printed_fix_reaches_the_stubs_as_the_intended_argv(tmp_path, capsys):
    need(os.geteuid() == 0 and shutil.which("unshare") is not None, "needs root and unshare (mount namespace)")
    d = _dump(tmp_path)
    main(["check", str(d), "--json"])
    doc = json.loads(capsys.readouterr().out)
    json_lines = [ln for f in doc["findings"] for ln in f["fix"]]
    main(["check", str(d)])
    human = capsys.readouterr().out.splitlines()
    text_lines, inside = [], False
    for ln in human:
        if ln.startswith("  fix ("):
            inside = True
        elif inside and ln.startswith("    "):
            text_lines.append(ln[4:])
        else:
            inside = False
    for name, lines in (("json", json_lines), ("text", text_lines)):
        calls, not_found = _paste(lines, tmp_path, name)
        _check_calls(calls, not_found)
    assert text_lines == json_lines
    # no printed line can end early in a terminal: no control characters at all
    assert all(ch >= " " for ln in json_lines for ch in ln)
    # the escape-sequence comment's duplicate gets no -D by spec; the bad namespace no kubectl line
    assert any(ln.startswith("# (no command printed: a word holds the control character U+001B") for ln in json_lines)
    assert any("(no command printed: the namespace" in ln for ln in json_lines)


@pytest.mark.parametrize("name,why", [
    ("A" * 29, "29 bytes long"), ("-x", "starts with '-'"), ("!x", "starts with '!'"),
])
def test_no_fix_for_a_chain_name_iptables_refuses(tmp_path, capsys, name, why):
    # iptables -N refuses these names (xshared.c: >= XT_EXTENSION_MAXNAMELEN (29) bytes, a leading
    # '-' or '!'), so a dump holding one was not printed by iptables-save: say so instead of a command
    p = tmp_path / "r.rules"
    p.write_text(f"*filter\n:INPUT ACCEPT [0:0]\n:{name} - [0:0]\n-A {name} -j RETURN\nCOMMIT\n")
    main(["check", str(p), "--json"])
    doc = json.loads(capsys.readouterr().out)
    fix = [ln for f in doc["findings"] if f["id"] == "unreferenced-chain" for ln in f["fix"]]
    assert fix[1:] == [f"# (no command printed: the chain name {'is 29 bytes long (iptables allows at most 28)' if len(name) > 28 else 'starts with ' + repr(name[0]) + ' (iptables refuses it)'})"] * 2
    assert why in fix[1]
