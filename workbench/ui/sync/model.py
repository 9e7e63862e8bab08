"""The SyncPanel's view model: remotes, their last sync, and the long actions (test, sync, fetch).

Long actions run in a worker thread so a view never freezes: the model reports progress through
the ``callback`` of :func:`workbench.remote.sync` / :func:`workbench.remote.fetch_artifact` and
notifies its views; a view that draws on an event loop (Panel in ``panel serve``) moves the
redraw onto it. Only public functions of :mod:`workbench.remote` and :mod:`workbench.settings` are
called: the model holds no paths and reads no files.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from workbench.errors import RemoteError, WorkbenchError
from workbench.remote import (
    Remote,
    add_remote,
    check_remote,
    fetch_artifact,
    last_sync,
    list_remotes,
    remove_remote,
    sync,
)
from workbench.settings import load_settings
from workbench.ui._format import duration, size, when
from workbench.ui._i18n import tr
from workbench.ui._model import ViewModel

__all__ = ["SyncModel"]

#: at most this many progress notifications per second reach the views
_PROGRESS_HZ = 10.0


class SyncModel(ViewModel):
    """State of a SyncPanel.

    Fields views read: ``remotes`` (rows: name, host, user, root, last sync, what it brought),
    ``selected`` (a remote name), ``busy`` (the running action, or None), ``progress``
    (files done, files total, bytes done, bytes total), ``result`` (text of the last action that
    worked) and ``error``: an action's error (test, sync, fetch, add, remove) stays until that
    action works next time or :meth:`dismiss`; the live refresh never clears it.
    """

    def __init__(self, root: Any = None) -> None:
        super().__init__(root)
        self.remotes: list[dict[str, Any]] = []
        self.selected: str | None = None
        self.busy: str | None = None
        self.progress: tuple[int, int, int, int] | None = None
        self.result = ""
        self.last_path: str | None = None
        self._worker: threading.Thread | None = None
        self._last_progress = 0.0
        self._seen: list[Any] = []
        self.refresh()

    # -- reading ------------------------------------------------------------------------------------
    def _rows(self) -> list[dict[str, Any]]:
        rows = []
        for remote in list_remotes(load_settings(self.root)):
            info = last_sync(remote.name, root=self.root) or {}
            brought = ""
            if info:
                brought = tr("{runs} runs, {artifacts} artifacts, {files} files, {size}",
                             runs=info.get("runs", 0), artifacts=info.get("artifacts", 0),
                             files=info.get("files", 0), size=size(info.get("bytes", 0)))
            rows.append({
                "name": remote.name,
                "host": f"{remote.user + '@' if remote.user else ''}{remote.host}:{remote.port}",
                "root": remote.root,
                "last_sync": when(info["time"]) if info.get("time") else tr("never"),
                "brought": brought,
            })
        return rows

    def refresh(self) -> None:
        with self.guard(tr("Remotes")):
            self._reload()

    def _reload(self) -> None:
        rows = self._rows()
        if rows != self.remotes:
            self.remotes = rows
            names = [r["name"] for r in rows]
            if self.selected not in names:
                self.selected = names[0] if names else None
            self.notify("remotes", "selected")

    def poll(self) -> bool:
        if self.busy is not None:
            return False
        before = self.remotes
        self.refresh()
        return self.remotes is not before

    def select(self, name: str | None) -> None:
        if name != self.selected:
            self.selected = name
            self.notify("selected")

    @property
    def progress_text(self) -> str:
        if self.progress is None:
            return ""
        files, files_total, done, total = self.progress
        return tr("{files}/{files_total} files, {done} of {total}", files=files, files_total=files_total,
                  done=size(done), total=size(total))

    @property
    def progress_fraction(self) -> float:
        if self.progress is None:
            return 0.0
        _, _, done, total = self.progress
        return 1.0 if total <= 0 else min(1.0, done / total)

    # -- actions --------------------------------------------------------------------------------------
    def add(self, name: str, host: str, root: str, python: str, *, port: int = 22, user: str | None = None,
            key: str | None = None, timeout: float = 10.0, trust_new_host: bool = False,
            fingerprint: str | None = None) -> bool:
        """Add (or replace) a remote; with ``trust_new_host``, connect first and record its host key.

        ``fingerprint`` (``SHA256:...``, as ``ssh-keygen -lf`` prints it on the host) pins the host
        key: the first connection accepts only that key.

        A remote that cannot be reached with trust-on-first-use is not kept. True when added.
        """
        if self.refused(tr("Add remote")):
            return False
        added = False
        with self.act(tr("Add remote")):
            store = load_settings(self.root).root
            remote = Remote(name=name.strip(), host=host.strip(), root=root.strip(), python=python.strip(),
                            port=int(port), user=(user or "").strip() or None, key=(key or "").strip() or None,
                            timeout=float(timeout), fingerprint=(fingerprint or "").strip() or None)
            add_remote(store, remote)
            if trust_new_host:
                try:
                    check_remote(remote.name, root=self.root, trust_new_host=True)
                except WorkbenchError:
                    remove_remote(store, remote.name)
                    raise
            added = True
        if added:
            self.selected = name.strip()
            self.result = tr("Added remote {name}", name=name.strip())
            self.refresh()
            self.notify("result", "selected")
        return added

    def remove(self, name: str | None = None) -> None:
        target = name or self.selected
        if target is None or self.refused(tr("Remove remote")):
            return
        with self.act(tr("Remove remote")):
            remove_remote(load_settings(self.root).root, target)
            self.result = tr("Removed remote {name}", name=target)
            self.notify("result")
        self.refresh()

    def _start(self, action: str, work: Callable[[], str]) -> bool:
        """Run ``work`` in a worker thread; its return value becomes ``result``. False if busy or locked
        (test, sync and fetch all reach out or write: a locked view does none of them)."""
        if self.refused(action):
            return False
        with self._lock:
            if self.busy is not None:
                return False
            self.busy = action
        self.progress = None
        self.result = ""
        self.notify("busy", "progress", "result")

        def run() -> None:
            text = ""
            try:
                with self.act(action):
                    text = work()
            except Exception as exc:  # noqa: BLE001 - anything else still ends as readable text
                self.action_failed(action, f"{action}: {type(exc).__name__}: {exc}")
            finally:
                self.busy = None
                self.result = text
                self.refresh()
                self.notify("busy", "result", "progress")

        self._worker = threading.Thread(target=run, name=f"workbench-sync-panel-{action}", daemon=True)
        self._worker.start()
        return True

    def _on_progress(self, files: int, files_total: int, done: int, total: int) -> None:
        self.progress = (files, files_total, done, total)
        now = time.monotonic()
        if now - self._last_progress >= 1 / _PROGRESS_HZ or (files == files_total and done == total):
            self._last_progress = now
            self.notify("progress")

    def _need_remote(self, name: str | None) -> str:
        target = name or self.selected
        if not target:
            raise RemoteError(tr("no remote chosen: add one first"))
        return target

    def test(self, name: str | None = None) -> bool:
        """Connect and check the remote: its round-trip time, or the error, inline."""
        def work() -> str:
            target = self._need_remote(name)
            info = check_remote(target, root=self.root)
            return tr("{name}: reachable, round trip {rtt}, Python {python}", name=target,
                      rtt=f"{info['rtt'] * 1000:.1f} ms", python=info.get("python_version", "?"))

        return self._start(tr("Test"), work)

    def sync(self, name: str | None = None) -> bool:
        """Sync the remote (runs and artifact manifests) with progress."""
        def work() -> str:
            target = self._need_remote(name)
            result = sync(target, root=self.root, progress="never", callback=self._on_progress)
            text = tr("{name}: {runs} runs and {artifacts} artifacts synced ({files} files, {size}) in {time}",
                      name=target, runs=len(result.runs), artifacts=len(result.artifacts), files=result.files,
                      size=size(result.bytes), time=duration(result.seconds))
            if result.refused:
                text += " · " + tr("{count} entries refused: {first}", count=len(result.refused),
                                   first=result.refused[0])
            return text

        return self._start(tr("Sync"), work)

    def fetch(self, ref: str) -> bool:
        """Fetch a remote artifact version (``REMOTE:name:ref``; the remote may be left out when one
        is selected) and place its files; ``last_path`` is where they are."""
        def work() -> str:
            text = ref.strip()
            if text.count(":") < 2:
                text = f"{self._need_remote(None)}:{text}"
            result = fetch_artifact(text, root=self.root, progress="never", callback=self._on_progress)
            self.last_path = str(result.path)
            return tr("{ref}: {blobs} blobs fetched ({size}), {present} already here → {path}", ref=result.ref,
                      blobs=result.blobs, size=size(result.bytes), present=result.present, path=result.path)

        return self._start(tr("Fetch"), work)

    def wait(self, timeout: float = 120.0) -> bool:
        """Wait for the running action (tests, scripts); True when none is running."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
        return self.busy is None
