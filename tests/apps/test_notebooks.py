"""Issue 7, acceptance 2: every notebook in notebooks/ runs top to bottom against a test store."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO, require_module

import workbench as wb

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def _fill(root: Path) -> None:
    for i in range(3):
        with wb.init(project="nb", config={"lr": 0.01 * (i + 1), "depth": i}, root=root) as run:
            for step in range(30):
                run.log({"loss": 1.0 / (step + 1 + i), "acc": step / 30}, step=step)


def test_there_are_notebooks() -> None:
    assert {p.stem for p in NOTEBOOKS} >= {"dashboard", "compare", "launch", "sync", "quickstart"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = require_module("nbformat")
    nbclient = require_module("nbclient")
    require_module("ipykernel")
    _fill(root)
    monkeypatch.setenv("WORKBENCH_ROOT", str(root))
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
              if out.get("output_type") == "error"]
    assert not errors
    # the component cells show widgets, not text: each displays an ipywidgets view
    shown = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
             if "application/vnd.jupyter.widget-view+json" in out.get("data", {})]
    assert shown, f"{path.name} displayed no widget"
