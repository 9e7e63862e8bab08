"""The error boundary (issue 12): a user's or the environment's error is one line, never a traceback.

Every command runs as a real ``python -m workbench`` on real filesystems: a read-only and a full
tmpfs (``tests/_mounts.py``), a name past 255 bytes, deep JSON. ``--debug`` (or ``WORKBENCH_DEBUG=1``)
shows the traceback. The Python API raises the documented :class:`WorkbenchError` subclasses
for the inputs the issue names, never a bare ``RecursionError``, ``OSError`` or library error.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _mounts import tmpfs

import workbench as wb
from workbench.cli._errors import BUG, debug_requested, describe
from workbench.errors import ArtifactError, DatasetError, FilterError, QueryError, RunNotFound

pytestmark = pytest.mark.timeout(120)

QUIET = {"flush_interval": 0.05, "system_metrics": False, "capture_output": False, "fsync": False}
DEEP_JSON = "[" * 100_000 + "]" * 100_000
DEEP_JSONL = '{"text": "a", "label": ' + "[" * 5000 + "]" * 5000 + "}\n"


def cli(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("WORKBENCH_DEBUG", "WORKBENCH_ROOT")}
    return subprocess.run([sys.executable, "-m", "workbench", "--root", str(root), *args], capture_output=True,
                          text=True, errors="surrogateescape", timeout=60, check=False, stdin=subprocess.DEVNULL,
                          env={**base, "WORKBENCH_SYSTEM_METRICS": "0", **(env or {})})


def one_error(done: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 1 and one ``workbench: error:`` line holding every one of ``words``; the line."""
    assert done.returncode == 1, done
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("workbench: error: "), done.stderr
    for word in words:
        assert word.lower() in lines[0].lower(), (word, lines[0])
    return lines[0]


def store_with_a_run(root: Path) -> str:
    with wb.init(project="p", name="a", root=root, **QUIET) as run:
        run.log({"loss": 1.0})
    return run.id


# -- --debug ---------------------------------------------------------------------------------------


def test_debug_shows_the_traceback_and_plain_runs_do_not(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store_with_a_run(root)
    one_error(cli(root, "show", "nosuchrun"), "nosuchrun", "workbench runs")
    for done in (cli(root, "--debug", "show", "nosuchrun"), cli(root, "show", "nosuchrun", "--debug"),
                 cli(root, "show", "nosuchrun", env={"WORKBENCH_DEBUG": "1"})):
        assert done.returncode == 1
        assert "Traceback (most recent call last)" in done.stderr and "RunNotFound" in done.stderr, done.stderr
    assert "--debug" in cli(root, "--help").stdout


def test_debug_after_a_double_dash_belongs_to_the_job() -> None:
    assert debug_requested(["launch", "script", "--", "prog", "--debug"]) == (
        ["launch", "script", "--", "prog", "--debug"], False)
    assert debug_requested(["runs", "--debug", "--limit", "3"])[1]


# -- what each kind of error says -------------------------------------------------------------------


def test_each_kind_of_error_is_described_in_one_line() -> None:
    full = describe(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/store/blobs/ab"))
    assert "No space left on device: /data/store/blobs/ab" in full and "free space" in full
    rofs = describe(OSError(errno.EROFS, os.strerror(errno.EROFS), "/mnt/store"))
    assert "/mnt/store" in rofs and "read-write" in rofs
    long = describe(OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), "/tmp/" + "n" * 300))
    assert "shorter name" in long
    nameless = describe(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), "/data/store")
    assert "the store is /data/store" in nameless
    moved = describe(OSError(errno.EXDEV, os.strerror(errno.EXDEV), "/a", None, "/b"))
    assert "/a -> /b" in moved
    # inputs are checked where they are parsed (a DatasetError, a FilterError): a RecursionError or an
    # errno no user action explains is workbench's own mistake, and says so
    deep = describe(RecursionError("maximum recursion depth exceeded"))
    assert BUG in deep and "flatten it" in deep
    badf = describe(OSError(errno.EBADF, os.strerror(errno.EBADF)))
    assert BUG in badf and "Bad file descriptor" in badf
    assert BUG not in describe(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"))
    assert "out of memory" in describe(MemoryError())
    bug = describe(RuntimeError("\x1b[2Jodd"))
    assert BUG in bug and "--debug" in bug and "RuntimeError" in bug and "\x1b" not in bug
    for text in (full, rofs, long, nameless, moved, bug):
        assert "\n" not in text


# -- the environment ----------------------------------------------------------------------------------


def test_a_name_past_255_bytes_is_named_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / ("n" * 300 + ".csv")
    line = one_error(cli(tmp_path / "store", "datasets", "add", str(path), "--name", "d"),
                     "File name too long", "shorten")
    assert "n" * 100 in line
    with pytest.raises(ArtifactError, match="File name too long"):
        wb.log_artifact(path, name="d", root=tmp_path / "store")


def test_a_read_only_store_is_named_with_the_fix(tmp_path: Path) -> None:
    root = tmp_path / "template"
    run_id = store_with_a_run(root)
    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(1000))
    table = tmp_path / "data.csv"
    table.write_text("text,label\na,1\n", encoding="utf-8")
    with tmpfs(tmp_path / "ro", root, state="ro") as mount:
        store = mount / "store"
        for args in (["artifacts", "add", str(model), "--name", "m"], ["datasets", "add", str(table), "--name", "d"],
                     ["rm", run_id, "--yes"], ["launch", "script", "--", sys.executable, "-c", "pass"],
                     ["remote", "add", "gpu", "--host", "127.0.0.1", "--root", "/r", "--python", "/usr/bin/python3"]):
            line = one_error(cli(store, *args), "read-only")
            assert str(mount) in line, line
        assert cli(store, "runs").returncode == 0  # reading still works


def test_a_full_disk_is_named_with_the_fix(tmp_path: Path) -> None:
    root = tmp_path / "template"
    store_with_a_run(root)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(2 << 20))
    with tmpfs(tmp_path / "full", root, size="4m", state="full") as mount:
        done = cli(mount / "store", "artifacts", "add", str(big), "--name", "big")
        line = one_error(done)
        assert "no space left" in line.lower() or "full" in line.lower(), line
        line = one_error(cli(mount / "store", "remote", "add", "gpu", "--host", "127.0.0.1", "--root", "/r",
                             "--python", "/usr/bin/python3"), "No space left on device", "free space")
        assert str(mount) in line, line  # write() names no file: the store is named instead
        assert cli(mount / "store", "runs").returncode == 0


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`workbench sql ... | head -1`: exit 0, and no "Exception ignored" once the reader has gone."""
    root = tmp_path / "store"
    store_with_a_run(root)
    argv = [sys.executable, "-m", "workbench", "--root", str(root), "sql", "select * from range(300000)"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.readline()
        process.stdout.close()
        assert process.stderr.read() == b""
        assert process.wait(timeout=60) == 0


def test_a_terminal_that_cannot_show_a_character_gets_its_escape(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with wb.init(project="p", name="caf\u00e9", root=root, **QUIET) as run:
        run.log({"loss": 1.0})
    done = cli(root, "runs", env={"PYTHONIOENCODING": "ascii"})
    assert done.returncode == 0, done.stderr
    assert "caf\\xe9" in done.stdout


# -- the inputs the issue names, through the Python API and the CLI ------------------------------------


def test_deeply_nested_json_and_jsonl_are_dataset_errors(tmp_path: Path) -> None:
    root = tmp_path / "store"
    for name, text in (("deep.json", DEEP_JSON), ("deep.jsonl", DEEP_JSONL)):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(DatasetError, match=f"{name}.* nests arrays or objects too deeply"):
            wb.log_dataset(path, root=root)
        one_error(cli(root, "datasets", "add", str(path), "--name", "d"), name, "too deeply", "flatten")


def test_a_value_nested_past_the_manifest_limit_is_previewed_as_text(tmp_path: Path) -> None:
    path = tmp_path / "nested.json"
    path.write_text('[{"a": ' + "[" * 60 + "]" * 60 + "}]", encoding="utf-8")
    art = wb.log_dataset(path, root=tmp_path / "store")
    assert art.metadata["dataset"]["preview"][0]["a"] == "[" * 60 + "]" * 60


def test_an_upload_named_past_255_bytes_is_logged_under_a_shorter_name(tmp_path: Path) -> None:
    art = wb.log_dataset(b"text,label\na,1\n", filename="r\u00e9" * 150 + ".csv", root=tmp_path / "store")
    (stored,) = [f.path for f in art.files]
    assert stored.endswith(".csv") and stored.startswith("r\u00e9r") and len(stored.encode()) <= 200
    assert art.metadata["dataset"]["rows"] == 1
    with pytest.raises(ArtifactError, match="surrogate"):
        wb.log_dataset(b"a\n1\n", filename="\ud800.csv", root=tmp_path / "store")


def test_statements_that_are_not_queries_are_query_errors(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store_with_a_run(root)
    for statement in ("update extensions", "update runs set name = 'x'", "copy runs to 'x.csv'"):
        with pytest.raises(QueryError):
            wb.sql(statement, root=root)
    one_error(cli(root, "sql", "update extensions"), "read-only")


def test_deep_filters_and_undecodable_ids_are_workbench_errors(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store_with_a_run(root)
    with pytest.raises(FilterError, match="100 levels"):
        wb.runs(where="(" * 5000 + "config.lr < 1" + ")" * 5000, root=root)
    with pytest.raises(FilterError, match="100 levels"):
        wb.runs(where="not " * 3000 + "config.lr < 1", root=root)
    assert len(wb.runs(where="(" * 50 + "config.lr < 1" + ")" * 50, root=root)) == 0
    with pytest.raises(RunNotFound):
        wb.get_run("\udcff", root=root)  # a byte that is not UTF-8 on a command line


@pytest.mark.parametrize("command", [["ui"], ["dashboard", "compare"]])
def test_a_busy_port_is_one_line_before_any_link(tmp_path: Path, command: list[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "workbench", "--root", str(tmp_path / "store"), *command,
                               "--port", str(port)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done
    assert done.stderr.startswith(f"workbench: error: cannot listen on 127.0.0.1:{port}"), done.stderr
    assert "Traceback" not in done.stderr and "token=" not in done.stdout
