"""Acceptance 3: the connection is cut mid-transfer (the sshd session processes are killed while
the archive streams): the local store is exactly as before, reindexes clean, and the next sync
completes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _sshd import (
    Sshd,
    configure,
    make_runs,
    snapshot,
    sshd_fixture,  # noqa: F401 - a fixture
)

import workbench as wb
from workbench.errors import RemoteError
from workbench.remote import _sync as sync_module


def _big_runs(root: Path, count: int) -> list[str]:
    # ~1 MB records: the archive is far larger than paramiko's 2 MB window, so killing the session
    # after the first file really cuts the stream
    ids = []
    for i in range(count):
        run = wb.init(project="big", name=f"big{i}", config={"blob": "x" * 1_000_000, "i": i}, root=root,
                      capture_output=False, system_metrics=False, fsync=False)
        run.log({"loss": 1.0}, step=0)
        run.finish()
        ids.append(run.id)
    return ids


@pytest.mark.parametrize("synced_before", [False, True])
def test_cut_mid_transfer_leaves_the_store_as_before(sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     synced_before: bool) -> None:
    remote_root = tmp_path / "remote-store"
    small = make_runs(remote_root, 2)
    local = tmp_path / "local"
    configure(local, sshd, remote_root)
    if synced_before:  # a store with synced copies, all of which change on the remote
        assert sorted(wb.sync("gpu", root=local).runs) == sorted(small)
    big = _big_runs(remote_root, 12)
    before = snapshot(local)
    cut = []
    original = sync_module._Bar.file_done

    def cut_after_first_file(self: sync_module._Bar, size: int) -> None:
        original(self, size)
        if not cut:
            cut.append(sshd.kill_sessions())

    monkeypatch.setattr(sync_module._Bar, "file_done", cut_after_first_file)
    with pytest.raises(RemoteError, match=r"connection to remote 'gpu' .* was lost during the transfer.*"
                                          r"nothing was changed"):
        wb.sync("gpu", root=local)
    assert cut and cut[0] >= 1
    assert snapshot(local) == before  # records, segments, catalog journal, cursor: all as they were
    assert not list((local / "remote" / "gpu").glob("staging-*"))
    monkeypatch.undo()
    result = wb.sync("gpu", root=local)
    assert sorted(result.runs) == sorted(big if synced_before else big + small)
    assert result.refused == []
    report = wb.reindex(root=local)
    assert report.runs == 14 and not report.corrupt_records and not report.corrupt_segments
    assert sorted(wb.runs(root=local)["run_id"]) == sorted(big + small)
    assert wb.sync("gpu", root=local).runs == []


def test_a_stalled_connection_times_out(sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the sshd sessions are stopped, not killed: no FIN, no RST, only silence until the timeout
    import signal
    import time

    remote_root = tmp_path / "remote-store"
    _big_runs(remote_root, 4)
    local = tmp_path / "local"
    configure(local, sshd, remote_root, timeout=1.5)
    before = snapshot(local)
    stopped: list[int] = []
    original = sync_module._Bar.file_done

    def stall_after_first_file(self: sync_module._Bar, size: int) -> None:
        original(self, size)
        if not stopped:
            stopped.extend(sshd.descendants())
            for pid in stopped:
                os.kill(pid, signal.SIGSTOP)

    monkeypatch.setattr(sync_module._Bar, "file_done", stall_after_first_file)
    start = time.monotonic()
    try:
        with pytest.raises(RemoteError, match="was lost during the transfer"):
            wb.sync("gpu", root=local)
        assert time.monotonic() - start < 1.5 * 3 + 2
    finally:
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGKILL)
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    assert stopped and snapshot(local) == before
    monkeypatch.undo()
    assert len(wb.sync("gpu", root=local).runs) == 4
