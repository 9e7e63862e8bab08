"""The logging API: values, keys, steps, summary, tags, notes, config, lifecycle, capture,
environment and attaching to a launched run. Real files under tmp_path, real subprocesses."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import require_module, require_program

import workbench as wb
from workbench.errors import StoreError, WorkbenchError
from workbench.store._paths import FORMAT, Layout, new_run_id
from workbench.store.records import create_record, read_record

# in-process runs: no tee of pytest's own streams, no psutil sampling, quick flushes
QUIET = {"flush_interval": 0.05, "system_metrics": False, "capture_output": False, "fsync": False}


@pytest.fixture
def make_run(root: Path) -> Iterator[Any]:
    """``make_run(**init_kwargs)``: a run in ``root``; every run is finished at teardown."""
    made: list[wb.Run] = []

    def make(**kwargs: Any) -> wb.Run:
        run = wb.init(root=root, **{**QUIET, **kwargs})
        made.append(run)
        return run

    yield make
    for run in made:
        run.finish()


def record_of(root: Path, run_id: str) -> dict[str, Any]:
    return read_record(Layout(root), run_id)


def points(root: Path, run_id: str, key: str | None = None) -> Any:
    frame = wb.history(run_id, keys=key, root=root)
    return frame.sort_values(["key", "step"], kind="stable").reset_index(drop=True)


def run_script(tmp_path: Path, code: str, *args: str, env: dict[str, str] | None = None,
               cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    script = tmp_path / f"script_{time.monotonic_ns()}.py"
    script.write_text(textwrap.dedent(code))
    full_env = {**os.environ, "WORKBENCH_SYSTEM_METRICS": "0", **(env or {})}
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or tmp_path, timeout=timeout, check=False)


# -- values ---------------------------------------------------------------------------------------

GOOD_VALUES: list[tuple[str, Any, float]] = [
    ("int", 3, 3.0),
    ("negative_int", -7, -7.0),
    ("float", 0.25, 0.25),
    ("true", True, 1.0),
    ("false", False, 0.0),
    ("np_float64", np.float64(1.5), 1.5),
    ("np_float32", np.float32(0.5), 0.5),
    ("np_float16", np.float16(2.0), 2.0),
    ("np_longdouble", np.longdouble(4.5), 4.5),
    ("np_int64", np.int64(-4), -4.0),
    ("np_int8", np.int8(8), 8.0),
    ("np_uint64", np.uint64(2**40), float(2**40)),
    ("np_bool", np.bool_(True), 1.0),
    ("np_0d_float", np.array(6.25), 6.25),
    ("np_0d_int", np.array(9, dtype=np.int32), 9.0),
    ("np_0d_bool", np.array(False), 0.0),
]


def test_numbers_of_every_kind_read_back(make_run: Any, root: Path) -> None:
    run = make_run()
    run.log({name: value for name, value, _ in GOOD_VALUES}, step=0)
    # the fast path (every key known, every type fast) must store the same numbers
    run.log({name: value for name, value, _ in GOOD_VALUES}, step=1)
    run.finish()
    frame = points(root, run.id)
    assert frame["value"].dtype == np.float64
    for name, _, expected in GOOD_VALUES:
        got = frame[frame.key == name]
        assert got["step"].tolist() == [0, 1], name
        assert got["value"].tolist() == [expected, expected], name
    record = record_of(root, run.id)
    assert record["summary"]["np_longdouble"] == 4.5
    assert record["summary"]["np_bool"] == 1.0


def test_nan_and_infinities_are_kept(make_run: Any, root: Path) -> None:
    run = make_run()
    run.log({"nan": float("nan"), "inf": math.inf, "ninf": -math.inf, "np_nan": np.float32("nan")})
    run.log({"nan": 1.0, "inf": 2.0, "ninf": 3.0, "np_nan": np.nan})
    run.finish()
    frame = points(root, run.id)
    series = {key: group["value"].tolist() for key, group in frame.groupby("key")}
    assert math.isnan(series["nan"][0]) and series["nan"][1] == 1.0
    assert series["inf"] == [math.inf, 2.0]
    assert series["ninf"] == [-math.inf, 3.0]
    assert all(math.isnan(v) for v in series["np_nan"])
    record = record_of(root, run.id)
    assert math.isnan(record["summary"]["np_nan"])
    assert record["metrics"]["inf"]["max"] == math.inf
    assert record["metrics"]["ninf"]["min"] == -math.inf
    assert record["metrics"]["nan"]["min"] == 1.0  # NaN is no minimum
    table = wb.runs(root=root)
    assert math.isnan(table.loc[0, "summary.np_nan"])
    assert len(wb.runs(where="summary.ninf = 3", root=root)) == 1


def test_an_int_beyond_float64_does_not_lose_the_run(make_run: Any, root: Path) -> None:
    # 10**400 has no float64: it is stored as +-inf, and the other points are not lost
    run = make_run()
    run.log({"a": 1.0})
    run.log({"a": 2.0, "big": 10**400, "small": -(10**400)})
    run.log({"a": 10**400})  # every key known and int is a fast type: the fast path
    run.finish()
    assert "warnings" not in record_of(root, run.id)
    frame = points(root, run.id)
    assert frame[frame.key == "a"]["value"].tolist() == [1.0, 2.0, math.inf]
    assert frame[frame.key == "big"]["value"].tolist() == [math.inf]
    assert frame[frame.key == "small"]["value"].tolist() == [-math.inf]


def test_zero_d_torch_tensors(make_run: Any, root: Path) -> None:
    torch = require_module("torch")
    run = make_run()
    weight = torch.tensor(2.0, requires_grad=True)
    run.log({
        "float": torch.tensor(0.5),
        "double": torch.tensor(0.25, dtype=torch.float64),
        "half": torch.tensor(1.5, dtype=torch.float16),
        "bfloat": torch.tensor(3.0, dtype=torch.bfloat16),
        "int": torch.tensor(7),
        "bool": torch.tensor(True),
        "grad": weight * 3,
    })
    with pytest.raises(TypeError, match=r"'vector'.*shape"):
        run.log({"vector": torch.tensor([1.0])})
    with pytest.raises(TypeError, match="'complex'"):
        run.log({"complex": torch.tensor(1 + 2j)})
    run.finish()
    frame = points(root, run.id)
    assert dict(zip(frame.key, frame.value, strict=True)) == {
        "bfloat": 3.0, "bool": 1.0, "double": 0.25, "float": 0.5, "grad": 6.0, "half": 1.5, "int": 7.0}


class _Weird:
    pass


BAD_VALUES: list[tuple[str, Any]] = [
    ("text", "0.5"),
    ("none", None),
    ("list", [1.0]),
    ("bytes", b"1"),
    ("complex", 1 + 2j),
    ("np_complex", np.complex64(1)),
    ("np_vector", np.array([1.0, 2.0])),
    ("np_1x1", np.ones((1, 1))),
    ("np_text", np.array("3")),
    ("np_object", np.array(None, dtype=object)),
    ("np_datetime", np.datetime64("2024-01-01")),
    ("object", _Weird()),
]


@pytest.mark.parametrize(("key", "value"), BAD_VALUES, ids=[k for k, _ in BAD_VALUES])
def test_a_bad_value_is_a_type_error_naming_the_key_and_logs_nothing(
        make_run: Any, root: Path, key: str, value: Any) -> None:
    run = make_run()
    run.log({"good": 1.0, key: 1.0})  # the key is known now: the check must not rely on that
    with pytest.raises(TypeError) as info:
        run.log({"good": 2.0, key: value})
    assert repr(key) in str(info.value)
    with pytest.raises(TypeError, match=repr(key)):
        run.log({"good": 3.0, key: value}, step=50)
    run.log({"good": 4.0})
    run.finish()
    frame = points(root, run.id, "good")
    # nothing from the failed calls, and they did not use up a step
    assert frame[["step", "value"]].values.tolist() == [[0, 1.0], [1, 4.0]]
    assert record_of(root, run.id)["metrics"]["good"]["count"] == 2


@pytest.mark.parametrize("data", ["loss", ["loss"], {"loss"}, 3.0, None], ids=repr)
def test_log_takes_a_mapping(make_run: Any, data: Any) -> None:
    run = make_run()
    run.log({"loss": 1.0})
    with pytest.raises(TypeError, match="dict"):
        run.log(data)


BAD_KEYS: list[Any] = [1, None, ("a",), "", "a\nb", "tab\tkey", "x" * 300, "del\x7f"]


@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
def test_a_bad_key_is_refused_naming_it(make_run: Any, root: Path, key: Any) -> None:
    run = make_run()
    with pytest.raises((TypeError, ValueError)) as info:
        run.log({"good": 1.0, key: 2.0})
    shown = repr(key) if not (isinstance(key, str) and len(key) > 40) else repr(key[:40])
    assert shown in str(info.value)
    run.log({"good": 5.0})
    run.finish()
    frame = points(root, run.id)
    assert frame[["key", "step", "value"]].values.tolist() == [["good", 0, 5.0]]


def test_keys_with_slashes_dots_spaces_and_unicode(make_run: Any, root: Path) -> None:
    keys = ["val/loss", "train.acc", "with space", "ünïcødé", "x" * 256]
    run = make_run()
    run.log({k: float(i) for i, k in enumerate(keys)})
    run.finish()
    frame = points(root, run.id)
    assert sorted(frame.key) == sorted(keys)
    assert set(record_of(root, run.id)["summary"]) == set(keys)


# -- steps ----------------------------------------------------------------------------------------

def test_steps_auto_increment_and_follow_explicit_steps(make_run: Any, root: Path) -> None:
    run = make_run()
    run.log({"a": 0.0})                 # 0
    run.log({"a": 1.0})                 # 1
    run.log({"a": 10.0}, step=10)       # 10
    run.log({"a": 11.0})                # 11
    run.log({"b": 5.0}, step=5)         # an earlier step is allowed and does not move the counter
    run.log({"a": 12.0})                # 12
    run.log({"a": 20.0}, step=np.int64(20))
    run.log({"a": 21.0})                # 21
    run.log({"a": 30.0}, step=30.0)     # an integral float is fine
    run.log({"a": 31.0})
    run.finish()
    frame = points(root, run.id)
    assert frame[frame.key == "a"]["step"].tolist() == [0, 1, 10, 11, 12, 20, 21, 30, 31]
    assert frame[frame.key == "b"]["step"].tolist() == [5]


@pytest.mark.parametrize(("step", "error"), [(-1, ValueError), (-(2**40), ValueError), (1.5, TypeError),
                                             ("3", TypeError), (True, TypeError), (None, None)])
def test_bad_steps_are_refused_and_log_nothing(make_run: Any, root: Path, step: Any,
                                               error: type[Exception] | None) -> None:
    run = make_run()
    run.log({"a": 1.0})
    if error is not None:
        with pytest.raises(error, match="step"):
            run.log({"a": 2.0}, step=step)
    run.log({"a": 3.0})
    run.finish()
    assert points(root, run.id)["step"].tolist() == [0, 1]


def test_points_logged_twice_at_one_step_are_all_kept_in_order(make_run: Any, root: Path) -> None:
    run = make_run()
    for value in (1.0, 2.0, 3.0):
        run.log({"a": value}, step=7)
    run.flush()
    run.log({"a": 4.0}, step=7)
    run.finish()
    frame = points(root, run.id)
    assert frame["value"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert record_of(root, run.id)["summary"]["a"] == 4.0


# -- summary --------------------------------------------------------------------------------------

def test_summary_holds_last_values_and_pinned_values_stay(make_run: Any, root: Path) -> None:
    run = make_run()
    run.log({"loss": 1.0, "acc": 0.1})
    run.log({"loss": 0.5})
    assert run.summary["loss"] == 0.5
    assert run.summary["acc"] == 0.1
    run.summary["best_acc"] = 0.9
    run.summary["loss"] = 0.123     # set by hand: pinned
    run.log({"loss": 0.01, "acc": 0.2})
    run.flush()
    assert dict(run.summary) == {"loss": 0.123, "acc": 0.2, "best_acc": 0.9}
    with pytest.raises(KeyError):
        run.summary["missing"]
    run.summary["tmp"] = "x"
    del run.summary["tmp"]
    run.finish()
    record = record_of(root, run.id)
    assert record["summary"] == {"loss": 0.123, "acc": 0.2, "best_acc": 0.9}
    assert record["metrics"]["loss"] == {"count": 3, "min": 0.01, "max": 1.0, "last": 0.01, "step": 2}
    table = wb.runs(root=root)
    assert table.loc[0, "summary.loss"] == 0.123
    assert table.loc[0, "summary.best_acc"] == 0.9
    stats = wb.sql(f"select key, value, min, max, count from summaries where run_id = '{run.id}' "
                   "order by key", root=root)
    rows = [[None if pd.isna(v) else v for v in row] for row in stats.values.tolist()]
    assert rows == [["acc", 0.2, 0.1, 0.2, 2], ["best_acc", 0.9, None, None, None],
                    ["loss", 0.123, 0.01, 1.0, 3]]


def test_summary_is_the_value_at_the_highest_step(make_run: Any, root: Path) -> None:
    run = make_run()
    run.log({"a": 1.0}, step=10)
    run.log({"a": 2.0}, step=3)
    assert run.summary["a"] == 1.0
    run.log({"a": 3.0}, step=2)  # a later flush with a lower step
    run.finish()
    assert record_of(root, run.id)["summary"]["a"] == 1.0
    assert record_of(root, run.id)["metrics"]["a"]["step"] == 10


def test_summary_values_of_any_json_kind(make_run: Any, root: Path) -> None:
    run = make_run()
    run.summary["label"] = "good"
    run.summary["flag"] = True
    run.summary["scores"] = [1, 2]
    run.finish()
    row = wb.runs(root=root).iloc[0]
    assert row["summary.label"] == "good"
    assert row["summary.flag"] is True or row["summary.flag"] == True  # noqa: E712
    assert list(row["summary.scores"]) == [1, 2]


# -- tags, notes, config --------------------------------------------------------------------------

def test_tags_and_notes_setters_are_persisted(make_run: Any, root: Path) -> None:
    run = make_run(tags="first", notes="start")
    assert run.tags == ["first"]
    run.tags = ["a", "b", "a"]
    run.notes = "changed"
    run.flush()
    record = record_of(root, run.id)
    assert record["tags"] == ["a", "b"]
    assert record["notes"] == "changed"
    found = wb.runs(where="tags contains 'b' and notes contains 'CHANGED'", root=root)
    assert found["run_id"].tolist() == [run.id]
    with pytest.raises(TypeError):
        run.tags = ["ok", ""]
    with pytest.raises(ValueError, match="control"):
        run.tags = ["bad\ntag"]
    with pytest.raises(TypeError):
        run.notes = 3  # type: ignore[assignment]
    run.finish()
    record = record_of(root, run.id)
    assert (record["tags"], record["notes"], record["status"]) == (["a", "b"], "changed", "completed")


def test_init_checks_its_arguments(root: Path) -> None:
    with pytest.raises(TypeError):
        wb.init(root=root, tags=["ok", 3], **QUIET)
    with pytest.raises(TypeError):
        wb.init(root=root, notes=5, **QUIET)
    with pytest.raises(TypeError, match="config"):
        wb.init(root=root, config=5, **QUIET)
    with pytest.raises(wb.ConfigError):
        wb.init(root=root, no_such_setting=1, **QUIET)
    assert not (root / "runs").exists() or not list((root / "runs").iterdir())


@dataclasses.dataclass
class Optim:
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.99)


@dataclasses.dataclass
class TrainConfig:
    optim: Optim
    epochs: int = 3
    model: str = "tiny"


def test_config_nested_dict(make_run: Any, root: Path) -> None:
    run = make_run(config={"lr": 0.1, "optim": {"name": "adam", "betas": {"b1": 0.9}}, "layers": [1, 2],
                           "out": Path("/tmp/out"), "none": None})
    run.finish()
    record = record_of(root, run.id)
    assert record["config"] == {"lr": 0.1, "optim": {"name": "adam", "betas": {"b1": 0.9}}, "layers": [1, 2],
                                "out": "/tmp/out", "none": None}
    assert run.config["optim"]["name"] == "adam"
    row = wb.runs(root=root).iloc[0]
    assert row["config.optim.betas.b1"] == 0.9
    assert row["config.optim.name"] == "adam"
    assert list(row["config.layers"]) == [1, 2]
    assert len(wb.runs(where="config.optim.betas.b1 = 0.9 and config.optim.name = 'adam'", root=root)) == 1


def test_config_dataclass(make_run: Any, root: Path) -> None:
    run = make_run(config=TrainConfig(optim=Optim(lr=3e-4)))
    run.finish()
    assert record_of(root, run.id)["config"] == {"optim": {"lr": 3e-4, "betas": [0.9, 0.99]}, "epochs": 3,
                                                 "model": "tiny"}
    assert wb.runs(where="config.optim.lr < 1e-3", root=root)["run_id"].tolist() == [run.id]


def test_config_argparse_namespace(make_run: Any, root: Path) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--amp", action="store_true")
    run = make_run(config=parser.parse_args(["--lr", "0.5", "--amp"]))
    run.finish()
    assert record_of(root, run.id)["config"] == {"lr": 0.5, "epochs": 2, "amp": True}
    assert len(wb.runs(where="config.amp = true and config.epochs = 2", root=root)) == 1


# -- lifecycle ------------------------------------------------------------------------------------

def _boom() -> None:
    raise ValueError("boom in training")


def test_an_exception_in_the_with_block_marks_the_run_failed(root: Path) -> None:
    with pytest.raises(ValueError, match="boom"), wb.init(root=root, **QUIET) as run:
        run.log({"loss": 1.0})
        _boom()
    record = record_of(root, run.id)
    assert record["status"] == "failed"
    assert record["error"]["type"] == "ValueError"
    assert record["error"]["message"] == "boom in training"
    assert "Traceback" in record["error"]["traceback"]
    assert "_boom" in record["error"]["traceback"]
    assert record["ended"] >= record["started"]
    assert points(root, run.id)["value"].tolist() == [1.0]  # points before the failure are kept
    assert wb.runs(where="status = 'failed'", root=root)["run_id"].tolist() == [run.id]


def test_keyboard_interrupt_marks_the_run_cancelled(root: Path) -> None:
    with pytest.raises(KeyboardInterrupt), wb.init(root=root, **QUIET) as run:
        run.log({"loss": 1.0})
        raise KeyboardInterrupt
    record = record_of(root, run.id)
    assert record["status"] == "cancelled"
    assert record["error"]["type"] == "KeyboardInterrupt"


def test_finish_twice_is_a_no_op_and_log_after_finish_raises(root: Path) -> None:
    run = wb.init(root=root, **QUIET)
    run.log({"a": 1.0})
    run.finish()
    path = Layout(root).record(run.id)
    before = path.read_bytes()
    journal = (root / "catalog" / "journal").read_bytes()
    run.finish()
    run.finish(status="failed")
    assert path.read_bytes() == before
    assert (root / "catalog" / "journal").read_bytes() == journal
    assert record_of(root, run.id)["status"] == "completed"
    with pytest.raises(WorkbenchError, match=run.id):
        run.log({"a": 2.0})
    assert points(root, run.id)["value"].tolist() == [1.0]


def test_finish_refuses_an_unknown_status(root: Path) -> None:
    run = wb.init(root=root, **QUIET)
    with pytest.raises(ValueError, match="status"):
        run.finish(status="done")
    run.finish(status="cancelled")
    assert record_of(root, run.id)["status"] == "cancelled"


def test_running_runs_have_a_fresh_record_while_they_log(root: Path) -> None:
    run = wb.init(root=root, **{**QUIET, "heartbeat_interval": 0.1})
    try:
        run.log({"a": 1.0})
        deadline = time.monotonic() + 10
        while "a" not in record_of(root, run.id)["summary"]:
            assert time.monotonic() < deadline, "the background flusher never wrote the record"
            time.sleep(0.02)
        first = record_of(root, run.id)["heartbeat"]
        while record_of(root, run.id)["heartbeat"] == first:
            assert time.monotonic() < deadline, "no heartbeat"
            time.sleep(0.02)
        table = wb.runs(root=root)
        assert table["status"].tolist() == ["running"]
        assert table.loc[0, "summary.a"] == 1.0
        assert points(root, run.id)["value"].tolist() == [1.0]
    finally:
        run.finish()


# -- capture and environment (subprocesses) -------------------------------------------------------

@pytest.mark.timeout(60)
def test_stdout_and_stderr_are_teed_into_the_run_logs(tmp_path: Path, root: Path) -> None:
    proc = run_script(tmp_path, """
        import sys
        import workbench as wb
        print("before the run")
        run = wb.init(project="cap")
        print("hello from stdout")
        print("hello from stderr", file=sys.stderr)
        sys.stdout.write("no newline")
        print(run.id)
        run.finish()
        print("after the run")
    """)
    assert proc.returncode == 0, proc.stderr
    out_lines = proc.stdout.splitlines()
    run_id = out_lines[-2].removeprefix("no newline")
    assert "hello from stdout" in proc.stdout and "hello from stderr" in proc.stderr  # still shown
    logs = root / "runs" / run_id / "logs"
    stdout_log = (logs / "stdout.log").read_text()
    assert "hello from stdout\n" in stdout_log and "no newline" in stdout_log
    assert "before the run" not in stdout_log and "after the run" not in stdout_log
    assert "hello from stderr" in (logs / "stderr.log").read_text()


@pytest.mark.timeout(60)
def test_capture_output_can_be_turned_off(tmp_path: Path, root: Path) -> None:
    proc = run_script(tmp_path, """
        import workbench as wb
        run = wb.init(capture_output=False)
        print(run.id)
        run.finish()
    """)
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stdout.split()[-1]
    assert not (root / "runs" / run_id / "logs" / "stdout.log").exists()


_ENV_SCRIPT = """
    import json, os, sys
    import workbench as wb
    run = wb.init(project="env")
    run.log({"x": 1.0})
    run.finish()
    print(json.dumps({"id": run.id, "pid": os.getpid()}))
"""


@pytest.mark.timeout(60)
def test_environment_is_recorded(tmp_path: Path, root: Path) -> None:
    proc = run_script(tmp_path, _ENV_SCRIPT, "--lr", "0.1")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout.splitlines()[-1])
    record = record_of(root, info["id"])
    assert record["host"] == socket.gethostname()
    assert record["pid"] == info["pid"]
    assert record["python"] == platform.python_version()
    assert record["executable"] == sys.executable
    assert record["command"][0] == sys.executable
    assert record["command"][1].endswith(".py") and record["command"][2:] == ["--lr", "0.1"]
    assert record["cwd"] == str(tmp_path)
    assert record["git"] is None  # tmp_path is no git repository
    assert "workbench" in record["packages"] and "numpy" in record["packages"]
    assert record["notebook"] is None
    assert record["format"] == FORMAT


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo,
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.mark.timeout(60)
def test_git_commit_dirty_flag_and_diff(tmp_path: Path, root: Path) -> None:
    require_program("git")
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "train.py").write_text("lr = 0.1\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "first")
    commit = _git(repo, "rev-parse", "HEAD")

    clean = run_script(tmp_path, _ENV_SCRIPT, cwd=repo)
    assert clean.returncode == 0, clean.stderr
    clean_id = json.loads(clean.stdout.splitlines()[-1])["id"]
    record = record_of(root, clean_id)
    assert record["git"] == {"commit": commit, "branch": "main", "dirty": False}
    assert not (root / "runs" / clean_id / "files" / "diff.patch").exists()
    assert wb.runs(where=f"git_commit = '{commit}'", root=root)["run_id"].tolist() == [clean_id]

    (repo / "train.py").write_text("lr = 0.2  # tuned\n")
    (repo / "untracked.txt").write_text("not part of the diff\n")
    dirty = run_script(tmp_path, _ENV_SCRIPT, cwd=repo)
    assert dirty.returncode == 0, dirty.stderr
    dirty_id = json.loads(dirty.stdout.splitlines()[-1])["id"]
    record = record_of(root, dirty_id)
    assert record["git"] == {"commit": commit, "branch": "main", "dirty": True}
    diff = (root / "runs" / dirty_id / "files" / "diff.patch").read_text()
    assert "-lr = 0.1" in diff and "+lr = 0.2  # tuned" in diff
    assert "untracked" not in diff


# -- WORKBENCH_RUN_ID -----------------------------------------------------------------------------

def _queued_run(root: Path, **fields: Any) -> str:
    layout = Layout(root)
    layout.ensure()
    run_id = new_run_id()
    create_record(layout, {
        "format": FORMAT, "id": run_id, "project": "jobs", "name": "launched", "created": time.time(),
        "started": None, "ended": None, "status": "queued", "config": {}, "summary": {}, "metrics": {},
        "tags": ["job"], "notes": "", "remote": None, **fields,
    }, fsync=False)
    return run_id


@pytest.mark.timeout(60)
def test_workbench_run_id_attaches_to_a_queued_run(tmp_path: Path, root: Path) -> None:
    run_id = _queued_run(root, config={"lr": 0.01, "optim": {"name": "sgd", "momentum": 0.9}})
    proc = run_script(tmp_path, """
        import json, os
        import workbench as wb
        run = wb.init(project="ignored", name="mine", config={"lr": 0.5, "epochs": 3,
                      "optim": {"name": "adam", "eps": 1e-8}}, tags=["script"])
        # the script's own defaults for launch keys (argparse, after init) are ignored, with a warning
        run.config.update({"lr": 0.5, "seed": 1})
        for step in range(100):
            run.log({"loss": 1.0 / (step + 1)})
        run.finish()
        print(json.dumps({"id": run.id, "config": run.config, "pid": os.getpid()}))
    """, env={"WORKBENCH_RUN_ID": run_id})
    assert proc.returncode == 0, proc.stderr
    assert "config key 'lr' is set by the launch (0.01); the value 0.5 is ignored" in proc.stderr
    info = json.loads(proc.stdout.splitlines()[-1])
    assert info["id"] == run_id
    merged = {"lr": 0.01, "epochs": 3, "optim": {"name": "sgd", "momentum": 0.9, "eps": 1e-8}, "seed": 1}
    assert info["config"] == merged  # the launch config wins
    record = record_of(root, run_id)
    assert record["config"] == merged
    assert record["status"] == "completed"
    assert record["pid"] == info["pid"]
    assert record["project"] == "jobs" and record["name"] == "launched"
    assert record["tags"] == ["job", "script"]
    assert record["started"] is not None and record["ended"] >= record["started"]
    assert record["metrics"]["loss"]["count"] == 100
    assert len(points(root, run_id)) == 100
    assert [p.name for p in (root / "runs").iterdir()] == [run_id]  # no second run


@pytest.mark.timeout(60)
def test_workbench_run_id_resumes_steps_of_a_crashed_run(tmp_path: Path, root: Path) -> None:
    # a run that already has points (a crashed job retried): new points continue the steps
    code = """
        import workbench as wb
        run = wb.init()
        for _ in range(10):
            run.log({"loss": 1.0})
        run.finish()
    """
    run_id = _queued_run(root)
    first = run_script(tmp_path, code, env={"WORKBENCH_RUN_ID": run_id})
    assert first.returncode == 0, first.stderr
    layout = Layout(root)
    from workbench.store.records import update_record

    update_record(layout, run_id, lambda r: r.update(status="crashed"), fsync=False)
    second = run_script(tmp_path, code, env={"WORKBENCH_RUN_ID": run_id})
    assert second.returncode == 0, second.stderr
    frame = points(root, run_id)
    assert frame["step"].tolist() == list(range(20))
    assert record_of(root, run_id)["metrics"]["loss"]["count"] == 20


def test_workbench_run_id_refuses_finished_missing_and_bad_ids(root: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    done = _queued_run(root, status="completed")
    for bad, pattern in ((done, "completed"), ("0000000000zzzz", "no run"), ("../x", "valid run id"),
                         ("a/b", "valid run id")):
        monkeypatch.setenv("WORKBENCH_RUN_ID", bad)
        with pytest.raises(StoreError, match=pattern):
            wb.init(root=root, **QUIET)
    assert record_of(root, done)["status"] == "completed"
    assert [p.name for p in (root / "runs").iterdir()] == [done]


def test_edits_by_another_writer_survive_the_runs_own_writes(make_run: Any, root: Path) -> None:
    # a notebook edits tags and notes of a live run; the training process writes only what it changed
    from workbench.store.records import update_record

    run = make_run(tags=["train"])
    run.log({"loss": 1.0})
    run.flush()
    update_record(Layout(root), run.id, lambda r: r.update(tags=["train", "good"], notes="from the notebook"),
                  fsync=False)
    run.log({"loss": 0.5})
    run.summary["best"] = 0.5
    run.flush()
    run.finish()
    record = record_of(root, run.id)
    assert record["tags"] == ["train", "good"]
    assert record["notes"] == "from the notebook"
    assert record["summary"] == {"loss": 0.5, "best": 0.5}
    assert record["status"] == "completed"
