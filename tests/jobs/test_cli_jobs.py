"""`workbench launch`, `workbench jobs ls|show|logs|cancel|recipes`, `workbench scheduler --stop`, as real
subprocesses; and `import workbench` stays free of torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _job_helpers import jobs_env, wait_for  # noqa: F401 - jobs_env: a fixture

import workbench as wb
from workbench.jobs._paths import JobPaths
from workbench.jobs.daemon import scheduler_running

pytestmark = pytest.mark.usefixtures("jobs_env")


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "workbench", *args], capture_output=True, text=True, timeout=120, check=False
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_launch_wait_ls_show_logs(root: Path) -> None:
    result = cli(
        "launch",
        "--wait",
        "--priority",
        "3",
        "--name",
        "hello",
        "script",
        "--",
        sys.executable,
        "-c",
        "import workbench as wb\nwith wb.init() as r: r.log({'x': 1}); print('hi there')",
    )
    first_line = result.stdout.splitlines()[0]
    assert first_line.startswith("queued ") and "(script, priority 3)" in first_line
    run_id = first_line.split()[1]
    assert result.stdout.splitlines()[-1] == f"{run_id} completed"
    listing = cli("jobs", "ls").stdout
    assert "scheduler: pid " in listing
    assert run_id in listing and "completed" in listing and "100%" not in listing.split(run_id)[0]
    rows = [json.loads(line) for line in cli("jobs", "ls", "--json").stdout.splitlines()]
    assert rows[0]["run_id"] == run_id and rows[0]["priority"] == 3 and rows[0]["progress"] == 1.0
    shown = cli("jobs", "show", run_id[:10]).stdout
    assert "recipe    script" in shown and "status    completed" in shown and "exit      code 0" in shown
    assert cli("jobs", "logs", run_id).stdout == "hi there\n"
    record = json.loads(cli("jobs", "show", run_id, "--json").stdout)
    assert record["job"]["priority"] == 3 and record["name"] == "hello"


def test_failed_job_shows_its_stderr(root: Path) -> None:
    result = cli(
        "launch",
        "--wait",
        "script",
        "--",
        sys.executable,
        "-c",
        "import sys; sys.exit('bad things')",
        check=False,
    )
    assert result.returncode == 1
    run_id = result.stdout.split()[1]
    shown = cli("jobs", "show", run_id).stdout
    assert "status    failed" in shown and "bad things" in shown


def test_set_values_are_parsed_by_the_recipes_schema(root: Path) -> None:
    result = cli(
        "launch",
        "script",
        "--set",
        "planned_steps=7",
        "--set",
        'env={"A": "1"}',
        "--",
        sys.executable,
        "-c",
        "print(1)",
    )
    run_id = result.stdout.split()[1]
    job = wb.Job(run_id)
    assert job.record["config"]["planned_steps"] == 7 and job.record["config"]["env"] == {"A": "1"}
    assert job.wait(timeout=30) == "completed"


def test_cancel_and_stop_from_the_cli(root: Path) -> None:
    result = cli("launch", "script", "--", sys.executable, "-c", "import time; time.sleep(60)")
    run_id = result.stdout.split()[1]
    job = wb.Job(run_id)
    wait_for(lambda: job.status == "running", what="the job to start")
    assert cli("jobs", "cancel", run_id).stdout.strip() == f"{run_id} cancelled"
    assert cli("scheduler", "--stop").stdout.strip() == "scheduler stopped"
    assert not scheduler_running(JobPaths(root))
    assert cli("scheduler", "--stop").stdout.strip() == "no scheduler was running"


def test_recipes_listing() -> None:
    listing = cli("jobs", "recipes").stdout
    for name in ("text-classification", "causal-lm", "script"):
        assert name in listing
    described = cli("jobs", "recipes", "text-classification").stdout
    assert "dataset: columns (text, label) (required)" in described
    assert "lora (bool, default false)" in described


def test_import_workbench_and_launch_checks_stay_free_of_torch(root: Path) -> None:
    code = (
        "import sys, workbench as wb, workbench.jobs\n"
        "from workbench.jobs.recipes import text_classification, causal_lm, script\n"
        "from workbench.jobs.registry import get_recipe\n"
        "[get_recipe(n) for n in ('text-classification', 'causal-lm', 'script')]\n"
        "try:\n"
        "    wb.launch('text-classification', dataset='data/reviews', config={'epochs': 'x'})\n"
        "except wb.JobError:\n"
        "    pass\n"
        "print(','.join(m for m in ('torch', 'transformers', 'peft', 'accelerate') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout
    assert out.strip() == ""


def test_logs_follow_decodes_a_character_split_across_reads(root: Path) -> None:
    code = (
        "import sys, time\n"
        "sys.stdout.buffer.write('caf'.encode() + 'é'.encode()[:1]); sys.stdout.flush()\n"
        "time.sleep(1.0)\n"  # -f reads every 0.25 s: it sees the first byte of the é alone
        "sys.stdout.buffer.write('é'.encode()[1:] + b'\\n'); sys.stdout.flush()\n"
    )
    first = cli("launch", "script", "--", sys.executable, "-c", code).stdout.splitlines()[0]
    run_id = first.split()[1]
    followed = cli("jobs", "logs", run_id, "-f").stdout
    assert followed == "café\n"
