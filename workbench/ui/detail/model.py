"""RunDetail's view model: one run's record, why it failed, config, summary, tags and notes,
output (stdout and stderr), a chart of every metric (:attr:`RunDetailModel.metrics`, a
MetricPanels model following the shown run), the latest system metrics and artifact lineage,
through the public API only.

The run is fixed (an id or prefix) or follows a :class:`Selection` (the first selected run of a
RunBrowser). While the run is live, :meth:`poll` re-reads its record and output tail, and the
views redraw only what changed. A running run whose process is gone reads ``crashed`` (the
store's own check, through :func:`workbench.runs`), and then gets its failure box. Lineage links
call :meth:`open_run`, which switches the detail to that run and tells the ``on_open_run`` hooks
(the web app uses them to move to the run's page).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import workbench as wb
from workbench.errors import ArtifactNotFound
from workbench.ui._format import duration, when
from workbench.ui._i18n import tr
from workbench.ui._model import Selection, ViewModel, as_selection
from workbench.ui.detail._failure import Failure, describe_failure
from workbench.ui.detail._flatten import flatten, text
from workbench.ui.panels.model import MetricPanelsModel

__all__ = ["LIVE", "RunDetailModel"]

#: statuses whose record and output may still change
LIVE = frozenset(("queued", "running"))
SYSTEM_PREFIX = "sys/"

OpenHook = Callable[[str], None]
#: every field, for a new run
_EVERYTHING = ("run", "status", "failure", "summary", "config", "tags", "notes", "stdout", "stderr", "system",
               "artifacts")


class RunDetailModel(ViewModel):
    """State of a RunDetail.

    Fields (notified by name): ``run`` (another run, or the first load), ``status``, ``failure``
    (the failure box), ``summary``, ``config`` (the filter changed), ``tags``, ``notes``,
    ``stdout``, ``stderr``, ``system``, ``artifacts``, ``error``.
    """

    def __init__(self, run: Any = None, *, root: Any = None, tail: int = 200) -> None:
        super().__init__(root)
        self.tail = tail
        self.run_id: str | None = None
        self.record: dict[str, Any] = {}
        self.config_filter = ""
        self.stdout = ""
        self.stderr = ""
        #: why the run did not complete (None: it did, or it is still going)
        self.failure: Failure | None = None
        #: a chart per metric of the shown run (sections by prefix, system metrics by unit)
        self.metrics = MetricPanelsModel(Selection(), root=root)
        #: rows: direction ("out" produced / "in" used), ref, type, runs (consumers or producer)
        self.artifacts: list[dict[str, Any]] = []
        self._hooks: list[OpenHook] = []
        self.selection: Selection | None = None
        self._unfollow: Callable[[], None] | None = None
        if isinstance(run, str):
            self.load(run)
        elif run is not None and hasattr(run, "id") and isinstance(run.id, str):  # a wb.Run
            self.load(run.id)
        elif run is not None:
            self.follow(as_selection(run))

    # -- which run -------------------------------------------------------------------------------
    def follow(self, selection: Selection) -> None:
        """Show the first run selected in ``selection`` from now on."""
        if self._unfollow is not None:
            self._unfollow()
        self.selection = selection

        def changed(fields: frozenset[str]) -> None:
            if "run_ids" in fields:
                self._show_first()

        self._unfollow = selection.observe(changed)
        self._show_first()

    def _show_first(self) -> None:
        ids = self.selection.run_ids if self.selection is not None else []
        if ids:
            if ids[0] != self.run_id:
                self.load(ids[0])
        else:
            self.clear()

    def clear(self) -> None:
        self.run_id, self.record, self.stdout, self.stderr, self.failure = None, {}, "", "", None
        self.artifacts = []
        self.metrics.selection.set([])
        self.notify(*_EVERYTHING)

    def load(self, run_id: str) -> None:
        """Show run ``run_id`` (an id or unique prefix); an unknown one becomes ``error``."""
        with self.guard(tr("Open run")):
            record = wb.get_run(run_id, root=self.root)
            self.run_id = str(record["id"])
            self.record = self._unless_crashed(record)
            self.stdout = self._read_log("stdout")
            self.stderr = self._read_log("stderr")
            self.failure = describe_failure(self.record, self.stderr)
            self.artifacts = self._read_artifacts()
            self.metrics.selection.set([self.run_id])
            self.notify(*_EVERYTHING)

    def on_open_run(self, hook: OpenHook) -> Callable[[], None]:
        """Call ``hook(run_id)`` when a lineage link opens another run; returns an unsubscribe."""
        self._hooks.append(hook)
        return lambda: self._hooks.remove(hook) if hook in self._hooks else None

    def open_run(self, run_id: str) -> None:
        """Switch to ``run_id`` (a lineage link was clicked) and tell the hooks."""
        self.load(run_id)
        if self.run_id == run_id or (self.run_id and self.run_id.startswith(run_id)):
            for hook in list(self._hooks):
                hook(self.run_id)

    # -- what the views show ---------------------------------------------------------------------
    @property
    def status(self) -> str:
        return str(self.record.get("status") or "")

    @property
    def empty_hint(self) -> str:
        """What the view says while it shows no run: how to pick one."""
        if self.run_id is not None:
            return ""
        return tr("No run selected. Tick a run in the runs table (the Runs page of the web app, or the RunBrowser "
                  "this view follows), or open one by id: RunDetail(\"RUN_ID\"), or %wb detail RUN_ID in a notebook.")

    def record_rows(self) -> list[tuple[str, str]]:
        """(label, text) of the run's facts, in the order the header shows them."""
        r = self.record
        if not r:
            return []
        started, ended = r.get("started"), r.get("ended")
        seconds = None
        if isinstance(started, (int, float)):
            end = ended if isinstance(ended, (int, float)) else (time.time() if self.status == "running" else None)
            seconds = None if end is None else end - started
        git = r.get("git") if isinstance(r.get("git"), dict) else None
        git_text = ""
        if git:
            git_text = str(git.get("commit") or "")[:10]
            if git.get("branch"):
                git_text += f" ({git['branch']})"
            if git.get("dirty"):
                git_text += " " + tr("dirty")
        return [
            (tr("Id"), str(r.get("id", ""))),
            (tr("Name"), str(r.get("name") or "")),
            (tr("Project"), str(r.get("project") or "")),
            (tr("Status"), tr(self.status)),
            (tr("Created"), when(r.get("created"))),
            (tr("Ended"), when(ended)),
            (tr("Duration"), duration(seconds)),
            (tr("Host"), str(r.get("host") or "")),
            (tr("Git"), git_text),
            (tr("Remote"), str(r.get("remote") or "")),
            (tr("Imported from"), _source_text(r.get("source"))),
        ]

    def config_rows(self) -> list[tuple[str, str]]:
        """(key, value) of the flattened config whose key or value contains the filter text."""
        needle = self.config_filter.strip().lower()
        rows = [(k, text(v)) for k, v in sorted(flatten(self.record.get("config")).items())]
        return [row for row in rows if needle in row[0].lower() or needle in row[1].lower()] if needle else rows

    def set_config_filter(self, value: str) -> None:
        if value != self.config_filter:
            self.config_filter = value
            self.notify("config")

    def summary_rows(self) -> list[tuple[str, str]]:
        summary = self.record.get("summary") or {}
        return [(k, text(v)) for k, v in sorted(summary.items()) if not k.startswith(SYSTEM_PREFIX)]

    def system_rows(self) -> list[tuple[str, str]]:
        """The latest value of each ``sys/*`` metric."""
        metrics = self.record.get("metrics") or {}
        summary = self.record.get("summary") or {}
        keys = sorted({k for k in (*metrics, *summary) if k.startswith(SYSTEM_PREFIX)})
        return [(k, text(summary.get(k, (metrics.get(k) or {}).get("last")))) for k in keys]

    @property
    def tags(self) -> list[str]:
        return [str(t) for t in self.record.get("tags") or []]

    @property
    def notes(self) -> str:
        return str(self.record.get("notes") or "")

    @property
    def read_only(self) -> bool:
        return bool(self.record.get("remote"))

    # -- actions ---------------------------------------------------------------------------------
    def save(self, tags: str | Sequence[str] | None = None, notes: str | None = None) -> bool:
        """Store new tags (a list, or text separated by commas) and/or notes; True when saved."""
        if self.refused(tr("Save")):
            return False
        if self.run_id is None:
            self._fail(tr("Save") + ": " + tr("No run selected"))
            return False
        if isinstance(tags, str):
            tags = [t.strip() for t in tags.split(",") if t.strip()]
        saved = False
        bad_input: str | None = None
        with self.guard(tr("Save")):
            try:
                self.record = wb.update_run(self.run_id, tags=tags, notes=notes, root=self.root)
                saved = True
            except (TypeError, ValueError) as exc:  # a bad tag: say which, like our own errors
                bad_input = str(exc)
        if bad_input is not None:
            self._fail(f"{tr('Save')}: {bad_input}")
        if saved:
            self.notify("tags", "notes")
        return saved

    def poll(self) -> bool:
        """Re-read a live run: status and summary from its record, the output tail, system metrics."""
        if self.run_id is None or (self.status not in LIVE and self.record):
            return False
        with self._lock:
            changed: list[str] = []
            with self.guard(tr("Refresh")):
                record = self._unless_crashed(wb.get_run(self.run_id, root=self.root))
                if record.get("status") != self.record.get("status"):
                    changed.append("status")
                if record.get("summary") != self.record.get("summary") or record.get("metrics") != self.record.get(
                        "metrics"):
                    changed.append("summary")
                if record.get("tags") != self.record.get("tags"):
                    changed.append("tags")
                if record.get("notes") != self.record.get("notes"):
                    changed.append("notes")
                if record.get("error") != self.record.get("error") or record.get("warnings") != self.record.get(
                        "warnings") or record.get("points_lost") != self.record.get("points_lost"):
                    changed.append("failure")
                self.record = record
                for stream in ("stdout", "stderr"):
                    output = self._read_log(stream)
                    if output != getattr(self, stream):
                        setattr(self, stream, output)
                        changed.append(stream)
                if {"status", "failure", "stderr"} & set(changed):
                    failure = describe_failure(record, self.stderr)
                    if failure != self.failure:
                        self.failure = failure
                        changed.append("failure")
                if "summary" in changed:  # the latest system metrics (their charts: self.metrics)
                    changed.append("system")
                if "status" in changed:  # a finished run may have logged artifacts at the end
                    self.artifacts = self._read_artifacts()
                    changed.append("artifacts")
            if changed:
                self.notify(*changed)
            return bool(changed)

    # -- reading ---------------------------------------------------------------------------------
    def _read_log(self, stream: str) -> str:
        assert self.run_id is not None
        return wb.run_logs(self.run_id, stream, tail=self.tail, root=self.root)

    def _unless_crashed(self, record: dict[str, Any]) -> dict[str, Any]:
        """``record``, or, when it says running but its process is gone, the record as the store
        shows it then: ``crashed`` (the store's query notices the death and records it, with its
        error, once; a synced run's record is only shown so)."""
        if record.get("status") != "running":
            return record
        found = wb.runs(where=f"run_id = '{record['id']}'", columns=["status"], root=self.root)
        if found.empty or found["status"].iloc[0] != "crashed":
            return record
        again = wb.get_run(str(record["id"]), root=self.root)
        return again if again.get("status") == "crashed" else {**again, "status": "crashed"}

    def _read_artifacts(self) -> list[dict[str, Any]]:
        assert self.run_id is not None
        found = wb.run_artifacts(self.run_id, root=self.root)
        rows = []
        for direction, key in (("out", "produced"), ("in", "used")):
            for entry in found.get(key, []):
                ref = f"{entry['name']}:v{entry['version']}"
                try:
                    art = wb.artifact(ref, root=self.root)
                    runs = list(art.used_by()) if direction == "out" else [art.producer] if art.producer else []
                except ArtifactNotFound:  # a synced run's artifact not here
                    runs = []
                rows.append({"direction": direction, "ref": ref, "type": entry.get("type") or "",
                             "runs": [str(r) for r in runs if r and r != self.run_id]})
        return rows


def _source_text(source: object) -> str:
    """Where an imported run came from (workbench/importers): "tensorboard /logs/exp1 (run a/b)"."""
    if not isinstance(source, dict) or not source.get("kind"):
        return ""
    return f"{source.get('kind')} {source.get('path') or ''} ({source.get('id') or ''})"
