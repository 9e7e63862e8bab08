"""What SSH remotes write is private too (issue 11, acceptance 3): the recorded host key, synced runs,
the artifact mirror and fetched blobs here; the store an ``ssh:NAME`` job makes over there. Against a
real sshd on 127.0.0.1, under the common umask 0o022.
"""

from __future__ import annotations

import contextlib
import os
import textwrap
from pathlib import Path

import pytest
from _modes import common_umask, open_to_others  # noqa: F401 - common_umask: a fixture
from _sshd import Sshd, configure, make_runs, sshd_fixture  # noqa: F401 - a fixture

import workbench as wb
from workbench.jobs.daemon import stop_scheduler
from workbench.remote import check_remote, fetch_artifact
from workbench.settings import load_settings, save_settings

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("common_umask")]


def test_host_keys_synced_runs_mirror_and_fetched_blobs_are_private(sshd: Sshd, tmp_path: Path) -> None:
    remote_root = tmp_path / "remote-store"
    make_runs(remote_root, 2)
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(os.urandom(10_000))
    with wb.init(project="remote", root=remote_root, capture_output=False, system_metrics=False) as run:
        run.log_artifact(model, "model", type="model")
    for path in [remote_root, *remote_root.rglob("*")]:  # a store made before stores were private
        path.chmod(0o755 if path.is_dir() else 0o644)
    local = tmp_path / "local"
    configure(local, sshd, remote_root, trusted=False)
    check_remote("gpu", root=local, trust_new_host=True)  # records the host key
    result = wb.sync("gpu", root=local)
    assert len(result.runs) == 3
    placed = fetch_artifact("gpu:model:v1", root=local).path
    assert (placed / "weights.bin").read_bytes() == (model / "weights.bin").read_bytes()
    names = {p.name for p in local.rglob("*") if p.is_file()}
    assert {"known_hosts", "cursor.json", "run.json", "v1.json", "weights.bin"} <= names
    assert open_to_others(local) == []


def test_the_store_an_ssh_job_makes_over_there_is_private(
    sshd: Sshd, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_settings(root, cancel_grace=2.0, scheduler_idle_exit=30.0)
    make_runs(tmp_path / "probe-store", 1)
    configure(root, sshd, tmp_path / "probe-store", name="probe", trusted=False)
    check_remote("probe", root=root, trust_new_host=True)  # records the host key of 127.0.0.1:port
    remote_root = tmp_path / "remote-new"  # made by the job's start, over SSH
    configure(root, sshd, remote_root, trusted=False)
    work = tmp_path / "work"
    work.mkdir()
    (work / "train.py").write_text(textwrap.dedent("""
        import workbench as wb
        with wb.init() as run:
            run.log({"loss": 0.5}, step=0)
            print("trained")
    """))
    monkeypatch.setenv("WORKBENCH_SYSTEM_METRICS", "0")
    monkeypatch.chdir(work)
    try:
        job = wb.launch("script", config={"command": "python train.py"}, executor="ssh:gpu")
        assert job.wait(timeout=120) == "completed", job.record.get("error")
    finally:
        with contextlib.suppress(Exception):
            stop_scheduler(load_settings(root), timeout=20)
    assert (remote_root / "jobs" / "ssh" / job.run_id / "train.py").is_file()
    assert (remote_root / "runs" / job.run_id / "logs" / "worker.log").is_file()
    assert open_to_others(remote_root) == []
    assert open_to_others(root) == []
