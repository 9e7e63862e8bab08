"""Pin the on-disk layout of a finished run: what other tools (DuckDB, pandas, jq) and later
versions of workbench read. A change here is a format change: bump FORMAT and migrate."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import workbench as wb
from workbench.store._paths import FORMAT, new_run_id

RECORD_KEYS = {
    "format", "id", "project", "name", "created", "started", "ended", "status", "heartbeat",
    "config", "summary", "summary_pinned", "metrics", "tags", "notes", "remote",
    "pid", "pid_start", "host", "user", "python", "platform", "executable", "command", "cwd", "git",
    "packages", "notebook", "environment",
}

SCRIPT = """
    import sys
    import workbench as wb

    flushes = int(sys.argv[1])
    with wb.init(project="layout", name="pinned", config={"lr": 0.1, "optim": {"name": "adam"}},
                 tags=["t"], notes="n") as run:
        print("hello")
        for step in range(40):
            run.log({"loss": 1.0 / (step + 1), "acc": step / 40})
            if flushes and step % (40 // flushes) == 0:
                run.flush()
        run.summary["best"] = 0.5
    print(run.id)
"""


def _finished_run(tmp_path: Path, root: Path, flushes: int) -> Path:
    script = tmp_path / "layout.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {**os.environ, "WORKBENCH_ROOT": str(root), "WORKBENCH_SYSTEM_METRICS": "0",
           "WORKBENCH_FLUSH_INTERVAL": "30"}
    proc = subprocess.run([sys.executable, str(script), str(flushes)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return root / "runs" / proc.stdout.split()[-1]


@pytest.mark.timeout(60)
def test_a_finished_run_on_disk(tmp_path: Path, root: Path) -> None:
    run_dir = _finished_run(tmp_path, root, flushes=0)
    assert {"runs", "catalog"} <= {p.name for p in root.iterdir()}
    files = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file())
    assert files == ["logs/stderr.log", "logs/stdout.log", "metrics/s-00000000.parquet", "run.json"]
    assert (run_dir / "logs" / "stdout.log").read_text() == "hello\n"

    record = json.loads((run_dir / "run.json").read_text())  # plain JSON, UTF-8
    assert set(record) == RECORD_KEYS
    assert record["format"] == FORMAT == 1
    assert record["id"] == run_dir.name
    assert (record["project"], record["name"], record["status"]) == ("layout", "pinned", "completed")
    assert record["config"] == {"lr": 0.1, "optim": {"name": "adam"}}
    assert (record["tags"], record["notes"], record["remote"]) == (["t"], "n", None)
    assert record["summary"] == {"loss": 1.0 / 40, "acc": 39 / 40, "best": 0.5}
    assert record["summary_pinned"] == ["best"]
    assert record["metrics"]["loss"] == {"count": 40, "min": 1.0 / 40, "max": 1.0, "last": 1.0 / 40,
                                         "step": 39}
    assert set(record["metrics"]) == {"loss", "acc"}
    for name in ("created", "started", "ended", "heartbeat"):
        assert isinstance(record[name], float)
    assert record["created"] <= record["started"] <= record["ended"]
    assert isinstance(record["pid"], int) and isinstance(record["command"], list)
    assert record["git"] is None and record["notebook"] is None

    table = pq.read_table(run_dir / "metrics" / "s-00000000.parquet")
    _check_segment(table, 80, record)


@pytest.mark.timeout(60)
def test_a_run_flushed_several_times_is_compacted_into_one_file(tmp_path: Path, root: Path) -> None:
    run_dir = _finished_run(tmp_path, root, flushes=4)
    names = [p.name for p in (run_dir / "metrics").iterdir()]
    assert len(names) == 1
    assert re.fullmatch(r"c-00000000-000000(0[1-9]|[1-9]\d)\.parquet", names[0]), names
    record = json.loads((run_dir / "run.json").read_text())
    _check_segment(pq.read_table(run_dir / "metrics" / names[0]), 80, record)


def _check_segment(table: pa.Table, rows: int, record: dict[str, object]) -> None:
    schema = table.schema
    assert schema.names == ["step", "key", "value", "time"]
    assert schema.field("step").type == pa.int64()
    key = schema.field("key").type
    assert key == pa.string() or (pa.types.is_dictionary(key) and key.value_type == pa.string())
    assert schema.field("value").type == pa.float64()
    assert schema.field("time").type == pa.float64()
    assert table.num_rows == rows
    data = table.to_pydict()
    keys = [str(k) for k in data["key"]]
    order = sorted(range(rows), key=lambda i: (keys[i], data["step"][i]))
    assert order == list(range(rows)), "rows are sorted by key, then step"
    assert all(record["created"] - 1 <= t <= record["ended"] + 1 for t in data["time"])  # type: ignore[operator]
    loss = [v for k, v in zip(keys, data["value"], strict=True) if k == "loss"]
    assert loss == [1.0 / (s + 1) for s in range(40)]


@pytest.mark.timeout(60)
def test_other_tools_read_the_store(tmp_path: Path, root: Path) -> None:
    run_dir = _finished_run(tmp_path, root, flushes=2)
    frame = pd.read_parquet(run_dir / "metrics")
    assert len(frame) == 80
    glob = str(root / "runs" / "*" / "metrics" / "*.parquet")
    count = duckdb.sql(f"select count(*), count(distinct key) from read_parquet('{glob}')").fetchall()[0]
    assert count == (80, 2)
    records = root / "runs" / "*" / "run.json"
    record = duckdb.sql(f"select id, status from read_json('{records}')").fetchall()[0]
    assert record == (run_dir.name, "completed")


def test_run_ids_are_short_and_sort_by_creation_time(root: Path) -> None:
    made = []
    for _ in range(5):
        run = wb.init(root=root, system_metrics=False, capture_output=False)
        run.finish()
        made.append(run.id)
        time.sleep(0.003)
    assert sorted(made) == made
    assert sorted(p.name for p in (root / "runs").iterdir()) == made
    assert wb.runs(root=root, order_by="created")["run_id"].tolist() == made

    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    before = time.time_ns() // 1_000_000
    ids = []
    for _ in range(20):
        ids.append(new_run_id())
        time.sleep(0.0015)
    after = time.time_ns() // 1_000_000
    assert sorted(ids) == ids
    assert len(set(ids)) == len(ids)
    for run_id in ids:
        assert len(run_id) == 14 and set(run_id) <= set(alphabet)
        millis = 0
        for char in run_id[:9]:
            millis = millis * 32 + alphabet.index(char)
        assert before <= millis <= after
