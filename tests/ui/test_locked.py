"""Issue 11: a locked view (the web app without a token) refuses every action that changes anything.

The lock lives in the view models, so it holds whatever widget, toolkit or request calls the action.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import workbench as wb
from tests.jobs._job_helpers import jobs_env  # noqa: F401 - a fixture
from workbench import ui
from workbench.jobs import list_jobs

pytestmark = pytest.mark.usefixtures("jobs_env")
REASON = "read-only: started with --no-token"


def test_every_changing_action_is_refused_when_locked(root: Path, tmp_path: Path) -> None:
    with wb.init(project="p", name="one", tags=["a"], notes="n", root=root) as run:
        run.log({"loss": 1.0}, step=0)
    data = tmp_path / "data.csv"
    data.write_text("text,label\ngood,1\nbad,0\n")
    art = wb.log_artifact(data, name="reviews", type="dataset", root=root)

    detail = ui.RunDetail(run.id, root=root, live=False)
    artifacts = ui.ArtifactBrowser(root=root, live=False)
    form = ui.LaunchForm(root=root, monitor=True, live=False)
    sync = ui.SyncPanel(root=root)
    for component in (detail, artifacts, form, sync):
        component.lock(REASON)
    try:
        assert detail.model.save("x, y", "changed") is False
        artifacts.model.choose("reviews")
        assert artifacts.model.set_alias("production") is False
        assert artifacts.model.remove_alias("latest") is False
        assert form.model.upload("more.csv", b"text,label\nok,1\n") is False
        form.model.set_recipe("script")
        form.model.set_value("command", f"{sys.executable} -c 'print(1)'")
        assert form.model.submit() is None
        assert form.monitor is not None and form.monitor.model.cancel(run.id) is None
        assert sync.model.add("gpu", "127.0.0.1", "/srv/store", "/usr/bin/python3") is False
        assert sync.model.sync("gpu") is False and sync.model.test("gpu") is False
        assert sync.model.fetch("gpu:reviews:v1") is False
        for model in (detail.model, artifacts.model, form.model, form.monitor.model, sync.model):
            assert model.error is not None and REASON in model.error, (type(model).__name__, model.error)
    finally:
        for component in (detail, artifacts, form, sync):
            component.close()
    record = wb.get_run(run.id, root=root)
    assert record["tags"] == ["a"] and record["notes"] == "n"
    assert list(wb.artifacts(root=root)["ref"]) == [art.ref]
    assert wb.artifact("reviews:latest", root=root).aliases == art.aliases
    assert list_jobs(root) == []
    from workbench.settings import load_settings

    assert "remotes" not in (load_settings(root).extra or {})

    detail = ui.RunDetail(run.id, root=root, live=False)  # unlocked again: the same action works
    try:
        assert detail.model.save("x, y", "changed") is True
    finally:
        detail.close()
