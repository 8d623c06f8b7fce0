"""``nfwb report`` on chain names that break the DOT language, and on a jump to a chain that does
not exist (issue 8 §5): exit 0 with every table's diagram drawn and every name shown as it is, or
exit 2 with one line; never an internal error. The names are hostile input: DOT ids and labels,
plain and HTML, are quoted by workbook.view.draw."""

from __future__ import annotations

import html
import subprocess
import sys

import pytest

from workbook.model import Chain, Rule, Ruleset, Table
from workbook.view.report import render_report

# names iptables-save can print (no whitespace, no quote: its parser would split them) …
SAVEABLE = ["back\\slash", "tail\\", "x\\y\\", "br{ace}", "a<b>&c", "<html>", "nön-ascii-链", "semi;colon",
            "[sq]", "a:b:c", "-dash", "node", "graph", "edge->x", "//c", "/*c*/", "#h", "%3A", "&amp;"]
# … and names only a forged dump holds (a quote, a newline, a tab, an escape)
FORGED = ['q"uote', 'x\\"y', "new\nline", "tab\tbed", "esc\x1b[2J", '"', "\\"]
MISSING = ["GONE\\", "GO{NE}<x>", "KUBE-SVC-MISSING"]


def _save_text() -> str:
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
    lines += [f":{n} - [0:0]" for n in SAVEABLE]
    lines += [f"-A INPUT -j {n}" for n in SAVEABLE + MISSING]
    lines += [f"-A {SAVEABLE[0]} -g {n}" for n in SAVEABLE[1:4]]
    return "\n".join(lines + ["COMMIT", ""])


def _shown(name: str, page: str) -> bool:
    """Is ``name`` a text of the page (graphviz writes '-' as &#45;, '<' as &lt; …)?"""
    return name in html.unescape(page)


def test_report_of_a_file_with_hostile_names_and_missing_chains(tmp_path):
    rules = tmp_path / "weird.rules"
    rules.write_text(_save_text())
    out = tmp_path / "r.html"
    done = subprocess.run([sys.executable, "-m", "workbook", "report", str(rules), "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    chains = page[page.index('id="chains"'):page.index('id="modules"')]
    assert chains.count("<svg") == 1 and "diagram not drawn" not in chains
    for n in SAVEABLE + MISSING:
        assert _shown(n, chains), n
    assert chains.count("missing chain") >= len(MISSING)


def _forged() -> Ruleset:
    names = SAVEABLE + FORGED
    chains = {"INPUT": Chain("filter", "INPUT", "ACCEPT")}
    for k, n in enumerate(names + MISSING, 1):
        chains["INPUT"].rules.append(Rule("filter", "INPUT", k, target=n, goto=k % 2 == 0, origin=f"forged:{k}"))
    for n in names:
        chains[n] = Chain("filter", n, None, rules=[Rule("filter", n, 1, target="ACCEPT")])
    return Ruleset(tables={"filter": Table("filter", chains)}, source='forged "dump"\\')


def test_report_of_a_forged_ruleset_draws_every_name():
    page = render_report(_forged())
    chains = page[page.index('id="chains"'):page.index('id="modules"')]
    assert chains.count("<svg") == 1 and "diagram not drawn" not in chains
    for n in SAVEABLE + MISSING + [n for n in FORGED if n.isprintable()]:
        assert _shown(n, chains), n
    # control characters are drawn as escapes, never raw
    for raw, shown in (("new\nline", "new\\x0aline"), ("tab\tbed", "tab\\x09bed"), ("esc\x1b[2J", "esc\\x1b[2J")):
        assert _shown(shown, chains) and not _shown(raw, chains)


@pytest.mark.parametrize("table", ['fil"ter', "fil\\", "<t>"])
def test_a_hostile_table_name_is_drawn_too(table):
    rs = _forged()
    t = rs.tables.pop("filter")
    t.name = table
    rs.tables[table] = t
    page = render_report(rs)
    assert page.count("<svg") == 1 and _shown(table, page)
