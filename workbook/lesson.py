"""What every notebook starts with: pandas set up for rules, and where the datasets and recordings are."""

from __future__ import annotations

from pathlib import Path

__all__ = ["setup", "find_folder"]


def find_folder(name: str, marker: str, start: Path | None = None) -> Path:
    """The folder ``name`` that holds ``marker``, searched from ``start`` (default: the working
    directory) upwards, then beside this package (an editable install). A notebook runs with its
    own folder as working directory: ``notebooks/`` or ``notebooks/ko/`` of a checkout.

    >>> find_folder("datasets", "README.md").joinpath("eks-node").is_dir()
    True
    """
    here = (start or Path.cwd()).resolve()
    for base in (here, *here.parents, Path(__file__).resolve().parent.parent):
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
