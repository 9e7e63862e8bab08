"""Issue 11: records read from the local disk pass the same schema as synced ones
(workbench/store/_schema.py). A record of the wrong shape written by hand next to good runs is
skipped with a warning naming it, and never breaks runs(), sql(), history(), the catalog or
artifacts(); writers never write what a reader would refuse."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from workbench.errors import ArtifactError, CorruptRecord, StoreError
from workbench.settings import load_settings
from workbench.store import Store
from workbench.store._schema import MAX_DEPTH, MAX_RECORD_BYTES, MAX_STRING
from workbench.store.run_edit import update_run

QUIET = {"system_metrics": False, "capture_output": False, "fsync": False}
POINTS = 5


def _set(**fields: Any) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        record = json.loads(path.read_bytes())
        record.update(fields)
        path.write_text(json.dumps(record))
    return damage


def _deep(path: Path) -> None:  # json.loads would raise RecursionError on this
    record = json.loads(path.read_bytes())
    record["summary"] = {}
    path.write_bytes(json.dumps(record).encode().replace(b'"summary": {}', b'"summary": ' + b"[" * 100_000
                                                         + b"]" * 100_000))


def _oversized(path: Path) -> None:
    record = json.loads(path.read_bytes())
    record["notes"] = "x" * (MAX_RECORD_BYTES + 1)
    path.write_text(json.dumps(record))


def _fifo(path: Path) -> None:  # reading it would block every query
    path.unlink()
    os.mkfifo(path)


def _directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


#: (label, damage, what the warning and reindex say); before issue 11 most of these broke every
#: query of the store (AttributeError, ArrowTypeError, OutOfBoundsDatetime, RecursionError...) and
#: the fifo hung it
DAMAGE: list[tuple[str, Callable[[Path], None], str]] = [
    ("summary-string", _set(summary="0.93"), "summary is a string, not an object"),
    ("config-list", _set(config=[1, 2]), "config is an array, not an object"),
    ("name-number", _set(name=5), "name is a number, not a string"),
    ("created-far", _set(created=1e300), "created 1e+300 is not a time"),
    ("pid-overflow", _set(pid=2**70), "pid is an integer of more than 64 bits"),
    ("error-dict-message", _set(error={"message": {"a": 1}}), "error.message is an object, not a string"),
    ("metrics-list", _set(metrics={"loss": [1]}), "metrics.loss is an array, not an object"),
    ("lone-surrogate", _set(notes="\ud800"), "notes holds a lone surrogate"),
    ("nul", _set(name="a\x00b"), "name holds a NUL character"),
    ("control-tag", _set(tags=["a\nb"]), "tags[0] 'a\\nb' holds control characters"),
    ("huge-string", _set(notes="x" * (MAX_STRING + 1)), "notes is a string of"),
    ("nested", _set(config={"a": json.loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))}),
     f"is nested deeper than {MAX_DEPTH} levels"),
    ("deep-recursive", _deep, f"is nested deeper than {MAX_DEPTH} levels"),
    ("oversized", _oversized, f"is more than {MAX_RECORD_BYTES:,} bytes"),
    ("fifo", _fifo, "is not a regular file"),
    ("directory", _directory, "is not a regular file"),
]


@pytest.fixture
def damaged(root: Path) -> tuple[list[str], dict[str, str]]:
    """(3 good runs, bad run id -> label): each bad run a copy of a good one, its record damaged."""
    good = []
    for i in range(3):
        run = wb.init(project="schema", config={"i": i}, root=root, **QUIET)
        for step in range(POINTS):
            run.log({"loss": float(step)})
        run.finish()
        good.append(run.id)
    labels = {}
    for n, (label, damage, _) in enumerate(DAMAGE):
        bad_id = f"{good[0][:-5]}bad{n:02d}"
        shutil.copytree(root / "runs" / good[0], root / "runs" / bad_id)
        path = root / "runs" / bad_id / "run.json"
        record = json.loads(path.read_bytes())
        path.write_text(json.dumps({**record, "id": bad_id}))
        damage(path)
        labels[bad_id] = label
    return good, labels


def test_a_bad_record_is_skipped_and_never_breaks_queries_of_the_others(
        root: Path, damaged: tuple[list[str], dict[str, str]]) -> None:
    good, labels = damaged
    reasons = {label: reason for label, _, reason in DAMAGE}
    store = Store(load_settings(root))
    with pytest.warns(UserWarning) as caught:
        table = store.runs(order_by="created")
    warned = "\n".join(str(w.message) for w in caught)
    for bad_id, label in labels.items():
        assert f"skipping run {bad_id}: run record {root / 'runs' / bad_id / 'run.json'}" in warned, label
        assert reasons[label] in warned, label
    assert table["run_id"].tolist() == good
    assert table["summary.loss"].tolist() == [POINTS - 1] * 3
    # every other query works, without a new warning (the bad files are remembered unchanged)
    assert store.runs(where="config.i >= 1")["run_id"].tolist() == [good[2], good[1]]
    assert store.sql("select count(*) from runs").iloc[0, 0] == 3
    counts = store.sql("select run_id, count(*) n from metrics group by run_id order by run_id")
    assert counts.values.tolist() == [[run_id, POINTS] for run_id in sorted(good)]
    assert len(store.history(good)) == 3 * POINTS
    # one record asked for by id says what is wrong with it
    bad_id = next(i for i, label in labels.items() if label == "summary-string")
    with pytest.raises(CorruptRecord, match="summary is a string, not an object"):
        wb.get_run(bad_id, root=root)
    # reindex lists each, by id and reason, and the store is unchanged by any of this
    report = Store(load_settings(root)).reindex()
    assert report.runs == 3
    assert sorted(report.corrupt_records) == sorted(labels)
    for bad_id, message in report.corrupt_records.items():
        assert reasons[labels[bad_id]] in message


def test_workbench_reindex_lists_a_record_of_the_wrong_shape(root: Path) -> None:
    with wb.init(project="schema", root=root, **QUIET) as run:
        run.log({"loss": 1.0})
    path = root / "runs" / run.id / "run.json"
    _set(summary="broken")(path)
    proc = subprocess.run([sys.executable, "-m", "workbench", "--root", str(root), "reindex"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert f"corrupt run record: {run.id}: run record {path}: summary is a string, not an object" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_writers_never_write_a_record_that_readers_would_refuse(root: Path) -> None:
    with pytest.raises(wb.ConfigError, match=re.escape("config key '' must be a non-empty string")):
        wb.init(config={"": 1}, root=root, **QUIET)  # refused before the store is touched
    with pytest.raises(StoreError, match="name holds a NUL character"):
        wb.init(name="a\x00b", root=root, **QUIET)
    assert not (root / "runs").exists() or not any((root / "runs").iterdir())  # no half-made run

    with wb.init(project="schema", notes="fine", root=root, **QUIET) as run:
        pass
    store = Store(load_settings(root))
    before = (root / "runs" / run.id / "run.json").read_bytes()
    with pytest.raises(StoreError, match="notes is a string of"):
        update_run(store, run.id, notes="x" * (MAX_STRING + 1))
    assert (root / "runs" / run.id / "run.json").read_bytes() == before
    assert store.get(run.id)["notes"] == "fine"

    source = root.parent / "weights.bin"
    source.write_bytes(b"w")
    deep = r"the manifest would not be readable \(metadata\.deep\[0\]\S* is nested deeper than 32"
    with pytest.raises(ArtifactError, match=deep):
        wb.log_artifact(source, name="m", metadata={"deep": json.loads("[" * 40 + "]" * 40)}, root=root)


def test_a_bad_manifest_or_alias_file_never_breaks_artifacts_of_the_others(root: Path, tmp_path: Path) -> None:
    source = tmp_path / "f.txt"
    for name in ("a", "b", "c"):
        source.write_text(name)
        wb.log_artifact(source, name=name, type="model", aliases=["best"], root=root)
    manifest = root / "artifacts" / "b" / "v1.json"
    _set(metadata="text")(manifest)
    aliases = root / "artifacts" / "c" / "aliases.json"
    aliases.write_text('["best"]')

    with pytest.warns(UserWarning) as caught:
        table = wb.artifacts(root=root)
    warned = "\n".join(str(w.message) for w in caught)
    assert f"skipping artifact version b:v1: manifest {manifest}: metadata is a string, not an object" in warned
    assert f"showing artifact 'c' without its aliases: alias file {aliases} is an array" in warned
    assert table["ref"].tolist() == ["a:v1", "c:v1"]
    assert [list(a) for a in table["aliases"]] == [["best", "latest"], ["latest"]]

    with pytest.raises(ArtifactError, match=re.escape(f"manifest {manifest}: metadata is a string")):
        wb.artifact("b", root=root)
    with pytest.raises(ArtifactError, match=re.escape(f"alias file {aliases} is an array")):
        wb.artifact("c:best", root=root)
    assert wb.artifact("a:best", root=root).ref == "a:v1"
