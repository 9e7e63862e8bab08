"""Sync moves only the files that changed (issue 18, acceptance 1), measured against `rsync -a`.

Bytes are counted at the transport: a TCP relay between the client and the real sshd counts the
bytes the server sends (SSH framing, key exchange and all), for `wb.sync` and for `rsync -a` over
the same sshd in the same test. rsync copies the same store folders (``runs/`` and
``environments/``) into a folder of its own, its ``--stats`` "Total bytes received" is shown too.
"""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _sshd import Sshd, configure, snapshot, sshd_fixture  # noqa: F401 - fixtures
from conftest import require_program

import workbench as wb
from workbench.errors import RemoteError
from workbench.remote import SyncResult

RSYNC = "/usr/bin/rsync"
#: at most this many times what rsync moves for the same change (acceptance 1)
RATIO = 1.2


class Relay:
    """A TCP relay to sshd that counts the bytes each way, and can cut a connection after the
    server has sent ``cut_after`` bytes on it."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.received = 0  # server -> client
        self.sent = 0  # client -> server
        self.cut_after: int | None = None
        self.cuts = 0
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> None:
        with self._lock:
            self.received = self.sent = 0

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._open += [client, server]
            counted = [0]
            threading.Thread(target=self._pump, args=(client, server, False, counted), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True, counted), daemon=True).start()

    def _pump(self, source: socket.socket, dest: socket.socket, from_server: bool, counted: list[int]) -> None:
        try:
            while True:
                data = source.recv(1 << 16)
                if not data:
                    break
                if from_server:
                    cut = self.cut_after
                    if cut is not None and counted[0] + len(data) > cut:
                        self.cuts += 1
                        break
                    counted[0] += len(data)
                dest.sendall(data)
                with self._lock:
                    if from_server:
                        self.received += len(data)
                    else:
                        self.sent += len(data)
        except OSError:
            pass
        for sock in (source, dest):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        self.listener.close()
        with self._lock:
            for sock in self._open:
                sock.close()


@pytest.fixture(scope="module")
def relay(sshd: Sshd) -> Iterator[Relay]:
    server = Relay(sshd.port)
    yield server
    server.close()


class Setup:
    def __init__(self, base: Path, sshd: Sshd, relay: Relay) -> None:
        self.remote = base / "remote-store"
        self.local = base / "local"
        self.mirror = base / "rsync"  # rsync's copy
        self.mirror.mkdir()
        self.sshd, self.relay = sshd, relay
        self.known_hosts = base / "known_hosts"
        key_type, key_data = Path(f"{sshd.host_key}.pub").read_text().split()[:2]
        line = f"[127.0.0.1]:{relay.port} {key_type} {key_data}\n"
        self.known_hosts.write_text(line)
        configure(self.local, sshd, self.remote, port=relay.port, trusted=False, timeout=10.0)
        from workbench.remote import known_hosts_path

        known_hosts_path(self.local).parent.mkdir(parents=True, exist_ok=True)
        known_hosts_path(self.local).write_text(line)

    def sync(self) -> tuple[int, SyncResult]:
        self.relay.reset()
        result = wb.sync("gpu", root=self.local)
        time.sleep(0.05)  # the relay's last counts
        assert result.refused == []
        return self.relay.received, result

    def rsync(self) -> tuple[int, int]:
        """``(bytes the relay counted, rsync's own "Total bytes received")``."""
        ssh = (f"ssh -F /dev/null -p {self.relay.port} -i {self.sshd.client_key} -o BatchMode=yes "
               f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={self.known_hosts}")
        self.relay.reset()
        where = f"{self.sshd.user}@127.0.0.1:"
        done = subprocess.run([RSYNC, "-a", "--stats", "-e", ssh, f"{where}{self.remote}/runs",
                               f"{where}{self.remote}/environments", f"{self.mirror}/"],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        time.sleep(0.05)
        found = re.search(r"Total bytes received: ([\d,]+)", done.stdout)
        assert found is not None, done.stdout
        return self.relay.received, int(found.group(1).replace(",", ""))


_REMOTE_POINTS: dict[tuple[object, ...], object] = {}


def _points(root: Path, run_id: str) -> object:
    return wb.history([run_id], root=root).sort_values(["key", "step"], ignore_index=True)


def _remote_points(root: Path, run_id: str) -> object:
    """The remote run's points, read once for each state of its metric files (reading 900,000
    points takes most of a second)."""
    state = (run_id, *sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns)
                             for p in (root / "runs" / run_id / "metrics").glob("*.parquet")))
    if state not in _REMOTE_POINTS:
        _REMOTE_POINTS[state] = _points(root, run_id)
    return _REMOTE_POINTS[state]


def same_as_remote(setup: Setup, run_ids: list[str]) -> None:
    for run_id in run_ids:
        mine, theirs = wb.get_run(run_id, root=setup.local), wb.get_run(run_id, root=setup.remote)
        assert mine.pop("remote") == "gpu" and theirs.pop("remote") is None
        assert mine == theirs
        assert _points(setup.local, run_id).equals(_remote_points(setup.remote, run_id))  # type: ignore[attr-defined]
        here = sorted(p.name for p in (setup.local / "runs" / run_id / "metrics").glob("*.parquet"))
        there = sorted(p.name for p in (setup.remote / "runs" / run_id / "metrics").glob("*.parquet"))
        assert here == there  # files the remote no longer lists are gone here too
    assert not list((setup.local / "remote" / "gpu").glob("staging-*"))


def record(step: str, ours: int, payload: int, theirs: int, rsync_stats: int) -> None:
    """Print one step's figures (shown with ``pytest -s``)."""
    print(f"{step}: sync {ours} B at the transport ({payload} B of files), rsync {theirs} B at the "
          f"transport ({rsync_stats} B 'Total bytes received'): {ours / theirs:.2f}x")


def _log_big(root: Path, run_id: str | None, start: int, steps: int, keys: int, seed: int) -> str:
    values = np.random.default_rng(seed).random((steps, keys))
    run = wb.init(project="delta", name="big", id=run_id, resume="allow" if run_id else None, root=root,
                  capture_output=False, system_metrics=False, fsync=False, flush_calls=1_000_000)
    for i in range(steps):
        run.log({f"k{j}": float(values[i, j]) for j in range(keys)}, step=start + i)
    run.finish()
    return run.id


@pytest.fixture(scope="module")
def setup(sshd: Sshd, relay: Relay, tmp_path_factory: pytest.TempPathFactory) -> Setup:
    require_program(RSYNC)
    return Setup(tmp_path_factory.mktemp("delta"), sshd, relay)


def test_sync_moves_only_changed_files_within_rsync_ratio(setup: Setup) -> None:
    # a run with a ~10 MB metric file (850,000 random points) and a small one
    big = _log_big(setup.remote, None, 0, 85_000, 10, seed=1)
    small = _log_big(setup.remote, None, 0, 20, 2, seed=2)
    files = set((setup.remote / "runs" / big / "metrics").glob("*.parquet"))  # one or two flushes
    segment = max(files, key=lambda p: p.stat().st_size)
    assert segment.stat().st_size > 9_500_000
    ours, first = setup.sync()
    theirs, stats = setup.rsync()
    record("first sync", ours, first.bytes, theirs, stats)
    assert sorted(first.runs) == sorted([big, small]) and first.reused == 0
    same_as_remote(setup, [big, small])
    inode = (setup.local / "runs" / big / "metrics" / segment.name).stat().st_ino

    # (a) no change: nothing but the listing
    ours, again = setup.sync()
    theirs, stats = setup.rsync()
    record("(a) no change", ours, again.bytes, theirs, stats)
    assert again.runs == [] and again.files == 0 and again.bytes == 0
    assert ours <= RATIO * theirs
    same_as_remote(setup, [big, small])

    # (b) notes edited on the run with the 10 MB segment: its record comes, the segment is linked
    wb.update_run(big, notes="lr too high", root=setup.remote)
    ours, notes = setup.sync()
    theirs, stats = setup.rsync()
    record("(b) notes edited", ours, notes.bytes, theirs, stats)
    assert notes.runs == [big] and notes.files == 1 and notes.reused == len(files)
    assert notes.bytes < 10_000 and ours <= RATIO * theirs
    assert wb.get_run(big, root=setup.local)["notes"] == "lr too high"
    assert (setup.local / "runs" / big / "metrics" / segment.name).stat().st_ino == inode
    same_as_remote(setup, [big, small])

    # (c) 50,000 more points logged by a second process that resumes the run
    _log_big(setup.remote, big, 85_000, 50_000, 1, seed=3)
    new = sorted(set((setup.remote / "runs" / big / "metrics").glob("*.parquet")) - files)
    assert len(new) == 1 and all(p.exists() for p in files)
    ours, grown = setup.sync()
    theirs, stats = setup.rsync()
    record("(c) 50,000 more points", ours, grown.bytes, theirs, stats)
    assert grown.runs == [big] and grown.files == 2 and grown.reused == len(files)
    assert grown.bytes == new[0].stat().st_size + (setup.remote / "runs" / big / "run.json").stat().st_size
    assert ours <= RATIO * theirs
    assert (setup.local / "runs" / big / "metrics" / segment.name).stat().st_ino == inode
    same_as_remote(setup, [big, small])


def test_compacted_segments_are_not_linked(setup: Setup) -> None:
    from workbench.store import segments

    run = wb.init(project="delta", name="flushes", root=setup.remote, capture_output=False,
                  system_metrics=False, fsync=False)
    for step in range(6):
        run.log({"loss": 1.0 / (step + 1)}, step=step)
        run.flush()  # a segment each
    metrics = setup.remote / "runs" / run.id / "metrics"
    try:
        assert wb.sync("gpu", root=setup.local).runs == [run.id]
        before = sorted(p.name for p in (setup.local / "runs" / run.id / "metrics").glob("*.parquet"))
        assert len(before) >= 2
        segments.compact(metrics, fsync=False)
    finally:
        run.finish()
    after = sorted(p.name for p in metrics.glob("*.parquet"))
    assert not set(after) & set(before[:-1])  # the remote merged (and removed) the older segments
    result = wb.sync("gpu", root=setup.local)
    assert result.runs == [run.id]
    same_as_remote(setup, [run.id])


def test_a_cut_delta_transfer_leaves_the_previous_copy_whole(setup: Setup) -> None:
    big = next(r for r in wb.runs(root=setup.local)["run_id"] if wb.get_run(r, root=setup.local)["name"] == "big")
    before = snapshot(setup.local / "runs")
    # one listing without a change: what the server sends before the archive starts
    listing, _ = setup.sync()
    _log_big(setup.remote, big, 135_000, 200_000, 1, seed=4)  # a new ~2.4 MB segment
    newest = max((setup.remote / "runs" / big / "metrics").glob("*.parquet"), key=lambda p: p.stat().st_mtime)
    setup.relay.cut_after = listing + newest.stat().st_size // 2
    try:
        with pytest.raises(RemoteError, match="was lost"):
            wb.sync("gpu", root=setup.local)
    finally:
        setup.relay.cut_after = None
    assert setup.relay.cuts >= 1
    assert snapshot(setup.local / "runs") == before  # the previous copy, whole and unchanged
    assert not list((setup.local / "remote" / "gpu").glob("staging-*"))
    result = wb.sync("gpu", root=setup.local)
    assert result.runs == [big] and result.reused >= 1
    same_as_remote(setup, [big])

