"""Issue 18, acceptance 4: after ``ssh:`` jobs, ``workbench sync`` exits 0 and downloads nothing
an ``ssh:NAME`` job here already follows.

A real script job runs on the remote (a second store on this machine, over a real sshd); the same
remote also holds an ordinary run. Sync brings the ordinary run, skips the job's run (the job's
executor keeps it current; its local record is the job's), and a second sync moves nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _sshd import Sshd, configure, job_stores, make_runs, sshd_fixture  # noqa: F401 - fixtures

import workbench as wb

pytestmark = pytest.mark.slow

SCRIPT = """
import workbench as wb
with wb.init(config={"steps": 3}) as run:
    for step in range(3):
        run.log({"loss": 1.0 / (step + 1)}, step=step)
"""


def cli(*args: str, root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WORKBENCH_ROOT": str(root)}
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


@pytest.fixture(name="stores")
def stores_fixture(sshd: Sshd, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with job_stores(sshd, root, tmp_path, monkeypatch,
                    settings="scheduler_idle_exit = 30.0\n", script=SCRIPT) as remote_root:
        yield remote_root


def test_sync_skips_the_runs_of_ssh_jobs_and_exits_0(stores: Path, root: Path) -> None:
    job = wb.launch("script", config={"command": ["python", "train.py"], "env": {"WORKBENCH_SYSTEM_METRICS": "0"}},
                    executor="ssh:gpu", root=root)
    assert job.wait(timeout=90) == "completed", job.error
    (plain,) = make_runs(stores, 1)  # an ordinary run on the remote, beside the job's
    assert sorted(p.name for p in (stores / "runs").iterdir()) == sorted([job.run_id, plain])
    before = (root / "runs" / job.run_id / "run.json").read_bytes()

    first = wb.sync("gpu", root=root)
    assert first.refused == []
    assert first.runs == [plain] and first.followed == [job.run_id]
    # only the ordinary run's files came (its record and segments), and the environment file it names
    plain_files = [p for p in (stores / "runs" / plain).rglob("*")
                   if p.is_file() and (p.name == "run.json" or p.parent.name == "metrics")]
    plain_files += list((stores / "environments").glob("*.json"))
    assert len(plain_files) == 3
    assert first.files == len(plain_files)
    assert first.bytes == sum(p.stat().st_size for p in plain_files)
    # the job's record here stays the job's (not replaced by the remote run's copy)
    assert (root / "runs" / job.run_id / "run.json").read_bytes() == before
    assert json.loads(before)["remote"] is None

    done = cli("sync", "gpu", "--progress", "never", root=root)  # the CLI: exit 0, nothing refused or moved
    assert done.returncode == 0, done.stderr
    assert "refused" not in done.stderr and done.stderr == ""
    assert "synced 0 runs from 'gpu' (0 files, 0 bytes)" in done.stdout
    again = wb.sync("gpu", root=root)
    assert (again.runs, again.files, again.bytes, again.refused) == ([], 0, 0, [])
    assert again.followed == [job.run_id]
    assert (root / "runs" / job.run_id / "run.json").read_bytes() == before


def test_exit_codes_of_sync(sshd: Sshd, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.cli import main

    remote_root = tmp_path / "remote-store"
    (theirs,) = make_runs(remote_root, 1)
    local = tmp_path / "local"
    configure(local, sshd, remote_root)
    # a local run (not a job) with the remote run's id: refused, before its bytes come; exit 1
    (local / "runs").mkdir(parents=True)
    shutil.copytree(remote_root / "runs" / theirs, local / "runs" / theirs)
    capsys.readouterr()
    assert main(["--root", str(local), "sync", "gpu", "--progress", "never"]) == 1
    out, err = capsys.readouterr()
    assert f"refused run '{theirs}': a run with that id already exists here (a local run)" in err
    # refused before its bytes came: only the environment file it names (the store lacked it) came
    (env,) = (remote_root / "environments").glob("*.json")
    assert f"synced 0 runs from 'gpu' (1 files, {env.stat().st_size} bytes)" in out
    # could not sync at all (an unknown remote; the host unreachable): exit 2, one error line
    assert main(["--root", str(local), "sync", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("workbench: error: no remote 'nosuch'") and err.count("\n") == 1, err
    configure(local, sshd, remote_root, name="down", port=1)
    assert main(["--root", str(local), "sync", "down"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach remote 'down'" in err, err
    with pytest.raises(SystemExit):
        main(["sync", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "0 ok" in help_text and "1 some runs" in help_text and "2 could not sync" in help_text
