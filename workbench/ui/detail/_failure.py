"""Why a run did not complete, from its record: what RunDetail's failure box shows.

A pure function of the record (and the tail of its stderr): the error's type, message and
traceback; the exit code, or the signal that killed a job's process; for a crashed run, which
recorded no error of its own, that its process ended without finishing and when it was last
heard from; and the storage faults of the record (``warnings``, ``points_lost``).
"""

from __future__ import annotations

import dataclasses
import signal
import time
from typing import Any

from workbench.ui._format import duration, when
from workbench.ui._i18n import add_zh, tr

__all__ = ["ENDED_BADLY", "Failure", "describe_failure", "exit_text"]

#: statuses that get a failure box
ENDED_BADLY = frozenset(("failed", "crashed", "cancelled"))
#: lines of stderr a failure box shows when the error has no traceback
STDERR_LINES = 40
#: error types that only repeat the status (a job's end, a crash the store noticed): not in the title
_KINDS = frozenset(("exit", "signal", "start", "crashed", "cancelled", "failed"))


@dataclasses.dataclass(frozen=True)
class Failure:
    """What the failure box shows; every text is stored (hostile) text or made from it."""

    status: str
    #: the error's type (``ValueError``, ``PointsLost``, ``signal``...); empty when none was recorded
    type: str
    message: str
    #: ``exit code 3``, ``killed by SIGKILL (Killed)``; empty when unknown
    exit: str
    #: a crashed run's last sign of life: ``2024-05-01 12:00:03 (4m 02s ago)``
    heartbeat: str
    traceback: str
    #: the last lines of stderr, when the error carries no traceback (a crash, a job's exit)
    stderr: str
    warnings: tuple[str, ...]
    points_lost: int

    @property
    def title(self) -> str:
        """``Failed: ValueError``, ``Crashed``, ``Cancelled``, ``Storage warnings``."""
        head = {"failed": tr("Failed"), "crashed": tr("Crashed"), "cancelled": tr("Cancelled")}.get(
            self.status, tr("Storage warnings"))
        return f"{head}: {self.type}" if self.type and self.type.lower() not in _KINDS else head

    def facts(self) -> list[tuple[str, str]]:
        """(label, text) lines under the title, empty ones left out."""
        rows = [(tr("Exit"), self.exit), (tr("Last heartbeat"), self.heartbeat),
                (tr("Points lost"), f"{self.points_lost:,}" if self.points_lost else "")]
        return [row for row in rows if row[1]]


def exit_text(code: Any) -> str:
    """``exit code 3``; ``killed by SIGKILL (Killed)`` for a negative code (Popen's way of saying
    that signal ended the process); empty for anything that is not an int."""
    if isinstance(code, bool) or not isinstance(code, int):
        return ""
    if code >= 0:
        return tr("exit code {code}", code=code)
    try:
        name = signal.Signals(-code).name
    except ValueError:
        return tr("killed by signal {number}", number=-code)
    what = signal.strsignal(-code) or ""
    return tr("killed by {signal}", signal=f"{name} ({what})" if what else name)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _last_lines(text: str, count: int = STDERR_LINES) -> str:
    lines = text.rstrip("\n").splitlines()
    return "\n".join(lines[-count:])


def describe_failure(record: dict[str, Any], stderr: str = "", now: float | None = None) -> Failure | None:
    """The failure box of ``record``; None for a run that is fine (or still going) and recorded no
    storage faults. ``stderr`` is the tail of the run's captured stderr."""
    status = str(record.get("status") or "")
    raw_warnings = record.get("warnings")
    warnings = tuple(str(w) for w in raw_warnings) if isinstance(raw_warnings, list) else ()
    lost = record.get("points_lost")
    points_lost = lost if isinstance(lost, int) and not isinstance(lost, bool) and lost > 0 else 0
    if status not in ENDED_BADLY and not warnings and not points_lost:
        return None
    error = record.get("error")
    error = error if isinstance(error, dict) else ({"message": error} if error else {})
    kind, message, trace = _text(error.get("type")), _text(error.get("message")), _text(error.get("traceback"))
    job = record.get("job")
    ended = job.get("exit") if isinstance(job, dict) else None
    ended = ended if isinstance(ended, dict) else {}
    code = record.get("exit_code")
    exit_ = exit_text(code if code is not None else ended.get("code"))
    if not exit_ and error.get("exit"):  # a job's own error, kept, with how its process ended
        exit_ = _text(error.get("exit"))
    heartbeat = ""
    if status == "crashed":
        last = record.get("heartbeat") or record.get("started") or record.get("created")
        if isinstance(last, (int, float)) and not isinstance(last, bool):
            ago = duration((time.time() if now is None else now) - float(last))
            heartbeat = tr("{time} ({ago} ago)", time=when(last), ago=ago)
        if not message:
            message = tr("The process ended without finishing the run (killed, out of memory, or power loss).")
    elif status == "failed" and not message:
        message = tr("The run ended as failed without recording an error.")
    elif status == "cancelled" and not message:
        message = tr("The run was cancelled.")
    elif status not in ENDED_BADLY:
        kind, message, trace, exit_ = "", "", "", ""  # a run that went on: only its faults
    tail = ""
    if status in ENDED_BADLY and not trace:
        tail = _last_lines(_text(error.get("stderr")) or stderr)
    return Failure(status=status if status in ENDED_BADLY else "", type=kind, message=message, exit=exit_,
                   heartbeat=heartbeat, traceback=trace, stderr=tail, warnings=warnings, points_lost=points_lost)


add_zh({
    "Failed": "失败", "Crashed": "崩溃", "Cancelled": "已取消", "Storage warnings": "存储警告",
    "Exit": "退出", "Last heartbeat": "最后心跳", "Points lost": "丢失的数据点",
    "exit code {code}": "退出码 {code}", "killed by {signal}": "被 {signal} 终止",
    "killed by signal {number}": "被信号 {number} 终止", "{time} ({ago} ago)": "{time}（{ago}前）",
    "The process ended without finishing the run (killed, out of memory, or power loss).":
        "进程在运行结束前终止（被杀死、内存不足或断电）。",
    "The run ended as failed without recording an error.": "运行以失败结束，但未记录错误。",
    "The run was cancelled.": "运行已取消。",
})
