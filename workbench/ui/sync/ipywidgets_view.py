"""The ipywidgets rendering of a :class:`SyncModel` (notebooks, Voila): plain widgets, no queries."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from workbench.ui import _html, _safe
from workbench.ui._i18n import tr
from workbench.ui._live import start_polling
from workbench.ui.sync.model import SyncModel


def remotes_html(rows: list[dict[str, Any]]) -> _safe.Markup:
    heads = [tr("Name"), tr("Host"), tr("Root"), tr("Last sync"), tr("Brought")]
    cells = [[row["name"], row["host"], row["root"], row["last_sync"], row["brought"]] for row in rows]
    return _html.table(cells, heads, empty=tr("No remotes yet: add one below"))


class SyncWidget:
    """Remotes table, test/sync buttons with progress, add-remote form, fetch-artifact box."""

    def __init__(self, model: SyncModel, refresh: float | None = None) -> None:
        self.model = model
        self.table = _safe.html_widget()
        self.remote = w.Dropdown(description=tr("Remote"), options=[])
        self.test_button = w.Button(description=tr("Test"), icon="plug")
        self.sync_button = w.Button(description=tr("Sync"), icon="refresh", button_style="primary")
        self.bar = w.FloatProgress(value=0.0, min=0.0, max=1.0, layout=w.Layout(width="300px"))
        self.progress = w.Label()
        self.result = _safe.html_widget()
        self.error = _safe.html_widget()
        self.dismiss = w.Button(description=tr("Dismiss"), icon="times", layout=w.Layout(width="auto", display="none"))
        self.ref = w.Text(description=tr("Artifact"), placeholder="gpu1:classifier:latest")
        self.fetch_button = w.Button(description=tr("Fetch"), icon="download")
        style = {"description_width": "80px"}
        self.form = {
            "name": w.Text(description=tr("Name"), style=style),
            "host": w.Text(description=tr("Host"), style=style),
            "port": w.BoundedIntText(value=22, min=1, max=65535, description=tr("Port"), style=style),
            "user": w.Text(description=tr("User"), style=style),
            "key": w.Text(description=tr("Key file"), style=style),
            "root": w.Text(description=tr("Root"), placeholder="/home/me/.workbench", style=style),
            "python": w.Text(description=tr("Python"), placeholder="/usr/bin/python3", style=style),
            "fingerprint": w.Text(description=tr("Host key"), placeholder="SHA256:... (ssh-keygen -lf)", style=style),
        }
        self.trust = w.Checkbox(value=False, description=tr("Trust this host's key on first use"))
        self.add_button = w.Button(description=tr("Add remote"), icon="plus")
        add_box = w.VBox([*self.form.values(), self.trust, self.add_button])
        self.add_panel = w.Accordion(children=[add_box])
        self.add_panel.set_title(0, tr("Add a remote"))
        self.add_panel.selected_index = None
        self.layout = w.VBox([
            self.table,
            w.HBox([self.remote, self.test_button, self.sync_button]),
            w.HBox([self.bar, self.progress]),
            w.HBox([self.ref, self.fetch_button]),
            self.result,
            w.HBox([self.error, self.dismiss]),
            self.add_panel,
        ])
        self.remote.observe(self._on_remote, names="value")
        self.test_button.on_click(lambda _: model.test())
        self.sync_button.on_click(lambda _: model.sync())
        self.fetch_button.on_click(lambda _: model.fetch(self.ref.value))
        self.add_button.on_click(self._on_add)
        self.dismiss.on_click(lambda _: model.dismiss())
        self._unsubscribe = model.observe(self._redraw)
        self._redraw(frozenset({"remotes", "selected", "busy", "progress", "result", "error"}))
        self._poller = start_polling(model, refresh)

    def _on_remote(self, change: dict[str, Any]) -> None:
        self.model.select(change["new"])

    def _on_add(self, _: Any) -> None:
        f = self.form
        if self.model.add(f["name"].value, f["host"].value, f["root"].value, f["python"].value,
                          port=int(f["port"].value), user=f["user"].value, key=f["key"].value,
                          trust_new_host=bool(self.trust.value), fingerprint=f["fingerprint"].value):
            self.add_panel.selected_index = None

    def _redraw(self, changed: frozenset[str]) -> None:
        model = self.model
        if "remotes" in changed:
            self.table.value = remotes_html(model.remotes)
            self.remote.options = [r["name"] for r in model.remotes]
        if (("selected" in changed or "remotes" in changed) and model.selected in self.remote.options
                and self.remote.value != model.selected):
            self.remote.value = model.selected
        if "busy" in changed:
            busy = model.busy is not None
            for button in (self.test_button, self.sync_button, self.fetch_button, self.add_button):
                button.disabled = busy
        if "progress" in changed:
            self.bar.value = model.progress_fraction
            self.progress.value = model.progress_text
        if "result" in changed:
            self.result.value = model.result
        if "error" in changed:
            self.error.value = _html.error_line(model.error)
            self.dismiss.layout.display = "" if model.action_errors else "none"

    def close(self) -> None:
        self._poller.stop()
        self._unsubscribe()
        self.layout.close()
