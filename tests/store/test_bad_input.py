"""Bad input gets a clear error and changes nothing (acceptance 5): corrupt metric segments,
truncated run records, invalid settings, path-like run ids, and SQL that would write."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import workbench as wb
from workbench.errors import ConfigError, CorruptRecord, QueryError, RunNotFound, StoreError
from workbench.settings import load_settings
from workbench.store import Store
from workbench.store._paths import FORMAT, Layout, new_run_id
from workbench.store.records import create_record

QUIET = {"flush_interval": 0.05, "system_metrics": False, "capture_output": False, "fsync": False}
POINTS = 30


def _three(root: Path) -> list[str]:
    ids = []
    for i in range(3):
        run = wb.init(project="bad", name=f"run{i}", config={"i": i}, root=root, **QUIET)
        for step in range(POINTS):
            run.log({"loss": float(step)})
        run.finish()
        ids.append(run.id)
    return ids


@pytest.fixture
def three(root: Path) -> list[str]:
    """Three finished runs of POINTS points each (one key), for a test that damages them."""
    return _three(root)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The same, shared by tests that must change nothing (they check that they did not)."""
    root = tmp_path_factory.mktemp("shared") / "store"
    return root, _three(root)


def fresh(root: Path) -> Store:
    """A Store with its own catalog and no memory of files it already warned about."""
    return Store(load_settings(root))


def digest(root: Path, skip: Path | None = None) -> dict[str, str]:
    runs = root / "runs"
    return {str(p.relative_to(runs)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(runs.rglob("*")) if p.is_file() and p != skip}


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench", "--root", str(root), *args],
                          capture_output=True, text=True, timeout=60, check=False)


def only_file(root: Path, run_id: str) -> Path:
    files = [p for p in (root / "runs" / run_id / "metrics").iterdir() if p.suffix == ".parquet"]
    assert len(files) == 1, files
    return files[0]


# -- corrupt metric segments -------------------------------------------------------------------------

def _garbage(path: Path) -> None:
    path.write_bytes(b"this was a parquet file once" * 10)


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _zero(path: Path) -> None:
    path.write_bytes(b"")


def _bad_footer(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-8:-4] = b"\xff\xff\xff\x7f"  # a footer length far beyond the file
    path.write_bytes(bytes(data))


CORRUPTIONS = [_garbage, _truncate, _zero, _bad_footer]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__.strip("_"))
def test_a_corrupt_segment_is_skipped_with_a_warning_naming_it(root: Path, three: list[str],
                                                                corrupt: Any) -> None:
    bad_run = three[1]
    path = only_file(root, bad_run)
    corrupt(path)
    before = digest(root)

    store = fresh(root)
    with pytest.warns(UserWarning, match=re.escape(str(path))):
        frame = store.history(three)
    assert frame.groupby("run_id").size().to_dict() == {three[0]: POINTS, three[2]: POINTS}
    assert frame[frame.run_id == three[0]]["value"].tolist() == [float(s) for s in range(POINTS)]
    again = store.history(three)  # known now: skipped without a second warning
    assert again.equals(frame)
    assert store.history([three[0]]).shape[0] == POINTS

    store = fresh(root)
    with pytest.warns(UserWarning, match=re.escape(str(path))):
        counts = store.sql("select run_id, count(*) n from metrics group by run_id order by run_id")
    assert counts.values.tolist() == sorted([[three[0], POINTS], [three[2], POINTS]])
    assert store.sql("select count(*) from metrics").iloc[0, 0] == 2 * POINTS

    store = fresh(root)
    with pytest.warns(UserWarning, match=re.escape(str(path))):
        assert store.history(bad_run).empty
    table = store.runs(order_by="created")  # the run itself is intact
    assert table["run_id"].tolist() == three
    assert table.loc[1, "summary.loss"] == POINTS - 1

    report = fresh(root).reindex()
    assert report.runs == 3
    assert list(report.corrupt_segments) == [str(path)]
    assert report.corrupt_records == {}
    assert wb.reindex(root=root).corrupt_segments.keys() == {str(path)}
    assert digest(root) == before  # nothing was changed, moved or "repaired"


@pytest.mark.timeout(60)
def test_workbench_reindex_reports_corrupt_files_and_exits_1(root: Path, three: list[str]) -> None:
    segment = only_file(root, three[0])
    _truncate(segment)
    _half(root / "runs" / three[2] / "run.json")
    before = digest(root)
    proc = cli(root, "reindex")
    assert proc.returncode == 1
    assert f"corrupt metric segment: {segment}" in proc.stderr
    assert f"corrupt run record: {three[2]}" in proc.stderr
    assert "indexed 2 runs" in proc.stdout
    assert "Traceback" not in proc.stderr
    assert digest(root) == before
    _garbage(segment)
    segment.unlink()
    (root / "runs" / three[2] / "run.json").unlink()
    proc = cli(root, "reindex")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def _write_segments(root: Path, chunks: list[range]) -> str:
    """A crashed run whose points lie in several live segments, written as the format says."""
    layout = Layout(root)
    layout.ensure()
    run_id = new_run_id()
    create_record(layout, {"format": FORMAT, "id": run_id, "project": "bad", "name": "segmented",
                           "created": 1.7e9, "started": 1.7e9, "ended": 1.7e9 + 1, "status": "crashed",
                           "config": {}, "summary": {}, "metrics": {}, "tags": [], "notes": "",
                           "remote": None}, fsync=False)
    metrics = layout.metrics_dir(run_id)
    metrics.mkdir()
    schema = pa.schema([("step", pa.int64()), ("key", pa.dictionary(pa.int32(), pa.string())),
                        ("value", pa.float64()), ("time", pa.float64())])
    for seq, steps in enumerate(chunks):
        table = pa.table({"step": list(steps), "key": ["loss"] * len(steps),
                          "value": [float(s) for s in steps], "time": [1.7e9] * len(steps)}).cast(schema)
        pq.write_table(table, metrics / f"s-{seq:08d}.parquet")
    return run_id


def test_one_corrupt_segment_among_several_loses_only_its_points(root: Path) -> None:
    run_id = _write_segments(root, [range(0, 10), range(10, 20), range(20, 30)])
    other = _write_segments(root, [range(0, 5)])
    bad = root / "runs" / run_id / "metrics" / "s-00000001.parquet"
    _truncate(bad)
    store = fresh(root)
    with pytest.warns(UserWarning, match=re.escape(str(bad))) as caught:
        frame = store.history([run_id, other])
    assert len(caught) == 1
    assert frame[frame.run_id == run_id]["step"].tolist() == [*range(10), *range(20, 30)]
    assert frame[frame.run_id == other]["step"].tolist() == list(range(5))
    assert list(fresh(root).reindex().corrupt_segments) == [str(bad)]


# -- truncated run records ---------------------------------------------------------------------------

def _half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _not_a_record(path: Path) -> None:
    path.write_text("[1, 2, 3]")


def _newer_format(path: Path) -> None:
    record = json.loads(path.read_text())
    record["format"] = FORMAT + 1
    path.write_text(json.dumps(record))


def _other_id(path: Path) -> None:
    record = json.loads(path.read_text())
    record["id"] = "0000000000aaaa"
    path.write_text(json.dumps(record))


def _binary(path: Path) -> None:
    path.write_bytes(b"\xff\xfe\x00garbage")


def _format_not_a_number(path: Path) -> None:
    record = json.loads(path.read_text())
    record["format"] = "two"
    path.write_text(json.dumps(record))


RECORD_DAMAGE = [_half, _not_a_record, _newer_format, _other_id, _binary, _format_not_a_number]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("damage", RECORD_DAMAGE, ids=lambda f: f.__name__.strip("_"))
def test_a_damaged_run_record_is_skipped_with_a_warning_naming_it(root: Path, three: list[str],
                                                                  damage: Any) -> None:
    bad_run = three[1]
    record_path = root / "runs" / bad_run / "run.json"
    damage(record_path)
    before = digest(root)

    store = fresh(root)
    with pytest.warns(UserWarning, match=bad_run):
        table = store.runs(order_by="created")
    assert table["run_id"].tolist() == [three[0], three[2]]
    assert table["summary.loss"].tolist() == [POINTS - 1, POINTS - 1]
    assert store.runs(where="config.i >= 0")["run_id"].tolist() == [three[2], three[0]]  # no new warning
    assert store.sql("select count(*) from runs").iloc[0, 0] == 2
    assert store.history([three[0], three[2]]).shape[0] == 2 * POINTS
    with pytest.raises(StoreError):
        wb.get_run(bad_run, root=root)

    report = fresh(root).reindex()
    assert report.runs == 2
    assert list(report.corrupt_records) == [bad_run]
    assert report.corrupt_segments == {}
    assert digest(root) == before


def test_a_half_written_record_raises_corrupt_record(root: Path, three: list[str]) -> None:
    _half(root / "runs" / three[0] / "run.json")
    with pytest.raises(CorruptRecord, match=three[0]):
        wb.get_run(three[0], root=root)
    assert wb.get_run(three[1], root=root)["status"] == "completed"


def test_a_repaired_record_comes_back(root: Path, three: list[str]) -> None:
    path = root / "runs" / three[0] / "run.json"
    good = path.read_bytes()
    _half(path)
    store = fresh(root)
    with pytest.warns(UserWarning, match=three[0]):
        assert len(store.runs()) == 2
    tmp = path.with_name("run.json.tmp")
    tmp.write_bytes(good)
    os.replace(tmp, path)
    assert len(fresh(root).runs()) == 3
    assert fresh(root).reindex().corrupt_records == {}


# -- settings ----------------------------------------------------------------------------------------

BAD_SETTINGS = [
    ('flush_interval = "fast"', "flush_interval"),
    ("flush_interval = -1", "flush_interval"),
    ("crash_after = nan", "crash_after"),
    ('capture_output = "maybe"', "capture_output"),
    ("system_metrics = 2", "system_metrics"),
    ("flush_calls = true", "flush_calls"),
    ("bogus = 1", "bogus"),
    ("not toml [[[", "not valid TOML"),
]


@pytest.mark.parametrize(("text", "fragment"), BAD_SETTINGS, ids=[s[0] for s in BAD_SETTINGS])
def test_invalid_settings_in_workbench_toml_name_the_file(root: Path, text: str, fragment: str) -> None:
    root.mkdir(parents=True)
    toml = root / "workbench.toml"
    toml.write_text(text + "\n")
    for call in (lambda: wb.init(root=root), lambda: wb.runs(root=root), lambda: load_settings(root)):
        with pytest.raises(ConfigError) as info:
            call()
        assert str(toml) in str(info.value)
        assert fragment in str(info.value)
    assert not (root / "runs").exists() or not list((root / "runs").iterdir())


@pytest.mark.timeout(60)
def test_the_cli_reports_invalid_settings_without_a_traceback(root: Path) -> None:
    root.mkdir(parents=True)
    toml = root / "workbench.toml"
    toml.write_text("flush_interval = 'fast'\n")
    proc = cli(root, "runs")
    assert proc.returncode == 1
    assert proc.stderr.startswith("workbench: error:")
    assert str(toml) in proc.stderr and "Traceback" not in proc.stderr


def test_workbench_toml_that_is_not_utf8(root: Path) -> None:
    root.mkdir(parents=True)
    (root / "workbench.toml").write_bytes(b"flush_interval = 1\n\xff\xfe\n")
    with pytest.raises(ConfigError, match=r"workbench\.toml"):
        load_settings(root)


def test_invalid_settings_in_the_environment_name_the_variable(root: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_FLUSH_INTERVAL", "soon")
    with pytest.raises(ConfigError, match="WORKBENCH_FLUSH_INTERVAL"):
        wb.init(root=root)
    monkeypatch.delenv("WORKBENCH_FLUSH_INTERVAL")
    monkeypatch.setenv("WORKBENCH_CAPTURE_OUTPUT", "perhaps")
    with pytest.raises(ConfigError, match="WORKBENCH_CAPTURE_OUTPUT"):
        wb.init(root=root)


def test_valid_settings_rise_in_precedence(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root.mkdir(parents=True)
    (root / "workbench.toml").write_text("flush_interval = 2.5\nheartbeat_interval = 3\n"
                                         "capture_output = false\n[remotes.gpu1]\nhost = 'h'\n")
    settings = load_settings(root)
    assert settings.flush_interval == 2.5
    assert (settings.heartbeat_interval, settings.capture_output) == (3.0, False)
    assert settings.extra["remotes"]["gpu1"]["host"] == "h"
    monkeypatch.setenv("WORKBENCH_FLUSH_INTERVAL", "0.5")
    assert load_settings(root).flush_interval == 0.5
    assert load_settings(root, flush_interval=0.25).flush_interval == 0.25


# -- run ids -----------------------------------------------------------------------------------------

BAD_IDS = ["../x", "a/b", "..", ".", "/etc", "a\x00b", "a\nb", "A" * 3, ".hidden", "x" * 65, "-x", "a b"]


@pytest.mark.parametrize("run_id", BAD_IDS, ids=repr)
def test_path_like_run_ids_are_refused(shared: tuple[Path, list[str]], run_id: str) -> None:
    root, three = shared
    before = sorted(p.name for p in root.parent.iterdir())
    layout = Layout(root)
    with pytest.raises(StoreError):
        layout.run_dir(run_id)
    with pytest.raises(StoreError):
        create_record(layout, {"format": FORMAT, "id": run_id, "status": "queued"}, fsync=False)
    with pytest.raises(RunNotFound):
        wb.get_run(run_id, root=root)
    with pytest.raises(RunNotFound):
        wb.history(run_id, root=root)
    with pytest.raises(RunNotFound):
        wb.history([three[0], run_id], root=root)
    assert sorted(p.name for p in root.parent.iterdir()) == before
    assert sorted(p.name for p in (root / "runs").iterdir()) == sorted(three)


def test_unknown_and_empty_run_ids(shared: tuple[Path, list[str]]) -> None:
    root, _ = shared
    for run_id in ("", "zzzzzzzzzzzzzz", "%", "_"):
        with pytest.raises(RunNotFound):
            wb.get_run(run_id, root=root)
    error = RunNotFound("no run 'x'")
    assert isinstance(error, KeyError) and str(error) == "no run 'x'"


def test_bad_history_arguments(shared: tuple[Path, list[str]]) -> None:
    root, three = shared
    for samples in (0, -1, True, 2.5):
        with pytest.raises(QueryError, match="samples"):
            wb.history(three[0], samples=samples, root=root)  # type: ignore[arg-type]
    assert wb.history(three[0], keys=["nope"], root=root).empty
    columns = list(wb.history(three[0], keys="nope", root=root).columns)
    assert columns == ["run_id", "key", "step", "value", "time"]


# -- sql() is read-only --------------------------------------------------------------------------------

WRITES = [
    "DROP TABLE _runs",
    "DROP VIEW runs",
    "select 1; drop table _runs",
    "INSERT INTO _runs SELECT * FROM _runs",
    "DELETE FROM _runs",
    "UPDATE _runs SET status = 'x'",
    "CREATE TABLE t AS SELECT 1",
    "CREATE OR REPLACE VIEW runs AS SELECT 1",
    "COPY _runs TO '{out}/copy.csv'",
    "COPY (SELECT 1) TO '{out}/copy.parquet' (FORMAT parquet)",
    "EXPORT DATABASE '{out}/export'",
    "ATTACH '{out}/other.duckdb' AS other",
    "DETACH memory",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET threads = 1",
    "PRAGMA threads = 1",
    "CHECKPOINT",
    "VACUUM",
    "CALL pragma_version()",
    "BEGIN TRANSACTION",
    "EXPLAIN ANALYZE DELETE FROM _runs",
    "explain analyse delete from _runs",
    "EXPLAIN /* hidden */ ANALYZE DELETE FROM _runs",
    "EXPLAIN (ANALYZE) DELETE FROM _runs",
    "EXPLAIN (ANALYZE, FORMAT json) UPDATE _runs SET status = 'x'",
    "EXPLAIN ANALYZE COPY (SELECT 42) TO '{out}/explained.csv'",
    "select * from runs; EXPLAIN ANALYZE DELETE FROM _params",
]


@pytest.mark.parametrize("query", WRITES)
def test_sql_refuses_every_write(tmp_path: Path, shared: tuple[Path, list[str]], query: str) -> None:
    root, _ = shared
    out = tmp_path / "out"
    out.mkdir()
    before = digest(root)
    store = fresh(root)
    counts = store.sql("select (select count(*) from _runs), (select count(*) from _params), "
                       "(select count(*) from _summaries)").values.tolist()
    with pytest.raises(QueryError):
        store.sql(query.format(out=out))
    assert store.sql("select (select count(*) from _runs), (select count(*) from _params), "
                     "(select count(*) from _summaries)").values.tolist() == counts
    assert store.runs()["status"].tolist() == ["completed"] * 3
    assert list(out.iterdir()) == []
    assert digest(root) == before


def test_sql_reads(shared: tuple[Path, list[str]]) -> None:
    root, _ = shared
    store = fresh(root)
    assert store.sql("explain analyze select count(*) from metrics").shape[0] == 1
    assert store.sql("EXPLAIN SELECT * FROM runs").shape[0] == 1
    assert store.sql("with x as (select * from runs) select count(*) n from x").iloc[0, 0] == 3
    assert store.sql("from summaries select count(*)").iloc[0, 0] == 3
    assert store.sql("describe runs").shape[0] >= 10
    joined = store.sql("select r.name, count(*) n from runs r join metrics m using (run_id) "
                       "group by all order by 1")
    assert joined.values.tolist() == [["run0", POINTS], ["run1", POINTS], ["run2", POINTS]]


@pytest.mark.parametrize("query", ["", "   ", "selec 1", "select * from nowhere", "select 1 +"])
def test_sql_errors_are_query_errors(shared: tuple[Path, list[str]], query: str) -> None:
    root, _ = shared
    with pytest.raises(QueryError):
        wb.sql(query, root=root)


def test_runs_arguments_of_the_wrong_type_are_query_errors(shared: tuple[Path, list[str]]) -> None:
    root, _ = shared
    for arguments in ({"where": 5}, {"order_by": [1]}, {"columns": [None]}, {"limit": "5"}):
        with pytest.raises(QueryError, match="must be"):
            wb.runs(root=root, **arguments)  # type: ignore[arg-type]


def test_sql_takes_a_string(root: Path) -> None:
    with pytest.raises(QueryError):
        wb.sql(None, root=root)  # type: ignore[arg-type]


def test_no_warning_on_a_healthy_store(shared: tuple[Path, list[str]]) -> None:
    root, three = shared
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store = fresh(root)
        store.runs()
        store.history(three)
        store.sql("select count(*) from metrics")
        assert store.reindex().corrupt_records == {}


def test_a_root_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "not-a-dir"
    path.write_text("x")
    with pytest.raises(StoreError, match=re.escape(str(path))):
        wb.init(root=path, **QUIET)
    with pytest.raises(StoreError, match=re.escape(str(path))):
        wb.runs(root=path)
    assert path.read_text() == "x"


def test_save_settings_keeps_tables_and_refuses_bad_values(tmp_path: Path) -> None:
    from workbench.settings import load_settings, save_settings

    toml = tmp_path / "workbench.toml"
    toml.write_text('# mine\njob_slots = 1\n\n[remotes.gpu1]\nhost = "h"\n')
    assert save_settings(tmp_path, job_slots=3, ui_language="zh").job_slots == 3
    text = toml.read_text()
    assert text.startswith("# mine\njob_slots = 3\nui_language = \"zh\"\n") and '[remotes.gpu1]\nhost = "h"' in text
    with pytest.raises(ConfigError, match="job_slots"):
        save_settings(tmp_path, job_slots=0)
    with pytest.raises(ConfigError, match="unknown setting"):
        save_settings(tmp_path, nope=1)
    assert toml.read_text() == text  # a refused change writes nothing
    assert load_settings(tmp_path).ui_language == "zh"
