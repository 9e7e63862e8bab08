"""LaunchForm and JobMonitor for ``panel serve``: Panel widgets, ``pn.indicators.Progress`` bars and
inline alerts. State stays in the models; each browser session gets its own widgets."""

from __future__ import annotations

from typing import Any

import panel as pn

from workbench.jobs import Field
from workbench.ui import _html, _safe
from workbench.ui._i18n import tr
from workbench.ui._live import panel_polling
from workbench.ui.launch.model import LaunchFormModel, field_help
from workbench.ui.launch.monitor_model import JobMonitorModel


def _on_session_end(close: Any) -> None:
    """Unsubscribe a view from its model when its browser session ends (shared models outlive it)."""
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        pn.state.curdoc.on_session_destroyed(lambda _ctx: close())


def _dismiss_button(model: Any) -> Any:
    """Hides the errors of the model's actions (shown while there are some)."""
    button = pn.widgets.Button(label=tr("Dismiss"), width=90, visible=False)
    button.on_click(lambda _: model.dismiss())
    return button


def _help(field: Field) -> Any:
    """A field's whole help text, wrapped under it (a placeholder would cut it)."""
    return _safe.html_pane(_safe.markup("<small>{}</small>", field_help(field)), sizing_mode="stretch_width",
                           styles={"color": "#555", "white-space": "normal"})


class JobMonitorPanel:
    """One row per job with a Progress bar and a Cancel button; the chosen job's logs below."""

    def __init__(self, model: JobMonitorModel, *, live: bool = True) -> None:
        self.model = model
        self.rows = pn.Column(sizing_mode="stretch_width")
        self.row_widgets: dict[str, dict[str, Any]] = {}
        self.logs = _safe.html_pane(sizing_mode="stretch_width")
        self.message = _safe.html_pane()
        self.alert = _safe.alert_pane()
        self.dismiss = _dismiss_button(model)
        self.layout = pn.Column(pn.Row(self.alert, self.dismiss, sizing_mode="stretch_width"), self.message,
                                _safe.heading(tr("Jobs"), 3),
                                self.rows, self.logs,
                                sizing_mode="stretch_width")
        self._unsubscribe = model.observe(self._redraw)
        self._redraw(frozenset({"jobs", "selected", "logs", "message", "error"}))
        self._poller = panel_polling(model) if live else None
        _on_session_end(self.close)

    def _make_row(self, run_id: str) -> dict[str, Any]:
        parts: dict[str, Any] = {
            "status": _safe.html_pane(width=110),
            "name": _safe.html_pane(width=260),
            "priority": pn.pane.Str("", width=50),
            "progress": pn.indicators.Progress(value=-1, max=100, width=160, bar_color="primary"),
            "loss": _safe.html_pane(width=260),
            "cancel": pn.widgets.Button(label=tr("Cancel"), color="danger", width=80),
            "logs": pn.widgets.Button(label=tr("Logs"), width=70),
        }
        parts["cancel"].on_click(lambda _: self.model.cancel(run_id))
        parts["logs"].on_click(lambda _: self.model.select(run_id))
        parts["row"] = pn.Row(*(parts[k] for k in ("status", "name", "priority", "progress", "loss", "cancel", "logs")))
        return parts

    def _draw_row(self, parts: dict[str, Any], row: dict[str, Any]) -> None:
        _safe.set_html(parts["status"], _safe.markup("<b style='color:{}'>● {}</b>", row["color"], row["status_text"]))
        _safe.set_html(parts["name"], _safe.markup("{} <small>{}</small>", row["name"], row["run_id"]))
        parts["priority"].object = f"p{row['priority']}"
        # -1: indeterminate, animated only while the job runs; an ended job's bar stands still
        parts["progress"].active = bool(row["animated"])
        parts["progress"].value = -1 if row["animated"] else int(row["percent"] or 0)
        loss = f"{row['loss_key'] or ''} {row['loss_text']}" if row["loss_text"] else ""
        _safe.set_html(parts["loss"],
                       _safe.markup("{} <span style='font-family:monospace'>{}</span>", loss, row["spark"]))
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
            self.rows.objects = [p["row"] for p in widgets.values()] or [_safe.html_pane(_html.note(tr("No jobs yet")))]
        if changed & {"selected", "logs"}:
            _safe.set_html(self.logs, _safe.markup(
                "<b>{} {}</b><pre style='max-height:300px;overflow:auto'>{}</pre>", tr("Logs"), m.selected, m.logs)
                if m.selected else "")
        if "message" in changed:
            _safe.set_html(self.message, m.message or "")
        if "error" in changed:
            _safe.show_alert(self.alert, m.error)
            self.dismiss.visible = bool(m.action_errors)

    def close(self) -> None:
        if self._poller is not None:
            self._poller.stop()
        self._unsubscribe()


class LaunchFormPanel:
    """The launch form as Panel widgets; the JobMonitor's Panel view below when given."""

    def __init__(self, model: LaunchFormModel, *, monitor: Any = None, live: bool = True) -> None:
        self.model = model
        self.recipe = pn.widgets.Select(label=tr("Recipe"), options=model.recipes)
        self.dataset = pn.widgets.Select(label=tr("Dataset"), options={})
        self.upload = pn.widgets.FileInput(accept=".csv,.tsv,.json,.jsonl,.ndjson,.parquet,.pq")
        self.base_model = pn.widgets.TextInput(label=tr("Base model"))
        self.fields = pn.Column()
        self.field_widgets: dict[str, tuple[Any, Any]] = {}
        self.priority = pn.widgets.IntInput(label=tr("Priority"), value=model.priority)
        self.executor = pn.widgets.Select(label=tr("Executor"), options=model.executors)
        # any name may be typed; the store's projects are offered (Bokeh lists them as text)
        self.project = pn.widgets.AutocompleteInput(label=tr("Project"), options=model.projects, value=model.project,
                                                    restrict=False, min_characters=0, search_strategy="includes",
                                                    case_sensitive=False)
        self.name = pn.widgets.TextInput(label=tr("Name"))
        self.tags = pn.widgets.TextInput(label=tr("Tags"), placeholder="lora, baseline")
        self.submit = pn.widgets.Button(label=tr("Launch"), color="primary")
        self.message = _safe.html_pane()
        self.alert = _safe.alert_pane()
        self.dismiss = _dismiss_button(model)
        self._drawing = False
        self.recipe.param.watch(lambda e: self._user(model.set_recipe, e.new), "value")
        self.dataset.param.watch(lambda e: self._user(model.set_dataset, e.new), "value")
        self.upload.param.watch(self._on_upload, "value")
        self.base_model.param.watch(lambda e: self._user(lambda v: model.set(base_model=v), e.new), "value")
        self.priority.param.watch(lambda e: self._user(lambda v: model.set(priority=v), e.new), "value")
        self.executor.param.watch(lambda e: self._user(lambda v: model.set(executor=v), e.new), "value")
        self.name.param.watch(lambda e: self._user(lambda v: model.set(name=v), e.new), "value")
        self.tags.param.watch(lambda e: self._user(lambda v: model.set(tags=v), e.new), "value")
        # value_input: what is typed, before Enter or leaving the box
        for name in ("value", "value_input"):
            self.project.param.watch(lambda e: self._user(lambda v: model.set(project=v or ""), e.new), name)
        self.submit.on_click(lambda _: self._submit())
        self.dataset_row = pn.Row(self.dataset, pn.Column(pn.pane.Str(tr("Upload")), self.upload))
        items = [pn.Row(self.alert, self.dismiss, sizing_mode="stretch_width"), self.recipe, self.dataset_row,
                 self.base_model,
                 _safe.html_pane(_safe.markup("<b>{}</b>", tr("Hyperparameters"))),
                 self.fields, pn.Row(self.priority, self.executor), pn.Row(self.project, self.name, self.tags),
                 self.submit,
                 self.message]
        if monitor is not None:
            items.append(monitor)
        self.layout = pn.Column(*items, sizing_mode="stretch_width")
        self._unsubscribe = model.observe(self._redraw)
        self._redraw(frozenset({"recipe", "fields", "datasets", "dataset", "projects", "message", "error"}))
        self._poller = panel_polling(model) if live else None
        _on_session_end(self.close)

    def _submit(self) -> None:
        self.model.submit()

    def _user(self, action: Any, value: Any) -> None:
        if not self._drawing:
            action(value)

    def _on_upload(self, event: Any) -> None:
        if self._drawing or not event.new:
            return
        self.model.upload(str(self.upload.filename or ""), bytes(event.new))

    def _field_widget(self, field: Field) -> tuple[Any, Any]:
        value = self.model.values.get(field.name)
        label = field.name + (" *" if field.required else "")
        box: Any
        if field.type == "bool":
            box = pn.widgets.Checkbox(label=label, value=bool(value))
        elif field.choices:
            box = pn.widgets.Select(label=label, options=list(field.choices), value=value or field.choices[0])
        else:
            box = pn.widgets.TextInput(label=label, value=str(value or ""))
        box.param.watch(lambda e: self._user(lambda v: self.model.set_value(field.name, v), e.new), "value")
        return box, _safe.html_pane(styles={"color": "#d62728"})

    def _redraw(self, changed: frozenset[str]) -> None:
        m = self.model
        self._drawing = True
        try:
            if "fields" in changed:
                self.field_widgets = {f.name: self._field_widget(f) for f in m.fields}
                self.fields.objects = [pn.Column(self.field_widgets[f.name][0], _help(f), self.field_widgets[f.name][1])
                                       for f in m.fields]
            if "recipe" in changed:
                self.recipe.value = m.recipe
                self.dataset_row.visible = m.takes_dataset
                self.base_model.visible = m.takes_base_model
            if changed & {"datasets", "dataset"}:
                self.dataset.options = {tr("(none)"): None, **{r: r for r in m.datasets}}  # Select: text labels
                self.dataset.value = m.dataset if m.dataset in m.datasets else None
            if changed & {"fields", "field_errors"}:
                for key, (_, err) in self.field_widgets.items():
                    _safe.set_html(err, m.field_errors.get(key, ""))
            if "projects" in changed and list(self.project.options) != m.projects:
                self.project.options = list(m.projects)
            if "message" in changed:
                _safe.set_html(self.message, m.message or "")
            if "error" in changed:
                _safe.show_alert(self.alert, m.error)
                self.dismiss.visible = bool(m.action_errors)
        finally:
            self._drawing = False

    def close(self) -> None:
        if self._poller is not None:
            self._poller.stop()
        self._unsubscribe()
