"""Issue 14, Jobs and Artifacts: a version's metadata and whole file paths, a file download confined
to the version's own files, and the launch form's project (the models and both renderings, on a real
store; the browser test is tests/apps/test_artifacts_browser.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import require_module

import workbench as wb
from tests.jobs._job_helpers import jobs_env  # noqa: F401 - a fixture
from workbench.ui import ArtifactBrowser, LaunchForm
from workbench.ui.artifacts.model import DOWNLOAD_LIMIT

LONG = "/".join(["a-rather-long-directory-name-that-goes-on"] * 4) + "/and-finally-the-weights-file.safetensors"
HOSTILE = '<img src=x onerror="alert(1)">'
METADATA = {"lr": 0.0003, "note": HOSTILE, "nested": {"layers": [1, 2], "act": "gelu"}, "ok": True}


@pytest.fixture
def store(root: Path, tmp_path: Path) -> dict[str, Path]:
    """model:v1 (config.json, a long path) and model:v2 (other.bin only), each with metadata."""
    one = tmp_path / "one"
    (one / LONG).parent.mkdir(parents=True)
    (one / LONG).write_bytes(bytes(range(256)) * 8)
    (one / "config.json").write_text('{"layers": 2}')
    wb.log_artifact(one, "model", type="model", metadata=METADATA, root=root)
    two = tmp_path / "two"
    two.mkdir()
    (two / "other.bin").write_bytes(b"\x07" * 100)
    wb.log_artifact(two, "model", type="model", metadata={"version": 2}, root=root)
    return {"one": one, "two": two}


def test_metadata_rows_show_every_key_with_nested_values_as_json_text(root: Path, store: dict[str, Path]) -> None:
    m = ArtifactBrowser(root, live=False).model
    m.choose_version(1)
    rows = {r["key"]: r["value"] for r in m.metadata}
    assert rows == {"lr": "0.0003", "note": HOSTILE, "nested": json.dumps(METADATA["nested"], sort_keys=True),
                    "ok": "true"}
    assert [r["key"] for r in m.metadata] == sorted(rows)
    m.choose_version(2)
    assert m.metadata == [{"key": "version", "value": "2"}]


def test_both_views_show_whole_paths_and_metadata_as_text(root: Path, store: dict[str, Path]) -> None:
    require_module("ipywidgets")
    require_module("panel")
    from workbench.ui.artifacts.panel_view import ArtifactBrowserPanel

    browser = ArtifactBrowser(root, live=False)
    browser.model.choose_version(1)
    widget = browser.widget()
    for html in (widget.files.value, widget.metadata.value):
        assert "<img" not in html
    assert LONG in widget.files.value  # whole, in a wrapping cell
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in widget.metadata.value
    assert "&quot;layers&quot;: [1, 2]" in widget.metadata.value
    panel = ArtifactBrowserPanel(browser.model, live=False)
    assert list(panel.files.value["path"]) == [LONG, "config.json"]
    assert panel.files.formatters["path"] == {"type": "textarea"}  # Tabulator wraps, escaping the text
    text = str(panel.metadata.object)
    assert "<img" not in text and "&lt;img src=x" in text and "0.0003" in text
    panel.close()
    browser.close()


def test_download_gives_the_listed_files_bytes_and_refuses_anything_else(root: Path, store: dict[str, Path]) -> None:
    m = ArtifactBrowser(root, live=False).model
    m.choose_version(1)
    assert m.download() is None and m.error is not None and "choose one of the files" in m.error
    m.choose_file(LONG)
    path = m.download()
    assert path is not None and m.error is None
    assert path.read_bytes() == (store["one"] / LONG).read_bytes()
    assert m.download("config.json").read_bytes() == b'{"layers": 2}'
    assert path.is_relative_to(root.resolve() / "cache")  # the version placed by wb.use_artifact
    for bad in ("../config.json", "../../../workbench.toml", str(store["one"] / "config.json"), "/etc/passwd",
                "other.bin",  # a file of v2, not of the chosen v1
                "./config.json", "config.json/", LONG.split("/")[0]):
        assert m.download(bad) is None, bad
        assert m.error is not None and "is not a file of model:v1" in m.error, (bad, m.error)
    m.dismiss()
    m.choose_version(2)
    assert m.file is None  # the chosen file belonged to v1
    assert m.download("other.bin").read_bytes() == b"\x07" * 100
    assert m.download("config.json") is None and "is not a file of model:v2" in (m.error or "")


def test_a_locked_view_still_downloads_and_a_huge_file_is_refused_for_the_browser(
    root: Path, tmp_path: Path
) -> None:
    big = tmp_path / "big"
    big.mkdir()
    with open(big / "huge.bin", "wb") as out:
        out.truncate(DOWNLOAD_LIMIT + 1)  # sparse: cheap to write, too big to send
    wb.log_artifact(big, "big", root=root)
    browser = ArtifactBrowser(root, live=False)
    browser.lock("read-only session")
    m = browser.model
    m.choose("big")
    assert m.download("huge.bin") is None and "more than" in (m.error or "") and "wb.use_artifact" in m.error
    local = m.local_path("huge.bin")  # a notebook reads it from disk: no limit
    assert local is not None and local.stat().st_size == DOWNLOAD_LIMIT + 1
    assert m.error is None  # the download action worked: its error is gone, and nothing was refused


@pytest.mark.usefixtures("jobs_env")
def test_the_launch_form_queues_the_job_into_the_chosen_project(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_module("ipywidgets")
    monkeypatch.delenv("WORKBENCH_PROJECT", raising=False)
    with wb.init(project="vision", name="earlier", root=root):
        pass
    form = LaunchForm(root, live=False)
    m = form.model
    assert m.project == "default" and m.projects == ["default", "vision"]  # offered: the store's, the current
    assert LaunchForm(root, project="vision", live=False).model.project == "vision"
    view = form.widget()
    assert list(view.project.options) == ["default", "vision"] and view.project.value == "default"
    boxes = {key: box for key, (box, _) in view.field_widgets.items()}
    boxes["command"].value = f"{sys.executable} -c \"import workbench as wb; wb.init().finish()\""
    view.project.value = "nlp-sweeps"  # a new project: typed, not offered
    view.submit.click()
    assert m.error is None, m.error
    assert m.last_job is not None
    job = wb.Job(m.last_job, root=root)
    assert wb.get_run(m.last_job, root=root)["project"] == "nlp-sweeps"
    assert "nlp-sweeps" in m.projects and "nlp-sweeps" in view.project.options  # offered from now on
    assert job.wait(timeout=60) == "completed", job.status
    assert wb.get_run(m.last_job, root=root)["project"] == "nlp-sweeps"  # the job's own wb.init() kept it
    assert list(wb.runs(project="nlp-sweeps", root=root)["run_id"]) == [m.last_job]
    form.close()
