"""``wb.count_runs``: the count ``runs()`` would return, per project too, from one query."""

from __future__ import annotations

from pathlib import Path

import pytest

import workbench as wb
from workbench.errors import FilterError


def test_count_runs_matches_runs(tmp_path: Path) -> None:
    for i, project in enumerate(["a", "a", "b"]):
        with wb.init(project=project, config={"lr": i}, root=tmp_path, capture_output=False,
                     system_metrics=False) as run:
            run.log({"loss": float(i)})
    assert wb.count_runs(root=tmp_path) == len(wb.runs(root=tmp_path)) == 3
    assert wb.count_runs(project="a", root=tmp_path) == 2
    assert wb.count_runs(where="config.lr >= 1", root=tmp_path) == 2
    assert wb.count_runs(by_project=True, root=tmp_path) == {"a": 2, "b": 1}
    assert wb.count_runs(by_project=True, where="summary.loss > 0.5", root=tmp_path) == {"a": 1, "b": 1}
    hostile = "x'); drop table _runs; --"
    assert wb.count_runs(project=hostile, root=tmp_path) == 0
    with pytest.raises(FilterError):
        wb.count_runs(where="config.lr <<< 1", root=tmp_path)
    assert wb.count_runs(root=tmp_path) == 3
