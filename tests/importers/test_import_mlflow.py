"""MLflow stores written by the real ``mlflow`` (a file store and an SQLite store), imported and
compared value by value with what was given to MLflow.

The reader is checked on its own first (the ImportedRun objects), then end to end through
``workbench.importers.mlflow`` and ``workbench import mlflow``. The stores are written once per
module (``_mlflow_stores.py``: MLflow's SQLite migrations take seconds); tests that change a
store copy it first.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_module, wait_for
from tests.importers import _mlflow_stores as S
from workbench.errors import ImportSourceError
from workbench.importers import _mlflow
from workbench.importers._model import ImportedRun

KINDS = ("file", "sqlite")


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[str, dict[str, Any]]]]:
    """kind -> (the source as a user gives it, the ids and values written); ``"http"``: a tracking
    server on a copy of the file store, started while the SQLite store is written."""
    require_module("mlflow")
    out = {}
    server = None
    try:
        for kind in KINDS:
            base = tmp_path_factory.mktemp(f"mlflow-{kind}")
            source = str(base / "mlruns") if kind == "file" else f"sqlite:///{base / 'mlflow.db'}"
            uri = (base / "mlruns").as_uri() if kind == "file" else source
            out[kind] = (source, S.write_store(uri, base / "artifacts", base / "work"))
            if kind == "file":
                served = tmp_path_factory.mktemp("mlflow-served")
                shutil.copytree(source, served / "mlruns", symlinks=True)
                server, url = _start_server(served)
                out["http"] = (url, out["file"][1])
        assert server is not None
        _wait_for_server(server, out["http"][0])
        yield out
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _start_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """MLflow's tracking server app (``mlflow.server.app``: the handlers ``mlflow server`` runs)
    on the file store in ``folder``, serving artifacts from ``folder/served``; configured the way
    ``mlflow server`` configures it. ``mlflow server`` itself (uvicorn) took ~30 s to start here,
    this ~8 s, which overlap the SQLite store's creation."""
    port = _free_port()
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true",
           "_MLFLOW_SERVER_FILE_STORE": (folder / "mlruns").as_uri(),
           "_MLFLOW_SERVER_SERVE_ARTIFACTS": "true", "_MLFLOW_SERVER_ARTIFACT_ROOT": "mlflow-artifacts:/",
           "_MLFLOW_SERVER_ARTIFACT_DESTINATION": (folder / "served").as_uri()}
    code = f"from mlflow.server import app; app.run(host='127.0.0.1', port={port})"
    with open(folder / "server.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-W", "ignore", "-c", code], env=env, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    return process, f"http://127.0.0.1:{port}"


def _wait_for_server(process: subprocess.Popen[bytes], url: str) -> None:
    import urllib.request

    def up() -> bool:
        assert process.poll() is None, "the MLflow server exited"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    wait_for(up, timeout=90, what="the MLflow server", interval=0.1)


def _copy(stores: dict[str, tuple[str, dict[str, Any]]], kind: str, target: Path) -> str:
    """A copy of a store that a test may change (the artifacts stay where they were)."""
    source = stores[kind][0]
    if kind == "file":
        shutil.copytree(source, target / "mlruns", symlinks=True)
        return str(target / "mlruns")
    shutil.copyfile(source.removeprefix("sqlite:///"), target / "mlflow.db")
    return f"sqlite:///{target / 'mlflow.db'}"


def _read(source: str, **options: Any) -> dict[str, tuple[ImportedRun, dict[str, Any]]]:
    """source id -> (run, {key: [(step, value, ms)]}): every series streamed as the writer would."""
    out = {}
    for run in _mlflow.read([source], **options):
        series = {s.key: [(s.steps[i], s.values[i], round(s.times[i] * 1000)) for i in range(len(s.steps))]
                  for s in run.series()} if run.error is None else {}
        for s in series.values():
            assert all(isinstance(step, int) for step, _, _ in s)
        out[run.source_id] = (run, series)
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the reader on its own -------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_reader_matches_what_was_written(stores: dict[str, tuple[str, dict[str, Any]]], kind: str) -> None:
    source, ids = stores[kind]
    runs = _read(source)
    assert set(runs) == {ids["train"], ids["child"], ids["killed"], ids["running"]}  # the deleted one is not
    train, series = runs[ids["train"]]
    assert (train.kind, train.project, train.name, train.status) == ("mlflow", "exp-a", "train", "completed")
    assert train.config == S.TYPED
    for key in ("lr", "epochs", "use_amp", "decay"):
        assert type(train.config[key]) is type(S.TYPED[key])
    assert train.config_source == {key: str(value) for key, value in S.PARAMS.items()}
    assert sorted(train.tags) == ["baseline", "team=nlp"]
    assert train.notes == S.NOTE
    assert train.git_commit == S.COMMIT and train.command == ["train.py"]
    assert train.parent_id is None and train.error is None and train.problems == []
    assert train.start_time is not None and train.end_time is not None
    assert 0 <= train.end_time - train.start_time < 60 and abs(train.start_time - time.time()) < 600
    assert series == {"loss": S.LOSS, "acc": S.ACC}  # steps, values and timestamps to the millisecond
    assert sorted(f.name for f in train.files) == ["model/sub/config.json", "model/weights.bin", "readme.txt"]
    contents = {f.name: f.path.read_bytes() for f in train.files}
    assert contents["readme.txt"] == b"hello" and contents["model/weights.bin"] == b"\x00\x01weights"
    assert contents["model/sub/config.json"] == b'{"a": 1}'

    child, child_series = runs[ids["child"]]
    assert (child.name, child.status, child.parent_id, child.config) == ("child", "failed", ids["train"], {"fold": 1})
    assert child_series == {"loss": [(0, 2.5, S.BASE_MS + 100)]}
    killed, _ = runs[ids["killed"]]
    assert (killed.name, killed.status) == ("stopped", "cancelled")
    running, running_series = runs[ids["running"]]
    assert (running.status, running.end_time, running.start_time) == ("running", None, S.BASE_MS / 1000)
    assert running_series == {} and running.files == [] and running.config_source is None
    skipped = [line for run, _ in runs.values() for line in run.skipped]
    assert skipped == ["1 deleted run(s) of experiment 'exp-a' not imported (MLflow's trash)"]


def test_reader_param_types() -> None:
    cases = {"3": 3, "-12": -12, "007": "007", "+5": "+5", "0.5": 0.5, "1e-05": 1e-05, "1e-5": "1e-5",
             "0.10": "0.10", "nan": "nan", "inf": "inf", "True": True, "false": False, "None": None,
             "adam": "adam", "[1, 2]": [1, 2], "[1,2]": "[1,2]", "{'a': 1}": {"a": 1}, '{"a": [1.5, true]}':
             {"a": [1.5, True]}, "['x', None]": ["x", None], "(3, 3)": "(3, 3)", "{1: 2}": "{1: 2}",
             str(2**63): str(2**63), "[" * 5000 + "]" * 5000: "[" * 5000 + "]" * 5000, "": ""}
    for text, expected in cases.items():
        value = _mlflow._typed(text)
        assert value == expected and type(value) is type(expected), (text[:20], value)


def test_reader_experiments_and_missing_sources(stores: dict[str, tuple[str, dict[str, Any]]],
                                                tmp_path: Path) -> None:
    source, ids = stores["file"]
    assert set(_read(source, experiments=["exp-a"])) == {ids["train"], ids["child"], ids["killed"], ids["running"]}
    assert set(_read(source, experiments=[ids["experiment"]])) == set(_read(source, experiments=["exp-a"]))
    assert _read(source, experiments=["Default"]) == {}
    with pytest.raises(ImportSourceError, match="no experiment named 'nope'"):
        _read(source, experiments=["nope"])
    with pytest.raises(ImportSourceError, match="no such MLflow store folder"):
        _read(str(tmp_path / "missing"))
    with pytest.raises(ImportSourceError, match="no such SQLite file"):
        _read(f"sqlite:///{tmp_path / 'missing.db'}")
    assert not (tmp_path / "missing.db").exists()  # never created by looking
    (tmp_path / "plain").mkdir()
    with pytest.raises(ImportSourceError, match="not an MLflow file store"):
        _read(str(tmp_path / "plain"))
    assert list((tmp_path / "plain").iterdir()) == []  # MLflow was not let to make one of it


def test_reader_server_down_fails_fast() -> None:
    require_module("mlflow")
    url = f"http://user:secret@127.0.0.1:{_free_port()}"
    started = time.monotonic()
    with pytest.raises(ImportSourceError) as caught:
        _read(url)
    assert time.monotonic() - started < 15
    message = str(caught.value)
    assert "cannot reach the MLflow tracking server at http://127.0.0.1:" in message
    assert "mlflow server" in message and "secret" not in message


def _damage(store: Path, ids: dict[str, Any]) -> None:
    """Garbage meta.yaml in the killed run, a garbage line in train's loss file, an experiment
    folder with a garbage meta.yaml (MLflow's own search of experiments fails on it)."""
    shutil.copytree(store / "0", store / "77")
    (store / "77" / "meta.yaml").write_text("name: [\x00")
    run_dir = store / ids["experiment"]
    (run_dir / ids["killed"] / "meta.yaml").write_text(": : garbage [\n\x00")
    with open(run_dir / ids["train"] / "metrics" / "loss", "a") as handle:
        handle.write("garbage line here\n")


def test_reader_damaged_file_store(stores: dict[str, tuple[str, dict[str, Any]]], tmp_path: Path) -> None:
    ids = stores["file"][1]
    source = _copy(stores, "file", tmp_path)
    _damage(Path(source), ids)
    runs = _read(source)
    killed, _ = runs[ids["killed"]]
    assert killed.error is not None and "cannot be read" in killed.error and ids["killed"] in killed.error
    train, series = runs[ids["train"]]
    assert train.error is None and series == {"loss": S.LOSS, "acc": S.ACC}
    assert train.config == S.TYPED and train.name == "train" and train.notes == S.NOTE
    assert len(train.problems) == 2, train.problems
    assert "could not be read whole" in train.problems[0]
    assert "1 unreadable line(s)" in train.problems[1] and "line 5" in train.problems[1]
    assert runs[ids["child"]][0].problems == [] and runs[ids["running"]][0].problems == []
    assert "experiment folder 77 cannot be read" in (runs["experiment:77"][0].error or "")


# -- end to end: workbench.importers.mlflow and the CLI --------------------------------------

def _importers() -> Any:
    from workbench import importers

    if not hasattr(importers, "mlflow"):
        pytest.fail("workbench.importers.mlflow is missing")
    return importers


@pytest.mark.parametrize("kind", KINDS)
def test_import_values_reimport_and_growth(stores: dict[str, tuple[str, dict[str, Any]]], kind: str,
                                           root: Path, tmp_path: Path) -> None:
    import workbench as wb

    importers = _importers()
    ids = stores[kind][1]
    source = _copy(stores, kind, tmp_path)
    report = importers.mlflow(source, root=root, progress="never")
    assert report.exit_code == 0, report.render()
    by = {r.source_id: r for r in report.runs}
    assert {r.outcome for r in report.runs} == {"imported"} and len(by) == 4
    assert by[ids["train"]].points == 7 and by[ids["train"]].files == 3
    train_id = by[ids["train"]].run_id
    record = wb.get_run(train_id, root=root)
    assert (record["status"], record["name"], record["project"], record["notes"]) == \
        ("completed", "train", "exp-a", S.NOTE)
    assert record["config"] == S.TYPED and sorted(record["tags"]) == ["baseline", "team=nlp"]
    assert record["git"]["commit"] == S.COMMIT
    assert record["user"] == getpass.getuser()  # mlflow.user, set by MLflow's fluent API
    assert wb.get_run(by[ids["child"]].run_id, root=root)["status"] == "failed"
    assert wb.get_run(by[ids["killed"]].run_id, root=root)["status"] == "cancelled"
    history = wb.history(train_id, keys=["loss"], root=root)
    got = [(int(s), float(v), round(float(t) * 1000)) for s, v, t in
           zip(history["step"], history["value"], history["time"].map(_seconds), strict=True)]
    assert got == S.LOSS

    again = importers.mlflow(source, root=root, progress="never")
    assert {r.outcome for r in again.runs} == {"unchanged"} and again.points == 0 and again.exit_code == 0

    new = S.grow(source if kind == "sqlite" else Path(source).as_uri(), ids)
    grown = importers.mlflow(source, root=root, progress="never")
    outcomes = {r.source_id: (r.outcome, r.points) for r in grown.runs}
    assert outcomes == {ids["train"]: ("updated", 2), new: ("imported", 1), ids["child"]: ("unchanged", 0),
                        ids["killed"]: ("unchanged", 0), ids["running"]: ("unchanged", 0)}
    history = wb.history(train_id, keys=["loss"], root=root)
    assert [int(s) for s in history["step"]] == [0, 1, 2, 5, 9, 10]


def _seconds(value: Any) -> float:
    return value.timestamp() if hasattr(value, "timestamp") else float(value)


def _cli(*args: str, root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WORKBENCH_ROOT": str(root)}
    env.pop("MLFLOW_ALLOW_FILE_STORE", None)
    return subprocess.run([sys.executable, "-m", "workbench", "import", "mlflow", *args, "--progress", "never"],
                          check=False, capture_output=True, text=True, env=env, timeout=120)


def test_cli_damaged_store_and_server_down(stores: dict[str, tuple[str, dict[str, Any]]], root: Path,
                                           tmp_path: Path) -> None:
    _importers()
    ids = stores["file"][1]
    source = _copy(stores, "file", tmp_path)
    _damage(Path(source), ids)
    done = _cli(source, root=root)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output and "WARNING" not in output
    assert ids["killed"] in output and "1 unreadable line(s)" in output
    assert f"imported  mlflow {ids['child']}" in output

    started = time.monotonic()
    down = _cli(f"http://127.0.0.1:{_free_port()}", root=root)
    output = down.stdout + down.stderr
    assert down.returncode == 2, output
    assert "cannot reach the MLflow tracking server" in output and "Traceback" not in output
    assert time.monotonic() - started < 30


def test_reader_server_that_is_not_mlflow_fails_fast() -> None:
    """A port that answers, but 503 to everything: MLflow would retry for minutes by default."""
    import http.server
    import threading

    require_module("mlflow")
    hits = []

    class Busy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_error(503)

        do_POST = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        with pytest.raises(ImportSourceError, match="cannot reach the MLflow tracking server"):
            _read(f"http://127.0.0.1:{server.server_address[1]}")
        assert time.monotonic() - started < 15
        assert 1 <= len(hits) <= 3  # one retry, not MLflow's default of 7 with back-off
        assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ  # set only while its calls ran
    finally:
        server.shutdown()
        server.server_close()


def test_reader_tracking_server(stores: dict[str, tuple[str, dict[str, Any]]], root: Path) -> None:
    """Over REST: the same runs as the file store it serves; artifacts served by the server are
    downloaded into a temporary folder that is gone once the reader moves on."""
    import mlflow

    url, ids = stores["http"]
    with S.quiet():
        client = mlflow.MlflowClient(tracking_uri=url)
        experiment = client.create_experiment("remote")  # artifacts at mlflow-artifacts:/, served
        remote = client.create_run(experiment, run_name="remote").info.run_id
        client.log_text(remote, "served", "dir/a.txt")
        client.log_metric(remote, "m", 1.5, timestamp=S.BASE_MS + 1, step=4)
        client.set_terminated(remote, "FINISHED")
    local = _read(stores["file"][0])
    seen: dict[str, list[Path]] = {}
    notes: list[str] = []
    for run in _mlflow.read([url.replace("http://", "http://user:secret@")]):
        assert run.source_path == url and run.error is None and run.problems == []
        series = {s.key: [(s.steps[i], s.values[i], round(s.times[i] * 1000)) for i in range(len(s.steps))]
                  for s in run.series()}
        if run.source_id == remote:
            assert run.files[0].path.read_bytes() == b"served" and "workbench-mlflow-" in str(run.files[0].path)
            assert [f.name for f in run.files] == ["dir/a.txt"] and series == {"m": [(4, 1.5, S.BASE_MS + 1)]}
        else:
            mine, local_series = local[run.source_id]
            fields = ("name", "project", "status", "config", "config_source", "tags", "notes", "start_time",
                      "end_time", "command", "git_commit", "parent_id")
            assert [getattr(run, f) for f in fields] == [getattr(mine, f) for f in fields]
            notes.extend(run.skipped)
            assert series == local_series and [f.name for f in run.files] == [f.name for f in mine.files]
        seen[run.source_id] = [f.path for f in run.files]
    assert set(seen) == set(local) | {remote} and ids["train"] in seen
    assert notes == ["1 deleted run(s) of experiment 'exp-a' not imported (MLflow's trash)"]
    assert not seen[remote][0].exists()  # the download is removed once the reader moved on

    import workbench as wb

    report = _importers().mlflow(url, root=root, progress="never")
    assert report.exit_code == 0, report.render()
    by = {r.source_id: r for r in report.runs}
    assert (by[remote].outcome, by[remote].points, by[remote].files) == ("imported", 1, 1)
    assert by[ids["train"]].files == 3 and by[ids["train"]].points == 7
    produced = wb.run_artifacts(by[remote].run_id, root=root)["produced"]
    assert [entry["type"] for entry in produced] == ["run-files"]
