"""How a job ended, written into its run record: the one place that decides the final status.

:func:`settle` is a pure change of the record (the scheduler applies it under the record's lock):
it sets ``job.exit`` and ``exit_code``, then the status: ``cancelled`` when a cancel was asked
for; ``queued`` again for an interrupted job, or a failed one whose ``retries`` allow; otherwise
what the job said of itself, corrected by its exit status, with the reason and the tail of its
stderr in ``error``.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from workbench.jobs.executors import SIGNALS, ExitStatus

__all__ = ["describe_exit", "settle", "stderr_tail"]

STDERR_TAIL = 4000  # bytes of a failed job's stderr kept in its record


def describe_exit(code: int | None) -> str:
    """``its process exited with code 3``, ``... was killed by SIGSEGV (Segmentation fault)``."""
    if code is None:
        return "its process ended while no scheduler watched it (exit status unknown)"
    if code < 0:
        name = SIGNALS.get(-code, f"signal {-code}")
        what = signal.strsignal(-code)
        return f"its process was killed by {name}" + (f" ({what})" if what else "")
    return f"its process exited with code {code}"


def stderr_tail(path: Path, limit: int = STDERR_TAIL) -> str:
    """The last ``limit`` bytes of a log, from the first whole line."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            data = handle.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    if size > limit and "\n" in text:
        text = text[text.index("\n") + 1 :]
    return text


def _failure(
    record: dict[str, Any], code: int | None, reason: str, start_error: str | None
) -> tuple[str, dict[str, Any]]:
    new = "crashed" if code is None and not start_error else "failed"
    own_error = record.get("error") if record.get("status") == "failed" else None
    if own_error:  # the job's own traceback says more than its exit code
        return new, {**own_error, "exit": reason}
    if start_error:
        kind = "start"
    elif code is None:
        kind = "crashed"
    else:
        kind = "signal" if code < 0 else "exit"
    return new, {"type": kind, "message": f"the job failed: {reason}"}


def settle(
    record: dict[str, Any],
    status: ExitStatus,
    *,
    now: float,
    tail: str = "",
    killed_after: float | None = None,
    interrupted: bool = False,
    start_error: str | None = None,
) -> tuple[str, str]:
    """Change ``record`` to say how its job ended; ``(new status, reason)``.

    ``killed_after``: the grace period after which a cancelled job got SIGKILL (None: it did
    not). ``interrupted``: its scheduler stopped it to shut down. ``start_error``: its process
    could not start at all.
    """
    job = record["job"]
    own = record.get("status")
    code = status.code
    job["exit"] = {
        "code": code,
        "signal": SIGNALS.get(-code) if code is not None and code < 0 else None,
        "time": now,
    }
    if code is not None:
        record["exit_code"] = code
    reason = f"it could not start: {start_error}" if start_error else describe_exit(code)
    error: dict[str, Any] | None
    if job.get("cancel_requested"):
        killed = f"; killed with SIGKILL {killed_after:g} s after SIGTERM" if killed_after is not None else ""
        new, error = "cancelled", {"type": "cancelled", "message": "cancelled while running" + killed}
    elif interrupted and own != "completed":
        new, error = "queued", None
    elif code == 0 or (code is None and own == "completed") or (interrupted and own == "completed"):
        # (the last: a job that had finished its run when its scheduler stopped, killed while exiting)
        # a job that said failed or cancelled of itself, then exited cleanly, keeps its word
        new, error = (
            (str(own), record.get("error")) if own in ("failed", "cancelled") else ("completed", None)
        )
    elif code is None and own in ("failed", "cancelled") and not start_error:
        new, error = str(own), record.get("error")  # an adopted job that finished its run itself
    else:
        new, error = _failure(record, code, reason, start_error)
        if tail:
            error["stderr"] = tail
        attempts, retries = int(job.get("attempts", 0)), int(job.get("retries", 0))
        if attempts <= retries:
            job.setdefault("history", []).append(
                {"attempt": attempts, "status": new, "error": error, "ended": now}
            )
            new, error = "queued", None
    if new == "queued":
        if interrupted:  # an interruption is not an attempt
            job["attempts"] = max(0, int(job.get("attempts", 1)) - 1)
            job["interruptions"] = int(job.get("interruptions", 0)) + 1
        record["status"] = "queued"
        for key in ("error", "exit_code", "ended", "pid", "pid_start"):
            record.pop(key, None)
        return "queued", "interrupted" if interrupted else "retry"
    record["status"] = new
    if own in ("running", "crashed") or not record.get("ended"):
        record["ended"] = now
    if error is None:
        record.pop("error", None)
    else:
        record["error"] = error
    return new, "" if new == "completed" else str((error or {}).get("message", ""))
