"""The JobMonitor's state: queued and running jobs (and recent finished ones) with status, priority,
progress and live loss; the logs of a chosen job; cancel.

Reads go through ``workbench.jobs.list_jobs`` and each :class:`~workbench.Job` (record, status,
progress, logs), loss curves through ``wb.history``. A curve is fetched again only when the job
logged a newer step of its loss key, so polling a quiet queue costs a few small JSON reads.
"""

from __future__ import annotations

import math
from typing import Any

import workbench as wb
from workbench.jobs import list_jobs
from workbench.ui._format import status_color
from workbench.ui._i18n import add_zh, tr
from workbench.ui._model import ViewModel

add_zh(
    {
        "Jobs": "任务",
        "Cancel": "取消",
        "Logs": "日志",
        "No jobs yet": "尚无任务",
        "priority": "优先级",
        "loss": "损失",
        "{run}: cancelled": "{run}：已取消",
        "{run}: stopping: SIGTERM sent, SIGKILL follows if it has not ended within cancel_grace":
            "{run}：正在停止：已发送 SIGTERM，若在 cancel_grace 内未结束将发送 SIGKILL",
        "{run}: had already ended ({status}), nothing to cancel": "{run}：已经结束（{status}），无需取消",
        "{run}: ended ({status}) before the cancel took effect": "{run}：在取消生效前已结束（{status}）",
    }
)

ACTIVE = ("queued", "running")
_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float]) -> str:
    """A one-line text chart of ``values`` (``▁▂▃▅▇``), the same in every toolkit."""
    points = [v for v in values if not math.isnan(v)]
    if not points:
        return ""
    low, high = min(points), max(points)
    span = (high - low) or 1.0
    return "".join(_BARS[min(len(_BARS) - 1, int((v - low) / span * (len(_BARS) - 1) + 0.5))] for v in points)


def loss_key(metrics: dict[str, Any]) -> str | None:
    """The metric to show as the job's loss: ``loss``, else the first key ending in ``loss``."""
    keys = [k for k in metrics if not k.startswith("sys/")]
    if "loss" in keys:
        return "loss"
    found = sorted(k for k in keys if k.rsplit("/", 1)[-1].endswith("loss") and not k.startswith("eval"))
    return found[0] if found else None


class JobMonitorModel(ViewModel):
    """Jobs of one store, newest first: every queued and running one, and the ``recent`` newest
    finished ones.

    Fields: ``jobs`` (rows: ``run_id, name, recipe, status, color, priority, progress, loss_key,
    loss, spark, active``, ``animated``: a running job whose progress is not known), ``selected``
    and ``logs``, ``message`` (what the last Cancel did, kept current until the job has ended),
    ``error`` (a Cancel or Logs error stays until that action works again or :meth:`dismiss`).
    """

    def __init__(self, root: Any = None, *, recent: int = 10, log_lines: int = 200, spark_points: int = 40) -> None:
        super().__init__(root)
        self.recent = recent
        self.log_lines = log_lines
        self.spark_points = spark_points
        self.jobs: list[dict[str, Any]] = []
        self.selected: str | None = None
        self.logs = ""
        self.message: str | None = None
        #: the job a Cancel asked to stop, until it has ended (the message then says how)
        self._stopping: str | None = None
        self._curves: dict[str, tuple[Any, list[float]]] = {}
        self.refresh()

    # -- reading ----------------------------------------------------------------------------------
    def _row(self, job: wb.Job) -> dict[str, Any]:
        record = job.record
        status = str(record.get("status"))
        if status == "running":
            status = job.status  # a running job whose process is gone reads as crashed
        spec = record.get("job") or {}
        metrics = record.get("metrics") or {}
        key = loss_key(metrics)
        stat = metrics.get(key) if key else None
        loss = stat.get("last") if isinstance(stat, dict) else None
        progress = 1.0 if status == "completed" else job.progress
        spark = self._curve(job.run_id, key, stat)
        return {
            "run_id": job.run_id,
            "name": str(record.get("name") or job.run_id),
            "recipe": str(spec.get("recipe") or ""),
            "status": status,
            "status_text": tr(status),
            "color": status_color(status),
            "priority": int(spec.get("priority") or 0),
            "progress": progress,
            "percent": None if progress is None else round(100 * progress),
            "loss_key": key,
            "loss": loss,
            "loss_text": "" if loss is None else f"{loss:.4g}",
            "spark": spark,
            "active": status in ACTIVE,
            "animated": status == "running" and progress is None,
        }

    def _curve(self, run_id: str, key: str | None, stat: Any) -> str:
        if key is None or not isinstance(stat, dict):
            return ""
        mark = (key, stat.get("step"), stat.get("count"))
        cached = self._curves.get(run_id)
        if cached is None or cached[0] != mark:
            frame = wb.history([run_id], keys=[key], samples=self.spark_points, root=self.root)
            values = [float(v) for v in frame.sort_values("step")["value"]] if len(frame) else []
            cached = self._curves[run_id] = (mark, values[-self.spark_points:])
        return sparkline(cached[1])

    def _read(self) -> list[dict[str, Any]]:
        rows, finished = [], 0
        for job in list_jobs(self.root):
            try:
                row = self._row(job)
            except wb.StoreError:
                continue  # deleted meanwhile
            if not row["active"]:
                if finished >= self.recent:
                    continue
                finished += 1
            rows.append(row)
        return rows

    def refresh(self) -> None:
        with self._lock, self.guard("Jobs"):
            self._apply(self._read())

    def poll(self) -> bool:
        """Status, progress and loss move; new jobs appear; the chosen job's logs grow."""
        with self._lock:
            try:
                rows = self._read()
                logs = self._read_logs()
            except (wb.WorkbenchError, OSError):
                return False
            changed = rows != self.jobs
            if changed:
                self._apply(rows)
                self._stopped()
            if logs != self.logs:
                self.logs = logs
                self.notify("logs")
                changed = True
            return changed

    def _apply(self, rows: list[dict[str, Any]]) -> None:
        self.jobs = rows
        self.notify("jobs")

    def _read_logs(self) -> str:
        if self.selected is None:
            return ""
        return wb.Job(self.selected, root=self.root).logs("both", tail=self.log_lines)

    def row(self, run_id: str) -> dict[str, Any] | None:
        return next((r for r in self.jobs if r["run_id"] == run_id), None)

    # -- actions ----------------------------------------------------------------------------------
    def select(self, run_id: str | None) -> None:
        """Show the output of job ``run_id`` (its stdout, then its stderr; the last lines)."""
        with self._lock, self.act(tr("Logs")):
            self.selected = run_id
            self.logs = self._read_logs()
            self.notify("selected", "logs")

    def cancel(self, run_id: str) -> str | None:
        """Cancel a job without waiting: a queued one at once, a running one gets SIGTERM (then
        SIGKILL after ``cancel_grace``). The status it reports, or None with ``error`` set.

        ``message`` says what happened: cancelled, stopping (and, once the job has ended, how it
        ended), or that it had already ended."""
        if self.refused(tr("Cancel")):
            return None
        status = None
        with self._lock, self.act(tr("Cancel")):
            job = wb.Job(run_id, root=self.root)
            before = job.status
            status = job.cancel(wait=False)
            if before not in ACTIVE:
                self.message = tr("{run}: had already ended ({status}), nothing to cancel", run=run_id,
                                  status=tr(status))
            elif status in ACTIVE:  # the scheduler stops it: say so, and how it ended once it has
                self._stopping = run_id
                self.message = tr("{run}: stopping: SIGTERM sent, SIGKILL follows if it has not ended within "
                                  "cancel_grace", run=run_id)
            else:
                self.message = self._ended(run_id, status)
            self.notify("message")
            self._apply(self._read())
            self._stopped()
        if status is None and self.message is not None:  # the error replaces the last Cancel's message
            self.message = None
            self.notify("message")
        return status

    @staticmethod
    def _ended(run_id: str, status: str) -> str:
        if status == "cancelled":
            return tr("{run}: cancelled", run=run_id)
        return tr("{run}: ended ({status}) before the cancel took effect", run=run_id, status=tr(status))

    def _stopped(self) -> None:
        """Once the job a Cancel is stopping has ended, the message says how."""
        row = self.row(self._stopping) if self._stopping else None
        # a process that is gone before the scheduler records its end reads as crashed: still stopping
        if row is None or row["active"] or row["status"] == "crashed":
            return
        self._stopping = None
        self.message = self._ended(row["run_id"], row["status"])
        self.notify("message")

    def track(self, job: wb.Job) -> None:
        """A job launched from a form: list it now and show its logs."""
        self.refresh()
        self.select(job.run_id)

