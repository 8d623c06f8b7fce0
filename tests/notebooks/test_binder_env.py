"""The Binder environment: binder/ files are consistent, and installing them into a FRESH venv is
enough to run every notebook (as repo2docker would: pip runs from the repository root)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import venv

import pytest

from tests.notebooks.runner import NOTEBOOKS
from tests.realparts import ROOT, need

BINDER = ROOT / "binder"


def _requirement_lines() -> list[str]:
    return [ln.split("#", 1)[0].strip() for ln in (BINDER / "requirements.txt").read_text().splitlines()
            if ln.split("#", 1)[0].strip()]


def test_binder_files_match_the_project():
    lines = _requirement_lines()
    # repo2docker ignores the root pyproject.toml when binder/ exists, so "." must be listed
    assert "." in lines
    names = {re.split(r"[<>=!~\[ ]", ln, 1)[0].lower() for ln in lines}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {re.split(r"[<>=!~\[ ]", d, 1)[0].lower() for d in project["dependencies"]}
    assert runtime <= names, f"runtime dependencies missing from binder/requirements.txt: {runtime - names}"
    assert {"jupyterlab", "ipykernel", "jupytext"} <= names
    apt = [ln.strip() for ln in (BINDER / "apt.txt").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    # dot draws every diagram; fonts-noto-cjk has the Hangul of workbook.view.draw.FONT ("Noto Sans CJK KR")
    assert apt == ["graphviz", "fonts-noto-cjk"]
    # runtime.txt must satisfy requires-python (">=3.11"); repo2docker's default would be 3.10
    rt = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.(\d+)", rt) and int(rt.split(".")[1]) >= 11, rt
    assert project["requires-python"] == ">=3.11"
    # a Dockerfile or environment.yml would make repo2docker ignore requirements.txt and apt.txt
    assert not any((BINDER / f).exists() for f in ("Dockerfile", "environment.yml", "default.nix"))


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_fresh_venv_from_binder_runs_every_notebook(tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    py = str(env_dir / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH")}
    env["NFWB_NOTEBOOK_LAB"] = "0"  # notebook 07 shows its recorded run: the live lab is tested elsewhere
    pip = subprocess.run([py, "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=1200)
    need(pip.returncode == 0, f"pip could not install binder/requirements.txt (no package index?): "
                              f"{pip.stderr.strip().splitlines()[-1:]}")
    # the workbook the kernel will import is the installed copy, not this checkout
    where = subprocess.run([py, "-c", "import workbook, sys; print(workbook.__file__)"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(env_dir)), where
    # run the notebooks with that venv's own python3 kernel (the runner is copied out of the checkout
    # so that nothing of the checkout lands on sys.path)
    runner = tmp_path / "runner.py"
    runner.write_text((ROOT / "tests" / "notebooks" / "runner.py").read_text())
    env["NFWB_NOTEBOOK_DIR"] = str(ROOT / "notebooks")
    res = subprocess.run([py, str(runner)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert res.stdout.strip(), res.stderr[-2000:]
    results = json.loads(res.stdout.strip().splitlines()[-1])
    assert sorted(results) == NOTEBOOKS  # both editions: notebooks/ and notebooks/ko/
    bad = {k: v["errors"] for k, v in results.items() if v["errors"]}
    assert not bad, bad
    total = sum(v["seconds"] for v in results.values())
    print(f"\nfresh Binder venv: {len(results)} notebooks in {total:.1f} s")
