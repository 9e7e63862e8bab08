"""A new process opens the catalog from its snapshot without a full scan (issue 16), and still
sees every change: journaled ones by replaying the journal from the offset the snapshot names,
directories copied in or removed by hand through runs/'s mtime, records replaced by hand when a
query returns them, runs whose process died by the liveness check."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import workbench as wb
from workbench.settings import load_settings
from workbench.store import Store
from workbench.store import store as store_module
from workbench.store._atomic import atomic_write_json
from workbench.store._paths import Layout
from workbench.store.records import read_record, update_record

QUIET = {"flush_interval": 0.05, "system_metrics": False, "capture_output": False, "fsync": False}


def _make(root: Path, count: int, project: str = "p") -> list[str]:
    ids = []
    for i in range(count):
        run = wb.init(project=project, name=f"r{i}", config={"lr": 0.1 * (i + 1), "i": i}, root=root, **QUIET)
        run.log({"loss": 1.0 / (i + 1)})
        run.finish()
        ids.append(run.id)
    return ids


def fresh(root: Path) -> Store:
    return Store(load_settings(root))


def _state(root: Path) -> dict:
    return json.loads((root / "catalog" / "state.json").read_text())


@pytest.fixture
def snapshotted(root: Path) -> list[str]:
    """Four runs and a snapshot current to the journal's end."""
    ids = _make(root, 4)
    assert len(fresh(root).runs()) == 4  # the first reader scans and writes the snapshot
    state = _state(root)
    assert state["journal"][1] == (root / "catalog" / "journal").stat().st_size
    return ids


def test_a_cold_open_from_the_snapshot_scans_nothing_and_sees_journaled_changes(
        tmp_path: Path, root: Path, snapshotted: list[str]) -> None:
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent("""
        import sys
        import workbench as wb
        from workbench.store._paths import Layout
        from workbench.store.records import update_record
        from pathlib import Path
        root, existing = sys.argv[1], sys.argv[2]
        run = wb.init(project="p", name="later", config={"lr": 0.05}, root=root, system_metrics=False)
        run.log({"loss": 0.01})
        run.finish()
        update_record(Layout(Path(root)), existing, lambda r: r.update(notes="edited elsewhere"))
        print(run.id)
    """))
    done = subprocess.run([sys.executable, str(script), str(root), snapshotted[0]], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    new_id = done.stdout.split()[-1]
    store = fresh(root)
    table = store.runs(order_by="created")
    assert store.catalog._trusted is False  # opened from the snapshot: no full scan
    assert table["run_id"].tolist() == [*snapshotted, new_id]
    assert table.set_index("run_id").loc[snapshotted[0], "notes"] == "edited elsewhere"
    assert store.runs(where="config.lr < 0.06")["run_id"].tolist() == [new_id]
    assert store.runs(where="notes = 'edited elsewhere'")["run_id"].tolist() == [snapshotted[0]]


def test_a_record_replaced_by_hand_after_the_snapshot_is_read_again_before_it_is_returned(
        root: Path, snapshotted: list[str]) -> None:
    layout = Layout(root)
    record = read_record(layout, snapshotted[0])  # lr 0.1 in the snapshot
    record["config"]["lr"] = 0.9
    record["notes"] = "by hand"
    atomic_write_json(layout.record(snapshotted[0]), record, fsync=False)  # no journal line
    store = fresh(root)
    # the snapshot's row matches, the record no longer does: the query runs again without it
    assert store.runs(where="config.lr < 0.15")["run_id"].tolist() == []
    row = store.runs(where="config.lr > 0.5", limit=1)
    assert row["run_id"].tolist() == [snapshotted[0]] and row.loc[0, "notes"] == "by hand"
    assert row.loc[0, "config.lr"] == 0.9


def test_run_directories_copied_in_or_removed_by_hand_are_seen(tmp_path: Path, root: Path,
                                                               snapshotted: list[str]) -> None:
    other = tmp_path / "other"
    [copied] = _make(other, 1, project="q")
    shutil.copytree(other / "runs" / copied, root / "runs" / copied)
    shutil.rmtree(root / "runs" / snapshotted[1])
    store = fresh(root)
    assert set(store.runs()["run_id"]) == {*snapshotted, copied} - {snapshotted[1]}
    assert store.runs(project="q")["run_id"].tolist() == [copied]


def test_a_record_corrupt_when_the_snapshot_was_written_is_named_by_every_new_process(
        root: Path, snapshotted: list[str]) -> None:
    path = root / "runs" / snapshotted[2] / "run.json"
    path.write_bytes(path.read_bytes()[:40])
    assert list(fresh(root).reindex().corrupt_records) == [snapshotted[2]]  # the new snapshot lacks it
    assert snapshotted[2] in _state(root)["bad"]
    with pytest.warns(UserWarning, match=snapshotted[2]):
        assert snapshotted[2] not in set(fresh(root).runs(limit=1)["run_id"])


def test_a_replaced_journal_means_a_full_scan(root: Path, snapshotted: list[str]) -> None:
    layout = Layout(root)
    update_record(layout, snapshotted[3], lambda r: r.update(tags=["late"]), fsync=False)
    journal = root / "catalog" / "journal"
    data = journal.read_bytes()
    journal.unlink()
    journal.write_bytes(data)  # the same lines in a new file: the offset names another file
    record = read_record(layout, snapshotted[0])
    record["notes"] = "by hand"
    atomic_write_json(layout.record(snapshotted[0]), record, fsync=False)
    store = fresh(root)
    table = store.runs(order_by="created").set_index("run_id")
    assert store.catalog._trusted is True
    assert list(table.loc[snapshotted[3], "tags"]) == ["late"]
    assert table.loc[snapshotted[0], "notes"] == "by hand"


@pytest.mark.timeout(60)
def test_a_run_whose_process_died_after_the_snapshot_shows_crashed(root: Path) -> None:
    code = textwrap.dedent(f"""
        import sys, time
        import workbench as wb
        run = wb.init(project="p", root={str(root)!r}, system_metrics=False, capture_output=False)
        run.log({{"loss": 1.0}})
        run.flush()
        print(run.id, flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        assert fresh(root).runs().loc[0, "status"] == "running"  # and a snapshot that says so
        assert _state(root)["journal"]
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    store = fresh(root)
    assert store.runs().loc[0, "status"] == "crashed"
    assert store.catalog._trusted is False
    assert wb.get_run(run_id, root=root)["status"] == "crashed"


def test_many_rows_of_a_few_columns_are_the_same_built_by_column(root: Path, snapshotted: list[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    columns = ["name", "status", "created", "duration", "tags", "config.lr", "config.i", "summary.loss",
               "config.absent", "project"]
    store = fresh(root)
    by_entry = store.runs(columns=columns, order_by="-summary.loss")
    monkeypatch.setattr(store_module, "_BY_ENTRIES", 1)  # more than one run: one query per column
    by_column = fresh(root).runs(columns=columns, order_by="-summary.loss")
    assert by_column.dtypes.to_dict() == by_entry.dtypes.to_dict()
    assert by_column.equals(by_entry)
    assert by_column["config.i"].tolist() == [0, 1, 2, 3]


def test_the_command_line_table_imports_no_pandas(root: Path, snapshotted: list[str]) -> None:
    code = textwrap.dedent(f"""
        import sys
        from workbench.cli import main
        code = main(["runs", "--root", {str(root)!r}, "--limit", "3", "--columns", "name,config.lr,tags"])
        print("heavy:", [m for m in ("pandas", "pyarrow", "numpy") if m in sys.modules])
        sys.exit(code)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["run_id", "name", "config.lr", "tags"]
    assert [line.split()[1] for line in lines[1:4]] == ["r3", "r2", "r1"]
    assert lines[1].split()[2:] == ["0.4", "[]"]
    assert lines[-1] == "heavy: []"
