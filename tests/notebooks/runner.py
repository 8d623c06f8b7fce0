"""Execute the workbook notebooks headless with nbclient and list every error they show.

Used by the tests, and on its own (``python tests/notebooks/runner.py [names...]``) from any
venv: it runs each notebook with that venv's ``python3`` kernel, cwd = the notebook's folder.
A notebook is named by its path under ``notebooks/`` without ``.ipynb``: ``03-service-dnat-path``,
``ko/03-service-dnat-path`` (the Korean edition, when there is one).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NB_DIR = Path(os.environ.get("NFWB_NOTEBOOK_DIR") or Path(__file__).resolve().parents[2] / "notebooks")
NOTEBOOKS = sorted(p.relative_to(NB_DIR).with_suffix("").as_posix()
                   for pattern in ("[0-9][0-9]-*.ipynb", "ko/[0-9][0-9]-*.ipynb") for p in NB_DIR.glob(pattern))


def errors_in(nb) -> list[str]:
    """Every error a reader would see: error outputs and tracebacks written to stderr."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"cell {i}: {out.get('ename')}: {out.get('evalue')}")
            elif out.get("output_type") == "stream" and out.get("name") == "stderr":
                text = out.get("text", "")
                if "Traceback" in text or "Error" in text.split(":", 1)[0]:
                    found.append(f"cell {i}: stderr: {text[:300]}")
    return found


def run(name: str, timeout: int = 300) -> tuple[object, float, list[str]]:
    """Execute one notebook; returns (executed notebook, seconds, errors)."""
    path = NB_DIR / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start, errors_in(nb)


def main(argv: list[str]) -> int:
    results = {}
    for name in argv or NOTEBOOKS:
        nb, secs, errs = run(name)
        if os.environ.get("NFWB_SAVE_EXECUTED"):  # keep the executed copy for a look (never into notebooks/)
            out = Path(os.environ["NFWB_SAVE_EXECUTED"])
            out.mkdir(parents=True, exist_ok=True)
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, out / f"{name}.ipynb")
        results[name] = {"seconds": round(secs, 2), "errors": errs}
    print(json.dumps(results))
    return 1 if any(r["errors"] for r in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
