"""One standalone HTML file for a dump: findings, services, chain diagrams (inline SVG), modules; opens offline."""

from __future__ import annotations

import datetime as _dt
import html
import re
from pathlib import Path

import pandas as pd

from ..model import Ruleset

__all__ = ["write_report", "render_report"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1f2328;max-width:1400px}
h1{font-size:1.5em}h2{border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:32px}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
pre.nfwb-fix{background:#f6f8fa;border:1px solid #d0d7de;padding:8px;overflow-x:auto;white-space:pre}
table{border-collapse:collapse;font-size:12px;margin:6px 0}
th,td{border:1px solid #d0d7de;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
.summary span{display:inline-block;margin-right:12px;padding:2px 8px;border-radius:10px;background:#eee}
.sev-error{background:#ffebe9!important}.sev-warning{background:#fff8c5!important}.sev-info{background:#ddf4ff!important}
.diagram{overflow:auto;border:1px solid #d0d7de;padding:6px;margin:8px 0;max-height:900px}
.diagram svg{max-width:none}
details,.nfwb-finding>div{overflow-x:auto}
nav a{margin-right:14px}
small.muted{color:#57606a}
"""


def _esc(v) -> str:
    return html.escape("" if v is None else str(v), quote=False)


def _table(df: pd.DataFrame, max_rows: int = 500) -> str:
    if df is None or not len(df):
        return "<p><small class=\"muted\">(none)</small></p>"
    more = f"<p><small class=\"muted\">… {len(df) - max_rows} more rows not shown</small></p>" if len(df) > max_rows else ""
    return df.head(max_rows).to_html(index=False, na_rep="", border=0, escape=True) + more


# -- chains ----------------------------------------------------------------------------------------------

def _inline(svg: str) -> str:
    """SVG text from :func:`workbook.view.draw.to_svg` made fit to stand inside an HTML page."""
    svg = re.sub(r"<\?xml[^>]*\?>", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>", "", svg)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    return svg.strip()


def _diagrams(ruleset: Ruleset) -> list[tuple[str, str]]:
    """(table, inline SVG of :func:`workbook.view.draw.draw_chains`) for each table."""
    import graphviz

    from .draw import draw_chains, to_svg
    out = []
    for table in ruleset.tables:
        try:
            svg = _inline(to_svg(draw_chains(ruleset, table)))
        except graphviz.ExecutableNotFound as e:   # no `dot` here: the rest of the report still stands
            svg = f"<p><small class=\"muted\">diagram not drawn: {_esc(e)}</small></p>"
        out.append((table, svg))
    return out


# -- modules ----------------------------------------------------------------------------------------

_NETFILTER = re.compile(r"^(nf_|nft_|xt_|x_tables|ip_tables|ip6_tables|iptable_|ip6table_|ipt_|ip6t_|ebt|ebtable|"
                        r"br_netfilter|ip_vs|nfnetlink|ip_set|arptable|veth|bridge|overlay|vxlan)")


def _modules_frame(ctx) -> pd.DataFrame | None:
    if ctx.modules is None:
        return None
    rows = [{"module": m.name, "size": m.size, "used_by_count": m.used_by_count, "used_by": ", ".join(m.used_by),
             "netfilter": bool(_NETFILTER.match(m.name)), "origin": m.origin} for m in ctx.modules.values()]
    df = pd.DataFrame(rows, columns=["module", "size", "used_by_count", "used_by", "netfilter", "origin"])
    return df.sort_values(["netfilter", "module"], ascending=[False, True], kind="stable")


# -- page -------------------------------------------------------------------------------------------

def render_report(target, *, title: str | None = None, findings=None) -> str:
    """The report for a NodeDump or Ruleset as one HTML string (no external references).

    ``findings``: what :func:`workbook.checks.check` returned for ``target``, when the caller
    has it already (otherwise the checks are run here).
    """
    from ..checks import check
    from ..checks.context import Context
    from ..checks.finding import SEVERITIES
    from ..kube import services
    ctx = Context.of(target)
    if findings is None:
        findings = check(target)
    main = getattr(target, "ruleset", None) if not isinstance(target, Ruleset) else target
    if main is None:
        main = next(iter(ctx.all_rulesets.values()), Ruleset())
    source = str(getattr(target, "path", None) or main.source)
    title = title or f"netfilter-workbook report: {source}"
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_esc(title)}</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>{_esc(title)}</h1>",
             f"<p><small class=\"muted\">generated {now} by netfilter-workbook; the fix commands below are "
             f"printed only, nothing was run.</small></p>",
             "<nav><a href=\"#findings\">Findings</a><a href=\"#services\">Services</a>"
             "<a href=\"#chains\">Chains</a><a href=\"#modules\">Modules</a><a href=\"#rulesets\">Rulesets</a></nav>"]
    counts = findings.counts()
    parts.append("<h2 id=\"findings\">Findings</h2><p class=\"summary\">"
                 + "".join(f"<span class=\"sev-{s}\">{counts[s]} {s}</span>" for s in SEVERITIES) + "</p>")
    if findings:
        parts.append(findings.frame[["severity", "id", "title", "owner", "evidence_rows"]]
                     .to_html(index=False, na_rep="", border=0, escape=True))
        parts.extend(f._repr_html_() for f in findings)
    else:
        parts.append("<p>No findings.</p>")
    svc = services(main)
    parts.append("<h2 id=\"services\">Services</h2>")
    parts.append(_table(svc) if len(svc) else "<p><small class=\"muted\">No kube-proxy KUBE-SERVICES chain in this dump.</small></p>")
    parts.append("<h2 id=\"chains\">Chains</h2>")
    for table, svg in _diagrams(main):
        parts.append(f"<h3>table {_esc(table)}</h3><div class=\"diagram\">{svg}</div>")
    parts.append("<h2 id=\"modules\">Kernel modules</h2>")
    mf = _modules_frame(ctx)
    parts.append(_table(mf) if mf is not None else "<p><small class=\"muted\">No lsmod in this dump.</small></p>")
    parts.append("<h2 id=\"rulesets\">Rulesets</h2>")
    rows = []
    for name, rs in ctx.all_rulesets.items():
        for t in rs.tables.values():
            rows.append({"ruleset": name, "source": rs.source, "table": t.name, "chains": len(t.chains),
                         "rules": sum(len(c.rules) for c in t.chains.values())})
    parts.append(_table(pd.DataFrame(rows, columns=["ruleset", "source", "table", "chains", "rules"])))
    problems = [str(p) for rs in ctx.all_rulesets.values() for p in rs.problems] + \
               [str(p) for p in (getattr(target, "problems", None) or []) if not isinstance(target, Ruleset)]
    notes = [n for rs in ctx.all_rulesets.values() for n in rs.notes]
    if problems or notes:
        parts.append("<h3>Problems and notes while reading the dump</h3><ul>"
                     + "".join(f"<li><code>{_esc(p)}</code></li>" for p in (problems + notes)[:200]) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(target, path: str | Path, *, title: str | None = None, findings=None) -> Path:
    """Write the standalone HTML report for ``target`` (NodeDump, Ruleset, or a path to either);
    ``findings`` as in :func:`render_report`.

    >>> from workbook.parse import parse_save
    >>> import tempfile, os
    >>> rs = parse_save('*nat\\n:PREROUTING ACCEPT [0:0]\\n-A PREROUTING -j ACCEPT\\nCOMMIT\\n')
    >>> p = write_report(rs, os.path.join(tempfile.mkdtemp(), "r.html"))
    >>> "<svg" in p.read_text()
    True
    """
    if isinstance(target, (str, Path)):
        from ..target import open_target
        target = open_target(target).subject
    out = Path(path)
    out.write_text(render_report(target, title=title, findings=findings), encoding="utf-8")
    return out
