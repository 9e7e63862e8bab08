"""RunDetail (issue 6): the model and both renderings, over a real store filled by real runs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import require_module

import workbench as wb
from workbench.ui import RunDetail, Selection

TRAINER = """
import workbench as wb
with wb.init(project="vision", name="trainer", config={"optim": {"name": "adam", "lr": 0.001}, "epochs": 3},
             tags=["baseline"]) as run:
    print(run.id)
    for step in range(5):
        run.log({"loss": 1.0 / (step + 1), "sys/cpu_percent": 10.0 + step}, step=step)
        print(f"epoch {step} loss {1.0 / (step + 1):.3f}")
    run.summary["best_acc"] = 0.91
"""


@pytest.fixture
def store(root: Path, tmp_path: Path) -> dict[str, Any]:
    """A trainer run made by a real subprocess (captured output, sys metrics), and lineage:
    ``maker`` logs artifact ``weights``, ``user`` uses it."""
    out = subprocess.run([sys.executable, "-c", TRAINER], capture_output=True, text=True, check=True).stdout
    trainer = out.splitlines()[0]
    files = tmp_path / "weights"
    files.mkdir()
    (files / "w.bin").write_bytes(b"\x00" * 64)
    with wb.init(project="vision", name="maker", root=root) as maker:
        maker.log_artifact(files, "weights", type="model")
    with wb.init(project="vision", name="user", root=root) as user:
        user.use_artifact("weights:latest")
    return {"root": root, "trainer": trainer, "maker": maker.id, "user": user.id}


def test_model_shows_record_config_summary_output_and_system(store: dict[str, Any]) -> None:
    detail = RunDetail(store["trainer"][:10], root=store["root"], live=False)
    m = detail.model
    assert m.error is None and m.run_id == store["trainer"]
    facts = dict(m.record_rows())
    assert facts["Name"] == "trainer" and facts["Project"] == "vision" and facts["Status"] == "completed"
    assert facts["Duration"].endswith("s") and facts["Host"]
    assert m.config_rows() == [("epochs", "3"), ("optim.lr", "0.001"), ("optim.name", "adam")]
    m.set_config_filter("OPTIM.N")
    assert m.config_rows() == [("optim.name", "adam")]
    assert ("best_acc", "0.91") in m.summary_rows()
    assert all(not k.startswith("sys/") for k, _ in m.summary_rows())
    assert m.system_rows() == [("sys/cpu_percent", "14")]
    (line,) = m.metrics.lines(m.metrics.panels["sys/*_percent"])  # a chart per metric, sys ones by unit
    assert (line.key, line.x, line.y) == ("sys/cpu_percent", (0.0, 1.0, 2.0, 3.0, 4.0), (10.0, 11.0, 12.0, 13.0, 14.0))
    assert sorted(m.metrics.panels) == ["loss", "sys/*_percent"]
    assert m.stdout.splitlines()[-1] == "epoch 4 loss 0.200"
    assert m.tags == ["baseline"]


def test_ipywidgets_view(store: dict[str, Any]) -> None:
    require_module("ipywidgets")
    detail = RunDetail(store["trainer"], root=store["root"], live=False)
    box = detail.widget()
    view = detail._views[0]
    assert box is view.box
    assert "trainer" in view.header.value and "#2ca02c" in view.header.value  # completed, in green
    assert "optim.lr" in view.config.value and "epochs" in view.config.value
    view.config_filter.value = "lr"
    assert "optim.lr" in view.config.value and "epochs" not in view.config.value
    assert "best_acc" in view.summary.value and "0.91" in view.summary.value
    assert "epoch 4 loss 0.200" in view.stdout.value
    assert "sys/cpu_percent" in view.system.value
    (line,) = view.panels.charts["sys/*_percent"].figure.marks
    assert list(line.x) == [0, 1, 2, 3, 4] and list(line.y) == [10, 11, 12, 13, 14]
    assert line.labels == ["sys/cpu_percent"]
    assert view.tags.value == "baseline"
    detail.close()


def test_panel_view(store: dict[str, Any]) -> None:
    require_module("panel")
    detail = RunDetail(store["trainer"], root=store["root"], live=False)
    layout = detail.panel()
    layout.get_root()  # builds the Bokeh models
    view = detail._views[0]
    assert "trainer" in view.header.object
    assert view.config.value["Key"].tolist() == ["epochs", "optim.lr", "optim.name"]
    view.config_filter.value = "name"
    assert view.config.value.to_dict("records") == [{"Key": "optim.name", "Value": "adam"}]
    assert dict(zip(view.summary.value["Key"], view.summary.value["Value"], strict=True))["best_acc"] == "0.91"
    assert view.system.value["Metric"].tolist() == ["sys/cpu_percent"]
    source = view.panels.charts["sys/*_percent"].sources[(store["trainer"], "sys/cpu_percent")]
    assert source.data["y"] == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert "epoch 4 loss 0.200" in view.stdout.object
    assert not view.error.visible
    detail.close()


def test_editing_tags_and_notes_persists_from_both_views(store: dict[str, Any]) -> None:
    require_module("ipywidgets")
    require_module("panel")
    root, run_id = store["root"], store["trainer"]
    detail = RunDetail(run_id, root=root, live=False)
    detail.widget()
    detail.panel()
    ipy, pnl = detail._views
    ipy.tags.value = "baseline, lora , "
    ipy.notes.value = "lr looks high"
    ipy.save.click()
    record = wb.get_run(run_id, root=root)
    assert record["tags"] == ["baseline", "lora"] and record["notes"] == "lr looks high"
    assert pnl.tags.value == "baseline, lora" and pnl.notes.value == "lr looks high"  # the other view follows
    pnl.tags.value = "final"
    pnl.notes.value = "kept"
    pnl.save.clicks += 1
    record = wb.get_run(run_id, root=root)
    assert record["tags"] == ["final"] and record["notes"] == "kept"
    assert wb.runs(where="tags contains 'final'", root=root)["run_id"].tolist() == [run_id]
    assert detail.model.error is None
    detail.close()


def test_a_synced_run_refuses_edits_inline(store: dict[str, Any]) -> None:
    require_module("ipywidgets")
    require_module("panel")
    root, run_id = store["root"], store["maker"]
    path = root / "runs" / run_id / "run.json"  # what sync leaves: a record that names its remote
    record = json.loads(path.read_text())
    record["remote"] = "gpu1"
    path.write_text(json.dumps(record))
    detail = RunDetail(run_id, root=root, live=False)
    detail.widget()
    detail.panel()
    ipy, pnl = detail._views
    assert "gpu1" in ipy.read_only.value
    ipy.notes.value = "mine now"
    ipy.save.click()
    assert detail.model.error is not None and "read-only" in detail.model.error
    assert "read-only" in ipy.error.value and "color:#d62728" in ipy.error.value
    assert pnl.error.visible and "read-only" in pnl.error.object
    assert wb.get_run(run_id, root=root)["notes"] == ""  # nothing changed
    ipy.tags.value = "ok"
    detail.model.record.pop("remote")  # even a stale view cannot write: the store refuses
    ipy.save.click()
    assert "read-only" in (detail.model.error or "")
    detail.close()


def test_unknown_run_and_bad_tag_are_errors_in_the_views(store: dict[str, Any]) -> None:
    require_module("ipywidgets")
    require_module("panel")
    detail = RunDetail("zzzzzz", root=store["root"], live=False)
    assert detail.model.run_id is None and "no run with id or prefix 'zzzzzz'" in (detail.model.error or "")
    detail.widget()
    detail.panel()
    ipy, pnl = detail._views
    assert "zzzzzz" in ipy.error.value
    assert pnl.error.visible and "zzzzzz" in pnl.error.object
    detail.model.load(store["trainer"])
    assert ipy.error.value == "" and not pnl.error.visible
    ipy.tags.value = "bad\x01tag"
    ipy.save.click()
    assert "control characters" in ipy.error.value
    detail.close()


def test_lineage_links_switch_the_run_and_call_the_hook(store: dict[str, Any]) -> None:
    require_module("ipywidgets")
    require_module("panel")
    detail = RunDetail(store["maker"], root=store["root"], live=False)
    opened: list[str] = []
    detail.on_open_run(opened.append)
    assert detail.model.artifacts == [{"direction": "out", "ref": "weights:v1", "type": "model",
                                       "runs": [store["user"]]}]
    detail.widget()
    ipy = detail._views[0]
    (row,) = ipy.artifacts.children
    link = row.children[-1]
    assert link.description == store["user"]
    link.click()
    assert detail.run_id == store["user"] and opened == [store["user"]]
    assert detail.model.artifacts == [{"direction": "in", "ref": "weights:v1", "type": "model",
                                       "runs": [store["maker"]]}]
    detail.panel().get_root()
    pnl = detail._views[1]
    (row,) = pnl.artifacts.objects
    button = row.objects[-1]
    assert button.label == store["maker"]
    button.clicks += 1
    assert detail.run_id == store["maker"] and opened == [store["user"], store["maker"]]
    detail.close()


def test_follows_the_first_selected_run(store: dict[str, Any]) -> None:
    selection = Selection([store["maker"], store["user"]])
    detail = RunDetail(selection, root=store["root"], live=False)
    assert detail.run_id == store["maker"]
    selection.set([store["trainer"]])
    assert detail.run_id == store["trainer"] and detail.model.record["name"] == "trainer"
    selection.set([])
    assert detail.run_id is None and detail.model.config_rows() == []


def test_poll_refreshes_a_running_run(root: Path) -> None:
    require_module("ipywidgets")
    require_module("panel")
    run = wb.init(project="live", config={"lr": 0.1}, root=root)
    try:
        run.log({"loss": 1.0}, step=0)
        run.flush()
        detail = RunDetail(run.id, root=root, live=False)
        detail.widget()
        detail.panel()
        ipy, pnl = detail._views
        assert detail.model.status == "running" and "#1f77b4" in ipy.header.value
        assert not detail.model.poll()  # nothing new yet
        print("step 1 done", flush=True)
        run.log({"loss": 0.5}, step=1)
        run.flush()
        assert detail.model.poll()
        assert ("loss", "0.5") in detail.model.summary_rows()
        assert "step 1 done" in ipy.stdout.value and "step 1 done" in pnl.stdout.object
        assert "0.5" in pnl.summary.value["Value"].tolist()
    finally:
        run.finish()
    assert detail.model.poll()
    assert detail.model.status == "completed" and "#2ca02c" in ipy.header.value
    assert not detail.model.poll()  # a finished run is not re-read
    detail.close()


def test_live_view_polls_by_itself(root: Path) -> None:
    require_module("ipywidgets")
    root.mkdir(parents=True)
    (root / "workbench.toml").write_text("ui_refresh = 0.1\n")
    run = wb.init(project="live", root=root)
    try:
        detail = RunDetail(run.id, root=root)  # live: a poller thread while the view is shown
        view = detail._views[0] if detail._views else None
        assert view is None
        detail.widget()
        view = detail._views[0]
        run.summary["acc"] = 0.75
        run.flush()
        deadline = time.monotonic() + 20
        while "0.75" not in view.summary.value and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "0.75" in view.summary.value
        detail.close()
        assert view._poller is not None and not view._poller.alive
    finally:
        run.finish()


def test_an_imported_run_says_where_it_came_from(root: Path, tmp_path: Path) -> None:
    """The header names the source of an imported run (workbench/importers), escaped like every fact."""
    source = tmp_path / "<b>hist&amp;.csv"
    source.write_text("step,loss\n0,1.0\n1,0.5\n")
    report = wb.importers.csv(source, root=root, progress="never")
    (run,) = report.runs
    detail = RunDetail(run.run_id, root=root, live=False)
    facts = dict(detail.model.record_rows())
    assert facts["Imported from"] == f"csv {source} (<b>hist&amp;.csv)"
    require_module("ipywidgets")
    detail.widget()
    header = detail._views[0].header.value
    assert "&lt;b&gt;hist&amp;amp;.csv" in header and "<b>hist" not in header
    with wb.init(project="p", root=root) as native:
        pass
    assert dict(RunDetail(native.id, root=root, live=False).model.record_rows())["Imported from"] == ""
