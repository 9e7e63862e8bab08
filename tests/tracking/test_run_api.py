"""The W&B-shaped run API (issue 13): a live config, module-level calls on the current run,
init's group/job_type/id+resume/mode/reinit/dir, define_metric, alert, log(commit=, time=)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from workbench.errors import ConfigError, RunNotFound, StoreError, WorkbenchError

QUIET = {"capture_output": False, "system_metrics": False}


@pytest.fixture(autouse=True)
def _no_current_run() -> Any:
    yield
    wb.finish()  # a test that failed half-way leaves no current run to the next


def _record(root: Path, run_id: str) -> dict[str, Any]:
    return json.loads((root / "runs" / run_id / "run.json").read_text())


def test_config_is_a_live_dict_whose_changes_reach_the_record_and_queries_at_once(tmp_path: Path) -> None:
    run = wb.init(project="cfg", config={"lr": 1e-3, "optim": {"beta": 0.9}}, root=tmp_path, **QUIET)
    run.config.update({"epochs": 3})  # Lightning's hyperparameters arrive like this, after the start
    run.config["batch_size"] = 32
    run.config.dropout = 0.1
    run.config["optim"]["eps"] = 1e-8  # a nested dict writes through too
    assert run.config.setdefault("warmup", 10) == 10
    assert run.config.setdefault("warmup", 99) == 10
    assert run.config.lr == run.config["lr"] == 1e-3 and run.config.optim.beta == 0.9
    assert isinstance(run.config, dict) and json.loads(json.dumps(run.config))["epochs"] == 3
    expected = {"lr": 1e-3, "optim": {"beta": 0.9, "eps": 1e-8}, "epochs": 3, "batch_size": 32, "dropout": 0.1,
                "warmup": 10}
    # no flush, no finish: the record already has it, and so do queries
    assert _record(tmp_path, run.id)["config"] == expected
    row = wb.runs(root=tmp_path).iloc[0]
    assert row["config.epochs"] == 3 and row["config.optim.eps"] == 1e-8 and row["config.dropout"] == 0.1
    del run.config["dropout"]
    assert "dropout" not in _record(tmp_path, run.id)["config"]
    run.finish()
    assert _record(tmp_path, run.id)["config"] == {k: v for k, v in expected.items() if k != "dropout"}


def test_changing_a_key_to_another_value_needs_allow_val_change(tmp_path: Path) -> None:
    run = wb.init(config={"lr": 0.1}, root=tmp_path, **QUIET)
    run.config.lr = 0.1  # the same value: fine
    with pytest.raises(ConfigError, match=r"config key 'lr' is already 0.1; not changed to 0.2.*allow_val_change"):
        run.config.update({"lr": 0.2, "new": 1})
    assert run.config.as_dict() == {"lr": 0.1}  # refused whole: "new" was not set either
    with pytest.raises(ConfigError):
        run.config["lr"] = 0.3
    run.config.update({"lr": 0.2}, allow_val_change=True)
    assert _record(tmp_path, run.id)["config"]["lr"] == 0.2
    run.finish()
    relaxed = wb.init(config={"lr": 0.1}, allow_val_change=True, root=tmp_path, **QUIET)
    relaxed.config.lr = 0.5
    assert relaxed.config.lr == 0.5
    relaxed.finish()


def test_config_values_become_json_a_record_can_hold(tmp_path: Path) -> None:
    import numpy as np

    class Model:
        def __str__(self) -> str:
            return "Model(layers=2)"

    run = wb.init(root=tmp_path, **QUIET)
    run.config.update({"np": np.float32(0.5), "n": np.int64(3), "path": Path("/data/x"), "tuple": (1, 2),
                       "model": Model(), "arr": np.arange(3)})
    assert _record(tmp_path, run.id)["config"] == {"np": 0.5, "n": 3, "path": "/data/x", "tuple": [1, 2],
                                                   "model": "Model(layers=2)", "arr": [0, 1, 2]}
    with pytest.raises(ConfigError, match="non-empty string"):
        run.config.update({"": 1})
    run.finish()
    with pytest.raises(WorkbenchError, match="is finished"):
        run.config.late = 1


def test_module_level_calls_act_on_the_current_run(tmp_path: Path) -> None:
    assert wb.run is None
    with pytest.raises(WorkbenchError, match=r"call workbench.init\(\) first"):
        wb.log({"loss": 1.0})
    with pytest.raises(WorkbenchError, match=r"call workbench.init\(\) first"):
        _ = wb.config.lr
    wb.finish()  # no run: nothing happens, as in W&B
    run = wb.init(project="mod", config={"lr": 0.01}, root=tmp_path, **QUIET)
    assert wb.run is run
    assert wb.config.lr == 0.01
    wb.config.update({"epochs": 2})
    wb.config.seed = 7
    wb.log({"loss": 1.0})
    wb.log({"loss": 0.5, "acc": 0.7})
    wb.summary["best"] = 0.7
    wb.finish()
    assert wb.run is None and run.status == "completed"
    record = _record(tmp_path, run.id)
    assert record["config"] == {"lr": 0.01, "epochs": 2, "seed": 7}
    assert record["summary"] == {"loss": 0.5, "acc": 0.7, "best": 0.7}
    points = wb.history(run.id, root=tmp_path)
    assert sorted(zip(points.key, points.step)) == [("acc", 1), ("loss", 0), ("loss", 1)]


def test_a_second_init_finishes_the_first_unless_reinit_says_otherwise(tmp_path: Path) -> None:
    # re-running a notebook cell that calls init: no run is left "running"
    first = wb.init(root=tmp_path, **QUIET)
    second = wb.init(root=tmp_path, **QUIET)
    assert first.status == "completed" and _record(tmp_path, first.id)["status"] == "completed"
    assert wb.run is second
    assert wb.init(root=tmp_path, reinit=False, **QUIET) is second
    assert wb.init(root=tmp_path, reinit="return_previous", **QUIET) is second
    third = wb.init(root=tmp_path, reinit="create_new", **QUIET)
    assert second.status == "running" and wb.run is third
    third.finish()
    assert wb.run is None
    second.finish()
    with pytest.raises(ConfigError, match="reinit"):
        wb.init(root=tmp_path, reinit="sometimes", **QUIET)


def test_group_job_type_and_dir(tmp_path: Path) -> None:
    run = wb.init(project="g", group="exp-1", job_type="train", dir=tmp_path, **QUIET)
    assert (run.group, run.job_type) == ("exp-1", "train")
    run.finish()
    wb.init(project="g", group="exp-2", job_type="eval", root=tmp_path, **QUIET).finish()
    frame = wb.runs(root=tmp_path, where="group = 'exp-1' and job_type = 'train'", columns=["group", "job_type"])
    assert frame.run_id.tolist() == [run.id] and frame.group.tolist() == ["exp-1"]
    assert sorted(wb.runs(root=tmp_path, order_by="group").group) == ["exp-1", "exp-2"]
    with pytest.raises(ConfigError, match="group"):
        wb.init(group="two\nlines", root=tmp_path, **QUIET)
    with pytest.raises(ConfigError, match="two stores"):
        wb.init(root=tmp_path, dir=tmp_path / "other", **QUIET)


def test_resume_continues_the_run_after_its_last_step(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a valid run id"):
        wb.init(id="Bad/Id", root=tmp_path, **QUIET)
    with pytest.raises(RunNotFound, match="resume='allow'"):
        wb.init(id="exp-7", resume="must", root=tmp_path, **QUIET)
    run = wb.init(id="exp-7", resume="allow", config={"lr": 0.1}, root=tmp_path, **QUIET)  # created
    assert run.id == "exp-7" and not run.resumed
    for value in (3.0, 2.0, 1.0):
        run.log({"loss": value})
    run.finish("failed")
    with pytest.raises(StoreError, match=r"already exists.*resume='allow'"):
        wb.init(id="exp-7", root=tmp_path, **QUIET)
    with pytest.raises(StoreError, match="already exists"):
        wb.init(id="exp-7", resume="never", root=tmp_path, **QUIET)
    again = wb.init(id="exp-7", resume="must", config={"lr": 0.1, "phase": 2}, root=tmp_path, **QUIET)
    assert again.resumed and again.status == "running" and again.config.as_dict() == {"lr": 0.1, "phase": 2}
    record = _record(tmp_path, "exp-7")
    assert record["status"] == "running" and "error" not in record and record["resumes"] == 1
    again.log({"loss": 0.5})
    again.finish()
    points = wb.history("exp-7", keys=["loss"], root=tmp_path)
    assert points.step.tolist() == [0, 1, 2, 3] and points.value.tolist() == [3.0, 2.0, 1.0, 0.5]
    assert _record(tmp_path, "exp-7")["status"] == "completed"
    with pytest.raises(ConfigError, match=r"'lr' is already 0\.1"):
        wb.init(id="exp-7", resume=True, config={"lr": 0.2}, root=tmp_path, **QUIET)


def test_a_live_run_cannot_be_resumed_by_another_process(tmp_path: Path) -> None:
    run = wb.init(id="live-run", root=tmp_path, **QUIET)
    code = textwrap.dedent(f"""
        import workbench as wb
        wb.init(id="live-run", resume="allow", root={str(tmp_path)!r}, capture_output=False, system_metrics=False)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0 and "is still running" in done.stderr
    run.finish()


def test_disabled_mode_checks_calls_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "store"
    run = wb.init(project="off", config={"lr": 1}, mode="disabled", root=root, **QUIET)
    assert wb.run is run
    run.log({"loss": 1.0})
    wb.log({"loss": 0.5}, commit=False)
    run.config.update({"epochs": 2})
    with pytest.raises(ConfigError):
        run.config.lr = 2
    run.summary["best"] = 1
    run.define_metric("loss", summary="min")
    assert run.alert("t", "x")
    with run:
        pass
    assert run.status == "completed" and wb.run is None
    monkeypatch.setenv("WORKBENCH_MODE", "disabled")
    wb.init(root=root, **QUIET).finish()
    assert not root.exists()
    monkeypatch.delenv("WORKBENCH_MODE")
    with pytest.raises(ConfigError, match="mode"):
        wb.init(mode="cloud", root=root, **QUIET)


def test_commit_false_keeps_the_step_and_time_keeps_the_wall_time(tmp_path: Path) -> None:
    run = wb.init(root=tmp_path, **QUIET)
    run.log({"a": 1.0}, commit=False)
    run.log({"b": 2.0})  # same step as "a"
    run.log({"a": 3.0})
    run.log({"a": 4.0}, step=10, commit=False)
    run.log({"b": 5.0})  # step 10 too
    run.log({"c": 6.0}, time=1_600_000_000.5)
    run.log({"nested": {"x": 1.0, "y": {"z": 2.0}}})  # W&B's nested form
    with pytest.raises(TypeError, match="time"):
        run.log({"a": 1.0}, time="yesterday")
    run.finish()
    points = wb.history(run.id, root=tmp_path)
    steps = {(k, s) for k, s in zip(points.key, points.step)}
    assert steps == {("a", 0), ("b", 0), ("a", 1), ("a", 10), ("b", 10), ("c", 11), ("nested.x", 12),
                     ("nested.y.z", 12)}
    assert points[points.key == "c"].time.iloc[0] == 1_600_000_000.5


def test_define_metric_summaries_show_in_the_record_and_queries(tmp_path: Path) -> None:
    run = wb.init(root=tmp_path, **QUIET)
    run.define_metric("val/loss", summary="min,max,mean,first", goal="minimize")
    run.define_metric("val/*", step_metric="epoch")
    run.define_metric("train/acc", summary="best", goal="maximize")
    run.define_metric("noise", summary="none")
    with pytest.raises(ValueError, match="summary"):
        run.define_metric("x", summary="median")
    for epoch, (loss, acc) in enumerate([(3.0, 0.5), (1.0, 0.9), (2.0, 0.7)]):
        run.log({"val/loss": loss, "train/acc": acc, "noise": 1.0, "epoch": epoch})
    assert run.summary["val/loss"] == {"min": 1.0, "max": 3.0, "mean": 2.0, "first": 3.0}
    run.finish()
    record = _record(tmp_path, run.id)
    assert record["metric_defs"]["val/*"] == {"step_metric": "epoch"}
    assert record["summary"]["train/acc"] == {"best": 0.9}
    assert "noise" not in record["summary"]
    row = wb.runs(root=tmp_path, where="summary.val/loss.min = 1").iloc[0]
    assert row["summary.val/loss.min"] == 1.0 and row["summary.val/loss.mean"] == 2.0
    assert row["summary.val/loss"] == 2.0  # the plain key stays the last value


def test_alerts_are_recorded_and_repeats_within_wait_duration_dropped(tmp_path: Path,
                                                                       capfd: pytest.CaptureFixture[str]) -> None:
    import datetime

    run = wb.init(root=tmp_path, **QUIET)
    assert run.alert("loss diverged", "NaN at step 12", level="ERROR")
    assert not run.alert("loss diverged", "again", wait_duration=datetime.timedelta(minutes=5))
    assert wb.alert("done\x1b[31m", "<b>ok</b>", wait_duration=60)
    run.finish()
    alerts = _record(tmp_path, run.id)["alerts"]
    assert [(a["title"], a["level"]) for a in alerts] == [("loss diverged", "ERROR"), ("done\x1b[31m", "INFO")]
    err = capfd.readouterr().err
    assert "alert ERROR: loss diverged: NaN at step 12" in err and "\x1b" not in err
    with pytest.raises(ValueError, match="level"):
        wb.init(root=tmp_path, **QUIET).alert("t", "x", level="LOUD")


def test_settings_live_in_workbench_settings() -> None:
    from workbench.settings import Settings, load_settings

    assert Settings and load_settings
    assert "workbench.config" not in sys.modules or not hasattr(sys.modules["workbench.config"], "load_settings")
    with pytest.raises(AttributeError, match=r"moved: use workbench\.settings\.load_settings"):
        _ = wb.config.load_settings


def test_import_workbench_as_wandb_runs_a_quickstart(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import workbench as wandb

        wandb.init(project="quickstart", config={"learning_rate": 0.02, "epochs": 3})
        lr = wandb.config.learning_rate
        for epoch in range(wandb.config.epochs):
            wandb.log({"acc": 0.5 + epoch * 0.1, "loss": lr / (epoch + 1)})
        wandb.config.update({"architecture": "CNN"})
        wandb.summary["best_acc"] = 0.7
        wandb.finish()
    """)
    env = {**os.environ, "WORKBENCH_ROOT": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    [row] = wb.runs(root=tmp_path).to_dict("records")
    assert row["status"] == "completed" and row["config.architecture"] == "CNN" and row["summary.best_acc"] == 0.7
    assert row["summary.acc"] == pytest.approx(0.7)


def test_a_config_the_record_cannot_hold_is_refused_and_the_run_goes_on(tmp_path: Path) -> None:
    run = wb.init(config={"lr": 0.1}, root=tmp_path, **QUIET)
    with pytest.raises(ConfigError, match="config not changed"):
        run.config.update({f"k{i}": "x" * 1_000_000 for i in range(17)})  # over the record's 16 MiB
    assert run.config.as_dict() == {"lr": 0.1}
    run.log({"loss": 1.0})
    run.finish()
    assert _record(tmp_path, run.id)["status"] == "completed"


def test_nested_config_dicts_write_through_and_stale_ones_are_refused(tmp_path: Path) -> None:
    run = wb.init(config={"opt": {"lr": 0.1, "eps": 1e-8}, "sched": {"a": 1}, "nan": float("nan")},
                  root=tmp_path, **QUIET)
    opt = run.config["opt"]
    opt.update({"lr": 0.2}, allow_val_change=True)
    opt |= {"beta": 0.9}
    assert _record(tmp_path, run.id)["config"]["opt"] == {"lr": 0.2, "eps": 1e-8, "beta": 0.9}
    run.config["sched"].clear()
    assert _record(tmp_path, run.id)["config"]["sched"] == {}
    run.config.nan = float("nan")  # the same value: no change, no error
    run.config.update({"opt": "adam"}, allow_val_change=True)
    with pytest.raises(ConfigError, match="no longer a dict"):
        opt["lr"] = 0.5  # a stale handle does not overwrite "adam"
    assert _record(tmp_path, run.id)["config"]["opt"] == "adam"
    run.finish()


def test_summary_none_and_name_collisions_in_queries(tmp_path: Path) -> None:
    run = wb.init(root=tmp_path, **QUIET)
    run.define_metric("acc", summary="none")
    run.define_metric("loss", summary="min")
    run.log({"acc": 0.5, "loss": 2.0})
    run.log({"loss": 1.0})
    run.summary["loss.min"] = 123.0  # a real key of the name define_metric's aggregate would take
    run.finish()
    frame = wb.runs(root=tmp_path, where="summary.loss.min > 0")
    assert len(frame) == 1 and frame.iloc[0]["summary.loss.min"] == 123.0
    assert "summary.acc" not in frame.columns


def test_resume_continues_after_steps_the_record_never_saw(tmp_path: Path) -> None:
    # a process killed after a segment was written but before its record was: the segment wins
    code = textwrap.dedent(f"""
        import os, workbench as wb
        run = wb.init(id="killed", root={str(tmp_path)!r}, capture_output=False, system_metrics=False,
                      heartbeat_interval=3600)
        for step in range(5):
            run.log({{"loss": float(step)}})
        run._flush(explicit=True)
        run.log({{"loss": 5.0}})
        run._take_buffer(); run._write_backlog()  # the segment, not the record
        os._exit(9)
    """)
    subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    assert _record(tmp_path, "killed")["metrics"]["loss"]["step"] == 4
    run = wb.init(id="killed", resume="must", root=tmp_path, **QUIET)
    assert run.step == 6  # after the step only the segment had
    run.log({"loss": 6.0})
    run.finish()
    points = wb.history("killed", keys=["loss"], root=tmp_path)
    assert points.step.tolist() == [0, 1, 2, 3, 4, 5, 6]


def test_a_disabled_run_checks_like_a_real_one(tmp_path: Path) -> None:
    run = wb.init(mode="disabled", root=tmp_path, **QUIET)
    run.summary.best = 1.0
    wb.summary.worst = 0.0
    assert run.summary == {"best": 1.0, "worst": 0.0}
    with pytest.raises(TypeError, match="'text'"):
        run.log({"text": "a string"})
    with pytest.raises(ValueError, match="step"):
        run.log({"a": 1.0}, step=-5)
    run.finish()
