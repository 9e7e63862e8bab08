"""Logging under storage faults (issue 12): a store on a real 2 MiB tmpfs filled to the last byte,
then freed or not; a run's metrics directory bind-mounted read-only. Real mounts, real files, the
real CLI in a subprocess; nothing of ours is mocked.

Mounting takes root: without it these tests skip, except in CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _mounts import fill as fill_up
from _mounts import mount, tmpfs, umount
from conftest import REPO

import workbench as wb
from workbench.errors import ConfigError, PointsLost, StoreError
from workbench.store._paths import Layout
from workbench.store.records import read_record

FAST = {"flush_interval": 0.05, "system_metrics": False, "capture_output": False}
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A 2 MiB tmpfs, unmounted at teardown; its ``store`` is WORKBENCH_ROOT for subprocesses."""
    with tmpfs(tmp_path / "disk", size="2m", mode="0700") as small:
        monkeypatch.setenv("WORKBENCH_ROOT", str(small / "store"))
        monkeypatch.delenv("WORKBENCH_RUN_ID", raising=False)
        yield small


def fill(mount: Path) -> Path:
    """Fill ``mount`` to the last byte with ``mount/ballast``; its path."""
    return fill_up(mount, "ballast")


def neighbours(store: Path, tmp_path: Path) -> dict[str, Any]:
    """A finished run and an artifact stored before the fault: what must come through intact."""
    with wb.init(project="p", name="earlier", root=store, **FAST) as run:
        for step in range(200):
            run.log({"loss": 1 / (step + 1), "acc": step / 200})
    weights = tmp_path / "weights.bin"
    weights.write_bytes(np.random.default_rng(1).bytes(40_000))
    wb.log_artifact(weights, name="weights", type="model", root=store)
    return {"run": run.id, "history": wb.history(run.id, root=store), "bytes": weights.read_bytes()}


def assert_intact(store: Path, before: dict[str, Any], ballast: Path | None = None) -> None:
    after = wb.history(before["run"], root=store)
    assert after.equals(before["history"])
    assert read_record(Layout(store), before["run"])["status"] == "completed"
    if ballast is not None:  # fsck notes the blobs it verified: it needs a little room to write
        ballast.unlink()
    fsck = cli("artifacts", "fsck")
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    placed = wb.use_artifact("weights:latest", root=store)
    assert (placed / "weights.bin").read_bytes() == before["bytes"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def record(store: Path, run_id: str) -> dict[str, Any]:
    return read_record(Layout(store), run_id)


def log_random(run: wb.Run, steps: range, key: str = "x") -> int:
    values = np.random.default_rng(steps.start).random(len(steps))  # random: parquet cannot shrink them
    for step, value in zip(steps, values.tolist()):
        run.log({key: value}, step=step)
    return len(steps)


def leftovers(store: Path) -> list[str]:
    """Temp files and reserves anywhere in the store: none may outlive a write or a run."""
    return [str(p) for p in store.rglob("*") if p.name.endswith(".tmp") or p.name == ".reserve"]


# -- a full disk ----------------------------------------------------------------------------------

def test_points_logged_while_the_disk_is_full_are_stored_once_space_returns(disk: Path, tmp_path: Path) -> None:
    store = disk / "store"
    before = neighbours(store, tmp_path)
    run = wb.init(project="p", name="live", root=store, finish_wait=5, **FAST)
    log_random(run, range(0, 1000))
    run.flush()
    ballast = fill(disk)

    log_random(run, range(1000, 2000))
    with pytest.raises(StoreError, match=r"No space left on device \(ENOSPC, errno 28\) writing .*free: ") as info:
        run.flush()  # refused: the points stay in memory
    assert "metric points are kept in memory" in str(info.value)
    assert run.summary["x"] == pytest.approx(np.random.default_rng(1000).random(1000)[-1])  # shown all the same

    ballast.unlink()  # space returns
    log_random(run, range(2000, 3000))
    run.finish()  # nothing lost: no exception

    rec = record(store, run.id)
    assert rec["status"] == "completed" and "points_lost" not in rec
    assert any(re.match(STAMP + r": the store refused a write: No space left on device \(ENOSPC, errno 28\)", w)
               for w in rec["warnings"]), rec["warnings"]
    assert any("takes writes again" in w for w in rec["warnings"])
    points = wb.history(run.id, root=store)
    assert sorted(points["step"]) == list(range(3000))  # every point, once
    assert rec["metrics"]["x"]["count"] == 3000
    assert leftovers(store) == []
    assert_intact(store, before)


def test_a_disk_that_stays_full_fails_the_run_and_counts_the_lost_points(disk: Path, tmp_path: Path) -> None:
    store = disk / "store"
    before = neighbours(store, tmp_path)
    ballast = disk / "ballast"
    ballast.write_bytes(b"\xff" * 65536)  # freed only at the end, for fsck
    run = wb.init(project="p", name="doomed", root=store, log_buffer_mb=1, finish_wait=0.3, **FAST)
    logged = 0
    for _ in range(100):  # log until the disk is full
        logged += log_random(run, range(logged, logged + 20_000))
        try:
            run.flush()
        except StoreError:
            break
    else:
        pytest.fail("2 MiB never filled up")
    for _ in range(20):  # 1.7 MB of points refused at once: over log_buffer_mb, the oldest dropped
        logged += log_random(run, range(logged, logged + 60_000))
        try:
            run.flush()  # a live compaction may have freed a little space: then the disk fills again
        except StoreError:
            break
    else:
        pytest.fail("the full disk took 1.2 M more points")

    with pytest.raises(PointsLost) as info:
        run.finish()
    lost = info.value.count
    stored = len(wb.history(run.id, root=store))
    assert lost > 0 and stored + lost == logged  # every point is stored or counted
    message = str(info.value)
    assert f"{lost:,} metric points were lost" in message
    assert "No space left on device (ENOSPC, errno 28)" in message and "log_buffer_mb=1" in message

    rec = record(store, run.id)  # recorded on the full disk: the run's reserve made room for it
    assert rec["status"] == "failed" and run.status == "failed"
    assert rec["points_lost"] == lost
    assert rec["error"]["type"] == "PointsLost" and f"{lost:,} metric points were lost" in rec["error"]["message"]
    assert any("errno 28" in w and re.match(STAMP, w) for w in rec["warnings"])
    assert any("reached log_buffer_mb=1" in w for w in rec["warnings"])
    assert rec["metrics"]["x"]["count"] == stored  # the record describes what is stored

    table = cli("runs")
    assert table.returncode == 0, table.stderr
    assert re.search(rf"{run.id}\s+p\s+doomed\s+failed", table.stdout), table.stdout
    errors = cli("runs", "--columns", "name,status,error", "--json")
    assert f"{lost:,} metric points were lost" in errors.stdout, errors.stdout + errors.stderr
    assert leftovers(store) == []
    assert_intact(store, before, ballast)


def test_points_logged_after_space_returns_are_kept_when_earlier_ones_were_dropped(disk: Path) -> None:
    store = disk / "store"
    run = wb.init(project="p", root=store, log_buffer_mb=1, finish_wait=5, **FAST)
    log_random(run, range(0, 500))
    run.flush()
    ballast = fill(disk)
    log_random(run, range(500, 80_500))  # 2.2 MB of points while full: the oldest are dropped
    with pytest.raises(StoreError):
        run.flush()
    ballast.unlink()
    log_random(run, range(0, 1000), key="after")
    with pytest.raises(PointsLost) as info:
        run.finish()
    points = wb.history(run.id, root=store)
    after = points[points.key == "after"]
    assert sorted(after["step"]) == list(range(1000))  # nothing logged after the space returned is lost
    assert len(points[points.key == "x"]) + info.value.count == 80_500
    rec = record(store, run.id)
    assert rec["status"] == "failed" and rec["points_lost"] == info.value.count
    assert "when the points kept in memory passed log_buffer_mb=1" in rec["error"]["message"]


def test_a_failed_run_keeps_its_error_and_notes_the_loss(disk: Path) -> None:
    store = disk / "store"
    with pytest.raises(RuntimeError, match="diverged"), \
            wb.init(project="p", root=store, finish_wait=0.2, **FAST) as run:
        log_random(run, range(0, 100))
        run.flush()
        fill(disk)
        log_random(run, range(100, 5000))
        raise RuntimeError("diverged")  # the user's exception wins; the loss is recorded beside it
    rec = record(store, run.id)
    assert rec["status"] == "failed" and rec["error"]["type"] == "RuntimeError"
    assert rec["points_lost"] == 4900
    assert any("4,900 metric points were lost" in w for w in rec["warnings"])


def test_an_end_the_store_refused_is_recorded_by_calling_finish_again(disk: Path) -> None:
    store = disk / "store"
    # no flush before the end, so no reserve: nothing makes room for the final record
    run = wb.init(project="p", root=store, flush_interval=60, finish_wait=0.1, system_metrics=False,
                  capture_output=False)
    ballast = fill(disk)
    log_random(run, range(0, 3000))
    with pytest.raises(PointsLost):
        run.finish()
    assert run.status == "failed"
    assert record(store, run.id)["status"] == "running"  # the store refused the end: it reads as it was
    ballast.unlink()
    run.finish()  # records it now
    rec = record(store, run.id)
    assert rec["status"] == "failed" and rec["points_lost"] == 3000
    assert "3,000 metric points were lost" in rec["error"]["message"]


EXIT_SCRIPT = """
import contextlib, os, sys, numpy as np, workbench as wb
disk = sys.argv[1]
run = wb.init(project="p", root=os.path.join(disk, "store"), flush_interval=0.05, system_metrics=False,
              capture_output=False, finish_wait=0.2)
for step in range(1000):
    run.log({"x": float(step)})
run.flush()
fd = os.open(os.path.join(disk, "ballast"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
for block in (1 << 16, 4096, 512, 1):
    with contextlib.suppress(OSError):
        while os.write(fd, b"\\xff" * block):
            pass
for value in np.random.default_rng(0).random(5000).tolist():
    run.log({"x": value})
print(run.id, flush=True)
# no finish(): the exit hook ends the run
"""


def test_a_script_that_exits_on_a_full_disk_records_the_loss_without_a_traceback(disk: Path) -> None:
    done = subprocess.run([sys.executable, "-c", EXIT_SCRIPT, str(disk)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert "Traceback" not in done.stderr, done.stderr
    assert "5,000 metric points were lost" in done.stderr
    rec = record(disk / "store", done.stdout.strip())
    assert rec["status"] == "failed" and rec["points_lost"] == 5000
    assert len(wb.history(rec["id"], root=disk / "store")) == 1000


def test_a_run_cannot_start_on_a_full_disk_and_leaves_nothing(disk: Path) -> None:
    store = disk / "store"
    wb.init(project="p", root=store, **FAST).finish()
    fill(disk)
    with pytest.raises(StoreError, match=r"cannot start a run in .*No space left on device \(ENOSPC, errno 28\)"):
        wb.init(project="p", root=store, **FAST)
    assert len(list((store / "runs").iterdir())) == 1


def test_a_killed_run_leaves_its_reserve_until_a_reader_marks_it_crashed(root: Path) -> None:
    script = (
        "import sys, time, workbench as wb\n"
        "run = wb.init(root=sys.argv[1], system_metrics=False, capture_output=False)\n"
        "run.log({'x': 1.0}); run.flush(); print(run.id, flush=True); time.sleep(60)\n"
    )
    with subprocess.Popen([sys.executable, "-c", script, str(root)], stdout=subprocess.PIPE, text=True) as proc:
        try:
            run_id = proc.stdout.readline().strip() if proc.stdout else ""
            reserve = root / "runs" / run_id / ".reserve"
            assert reserve.stat().st_size >= 64 * 1024  # held while the run lives
        finally:
            proc.kill()
    assert wb.runs(root=root)["status"].tolist() == ["crashed"]
    assert not reserve.exists()


# -- artifacts ------------------------------------------------------------------------------------

def test_an_artifact_on_a_full_disk_is_a_clean_error_that_leaves_nothing_half_made(disk: Path,
                                                                                  tmp_path: Path) -> None:
    store = disk / "store"
    before = neighbours(store, tmp_path)
    big = tmp_path / "checkpoint"
    big.mkdir()
    for i in range(3):
        (big / f"part{i}.bin").write_bytes(np.random.default_rng(i).bytes(300_000))
    ballast = fill(disk)
    with pytest.raises(StoreError) as info:
        wb.log_artifact(big, name="checkpoint", type="model", root=store)
    message = str(info.value)
    assert "artifact 'checkpoint'" in message and str(big) in message
    assert "No space left on device (ENOSPC, errno 28)" in message
    assert re.search(rf"writing {re.escape(str(Layout(store).blobs))} \(free: [\d.]+ (B|KiB)\)", message), message
    assert not (store / "artifacts" / "checkpoint").exists()  # no version, not even half of one
    assert leftovers(store) == []  # no partial blob
    assert_intact(store, before, ballast)

    version = wb.log_artifact(big, name="checkpoint", type="model", root=store)
    assert version.version == 1
    placed = wb.use_artifact("checkpoint:v1", root=store)
    assert (placed / "part2.bin").read_bytes() == (big / "part2.bin").read_bytes()


# -- a read-only filesystem -----------------------------------------------------------------------

@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` bind-mounted onto itself read-only (writes through it fail with EROFS)."""
    mount("--bind", str(path), str(path))
    try:
        mount("-o", "remount,bind,ro", str(path))
        yield
    finally:
        umount(path)


def test_a_read_only_metrics_directory_is_retried_and_recorded(root: Path) -> None:
    run = wb.init(project="p", root=root, finish_wait=5, **FAST)
    log_random(run, range(0, 100))
    run.flush()
    with read_only(run.dir / "metrics"):
        log_random(run, range(100, 200))
        with pytest.raises(StoreError, match=r"Read-only file system \(EROFS, errno 30\)") as info:
            run.flush()
        assert "remount it read-write" in str(info.value)
        # the record is on a writable filesystem: the fault is in it while the run goes on
        assert any("errno 30" in w for w in record(root, run.id)["warnings"])
    log_random(run, range(200, 300))
    run.finish()
    assert record(root, run.id)["status"] == "completed"
    assert sorted(wb.history(run.id, root=root)["step"]) == list(range(300))


def test_a_metrics_directory_that_stays_read_only_fails_the_run(root: Path) -> None:
    run = wb.init(project="p", root=root, finish_wait=0.2, **FAST)
    log_random(run, range(0, 100))
    run.flush()
    with read_only(run.dir / "metrics"):
        log_random(run, range(100, 350))
        with pytest.raises(PointsLost, match="250 metric points were lost") as info:
            run.finish()
    assert info.value.count == 250
    rec = record(root, run.id)
    assert rec["status"] == "failed" and rec["points_lost"] == 250
    assert "Read-only file system (EROFS, errno 30)" in rec["error"]["message"]
    assert sorted(wb.history(run.id, root=root)["step"]) == list(range(100))


# -- settings -------------------------------------------------------------------------------------

def test_the_memory_bound_and_the_finish_wait_are_checked_documented_settings(root: Path) -> None:
    with pytest.raises(ConfigError, match="log_buffer_mb"):
        wb.init(root=root, log_buffer_mb=0)
    with pytest.raises(ConfigError, match="finish_wait"):
        wb.init(root=root, finish_wait=-1)
    docs = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    assert "## `log_buffer_mb`" in docs and "## `finish_wait`" in docs
