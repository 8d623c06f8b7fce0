"""Each notebook's text source (jupytext py:percent) and its .ipynb say the same thing; the .ipynb
is stored clean (no outputs, the python3 kernelspec), and the retired generator stays retired."""

from __future__ import annotations

import json

import jupytext
import nbformat
import pytest

from tests.notebooks.runner import NB_DIR, NOTEBOOKS
from tests.realparts import ROOT

FORMAT = "py:percent"


def _cells(nb) -> list[tuple[str, str, list[str]]]:
    return [(c.cell_type, c.source, list(c.metadata.get("tags", []))) for c in nb.cells]


def test_every_notebook_has_one_source_and_every_source_one_notebook():
    sources = {p.relative_to(NB_DIR).with_suffix("").as_posix()
               for pattern in ("[0-9][0-9]-*.py", "ko/[0-9][0-9]-*.py") for p in NB_DIR.glob(pattern)}
    assert sources == set(NOTEBOOKS)
    assert len([n for n in NOTEBOOKS if "/" not in n]) == 9


def test_the_pairing_is_configured_for_both_editions():
    config = (NB_DIR / "jupytext.toml").read_text()
    assert 'formats = "ipynb,py:percent"' in config
    # jupytext looks for jupytext.toml in the notebook's folder and then its parents: ko/ is covered
    assert not (NB_DIR / "ko" / "jupytext.toml").exists() or \
        'formats = "ipynb,py:percent"' in (NB_DIR / "ko" / "jupytext.toml").read_text()


def test_the_generator_and_its_placeholders_are_gone():
    assert not (NB_DIR / "build_notebooks.py").exists()
    for name in NOTEBOOKS:
        text = (NB_DIR / f"{name}.py").read_text()
        assert "🚧" not in text and "needs(" not in text, name


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_source_and_notebook_agree(name):
    py = (NB_DIR / f"{name}.py").read_text()
    ipynb = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
    from_py = jupytext.reads(py, fmt=FORMAT)
    # the same cells, in the same order, with the same tags
    assert _cells(from_py) == _cells(ipynb), f"{name}: run jupytext --sync (see notebooks/README.md)"
    # and the round trip is exact: the .ipynb written back as text is the source, byte for byte
    assert jupytext.writes(ipynb, fmt=FORMAT) == py, f"{name}: run jupytext --sync (see notebooks/README.md)"
    # the source is plain Python: it compiles (cell magics would not, and none are used)
    compile(py, f"{name}.py", "exec")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_stored_clean_with_a_kernelspec(name):
    raw = json.loads((NB_DIR / f"{name}.ipynb").read_text())
    nb = nbformat.from_dict(raw)
    nbformat.validate(nb)
    # a kernelspec in every notebook: JupyterLab starts python3 without asking (no kernel dialog)
    assert raw["metadata"]["kernelspec"]["name"] == "python3"
    assert raw["metadata"]["kernelspec"]["language"] == "python"
    code = [c for c in raw["cells"] if c["cell_type"] == "code"]
    assert code
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code), f"{name} holds outputs"
    assert all(not c.get("attachments") for c in raw["cells"])
    # the shared set-up is an import, not a pasted block
    setup = [c for c in code if "DATASETS = setup()" in "".join(c["source"])]
    assert len(setup) == 1 and "from workbook.lessons.lesson import" in "".join(setup[0]["source"])
    assert code.index(setup[0]) == 0, "the set-up is the first code cell"
    assert not any("sys.path.insert" in "".join(c["source"]) for c in code)


def test_binder_and_extras_install_jupytext():
    import tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for extra in ("test", "notebooks"):
        assert any(d.startswith("jupytext") for d in project["optional-dependencies"][extra]), extra
    req = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    assert any(ln.strip().startswith("jupytext") for ln in req)
