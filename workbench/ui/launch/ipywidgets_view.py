"""LaunchForm and JobMonitor in a notebook: plain ipywidgets (a short job list, one row each)."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from workbench.jobs import Field
from workbench.ui import _html, _safe
from workbench.ui._i18n import tr
from workbench.ui._live import start_polling
from workbench.ui.launch.model import LaunchFormModel, field_help
from workbench.ui.launch.monitor_model import JobMonitorModel


def _error(text: str | None) -> _safe.Markup:
    return _html.error_line(text)


def _dismiss_button(model: Any) -> Any:
    """Hides the errors of the model's actions (shown while there are some)."""
    button = w.Button(description=tr("Dismiss"), icon="times", layout=w.Layout(width="auto", display="none"))
    button.on_click(lambda _: model.dismiss())
    return button


def _help(field: Field) -> Any:
    """A field's whole help text, wrapped under it (a placeholder would cut it)."""
    return _safe.html_widget(_safe.markup(
        "<div style='color:#555;font-size:smaller;white-space:normal;margin-left:156px'>{}</div>", field_help(field)))


class JobMonitorWidget(w.VBox):  # type: ignore[misc]
    """One row per job (status, priority, progress bar, loss and its sparkline, Cancel, Logs) and
    the chosen job's output below."""

    def __init__(self, model: JobMonitorModel, *, live: bool = True) -> None:
        self.model = model
        self.rows = w.VBox()
        self.row_widgets: dict[str, dict[str, Any]] = {}
        self.logs_title = _safe.html_widget()
        self.logs = _safe.html_widget()
        self.message = _safe.html_widget()
        self.error = _safe.html_widget()
        self.dismiss = _dismiss_button(model)
        super().__init__([w.HBox([self.error, self.dismiss]), self.message, self.rows, self.logs_title, self.logs])
        self._unsubscribe = model.observe(self._redraw)
        self._redraw(frozenset({"jobs", "selected", "logs", "message", "error"}))
        self._poller = start_polling(model) if live else None

    def _make_row(self, run_id: str) -> dict[str, Any]:
        parts = {
            "status": _safe.html_widget(layout=w.Layout(width="110px")),
            "name": _safe.html_widget(layout=w.Layout(width="260px")),
            "priority": _safe.html_widget(layout=w.Layout(width="60px")),
            "progress": w.FloatProgress(min=0.0, max=1.0, layout=w.Layout(width="160px")),
            "loss": _safe.html_widget(layout=w.Layout(width="260px")),
            "cancel": w.Button(description=tr("Cancel"), button_style="danger", layout=w.Layout(width="80px")),
            "logs": w.Button(description=tr("Logs"), layout=w.Layout(width="70px")),
        }
        parts["cancel"].on_click(lambda _: self.model.cancel(run_id))
        parts["logs"].on_click(lambda _: self.model.select(run_id))
        parts["box"] = w.HBox([parts[k] for k in ("status", "name", "priority", "progress", "loss", "cancel", "logs")])
        return parts

    def _draw_row(self, parts: dict[str, Any], row: dict[str, Any]) -> None:
        parts["status"].value = _safe.markup("<b style='color:{}'>● {}</b>", row["color"], row["status_text"])
        parts["name"].value = _safe.markup("{} <small>{} · {}</small>", row["name"], row["run_id"], row["recipe"])
        parts["priority"].value = f"p{row['priority']}"
        parts["progress"].value = float(row["progress"] or 0.0)
        parts["progress"].description = "" if row["percent"] is None else f"{row['percent']}%"
        loss = f"{row['loss_key'] or ''} {row['loss_text']}" if row["loss_text"] else ""
        parts["loss"].value = _safe.markup("{} <span style='font-family:monospace'>{}</span>", loss, row["spark"])
        parts["cancel"].disabled = not row["active"]

    def _redraw(self, changed: frozenset[str]) -> None:
        m = self.model
        if "jobs" in changed:
            widgets = {}
            for row in m.jobs:
                parts = self.row_widgets.get(row["run_id"]) or self._make_row(row["run_id"])
                self._draw_row(parts, row)
                widgets[row["run_id"]] = parts
            self.row_widgets = widgets
            boxes = [p["box"] for p in widgets.values()]
            self.rows.children = boxes or [_safe.html_widget(_html.note(tr("No jobs yet")))]
        if changed & {"selected", "logs"}:
            shown = m.selected is not None
            self.logs_title.value = _safe.markup("<b>{}</b> {}", tr("Logs"), m.selected or "") if shown else ""
            pre = _safe.markup("<pre style='max-height:300px;overflow:auto'>{}</pre>", m.logs)
            self.logs.value = pre if shown else ""
        if "message" in changed:
            self.message.value = m.message or ""
        if "error" in changed:
            self.error.value = _error(m.error)
            self.dismiss.layout.display = "" if m.action_errors else "none"

    def close(self) -> None:
        if self._poller is not None:
            self._poller.stop()
        self._unsubscribe()
        super().close()


class LaunchFormWidget(w.VBox):  # type: ignore[misc]
    """The form: recipe, dataset (pick or upload), base model, hyperparameters, priority,
    executor, name, tags, Launch; with the JobMonitor below when the form has one."""

    def __init__(self, model: LaunchFormModel, *, monitor: Any = None, live: bool = True) -> None:
        self.model = model
        style = {"description_width": "110px"}
        self.recipe = w.Dropdown(description=tr("Recipe"), options=model.recipes, style=style)
        self.dataset = w.Dropdown(description=tr("Dataset"), style=style)
        self.upload = w.FileUpload(description=tr("Upload"), accept=".csv,.tsv,.json,.jsonl,.ndjson,.parquet,.pq")
        self.base_model = w.Text(description=tr("Base model"), style=style)
        self.fields = w.VBox()
        self.field_widgets: dict[str, tuple[Any, Any]] = {}
        self.priority = w.IntText(description=tr("Priority"), value=model.priority, style=style)
        self.executor = w.Dropdown(description=tr("Executor"), options=model.executors, style=style)
        self.project = w.Combobox(description=tr("Project"), options=model.projects, value=model.project,
                                  ensure_option=False, style=style)  # any name; the store's are offered
        self.name = w.Text(description=tr("Name"), style=style)
        self.tags = w.Text(description=tr("Tags"), placeholder="lora, baseline", style=style)
        self.submit = w.Button(description=tr("Launch"), button_style="primary")
        self.message = _safe.html_widget()
        self.error = _safe.html_widget()
        self.dismiss = _dismiss_button(model)
        self._drawing = False
        self.recipe.observe(lambda c: self._user(model.set_recipe, c["new"]), "value")
        self.dataset.observe(lambda c: self._user(model.set_dataset, c["new"]), "value")
        self.upload.observe(self._on_upload, "value")
        self.base_model.observe(lambda c: self._user(lambda v: model.set(base_model=v), c["new"]), "value")
        self.priority.observe(lambda c: self._user(lambda v: model.set(priority=v), c["new"]), "value")
        self.executor.observe(lambda c: self._user(lambda v: model.set(executor=v), c["new"]), "value")
        self.project.observe(lambda c: self._user(lambda v: model.set(project=v), c["new"]), "value")
        self.name.observe(lambda c: self._user(lambda v: model.set(name=v), c["new"]), "value")
        self.tags.observe(lambda c: self._user(lambda v: model.set(tags=v), c["new"]), "value")
        self.submit.on_click(lambda _: model.submit())
        self.dataset_row = w.HBox([self.dataset, self.upload])
        children = [w.HBox([self.error, self.dismiss]), self.recipe, self.dataset_row, self.base_model,
                    _safe.html_widget(_safe.markup("<b>{}</b>", tr("Hyperparameters"))), self.fields,
                    self.priority, self.executor, self.project, self.name, self.tags, self.submit, self.message]
        if monitor is not None:
            children.append(monitor)
        super().__init__(children)
        self._unsubscribe = model.observe(self._redraw)
        self._redraw(frozenset({"recipe", "fields", "datasets", "dataset", "projects", "message", "error"}))
        self._poller = start_polling(model) if live else None

    def _user(self, action: Any, value: Any) -> None:
        if not self._drawing:
            action(value)

    def _on_upload(self, change: dict[str, Any]) -> None:
        if self._drawing or not change["new"]:
            return
        for item in change["new"]:
            self.model.upload(str(item["name"]), bytes(item["content"]))
        self._drawing = True  # empty the box so that the same file can be sent again
        try:
            self.upload.value = ()
        finally:
            self._drawing = False

    def _field_widget(self, field: Field) -> tuple[Any, Any]:
        value = self.model.values.get(field.name)
        label = field.name + (" *" if field.required else "")
        common = {"description": label, "tooltip": field_help(field), "style": {"description_width": "150px"}}
        box: Any
        if field.type == "bool":
            box = w.Checkbox(value=bool(value), **common)
        elif field.choices:
            box = w.Dropdown(options=list(field.choices), value=value or field.choices[0], **common)
        else:
            box = w.Text(value=str(value or ""), **common)
        box.observe(lambda c: self._user(lambda v: self.model.set_value(field.name, v), c["new"]), "value")
        return box, _safe.html_widget()

    def _redraw(self, changed: frozenset[str]) -> None:
        m = self.model
        self._drawing = True
        try:
            if "fields" in changed:
                self.field_widgets = {f.name: self._field_widget(f) for f in m.fields}
                self.fields.children = [w.VBox([self.field_widgets[f.name][0], _help(f), self.field_widgets[f.name][1]])
                                        for f in m.fields]
            if "recipe" in changed:
                self.recipe.value = m.recipe or None
                self.dataset_row.layout.display = "" if m.takes_dataset else "none"
                self.base_model.layout.display = "" if m.takes_base_model else "none"
            if changed & {"datasets", "dataset"}:
                self.dataset.options = [(tr("(none)"), None)] + [(r, r) for r in m.datasets]
                self.dataset.value = m.dataset if m.dataset in m.datasets else None
            if changed & {"fields", "field_errors"}:
                for key, (_, err) in self.field_widgets.items():
                    err.value = _error(m.field_errors.get(key))
            if "projects" in changed and list(self.project.options) != m.projects:
                self.project.options = list(m.projects)
            if "message" in changed:
                self.message.value = m.message or ""
            if "error" in changed:
                self.error.value = _error(m.error)
                self.dismiss.layout.display = "" if m.action_errors else "none"
        finally:
            self._drawing = False

    def close(self) -> None:
        if self._poller is not None:
            self._poller.stop()
        self._unsubscribe()
        super().close()
