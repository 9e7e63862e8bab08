"""Issue 14: errors stay until the user acts. An action's error survives every live refresh; it goes
away when that action works next time or the person dismisses it (both renderings have a Dismiss
button). Also the job monitor's Cancel message, its bars, and the recipe fields' whole help text."""

from __future__ import annotations

import html
import socket
import sys
import time
from pathlib import Path

import pytest
from conftest import require_module
from conftest import wait_for as until

import workbench as wb
from tests.jobs._job_helpers import jobs_env  # noqa: F401 - a fixture
from workbench.errors import ConfigError
from workbench.remote import Remote, add_remote
from workbench.ui import ArtifactBrowser, JobMonitor, LaunchForm, SyncPanel
from workbench.ui._model import ViewModel

RAGGED = b"text,label\ngood,positive\nonly-one-field\n"
GOOD = b"text,label\ngood,positive\nbad,negative\n"
BUSY = """
import time, workbench as wb
print("busy started", flush=True)
with wb.init() as run:
    for step in range(100000):
        run.log({"train/loss": 1.0 / (step + 1)}, step=step)
        time.sleep(0.02)
"""


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (a remote that cannot be reached)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def add_dead_remote(root: Path, name: str = "dead") -> None:
    root.mkdir(parents=True, exist_ok=True)
    add_remote(root, Remote(name=name, host="127.0.0.1", port=closed_port(), root="/srv/store",
                            python=sys.executable, timeout=2.0))


class Counter(ViewModel):
    """The smallest model: a read that can fail and an action that can fail."""

    def __init__(self) -> None:
        super().__init__()
        self.read_fails = False

    def read(self) -> None:
        with self.guard("Read"):
            if self.read_fails:
                raise ConfigError("the store cannot be read")

    def act_on(self, fail: bool, action: str = "Save") -> None:
        with self.act(action):
            if fail:
                raise ConfigError(f"{action} went wrong")


def test_the_base_model_keeps_an_action_error_until_that_action_works_or_is_dismissed() -> None:
    m = Counter()
    seen: list[frozenset[str]] = []
    m.observe(seen.append)
    m.act_on(True)
    assert m.error == "Save: Save went wrong" and list(m.action_errors) == ["Save"]
    assert seen[-1] == {"error"}
    for _ in range(3):
        m.read()  # a read that works (a live refresh) leaves it
    assert m.error == "Save: Save went wrong"
    m.read_fails = True
    m.read()  # a reading error shows first, and goes with the next read that works
    assert m.error == "Read: the store cannot be read\nSave: Save went wrong"
    m.read_fails = False
    m.read()
    assert m.error == "Save: Save went wrong"
    m.act_on(False, "Tag")  # another action working does not clear it
    m.act_on(True, "Tag")
    assert m.error == "Save: Save went wrong\nTag: Tag went wrong"
    m.act_on(False)  # the same action working does
    assert m.error == "Tag: Tag went wrong"
    m.dismiss()
    assert m.error is None and m.action_errors == {}
    m.locked = "read-only"
    assert m.refused("Save") and m.error == "Save: read-only"
    m.read()
    assert m.error == "Save: read-only"
    m.dismiss("Save")
    assert m.error is None


def test_a_remote_test_error_survives_live_refresh_in_both_views(root: Path) -> None:
    require_module("ipywidgets")
    require_module("panel")
    add_dead_remote(root)
    component = SyncPanel(root=root, refresh=0.05)  # both views poll every 50 ms from threads
    component.widget()
    ipy = component._views[-1]
    layout = component.panel()
    pview = component._views[-1]
    layout.get_root()
    m = component.model
    try:
        assert ipy.dismiss.layout.display == "none" and not pview.dismiss.visible
        ipy.test_button.click()
        assert m.wait(30)
        assert m.error is not None and "Test: cannot reach remote 'dead'" in m.error, m.error
        add_dead_remote(root, "later")  # something the refresh shows changes meanwhile
        until(lambda: [r["name"] for r in m.remotes] == ["dead", "later"], what="the live refresh")
        for _ in range(3):
            m.refresh()
            m.poll()
        time.sleep(0.5)  # about ten live ticks of each view
        assert m.error is not None and "cannot reach remote 'dead'" in m.error
        assert "cannot reach remote &#x27;dead&#x27;" in ipy.error.value and ipy.dismiss.layout.display == ""
        assert pview.error.visible and "cannot reach remote 'dead'" in html.unescape(pview.error.object)
        assert pview.dismiss.visible

        # another action's error joins it; that action working clears only its own
        assert not m.add("bad name", "127.0.0.1", "/srv/store", sys.executable)
        assert list(m.action_errors) == ["Test", "Add remote"] and "not a valid remote name" in (m.error or "")
        assert m.add("good", "127.0.0.1", "/srv/store", sys.executable, port=closed_port())
        assert list(m.action_errors) == ["Test"] and "Added remote good" in m.result

        pview.dismiss.clicks += 1  # Dismiss in the Panel view hides it in both
        assert m.error is None and not pview.error.visible and not pview.dismiss.visible
        assert ipy.error.value == "" and ipy.dismiss.layout.display == "none"
        # the next Test replaces it with its own result (here: the same error again, then dismissed)
        assert m.test("dead") and m.wait(30) and "cannot reach remote 'dead'" in (m.error or "")
        ipy.dismiss.click()
        assert m.error is None and not pview.error.visible
    finally:
        component.close()


def test_a_bad_dataset_upload_stays_while_the_dataset_list_refreshes(root: Path) -> None:
    require_module("ipywidgets")
    require_module("panel")
    from workbench.ui.launch.panel_view import LaunchFormPanel

    form = LaunchForm(root, recipe="text-classification", live=False)
    view = form.widget()
    pview = LaunchFormPanel(form.model, live=False)
    m = form.model
    assert not m.upload("reviews.csv", RAGGED)
    assert m.error is not None and "ragged" in m.error and "reviews.csv" in m.error
    wb.log_dataset(GOOD, filename="other.csv", root=root)  # the list the live refresh reads changes
    assert m.poll() and m.datasets == ["other:v1"]
    for _ in range(3):
        m.poll()
    assert m.error is not None and "ragged" in m.error
    assert "ragged" in view.error.value and pview.alert.visible and pview.dismiss.visible
    assert m.upload("reviews.csv", GOOD)  # the same action working clears it
    assert m.error is None and m.dataset == "reviews:v1" and not pview.alert.visible

    m.set_dataset(None)
    assert m.submit() is None and "needs dataset=" in (m.error or "")
    m.poll()
    assert "needs dataset=" in (m.error or "") and view.dismiss.layout.display == ""
    view.dismiss.click()
    assert m.error is None and view.error.value == "" and not pview.dismiss.visible


def test_recipe_help_is_shown_whole(root: Path) -> None:
    require_module("ipywidgets")
    require_module("panel")
    from workbench.ui.launch.panel_view import LaunchFormPanel

    form = LaunchForm(root, recipe="script", live=False)
    view = form.widget()
    pview = LaunchFormPanel(form.model, live=False)
    help_text = form.model.field("command").help
    assert len(help_text) > 60
    shown = html.escape(help_text)
    assert any(shown in getattr(child, "value", "") for box in view.fields.children for child in box.children)
    assert any(shown in str(getattr(part, "object", "")) for column in pview.fields.objects for part in column.objects)


def test_a_refused_alias_stays_when_the_listing_changes(root: Path, tmp_path: Path) -> None:
    require_module("panel")
    from workbench.ui.artifacts.panel_view import ArtifactBrowserPanel

    wb.log_dataset(GOOD, filename="reviews.csv", root=root)
    browser = ArtifactBrowser(root, live=False)
    m = browser.model
    pview = ArtifactBrowserPanel(m, live=False)
    assert not m.set_alias("../prod")
    assert m.error is not None and "Alias:" in m.error and "path separator" in m.error
    wb.log_dataset(GOOD.replace(b"bad", b"worse"), filename="reviews.csv", root=root)  # a new version
    assert m.poll()  # the listing changed and was applied
    assert [v["label"] for v in m.versions] == ["v1", "v2"]
    assert m.error is not None and "path separator" in m.error and pview.alert.visible and pview.dismiss.visible
    assert m.set_alias("production")  # the alias action working clears it
    assert m.error is None and not pview.alert.visible
    assert wb.artifact("reviews:production", root=root).version == m.version == 1  # the version still chosen

    browser.lock("read-only: started with --no-token")
    assert not m.remove_alias("production")
    wb.log_dataset(GOOD + b"fine,positive\n", filename="reviews.csv", root=root)
    assert m.poll() and "read-only" in (m.error or "")
    pview.dismiss.clicks += 1
    assert m.error is None and not pview.alert.visible


@pytest.mark.usefixtures("jobs_env")
def test_cancel_says_what_happened_and_ended_bars_stand_still(root: Path) -> None:
    require_module("panel")
    from workbench.ui.launch.panel_view import JobMonitorPanel

    busy = wb.launch("script", config={"command": [sys.executable, "-c", BUSY]}, name="busy", root=root)
    waiting = wb.launch("script", config={"command": [sys.executable, "-c", "print('never')"]}, name="waiting",
                        priority=-1, root=root)
    monitor = JobMonitor(root, live=False)
    m = monitor.model
    view = JobMonitorPanel(m, live=False)
    view.layout.get_root()
    until(lambda: m.poll() is not None and (m.row(busy.run_id) or {}).get("status") == "running",
          what="the busy job to run")
    bar = view.row_widgets[busy.run_id]["progress"]
    assert m.row(busy.run_id)["animated"] and bar.active and bar.value == -1  # running, progress unknown
    queued_bar = view.row_widgets[waiting.run_id]["progress"]
    assert not m.row(waiting.run_id)["animated"] and not queued_bar.active and queued_bar.value == 0

    assert m.cancel(waiting.run_id) == "cancelled"
    assert m.message == f"{waiting.run_id}: cancelled" and m.error is None

    assert m.cancel(busy.run_id) == "running"  # the scheduler stops it: the message says so, not "running"
    assert m.message is not None and "running" not in m.message
    assert m.message.startswith(f"{busy.run_id}: stopping: SIGTERM sent") or m.message == f"{busy.run_id}: cancelled"
    until(lambda: m.poll() is not None and m.message == f"{busy.run_id}: cancelled", what="the cancel to end")
    assert m.row(busy.run_id)["status"] == "cancelled" and not m.row(busy.run_id)["animated"]
    assert not bar.active and bar.value != -1  # an ended job's bar is not animated
    assert "cancelled" in view.message.object

    assert m.cancel(busy.run_id) == "cancelled"
    assert m.message == f"{busy.run_id}: had already ended (cancelled), nothing to cancel"

    assert m.cancel("zzzzzz") is None  # an error replaces the message and stays through refreshes
    assert m.message is None and m.error is not None and "zzzzzz" in m.error
    for _ in range(3):
        m.poll()
        m.refresh()
    assert m.error is not None and "zzzzzz" in m.error and view.alert.visible and view.dismiss.visible
    view.dismiss.clicks += 1
    assert m.error is None and not view.alert.visible
    monitor.close()
