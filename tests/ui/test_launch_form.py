"""LaunchForm (issue 6): the form is made from the recipe's schema, refuses bad hyperparameters and
bad dataset uploads inline without launching, and a real ``script`` job launched from it runs to
``completed`` in the JobMonitor with its progress moving."""

from __future__ import annotations

import datetime
import time
from pathlib import Path

import pytest
from conftest import require_module

import workbench as wb
from tests.jobs._job_helpers import jobs_env  # noqa: F401 - a fixture
from workbench.jobs import list_jobs
from workbench.ui import LaunchForm

TRAIN = """\
import time
import workbench as wb

with wb.init() as run:
    for step in range(1, 9):
        run.log({"loss": 1.0 / step}, step=step)
        run.flush()
        time.sleep(0.25)
print("trained")
"""

RAGGED = b"text,label\ngood,positive\nonly-one-field\n"


def upload_value(name: str, data: bytes) -> tuple[dict[str, object], ...]:
    """What a browser sends to an ipywidgets FileUpload."""
    return ({"name": name, "type": "text/csv", "size": len(data), "content": memoryview(data),
             "last_modified": datetime.datetime.now(datetime.timezone.utc)},)


def test_form_fields_come_from_the_recipe_schema(root: Path) -> None:
    form = LaunchForm(root, live=False)
    m = form.model
    assert {"script", "text-classification", "causal-lm"} <= set(m.recipes)
    assert m.recipe == "script" and not m.takes_dataset and not m.takes_base_model
    assert [f.name for f in m.fields] == ["command", "cwd", "env", "planned_steps"]
    assert m.executors[0] == "local"
    m.set_recipe("text-classification")
    assert m.takes_dataset and m.takes_base_model
    assert m.values["epochs"] == "3" and m.values["lora"] is False and m.values["device"] == "auto"
    assert m.config() == {}  # defaults are not sent: workbench.toml's [recipes.NAME] still applies
    m.set_value("lora", True)
    m.set_value("epochs", "2")
    assert m.config() == {"lora": True, "epochs": 2}


@pytest.mark.usefixtures("jobs_env")
def test_a_script_job_launched_from_the_form_completes_in_the_monitor(root: Path, tmp_path: Path) -> None:
    require_module("ipywidgets")
    require_module("panel")
    from workbench.ui.launch.panel_view import JobMonitorPanel

    script = tmp_path / "train.py"
    script.write_text(TRAIN, encoding="utf-8")
    form = LaunchForm(root, monitor=True, live=False)
    view = form.widget()
    assert form.monitor is not None
    monitor = form.monitor.model
    panel_monitor = JobMonitorPanel(monitor, live=False)
    panel_monitor.layout.get_root()

    boxes = {key: box for key, (box, _) in view.field_widgets.items()}
    boxes["command"].value = f"python {script}"
    boxes["planned_steps"].value = "8"
    view.name.value = "from-the-form"
    view.tags.value = "ui, smoke"
    view.priority.value = 3
    view.submit.click()
    assert form.model.error is None, form.model.error
    run_id = form.model.last_job
    assert run_id is not None and monitor.selected == run_id
    assert monitor.row(run_id) is not None  # listed at once
    record = wb.get_run(run_id, root=root)
    assert record["name"] == "from-the-form" and record["tags"] == ["ui", "smoke"]
    assert record["job"]["priority"] == 3

    seen: list[float] = []
    statuses: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        monitor.poll()
        row = monitor.row(run_id)
        assert row is not None
        statuses.append(row["status"])
        if row["progress"] is not None:
            seen.append(row["progress"])
        if row["status"] in ("completed", "failed", "crashed", "cancelled"):
            break
        time.sleep(0.1)
    assert row["status"] == "completed", monitor.logs
    assert any(0.0 < p < 1.0 for p in seen), f"progress never moved between 0 and 1: {seen}"
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert "running" in statuses
    assert row["loss_key"] == "loss" and row["loss"] == pytest.approx(1.0 / 8)
    assert len(row["spark"]) == 8 and row["spark"][0] == "█" and row["spark"][-1] == "▁"
    monitor.select(run_id)
    assert "trained" in monitor.logs

    # both renderings show the end: a full bar, the status colour, no cancel button, the logs
    parts = view.children[-1].row_widgets[run_id]
    assert parts["progress"].value == 1.0 and parts["cancel"].disabled
    assert "#2ca02c" in parts["status"].value
    assert "trained" in view.children[-1].logs.value
    prow = panel_monitor.row_widgets[run_id]
    assert prow["progress"].value == 100 and prow["cancel"].disabled
    assert "trained" in panel_monitor.logs.object
    form.close()


def test_an_invalid_hyperparameter_is_shown_inline_and_launches_nothing(root: Path) -> None:
    require_module("panel")
    from workbench.ui.launch.panel_view import LaunchFormPanel

    form = LaunchForm(root, live=False)
    view = LaunchFormPanel(form.model, live=False)
    view.layout.get_root()
    boxes = {key: (box, err) for key, (box, err) in view.field_widgets.items()}
    boxes["command"][0].value = "python -c pass"
    boxes["planned_steps"][0].value = "0"
    assert "at least 1" in boxes["planned_steps"][1].object
    assert "--set" not in boxes["planned_steps"][1].object  # the form's words, not the CLI's
    view.submit.clicks += 1
    assert view.alert.visible and "planned_steps" in view.alert.object
    boxes["planned_steps"][0].value = "many"
    assert "needs a number" in boxes["planned_steps"][1].object
    view.priority.value = 2
    boxes["command"][0].value = ""
    view.submit.clicks += 1
    assert "command" in view.alert.object
    assert list_jobs(root) == [] and wb.runs(root=root).empty


def test_a_bad_dataset_upload_is_shown_inline_and_launches_nothing(root: Path) -> None:
    require_module("ipywidgets")
    require_module("panel")
    from workbench.ui.launch.panel_view import LaunchFormPanel

    form = LaunchForm(root, recipe="text-classification", live=False)
    view = form.widget()
    view.upload.value = upload_value("reviews.csv", RAGGED)
    assert form.model.error is not None and "ragged" in form.model.error and "reviews.csv" in form.model.error
    assert "ragged" in view.error.value and "#d62728" in view.error.value
    assert form.model.dataset is None and wb.artifacts(root=root).empty  # nothing stored
    view.submit.click()  # no dataset: launch refuses, inline
    assert "dataset" in (form.model.error or "")
    assert list_jobs(root) == []

    panel_view = LaunchFormPanel(form.model, live=False)
    panel_view.upload.filename = "notes.txt"
    panel_view.upload.value = b"just text"
    assert panel_view.alert.visible and "notes.txt" in panel_view.alert.object
    assert wb.artifacts(root=root).empty

    # a good file is logged as a dataset artifact and picked
    panel_view.upload.filename = "reviews.csv"
    panel_view.upload.value = b"text,label\ngood,positive\nbad,negative\n"
    assert "Dataset" not in form.model.action_errors and form.model.dataset == "reviews:v1"
    assert "Launch" in form.model.action_errors  # issue 14: the Launch error stays until Launch works or is dismissed
    assert panel_view.dataset.value == "reviews:v1" and view.dataset.value == "reviews:v1"
    assert wb.artifact("reviews", root=root).metadata["dataset"]["rows"] == 2
    # a dataset without the columns the recipe needs: refused by launch, shown inline
    panel_view.upload.filename = "other.csv"
    panel_view.upload.value = b"a,b\n1,2\n"
    assert form.model.dataset == "other:v1"
    panel_view.submit.clicks += 1
    assert panel_view.alert.visible and "label" in panel_view.alert.object
    assert list_jobs(root) == []


def test_executors_are_local_and_one_ssh_entry_per_remote(root: Path) -> None:
    from workbench.remote import Remote, add_remote

    root.mkdir(parents=True)
    add_remote(root, Remote(name="gpu1", host="127.0.0.1", root="/data/wb", python="/usr/bin/python3"))
    form = LaunchForm(root, live=False)
    assert form.model.executors == ["local", "ssh:gpu1"]
    assert form.model.executor == "local"
