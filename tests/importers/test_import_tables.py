"""``workbench import csv|jsonl``: real files, the real CLI in a subprocess, the real store.

Wide (one row per step) and long (step, key, value) files, several runs in one file, typed config,
tags and statuses, unix and ISO 8601 times; a second import changes no file; rows appended to the
file are exactly what the next import adds; damaged rows are reported per run (exit 1) while the
good runs come in; hostile names are stored as text and shown escaped; a SIGKILL leaves whole runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from tests.conftest import REPO
from workbench.importers import run_id_for
from workbench.store._schema import load_record

WIDE = """run,step,time,loss,acc,config.lr,config.layers,config.amp,config.opt,tags,status,comment
a,0,1700000000,1.0,0.1,0.001,4,true,adam,baseline;imported,completed,first
a,1,1700000001.5,0.5,,0.001,4,true,adam,baseline;imported,completed,
a,2,2023-11-14T22:13:23Z,0.25,0.3,0.001,4,true,adam,baseline;imported,completed,
b,0,1700000000,2.0,0.2,0.01,2,false,sgd,,failed,
b,5,1700000010,1.5,0.25,0.01,2,false,sgd,,failed,
"""


def workbench(root: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "workbench", "--root", str(root), *args], capture_output=True,
                          text=True, timeout=120, check=False, env=env, errors="surrogateescape", **kwargs)


def clean(text: str) -> None:
    bad = sorted({c for c in text if not (c.isprintable() or c in "\n\t")})
    assert not bad, f"raw control characters {bad!r} in {text!r}"


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(root.rglob("*")) if p.is_file() and "catalog" not in p.relative_to(root).parts}


def history(root: Path, run_id: str, key: str) -> list[tuple[int, float, float]]:
    frame = wb.history(run_id, keys=[key], root=root).sort_values("step", kind="stable")
    times = frame.time.astype("int64") / 1e9 if str(frame.time.dtype).startswith("datetime") else frame.time
    return list(zip(frame.step.tolist(), frame.value.tolist(), [float(t) for t in times]))


def test_a_wide_csv_through_the_cli(root: Path, tmp_path: Path) -> None:
    source = tmp_path / "history.csv"
    source.write_text(WIDE)
    done = workbench(root, "import", "csv", str(source), "--project", "legacy", "--progress", "never")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""  # no bar with --progress never (nor in a pipe with auto)
    assert "imported  csv a" in done.stdout and "imported  csv b" in done.stdout
    assert "column 'comment' holds text" in done.stdout  # said, not a failure
    a, b = (run_id_for("csv", str(source), name) for name in ("a", "b"))
    assert history(root, a, "loss") == [(0, 1.0, 1.7e9), (1, 0.5, 1700000001.5), (2, 0.25, 1700000003.0)]
    assert history(root, a, "acc") == [(0, 0.1, 1.7e9), (2, 0.3, 1700000003.0)]  # an empty cell: no point
    assert history(root, b, "loss") == [(0, 2.0, 1.7e9), (5, 1.5, 1700000010.0)]
    frame = wb.runs(root=root).set_index("run_id")
    assert list(frame.loc[a, "tags"]) == ["baseline", "imported"] and list(frame.loc[b, "tags"]) == []
    assert (frame.loc[a, "status"], frame.loc[b, "status"]) == ("completed", "failed")
    assert (frame.loc[a, "project"], frame.loc[a, "name"]) == ("legacy", "a")
    assert frame.loc[a, "config.lr"] == 0.001 and frame.loc[a, "config.layers"] == 4
    assert bool(frame.loc[a, "config.amp"]) is True and bool(frame.loc[b, "config.amp"]) is False
    assert wb.get_run(a, root=root)["config"] == {"lr": 0.001, "layers": 4, "amp": True, "opt": "adam"}
    assert frame.loc[a, "config.opt"] == "adam" and frame.loc[a, "summary.loss"] == 0.25
    assert wb.count_runs(where="config.lr < 0.002", root=root) == 1
    record = wb.get_run(a, root=root)
    load_record(json.dumps(record).encode())
    assert record["source"]["kind"] == "csv" and record["source"]["id"] == "a"
    assert record["source"]["path"] == str(source) and record["started"] == 1.7e9 and record["ended"] == 1700000003.0
    again = workbench(root, "import", "csv", str(source), "--progress", "always")
    assert again.returncode == 0 and again.stdout.count("unchanged csv") == 2, again.stdout + again.stderr
    assert f"csv {source}" in again.stderr and "2run" in again.stderr and "0 points" in again.stderr  # the bar
    fsck = workbench(root, "fsck")
    assert fsck.returncode == 0 and fsck.stdout.strip().endswith("ok"), fsck.stdout + fsck.stderr


def test_long_jsonl_with_config_and_nested_keys(root: Path, tmp_path: Path) -> None:
    source = tmp_path / "metrics.jsonl"
    lines = [{"run_id": "x", "step": s, "key": "loss", "value": 1 / (s + 1), "timestamp": 1.7e9 + s,
              "config": {"lr": 0.1, "optim": {"name": "adam"}}, "tags": ["j"], "status": "running"}
             for s in range(4)]
    lines.append({"run_id": "x", "step": 4, "key": "val/acc", "value": 0.9, "timestamp": "2023-11-14T22:13:24"})
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = wb.importers.jsonl(source, root=root, progress="never")
    assert report.exit_code == 0, report.render()
    run_id = run_id_for("jsonl", str(source), "x")
    assert history(root, run_id, "loss") == [(s, 1 / (s + 1), 1.7e9 + s) for s in range(4)]
    assert history(root, run_id, "val/acc") == [(4, 0.9, 1700000004.0)]  # ISO without a zone: UTC
    record = wb.get_run(run_id, root=root)
    assert record["config"] == {"lr": 0.1, "optim": {"name": "adam"}} and record["tags"] == ["j"]
    assert record["status"] in ("running", "crashed")  # no process beats for it here: the catalog may mark it

    wide = tmp_path / "wide.jsonl"
    wide.write_text("".join(json.dumps({"step": s, "loss": 1.0 - s / 10, "val": {"acc": s / 10}}) + "\n"
                            for s in range(3)))
    report = wb.importers.jsonl(wide, root=root, progress="never")
    run_id = run_id_for("jsonl", str(wide), "wide.jsonl")
    assert report.runs[0].points == 6 and history(root, run_id, "val/acc")[2][:2] == (2, 0.2)


def test_reimport_is_a_no_op_and_appended_rows_are_exactly_what_comes_next(root: Path, tmp_path: Path) -> None:
    source = tmp_path / "history.csv"
    source.write_text(WIDE)
    assert workbench(root, "import", "csv", str(source)).returncode == 0
    before = snapshot(root)
    again = workbench(root, "import", "csv", str(source))
    assert again.returncode == 0 and again.stdout.count("unchanged csv") == 2, again.stdout + again.stderr
    assert snapshot(root) == before
    with source.open("a") as handle:
        handle.write("a,3,1700000004,0.125,0.4,0.001,4,true,adam,baseline;imported,completed,\n")
        handle.write("a,3,1700000005,0.1,,0.001,4,true,adam,baseline;imported,completed,\n")  # a repeated step
        handle.write("c,0,1700000000,3.0,0.0,0.1,1,false,sgd,,completed,\n")
    grown = workbench(root, "import", "csv", str(source))
    assert grown.returncode == 0, grown.stdout + grown.stderr
    assert "updated   csv a" in grown.stdout and "3 points" in grown.stdout  # 2 loss + 1 acc
    assert "unchanged csv b" in grown.stdout and "imported  csv c" in grown.stdout
    a = run_id_for("csv", str(source), "a")
    assert [p[:2] for p in history(root, a, "loss")] == [(0, 1.0), (1, 0.5), (2, 0.25), (3, 0.125), (3, 0.1)]
    assert wb.get_run(a, root=root)["metrics"]["loss"]["count"] == 5
    assert len(wb.runs(root=root)) == 3


def test_damaged_rows_are_reported_and_the_good_runs_come_in(root: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("run,step,loss\ngood,0,1.0\ngood,1,0.5\nbroken,0,oops\nbroken,1,0.7\n"
                   "broken, too, many, fields\x1b[2J,5\nbroken,x,0.5\nbroken,2,0.6\nbroken,3,0.")
    fine = tmp_path / "fine.csv"
    fine.write_text("step,loss\n0,1\n1,2\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    done = workbench(root, "import", "csv", str(bad), str(fine), str(empty), str(tmp_path / "missing.csv"))
    assert done.returncode == 1, done.stdout + done.stderr
    clean(done.stdout + done.stderr)
    out = done.stdout + done.stderr
    assert "line 4: 'loss' is 'oops', not a number" in out
    assert "line 6: 5 fields where the header has 3: skipped" in out and "\\x1b[2J" not in out
    assert "line 7: step 'x' is not a whole number" in out
    assert "line 9: the last line is cut short" not in out  # 3 fields: complete, if its value looks short
    assert "missing.csv' does not exist" in out and "empty.csv' is empty" in out
    assert "Traceback" not in out
    good, broken = run_id_for("csv", str(bad), "good"), run_id_for("csv", str(bad), "broken")
    assert [p[:2] for p in history(root, good, "loss")] == [(0, 1.0), (1, 0.5)]
    assert [p[:2] for p in history(root, broken, "loss")] == [(1, 0.7), (2, 0.6), (3, 0.0)]
    assert len(wb.runs(root=root)) == 3
    truncated = tmp_path / "cut.jsonl"
    truncated.write_text('{"step": 0, "loss": 1}\n{"step": 1, "loss": 0.5}\n{"step": 2, "lo')
    done = workbench(root, "import", "jsonl", str(truncated))
    assert done.returncode == 1 and "line 3: the last line is cut short" in done.stdout + done.stderr
    assert len(history(root, run_id_for("jsonl", str(truncated), "cut.jsonl"), "loss")) == 2
    nothing = workbench(root, "import", "csv", str(tmp_path / "missing.csv"))
    assert nothing.returncode == 2 and "Traceback" not in nothing.stderr
    with pytest.raises(wb.WorkbenchError, match="no importer 'parquet'"):
        wb.importers.from_source("parquet", fine, root=root)
    assert wb.fsck(root=root).ok


def test_hostile_names_stay_text(root: Path, tmp_path: Path) -> None:
    source = tmp_path / "h\x1b[2J<b>.csv"
    source.write_text("run,step,loss\x1b]0;t\x07,config.x\n"
                      "..\x1b[31m/../evil,0,1.0,<script>alert(1)</script>\n"
                      "<img src=x>,0,2.0,\u202e\n")
    done = workbench(root, "import", "csv", str(source))
    assert done.returncode == 1, done.stdout + done.stderr  # the escapes are reported as problems
    clean(done.stdout + done.stderr)
    assert "\\x1b[31m" in done.stdout
    records = {r["source"]["id"]: r for r in (wb.get_run(i, root=root) for i in wb.runs(root=root).run_id)}
    evil = records["..\x1b[31m/../evil"]
    assert evil["name"] == "..\\x1b[31m/../evil" and evil["config"] == {"x": "<script>alert(1)</script>"}
    assert list(evil["metrics"]) == ["loss\\x1b]0;t\\x07"]
    assert records["<img src=x>"]["name"] == "<img src=x>"
    assert not (tmp_path / "evil").exists() and sorted(p.name for p in (root / "runs").iterdir()) == sorted(
        run_id_for("csv", str(source), s) for s in records)
    assert wb.fsck(root=root).ok


@pytest.mark.timeout(300)
def test_sigkill_during_a_csv_import(root: Path, tmp_path: Path) -> None:
    source = tmp_path / "big.csv"
    runs, steps = 4, 80_000
    with source.open("w") as handle:
        handle.write("run,step,time,loss,acc\n")
        for r in range(runs):
            handle.writelines(f"r{r},{s},{1.7e9 + s},{r + 1 / (s + 1)},{s / steps}\n" for s in range(steps))
    rng = random.Random(3)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "workbench", "--root", str(root), "import", "csv",
                                 str(source)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 1.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        for run_id in wb.runs(root=root).run_id:  # whole runs only
            record = wb.get_run(run_id, root=root)
            assert record["metrics"]["loss"]["count"] == steps and record["metrics"]["acc"]["count"] == steps
            assert len(wb.history(run_id, root=root)) == 2 * steps
    done = workbench(root, "import", "csv", str(source))
    assert done.returncode == 0, done.stdout + done.stderr
    ids = list(wb.runs(root=root).run_id)
    assert len(ids) == runs
    frame = wb.history(ids, root=root)
    assert len(frame) == 2 * runs * steps and not frame.duplicated(["run_id", "key", "step"]).any()
    assert wb.fsck(root=root).ok


def test_the_column_reader_and_the_row_reader_agree(tmp_path: Path) -> None:
    # a clean file is read column by column (pyarrow); without its final newline the same rows go
    # through the row-by-row reader (which checks a possibly cut last line): the runs must be equal
    from workbench.importers._tables import read_csv

    text = ("run,step,time,loss,acc,config.lr,config.amp,tags,status,notes\n"
            + "".join(f"r{r},{s},{1.7e9 + s / 4},{r + 1 / (s + 1)},{'' if s % 3 else s / 7},0.{r + 1},"
                      f"{'true' if r else 'false'},{'a;b' if s == 0 else ''},{'running' if s < 9 else 'failed'},"
                      f"{'n' if s == 1 else ''}\n" for r in range(3) for s in range(10)))
    (tmp_path / "columns.csv").write_text(text)
    (tmp_path / "rows.csv").write_text(text.rstrip("\n"))

    def runs(name: str) -> list[Any]:
        out = []
        for run in read_csv([str(tmp_path / name)]):
            series = {s.key: (list(s.steps), list(s.values), None if s.times is None else list(s.times))
                      for s in run.series()}
            out.append((run.source_id, run.config, run.tags, run.notes, run.status, run.start_time, run.end_time,
                        series, run.problems))
        return out

    columns, rows = runs("columns.csv"), runs("rows.csv")
    assert columns == rows
    assert columns[1][:5] == ("r1", {"lr": 0.2, "amp": True}, ["a", "b"], "n", "failed")
    assert columns[1][7]["acc"][0] == [0, 3, 6, 9]
