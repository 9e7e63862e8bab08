"""The importers' one writer (``workbench/importers/_writer.py``), fed ImportedRun objects built here.

Imported runs must look exactly like native ones (records that pass the store's schema, metric
segments with the source's wall times, media in the media store, files as an artifact produced by
the run); a second import of the same source writes nothing; a grown source adds exactly its new
data; a reader's failure costs its run or its source, never the others; a SIGKILL at any moment
leaves whole runs or none, and the next import completes them without a duplicate.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from tests.conftest import REPO
from workbench.errors import ImportSourceError
from workbench.importers import ImportedRun, MediaItem, Series, SourceFile, run_id_for, write_runs
from workbench.store._schema import load_record

KIND = "test"
SOURCE = "/sources/history"


def png(color: str) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (3, 2), color).save(out, "PNG")
    return out.getvalue()


def make_run(source_id: str, n: int, *, keys: tuple[str, ...] = ("loss", "acc"), status: str = "completed",
             media: int = 0, files: list[SourceFile] | None = None, **fields: Any) -> ImportedRun:
    """A run of ``n`` points per key: step i*10, value f(i), time 1.7e9 + i * 0.5 (exact in float64)."""

    def series() -> Iterator[Series]:
        for k, key in enumerate(keys):
            steps = [i * 10 for i in range(n)]
            yield Series(key, steps, [k + 1.0 / (i + 1) for i in range(n)], [1.7e9 + i * 0.5 for i in range(n)])

    def items() -> Iterator[MediaItem]:
        for i in range(media):
            yield MediaItem("pred", i, 1.7e9 + i, "image", png(("red", "blue", "green")[i % 3]))
            yield MediaItem("weights", i, 1.7e9 + i, "histogram", ([0.0, 0.5, 1.0], [i + 1, 2]))
            yield MediaItem("sample", i, None, "text", f"<b>sample {i}</b>")

    base: dict[str, Any] = {"project": "history", "name": f"run {source_id}", "start_time": 1.7e9 - 5,
                            "end_time": None if status == "running" else 1.7e9 + n}
    base.update(fields)
    return ImportedRun(KIND, SOURCE, source_id, status=status, series=series, media=items, files=files or [], **base)


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Every file of the store but the catalog (a derived cache queries may refresh): mtime and digest."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and "catalog" not in path.relative_to(root).parts:
            out[str(path.relative_to(root))] = (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    return out


def points(root: Path, run_id: str) -> Any:
    frame = wb.history(run_id, root=root)
    return frame.sort_values(["key", "step"], kind="stable").reset_index(drop=True)


def test_imported_runs_look_like_native_ones(root: Path, tmp_path: Path) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(5000))
    (tmp_path / "cfg.yaml").write_text("lr: 0.1\n")
    assert wb.runs(root=root).empty  # a Store open before the import sees its runs after it
    parent = make_run("parent", 5)
    child = make_run(
        "child", 20, status="failed", media=3, parent_id="parent", group="sweep-1",
        config={"lr": 0.001, "layers": 4, "amp": True, "optim": {"name": "adam", "betas": [0.9, 0.99]}},
        config_source={"lr": "0.001", "layers": "4", "amp": "True"}, tags=["baseline", "imported"],
        notes="first try\nsecond line", command=["python", "train.py", "--lr", "0.001"], git_commit="abc123",
        summary={"best_acc": 0.93, "acc": 2.5},
        files=[SourceFile("model/weights.bin", weights), SourceFile("cfg.yaml", tmp_path / "cfg.yaml")],
        skipped=["2 audio clips: audio is not imported"],
    )
    report = write_runs([parent, child], root=root, progress="never", what="test")
    assert report.exit_code == 0, report.render()
    assert [(r.source_id, r.outcome, r.points, r.media, r.files) for r in report.runs] == [
        ("parent", "imported", 10, 0, 0), ("child", "imported", 40, 9, 2)]
    assert report.runs[1].skipped == ["2 audio clips: audio is not imported"]
    run_id = run_id_for(KIND, SOURCE, "child")
    assert report.runs[1].run_id == run_id and len(run_id) == 14

    frame = wb.runs(root=root).set_index("run_id")
    assert set(frame.index) == {run_id, run_id_for(KIND, SOURCE, "parent")}
    row = frame.loc[run_id]
    assert (row["project"], row["name"], row["status"], row["group"]) == ("history", "run child", "failed", "sweep-1")
    assert row["config.lr"] == 0.001 and row["config.layers"] == 4 and row["config.amp"] is True
    assert row["config.optim.name"] == "adam"
    assert list(row["tags"]) == ["baseline", "imported"] and row["git_commit"] == "abc123"
    assert row["summary.best_acc"] == 0.93
    assert row["summary.acc"] == 2.5  # the source's summary wins over the last value (1 + 1/20)
    assert row["summary.loss"] == 1 / 20
    assert wb.count_runs(where="config.lr < 0.002", root=root) == 1

    history = points(root, run_id)
    for key, offset in (("loss", 0), ("acc", 1)):
        part = history[history.key == key]
        assert list(part.step) == [i * 10 for i in range(20)]
        assert list(part.value) == [offset + 1.0 / (i + 1) for i in range(20)]
        times = part.time
        times = times.astype("int64") / 1e9 if str(times.dtype).startswith("datetime") else times
        assert list(times) == [1.7e9 + i * 0.5 for i in range(20)]

    record = wb.get_run(run_id, root=root)
    load_record(json.dumps(record).encode())  # the store's own schema
    assert record["source"]["kind"] == KIND and record["source"]["id"] == "child"
    assert record["source"]["path"] == SOURCE and record["source"]["points"] == {"loss": 20, "acc": 20}
    assert record["source"]["parent"] == run_id_for(KIND, SOURCE, "parent")
    assert record["source"]["config"] == {"lr": "0.001", "layers": "4", "amp": "True"}
    assert record["command"] == ["python", "train.py", "--lr", "0.001"] and record["notes"] == "first try\nsecond line"
    assert record["created"] == 1.7e9 - 5 and record["ended"] == 1.7e9 + 20
    assert record["metrics"]["loss"]["count"] == 20 and record["metrics"]["loss"]["step"] == 190
    assert record["media"] == {"pred": {"kind": "image", "count": 3, "step": 2},
                               "weights": {"kind": "histogram", "count": 3, "step": 2},
                               "sample": {"kind": "text", "count": 3, "step": 2}}

    media = wb.media(run_id, root=root)
    assert sorted(media.key.unique()) == ["pred", "sample", "weights"]
    first = media[(media.key == "pred") & (media.step == 0)].iloc[0]
    assert wb.load_media(first, root=root).size == (3, 2)
    text = media[(media.key == "sample") & (media.step == 1)].iloc[0]
    assert wb.load_media(text, root=root) == "<b>sample 1</b>"  # markup stays text

    produced = wb.run_artifacts(run_id, root=root)["produced"]
    assert [(p["name"], p["version"], p["type"]) for p in produced] == [(f"test-{run_id}-files", 1, "run-files")]
    art = wb.artifact(f"test-{run_id}-files", root=root)
    assert art.producer == run_id and sorted(f.path for f in art.files) == ["cfg.yaml", "model/weights.bin"]
    assert (wb.use_artifact(art.ref, root=root) / "model" / "weights.bin").read_bytes() == weights.read_bytes()
    assert wb.fsck(root=root).ok


def test_reimport_writes_nothing_and_growth_adds_exactly_the_new_data(root: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("v1")
    first = [make_run("a", 30, media=2, files=[SourceFile("notes.txt", notes)]), make_run("b", 10, status="running")]
    assert write_runs(first, root=root, progress="never").exit_code == 0
    before = snapshot(root)
    again = write_runs([make_run("a", 30, media=2, files=[SourceFile("notes.txt", notes)]),
                        make_run("b", 10, status="running")], root=root, progress="never")
    assert [r.outcome for r in again.runs] == ["unchanged", "unchanged"], again.render()
    assert again.points == 0 and again.exit_code == 0
    assert snapshot(root) == before  # not one file written, renamed or touched

    # the source grew: more points (a repeated step too), a new key, more media, a new run, b finished
    def grown_a() -> Iterator[Series]:
        yield Series("loss", [i * 10 for i in range(30)] + [290, 300, 310],
                     [1 + 1.0 / (i + 1) for i in range(30)] + [7.0, 8.0, 9.0], [1.7e9 + i for i in range(33)])
        yield Series("acc", [i * 10 for i in range(30)], [2 + 1.0 / (i + 1) for i in range(30)], None)
        yield Series("lr", [0, 10], [0.1, 0.05], [1.7e9, 1.7e9 + 1])

    a = make_run("a", 30, media=4, files=[SourceFile("notes.txt", notes)])
    a.series = grown_a
    b = make_run("b", 15, status="completed")
    report = write_runs([a, b, make_run("c", 3)], root=root, progress="never")
    by = {r.source_id: r for r in report.runs}
    assert (by["a"].outcome, by["a"].points, by["a"].media, by["a"].files) == ("updated", 5, 6, 0)
    assert (by["b"].outcome, by["b"].points) == ("updated", 10)
    assert (by["c"].outcome, by["c"].points) == ("imported", 6)
    history = points(root, run_id_for(KIND, SOURCE, "a"))
    loss = history[history.key == "loss"]
    assert list(loss.step) == [i * 10 for i in range(30)] + [290, 300, 310]  # the repeated step kept, once
    assert list(loss.value)[-4:] == [1 / 30, 7.0, 8.0, 9.0]
    assert len(history[history.key == "acc"]) == 30 and list(history[history.key == "lr"].value) == [0.1, 0.05]
    record = wb.get_run(run_id_for(KIND, SOURCE, "a"), root=root)
    assert record["metrics"]["loss"]["count"] == 33 and record["summary"]["loss"] == 9.0
    assert record["source"]["media"] == {"pred": 4, "weights": 4, "sample": 4}
    assert record["media"]["pred"]["count"] == 4
    assert len(wb.media(run_id_for(KIND, SOURCE, "a"), root=root)) == 12
    b_record = wb.get_run(run_id_for(KIND, SOURCE, "b"), root=root)
    assert b_record["status"] == "completed" and b_record["metrics"]["loss"]["count"] == 15
    assert len(points(root, run_id_for(KIND, SOURCE, "b"))) == 30

    # a changed file: a new version of the run's files artifact, produced by the run
    notes.write_text("v2")
    report = write_runs([make_run("a", 30, media=4, files=[SourceFile("notes.txt", notes)])], root=root,
                        progress="never")
    assert (report.runs[0].outcome, report.runs[0].files) == ("updated", 1)
    produced = wb.run_artifacts(run_id_for(KIND, SOURCE, "a"), root=root)["produced"]
    assert [p["version"] for p in produced] == [1, 2]
    assert wb.fsck(root=root).ok


def test_a_failing_run_or_source_costs_only_itself(root: Path) -> None:
    def broken() -> Iterator[Series]:
        yield Series("loss", [0, 1], [1.0, 0.5], None)
        raise ValueError("record 7 is garbage")

    bad = make_run("bad", 5)
    bad.series = broken
    unreadable = ImportedRun(KIND, SOURCE, "unreadable", error="meta.yaml cannot be parsed")
    damaged = make_run("damaged", 4, problems=["events file truncated at byte 4096: the rest skipped"])

    def reader() -> Iterator[ImportedRun]:
        yield bad
        yield make_run("good", 4)
        yield unreadable
        yield damaged
        raise ImportSourceError("the server went away")

    report = write_runs(reader(), root=root, progress="never", source="http://mlflow:5000")
    by = {r.source_id: r for r in report.runs}
    assert by["bad"].outcome == "failed" and "record 7 is garbage" in (by["bad"].error or "")
    assert by["unreadable"].outcome == "failed" and by["unreadable"].error == "meta.yaml cannot be parsed"
    assert by["good"].outcome == "imported" and by["damaged"].outcome == "imported"
    assert by["damaged"].problems == ["events file truncated at byte 4096: the rest skipped"]
    assert [(f.source, f.error) for f in report.failed_sources] == [("http://mlflow:5000", "the server went away")]
    assert report.exit_code == 1
    text = report.render()
    assert "failed    test bad" in text and "the server went away" in text
    ids = set(wb.runs(root=root).run_id)
    assert ids == {run_id_for(KIND, SOURCE, "good"), run_id_for(KIND, SOURCE, "damaged")}  # nothing of the others
    assert not (root / "runs" / run_id_for(KIND, SOURCE, "bad")).exists()

    def nothing() -> Iterator[ImportedRun]:
        raise ImportSourceError("no such folder")
        yield  # a generator

    assert write_runs(nothing(), root=root, progress="never").exit_code == 2
    assert wb.fsck(root=root).ok


def test_hostile_names_are_escaped_or_refused(root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    outside = root.parent / "evil.txt"
    run = make_run(
        "h\x1b[2J", 3, keys=("loss\x1b]0;title\x07", "", "ok"), name="name\r\x08<script>alert(1)</script>",
        project="p\x1b", tags=["t\n1", "fine"], config={"k\x1bey": "v\x1b[31m", "html": "<img src=x onerror=1>"},
        files=[SourceFile("../evil.txt", secret), SourceFile("/etc/passwd", secret), SourceFile("a/../../b", secret),
               SourceFile("ok.txt", secret)],
    )
    report = write_runs([run], root=root, progress="never")
    entry = report.runs[0]
    assert entry.outcome == "imported" and report.exit_code == 1  # written, with its problems said
    assert any("'' refused" in p for p in entry.problems)
    assert sum("not imported" in p for p in entry.problems) == 3
    assert not outside.exists()
    record = wb.get_run(entry.run_id or "", root=root)
    assert record["name"] == "name\\r\\x08<script>alert(1)</script>"  # text, never markup or control
    assert record["project"] == "p\\x1b" and record["tags"] == ["t\\n1", "fine"]
    assert record["config"] == {"k\\x1bey": "v\x1b[31m", "html": "<img src=x onerror=1>"}  # values are free text
    assert set(record["metrics"]) == {"loss\\x1b]0;title\\x07", "ok"}
    assert record["source"]["id"] == "h\x1b[2J"
    art = wb.artifact(f"test-{entry.run_id}-files", root=root)
    assert [f.path for f in art.files] == ["ok.txt"]
    rendered = report.render()
    assert all(c.isprintable() or c == "\n" for c in rendered), rendered
    assert wb.fsck(root=root).ok


_KILLED = textwrap.dedent("""
    import sys, time
    import workbench.importers as imp
    from workbench.importers import ImportedRun, Series

    runs, points, grown = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])

    def make(i):
        n = points * grown
        def series():
            for key in ("a", "b", "c"):
                time.sleep(0.03)  # a slow source: a kill lands while the run is half staged
                yield Series(key, list(range(n)), [i + s / n for s in range(n)], [1.7e9 + s for s in range(n)])
        return ImportedRun("kill", "/src", f"r{i}", name=f"r{i}", status="completed", start_time=1.7e9,
                           series=series)

    def source():
        for i in range(runs):
            print("next", i, flush=True)  # the runs before i are written: the test kills from here on
            yield make(i)

    print("started", flush=True)
    report = imp.write_runs(source(), progress="never")
    print(report.exit_code, flush=True)
""")


def _check_whole(root: Path, runs: int, points_per_key: tuple[int, ...], seen: list[set[int]] | None = None) -> int:
    """Every run in the store is whole: its record's counts are its points, once each; how many runs
    (``seen`` collects the point counts found)."""
    ids = [p.name for p in (root / "runs").iterdir()] if (root / "runs").exists() else []
    found = set()
    for run_id in ids:
        record = wb.get_run(run_id, root=root)
        n = record["source"]["points"]["a"]
        assert n in points_per_key, (run_id, n)
        assert record["source"]["points"] == {"a": n, "b": n, "c": n}
        assert {k: s["count"] for k, s in record["metrics"].items()} == {"a": n, "b": n, "c": n}
        frame = wb.history(run_id, root=root)
        assert len(frame) == 3 * n and not frame.duplicated(["key", "step"]).any()
        found.add(n)
    assert len(ids) <= runs
    if seen is not None:
        seen.append(found)
    return len(ids)


@pytest.mark.timeout(300)
def test_sigkill_leaves_whole_runs_and_the_next_import_completes_them(root: Path, tmp_path: Path) -> None:
    script = tmp_path / "importer.py"
    script.write_text(_KILLED)
    env = {**os.environ, "WORKBENCH_ROOT": str(root), "PYTHONPATH": str(REPO)}
    runs, per_key = 6, 10_000
    rng = random.Random(17)

    def start(grown: int) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, str(script), str(runs), str(per_key), str(grown)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    kills = 0
    states: list[int] = []
    counts: list[set[int]] = []
    for grown in (1, 2):  # new runs, then each run grown to twice its points (an update of every run)
        for _ in range(3):
            proc = start(grown)
            assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
            target = f"next {rng.randrange(1, runs - 1)}"
            while proc.stdout.readline().strip() not in (target, ""):
                pass
            time.sleep(rng.uniform(0.0, 0.12))  # inside the writing of run i, or the next one
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.communicate(timeout=60)
            states.append(_check_whole(root, runs, (per_key, 2 * per_key) if grown == 2 else (per_key,), counts))
        proc = start(grown)
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0 and out.split()[-1] == "0", err
        assert _check_whole(root, runs, (grown * per_key,)) == runs
    assert kills >= 4  # the kills landed while imports ran
    assert any(0 < n < runs for n in states[:3]), states  # some killed between runs: the store had part
    assert {per_key, 2 * per_key} in counts[3:], counts  # a kill among the updates: old and new runs, both whole
    staging = root / "import"
    assert not [p for p in staging.iterdir() if p.name.startswith("staging-")]  # leftovers were cleaned
    assert wb.fsck(root=root).ok


def test_a_running_source_run_marked_crashed_here_is_not_flipped_back(root: Path) -> None:
    assert write_runs([make_run("live", 5, status="running")], root=root, progress="never").exit_code == 0
    run_id = run_id_for(KIND, SOURCE, "live")
    assert wb.runs(root=root).set_index("run_id").loc[run_id, "status"] == "crashed"  # no process beats for it
    assert wb.get_run(run_id, root=root)["status"] == "crashed"  # the catalog wrote that mark
    again = write_runs([make_run("live", 5, status="running")], root=root, progress="never")
    assert again.runs[0].outcome == "unchanged", again.render()
    done = write_runs([make_run("live", 8, status="completed")], root=root, progress="never")
    assert (done.runs[0].outcome, done.runs[0].points) == ("updated", 6)
    record = wb.get_run(run_id, root=root)
    assert record["status"] == "completed" and record["ended"] == 1.7e9 + 8 and record.get("error") is None
