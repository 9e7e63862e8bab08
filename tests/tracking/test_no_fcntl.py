"""workbench where ``fcntl`` does not exist (Windows): import, track, query, and real locks.

Each test runs a real Python process that first makes ``import fcntl`` fail (``sys.modules["fcntl"]
= None``), as on Windows, so the code paths taken are those of a system without ``fcntl``: on Linux
that is the marker lock of ``workbench/store/_lock.py``. (Windows' own LockFileEx path cannot run
here.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

NO_FCNTL = 'import sys\nsys.modules["fcntl"] = None  # `import fcntl` now raises ImportError, as on Windows\n'


def _python(code: str, root: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "WORKBENCH_ROOT": str(root), "WORKBENCH_FLUSH_INTERVAL": "0.2",
           "WORKBENCH_SYSTEM_METRICS": "0", "PYTHONUNBUFFERED": "1"}
    env.pop("WORKBENCH_RUN_ID", None)
    # -W error: a warning anywhere (filelock's "only soft file lock" included) fails the process
    return subprocess.Popen([sys.executable, "-W", "error", "-c", NO_FCNTL + textwrap.dedent(code), *args],
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen[str], timeout: float = 60) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"exit {process.returncode}\n{out}\n{err}"
    return out


def test_import_log_finish_and_query_without_fcntl(tmp_path: Path) -> None:
    out = _finish(_python("""
        import json
        import workbench as wb
        from workbench.store import _lock

        assert sys.modules["fcntl"] is None
        with wb.init(project="nofcntl", config={"lr": 0.1}, tags=["win"]) as run:
            for step in range(50):
                run.log({"loss": 1.0 / (step + 1), "acc": step / 50}, step=step)
            run.summary["best"] = 0.98
        wb.update_run(run.id, notes="edited under the run's lock")  # the run directory's lock
        runs = wb.runs(project="nofcntl")
        history = wb.history(run.id, keys=["loss"])
        print(json.dumps({
            "backend": _lock.BACKEND,
            "ids": list(runs["run_id"]),
            "status": list(runs["status"]),
            "lr": list(runs["config.lr"]),
            "best": list(runs["summary.best"]),
            "steps": [int(s) for s in history["step"]],
            "loss": [float(v) for v in history["value"]],
            "notes": wb.get_run(run.id)["notes"],
            "run": run.id,
        }))
    """, tmp_path / "store"))
    import json

    got = json.loads(out.strip().splitlines()[-1])
    assert got["backend"] == "marker"
    assert got["ids"] == [got["run"]]
    assert got["status"] == ["completed"]
    assert got["lr"] == [0.1]
    assert got["best"] == [0.98]
    assert got["steps"] == list(range(50))
    assert got["loss"] == pytest.approx([1.0 / (s + 1) for s in range(50)])
    assert got["notes"] == "edited under the run's lock"
    # no marker is left behind once every lock is released
    assert not list((tmp_path / "store").rglob("*.soft"))


HOLDER = """
    from pathlib import Path
    from workbench.store._lock import file_lock

    with file_lock(Path(sys.argv[1]), what="test lock"):
        print("held", flush=True)
        sys.stdin.readline()  # hold until told
"""

TAKER = """
    import time
    from pathlib import Path
    from workbench.errors import StoreError
    from workbench.store._lock import file_lock

    started = time.monotonic()
    try:
        with file_lock(Path(sys.argv[1]), timeout=float(sys.argv[2]), what="test lock"):
            print(f"took {time.monotonic() - started:.2f}")
    except StoreError as exc:
        print(f"refused {time.monotonic() - started:.2f} {exc}")
"""


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_processes_without_fcntl_exclude_each_other(tmp_path: Path, kind: str) -> None:
    store = tmp_path / "store"
    target = tmp_path / "guarded"
    if kind == "directory":
        target.mkdir()
    holder = _python(HOLDER, store, str(target))
    assert holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "held"
        out = _finish(_python(TAKER, store, str(target), "0.5"))
        assert out.startswith("refused "), out
        assert "could not take the test lock" in out and "within 0.5 s" in out
        assert float(out.split()[1]) >= 0.5
    finally:
        holder.kill()
        holder.communicate()  # waits, and closes its pipes
    # the holder died without releasing: its lock is reclaimed, not left to block forever
    out = _finish(_python(TAKER, store, str(target), "5"))
    assert out.startswith("took "), out
    assert float(out.split()[1]) < 2.0


def test_released_lock_is_taken_at_once(tmp_path: Path) -> None:
    target = tmp_path / "guarded.lock"
    started = time.monotonic()
    out = _finish(_python("""
        from pathlib import Path
        from workbench.store._lock import file_lock, lock_held, try_file_lock

        path = Path(sys.argv[1])
        assert not lock_held(path)
        for _ in range(3):
            with file_lock(path, timeout=1):
                with try_file_lock(path) as again:
                    assert not again  # exclusive, even within one process
        with try_file_lock(path) as free:
            assert free
        print("ok")
    """, tmp_path / "store", str(target)))
    assert out.strip() == "ok"
    assert time.monotonic() - started < 30
