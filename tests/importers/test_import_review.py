"""The importers against hostile sources and a troubled store (a review of issue 17).

A FIFO named like an event file does not hang a TensorBoard import; a full disk fails a run with
the store's words (the path, ENOSPC, the free space, the fix) and leaves nothing of it; files that
do not fit after the run was placed cost the files, not the run; an importer that cannot be loaded
is an error line and exit 2 (nothing could be imported); a store opened before an import sees the
imported run, ``reindex`` keeps it as it is, and ``fsck`` passes after an import killed midway.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _mounts import tmpfs

import workbench as wb
from tests.conftest import REPO, require_module, wait_for
from workbench.importers import ImportedRun, Series, SourceFile, _tensorboard, write_runs
from workbench.store import open_store


def workbench(root: Path, *args: str, env: dict[str, str] | None = None,
              timeout: float = 30) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "workbench", "--root", str(root), *args], capture_output=True,
                          text=True, timeout=timeout, check=False, env=full, errors="surrogateescape")


def random_run(source_id: str, n: int, files: list[SourceFile] | None = None) -> ImportedRun:
    """``n`` random points (they do not compress) under each of three keys."""
    rng = random.Random(source_id.encode("utf-8", "surrogateescape"))

    def series() -> Iterator[Series]:
        for key in ("a", "b", "c"):
            yield Series(key, list(range(n)), [rng.random() for _ in range(n)], [1.7e9 + i for i in range(n)])

    return ImportedRun("test", "/sources/review", source_id, name=source_id, start_time=1.7e9, end_time=1.7e9 + n,
                       series=series, files=files or [])


def write_events(path: Path, values: list[Any]) -> None:
    """An event file of one summary value per step, framed by TensorBoard's own record writer."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        writer = RecordWriter(handle)
        for step, value in enumerate(values):
            event = event_pb2.Event(wall_time=1.7e9 + step, step=step, summary=summary_pb2.Summary(value=[value]))
            writer.write(event.SerializeToString())


def test_a_fifo_named_like_an_event_file_does_not_hang_the_import(tmp_path: Path) -> None:
    require_module("tensorboard")
    from tensorboard.compat.proto import summary_pb2

    logs = tmp_path / "logs" / "run"
    write_events(logs / "events.out.tfevents.1.host",
                 [summary_pb2.Summary.Value(tag="loss", simple_value=1.0 / (step + 1)) for step in range(3)])
    fifo = logs / "events.out.tfevents.0.fifo"
    os.mkfifo(fifo)  # nothing writes it: opening it to read waits for a writer, forever
    found: list[ImportedRun] = []
    reading = threading.Thread(target=lambda: found.extend(_tensorboard.read([str(tmp_path / "logs")])),
                               daemon=True)
    reading.start()
    reading.join(timeout=20)
    if reading.is_alive():  # let it go: a writer that opens and closes at once gives the reader its end
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reading.join(timeout=20)
        pytest.fail("the TensorBoard reader opened a FIFO named like an event file and waited on it")
    (run,) = found
    assert run.error is None and [(s.key, list(s.steps)) for s in run.series()] == [("loss", [0, 1, 2])]
    assert any(p.startswith("run/events.out.tfevents.0.fifo: cannot be read (not a regular file")
               for p in run.problems), run.problems  # said, not silently left out


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB tmpfs for the store (mounting takes root: skips without it, fails in CI)."""
    with tmpfs(tmp_path / "disk", size="1m", mode="0700") as disk:
        yield disk


def test_a_full_disk_fails_the_run_with_the_stores_words_and_leaves_nothing(small_disk: Path) -> None:
    root = small_disk / "store"
    report = write_runs([random_run("big", 60_000)], root=root, progress="never")
    (run,) = report.runs
    assert run.outcome == "failed" and report.exit_code == 1
    assert run.error is not None
    assert "ENOSPC" in run.error and str(root) in run.error and "free space" in run.error, run.error
    assert not list((root / "runs").iterdir())  # nothing of the run
    assert not [p for p in (root / "import").iterdir() if p.name.startswith("staging-")]  # no leftovers
    assert wb.fsck(root=root).ok
    assert write_runs([random_run("small", 10)], root=root, progress="never").exit_code == 0  # room for a small one


def test_files_that_do_not_fit_cost_the_files_not_the_placed_run(small_disk: Path, tmp_path: Path) -> None:
    root = small_disk / "store"
    blob = tmp_path / "weights.bin"  # on another filesystem: copied, not linked, into the full one
    blob.write_bytes(os.urandom(3 << 20))
    report = write_runs([random_run("files", 10, [SourceFile("weights.bin", blob)])], root=root, progress="never")
    (run,) = report.runs
    assert run.outcome == "imported" and run.points == 30 and run.files == 0, (run.outcome, run.error)
    assert any("files were not imported" in p and "ENOSPC" in p for p in run.problems), run.problems
    assert run.run_id is not None and wb.get_run(run.run_id, root=root)["source"].get("files") is None
    assert report.exit_code == 1
    assert wb.fsck(root=root).ok


@pytest.fixture(scope="module")
def plugins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A real distribution on PYTHONPATH whose importers cannot be loaded (its entry points)."""
    folder = tmp_path_factory.mktemp("plugins")
    info = folder / "brokenplug-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenplug\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[workbench.importers]\nmissing = no_such_module_review17:read\n"
                                          "boom = boomplug_review17:read\n")
    (folder / "boomplug_review17.py").write_text('raise RuntimeError("bad \\x1b[31mred\\x1b[0m plugin")\n')
    return {"PYTHONPATH": f"{REPO}{os.pathsep}{folder}"}


@pytest.mark.parametrize(("kind", "words"), [("missing", "no_such_module_review17"), ("boom", "RuntimeError"),
                                             ("no\x1b[2Jsuch", "no importer")])
def test_an_importer_that_cannot_be_loaded_is_one_line_and_exit_2(plugins: dict[str, str], tmp_path: Path,
                                                                    kind: str, words: str) -> None:
    done = workbench(tmp_path / "store", "import", kind, str(tmp_path), env=plugins)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and words in done.stderr, done.stderr
    assert "\x1b" not in done.stderr and done.stderr.count("\n") == 1, done.stderr


def test_the_catalog_sees_imports_and_reindex_keeps_them(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = open_store(root)  # opened before the import: its catalog must still see the run
    assert store.runs().empty
    report = write_runs([random_run("seen", 50)], root=root, progress="never")
    run_id = report.runs[0].run_id
    rows = store.runs()
    assert list(rows.run_id) == [run_id] and rows.iloc[0]["name"] == "seen"
    before = wb.get_run(run_id, root=root)
    frame = wb.history(run_id, root=root)
    assert wb.reindex(root=root).runs == 1
    assert wb.get_run(run_id, root=root) == before and wb.history(run_id, root=root).equals(frame)
    assert list(wb.runs(root=root).run_id) == [run_id]
    assert wb.fsck(root=root).ok


def test_fsck_passes_after_an_import_killed_midway(tmp_path: Path) -> None:
    root = tmp_path / "store"
    source = tmp_path / "history.csv"
    rng = random.Random(17)
    source.write_text("step,a,b,c\n" + "".join(f"{i},{rng.random()},{rng.random()},{rng.random()}\n"
                                                for i in range(100_000)))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "--root", str(root), "import", "csv", str(source),
                             "--progress", "never"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staged: list[Any] = []

    def staging_a_run() -> bool:
        staged[:] = [p for p in (root / "import").glob("staging-*/*")] if (root / "import").is_dir() else []
        return bool(staged) or proc.poll() is not None

    try:
        wait_for(staging_a_run, timeout=60, what="the import to stage its run")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert staged, "the import finished before it could be killed midway"
    assert wb.fsck(root=root).ok  # what `workbench fsck` checks
    assert wb.runs(root=root).empty  # whole runs or none
    done = workbench(root, "import", "csv", str(source), "--progress", "never")
    assert done.returncode == 0 and "1 imported" in done.stdout, done.stdout + done.stderr
    assert not list((root / "import").glob("staging-*/*"))  # the killed import's leftovers are gone
    assert wb.fsck(root=root).ok


def test_a_tiny_tensor_claiming_millions_of_strings_is_refused_not_expanded(tmp_path: Path) -> None:
    """TensorFlow's ``string_val`` with one value fills the whole shape: 100 bytes in the file
    would become 200 MB of text (and a few more bytes, terabytes)."""
    require_module("tensorboard")
    from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2

    shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=2_000_000)])
    tensor = tensor_pb2.TensorProto(dtype=7, tensor_shape=shape, string_val=[b"x" * 100])  # DT_STRING
    metadata = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text"))
    logs = tmp_path / "logs"
    write_events(logs / "events.out.tfevents.1.host", [summary_pb2.Summary.Value(tag="loss", simple_value=0.5),
                                                       summary_pb2.Summary.Value(tag="notes", metadata=metadata,
                                                                                 tensor=tensor)])
    (run,) = _tensorboard.read([str(logs)])
    assert [s.key for s in run.series()] == ["loss"]
    assert list(run.media()) == []
    assert any("'notes' at step 1 is malformed" in p for p in run.problems), run.problems


def test_the_progress_bar_shows_a_hostile_file_name_escaped(tmp_path: Path) -> None:
    source = tmp_path / "\x1b[2Jhistory\u202e.csv"
    source.write_text("step,loss\n0,1.0\n1,0.5\n")
    done = workbench(tmp_path / "store", "import", "csv", str(source), "--progress", "always")
    assert done.returncode == 1 and "holds control characters" in done.stdout, done.stdout + done.stderr  # the name
    assert "\\x1b[2Jhistory\\u202e.csv" in done.stderr, done.stderr  # the bar was drawn, its label escaped
    assert "\x1b" not in done.stderr + done.stdout and "\u202e" not in done.stderr + done.stdout


def test_names_that_are_not_utf8_are_stored_replaced_not_fatal(tmp_path: Path) -> None:
    """A folder or file name of bytes that are not UTF-8 reaches a reader as lone surrogates
    (``os.fsdecode``): the run is written with them replaced, a file so named is left out."""
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"w")
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"n")
    run = random_run("caf\udce9", 5, [SourceFile("caf\udce9.bin", weights), SourceFile("notes.txt", notes)])
    run.tags = ["t\udcff"]
    report = write_runs([run], root=tmp_path / "store", progress="never")
    (entry,) = report.runs
    assert entry.outcome == "imported" and entry.points == 15 and entry.files == 1, (entry.error, entry.problems)
    record = wb.get_run(entry.run_id, root=tmp_path / "store")
    assert record["name"] == "caf?" and record["tags"] == ["t?"]
    assert any("caf\\udce9.bin" in p and "not imported" in p for p in entry.problems), entry.problems
    assert wb.fsck(root=tmp_path / "store").ok


def test_a_staging_folder_that_cannot_be_made_is_a_store_error(tmp_path: Path) -> None:
    """Before any run is read: the store's import/ folder cannot be made (a file is in the way, as
    a full disk or a permission would stop it) -> StoreError naming the path, not a raw OSError."""
    root = tmp_path / "store"
    with wb.init(project="p", root=root):
        pass
    (root / "import").write_text("in the way")
    with pytest.raises(wb.StoreError, match=r"staging folder under .*import"):
        write_runs([random_run("r", 3, [])], root=root, progress="never")
    done = workbench(root, "import", "csv", str(tmp_path / "none.csv"))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr


def test_a_password_in_a_source_url_is_never_shown(tmp_path: Path) -> None:
    """The report (and the bar) name a URL source without its user:password or query."""
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    report = wb.importers.mlflow(f"http://bob:s3cret@127.0.0.1:{port}/?token=t0ken", root=tmp_path / "store",
                                 progress="never")
    shown = report.render()
    assert report.exit_code == 2 and f"http://127.0.0.1:{port}/" in shown, shown
    assert "s3cret" not in shown and "t0ken" not in shown and "bob" not in shown, shown
