"""`settle`: the one function that decides a job's final status from its exit and its own record."""

from __future__ import annotations

from typing import Any

import pytest

from workbench.jobs.executors import ExitStatus
from workbench.jobs.outcome import describe_exit, settle, stderr_tail


def record(status: str = "running", **job: Any) -> dict[str, Any]:
    return {"id": "r1", "status": status, "ended": None, "job": {"attempts": 1, "retries": 0, **job}}


def test_a_clean_exit_completes_the_run() -> None:
    rec = record()
    assert settle(rec, ExitStatus(0), now=5.0) == ("completed", "")
    assert rec["status"] == "completed" and rec["exit_code"] == 0 and rec["ended"] == 5.0
    assert rec["job"]["exit"] == {"code": 0, "signal": None, "time": 5.0}


def test_the_jobs_own_error_is_kept_and_the_exit_added() -> None:
    rec = record("failed", attempts=1)
    rec["error"] = {"type": "ValueError", "message": "bad", "traceback": "Traceback ..."}
    rec["ended"] = 4.0
    status, reason = settle(rec, ExitStatus(1), now=5.0, tail="Traceback ...\nValueError: bad\n")
    assert status == "failed" and reason == "bad"
    assert rec["error"]["type"] == "ValueError" and rec["error"]["exit"] == "its process exited with code 1"
    assert rec["error"]["stderr"].endswith("ValueError: bad\n") and rec["ended"] == 4.0


@pytest.mark.parametrize(
    ("code", "kind", "words"),
    [
        (3, "exit", "exited with code 3"),
        (-11, "signal", "killed by SIGSEGV (Segmentation fault)"),
        (None, "crashed", "no scheduler watched it"),
    ],
)
def test_failures_say_why(code: int | None, kind: str, words: str) -> None:
    rec = record()
    status, reason = settle(rec, ExitStatus(code), now=5.0, tail="boom\n")
    assert status == ("crashed" if code is None else "failed")
    assert rec["error"]["type"] == kind and words in rec["error"]["message"] and words in reason
    assert rec["error"]["stderr"] == "boom\n"


def test_a_cancel_request_wins() -> None:
    rec = record(cancel_requested=1.0)
    assert settle(rec, ExitStatus(-9), now=5.0, killed_after=10.0)[0] == "cancelled"
    assert rec["error"]["message"] == "cancelled while running; killed with SIGKILL 10 s after SIGTERM"
    assert rec["job"]["exit"]["signal"] == "SIGKILL"


def test_retries_queue_it_again_and_keep_the_history() -> None:
    rec = record(attempts=1, retries=1)
    rec["pid"] = 123
    assert settle(rec, ExitStatus(2), now=5.0) == ("queued", "retry")
    assert rec["status"] == "queued" and "error" not in rec and "pid" not in rec and "exit_code" not in rec
    assert rec["job"]["history"][0]["status"] == "failed"
    rec["status"] = "running"
    rec["job"]["attempts"] = 2
    assert settle(rec, ExitStatus(2), now=6.0)[0] == "failed"  # no retries left


def test_an_interruption_requeues_without_counting_an_attempt() -> None:
    rec = record(attempts=1)
    assert settle(rec, ExitStatus(-15), now=5.0, interrupted=True) == ("queued", "interrupted")
    assert rec["job"]["attempts"] == 0 and rec["job"]["interruptions"] == 1
    done = record("completed")
    assert settle(done, ExitStatus(0), now=5.0, interrupted=True)[0] == "completed"
    # its run had finished when the scheduler stopped; SIGTERM reached the process as it exited
    exiting = record("completed")
    assert settle(exiting, ExitStatus(-15), now=5.0, interrupted=True)[0] == "completed"
    assert "error" not in exiting and exiting["job"]["exit"]["signal"] == "SIGTERM"


def test_an_adopted_job_that_finished_itself_keeps_its_status() -> None:
    for own in ("completed", "failed", "cancelled"):
        rec = record(own)
        assert settle(rec, ExitStatus(None), now=5.0)[0] == own


def test_a_job_that_could_not_start() -> None:
    rec = record()
    status, reason = settle(rec, ExitStatus(None), now=5.0, start_error="FileNotFoundError: nope")
    assert status == "failed" and rec["error"]["type"] == "start" and "could not start" in reason


def test_describe_exit_and_stderr_tail(tmp_path: Any) -> None:
    assert describe_exit(0) == "its process exited with code 0"
    log = tmp_path / "stderr.log"
    log.write_text("".join(f"line {i}\n" for i in range(1000)))
    tail = stderr_tail(log, limit=100)
    assert tail.startswith("line ") and tail.endswith("line 999\n") and len(tail) <= 100
    assert stderr_tail(tmp_path / "missing.log") == ""
