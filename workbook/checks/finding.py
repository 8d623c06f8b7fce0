"""Finding (one problem, its evidence and fix commands) and Findings (a sorted list of them)."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Iterable

from ._lazy import pd

from ..i18n import _, localized, ngettext
from ..shell_command import refusal, shell_note, terminal_safe

__all__ = ["Finding", "Findings", "SEVERITIES", "severity_label"]

#: Severities from worst to mildest; Findings sort in this order.
SEVERITIES: tuple[str, ...] = ("error", "warning", "info")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_COLOURS = {"error": "#b00020", "warning": "#9a6700", "info": "#0b5394"}


@dataclass(eq=False)
class Finding:
    """One problem found in a dump.

    ``id`` is stable (``"duplicate-rule"``), ``severity`` one of error/warning/info, ``evidence``
    a frame of the rules or modules involved (with an ``origin`` file:line column), ``fix`` the
    commands to run by hand (printed, never run; lines starting with ``#`` are explanations).

    >>> f = Finding("duplicate-rule", "warning", "Duplicate rule in nat PREROUTING", "Why.",
    ...             pd.DataFrame({"spec": ["-A X -j Y"]}), ["iptables -t nat -D X -j Y"], "Docker")
    >>> f.severity, f.fix[0]
    ('warning', 'iptables -t nat -D X -j Y')
    >>> Finding("x", "fatal", "t", "e", pd.DataFrame(), [])
    Traceback (most recent call last):
    ...
    ValueError: severity must be one of error, warning, info (got 'fatal')
    """

    id: str
    severity: str
    title: str
    explanation: str
    evidence: pd.DataFrame = field(default_factory=lambda: pd.DataFrame())
    fix: list[str] = field(default_factory=list)
    owner: str | None = None
    table: str | None = None
    chain: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in _RANK:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)} (got {self.severity!r})")
        # a printed fix line is pasted into a root shell: it must stay one line (checks build
        # commands with workbook.shell_command; this is the net under them)
        self.fix = [ln if ln.startswith("#") or shell_note(ln) == "# " + ln else
                    refusal("the command held a control character") for ln in self.fix]
        self.fix = [shell_note(ln) if ln.startswith("#") else ln for ln in self.fix]

    # -- text ---------------------------------------------------------------------------
    def text(self, max_rows: int = 20) -> str:
        """A plain-text block: severity, title, explanation, evidence and fix commands."""
        lines = [f"[{severity_label(self.severity)}] {self.id}: {localized(self.title)}"]
        if self.owner:
            lines.append(f"  {_('owner')}: {self.owner}")
        lines.extend("  " + ln for ln in _wrap(localized(self.explanation)))
        if len(self.evidence):
            lines.append(f"  {_('evidence')}:")
            ev = self.evidence.head(max_rows)
            with pd.option_context("display.width", 250, "display.max_colwidth", 160):
                body = ev.to_string(index=False)
            lines.extend("    " + ln for ln in body.splitlines())
            if len(self.evidence) > max_rows:
                lines.append("    … " + _("{n} more row(s)").format(n=len(self.evidence) - max_rows))
        if self.fix:
            lines.append("  " + _("fix (run by hand after checking; nfwb never runs these):"))
            lines.extend("    " + ln for ln in self.fix)
        return terminal_safe("\n".join(lines))   # dump text (names, comments) must not drive the terminal

    def to_dict(self) -> dict:
        """A JSON-ready dict (evidence as a list of records), always in English."""
        return {"id": self.id, "severity": self.severity, "title": str(self.title),
                "explanation": str(self.explanation), "owner": self.owner, "table": self.table,
                "chain": self.chain, "evidence": _records(self.evidence), "fix": list(self.fix)}

    def __str__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        colour = _COLOURS[self.severity]
        ev = ""
        if len(self.evidence):
            rows = ngettext("{n} row", "{n} rows", len(self.evidence)).format(n=len(self.evidence))
            ev = (f"<details open><summary>{html.escape(_('evidence'))} ({html.escape(rows)})</summary>"
                  + self.evidence.head(200).to_html(index=False, na_rep="", escape=True, border=0,
                                                    classes="nfwb-evidence") + "</details>")
        fix = ""
        if self.fix:
            fix = (f"<div><b>{html.escape(_('Fix'))}</b> <small>{html.escape(_('(printed, never run)'))}</small>"
                   "<pre class=\"nfwb-fix\">"
                   + html.escape("\n".join(self.fix)) + "</pre></div>")
        owner = (f" <small>{html.escape(_('owner'))}: <b>{html.escape(self.owner)}</b></small>"
                 if self.owner else "")
        return (f"<div class=\"nfwb-finding nfwb-{self.severity}\" style=\"border-left:4px solid {colour};"
                "padding:4px 10px;margin:8px 0\">"
                f"<div><span style=\"color:{colour};font-weight:bold\">{severity_label(self.severity)}</span> "
                f"<code>{html.escape(self.id)}</code> <b>{html.escape(localized(self.title))}</b>{owner}</div>"
                f"<p>{html.escape(localized(self.explanation))}</p>{ev}{fix}</div>")


class Findings(list):
    """A list of :class:`Finding`, worst first (error, warning, info), stable within a severity.

    >>> fs = Findings([Finding("b", "info", "I", "", pd.DataFrame(), []),
    ...                Finding("a", "error", "E", "", pd.DataFrame(), [])])
    >>> [f.id for f in fs], fs.has_errors
    (['a', 'b'], True)
    >>> fs.frame[["id", "severity"]].values.tolist()
    [['a', 'error'], ['b', 'info']]
    """

    FRAME_COLUMNS = ["id", "severity", "title", "owner", "table", "chain", "evidence_rows", "fix"]

    def __init__(self, items: Iterable[Finding] = ()):
        super().__init__(sorted(items, key=lambda f: _RANK[f.severity]))

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self)

    def by_id(self, id: str) -> "Findings":
        """Only the findings with this id."""
        return Findings(f for f in self if f.id == id)

    def at_least(self, severity: str) -> "Findings":
        """Only findings at least as bad as ``severity`` (``"warning"`` keeps errors and warnings)."""
        rank = _RANK[severity]
        return Findings(f for f in self if _RANK[f.severity] <= rank)

    @property
    def frame(self) -> pd.DataFrame:
        """One row per finding: :attr:`FRAME_COLUMNS` (titles in the current language)."""
        rows = [(f.id, f.severity, localized(f.title), f.owner, f.table, f.chain, len(f.evidence), "\n".join(f.fix))
                for f in self]
        return pd.DataFrame(rows, columns=self.FRAME_COLUMNS)

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for f in self if f.severity == s) for s in SEVERITIES}

    def summary(self) -> str:
        """``3 finding(s): 1 error, 2 warning, 0 info``, in the current language."""
        c = self.counts()
        return _("{n} finding(s): {error} error, {warning} warning, {info} info").format(n=len(self), **c)

    def text(self, max_rows: int = 20) -> str:
        if not self:
            return _("No findings.")
        return self.summary() + "\n\n" + "\n\n".join(f.text(max_rows) for f in self)

    def to_json(self, **kw) -> str:
        return json.dumps({"summary": self.counts(), "findings": [f.to_dict() for f in self]}, **kw)

    def __repr__(self) -> str:
        return f"<Findings {self.summary()}>"

    def _repr_html_(self) -> str:
        if not self:
            return f"<div><b>{html.escape(_('No findings.'))}</b></div>"
        return (f"<div class=\"nfwb-findings\"><p><b>{html.escape(self.summary())}</b></p>"
                + "".join(f._repr_html_() for f in self) + "</div>")


def severity_label(severity: str) -> str:
    """``ERROR``/``WARNING``/``INFO`` in the current language (the id stays ``error``…)."""
    return {"error": _("ERROR"), "warning": _("WARNING"), "info": _("INFO")}[severity]


def _records(df: pd.DataFrame) -> list[dict]:
    if df is None or not len(df):
        return []
    return json.loads(df.to_json(orient="records", default_handler=str))


def _wrap(text: str, width: int = 100) -> list[str]:
    """Lines of at most ``width`` terminal columns (Hangul and other wide characters count two).

    >>> _wrap("가나 다라 마바", 6)
    ['가나', '다라', '마바']
    """
    import textwrap
    out: list[str] = []
    for para in text.split("\n"):
        if para.isascii():
            out.extend(textwrap.wrap(para, width) or [""])
            continue
        line, cols = "", 0
        for word in para.split():
            w = _columns(word)
            if line and cols + 1 + w > width:
                out.append(line)
                line, cols = "", 0
            line, cols = (f"{line} {word}", cols + 1 + w) if line else (word, w)
        out.append(line)
    return out


def _columns(text: str) -> int:
    import unicodedata
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
