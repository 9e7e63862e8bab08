"""Issue 18, "Correct diagnoses": a full local disk during sync and fetch is a StoreError naming
the path; a link cut mid-sync is one clean error line (paramiko's log never reaches the terminal);
listing entries with a NUL in a path, an absurd size or a bad mtime are refused, naming them;
artifact manifests whose chunks disagree with their sizes never enter the mirror; fsck and gc know
the blobs fetched for mirrored manifests; ``remote add --init`` creates a store for a jobs-only host.

One sshd for the module; its PATH puts a directory first whose ``find`` and ``tar`` pass through
to the real ones unless the test leaves a crafted listing (``manifest.bin``) or a slow-tar flag.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _mounts import fill, tmpfs
from _sshd import Sshd, configure, make_runs, start_sshd, trust
from conftest import require_module

import workbench as wb
from workbench.errors import RemoteError, StoreError
from workbench.remote import fetch_artifact
from workbench.store.artifacts import open_artifacts


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sshd, Path]]:
    require_module("fabric")
    base = tmp_path_factory.mktemp("diag")
    bin_dir = base / "bin"
    bin_dir.mkdir()
    real_find, real_tar = shutil.which("find"), shutil.which("tar")
    (bin_dir / "find").write_text(f'#!/bin/sh\ncase "$*" in *A%y*|*E%y*) exec {real_find} "$@";; esac\n'
                                  f'if [ -f {base}/manifest.bin ]; then cat {base}/manifest.bin; '
                                  f'else exec {real_find} "$@"; fi\n')
    # with slow-tar present: the first 64 KiB of the archive, then a pause (the test cuts the link there)
    (bin_dir / "tar").write_text(f'#!/bin/sh\nif [ -f {base}/slow-tar ]; then {real_tar} "$@" | '
                                 f'{{ head -c 65536; sleep 30; cat; }}; else exec {real_tar} "$@"; fi\n')
    for script in ("find", "tar"):
        (bin_dir / script).chmod(0o755)
    sshd = start_sshd(base / "sshd", env={"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin"})
    yield sshd, base
    sshd.stop()


@pytest.fixture
def crafted(server: tuple[Sshd, Path]) -> Iterator[Path]:
    yield server[1]
    for name in ("manifest.bin", "slow-tar"):
        (server[1] / name).unlink(missing_ok=True)


def cli(*args: str, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True,
                          env={**os.environ, "WORKBENCH_ROOT": str(root)}, timeout=120, check=False)


def _log_model(remote_root: Path, source: Path, name: str = "model") -> None:
    run = wb.init(project="remote", root=remote_root, capture_output=False, system_metrics=False, fsync=False)
    run.log_artifact(source, name=name, type="model")
    run.finish()


def test_a_full_local_disk_is_a_store_error_naming_the_path(server: tuple[Sshd, Path], tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.cli import main

    sshd, _ = server
    remote_root = tmp_path / "remote-store"
    make_runs(remote_root, 1)
    source = tmp_path / "src"
    source.mkdir()
    (source / "weights.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    _log_model(remote_root, source)
    with tmpfs(tmp_path / "disk", size="8m") as disk:
        local = disk / "store"
        configure(local, sshd, remote_root)
        assert wb.sync("gpu", root=local).artifacts == ["model"]
        fill(disk)
        with pytest.raises(StoreError, match=r"cannot write .*blobs/partial/[0-9a-f]{64} while fetching "
                                             r"gpu:model:v1: No space left on device"):
            fetch_artifact("gpu:model:v1", root=local, progress="never")
        capsys.readouterr()
        assert main(["--root", str(local), "fetch", "gpu:model:v1", "--progress", "never"]) == 1
        err = capsys.readouterr().err
        assert "No space left on device" in err and "lost" not in err and err.count("\n") == 1, err
        # sync: a new run over there, no room here
        make_runs(remote_root, 1, steps=2000)
        with pytest.raises(StoreError, match=r"cannot write .* under .*remote/gpu/staging-.* while syncing "
                                             r"remote 'gpu': No space left on device; free space"):
            wb.sync("gpu", root=local, progress="never")
        done = cli("sync", "gpu", "--progress", "never", root=local)
        assert done.returncode == 2 and "No space left on device" in done.stderr, done.stderr
        assert "lost" not in done.stderr and "Traceback" not in done.stderr
        assert not list((local / "remote" / "gpu").glob("staging-*"))
        (disk / "filler").unlink()  # room again: both complete
        assert len(wb.sync("gpu", root=local).runs) == 1
        assert fetch_artifact("gpu:model:v1", root=local, progress="never").blobs >= 1


def test_a_link_cut_mid_sync_is_one_clean_line(server: tuple[Sshd, Path], crafted: Path, tmp_path: Path) -> None:
    sshd, base = server
    remote_root = tmp_path / "remote-store"
    make_runs(remote_root, 4, steps=3000)  # an archive of a few hundred KiB: tar pauses after 64 KiB
    local = tmp_path / "local"
    configure(local, sshd, remote_root)
    (base / "slow-tar").touch()
    process = subprocess.Popen([sys.executable, "-m", "workbench", "sync", "gpu", "--progress", "never"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "WORKBENCH_ROOT": str(local)})
    deadline = time.monotonic() + 30
    while not list((local / "remote" / "gpu").glob("staging-*")):  # the archive is streaming
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.02)
    time.sleep(0.3)
    assert sshd.kill_sessions() >= 1
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2, err
    assert err.startswith("workbench: error: connection to remote 'gpu'") and "was lost" in err, err
    assert err.count("\n") == 1 and "Traceback" not in err and "paramiko" not in err.lower(), err
    assert not (local / "runs").exists() or not any((local / "runs").iterdir())


def _corrupting_proxy(target: int, after: int) -> tuple[int, socket.socket]:
    """A TCP proxy to 127.0.0.1:``target`` that flips one byte of what the server sends once
    ``after`` bytes have passed: paramiko's transport thread then fails mid-way (a MAC error), the
    case in which it logs a traceback."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def pump(source: socket.socket, sink: socket.socket, corrupt: bool) -> None:
        passed = 0
        try:
            while data := source.recv(65536):
                if corrupt and passed < after <= passed + len(data):
                    data = bytearray(data)
                    data[after - passed] ^= 0xFF
                passed += len(data)
                sink.sendall(bytes(data))
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = listener.accept()
                upstream = socket.create_connection(("127.0.0.1", target))
                threading.Thread(target=pump, args=(client, upstream, False), daemon=True).start()
                threading.Thread(target=pump, args=(upstream, client, True), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], listener


def test_a_link_broken_mid_sync_prints_no_paramiko_traceback(server: tuple[Sshd, Path], tmp_path: Path) -> None:
    sshd, _ = server
    remote_root = tmp_path / "remote-store"
    make_runs(remote_root, 4, steps=3000)
    local = tmp_path / "local"
    # inside the archive (about 5 KB come before it; it comes gzipped, about 30 KB)
    port, listener = _corrupting_proxy(sshd.port, after=15_000)
    try:
        configure(local, sshd, remote_root, port=port)
        path = local / "remote" / "known_hosts"  # the proxy's address must be known
        path.write_text(path.read_text().replace(f"]:{sshd.port} ", f"]:{port} "))
        done = cli("sync", "gpu", "--progress", "never", root=local)
    finally:
        listener.close()
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("workbench: error: connection to remote 'gpu'") and "lost" in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert "Exception" not in done.stderr and "paramiko" not in done.stderr


def test_hostile_listing_entries_are_refused_naming_them(server: tuple[Sshd, Path], crafted: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.cli import main

    sshd, base = server
    remote_root = tmp_path / "remote-store"
    good, nul, negative, huge, nan, far = sorted(make_runs(remote_root, 6))
    # a user's file whose name holds a tab, a newline and a byte that is not UTF-8: not copied,
    # and no reason to refuse its run
    (remote_root / "runs" / good / "files").mkdir(exist_ok=True)
    (remote_root / "runs" / good / "files" / os.fsdecode(b"we\tird\nname\xff")).write_text("x")
    real = subprocess.run(["find", ".", "-mindepth", "1", "-maxdepth", "3", "-printf", r"%y\t%P\t%s\t%T@\0"],
                          cwd=remote_root / "runs", check=True, capture_output=True).stdout
    entries = [e for e in real.split(b"\0") if e]
    tampered = []
    for entry in entries:
        kind, rest = entry.split(b"\t", 1)
        path, size, mtime = rest.rsplit(b"\t", 2)
        run_id = path.split(b"/")[0].decode()
        line = entry
        if path.endswith(b"/run.json"):
            if run_id == nul:  # a NUL inside the path: the listing splits the entry in two
                line = kind + b"\t" + path[:-4] + b"\0" + b"evil/" + path + b"\t" + size + b"\t" + mtime
            elif run_id == negative:
                line = b"\t".join([kind, path, b"-1", mtime])
            elif run_id == huge:
                line = b"\t".join([kind, path, str(10**19).encode(), mtime])
            elif run_id == nan:
                line = b"\t".join([kind, path, size, b"nan"])
            elif run_id == far:
                line = b"\t".join([kind, path, size, b"99999999999.5"])
        tampered.append(line)
    (base / "manifest.bin").write_bytes(b"".join(e + b"\0" for e in tampered))
    local = tmp_path / "local"
    configure(local, sshd, remote_root)
    result = wb.sync("gpu", root=local)
    refused = "\n".join(result.refused)
    assert f"refused a manifest line of run '{nul}' that does not parse (2 tab-separated fields, not 4" in refused
    assert f"run '{negative}' that does not parse (size b'-1' is not a number of bytes)" in refused
    assert f"run '{huge}' that does not parse (size b'10000000000000000000' is not a number of bytes)" in refused
    assert f"run '{nan}' that does not parse (mtime b'nan' is not a time" in refused
    assert f"run '{far}' that does not parse (mtime b'99999999999.5' is not a time" in refused
    assert result.runs == [good]
    assert sorted(p.name for p in (local / "runs").iterdir()) == [good]
    assert not (local / "runs" / "evil").exists()
    capsys.readouterr()
    assert main(["--root", str(local), "sync", "gpu", "--progress", "never"]) == 1  # refused again, each named
    err = capsys.readouterr().err
    assert err.count("workbench: refused:") == 6, err


def test_an_artifact_manifest_whose_chunks_disagree_stays_out_of_the_mirror(
        server: tuple[Sshd, Path], tmp_path: Path) -> None:
    sshd, _ = server
    remote_root = tmp_path / "remote-store"
    source = tmp_path / "src"
    source.mkdir()
    (source / "weights.bin").write_bytes(os.urandom(5 * 1024 * 1024))  # chunked (> 4 MiB)
    _log_model(remote_root, source, "good")
    _log_model(remote_root, source, "absurd")
    path = remote_root / "artifacts" / "absurd" / "v1.json"
    manifest = json.loads(path.read_text())
    (entry,) = manifest["files"]
    assert entry.get("chunks")
    entry["size"] = 2**62  # passes the schema (a count), but not its chunks
    path.write_text(json.dumps(manifest))
    local = tmp_path / "local"
    configure(local, sshd, remote_root)
    result = wb.sync("gpu", root=local)
    assert result.artifacts == ["good"]
    assert any(f"refused artifact 'absurd': manifest artifacts/absurd/v1.json: files[0] ('weights.bin') has "
               f"{len(entry['chunks'])} chunks" in r for r in result.refused), result.refused
    assert not (local / "remote" / "gpu" / "artifacts" / "absurd").exists()


def test_fsck_and_gc_know_the_blobs_fetched_for_a_mirror(server: tuple[Sshd, Path], tmp_path: Path) -> None:
    sshd, _ = server
    remote_root = tmp_path / "remote-store"
    source = tmp_path / "src"
    source.mkdir()
    (source / "weights.bin").write_bytes(os.urandom(100_000))
    _log_model(remote_root, source)
    # a run with images: their bytes stay on the remote until read (not "missing" here)
    run = wb.init(project="remote", root=remote_root, capture_output=False, system_metrics=False, fsync=False)
    for step in range(2):
        run.log({"pred": wb.Image(np.full((8, 8, 3), step * 100, dtype=np.uint8))}, step=step)
    run.finish()
    local = tmp_path / "local"
    configure(local, sshd, remote_root)
    synced = wb.sync("gpu", root=local)
    assert synced.artifacts == ["model"] and run.id in synced.runs
    report = wb.fsck(root=local)
    assert report.ok, report.findings  # not "missing blob": the media bytes stay on the remote
    fetched = fetch_artifact("gpu:model:v1", root=local, progress="never")
    assert fetched.blobs == 1
    wb.load_media(wb.media(run.id, root=local).iloc[1], root=local)  # one image's bytes come now
    blobs = [p for p in (local / "blobs").rglob("*") if p.is_file() and len(p.name) == 64]
    assert len(blobs) == 2
    done = cli("fsck", root=local)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 blob(s) no version references" in done.stdout and done.stdout.rstrip().endswith("ok")
    assert wb.fsck(root=local).unreferenced == 0
    assert open_artifacts(local).gc().blobs == 0
    assert all(p.is_file() for p in blobs)  # kept: a mirrored manifest, a synced run's media index name them
    assert (wb.use_artifact("gpu:model:v1", root=local) / "weights.bin").read_bytes() == \
        (source / "weights.bin").read_bytes()


def test_remote_add_init_creates_a_store_for_a_jobs_only_host(server: tuple[Sshd, Path], tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.cli import main

    sshd, _ = server
    local = tmp_path / "local"
    local.mkdir()
    trust(local, sshd)
    missing = tmp_path / "nothing-yet" / "store"
    common = ["--root", str(local), "remote", "add", "gpu", "--host", sshd.host, "--port", str(sshd.port),
              "--user", sshd.user, "--key", str(sshd.client_key), "--root", str(missing), "--python", sys.executable]
    assert main([*common, "--trust-new-host"]) == 1
    err = capsys.readouterr().err
    assert f"has no directory {missing}: add the remote with --init" in err, err
    assert not missing.exists()  # nothing created, and the remote not added
    assert not (local / "workbench.toml").exists() or "[remotes.gpu]" not in (local / "workbench.toml").read_text()
    assert main([*common, "--init"]) == 0, capsys.readouterr().err
    assert f"created the store {missing}" in capsys.readouterr().out
    assert (missing / "runs").is_dir() and (missing.stat().st_mode & 0o777) == 0o700
    assert wb.sync("gpu", root=local).runs == []  # a store there now (empty)
    assert main([*common, "--init"]) == 0  # again: nothing to create, still fine
    assert "created" not in capsys.readouterr().out
    shutil.rmtree(missing.parent)
    with pytest.raises(RemoteError, match=f"has no directory {missing}"):
        wb.sync("gpu", root=local)
