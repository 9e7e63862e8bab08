"""The catalog is derived: deleting or corrupting it loses nothing (acceptance 4), and a store
that is already open sees what other processes write."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from workbench.settings import load_settings
from workbench.store import Store, open_store
from workbench.store._atomic import atomic_write_json
from workbench.store._paths import Layout
from workbench.store.records import read_record, update_record

QUIET = {"flush_interval": 0.05, "system_metrics": False, "capture_output": False, "fsync": False}


def _fill(root: Path) -> list[str]:
    ids = []
    for i, (lr, tags) in enumerate([(0.1, ["a"]), (0.01, ["b"]), (0.001, ["a", "b"]), (0.5, [])]):
        run = wb.init(project="p" if i < 3 else "q", config={"lr": lr, "opt": {"name": f"o{i}"}}, tags=tags,
                      root=root, **QUIET)
        for step in range(20):
            run.log({"loss": lr / (step + 1), "acc": step / 20})
        run.summary["best"] = i
        run.finish(status="failed" if i == 2 else "completed")
        ids.append(run.id)
    return ids


@pytest.fixture
def filled(root: Path) -> list[str]:
    return _fill(root)


ANSWER = """
def answer(store):
    runs = store.runs(order_by="created")
    columns = ["run_id", "project", "name", "status", "tags", "config.lr", "config.opt.name",
               "summary.loss", "summary.acc", "summary.best"]
    rows = [[list(v) if k == "tags" else v for k, v in zip(columns, row)]
            for row in runs[columns].itertuples(index=False)]
    filtered = store.runs(where="config.lr < 0.05 and tags contains 'b'", order_by="-summary.loss")
    stats = store.sql("select run_id, key, value, min, max, count, step from summaries order by all")
    params = store.sql("select run_id, key, num, str from params order by all")
    points = store.sql("select run_id, count(*) n, sum(value) s from metrics group by all order by all")
    return {
        "runs": rows,
        "filtered": filtered["run_id"].tolist(),
        "stats": stats.astype(object).where(stats.notna(), None).values.tolist(),
        "params": params.astype(object).where(params.notna(), None).values.tolist(),
        "points": points.values.tolist(),
    }
"""
_ns: dict[str, Any] = {}
exec(ANSWER, _ns)  # the same function in this process and in the fresh ones


def answer(store: Store) -> dict[str, Any]:
    return json.loads(json.dumps(_ns["answer"](store)))  # the same types as from a subprocess


def answer_in_fresh_process(root: Path) -> dict[str, Any]:
    code = ANSWER + textwrap.dedent(f"""
        import json, sys
        from workbench.store import open_store
        print(json.dumps(answer(open_store({str(root)!r}))))
    """)
    proc = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return json.loads(proc.stdout)


def fresh_store(root: Path) -> Store:
    """A Store with its own catalog in this process (open_store would return the cached one)."""
    return Store(load_settings(root))


@pytest.mark.timeout(60)
def test_deleting_the_catalog_loses_nothing(root: Path, filled: list[str]) -> None:
    store = open_store(root)  # the store wb.runs() uses in this process, already warm
    before = answer(store)
    assert [row[0] for row in before["runs"]] == filled
    assert len(before["points"]) == 4 and all(n == 40 for _, n, _ in before["points"])
    assert (root / "catalog").is_dir()

    shutil.rmtree(root / "catalog")
    assert answer_in_fresh_process(root) == before
    assert (root / "catalog" / "state.json").is_file()  # the fresh process rebuilt it

    shutil.rmtree(root / "catalog")
    assert answer(store) == before        # the same, already open store
    assert answer(fresh_store(root)) == before

    # and the open store keeps following new runs once the journal is back
    shutil.rmtree(root / "catalog")
    run = wb.init(project="p", root=root, **QUIET)
    run.log({"loss": 0.0})
    run.finish()
    assert run.id in store.runs()["run_id"].tolist()
    assert answer(fresh_store(root))["runs"][:4] == before["runs"]


def _snapshot_dir(root: Path) -> Path:
    state = json.loads((root / "catalog" / "state.json").read_text())
    return root / "catalog" / state["snapshot"]


def _garbage(path: Path) -> None:
    path.write_bytes(b"DUCK this is no database at all")


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:5000])


def _damaged_blocks(path: Path) -> None:
    """Bytes changed inside every block after the headers: found by DuckDB's block checksums
    only when a query reads the block, not when the snapshot is attached."""
    data = bytearray(path.read_bytes())
    for offset in range(12288 + 100, len(data) - 64, 4096):
        data[offset:offset + 32] = bytes(b ^ 0x5A for b in data[offset:offset + 32])
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_garbage, _truncated, _damaged_blocks], ids=lambda f: f.__name__.strip("_"))
def test_a_garbage_snapshot_is_rebuilt_with_a_warning(root: Path, filled: list[str], damage: Any) -> None:
    before = answer(fresh_store(root))
    damage(_snapshot_dir(root) / "catalog.duckdb")
    store = fresh_store(root)
    with pytest.warns(UserWarning, match="catalog snapshot unreadable"):
        assert answer(store) == before
    assert answer(store) == before
    assert answer(fresh_store(root)) == before  # a good snapshot again: no warning now


@pytest.mark.parametrize("state", [b"{not json", b"[]", b'{"format": 1}', b"\xff\xfe"])
def test_a_garbage_state_file_is_rebuilt_with_a_warning(root: Path, filled: list[str], state: bytes) -> None:
    before = answer(fresh_store(root))
    (root / "catalog" / "state.json").write_bytes(state)
    with pytest.warns(UserWarning, match="catalog snapshot unreadable"):
        assert answer(fresh_store(root)) == before


def test_a_snapshot_that_names_nothing_or_escapes_is_ignored(root: Path, filled: list[str]) -> None:
    before = answer(fresh_store(root))
    for name in ("snapshot-gone", "../../runs", "/etc", 5, "..", "runs"):
        (root / "catalog" / "state.json").write_text(json.dumps({"format": 1, "snapshot": name}))
        assert answer(fresh_store(root)) == before


def test_a_stale_snapshot_with_a_lost_journal_is_corrected_from_the_records(root: Path,
                                                                            filled: list[str]) -> None:
    fresh_store(root).runs()  # a snapshot of the current state
    update_record(Layout(root), filled[0], lambda r: r.update(status="cancelled", tags=["late"]), fsync=False)
    (root / "catalog" / "journal").unlink()
    shutil.rmtree(root / "runs" / filled[1])
    store = fresh_store(root)
    table = store.runs(order_by="created")
    assert table["run_id"].tolist() == [filled[0], *filled[2:]]
    assert table.loc[0, "status"] == "cancelled"
    assert list(table.loc[0, "tags"]) == ["late"]


WRITER = """
    import sys
    import workbench as wb
    from workbench.settings import load_settings
    from workbench.store._paths import Layout
    from workbench.store.records import update_record

    root, existing = sys.argv[1], sys.argv[2]
    run = wb.init(project="p", name="from-elsewhere", config={"lr": 0.2}, root=root)
    run.log({"loss": 0.25})
    run.finish()
    update_record(Layout(load_settings(root).root), existing,
                  lambda r: r.update(tags=["edited"], notes="by another process"))
    print(run.id)
"""


@pytest.mark.timeout(60)
def test_an_open_store_sees_what_other_processes_write(tmp_path: Path, root: Path, filled: list[str]) -> None:
    store = fresh_store(root)
    assert len(store.runs()) == 4
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(WRITER))
    env = {**os.environ, "WORKBENCH_SYSTEM_METRICS": "0"}
    proc = subprocess.run([sys.executable, str(script), str(root), filled[0]], capture_output=True, text=True,
                          env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    new_id = proc.stdout.split()[-1]
    table = store.runs(order_by="created")  # no reopening
    assert table["run_id"].tolist() == [*filled, new_id]
    row = table.set_index("run_id").loc[new_id]
    assert row["name"] == "from-elsewhere" and row["config.lr"] == 0.2 and row["summary.loss"] == 0.25
    edited = table.set_index("run_id").loc[filled[0]]
    assert list(edited["tags"]) == ["edited"] and edited["notes"] == "by another process"
    assert store.runs(where="tags contains 'edited'")["run_id"].tolist() == [filled[0]]
    assert len(store.history(new_id)) == 1
    assert store.sql(f"select count(*) from metrics where run_id = '{new_id}'").iloc[0, 0] == 1


def test_reindex_rebuilds_from_the_files(root: Path, filled: list[str]) -> None:
    store = fresh_store(root)
    before = answer(store)
    # changes no journal announced: a record replaced by hand, a run directory removed by hand
    layout = Layout(root)
    record = read_record(layout, filled[3])
    record["notes"] = "edited by hand"
    atomic_write_json(layout.record(filled[3]), record, fsync=False)
    shutil.rmtree(root / "runs" / filled[1])
    report = store.reindex()
    assert report.runs == 3
    assert report.corrupt_records == {} and report.corrupt_segments == {}
    assert report.seconds >= 0
    table = store.runs(order_by="created")
    assert table["run_id"].tolist() == [filled[0], filled[2], filled[3]]
    assert table.loc[2, "notes"] == "edited by hand"
    after = answer(store)
    assert after["runs"] == [row for row in before["runs"] if row[0] != filled[1]]
    assert answer(fresh_store(root)) == after
    assert wb.reindex(root=root).runs == 3


def test_reindex_of_an_empty_store(root: Path) -> None:
    report = wb.reindex(root=root)
    assert report.runs == 0
    assert wb.runs(root=root).empty
    assert list(wb.runs(root=root).columns)[:4] == ["run_id", "project", "name", "status"]


def test_a_live_run_keeps_reaching_readers_after_the_catalog_is_deleted(root: Path) -> None:
    run = wb.init(project="live", root=root, **QUIET)
    try:
        run.log({"loss": 1.0})
        run.flush()
        store = fresh_store(root)
        assert store.runs().loc[0, "summary.loss"] == 1.0
        shutil.rmtree(root / "catalog")
        store.runs()  # notices the journal is gone
        run.log({"loss": 0.5})
        run.flush()  # the run's journal descriptor names a deleted file: it must open the new one
        assert store.runs().loc[0, "summary.loss"] == 0.5
        assert fresh_store(root).runs().loc[0, "summary.loss"] == 0.5
    finally:
        run.finish()
    assert open_store(root).runs().loc[0, "status"] == "completed"


def test_journal_lines_that_are_no_run_ids_never_become_paths(root: Path, filled: list[str]) -> None:
    """The journal is a plain file: a line such as ``../outside`` must not index a record from
    outside ``runs/`` (nor make a path of it), on a cold load as on a warm refresh."""
    outside = root / "outside"
    outside.mkdir()
    atomic_write_json(outside / "run.json", {"id": "../outside", "status": "completed", "project": "p"})
    with open(root / "catalog" / "journal", "ab") as journal:
        journal.write(b"../outside\nNOT-AN-ID\n" + filled[0].encode() + b"\n")
    store = Store(load_settings(root))  # a cold load, which replays the journal's end
    ids, _ = store.catalog._read_journal(0)
    assert filled[0] in ids and "../outside" not in ids and "NOT-AN-ID" not in ids
    assert set(store.runs()["run_id"]) == set(filled)
