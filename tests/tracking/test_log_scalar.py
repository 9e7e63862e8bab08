"""One number per call (issue 16): ``run.log_scalar`` and one-key ``run.log`` go to per-key
columns that the flusher takes a prefix of while calls go on, from any number of threads; every
point lands once, at its step, with the wall time of its step's first call."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

import workbench as wb
from workbench.errors import WorkbenchError

QUIET = {"capture_output": False, "system_metrics": False}


def test_log_scalar_logs_like_a_one_key_log(tmp_path: Path) -> None:
    run = wb.init(root=tmp_path, **QUIET)
    run.log_scalar("loss", 1.0, 0)
    run.log_scalar("loss", 0.5)  # no step: the next one
    run.log_scalar("acc", np.float32(0.25), 5)  # another type: the checked path
    run.log_scalar("acc", 1, 6)  # an int
    run.log({"acc": 0.75}, commit=False)  # step 7, kept open
    run.log_scalar("loss", 0.1)  # still step 7: commit=False held it
    run.log_scalar("loss", 0.05)  # step 8
    with pytest.raises(TypeError, match="'acc'"):
        run.log_scalar("acc", "high", 9)
    with pytest.raises(ValueError, match="step"):
        run.log_scalar("acc", 0.5, -1)
    with pytest.raises(ValueError, match="2\\*\\*63"):
        run.log_scalar("acc", 0.5, 2**63)
    assert run.step == 9
    run.finish()
    with pytest.raises(WorkbenchError, match="finished"):
        run.log_scalar("loss", 0.0, 10)
    with pytest.raises(WorkbenchError, match="finished"):
        run.log({"loss": 0.0}, step=10)
    points = wb.history(run.id, root=tmp_path)
    got = sorted(zip(points.key, points.step, points.value, strict=True))
    assert got == [("acc", 5, 0.25), ("acc", 6, 1.0), ("acc", 7, 0.75), ("loss", 0, 1.0), ("loss", 1, 0.5),
                   ("loss", 7, 0.1), ("loss", 8, 0.05)]
    assert wb.get_run(run.id, root=tmp_path)["summary"]["loss"] == 0.05


def test_a_steps_points_share_the_time_of_its_first_call(tmp_path: Path) -> None:
    run = wb.init(root=tmp_path, **QUIET)
    marks = []
    for step in range(3):
        marks.append(time.time())
        for key in ("a", "b", "c"):
            run.log({key: float(step)}, step=step)
        time.sleep(0.05)
    run.log_scalar("a", 9.0, 1)  # back to step 1 later: its own, later time
    late = time.time()
    run.finish()
    points = wb.history(run.id, root=tmp_path)
    for step in range(3):
        at = points[(points.step == step) & (points.value == float(step))]["time"]
        assert at.nunique() == 1 and marks[step] <= at.iloc[0] < marks[step] + 0.05
    again = points[(points.key == "a") & (points.step == 1)]  # a revisited step: at its first time, or later
    assert len(again) == 2 and marks[1] <= again["time"].min() <= again["time"].max() <= late


def test_points_logged_while_the_flusher_takes_them_land_once(tmp_path: Path) -> None:
    run = wb.init(root=tmp_path, flush_interval=0.01, **QUIET)  # flushes all the time
    count, writers = 20_000, 4

    def write(n: int) -> None:
        for step in range(count):
            run.log_scalar(f"k{n}", float(step), step)
            run.log({"shared": float(n)}, step=step * writers + n)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.finish()
    points = wb.history(run.id, root=tmp_path)
    for n in range(writers):
        mine = points[points.key == f"k{n}"]
        assert sorted(mine.step) == list(range(count)) and (mine.step == mine.value).all()
    shared = points[points.key == "shared"]
    assert sorted(shared.step) == list(range(count * writers))
    assert ((shared.step % writers) == shared.value).all()


def test_one_key_calls_write_when_the_flusher_falls_behind(tmp_path: Path) -> None:
    """The columns stay bounded like the dict path's buffer (tests/store/test_m4_tiles.py): past
    4 x flush_calls points, a step change (checked every 256th) writes them on the caller's thread."""
    run = wb.init(root=tmp_path, flush_calls=1000, flush_interval=3600, **QUIET)
    most = 0
    for step in range(20_000):
        run.log_scalar("a", float(step), step)
        run.log({"b": 1.0}, step=step)
        most = max(most, run._buffered)
    assert most <= 4 * 1000 + 2 * 256
    run.finish()
    points = wb.history(run.id, keys="a", root=tmp_path)
    assert points.step.tolist() == list(range(20_000)) and (points.step == points.value).all()
