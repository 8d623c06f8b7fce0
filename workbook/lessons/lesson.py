"""What every notebook starts with: pandas set up for rules, and where the datasets and recordings are."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["setup", "find_folder", "tidy", "Folded"]


def find_folder(name: str, marker: str, start: Path | None = None) -> Path:
    """The folder ``name`` that holds ``marker``, searched from ``start`` (default: the working
    directory) upwards, then beside this package (an editable install). A notebook runs with its
    own folder as working directory: ``notebooks/`` or ``notebooks/ko/`` of a checkout.

    >>> find_folder("datasets", "README.md").joinpath("eks-node").is_dir()
    True
    """
    here = (start or Path.cwd()).resolve()
    for base in (here, *here.parents, Path(__file__).resolve().parents[2]):
        for candidate in (base / name, base / "notebooks" / name):
            if (candidate / marker).exists():
                return candidate
    raise FileNotFoundError(f"no {name}/ folder (with {marker}) above {here}: open the notebooks "
                            f"from a checkout of netfilter-workbook")


def setup() -> Path:
    """Show whole rules in pandas tables and return the ``datasets/`` folder of the checkout."""
    import pandas as pd

    pd.set_option("display.max_colwidth", 160)  # show whole rules, not "-A INPUT -m conn..."
    return find_folder("datasets", "README.md")


def tidy(frame: "pd.DataFrame") -> "pd.DataFrame":
    """A copy of ``frame`` for a learner to read: whole-number floats as integers, lists as
    "a, b", missing values blank (no NaN, None, 1.0 or ['a', 'b'] on screen).

    >>> import pandas as pd
    >>> tidy(pd.DataFrame({"position": [1.0, None], "why": [None, "no"], "eps": [["a", "b"], []]})).values.tolist()
    [[1, '', 'a, b'], ['', 'no', '']]
    """
    import pandas as pd

    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype.kind == "f" and s.dropna().map(float.is_integer).all():
            s = s.astype("Int64")
        s = s.map(lambda v: ", ".join(_plain(x) for x in v) if isinstance(v, (list, tuple, set, frozenset)) else v)
        out[col] = s.astype(object).where(s.notna(), "")
    return out


def _plain(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class Folded:
    """A long text shown as its important lines, with the whole text folded below them
    (an HTML ``<details>`` in Jupyter; plain text elsewhere shows the lines and a count).

    >>> Folded("a\\nerror: boom\\nb", "error:")
    error: boom
    (2 more lines folded)
    """

    def __init__(self, text: str, contains: str, summary: str = "the whole log") -> None:
        self.lines = text.splitlines()
        self.shown = [ln for ln in self.lines if contains in ln]
        self.summary = summary

    def __repr__(self) -> str:
        return "\n".join(self.shown + [f"({len(self.lines) - len(self.shown)} more lines folded)"])

    def _repr_html_(self) -> str:
        import html

        shown = html.escape("\n".join(self.shown))
        whole = html.escape("\n".join(self.lines))
        return (f"<pre style='color:#c5221f;white-space:pre-wrap'>{shown}</pre>"
                f"<details><summary>{html.escape(self.summary)} ({len(self.lines)} lines)</summary>"
                f"<pre style='white-space:pre-wrap'>{whole}</pre></details>")
