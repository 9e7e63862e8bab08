"""`workbench runs | show | sql | reindex | --version`, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from workbench.store._paths import FORMAT, Layout
from workbench.store.records import create_record

QUIET = {"flush_interval": 0.05, "system_metrics": False, "capture_output": False, "fsync": False}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("cli") / "store"
    ids = {}
    sweep = (("alpha", "p", 0.1, 0.9), ("beta", "p", 0.01, 0.8), ("gamma", "q", 0.001, 0.95))
    for name, project, lr, acc in sweep:
        run = wb.init(project=project, name=name, config={"lr": lr}, tags=["cli"], root=root, **QUIET)
        for step in range(10):
            run.log({"loss": 1.0 / (step + 1), "acc": acc * step / 9})
        run.finish()
        ids[name] = run.id
    layout = Layout(root)
    for run_id in ("run-aaa1", "run-aaa2"):  # two ids that share the prefix "run-aaa"
        create_record(layout, {"format": FORMAT, "id": run_id, "project": "twins", "name": run_id,
                               "created": time.time(), "status": "queued", "config": {}, "summary": {},
                               "metrics": {}, "tags": [], "notes": "", "remote": None}, fsync=False)
        ids[run_id] = run_id
    return {"root": root, "ids": ids}


def workbench(root: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    prefix = ["--root", str(root)] if root is not None else []
    return subprocess.run([sys.executable, "-m", "workbench", *prefix, *args], capture_output=True,
                          text=True, timeout=60, check=False)


pytestmark = pytest.mark.timeout(60)


def test_version() -> None:
    proc = workbench(None, "--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"workbench {wb.__version__}"


def test_no_command_prints_help(store: dict[str, Any]) -> None:
    proc = workbench(store["root"])
    assert proc.returncode == 2
    assert "runs" in proc.stdout and "reindex" in proc.stdout


def test_runs_table(store: dict[str, Any]) -> None:
    proc = workbench(store["root"], "runs")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:4] == ["run_id", "project", "name", "status"]
    assert "summary.acc" in lines[0] and "summary.loss" in lines[0]
    body = "\n".join(lines[1:])
    for name in ("alpha", "beta", "gamma", "run-aaa1"):
        assert name in body
    # newest first
    assert body.index("run-aaa2") < body.index("gamma") < body.index("beta") < body.index("alpha")


def test_runs_json_where_order_limit(store: dict[str, Any]) -> None:
    ids = store["ids"]
    proc = workbench(store["root"], "runs", "--json")
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert {row["run_id"] for row in rows} == set(ids.values())
    alpha = next(row for row in rows if row["name"] == "alpha")
    assert alpha["config.lr"] == 0.1 and alpha["summary.acc"] == pytest.approx(0.9)
    assert alpha["status"] == "completed" and alpha["tags"] == ["cli"]
    assert alpha["created"].endswith("+00:00")  # ISO time

    proc = workbench(store["root"], "runs", "--where", "config.lr < 0.05 or project = 'p'",
                     "--order-by=-summary.acc", "--limit", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["name"] for line in proc.stdout.splitlines()] == ["gamma", "alpha"]

    proc = workbench(store["root"], "runs", "--project", "p", "--columns", "name,config.lr", "--order-by",
                     "created")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["run_id", "name", "config.lr"]
    assert [line.split()[1] for line in lines[1:]] == ["alpha", "beta"]


def test_order_by_descending_as_a_separate_argument(store: dict[str, Any]) -> None:
    proc = workbench(store["root"], "runs", "--order-by", "-summary.acc", "--limit", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["name"] == "gamma"


def test_a_bad_where_exits_1_with_a_caret(store: dict[str, Any]) -> None:
    proc = workbench(store["root"], "runs", "--where", "config.lr < 0.1 and")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("workbench: error: ")
    assert lines[1] == "  config.lr < 0.1 and"
    assert lines[2] == "  " + " " * len("config.lr < 0.1 and") + "^"

    proc = workbench(store["root"], "runs", "--order-by", "summary.acc sideways")
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[2] == "  " + " " * len("summary.acc ") + "^"


def test_show_by_unique_prefix(store: dict[str, Any]) -> None:
    run_id = store["ids"]["beta"]
    proc = workbench(store["root"], "show", run_id[:11])
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.splitlines()[0].split()[:2] == ["run", run_id]
    assert "p/beta" in out and "completed" in out
    assert "lr = 0.01" in out
    assert "loss" in out and "acc" in out

    proc = workbench(store["root"], "show", "--json", "run-aaa1")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == wb.get_run("run-aaa1", root=store["root"])


def test_show_with_an_ambiguous_or_unknown_prefix_exits_1(store: dict[str, Any]) -> None:
    proc = workbench(store["root"], "show", "run-aaa")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("workbench: error: ")
    assert "matches several runs" in proc.stderr
    assert "run-aaa1" in proc.stderr and "run-aaa2" in proc.stderr
    assert proc.stdout == ""

    proc = workbench(store["root"], "show", "zzzz")
    assert proc.returncode == 1
    assert "no run" in proc.stderr and "Traceback" not in proc.stderr


def test_sql(store: dict[str, Any]) -> None:
    proc = workbench(store["root"], "sql", "select project, count(*) n from runs group by 1 order by 1",
                     "--json")
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line) for line in proc.stdout.splitlines()] == [
        {"project": "p", "n": 2}, {"project": "q", "n": 1}, {"project": "twins", "n": 2}]

    proc = workbench(store["root"], "sql", "drop table _runs")
    assert proc.returncode == 1
    assert "read-only" in proc.stderr and "Traceback" not in proc.stderr


def test_reindex(store: dict[str, Any]) -> None:
    proc = workbench(store["root"], "reindex")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("indexed 5 runs")
    assert proc.stderr == ""


def test_an_empty_store(tmp_path: Path) -> None:
    proc = workbench(tmp_path / "empty", "runs")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "(no rows)"


def test_a_job_command_after_double_dash_is_passed_on_untouched() -> None:
    from workbench.cli import _join_dash_values

    assert _join_dash_values(["runs", "--order-by", "-summary.acc"]) == ["runs", "--order-by=-summary.acc"]
    command = ["launch", "script", "--", "python", "sweep.py", "--order-by", "-loss"]
    assert _join_dash_values(command) == command
