"""finish() makes exactly the run's own files durable (issue 16): an fsync of each file it wrote
and of the directories naming them, the points before the record that says how the run ended,
and never a ``syncfs`` of the whole filesystem (which waits for other programs' writes)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import IN_CI, require_program

import workbench as wb
from workbench.store._atomic import sync_paths


def _tree(run_dir: Path) -> tuple[set[Path], set[Path]]:
    files, dirs = set(), {run_dir}
    for folder, subdirs, names in os.walk(run_dir):
        dirs.update(Path(folder) / d for d in subdirs)
        files.update(Path(folder) / n for n in names if not n.startswith("."))
    return files, dirs


def test_finish_fsyncs_every_file_of_the_run_and_the_directories_naming_them(root: Path) -> None:
    run = wb.init(project="durable", config={"lr": 0.1}, root=root, capture_output=True, system_metrics=False)
    for step in range(50):
        run.log({"loss": 1.0 / (step + 1), "acc": step / 50}, step=step)
        if step == 20:
            run.flush()  # a segment before the last, and a log file with a line in it
            print("a line for the log")
    run.finish()
    synced = run._synced
    run_dir = root / "runs" / run.id
    files, dirs = _tree(run_dir)
    assert run_dir / "run.json" in files and any(p.parent.name == "metrics" for p in files)
    assert any(p.parent.name == "logs" for p in files)
    missing = (files | dirs) - set(synced)
    assert not missing, f"not fsynced at finish: {sorted(map(str, missing))}"
    # the directory naming the run, the environment file this process wrote, the change journal
    assert root / "runs" in synced and root / "catalog" / "journal" in synced
    digest = json.loads((run_dir / "run.json").read_text())["environment"]
    assert root / "environments" / f"{digest}.json" in synced and root / "environments" in synced
    # the points are durable before the record that says "completed"
    record = synced.index(run_dir / "run.json")
    assert all(synced.index(p) < record for p in files if p.parent.name == "metrics")
    # nothing outside the store, nothing of another run
    assert all(root in p.parents for p in synced)


def test_a_second_run_of_the_process_does_not_sync_the_first_ones_files(root: Path) -> None:
    first = wb.init(project="durable", root=root, capture_output=False, system_metrics=False)
    first.log({"a": 1.0})
    first.finish()
    second = wb.init(project="durable", root=root, capture_output=False, system_metrics=False)
    second.log({"a": 2.0})
    second.finish()
    first_dir = root / "runs" / first.id
    assert not [p for p in second._synced if p == first_dir or first_dir in p.parents]
    # the environment file was made durable by the first run: the second leaves it alone
    assert not [p for p in second._synced if p.parent == root / "environments"]


def test_fsync_off_syncs_nothing(root: Path) -> None:
    run = wb.init(project="durable", root=root, capture_output=False, system_metrics=False, fsync=False)
    run.log({"a": 1.0})
    run.finish()
    assert run._synced == []


def test_sync_paths_skips_what_is_gone_and_returns_what_it_synced(tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    kept.write_bytes(b"x")
    many = [tmp_path / f"f{i}" for i in range(40)]  # past the threshold for a few threads at once
    for path in many:
        path.write_bytes(b"y")
    done = sync_paths([kept, tmp_path / "gone", *many], [tmp_path, tmp_path / "no-dir"])
    assert done == [kept, *many, tmp_path]


SCRIPT = """
import sys
import workbench as wb

run = wb.init(project="strace", root=sys.argv[1], capture_output=False, system_metrics=False)
for step in range(100):
    run.log({"loss": 1.0 / (step + 1), "acc": step / 100}, step=step)
run.finish()
print(run.id)
"""


@pytest.mark.timeout(120)
def test_finish_under_strace_fsyncs_the_points_then_renames_the_final_record(tmp_path: Path, root: Path) -> None:
    """Seen from the kernel's side: every file of the run is fsynced after the process last
    wrote it, the metric file before the final record is renamed into place, and no syncfs."""
    if not sys.platform.startswith("linux"):
        pytest.skip("strace is Linux's")
    strace = require_program("strace")
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(SCRIPT))
    trace = tmp_path / "trace"
    done = subprocess.run([strace, "-f", "-qq", "-y", "-o", str(trace), "-e",
                           "trace=fsync,fdatasync,syncfs,sync,rename,renameat,renameat2",
                           sys.executable, str(script), str(root)],
                          capture_output=True, text=True, timeout=100, check=False)
    if done.returncode != 0 and "ptrace" in done.stderr:
        if IN_CI:  # CI must run every test: a machine that forbids ptrace fails it
            pytest.fail(f"CI must allow strace to trace: {done.stderr.strip()[:200]}")
        pytest.skip(f"strace cannot trace here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[-1]
    run_dir = root / "runs" / run_id
    lines = trace.read_text().splitlines()
    assert not [line for line in lines if re.search(r"\b(syncfs|sync)\(", line)], "a whole-filesystem sync"
    # fsyncs run on helper threads: strace splits such a call into "<unfinished ...>" and a
    # "resumed" line; a failed one says "= -1" (on its line or the resumed one: none here)
    assert not [line for line in lines if "sync" in line and "= -1" in line]
    fsynced = [(i, m.group(1)) for i, line in enumerate(lines)
               if (m := re.search(r"f(?:data)?sync\(\d+<([^>]+)>", line))]
    renamed = [(i, m.group(1)) for i, line in enumerate(lines)
               if (m := re.search(r'rename(?:at2?)?\(.*"([^"]+)"[^"]*\)\s*=\s*0', line))]
    synced_paths = {path for _, path in fsynced}
    files, dirs = _tree(run_dir)
    for path in files | dirs | {root / "runs"}:
        assert str(path.resolve()) in synced_paths, f"{path} was never fsynced"
    # the last rename of run.json (the final record) comes after the metric file's fsync, and
    # is itself followed by an fsync of the record and of the run directory
    final_rename = max(i for i, path in renamed if path.endswith(f"{run_id}/run.json"))
    metric = min(i for i, path in fsynced if "/metrics/" in path)
    assert metric < final_rename
    after = {path for i, path in fsynced if i > final_rename}
    assert str((run_dir / "run.json").resolve()) in after and str(run_dir.resolve()) in after
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"


def test_a_record_another_process_changed_is_read_again_before_the_run_writes(root: Path) -> None:
    """The run reuses the record it wrote last (no read back) only while the file is that one: a
    notebook's edit of notes and tags from another process survives the run's next writes."""
    run = wb.init(project="durable", root=root, capture_output=False, system_metrics=False, notes="start")
    run.log({"a": 1.0})
    run.flush()  # the record this process wrote last
    code = ("import sys, workbench as wb; "
            "wb.update_run(sys.argv[1], notes='trats', tags=['x'], root=sys.argv[2])")  # same length of notes
    subprocess.run([sys.executable, "-c", code, run.id, str(root)], check=True, timeout=60)
    run.log({"a": 2.0})
    run.flush()
    run.finish()
    record = wb.get_run(run.id, root=root)
    assert record["notes"] == "trats" and record["tags"] == ["x"] and record["status"] == "completed"
    assert record["summary"]["a"] == 2.0
