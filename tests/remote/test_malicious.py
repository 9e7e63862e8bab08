"""Acceptance 4: a hostile remote. Its sshd puts a directory first on PATH whose `find` and `tar`
send a crafted manifest or archive (`../` paths, absolute paths, symlinks and hard links out of
the store, a huge file posing as a run record). The sync refuses those entries with a clear
message, copies the honest runs, and writes nothing outside the local store."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from _sshd import Sshd, configure, make_runs, snapshot, start_sshd
from conftest import require_module

import workbench as wb
from workbench.remote._manifest import MAX_RECORD_BYTES


@pytest.fixture(scope="module")
def evil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sshd, Path]]:
    require_module("fabric")
    base = tmp_path_factory.mktemp("evil")
    bin_dir = base / "bin"
    bin_dir.mkdir()
    real_find, real_tar = shutil.which("find"), shutil.which("tar")
    # the artifact listing (its -printf starts with 'A') is the real one unless artifacts.bin exists;
    # the environments listing ('E') is always the real one
    (bin_dir / "find").write_text(f'#!/bin/sh\ncase "$*" in *A%y*) if [ -f {base}/artifacts.bin ]; then '
                                  f'cat {base}/artifacts.bin; exit 0; fi; exec {real_find} "$@";; '
                                  f'*E%y*) exec {real_find} "$@";; esac\n'
                                  f'if [ -f {base}/manifest.bin ]; then cat {base}/manifest.bin; '
                                  f'else exec {real_find} "$@"; fi\n')
    (bin_dir / "tar").write_text(f'#!/bin/sh\nif [ -f {base}/archive.tar ]; then cat >/dev/null; '
                                 f'cat {base}/archive.tar; else exec {real_tar} "$@"; fi\n')
    for script in ("find", "tar"):
        (bin_dir / script).chmod(0o755)
    server = start_sshd(base / "sshd", env={"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin"})
    yield server, base
    server.stop()


@pytest.fixture
def setup(evil: tuple[Sshd, Path], tmp_path: Path) -> Iterator[tuple[Path, Path, Path, list[str]]]:
    server, base = evil
    remote_root = tmp_path / "remote-store"
    ids = sorted(make_runs(remote_root, 3))
    local = tmp_path / "area" / "local"
    configure(local, server, remote_root)
    yield base, remote_root, local, ids
    for name in ("manifest.bin", "archive.tar", "artifacts.bin"):
        (base / name).unlink(missing_ok=True)


def _outside(tmp_path: Path, local: Path) -> dict[str, bytes]:
    files = snapshot(tmp_path)
    return {k: v for k, v in files.items() if not k.startswith(str(local.relative_to(tmp_path)))}


def _real_manifest(remote_root: Path) -> bytes:
    return subprocess.run(["find", ".", "-mindepth", "1", "-maxdepth", "3", "-printf", r"%y\t%P\t%s\t%T@\0"],
                          cwd=remote_root / "runs", check=True, capture_output=True).stdout


def test_a_hostile_manifest_is_refused_entry_by_entry(setup: tuple[Path, Path, Path, list[str]],
                                                      tmp_path: Path) -> None:
    base, remote_root, local, (good, symlinked, huge) = setup
    manifest = b"".join(line + b"\0" for line in _real_manifest(remote_root).split(b"\0")
                        if line and not line.split(b"\t")[1].startswith((symlinked.encode(), huge.encode())))
    manifest += (b"f\t../escape/run.json\t10\t1.0\0"
                 b"f\t/etc/cron.d/evil\t10\t1.0\0"
                 + f"f\t{symlinked}/metrics/../../../escape.parquet\t10\t1.0\0".encode()
                 + f"d\t{symlinked}\t4096\t1.0\0l\t{symlinked}/run.json\t11\t1.0\0".encode()
                 + f"d\t{huge}\t4096\t1.0\0f\t{huge}/run.json\t{10**10}\t1.0\0".encode()
                 + b"garbage without tabs\0")
    (base / "manifest.bin").write_bytes(manifest)
    before = _outside(tmp_path, local)
    result = wb.sync("gpu", root=local)
    refused = "\n".join(result.refused)
    assert "refused '../escape/run.json': a path with '..'" in refused
    assert "refused '/etc/cron.d/evil': an absolute path" in refused
    assert f"refused '{symlinked}/metrics/../../../escape.parquet': a path with '..'" in refused
    assert f"refused '{symlinked}/run.json': not a regular file (find type 'l'" in refused
    assert f"refused '{huge}/run.json': 10000000000 bytes is more than a record may hold" in refused
    assert "a manifest line that does not parse" in refused
    # a run that named a bad entry is refused whole; the honest one is copied
    assert result.runs == [good]
    assert sorted(p.name for p in (local / "runs").iterdir()) == [good]
    assert _outside(tmp_path, local) == before
    assert not (tmp_path / "area" / "escape").exists() and not (local / "escape").exists()


def _add(archive: tarfile.TarFile, name: str, data: bytes = b"", **fields: object) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    archive.addfile(info, io.BytesIO(data) if info.isreg() else None)


def test_a_hostile_archive_is_refused_member_by_member(setup: tuple[Path, Path, Path, list[str]],
                                                       tmp_path: Path) -> None:
    base, remote_root, local, (good, symlinked, huge) = setup
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for path in sorted((remote_root / "runs" / good).rglob("*")):
            rel = str(path.relative_to(remote_root / "runs"))
            if path.is_file() and "/files/" not in rel:
                _add(archive, f"runs/{rel}", path.read_bytes())
        _add(archive, "../escape.txt", b"owned")
        _add(archive, str(tmp_path / "absolute.txt"), b"owned")
        _add(archive, f"runs/{symlinked}/run.json", type=tarfile.SYMTYPE, linkname="/etc/passwd")
        _add(archive, f"runs/{symlinked}/metrics/s-00000000.parquet", type=tarfile.LNKTYPE,
             linkname="../../escape.txt")
        _add(archive, f"runs/{huge}/run.json", b"{" + b" " * (MAX_RECORD_BYTES + 10) + b"}")
        _add(archive, f"runs/{huge}/metrics/dev", type=tarfile.CHRTYPE)
        _add(archive, "runs/zzzz-not-asked/run.json", b"{}")
    (base / "archive.tar").write_bytes(buffer.getvalue())
    before = _outside(tmp_path, local)
    result = wb.sync("gpu", root=local)
    refused = "\n".join(result.refused)
    assert "refused archive member '../escape.txt': a path with '..'" in refused
    assert f"refused archive member '{tmp_path / 'absolute.txt'}': an absolute path" in refused
    assert f"refused archive member '{symlinked}/run.json': not a regular file" in refused
    assert f"refused archive member '{symlinked}/metrics/s-00000000.parquet': not a regular file" in refused
    assert f"refused archive member '{huge}/run.json': {MAX_RECORD_BYTES + 12} bytes is more than a record" in refused
    assert "refused archive member 'zzzz-not-asked/run.json': it was not asked for" in refused
    assert result.runs == [good]
    assert sorted(p.name for p in (local / "runs").iterdir()) == [good]
    assert wb.get_run(good, root=local)["remote"] == "gpu"
    assert _outside(tmp_path, local) == before
    assert not (tmp_path / "absolute.txt").exists() and not (local / "remote" / "escape.txt").exists()
    # nothing refused went into the cursor: once the remote behaves, the rest comes
    (base / "archive.tar").unlink()
    assert sorted(wb.sync("gpu", root=local).runs) == sorted([symlinked, huge])


def test_real_symlinks_in_the_remote_store_are_refused(setup: tuple[Path, Path, Path, list[str]],
                                                       tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, remote_root, local, (good, linked_record, linked_metrics) = setup
    secret = tmp_path / "secret.json"
    secret.write_text(f'{{"id": "{linked_record}", "format": 1}}')
    record = remote_root / "runs" / linked_record / "run.json"
    record.unlink()
    os.symlink(secret, record)
    metrics = remote_root / "runs" / linked_metrics / "metrics"
    shutil.rmtree(metrics)
    os.symlink(tmp_path, metrics)
    before = _outside(tmp_path, local)
    from workbench.cli import main

    assert main(["--root", str(local), "sync", "gpu"]) == 1  # refusals: exit status 1
    captured = capsys.readouterr()
    assert "synced 1 runs from 'gpu'" in captured.out
    refused = captured.err
    assert refused.count("workbench: refused: remote 'gpu': refused") == 2
    assert f"'{linked_record}/run.json': not a regular file (find type 'l'" in refused
    assert f"'{linked_metrics}/metrics': the metrics directory is not a directory (find type 'l')" in refused
    assert sorted(p.name for p in (local / "runs").iterdir()) == [good]
    assert _outside(tmp_path, local) == before


def _remote_artifact(remote_root: Path, tmp_path: Path, name: str) -> Path:
    source = tmp_path / f"src-{name}"
    source.mkdir()
    (source / "weights.bin").write_bytes(b"w" * 1000)
    run = wb.init(project="remote", root=remote_root, capture_output=False, system_metrics=False, fsync=False)
    run.log_artifact(source, name=name, type="model")
    run.finish()
    return remote_root / "artifacts" / name / "v1.json"


def test_hostile_artifact_manifests_are_refused(setup: tuple[Path, Path, Path, list[str]], tmp_path: Path) -> None:
    _, remote_root, local, _ = setup
    _remote_artifact(remote_root, tmp_path, "good")
    climbing = _remote_artifact(remote_root, tmp_path, "climbing")
    manifest = json.loads(climbing.read_text())
    manifest["files"][0]["path"] = "../../../escape.bin"
    climbing.write_text(json.dumps(manifest))
    bad_digest = _remote_artifact(remote_root, tmp_path, "baddigest")
    manifest = json.loads(bad_digest.read_text())
    manifest["files"][0]["digest"] = "../../../../etc/passwd"
    bad_digest.write_text(json.dumps(manifest))
    linked = _remote_artifact(remote_root, tmp_path, "linked")
    (linked.parent / "aliases.json").unlink()
    os.symlink("/etc/passwd", linked.parent / "aliases.json")
    before = _outside(tmp_path, local)

    result = wb.sync("gpu", root=local)
    refused = "\n".join(result.refused)
    assert "refused artifact 'climbing': manifest" in refused and "malformed file entry" in refused
    assert "refused artifact 'baddigest': manifest" in refused
    assert "refused artifact file 'linked/aliases.json': not a regular file (find type 'l')" in refused
    assert result.artifacts == ["good"]
    mirror = local / "remote" / "gpu" / "artifacts"
    assert sorted(p.name for p in mirror.iterdir()) == ["good"]
    assert not (local / "artifacts").exists() or not any((local / "artifacts").iterdir())
    with pytest.raises(wb.errors.ArtifactNotFound, match="no artifact named 'climbing'"):
        wb.use_artifact("gpu:climbing:v1", root=local)
    assert (wb.use_artifact("gpu:good:v1", root=local) / "weights.bin").read_bytes() == b"w" * 1000
    assert _outside(tmp_path, local) == before
    assert not list(tmp_path.rglob("escape.bin"))
    from workbench.store.artifacts import open_artifacts

    assert open_artifacts(local).fsck().ok


def test_a_hostile_artifact_listing_is_refused(setup: tuple[Path, Path, Path, list[str]], tmp_path: Path) -> None:
    base, remote_root, local, _ = setup
    _remote_artifact(remote_root, tmp_path, "good")
    real = subprocess.run(["find", ".", "-mindepth", "1", "-maxdepth", "2", "-printf", r"A%y\t%P\t%s\t%T@\0"],
                          cwd=remote_root / "artifacts", check=True, capture_output=True).stdout
    (base / "artifacts.bin").write_bytes(real + b"Af\t../../escape/v1.json\t10\t1.0\0"
                                         b"Af\t/etc/v1.json\t10\t1.0\0"
                                         b"Af\thuge/v1.json\t999999999999\t1.0\0")
    before = _outside(tmp_path, local)
    result = wb.sync("gpu", root=local)
    refused = "\n".join(result.refused)
    assert "refused artifact file '../../escape/v1.json': a path with '..'" in refused
    assert "refused artifact file '/etc/v1.json': an absolute path" in refused
    assert "refused artifact file 'huge/v1.json': 999999999999 bytes is more than an artifact manifest" in refused
    assert result.artifacts == ["good"]
    assert _outside(tmp_path, local) == before
