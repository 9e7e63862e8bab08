"""W&B scripts run unchanged but for the import line, against a real store.

Each script in ``wandb_scripts/`` is a W&B script as its users write it, first line
``import wandb``. The test writes a copy whose first line is
``import workbench.compat.wandb as wandb`` into a temporary working directory, runs it as a
subprocess with ``WORKBENCH_ROOT`` set to a fresh store, and then reads that store: config,
metric history (the steps), summary, status, artifacts and lineage.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import workbench as wb

SCRIPTS = Path(__file__).parent / "wandb_scripts"
IMPORT = "import workbench.compat.wandb as wandb"


def _env(store: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "WORKBENCH_"))}
    env["WORKBENCH_ROOT"] = str(store)
    env.update(extra or {})
    return env


def run_script(name: str, tmp_path: Path, *args: str, env: dict[str, str] | None = None, rc: int = 0,
               import_line: str = IMPORT) -> subprocess.CompletedProcess[str]:
    """Run ``wandb_scripts/<name>`` with only its first line replaced; check its exit status."""
    lines = (SCRIPTS / name).read_text().splitlines(keepends=True)
    assert lines[0] == "import wandb\n"
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    script = work / name
    script.write_text(import_line + "\n" + "".join(lines[1:]))
    done = subprocess.run([sys.executable, str(script), *args], cwd=work, env=_env(tmp_path / "store", env),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == rc, f"{name} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    if rc == 0:
        assert "Traceback" not in done.stderr, done.stderr
    return done


def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


def only_run(tmp_path: Path, project: str) -> dict[str, Any]:
    frame = wb.runs(project=project, root=store(tmp_path))
    assert len(frame) == 1, frame
    return wb.get_run(frame["run_id"][0], root=store(tmp_path))


def points(tmp_path: Path, run_id: str, key: str) -> list[tuple[int, float]]:
    frame = wb.history(run_id, keys=[key], root=store(tmp_path)).sort_values("step")
    return [(int(s), float(v)) for s, v in zip(frame["step"], frame["value"])]


# -- the corpus is W&B code ---------------------------------------------------------------------------

def test_corpus_differs_from_wandb_only_in_the_import_line() -> None:
    scripts = sorted(SCRIPTS.glob("*.py"))
    assert len(scripts) >= 12
    for script in scripts:
        lines = script.read_text().splitlines()
        assert lines[0] == "import wandb", script.name
        assert not any("workbench" in line for line in lines), f"{script.name} mentions workbench"


# -- one test per pattern -----------------------------------------------------------------------------

def test_quickstart(tmp_path: Path) -> None:
    run_script("quickstart.py", tmp_path)
    record = only_run(tmp_path, "quickstart")
    assert record["status"] == "completed"
    assert record["config"] == {"learning_rate": 0.02, "architecture": "CNN", "dataset": "CIFAR-100", "epochs": 10}
    acc = points(tmp_path, record["id"], "acc")
    assert [s for s, _ in acc] == list(range(10))
    assert record["summary"]["acc"] == pytest.approx(acc[-1][1])
    assert record["summary"]["loss"] == pytest.approx(points(tmp_path, record["id"], "loss")[-1][1])


def test_quickstart_with_import_workbench_as_wandb(tmp_path: Path) -> None:
    # the core alone is W&B-shaped for init/config/log/finish
    run_script("quickstart.py", tmp_path, import_line="import workbench as wandb")
    record = only_run(tmp_path, "quickstart")
    assert record["status"] == "completed" and record["config"]["epochs"] == 10
    assert [s for s, _ in points(tmp_path, record["id"], "loss")] == list(range(10))


def test_context_manager(tmp_path: Path) -> None:
    run_script("context_manager.py", tmp_path)
    record = only_run(tmp_path, "ctx")
    assert record["status"] == "completed" and record["name"] == "with-block"
    assert record["config"] == {"batch_size": 32, "optimizer": "adam"}
    assert [s for s, _ in points(tmp_path, record["id"], "train/acc")] == [0, 1, 2, 3, 4]
    assert record["summary"]["best_acc"] == pytest.approx(0.9)
    assert record["summary"]["train/loss"] == pytest.approx(0.1)


def test_argparse_config(tmp_path: Path) -> None:
    done = run_script("argparse_config.py", tmp_path, "--lr", "0.01", "--batch-size", "64")
    assert "lr is 0.01 batch size 64" in done.stdout
    record = only_run(tmp_path, "argparse")
    assert record["config"] == {"lr": 0.01, "batch_size": 64, "model": "resnet18"}
    loss = points(tmp_path, record["id"], "loss")
    assert [s for s, _ in loss] == [0, 1, 2] and [v for _, v in loss] == pytest.approx([0.03, 0.02, 0.01])


def test_config_updates_after_init(tmp_path: Path) -> None:
    run_script("config_updates.py", tmp_path)
    record = only_run(tmp_path, "config-updates")
    assert record["config"] == {"lr": 0.05, "model": {"layers": 2, "width": 64}, "epochs": 3, "dropout": 0.25,
                                "seed": 1234, "warmup": 10, "patience": 2}
    assert [v for _, v in points(tmp_path, record["id"], "loss")] == pytest.approx([0.05, 0.025, 0.05 / 3])
    frame = wb.runs(where="config.lr = 0.05 and config.model.width = 64", root=store(tmp_path))
    assert list(frame["run_id"]) == [record["id"]]


def test_sweep_style_config_reads(tmp_path: Path) -> None:
    run_script("sweep_style.py", tmp_path)
    record = only_run(tmp_path, "sweep-style")
    assert record["config"] == {"dropout": 0.5, "channels_one": 16, "batch_size": 100, "learning_rate": 0.001,
                                "epochs": 4}
    assert [s for s, _ in points(tmp_path, record["id"], "val_loss")] == [0, 1, 2, 3]
    assert record["summary"]["momentum"] == 0.9 and record["summary"]["epoch"] == 3


def test_commit_false_keeps_the_step_open(tmp_path: Path) -> None:
    run_script("commit_false.py", tmp_path)
    record = only_run(tmp_path, "commit")
    for key in ("train/loss", "train/lr", "images_seen"):
        assert [s for s, _ in points(tmp_path, record["id"], key)] == [0, 1, 2], key
    assert record["summary"]["images_seen"] == 96


def test_explicit_steps(tmp_path: Path) -> None:
    run_script("explicit_step.py", tmp_path)
    record = only_run(tmp_path, "steps")
    assert [s for s, _ in points(tmp_path, record["id"], "train/loss")] == [10, 20, 30]
    assert [s for s, _ in points(tmp_path, record["id"], "train/grad_norm")] == [10, 20, 30]
    assert points(tmp_path, record["id"], "eval/acc") == [(30, 0.9)]


def test_define_metric(tmp_path: Path) -> None:
    run_script("define_metric.py", tmp_path)
    record = only_run(tmp_path, "define-metric")
    summary = record["summary"]
    assert summary["val/loss"] == {"min": pytest.approx(0.4)}
    assert summary["val/acc"] == {"max": pytest.approx(0.8)}
    assert summary["train/loss"] == {"mean": pytest.approx(2.5), "last": pytest.approx(4.0)}
    assert record["metric_defs"]["val/*"]["step_metric"] == "epoch"
    assert len(points(tmp_path, record["id"], "train/loss")) == 12
    assert [v for _, v in points(tmp_path, record["id"], "epoch")] == [0, 1, 2]


def test_summary_set_by_hand(tmp_path: Path) -> None:
    run_script("summary_by_hand.py", tmp_path)
    summary = only_run(tmp_path, "summary")["summary"]
    assert summary["best_accuracy"] == pytest.approx(0.78) and summary["best_epoch"] == 1
    assert summary["test_acc"] == pytest.approx(0.77) and summary["params"] == 1200
    assert summary["notes_len"] == 3 and summary["final_lr"] == pytest.approx(0.001)
    assert summary["val_acc"] == pytest.approx(0.74)


def test_resume_continues_the_run_in_a_second_process(tmp_path: Path) -> None:
    first = run_script("resume.py", tmp_path, "--preempt", rc=1)
    assert "new run at epoch 0" in first.stdout
    assert wb.get_run("resume-demo-1", root=store(tmp_path))["status"] == "failed"
    second = run_script("resume.py", tmp_path)
    assert "resumed at epoch 3" in second.stdout
    record = only_run(tmp_path, "resume")
    assert record["id"] == "resume-demo-1" and record["status"] == "completed"
    assert record["config"] == {"lr": 0.1, "epochs": 6}
    assert points(tmp_path, record["id"], "epoch") == [(s, s) for s in range(6)]
    assert record["summary"]["epoch"] == 5


def test_group_and_job_type(tmp_path: Path) -> None:
    run_script("group_job_type.py", tmp_path)
    frame = wb.runs(project="grouped", root=store(tmp_path))
    records = sorted((wb.get_run(i, root=store(tmp_path)) for i in frame["run_id"]), key=lambda r: r["name"])
    assert [(r["name"], r["group"], r["job_type"], r["status"]) for r in records] == [
        ("exp1-eval", "experiment-1", "eval", "completed"), ("exp1-train", "experiment-1", "train", "completed")]
    assert records[1]["summary"] == {"train/score": 1.0}


def test_tags_notes_and_name(tmp_path: Path) -> None:
    run_script("tags_notes.py", tmp_path)
    record = only_run(tmp_path, "tags")
    assert sorted(record["tags"]) == ["augmented", "baseline", "cnn"]
    assert record["notes"] == "first try with a small CNN; augmentation on"
    assert record["name"] == "baseline-aug"


def test_artifacts_logged_in_one_run_and_used_in_another(tmp_path: Path) -> None:
    done = run_script("artifact_producer.py", tmp_path)
    assert "logged reviews:v0 v0" in done.stdout  # W&B numbering: the first version is v0
    run_script("artifact_consumer.py", tmp_path)
    root = store(tmp_path)
    frame = wb.runs(project="artifacts", root=root)
    by_job = {wb.get_run(i, root=root)["job_type"]: wb.get_run(i, root=root) for i in frame["run_id"]}
    producer, consumer = by_job["dataset-upload"], by_job["train"]
    reviews = wb.artifact("reviews:latest", root=root)
    assert reviews.version == 1 and reviews.type == "dataset" and "raw" in reviews.aliases
    assert sorted(f.path for f in reviews.files) == ["README.txt", "extra/vocab.txt", "train.csv"]
    assert reviews.metadata["rows"] == 2 and reviews.metadata["wandb.description"] == "two reviews"
    assert reviews.producer == producer["id"]
    assert reviews.used_by() == [consumer["id"]]
    model = wb.artifact("tiny-model:v1", root=root)
    assert model.producer == producer["id"] and model.used_by() == [consumer["id"]]
    assert consumer["summary"]["rows"] == 2 and consumer["summary"]["vocab"] == 3
    assert consumer["summary"]["model_bytes"] > 0


def test_disabled_mode_writes_nothing(tmp_path: Path) -> None:
    run_script("disabled.py", tmp_path)
    assert not (store(tmp_path) / "runs").exists() or not any((store(tmp_path) / "runs").iterdir())


def test_wandb_mode_disabled_env_turns_any_script_off(tmp_path: Path) -> None:
    run_script("quickstart.py", tmp_path, env={"WANDB_MODE": "disabled"})
    assert not (store(tmp_path) / "runs").exists() or not any((store(tmp_path) / "runs").iterdir())


def test_reinit_loop_makes_one_run_each(tmp_path: Path) -> None:
    run_script("reinit_loop.py", tmp_path)
    frame = wb.runs(project="reinit", root=store(tmp_path))
    records = [wb.get_run(i, root=store(tmp_path)) for i in frame["run_id"]]
    assert sorted(r["config"]["lr"] for r in records) == [0.001, 0.01, 0.1]
    assert {r["status"] for r in records} == {"completed"}
    for r in records:
        assert r["summary"]["final_lr"] == r["config"]["lr"]
        assert [s for s, _ in points(tmp_path, r["id"], "loss")] == [0, 1]


def test_alert_is_recorded(tmp_path: Path) -> None:
    done = run_script("alert.py", tmp_path)
    record = only_run(tmp_path, "alerts")
    alerts = record["alerts"]
    assert len(alerts) == 1  # the second is within wait_duration of the first
    assert alerts[0]["title"] == "Low accuracy" and alerts[0]["level"] == "WARN"
    assert "Accuracy 0.7" in alerts[0]["text"]
    assert "Low accuracy" in done.stderr


def test_numpy_values_text_and_nested_dicts_and_watch(tmp_path: Path) -> None:
    done = run_script("numpy_values.py", tmp_path)
    assert done.stderr.count("wandb.watch()") == 1  # one line per process
    record = only_run(tmp_path, "numpy")
    summary = record["summary"]
    assert summary["loss"] == pytest.approx(0.5 / 3) and summary["correct"] == 20
    assert summary["mean_act"] == pytest.approx(0.25) and summary["converged"] == 1
    assert summary["phase"] == "train"  # text goes to the summary, not the history
    assert summary["val.loss"] == pytest.approx(0.8) and summary["val.acc"] == 0.5
    assert [s for s, _ in points(tmp_path, record["id"], "val.loss")] == [0, 1, 2]
    assert wb.history(record["id"], keys=["phase"], root=store(tmp_path)).empty


def test_wandb_environment_variables(tmp_path: Path) -> None:
    run_script("env_vars.py", tmp_path, env={
        "WANDB_PROJECT": "from-env", "WANDB_NAME": "env-run", "WANDB_TAGS": "a,b", "WANDB_NOTES": "set by env",
        "WANDB_RUN_GROUP": "g1", "WANDB_JOB_TYPE": "eval", "WANDB_RUN_ID": "env-run-1", "WANDB_ENTITY": "team"})
    record = only_run(tmp_path, "from-env")
    assert (record["id"], record["name"], sorted(record["tags"]), record["notes"], record["group"],
            record["job_type"]) == ("env-run-1", "env-run", ["a", "b"], "set by env", "g1", "eval")


def test_save_copies_files_into_the_run(tmp_path: Path) -> None:
    run_script("save_files.py", tmp_path)
    record = only_run(tmp_path, "files")
    files = store(tmp_path) / "runs" / record["id"] / "files"
    assert (files / "model-1.bin").read_bytes() == b"\x00" * 16
    assert (files / "model-2.bin").read_bytes() == b"\x01" * 8  # made after save(): copied at finish
    assert (files / "notes.txt").read_text() == "written into run.dir\n"
    assert (files / "model-1.bin").stat().st_mode & 0o077 == 0


# -- what is not there says so ----------------------------------------------------------------------

def test_missing_features_raise_clear_errors() -> None:
    from workbench.compat import wandb
    from workbench.errors import WorkbenchError

    with pytest.raises(wandb.NoRun, match=r"call wandb.init\(\) first"):
        _ = wandb.config["lr"]
    with pytest.raises(wandb.NoRun):
        wandb.log({"loss": 1.0})
    assert wandb.run is None
    wandb.finish()  # nothing to finish: no error, as in W&B
    for media in (wandb.Video, wandb.Object3D, wandb.Molecule, wandb.Plotly):  # the others are media now
        with pytest.raises(wandb.MediaNotAvailable, match="later release"):
            media([1, 2, 3])
    with pytest.raises(wandb.MediaNotAvailable):
        wandb.plot.line_series(xs=[1], ys=[[1]])
    with pytest.raises(wandb.Unsupported, match=r"workbench.runs"):
        wandb.Api()
    for call in (wandb.sweep, wandb.agent):
        with pytest.raises(wandb.Unsupported, match="Optuna"):
            call({"method": "grid"})
    assert issubclass(wandb.Unsupported, WorkbenchError) and wandb.Error is WorkbenchError
    assert wandb.login() is True and wandb.Settings(start_method="thread").start_method == "thread"


def test_import_workbench_does_not_import_compat() -> None:
    code = "import sys, workbench; print(sorted(m for m in sys.modules if m.startswith(('workbench.compat', 'wandb'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_artifact_refs_and_building(tmp_path: Path) -> None:
    from workbench.compat._wandb_artifact import from_wandb_ref
    from workbench.compat.wandb import Artifact
    from workbench.errors import ArtifactError

    assert from_wandb_ref("team/project/reviews:v0") == "reviews:v1"  # W&B's v0 is workbench's version 1
    assert from_wandb_ref("reviews:v12") == "reviews:v13"
    assert from_wandb_ref("reviews:best") == "reviews:best" and from_wandb_ref("reviews") == "reviews"
    art = Artifact("reviews", type="dataset")
    with pytest.raises(ArtifactError, match="not a file"):
        art.add_file(tmp_path)
    with pytest.raises(ArtifactError, match="inside the artifact"):
        art.add_file(__file__, name="../escape.py")
    with art.new_file("notes/readme.txt") as handle:
        handle.write("hello")
    art.add_file(__file__, name="code/test.py")
    assert art.files() == ["code/test.py", "notes/readme.txt"] and art.state == "PENDING"
    with pytest.raises(ArtifactError, match="log it first"):
        _ = art.version
