"""Environment capture (issue 13): every installed distribution, stored once per environment by
digest, read back through the store's schema, checked by fsck. Real stores under tmp_path, real
subprocesses, a real full tmpfs (root only: skipped without it, failed in CI); nothing mocked.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from _mounts import fill, tmpfs
from conftest import REPO

import workbench as wb
from workbench.errors import StoreError
from workbench.settings import load_settings
from workbench.store import fsck
from workbench.store._paths import Layout
from workbench.store._schema import SchemaError, load_environment, load_record
from workbench.store.environments import encode_environment, read_environment, write_environment
from workbench.store.store import open_store
from workbench.tracking import _environment
from workbench.tracking._environment import environment, installed, save_environment

FAST: dict[str, Any] = {"flush_interval": 0.05, "system_metrics": False, "capture_output": False}


def _reference() -> dict[str, str]:
    """What importlib.metadata says, the slow way (every METADATA parsed whole)."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        found.setdefault(re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower(), dist.version)
    return found


def test_every_installed_distribution_is_listed_with_normalised_names() -> None:
    packages = installed()
    assert packages == _reference()
    assert list(packages) == sorted(packages)
    assert packages["duckdb"] == metadata.version("duckdb")
    assert packages["pyarrow"] == metadata.version("pyarrow")
    assert all(name == re.sub(r"[-_.]+", "-", name).lower() for name in packages)
    # the record's short map comes from the same list: installed key ML packages, same versions
    short = environment()["packages"]
    assert short["numpy"] == packages["numpy"] and short["workbench"] == metadata.version("workbench-ml")
    assert all(short[n] == packages[n] for n in short if n != "workbench")


def test_the_environment_is_stored_once_per_digest_privately(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "store")
    layout.ensure()
    digest, warning = save_environment(layout)
    assert warning is None and digest is not None
    path = layout.environments / f"{digest}.json"
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == digest  # the name is the content's digest
    assert json.loads(data) == {"format": 1, "packages": installed()}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(layout.environments.stat().st_mode) == 0o700
    before = path.stat()
    assert save_environment(layout) == (digest, None)
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not written again
    assert os.listdir(layout.environments) == [path.name]
    assert read_environment(layout, digest) == installed()


def test_a_damaged_file_in_its_place_is_written_again(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "store")
    layout.ensure()
    digest, _ = save_environment(layout)
    assert digest is not None
    path = layout.environment(digest)
    path.write_bytes(b'{"format": 1, "pack')
    assert save_environment(layout) == (digest, None)
    assert read_environment(layout, digest) == installed()


def test_first_capture_cost_and_import_stays_lazy() -> None:
    """``import workbench`` reads no distribution; the first capture in a process is timed."""
    code = ("import time, sys, workbench\n"
            "from workbench.tracking import _environment as e\n"
            "assert e._installed.cache_info().currsize == 0\n"
            "t = time.perf_counter(); n = len(e.installed()); e._encoded(); t = time.perf_counter() - t\n"
            "print(n, t)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO,
                          check=False)
    assert done.returncode == 0, done.stderr
    count, seconds = done.stdout.split()
    print(f"first capture: {count} distributions in {float(seconds) * 1000:.1f} ms")
    assert int(count) > 50 and float(seconds) < 2.0


def test_a_full_disk_keeps_the_digest_and_warns(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", size="1m", mode="0700") as disk:
        layout = Layout(disk / "store")
        layout.ensure()
        ballast = fill(disk)
        digest, warning = save_environment(layout)
        assert digest == encode_environment(installed())[0]
        assert warning is not None and "ENOSPC" in warning and digest[:12] in warning
        assert not layout.environments.exists() or os.listdir(layout.environments) == []  # no temp file left
        ballast.unlink()
        assert save_environment(layout) == (digest, None)  # space again: the next run stores it
        assert read_environment(layout, digest) == installed()


def test_the_reader_refuses_changed_misnamed_and_malformed_files(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "store")
    layout.ensure()
    digest, data = encode_environment({"numpy": "2.0.0", "torch": "2.3.0"})
    write_environment(layout, digest, data)
    assert read_environment(layout, digest) == {"numpy": "2.0.0", "torch": "2.3.0"}
    assert read_environment(layout, "0" * 64) is None  # not in the store: None, no error
    path = layout.environment(digest)
    path.write_bytes(data.replace(b"2.3.0", b"9.9.9"))  # edited: no longer the environment its name says
    with pytest.raises(StoreError, match="not the one its name says"):
        read_environment(layout, digest)
    for bad, words in [(b"\xff\xfe", "not valid JSON"), (b"[]", "not a workbench environment"),
                       (b'{"packages": {"a": 1}}', "packages.a is a number, not a string"),
                       (b'{"packages": {"a\\u0007": "1"}}', "control characters"),
                       (b'{"format": 7, "packages": {}}', "newer than this workbench"),
                       (b"[" * 100_000, "nested deeper")]:
        path.write_bytes(bad)
        with pytest.raises(StoreError, match=re.escape(words)):
            read_environment(layout, digest)
    with pytest.raises(StoreError, match="not an environment digest"):
        layout.environment("../../etc/passwd")


def test_schema_of_the_record_field_and_the_file() -> None:
    record = {"id": "abc123", "status": "completed", "environment": "a" * 64}
    assert load_record(json.dumps(record).encode())["environment"] == "a" * 64
    assert load_record(json.dumps({**record, "environment": None}).encode())["environment"] is None
    with pytest.raises(SchemaError, match="environment 'x' is not a SHA-256 digest"):
        load_record(json.dumps({**record, "environment": "x"}).encode())
    with pytest.raises(SchemaError, match="more than"):
        load_environment(b'{"packages": {"a": "' + b"1" * 5_000_000 + b'"}}')
    assert load_environment(b'{"format": 1, "packages": {"a": "1"}, "newer": [1]}')["packages"] == {"a": "1"}


def test_store_environment_reads_it_for_a_run_and_tolerates_absence(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with wb.init(project="p", root=root, **FAST) as old:  # as a run of an older workbench: no field
        pass
    store = open_store(root)
    record_path = Layout(root).record(old.id)
    record = json.loads(record_path.read_bytes())
    record.pop("environment", None)
    record_path.write_text(json.dumps(record))
    assert store.environment(old.id) is None
    digest, _ = save_environment(store.layout)
    assert digest is not None
    record["environment"] = digest
    record_path.write_text(json.dumps(record))
    assert store.environment(old.id) == installed()
    store.layout.environment(digest).write_bytes(b"{}")  # damaged: a warning naming it, then None
    with pytest.warns(UserWarning, match=f"environment file .*{digest}.json"):
        assert store.environment(old.id) is None
    store.layout.environment(digest).unlink()  # synced without it: None, silently
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert store.environment(old.id) is None


def test_two_runs_in_one_store_share_one_environment_file(tmp_path: Path) -> None:
    root = tmp_path / "store"
    ids = []
    for name in ("first", "second"):
        with wb.init(project="p", name=name, root=root, **FAST) as run:
            run.log({"x": 1.0})
        ids.append(run.id)
    store = open_store(root)
    digests = {store.get(run_id)["environment"] for run_id in ids}
    files = os.listdir(root / "environments")
    assert len(digests) == 1 and files == [f"{digests.pop()}.json"]
    packages = store.environment(ids[0])
    assert packages is not None
    assert packages["duckdb"] == metadata.version("duckdb")
    assert packages["pyarrow"] == metadata.version("pyarrow")
    assert store.environment(ids[1]) == packages


def test_fsck_reports_and_repairs_environment_files(tmp_path: Path) -> None:
    root = tmp_path / "store"
    layout = Layout(root)
    layout.ensure()
    settings = load_settings(root)
    good, data = encode_environment({"numpy": "2.0.0"})
    write_environment(layout, good, data)  # no record names it: kept, not reported
    changed, changed_data = encode_environment({"numpy": "1.0.0"})
    write_environment(layout, changed, changed_data)
    layout.environment(changed).write_bytes(changed_data.replace(b"1.0.0", b"1.0.1"))
    cut = "c" * 64
    layout.environment(cut).write_bytes(data[:10])
    (layout.environments / "notes.txt").write_text("hello")
    (layout.environments / f".{good}.json.123.abcd.tmp").write_bytes(b"")  # a write under way: skipped

    result = fsck.check_store(settings)
    found = {Path(f.path).name: f for f in result.findings if f.kind == "environment"}
    assert set(found) == {f"{changed}.json", f"{cut}.json", "notes.txt"}
    assert "not the one its name says" in found[f"{changed}.json"].problem
    assert "not valid JSON" in found[f"{cut}.json"].problem
    assert "--repair" in found[f"{cut}.json"].fix
    assert result.checked["environments"] == 4 and not result.ok

    repaired = fsck.check_store(settings, repair=True)
    assert not repaired.ok
    assert all("moved it to" in f.problem for f in repaired.findings if f.kind == "environment")
    assert sorted(os.listdir(layout.environments)) == sorted([f"{good}.json", f".{good}.json.123.abcd.tmp"])
    assert len(os.listdir(root / "quarantine")) == 3
    after = fsck.check_store(settings)
    assert [f for f in after.findings if f.kind == "environment"] == []
    assert read_environment(layout, good) == {"numpy": "2.0.0"}


def test_capture_is_cached_per_process() -> None:
    first = _environment._installed()
    assert _environment._installed() is first
    assert _environment._installed.cache_info().hits >= 1
