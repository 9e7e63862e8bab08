"""`update_run` (tags, notes) and `run_logs` (captured output, from the end)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import workbench as wb
from workbench.errors import ReadOnlyRun


def _run(root: Path, **kw: object) -> str:
    run = wb.init(project="p", root=root, **kw)  # type: ignore[arg-type]
    run.finish()
    return run.id


def test_update_run_persists_tags_and_notes(root: Path) -> None:
    run_id = _run(root, tags=["a"])
    record = wb.update_run(run_id[:8], tags=["b", "b", "c"], notes="too slow", root=root)
    assert record["tags"] == ["b", "c"]
    again = wb.get_run(run_id, root=root)
    assert again["tags"] == ["b", "c"] and again["notes"] == "too slow"
    assert wb.runs(root=root)["notes"].tolist() == ["too slow"]  # the catalog sees the change
    wb.update_run(run_id, notes="", root=root)
    assert wb.get_run(run_id, root=root)["tags"] == ["b", "c"]  # None leaves tags alone
    with pytest.raises(TypeError, match="tags must be non-empty"):
        wb.update_run(run_id, tags=[""], root=root)
    with pytest.raises(wb.RunNotFound):
        wb.update_run("zzzzzz", tags=["x"], root=root)


def test_update_run_refuses_a_synced_run(root: Path) -> None:
    run_id = _run(root)
    path = root / "runs" / run_id / "run.json"
    record = json.loads(path.read_text())
    record["remote"] = "gpu1"
    path.write_text(json.dumps(record))
    with pytest.raises(ReadOnlyRun, match="gpu1"):
        wb.update_run(run_id, notes="x", root=root)
    assert wb.get_run(run_id, root=root)["notes"] == ""


def test_run_logs_tail_of_a_real_process(root: Path) -> None:
    code = (
        "import sys, workbench as wb\n"
        "with wb.init(project='p') as run:\n"
        "    print(run.id)\n"
        "    for i in range(30000): print(f'line {i} ' + 'x' * 20)\n"
        "    print('oops', file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    run_id = out.splitlines()[0]
    tail = wb.run_logs(run_id, tail=3, root=root)
    assert tail.splitlines() == [f"line {i} " + "x" * 20 for i in (29997, 29998, 29999)]
    assert len(wb.run_logs(run_id, tail=None, root=root).splitlines()) == 30001
    assert len(wb.run_logs(run_id, tail=5000, root=root).splitlines()) == 5000
    assert wb.run_logs(run_id, "stderr", root=root) == "oops\n"
    assert wb.run_logs(run_id, tail=0, root=root) == ""
    with pytest.raises(ValueError, match="stream"):
        wb.run_logs(run_id, "both", root=root)


def test_run_logs_of_a_run_that_printed_nothing(root: Path) -> None:
    assert wb.run_logs(_run(root, capture_output=False), root=root) == ""
