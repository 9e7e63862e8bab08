"""The Panel rendering of a :class:`SyncModel` (``panel serve``): widgets, a Tabulator, no queries.

Actions finish in a worker thread; in a server session each redraw is moved onto the document's
event loop (``add_next_tick_callback``), where Bokeh models may change.
"""

from __future__ import annotations

import functools
from typing import Any

import pandas as pd
import panel as pn

from workbench.ui import _safe
from workbench.ui._i18n import tr
from workbench.ui._live import panel_polling
from workbench.ui.sync.model import SyncModel

_COLUMNS = ["name", "host", "root", "last_sync", "brought"]


class SyncPanelView:
    """Remotes table, test/sync buttons with progress, add-remote form, fetch-artifact box."""

    def __init__(self, model: SyncModel, refresh: float | None = None) -> None:
        self.model = model
        doc = pn.state.curdoc
        self._doc = doc if doc is not None and doc.session_context is not None else None
        self.table = _safe.table(pd.DataFrame(columns=_COLUMNS), show_index=False, disabled=True,
                                 selectable=False, sizing_mode="stretch_width",
                                 titles={"name": tr("Name"), "host": tr("Host"), "root": tr("Root"),
                                         "last_sync": tr("Last sync"), "brought": tr("Brought")})
        self.remote = pn.widgets.Select(label=tr("Remote"), options=[])
        self.test_button = pn.widgets.Button(label=tr("Test"))
        self.sync_button = pn.widgets.Button(label=tr("Sync"), color="primary")
        self.bar = pn.indicators.Progress(value=0, max=1000, width=300)
        self.progress = pn.pane.Str("")
        self.result = pn.pane.Str("")
        self.error = _safe.alert_pane()
        self.dismiss = pn.widgets.Button(label=tr("Dismiss"), width=90, visible=False)
        self.ref = pn.widgets.TextInput(label=tr("Artifact"), placeholder="gpu1:classifier:latest")
        self.fetch_button = pn.widgets.Button(label=tr("Fetch"))
        self.form = {
            "name": pn.widgets.TextInput(label=tr("Name")),
            "host": pn.widgets.TextInput(label=tr("Host")),
            "port": pn.widgets.IntInput(label=tr("Port"), value=22, start=1, end=65535),
            "user": pn.widgets.TextInput(label=tr("User")),
            "key": pn.widgets.TextInput(label=tr("Key file")),
            "root": pn.widgets.TextInput(label=tr("Root"), placeholder="/home/me/.workbench"),
            "python": pn.widgets.TextInput(label=tr("Python"), placeholder="/usr/bin/python3"),
            "fingerprint": pn.widgets.TextInput(label=tr("Host key"), placeholder="SHA256:... (ssh-keygen -lf)"),
        }
        self.trust = pn.widgets.Checkbox(label=tr("Trust this host's key on first use"))
        self.add_button = pn.widgets.Button(label=tr("Add remote"))
        self.layout = pn.Column(
            self.table,
            pn.Row(self.remote, self.test_button, self.sync_button),
            pn.Row(self.bar, self.progress),
            pn.Row(self.ref, self.fetch_button),
            self.result,
            pn.Row(self.error, self.dismiss, sizing_mode="stretch_width"),
            pn.Card(*self.form.values(), self.trust, self.add_button, title=tr("Add a remote"), collapsed=True),
            sizing_mode="stretch_width",
        )
        self.remote.param.watch(lambda event: model.select(event.new), "value")
        self.test_button.on_click(self._on_test)
        self.sync_button.on_click(self._on_sync)
        self.fetch_button.on_click(self._on_fetch)
        self.add_button.on_click(self._on_add)
        self.dismiss.on_click(lambda _: model.dismiss())
        self._unsubscribe = model.observe(self._schedule)
        self._redraw(frozenset({"remotes", "selected", "busy", "progress", "result", "error"}))
        self._poller = panel_polling(model, refresh)

    def _on_test(self, _: Any) -> None:
        self.model.test()

    def _on_sync(self, _: Any) -> None:
        self.model.sync()

    def _on_fetch(self, _: Any) -> None:
        self.model.fetch(self.ref.value or "")

    def _on_add(self, _: Any) -> None:
        f = self.form
        self.model.add(f["name"].value, f["host"].value, f["root"].value, f["python"].value,
                       port=int(f["port"].value or 22), user=f["user"].value, key=f["key"].value,
                       trust_new_host=bool(self.trust.value),
                       fingerprint=f["fingerprint"].value)

    def _schedule(self, changed: frozenset[str]) -> None:
        if self._doc is not None:
            self._doc.add_next_tick_callback(functools.partial(self._redraw, changed))
        else:
            self._redraw(changed)

    def _redraw(self, changed: frozenset[str]) -> None:
        model = self.model
        if "remotes" in changed:
            _safe.set_table(self.table, pd.DataFrame(model.remotes, columns=_COLUMNS))
            self.remote.options = [r["name"] for r in model.remotes]
        if ("selected" in changed or "remotes" in changed) and model.selected in self.remote.options:
            self.remote.value = model.selected
        if "busy" in changed:
            busy = model.busy is not None
            for button in (self.test_button, self.sync_button, self.fetch_button, self.add_button):
                button.disabled = busy
        if "progress" in changed:
            self.bar.value = int(model.progress_fraction * 1000)
            self.progress.object = model.progress_text
        if "result" in changed:
            self.result.object = model.result
        if "error" in changed:
            _safe.show_alert(self.error, model.error)
            self.dismiss.visible = bool(model.action_errors)

    def close(self) -> None:
        stop = getattr(self._poller, "stop", None)
        if callable(stop):
            stop()
        self._unsubscribe()
