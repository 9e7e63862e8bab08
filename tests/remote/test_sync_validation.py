"""Acceptance 7 of issue 11: remote data is validated before it lands.

A real remote store (real sshd on 127.0.0.1, real `find` and `tar`) holds good runs next to more
than 30 run records of the wrong shape (wrong types in every field the store reads, nesting
under the size limit and nesting that would recurse, huge strings, NUL and control characters,
wrong ids) and artifacts whose manifests or alias files are bad. The good runs and artifacts
land; each bad one is refused alone, reported by path and reason; every query of the local store
still works; and a good copy synced before stays exactly as it was when its new copy is bad.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _sshd import Sshd, configure, make_runs, snapshot, sshd_fixture  # noqa: F401 - a fixture

import workbench as wb
from workbench.cli import main
from workbench.store._schema import MAX_DEPTH, MAX_KEYS, MAX_NAME, MAX_STRING

Record = dict[str, Any]


def _set(**fields: Any) -> Callable[[Record], bytes]:
    def change(record: Record) -> bytes:
        record.update(fields)
        return json.dumps(record).encode()
    return change


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def _raw(text: bytes) -> Callable[[Record], bytes]:
    """The record as JSON with ``"summary": {}`` replaced by ``text`` (what json.dumps cannot make)."""
    def change(record: Record) -> bytes:
        record["summary"] = {}
        data = json.dumps(record).encode()
        assert b'"summary": {}' in data
        return data.replace(b'"summary": {}', text, 1)
    return change


def _metric_count(record: Record) -> bytes:
    record["metrics"]["m0"]["count"] = "many"
    return json.dumps(record).encode()


#: (label, how the record is damaged, the reason the sync must give)
BAD_RECORDS: list[tuple[str, Callable[[Record], bytes], str]] = [
    ("summary-string", _set(summary="0.93"), "summary is a string, not an object"),
    ("config-list", _set(config=[1, 2]), "config is an array, not an object"),
    ("tags-string", _set(tags="baseline"), "tags is a string, not an array"),
    ("tag-number", _set(tags=["ok", 5]), "tags[1] is a number, not a string"),
    ("status-unknown", _set(status="winning"), "status 'winning' is not one of queued, running"),
    ("status-number", _set(status=3), "status 3 is not one of"),
    ("created-text", _set(created="yesterday"), "created is a string, not a number"),
    ("started-far", _set(started=1e300), "started 1e+300 is not a time"),
    ("ended-bool", _set(ended=True), "ended is a boolean, not a number"),
    ("heartbeat-list", _set(heartbeat=[1]), "heartbeat is an array, not a number"),
    ("created-nan", _raw(b'"summary": {}, "created": NaN'), "created nan is not a time"),
    ("name-object", _set(name={"a": 1}), "name is an object, not a string"),
    ("project-number", _set(project=42), "project is a number, not a string"),
    ("notes-list", _set(notes=["x"]), "notes is an array, not a string"),
    ("host-bool", _set(host=False), "host is a boolean, not a string"),
    ("metrics-stat-list", _set(metrics={"loss": [1, 2]}), "metrics.loss is an array, not an object"),
    ("metrics-count-text", _metric_count, "metrics.m0.count is a string, not an integer"),
    ("pid-overflow", _set(pid=2**70), "pid is an integer of more than 64 bits"),
    ("pid-negative", _set(pid=-5), "pid -5 is outside 1..2147483647"),
    ("error-number", _set(error=5), "error is a number, not an object"),
    ("error-message-list", _set(error={"message": ["x"]}), "error.message is an array, not a string"),
    ("git-string", _set(git="abc"), "git is a string, not an object"),
    ("lineage-string", _set(artifacts={"used": "x"}), "artifacts.used is a string, not an array"),
    ("pinned-dict", _set(summary_pinned={"a": 1}), "summary_pinned is an object, not an array"),
    ("id-path", _set(id="../../etc"), "id '../../etc' is not a run id"),
    ("id-number", _set(id=12345), "id 12345 is not a run id"),
    ("id-other-run", _set(id="0zzzzzzzzzzzzz"), "the record names run '0zzzzzzzzzzzzz', not"),
    ("format-text", _set(format="two"), "has format 'two', not a number"),
    ("format-newer", _set(format=99), "has format 99, newer than this workbench understands (1)"),
    ("deep-under-size", _set(config={"deep": _nested(MAX_DEPTH + 8)}),
     f"is nested deeper than {MAX_DEPTH} levels"),
    ("deep-recursive", _raw(b'"summary": ' + b"[" * 100_000 + b"]" * 100_000),
     f"is nested deeper than {MAX_DEPTH} levels"),
    ("huge-string", _set(notes="x" * (2 * MAX_STRING)),
     f"notes is a string of {2 * MAX_STRING:,} characters, more than the {MAX_STRING:,} allowed"),
    ("huge-name", _set(config={"k" * (MAX_NAME + 1): 1}), f"characters long, more than the {MAX_NAME:,}"),
    ("many-keys", _set(config={f"k{i}": i for i in range(MAX_KEYS + 1)}),
     f"config has {MAX_KEYS + 1:,} keys, more than the {MAX_KEYS:,} allowed"),
    ("int-too-big", _set(config={"seed": 10**30}), "config.seed is an integer of more than 64 bits"),
    ("nul-in-name", _set(name="a\x00b"), "name holds a NUL character"),
    ("escape-in-tag", _set(tags=["ok", "red\x1b[31m"]), "tags[1] 'red\\x1b[31m' holds control characters"),
    ("newline-in-project", _set(project="p\nq"), "project 'p\\nq' holds control characters"),
    ("lone-surrogate", _set(notes="\ud800"), "notes holds a lone surrogate"),
    ("empty-config-key", _set(config={"": 1}), "config[''] is an empty string"),
    ("not-an-object", lambda record: b"[1, 2, 3]", "is not a workbench run record (no 'id')"),
    ("not-json", lambda record: b'{"id": "cut short', "is not valid JSON"),
]


def _artifact(remote_root: Path, tmp_path: Path, name: str, aliases: list[str] | None = None) -> Path:
    """A real artifact logged on the remote; its v1.json."""
    source = tmp_path / f"src-{name}"
    source.mkdir()
    (source / "weights.bin").write_bytes(name.encode() * 100)
    run = wb.init(project="remote", root=remote_root, capture_output=False, system_metrics=False, fsync=False)
    run.log_artifact(source, name=name, type="model", aliases=aliases or [])
    run.finish()
    return remote_root / "artifacts" / name / "v1.json"


def _edit_json(path: Path, change: Callable[[Any], Any]) -> None:
    data = json.loads(path.read_bytes())
    path.write_text(json.dumps(change(data)))


def _set_field(field: str, value: Any) -> Callable[[Any], Any]:
    def change(data: Any) -> Any:
        data[field] = value
        return data
    return change


#: artifact name -> (file, change, reason): each refuses that artifact's new copy alone
BAD_ARTIFACTS: dict[str, tuple[str, Callable[[Any], Any], str]] = {
    "meta-string": ("v1.json", _set_field("metadata", "text"), "metadata is a string, not an object"),
    "meta-deep": ("v1.json", _set_field("metadata", _nested(MAX_DEPTH + 4)), "is nested deeper than"),
    "created-text": ("v1.json", _set_field("created", "never"), "created is a string, not a number"),
    "size-negative": ("v1.json", _set_field("size", -1), "size -1 is outside 0.."),
    "path-nul": ("v1.json", lambda m: {**m, "files": [{**m["files"][0], "path": "a\x00b"}]},
                 "files[0].path holds a NUL character"),
    "files-twice": ("v1.json", lambda m: {**m, "files": m["files"] * 2}, "is listed twice"),
    "aliases-list": ("aliases.json", lambda a: ["best"], "is an array, not an object of alias -> version"),
    "alias-text": ("aliases.json", lambda a: {"best": "one"}, "best is a string, not an integer"),
    "alias-climbs": ("aliases.json", lambda a: {"../up": 1}, "is not a valid alias"),
}


Hostile = tuple[Path, Path, list[str], list[str], dict[str, str]]


@pytest.fixture
def hostile(sshd: Sshd, tmp_path: Path) -> Hostile:
    """(remote root, local root, the 3 good runs with metrics, every good run, bad run id -> label)."""
    remote_root = tmp_path / "remote-store"
    ids = make_runs(remote_root, 3 + len(BAD_RECORDS))
    labels = {}
    for run_id, (label, damage, _) in zip(ids[3:], BAD_RECORDS, strict=True):
        path = remote_root / "runs" / run_id / "run.json"
        path.write_bytes(damage(json.loads(path.read_bytes())))
        labels[run_id] = label
    _artifact(remote_root, tmp_path, "good", aliases=["best"])
    for name, (file, change, _) in BAD_ARTIFACTS.items():
        _edit_json(_artifact(remote_root, tmp_path, name, aliases=["best"]).parent / file, change)
    good = sorted(set(os.listdir(remote_root / "runs")) - set(labels))  # the producers of artifacts too
    local = tmp_path / "local"
    configure(local, sshd, remote_root)
    return remote_root, local, ids[:3], good, labels


def test_bad_records_manifests_and_alias_files_are_refused_alone(hostile: Hostile, tmp_path: Path) -> None:
    remote_root, local, made, good, labels = hostile
    assert len(labels) >= 20 and len(good) == 3 + 1 + len(BAD_ARTIFACTS)
    # a local run and a local artifact, to check that every query of the store still works
    with wb.init(project="here", config={"lr": 0.1}, root=local, capture_output=False,
                 system_metrics=False, fsync=False) as mine:
        mine.log({"loss": 0.5}, step=0)
    (tmp_path / "mine.txt").write_text("mine")
    wb.log_artifact(tmp_path / "mine.txt", name="mine", root=local)

    result = wb.sync("gpu", root=local)

    assert sorted(result.runs) == sorted(good)
    assert result.artifacts == ["good"]
    # each bad record is reported once, by its path and the reason
    reasons = {label: reason for label, _, reason in BAD_RECORDS}
    for run_id, label in labels.items():
        lines = [m for m in result.refused if f"'{run_id}/run.json'" in m]
        assert len(lines) == 1, (label, lines)
        assert lines[0].startswith(f"remote 'gpu': refused archive member '{run_id}/run.json': ")
        assert reasons[label] in lines[0], (label, lines[0])
        assert len(lines[0]) < 600  # a huge or hostile value is shown cut short, escaped
    for name, (file, _, reason) in BAD_ARTIFACTS.items():
        lines = [m for m in result.refused if f"refused artifact '{name}'" in m]
        assert len(lines) == 1, (name, lines)
        assert f"artifacts/{name}/{file}" in lines[0] and reason in lines[0], (name, lines[0])
    assert len(result.refused) == len(labels) + len(BAD_ARTIFACTS)

    # nothing bad landed, nothing of it is left behind
    assert sorted(p.name for p in (local / "runs").iterdir()) == sorted([*good, mine.id])
    mirror = local / "remote" / "gpu" / "artifacts"
    assert sorted(p.name for p in mirror.iterdir()) == ["good"]
    assert not list((local / "remote" / "gpu").glob("staging-*"))

    # every query of the local store works (warnings are errors in this suite: none is raised)
    table = wb.runs(root=local, order_by="created")
    assert sorted(table["run_id"]) == sorted([*good, mine.id])
    assert set(table["remote"].dropna()) == {"gpu"}
    assert len(wb.runs(root=local, where="config.p0 >= 0 and summary.m1 >= 0")) == 3
    assert wb.sql("select count(*) from runs", root=local).iloc[0, 0] == len(good) + 1
    counts = wb.sql("select run_id, count(*) n from metrics group by run_id", root=local)
    assert dict(zip(counts["run_id"], counts["n"])) == {**dict.fromkeys(made, 2 * 5), mine.id: 1}
    assert wb.sql("select count(*) from params", root=local).iloc[0, 0] == 3 * 3 + 1
    assert len(wb.history([*good, mine.id], root=local)) == 3 * 2 * 5 + 1
    assert list(wb.artifacts(root=local)["ref"]) == ["mine:v1"]
    assert wb.reindex(root=local).corrupt_records == {}
    # the good remote artifact resolves through its aliases, and its files come byte for byte
    placed = wb.use_artifact("gpu:good:best", root=local)
    assert (placed / "weights.bin").read_bytes() == b"good" * 100
    for name in BAD_ARTIFACTS:
        with pytest.raises(wb.errors.ArtifactNotFound):
            wb.use_artifact(f"gpu:{name}:v1", root=local)

    # refused runs are not in the cursor: the next sync reports them again, and changes nothing
    before = snapshot(local / "runs")
    again = wb.sync("gpu", root=local)
    assert again.runs == [] and again.artifacts == []
    assert sorted(again.refused) == sorted(result.refused)
    assert snapshot(local / "runs") == before
    assert os.listdir(remote_root / "runs")  # the remote itself is never changed


def test_a_bad_new_copy_leaves_the_good_copy_synced_before(sshd: Sshd, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    remote_root = tmp_path / "remote-store"
    first, second = make_runs(remote_root, 2)
    manifest = _artifact(remote_root, tmp_path, "model", aliases=["best"])
    local = tmp_path / "local"
    configure(local, sshd, remote_root)
    assert {first, second} < set(wb.sync("gpu", root=local).runs)  # and the artifact's producer
    runs_before = snapshot(local / "runs")
    mirror_before = snapshot(local / "remote" / "gpu" / "artifacts")
    summary_before = wb.runs(root=local).set_index("run_id").loc[[first, second], "summary.m1"].tolist()

    # the remote's copies change to the wrong shape: a string summary, a nested summary, a bad manifest
    record = remote_root / "runs" / first / "run.json"
    _edit_json(record, _set_field("summary", "broken"))
    _edit_json(remote_root / "runs" / second / "run.json", _set_field("summary", {"m1": _nested(200)}))
    _edit_json(manifest, _set_field("files", "none"))

    assert main(["--root", str(local), "sync", "gpu"]) == 1  # refusals: exit status 1
    err = capsys.readouterr().err
    assert f"refused archive member '{first}/run.json': the run record: summary is a string, not an object" in err
    assert f"refused archive member '{second}/run.json': the run record is nested deeper than {MAX_DEPTH}" in err
    assert ("refused artifact 'model': manifest artifacts/model/v1.json is not a workbench manifest "
            "(no 'files' list)\n") in err
    assert "Traceback" not in err
    assert snapshot(local / "runs") == runs_before
    assert snapshot(local / "remote" / "gpu" / "artifacts") == mirror_before
    assert wb.runs(root=local).set_index("run_id").loc[[first, second], "summary.m1"].tolist() == summary_before
    assert wb.use_artifact("gpu:model:best", root=local).is_dir()

    # once the remote is sound again, its new copies land
    _edit_json(record, _set_field("summary", {"m1": 42.0}))
    result = wb.sync("gpu", root=local)
    assert result.runs == [first] and result.refused[0].startswith(f"remote 'gpu': refused archive member '{second}")
    assert wb.get_run(first, root=local)["summary"] == {"m1": 42.0}
