"""A command whose extra is not installed says so in one line, before anything else (issue 13).

Each test runs the real CLI in a real process where the extra's modules cannot be imported
(``sys.modules[name] = None``, so ``import name`` raises ImportError as on a machine without
them): one line on stderr naming the extra and ``pip install 'workbench-ml[EXTRA]'``, no link, no
traceback, a non-zero exit, within seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import workbench as wb

LAUNCHER = """
import json, sys
for name in json.loads(sys.argv[1]):
    sys.modules[name] = None  # `import name` raises ImportError, as where it is not installed
from workbench.cli import main
sys.exit(main(sys.argv[2:]))
"""

UI = ["panel", "bokeh", "voila", "ipywidgets", "bqplot", "ipydatagrid"]
REMOTE = ["fabric", "paramiko"]


def _cli(root: Path, blocked: list[str], *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WORKBENCH_ROOT": str(root), "WORKBENCH_SYSTEM_METRICS": "0"}
    env.pop("WORKBENCH_RUN_ID", None)
    env.pop("WORKBENCH_DEBUG", None)
    return subprocess.run([sys.executable, "-c", LAUNCHER, json.dumps(blocked), *argv], env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)


def _assert_one_line(proc: subprocess.CompletedProcess[str], extra: str, feature: str) -> str:
    assert proc.returncode != 0, (proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert line.startswith("workbench: error: "), line
    assert feature in line and f"the '{extra}' extra" in line, line
    assert line.endswith(f"pip install 'workbench-ml[{extra}]'"), line
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "http" not in proc.stderr + proc.stdout  # no link printed before the refusal
    assert proc.stdout == "", proc.stdout
    return line


@pytest.mark.parametrize("blocked", [["panel"], ["bokeh"], UI])
def test_ui_without_the_ui_extra(tmp_path: Path, blocked: list[str]) -> None:
    started = time.monotonic()
    proc = _cli(tmp_path / "store", blocked, "ui", "--port", "5999")
    line = _assert_one_line(proc, "ui", "workbench ui")
    assert f"({blocked[0]} is not installed)" in line
    assert time.monotonic() - started < 15


def test_dashboard_without_the_ui_extra(tmp_path: Path) -> None:
    proc = _cli(tmp_path / "store", ["voila"], "dashboard", "dashboard", "--port", "5998")
    line = _assert_one_line(proc, "ui", "workbench dashboard")
    assert "(voila is not installed)" in line


def test_demo_refuses_before_filling_the_store(tmp_path: Path) -> None:
    store = tmp_path / "demo"
    proc = _cli(tmp_path / "store", UI, "--root", str(store), "demo", "--runs", "1", "--steps", "1",
                "--no-finetune", "--port", "5997")
    _assert_one_line(proc, "ui", "workbench demo")
    assert not (store / "runs").exists()  # said at once, not after filling the store


@pytest.mark.parametrize("command", [["remote", "test", "gpu1"], ["sync", "gpu1"]])
def test_remote_commands_without_the_remote_extra(tmp_path: Path, command: list[str]) -> None:
    store = tmp_path / "store"
    added = _cli(store, REMOTE, "remote", "add", "gpu1", "--host", "127.0.0.1", "--root", "/srv/workbench",
                 "--python", "/usr/bin/python3")  # adding needs no SSH
    assert added.returncode == 0, added.stderr
    proc = _cli(store, REMOTE, *command)
    line = _assert_one_line(proc, "remote", "remotes")
    assert "(fabric is not installed)" in line


@pytest.mark.parametrize("kind, blocked", [("tensorboard", "tensorboard"), ("mlflow", "mlflow"),
                                           ("wandb", "wandb")])
def test_import_without_the_import_extra(tmp_path: Path, kind: str, blocked: str) -> None:
    """Each reader's library is the 'import' extra: one line naming it, nothing written."""
    source = tmp_path / "source"
    (source / "0").mkdir(parents=True)  # something to open: a folder (an MLflow file store needs meta.yaml)
    (source / "0" / "meta.yaml").write_text("name: Default\nexperiment_id: '0'\nlifecycle_stage: active\n")
    (source / "events.out.tfevents.1.host").write_bytes(b"")
    (source / "run-x.wandb").write_bytes(b"")
    proc = _cli(tmp_path / "store", [blocked], "import", kind, str(source))
    _assert_one_line(proc, "import", f"workbench import {kind}")
    assert not (tmp_path / "store" / "runs").exists() or not any((tmp_path / "store" / "runs").iterdir())


def test_the_error_is_a_missing_extra_and_an_import_error() -> None:
    from workbench._extras import check, require

    with pytest.raises(wb.MissingExtra) as caught:
        check("json", "workbench_no_such_module", extra="ui", feature="a view")
    assert isinstance(caught.value, ImportError) and isinstance(caught.value, wb.WorkbenchError)
    assert (caught.value.extra, caught.value.module, caught.value.name) == ("ui", "workbench_no_such_module",
                                                                             "workbench_no_such_module")
    assert str(caught.value) == ("a view needs the 'ui' extra (workbench_no_such_module is not installed): "
                                 "pip install 'workbench-ml[ui]'")
    assert require("json", "ui", "a view").dumps([]) == "[]"
    with pytest.raises(wb.MissingExtra, match=r"'remote' extra \(workbench_no_such_module is not installed\)"):
        require("workbench_no_such_module", "remote", "remotes")


NOTEBOOK_VIEW = """
import sys
sys.modules["ipywidgets"] = None
import workbench as wb
from workbench.ui import RunBrowser

browser = RunBrowser()  # the view model needs no extra
try:
    browser.widget()
except wb.MissingExtra as exc:
    print(exc)
"""


def test_notebook_view_without_ipywidgets(tmp_path: Path) -> None:
    env = {**os.environ, "WORKBENCH_ROOT": str(tmp_path / "store")}
    proc = subprocess.run([sys.executable, "-c", NOTEBOOK_VIEW], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ("workbench's notebook views needs the 'ui' extra (ipywidgets is not "
                                   "installed): pip install 'workbench-ml[ui]'")


SITECUSTOMIZE = """
import sys
for name in ("torch", "transformers", "peft", "accelerate"):
    sys.modules[name] = None
"""


@pytest.mark.slow
def test_finetune_job_without_the_finetune_extra(tmp_path: Path) -> None:
    """The job's own process (started by the scheduler) has no torch: the job fails with the one line."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(textwrap.dedent(SITECUSTOMIZE))
    store = tmp_path / "store"
    data = tmp_path / "reviews.csv"
    data.write_text("text,label\n" + "".join(f"review {i},{'pos' if i % 2 else 'neg'}\n" for i in range(20)))
    model = tmp_path / "model"  # never loaded: the job stops before torch
    model.mkdir()
    (model / "config.json").write_text("{}")
    env = {**os.environ, "WORKBENCH_ROOT": str(store), "WORKBENCH_SYSTEM_METRICS": "0",
           "PYTHONPATH": os.pathsep.join(p for p in (str(hooks), os.environ.get("PYTHONPATH", "")) if p)}
    env.pop("WORKBENCH_RUN_ID", None)
    code = textwrap.dedent(f"""
        import sys
        assert sys.modules["torch"] is None  # sitecustomize ran
        import workbench as wb
        job = wb.launch("text-classification", dataset={str(data)!r}, base_model={str(model)!r},
                        config={{"epochs": 1}})
        print(job.wait(timeout=120))
        import json
        print(json.dumps(job.record.get("error")))
        from workbench.jobs.daemon import stop_scheduler
        from workbench.settings import load_settings
        stop_scheduler(load_settings())
    """)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    status, error = proc.stdout.splitlines()[:2]
    assert status == "failed", proc.stdout
    # the job's stderr is the one line, no traceback
    stderr = json.loads(error)["stderr"].strip()
    assert stderr.endswith(
        "the text-classification recipe needs the 'finetune' extra (torch is not installed): "
        "pip install 'workbench-ml[finetune]'"), proc.stdout
    assert "Traceback" not in stderr, stderr
