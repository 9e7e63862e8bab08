"""``%load_ext workbench`` and the ``%wb`` magic in a real kernel (nbclient), against a test store (issue 7)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import require_module

import workbench as wb

WIDGET = "application/vnd.jupyter.widget-view+json"


def _fill(root: Path) -> list[str]:
    ids = []
    for i in range(3):
        run = wb.init(project="magic", name=f"run-{i}", config={"lr": 0.1 * (i + 1)}, root=root)
        for step in range(10):
            run.log({"loss": 1.0 / (step + 1 + i), "acc": step / 10}, step=step)
        run.finish()
        ids.append(run.id)
    return ids


def _execute(cells: list[str], tmp_path: Path) -> list[dict[str, Any]]:
    """Run ``cells`` in a fresh python3 kernel; the outputs of each cell (errors do not stop the run)."""
    nbformat = require_module("nbformat")
    nbclient = require_module("nbclient")
    require_module("ipykernel")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in cells])
    client = nbclient.NotebookClient(notebook, timeout=90, kernel_name="python3", allow_errors=True,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    return [list(cell.get("outputs", [])) for cell in notebook.cells]


def _text(outputs: list[dict[str, Any]]) -> str:
    parts = []
    for out in outputs:
        if out.get("output_type") == "stream":
            parts.append(out["text"])
        elif "data" in out:
            parts.append(out["data"].get("text/plain", ""))
    return "".join(parts)


def _errors(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [out for out in outputs if out.get("output_type") == "error"]


@pytest.fixture
def cells_run(root: Path, tmp_path: Path) -> tuple[list[str], list[list[dict[str, Any]]]]:
    ids = _fill(root)  # the kernel finds the store through WORKBENCH_ROOT (the root fixture sets it)
    cells = [
        "%load_ext workbench",
        # a RunBrowser filtered by --where; the probe prints what it holds
        'browser = %wb runs --where "config.lr > 0.15"\n'
        "import json; print(json.dumps({'matched': browser.model.matched, 'ids': sorted(browser.model.page_ids),"
        " 'error': browser.model.error}))",
        '%wb runs --where "config.lr > 0.15"',  # the cell shows the component as a widget
        f"compare = %wb compare {ids[0]} {ids[2]} --keys loss\n"
        "print(json.dumps({'runs': compare.model.run_ids, 'keys': compare.model.keys,"
        " 'series': len(compare.model.series), 'error': compare.model.error}))",
        f"%wb compare {ids[0]} {ids[2]}",
        "frame = %wb sql select count(*) as n from runs\nprint('count', int(frame['n'][0]))",
        "%wb frobnicate --now",
        "%wb sql select no_such_column from runs",
        "%wb --help",
    ]
    return ids, _execute(cells, tmp_path)


def test_wb_magics_in_a_real_kernel(cells_run: tuple[list[str], list[list[dict[str, Any]]]]) -> None:
    ids, outputs = cells_run
    for i, cell in enumerate(outputs):
        assert not _errors(cell), f"cell {i} raised: {_errors(cell)}"

    runs = json.loads(_text(outputs[1]).strip())
    assert runs == {"matched": 2, "ids": sorted(ids[1:]), "error": None}
    assert any(WIDGET in out.get("data", {}) for out in outputs[2]), outputs[2]

    compare = json.loads(_text(outputs[3]).strip())
    assert compare == {"runs": [ids[0], ids[2]], "keys": ["loss"], "series": 2, "error": None}
    assert any(WIDGET in out.get("data", {}) for out in outputs[4]), outputs[4]

    assert _text(outputs[5]).strip() == "count 3"

    bad = _text(outputs[6])
    assert bad.startswith("workbench: %wb:") and "invalid choice: 'frobnicate'" in bad and "%wb --help" in bad
    assert "Traceback" not in bad
    sql = _text(outputs[7])
    assert sql.startswith("workbench: the SQL failed") and "no_such_column" in sql and "Traceback" not in sql
    assert "%wb runs" in _text(outputs[8]) and "%wb sql" in _text(outputs[8])
