"""ArtifactBrowser (issue 6): versions, aliases, files, lineage, dataset schema and preview, dedup,
live refresh; the model and both renderings driven from Python on a real store."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import require_module

import workbench as wb
from workbench.ui import ArtifactBrowser

CSV = b"text,label\ngreat value,positive\nbroke at once,negative\nworks fine,positive\n"


@pytest.fixture
def store(root: Path, tmp_path: Path) -> dict[str, str]:
    """A model with two versions (the first produced by a run and used by another) and a dataset."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text('{"layers": 2}')
    (out / "weights.bin").write_bytes(b"\x01" * 4000)
    with wb.init(project="p", name="producer", root=root) as run:
        run.log_artifact(out, name="classifier", type="model")
    producer = run.id
    (out / "weights.bin").write_bytes(b"\x02" * 4000)
    wb.log_artifact(out, "classifier", type="model", root=root)
    with wb.init(project="p", name="consumer", root=root) as run:
        run.use_artifact("classifier:v1")
    wb.log_dataset(CSV, filename="reviews.csv", root=root)
    return {"producer": producer, "consumer": run.id}


def test_model_lists_versions_files_lineage_and_new_bytes(root: Path, store: dict[str, str]) -> None:
    opened: list[str] = []
    browser = ArtifactBrowser(root, on_open_run=opened.append, live=False)
    m = browser.model
    assert [(a["name"], a["type"], a["versions"]) for a in m.artifacts] == [
        ("classifier", "model", 2),
        ("reviews", "dataset", 1),
    ]
    assert m.name == "classifier" and m.version == 2  # the newest version of the first artifact
    assert [v["label"] for v in m.versions] == ["v1", "v2"]
    # v2 shares config.json with v1: only the changed weights are new bytes
    assert [v["new_bytes"] for v in m.versions] == [4000 + len('{"layers": 2}'), 4000]
    m.choose_version(1)
    assert [(f["path"], f["size"]) for f in m.files] == [("config.json", 13), ("weights.bin", 4000)]
    assert m.producer == store["producer"] and m.consumers == [store["consumer"]]
    m.open_run(m.consumers[0])
    assert opened == [store["consumer"]]
    assert m.dataset is None


def test_ipywidgets_view_sets_and_moves_an_alias_and_shows_a_bad_one_inline(
    root: Path, store: dict[str, str]
) -> None:
    require_module("ipywidgets")
    browser = ArtifactBrowser(root, live=False)
    view = browser.widget()
    view.versions.value = 1
    view.alias.value = "production"
    view.set_button.click()
    assert browser.model.error is None
    assert wb.artifact("classifier:production", root=root).version == 1
    assert "production" in wb.artifact("classifier:v1", root=root).aliases
    assert "production" in view.versions.options[0][0]  # the version list shows it
    view.versions.value = 2
    view.alias.value = "production"
    view.set_button.click()  # moves it
    assert wb.artifact("classifier:production", root=root).version == 2

    view.alias.value = "../prod"
    view.set_button.click()
    assert browser.model.error is not None and "Alias:" in browser.model.error
    assert "path separator" in view.error.value and "#d62728" in view.error.value
    assert wb.artifact("classifier:production", root=root).version == 2  # nothing moved
    view.alias.value = "latest"
    view.set_button.click()
    assert "latest" in view.error.value

    # the producer button of v1 hands its run to the app
    opened: list[str] = []
    browser.on_open_run = opened.append
    view.versions.value = 1
    buttons = [b for b in view.runs.children if hasattr(b, "click")]
    buttons[0].click()
    assert opened == [store["producer"]]
    browser.close()


def test_panel_view_removes_an_alias_and_shows_a_dataset_schema_and_preview(
    root: Path, store: dict[str, str]
) -> None:
    require_module("panel")
    from workbench.ui.artifacts.panel_view import ArtifactBrowserPanel

    wb.set_alias("classifier:v1", "best", root=root)
    browser = ArtifactBrowser(root, live=False)
    view = ArtifactBrowserPanel(browser.model, live=False)
    view.layout.get_root()  # builds the Bokeh models, as a server session would
    view.versions.selection = [0]
    assert browser.model.version == 1 and list(view.files.value["path"]) == ["config.json", "weights.bin"]
    assert view.remove_choice.options == ["best"]
    view.remove_choice.value = "best"
    view.remove_button.clicks += 1
    assert "best" not in wb.artifact("classifier:v1", root=root).aliases
    view.remove_button.clicks += 1  # nothing chosen any more: no call, no error
    assert browser.model.error is None

    view.alias.value = "has space"
    view.set_button.clicks += 1
    assert view.alert.visible and "whitespace" in view.alert.object

    view.names.selection = [1]
    assert browser.model.name == "reviews" and view.dataset.visible
    assert dict(zip(view.schema.value["column"], view.schema.value["type"], strict=True)) == {
        "text": "string",
        "label": "string",
    }
    assert list(view.preview.value["text"]) == ["great value", "broke at once", "works fine"]

    view.usage_button.clicks += 1
    assert browser.model.usage is not None and browser.model.usage["logical"] > browser.model.usage["unique"]
    assert "saved by deduplication" in view.usage.object
    view.close()


def test_poll_shows_new_versions_and_aliases(root: Path, store: dict[str, str], tmp_path: Path) -> None:
    browser = ArtifactBrowser(root, live=False)
    m = browser.model
    assert m.poll() is False  # nothing changed
    wb.set_alias("classifier:v1", "candidate", root=root)
    assert m.poll() is True
    assert "candidate" in m.versions[0]["aliases"]
    (tmp_path / "v3").mkdir()
    (tmp_path / "v3" / "weights.bin").write_bytes(b"\x03" * 10)
    wb.log_artifact(tmp_path / "v3", "classifier", type="model", root=root)
    assert m.poll() is True
    assert [v["label"] for v in m.versions] == ["v1", "v2", "v3"] and m.version == 2  # the choice stays


def test_live_ipywidgets_view_polls_by_itself(root: Path, store: dict[str, str]) -> None:
    require_module("ipywidgets")
    import time

    browser = ArtifactBrowser(root)
    view = browser.widget()
    assert view._poller is not None and view._poller.alive
    view._poller.interval = 0.05
    wb.log_dataset(b"a,b\n1,2\n", filename="extra.csv", root=root)
    deadline = time.monotonic() + 20
    while "extra" not in [value for _, value in view.names.options] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "extra" in [value for _, value in view.names.options]
    browser.close()
    assert not view._poller.alive
