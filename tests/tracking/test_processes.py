"""Many real processes on one store; runs that end by SIGKILL, SIGTERM, exit and exceptions.

Acceptance 2 (8 writers x 50,000 points while a reader queries) and 3 (SIGKILL: crashed, with
every point flushed before the kill).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from workbench.store._paths import Layout
from workbench.store.records import read_record

FLUSH = 0.2  # seconds: the flush interval of the logging processes here


def _env(root: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "WORKBENCH_ROOT": str(root), "WORKBENCH_FLUSH_INTERVAL": str(FLUSH),
            "WORKBENCH_SYSTEM_METRICS": "0", "PYTHONUNBUFFERED": "1", **extra}


def _script(tmp_path: Path, name: str, code: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(code))
    return path


def _start(script: Path, root: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    # -W error: a warning anywhere (a corrupt snapshot, a lost lock) fails the process
    return subprocess.Popen([sys.executable, "-W", "error", str(script), *args], env=_env(root, **env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=script.parent)


def _record(root: Path, run_id: str) -> dict[str, Any]:
    return read_record(Layout(root), run_id)


# -- acceptance 2 ---------------------------------------------------------------------------------

WRITER = """
    import sys, time
    import workbench as wb

    index, keys, steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    names = [f"k{j}" for j in range(keys)]
    with wb.init(project="many", name=f"writer-{index}", config={"index": index}) as run:
        print(run.id, flush=True)
        for step in range(steps):
            run.log({name: step * 1000.0 + j for j, name in enumerate(names)})
            if step % 500 == 499:
                time.sleep(0.01)  # let the reader in while the run is live
"""

READER = """
    import json, os, sys, time
    import workbench as wb

    stop = sys.argv[1]
    seen = {}          # run id -> most points history() has shown for it
    iterations = 0
    statuses = set()
    while True:
        last = os.path.exists(stop)
        table = wb.runs(project="many")
        statuses.update(table["status"])
        ids = table["run_id"].tolist()
        if ids:
            frame = wb.history(ids)
            counts = frame.groupby("run_id").size().to_dict()
            for run_id in ids:
                count = int(counts.get(run_id, 0))
                if count < seen.get(run_id, 0):
                    sys.exit(f"history lost points of {run_id}: {seen[run_id]} -> {count}")
                seen[run_id] = count
            # sql() runs after history(): it must see at least as many points
            total = int(wb.sql("select count(*) from metrics").iloc[0, 0])
            if total < sum(counts.values()):
                sys.exit(f"sql() saw {total} points, history() just before it {sum(counts.values())}")
        iterations += 1
        if last:
            break
    print(json.dumps({"iterations": iterations, "seen": seen, "statuses": sorted(statuses)}))
"""


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_eight_writers_and_a_reader(tmp_path: Path, root: Path) -> None:
    writers_n, keys, steps = 8, 10, 5_000  # 50,000 points per writer
    writer = _script(tmp_path, "writer.py", WRITER)
    reader_script = _script(tmp_path, "reader.py", READER)
    stop = tmp_path / "stop"
    wb.runs(root=root)  # create the store before the processes race to
    reader = _start(reader_script, root, str(stop))
    writers = [_start(writer, root, str(i), str(keys), str(steps)) for i in range(writers_n)]
    results = [w.communicate(timeout=200) for w in writers]
    stop.touch()
    reader_out, reader_err = reader.communicate(timeout=60)

    for (_, err), proc in zip(results, writers, strict=True):
        assert proc.returncode == 0, err
        assert err == "", err  # no traceback, no warning
    assert reader.returncode == 0, reader_err
    assert reader_err == "", reader_err
    report = json.loads(reader_out)
    assert report["iterations"] >= 2
    ids = sorted(out.split()[0] for out, _ in results)
    assert sorted(report["seen"]) == ids
    assert all(count == keys * steps for count in report["seen"].values())  # the last look saw all

    table = wb.runs(project="many", root=root)
    assert sorted(table["run_id"]) == ids
    assert set(table["status"]) == {"completed"}
    assert sorted(table["config.index"]) == list(range(writers_n))
    assert set(table["summary.k3"]) == {(steps - 1) * 1000.0 + 3}
    frame = wb.history(ids, root=root)
    assert len(frame) == writers_n * keys * steps
    per_series = frame.groupby(["run_id", "key"])["step"].agg(["count", "nunique", "min", "max"])
    assert (per_series["count"] == steps).all() and (per_series["nunique"] == steps).all()
    assert (per_series["min"] == 0).all() and (per_series["max"] == steps - 1).all()
    assert ((frame["value"] - frame["step"] * 1000.0) == frame["key"].str[1:].astype(float)).all()
    counts = wb.sql("select run_id, count(*) n, count(distinct (key, step)) u from metrics group by run_id",
                    root=root)
    assert sorted(counts["run_id"]) == ids
    assert set(counts["n"]) == {keys * steps} and set(counts["u"]) == {keys * steps}
    for run_id in ids:
        record = _record(root, run_id)
        assert record["metrics"]["k0"]["count"] == steps
        assert 1 <= len(list((root / "runs" / run_id / "metrics").iterdir())) <= 4  # finish merges more than 4


CHURN = """
    import sys, time
    import workbench as wb

    deadline = time.monotonic() + float(sys.argv[1])
    while time.monotonic() < deadline:
        run = wb.init(project="churn")
        print(run.id, flush=True)
        for step in range(20):
            run.log({"a": float(step), "b": float(step)})
            run.flush()  # one segment per step: finish() compacts 20 files
        run.finish()
"""


@pytest.mark.timeout(120)
def test_history_and_sql_never_lose_points_while_runs_compact(tmp_path: Path, root: Path) -> None:
    # every finish() replaces 20 segments by one file: a reader must see old or new, never less
    churn = _start(_script(tmp_path, "churn.py", CHURN), root, "4")
    reader = _start(_script(tmp_path, "reader.py", READER.replace('"many"', '"churn"')), root,
                    str(tmp_path / "stop"))
    out, err = churn.communicate(timeout=100)
    (tmp_path / "stop").touch()
    _, reader_err = reader.communicate(timeout=60)
    assert churn.returncode == 0 and err == "", err
    assert reader.returncode == 0, reader_err
    assert reader_err == ""
    ids = out.split()
    assert len(ids) >= 2
    frame = wb.history(ids, root=root)
    assert frame.groupby("run_id").size().to_dict() == dict.fromkeys(ids, 40)


# -- acceptance 3: SIGKILL --------------------------------------------------------------------------

KILLED = """
    import time
    import workbench as wb

    run = wb.init(project="kill")
    for step in range(2000):
        run.log({"a": float(step), "b": -float(step)})
    run.flush()
    print("flushed", run.id, flush=True)
    step = 2000
    while True:
        run.log({"a": float(step), "b": -float(step)})
        print("logged", step, flush=True)
        step += 1
        time.sleep(0.002)
"""


@pytest.mark.timeout(90)
def test_sigkill_leaves_a_crashed_run_with_every_flushed_point(tmp_path: Path, root: Path) -> None:
    proc = _start(_script(tmp_path, "killed.py", KILLED), root)
    assert proc.stdout is not None
    first = proc.stdout.readline().split()
    assert first[:1] == ["flushed"], [*first, proc.stderr.read() if proc.stderr else ""]
    run_id = first[1]
    logged: list[tuple[float, int]] = []  # (when we read it, step)

    def follow() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            parts = line.split()
            if parts[:1] == ["logged"]:
                logged.append((time.monotonic(), int(parts[1])))

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    time.sleep(6 * FLUSH)  # several flushes of points logged after the explicit one
    assert _record(root, run_id)["status"] == "running"
    kill_time = time.monotonic()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    reader.join(timeout=10)  # it has read every line the process wrote
    assert proc.stdout is not None and proc.stderr is not None
    err = proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, err
    assert err == "", err

    table = wb.runs(project="kill", root=root)
    assert table["status"].tolist() == ["crashed"]
    record = _record(root, run_id)
    assert record["status"] == "crashed"  # persisted, not only shown
    assert record["error"]["type"] == "crashed"
    assert record["ended"] is not None

    frame = wb.history(run_id, root=root)
    steps_a = sorted(frame[frame.key == "a"]["step"])
    assert steps_a == sorted(frame[frame.key == "b"]["step"])
    assert steps_a == list(range(len(steps_a)))  # a prefix: no holes
    assert len(steps_a) >= 2000  # everything before the explicit flush
    # every step printed more than about one flush interval (plus slack for a busy machine)
    # before the kill is on disk
    settled = [step for when, step in logged if when < kill_time - 5 * FLUSH]
    assert settled, "the process logged nothing after its flush"
    assert len(steps_a) > max(settled)
    assert len(steps_a) <= 1 + max((step for _, step in logged), default=1999)
    counted = wb.sql(f"select count(*) from metrics where run_id = '{run_id}'", root=root).iloc[0, 0]
    assert int(counted) == len(frame)


# -- the other ways a process ends ------------------------------------------------------------------

@pytest.mark.timeout(60)
def test_sigterm_finishes_the_run_as_cancelled_with_every_point(tmp_path: Path, root: Path) -> None:
    proc = _start(_script(tmp_path, "term.py", """
        import time
        import workbench as wb

        run = wb.init(project="term")
        for step in range(3000):
            run.log({"a": float(step)})
        print("ready", run.id, flush=True)
        time.sleep(60)
    """), root, WORKBENCH_FLUSH_INTERVAL="60")  # no background flush before the signal
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    assert line[:1] == ["ready"], line
    run_id = line[1]
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGTERM, err
    assert "Traceback" not in err
    record = _record(root, run_id)
    assert record["status"] == "cancelled"
    assert record["error"]["type"] == "SIGTERM"
    assert record["metrics"]["a"]["count"] == 3000
    assert len(wb.history(run_id, root=root)) == 3000
    assert wb.runs(project="term", root=root)["status"].tolist() == ["cancelled"]


@pytest.mark.timeout(60)
def test_sigterm_is_handled_after_a_first_run_from_another_thread(tmp_path: Path, root: Path) -> None:
    """Only the main thread may set a signal handler: a first run from a worker thread must not
    leave every later run of the process without one."""
    proc = _start(_script(tmp_path, "thread_first.py", """
        import threading, time
        import workbench as wb

        def side():
            with wb.init(project="side") as run:
                run.log({"a": 1.0})

        worker = threading.Thread(target=side)
        worker.start()
        worker.join()
        run = wb.init(project="main")
        run.log({"a": 1.0})
        print("ready", run.id, flush=True)
        time.sleep(60)
    """), root)
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    assert line[:1] == ["ready"], line
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGTERM, err
    record = _record(root, line[1])
    assert record["status"] == "cancelled" and record["error"]["type"] == "SIGTERM"


@pytest.mark.timeout(60)
def test_a_script_that_ends_without_finish_completes(tmp_path: Path, root: Path) -> None:
    proc = _start(_script(tmp_path, "plain.py", """
        import workbench as wb

        run = wb.init(project="plain")
        for step in range(5):
            run.log({"a": float(step)})
            run.flush()
        run.log({"a": 5.0})  # never flushed by the script
        print(run.id)
    """), root)
    out, err = proc.communicate(timeout=50)
    assert proc.returncode == 0, err
    assert err == ""
    run_id = out.split()[-1]
    record = _record(root, run_id)
    assert record["status"] == "completed"
    assert "error" not in record
    assert wb.history(run_id, root=root)["value"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    files = sorted(p.name for p in (root / "runs" / run_id / "metrics").iterdir())
    assert files == ["c-00000000-00000005.parquet"]


@pytest.mark.timeout(60)
def test_an_uncaught_exception_fails_the_run_with_its_traceback(tmp_path: Path, root: Path) -> None:
    proc = _start(_script(tmp_path, "fails.py", """
        import workbench as wb

        def train(run):
            for step in range(10):
                run.log({"a": float(step)})
            raise RuntimeError("boom at step 10")

        run = wb.init(project="fails")
        print(run.id, flush=True)
        train(run)
    """), root)
    out, err = proc.communicate(timeout=50)
    assert proc.returncode == 1
    assert "RuntimeError: boom at step 10" in err  # Python still prints it
    run_id = out.split()[0]
    record = _record(root, run_id)
    assert record["status"] == "failed"
    assert record["error"]["type"] == "RuntimeError"
    assert record["error"]["message"] == "boom at step 10"
    assert "in train" in record["error"]["traceback"]
    assert "RuntimeError: boom at step 10" in record["error"]["traceback"]
    assert len(wb.history(run_id, root=root)) == 10
    assert "RuntimeError: boom at step 10" in (root / "runs" / run_id / "logs" / "stderr.log").read_text()


# -- crash detection from records alone ---------------------------------------------------------------

def _running_record(root: Path, **fields: Any) -> str:
    from workbench.store._paths import FORMAT, new_run_id
    from workbench.store.records import create_record

    layout = Layout(root)
    layout.ensure()
    run_id = new_run_id()
    now = time.time()
    create_record(layout, {"format": FORMAT, "id": run_id, "project": "live", "name": run_id,
                           "created": now - 600, "started": now - 600, "ended": None, "status": "running",
                           "heartbeat": now, "config": {}, "summary": {}, "metrics": {}, "tags": [],
                           "notes": "", "remote": None, **fields}, fsync=False)
    return run_id


def test_crash_detection(root: Path) -> None:
    from workbench.store.records import HOSTNAME, process_start_time

    me, start = os.getpid(), process_start_time(os.getpid())
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    now = time.time()
    cases = {
        "alive here": (_running_record(root, host=HOSTNAME, pid=me, pid_start=start), "running"),
        "dead here": (_running_record(root, host=HOSTNAME, pid=int(dead), pid_start=1), "crashed"),
        "pid reused": (_running_record(root, host=HOSTNAME, pid=me, pid_start=(start or 0) + 1), "crashed"),
        "fresh elsewhere": (_running_record(root, host="elsewhere", pid=me, heartbeat=now), "running"),
        "stale elsewhere": (_running_record(root, host="elsewhere", pid=me, heartbeat=now - 3600), "crashed"),
        "synced, stale": (_running_record(root, host="elsewhere", pid=me, heartbeat=now - 3600,
                                          remote="gpu1"), "crashed"),
    }
    table = wb.runs(root=root).set_index("run_id")
    for label, (run_id, status) in cases.items():
        assert table.loc[run_id, "status"] == status, label
    for label, (run_id, status) in cases.items():
        record = _record(root, run_id)
        if label == "synced, stale":  # synced runs are read-only: shown crashed, file untouched
            assert record["status"] == "running"
        else:
            assert record["status"] == status, label
