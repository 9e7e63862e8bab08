"""`workbench sync` against a real sshd on 127.0.0.1 serving a store of real runs (acceptance 1)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _sshd import PYTHON, Sshd, configure, make_runs, remote_root_fixture, snapshot, sshd_fixture  # noqa: F401 - fixtures

import workbench as wb
from workbench.cli import main
from workbench.errors import ReadOnlyRun
from workbench.store._paths import Layout
from workbench.store.records import update_record


def test_sync_copies_runs_whole_and_marks_them(sshd: Sshd, remote_root: Path, tmp_path: Path) -> None:
    local = tmp_path / "local"
    configure(local, sshd, remote_root)
    result = wb.sync("gpu", root=local)
    remote_ids = sorted(p.name for p in (remote_root / "runs").iterdir())
    assert sorted(result.runs) == remote_ids and result.refused == []
    assert result.files == 7 and result.bytes > 0  # 3 runs x (record, segment) + their environment file
    table = wb.runs(root=local)
    assert sorted(table["run_id"]) == remote_ids
    assert set(table["remote"]) == {"gpu"}
    for run_id in remote_ids:
        mine = json.loads((local / "runs" / run_id / "run.json").read_bytes())
        theirs = json.loads((remote_root / "runs" / run_id / "run.json").read_bytes())
        assert mine.pop("remote") == "gpu" and theirs.pop("remote") is None
        assert mine == theirs
    local_points = wb.history(remote_ids, root=local).sort_values(["run_id", "key", "step"], ignore_index=True)
    remote_points = wb.history(remote_ids, root=remote_root).sort_values(["run_id", "key", "step"],
                                                                         ignore_index=True)
    assert local_points.equals(remote_points) and len(local_points) == 3 * 2 * 5
    with pytest.raises(ReadOnlyRun, match="synced from remote 'gpu'"):
        update_record(Layout(local), remote_ids[0], lambda r: r.update(notes="x"))
    # files/ stays on the remote; staging is gone
    assert not list((local / "runs").glob("*/files")) and not list((local / "remote" / "gpu").glob("staging-*"))


def test_sync_brings_captured_logs_and_leaves_big_ones(sshd: Sshd, remote_root: Path, tmp_path: Path) -> None:
    from workbench.remote._manifest import MAX_LOG_BYTES

    run_ids = sorted(p.name for p in (remote_root / "runs").iterdir())
    logs = remote_root / "runs" / run_ids[0] / "logs"
    logs.mkdir()
    (logs / "stdout.log").write_text("epoch 1 loss 0.5\n")
    (logs / "stderr.log").write_text("warning: slow\n")
    (logs / "notes.txt").write_text("not a log")
    with (logs / "huge.log").open("wb") as handle:
        handle.truncate(MAX_LOG_BYTES + 1)
    local = tmp_path / "local"
    configure(local, sshd, remote_root)
    result = wb.sync("gpu", root=local)
    assert sorted(result.runs) == run_ids and result.refused == []
    here = local / "runs" / run_ids[0] / "logs"
    assert sorted(p.name for p in here.iterdir()) == ["stderr.log", "stdout.log"]
    assert (here / "stdout.log").read_text() == "epoch 1 loss 0.5\n"
    (logs / "stdout.log").write_text("epoch 1 loss 0.5\nepoch 2 loss 0.4\n")  # a live run's log grows
    assert wb.sync("gpu", root=local).runs == [run_ids[0]]
    assert (here / "stdout.log").read_text().endswith("epoch 2 loss 0.4\n")


def test_sync_is_incremental_and_replaces_changed_runs(sshd: Sshd, remote_root: Path, tmp_path: Path) -> None:
    local = tmp_path / "local"
    configure(local, sshd, remote_root)
    live = wb.init(project="remote", name="live", config={"lr": 0.1}, root=remote_root,
                   capture_output=False, system_metrics=False, fsync=False)
    try:
        first = wb.sync("gpu", root=local)
        assert live.id in first.runs and len(first.runs) == 4
        assert wb.get_run(live.id, root=local)["status"] == "running"
        assert wb.sync("gpu", root=local).runs == []  # nothing changed: nothing copied
        for step in range(10):
            live.log({"loss": 1.0 / (step + 1)}, step=step)
    finally:
        live.finish()
    (new_id,) = make_runs(remote_root, 1, project="later")
    again = wb.sync("gpu", root=local)
    assert sorted(again.runs) == sorted([live.id, new_id])
    record = wb.get_run(live.id, root=local)
    assert record["status"] == "completed" and record["remote"] == "gpu"
    assert list(wb.history([live.id], keys=["loss"], root=local)["step"]) == list(range(10))
    assert len(wb.runs(root=local)) == 5
    # a synced copy deleted here comes back on the next sync
    shutil.rmtree(local / "runs" / new_id)
    assert wb.sync("gpu", root=local).runs == [new_id]


def test_a_local_run_with_the_same_id_is_never_overwritten(sshd: Sshd, remote_root: Path,
                                                           tmp_path: Path) -> None:
    local = tmp_path / "local"
    configure(local, sshd, remote_root)
    clash = sorted(p.name for p in (remote_root / "runs").iterdir())[0]
    shutil.copytree(remote_root / "runs" / clash, local / "runs" / clash)
    before = snapshot(local / "runs" / clash)
    result = wb.sync("gpu", root=local)
    assert clash not in result.runs and len(result.runs) == 2
    assert any(clash in m and "already exists here" in m for m in result.refused)
    assert snapshot(local / "runs" / clash) == before


def test_cli_remote_add_ls_test_rm_and_sync(sshd: Sshd, remote_root: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    local = tmp_path / "local"
    local.mkdir()
    (local / "workbench.toml").write_text("# my settings\nflush_interval = 2.0\n\n[recipes.script]\nx = 1\n")
    base = ["--root", str(local)]
    add = [*base, "remote", "add", "gpu", "--host", sshd.host, "--port", str(sshd.port), "--user", sshd.user,
           "--key", str(sshd.client_key), "--root", str(remote_root), "--python", PYTHON, "--timeout", "5"]
    assert main([*base, "remote", "test", "nope"]) == 1
    assert "no remote 'nope'" in capsys.readouterr().err
    assert main(add) == 0
    assert main([*base, "remote", "test", "gpu"]) == 1  # host key not known yet
    assert "unknown host" in capsys.readouterr().err
    assert main([*add, "--trust-new-host"]) == 0  # records the key, replaces the table
    assert main([*base, "remote", "test", "gpu"]) == 0
    out = capsys.readouterr().out
    assert "gpu: ok, Python 3." in out and "round trip" in out
    text = (local / "workbench.toml").read_text()
    assert text.startswith("# my settings\nflush_interval = 2.0\n") and "[recipes.script]\nx = 1\n" in text
    assert text.count("[remotes.gpu]") == 1
    assert wb.__name__ and main([*base, "remote", "ls"]) == 0
    assert f"gpu\t{sshd.user}@{sshd.host}:{sshd.port}\t{remote_root}" in capsys.readouterr().out
    assert main([*base, "sync", "gpu", "--progress", "always"]) == 0
    captured = capsys.readouterr()
    assert "synced 3 runs from 'gpu' (7 files" in captured.out
    assert "sync gpu" in captured.err  # the progress bar
    assert main([*base, "remote", "rm", "gpu"]) == 0
    assert "[remotes" not in (local / "workbench.toml").read_text()
    assert "[recipes.script]" in (local / "workbench.toml").read_text()
    assert main([*base, "remote", "rm", "gpu"]) == 1
    assert len(wb.runs(root=local)) == 3  # synced runs stay


def test_import_workbench_stays_free_of_fabric_and_paramiko() -> None:
    code = ("import sys, workbench, workbench.remote, workbench.cli.remote; "
            "bad = [m for m in ('fabric', 'paramiko', 'invoke') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
