"""Artifacts on demand (issue 5): sync brings a remote's artifact manifests into its mirror, and
``use_artifact("REMOTE:name:ref")`` fetches the missing blobs over SSH, resumably, verified by
digest. The remote store is filled by real workbench runs; the connection is a real sshd."""

from __future__ import annotations

import json
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
from workbench.errors import ArtifactNotFound, ConfigError, RemoteError
from workbench.remote import fetch_artifact, last_sync
from workbench.store.artifacts import open_artifacts


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _log_model(remote_root: Path, source: Path, *, name: str = "model", aliases: list[str] | None = None,
               **settings: object) -> None:
    run = wb.init(project="remote", name="producer", root=remote_root, capture_output=False,
                  system_metrics=False, fsync=False, **settings)
    run.log({"loss": 0.5}, step=0)
    run.log_artifact(source, name=name, type="model", aliases=aliases or [])
    run.finish()


@pytest.fixture
def stores(sshd: Sshd, tmp_path: Path) -> tuple[Path, Path, Path]:
    """(remote root, local root, source dir): a remote with two versions of "model"; local synced."""
    remote_root = tmp_path / "remote-store"
    make_runs(remote_root, 1)
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "config.json").write_text('{"layers": 2}')
    (source / "sub" / "weights.bin").write_bytes(os.urandom(5 * 1024 * 1024 + 123))  # chunked (> 4 MiB)
    _log_model(remote_root, source, aliases=["best"])
    (source / "config.json").write_text('{"layers": 3}')
    _log_model(remote_root, source)
    local = tmp_path / "local"
    configure(local, sshd, remote_root)
    return remote_root, local, source


def test_sync_mirrors_manifests_and_fetch_places_the_files(stores: tuple[Path, Path, Path]) -> None:
    _remote_root, local, source = stores
    # a local artifact of the same name must never be touched by the remote's
    local_src = local.parent / "local-src"
    local_src.mkdir()
    (local_src / "mine.txt").write_text("local")
    wb.log_artifact(local_src, name="model", root=local)
    local_manifests = snapshot(local / "artifacts" / "model")

    result = wb.sync("gpu", root=local)
    assert result.artifacts == ["model"] and result.refused == []
    mirror = local / "remote" / "gpu" / "artifacts" / "model"
    assert sorted(p.name for p in mirror.iterdir()) == ["aliases.json", "v1.json", "v2.json"]
    assert json.loads((mirror / "aliases.json").read_text()) == {"best": 1, "latest": 2}
    assert snapshot(local / "artifacts" / "model") == local_manifests
    info = last_sync("gpu", root=local)
    assert info is not None and info["artifacts"] == 1 and info["runs"] == 3

    events: list[tuple[int, int, int, int]] = []
    fetched = fetch_artifact("gpu:model:best", root=local, callback=lambda *a: events.append(a))
    assert fetched.ref == "gpu:model:v1" and fetched.blobs > 20  # whole config + 21 chunks of 256 KiB
    assert fetched.bytes == 5 * 1024 * 1024 + 123 + len('{"layers": 2}') and fetched.resumed_bytes == 0
    assert events[-1] == (fetched.blobs, fetched.blobs, fetched.bytes, fetched.bytes)
    v1 = _files(fetched.path)
    assert v1["config.json"] == b'{"layers": 2}'
    assert v1["sub/weights.bin"] == (source / "sub" / "weights.bin").read_bytes()
    assert fetched.path.is_relative_to(local / "cache" / "remote" / "gpu")

    # v2 shares the weights: only the new config comes over the connection
    path = wb.use_artifact("gpu:model:latest", root=local)
    assert _files(path) == _files(source)
    again = fetch_artifact("gpu:model:v2", root=local)
    assert again.blobs == 0 and again.bytes == 0 and again.path == path
    assert wb.use_artifact("model", root=local).joinpath("mine.txt").read_text() == "local"

    report = open_artifacts(local).fsck()
    assert report.ok and not report.corrupt and not report.missing
    open_artifacts(local).gc()  # the fetched blobs are referenced by the mirror: gc keeps them
    assert fetch_artifact("gpu:model:v1", root=local).blobs == 0


def test_fetch_records_the_using_run_and_the_cli_fetches(stores: tuple[Path, Path, Path],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    _, local, source = stores
    wb.sync("gpu", root=local)
    run = wb.init(project="local", root=local, capture_output=False, system_metrics=False, fsync=False)
    path = wb.use_artifact("gpu:model:v2", run=run, root=local)
    run.finish()
    assert _files(path) == _files(source)
    used = wb.get_run(run.id, root=local)["artifacts"]["used"]
    assert [(u["remote"], u["name"], u["version"]) for u in used] == [("gpu", "model", 2)]

    from workbench.cli import main

    dest = local.parent / "dest"
    assert main(["--root", str(local), "fetch", "gpu:model:best", "--dest", str(dest)]) == 0
    assert capsys.readouterr().out.strip() == str(dest)
    assert (dest / "config.json").read_text() == '{"layers": 2}'


def test_unknown_refs_say_what_to_do(stores: tuple[Path, Path, Path]) -> None:
    _, local, _ = stores
    with pytest.raises(ArtifactNotFound, match=r"as last synced from remote 'gpu'.*workbench sync gpu"):
        wb.use_artifact("gpu:model:latest", root=local)  # not synced yet
    wb.sync("gpu", root=local)
    with pytest.raises(ArtifactNotFound, match="no alias 'nope'"):
        wb.use_artifact("gpu:model:nope", root=local)
    with pytest.raises(ConfigError, match="not a valid remote name"):
        wb.use_artifact("GPU!:model:v1", root=local)


def test_a_cut_download_resumes_and_ends_verified(sshd: Sshd, tmp_path: Path) -> None:
    remote_root = tmp_path / "remote-store"
    source = tmp_path / "src"
    source.mkdir()
    payload = os.urandom(24 * 1024 * 1024)
    (source / "big.bin").write_bytes(payload)
    _log_model(remote_root, source, name="big", chunk_threshold=1 << 30)  # one 24 MiB blob
    local = tmp_path / "local"
    configure(local, sshd, remote_root)
    wb.sync("gpu", root=local)
    cut: list[int] = []

    def cut_halfway(files: int, total_files: int, done: int, total: int) -> None:
        if done > total // 3 and not cut:
            cut.append(sshd.kill_sessions())

    with pytest.raises(RemoteError, match=r"connection to remote 'gpu' .* was lost during the download"):
        fetch_artifact("gpu:big:v1", root=local, callback=cut_halfway)
    assert cut and cut[0] >= 1
    partials = [p for p in (local / "blobs" / "partial").iterdir() if p.name != ".lock"]
    assert len(partials) == 1 and 0 < partials[0].stat().st_size < len(payload)
    held = partials[0].stat().st_size
    assert not (local / "blobs" / "sha256").exists() or not any((local / "blobs" / "sha256").rglob("*"))
    assert not (local / "cache" / "remote").exists()
    assert open_artifacts(local).fsck().ok

    result = fetch_artifact("gpu:big:v1", root=local)
    # resumed from the partial: from its whole length, or (when the bytes received just before the
    # cut were not the blob's, as seen under load) from the largest whole MiB before it that the
    # remote's copy agrees with; never downloaded twice
    assert held - 8 * 1024 * 1024 <= result.resumed_bytes <= held and result.blobs == 1
    assert result.resumed_bytes == held or result.resumed_bytes % (1024 * 1024) == 0
    assert result.bytes == len(payload) - result.resumed_bytes
    assert (result.path / "big.bin").read_bytes() == payload
    assert [p.name for p in (local / "blobs" / "partial").iterdir() if p.name != ".lock"] == []
    report = open_artifacts(local).fsck()
    assert report.ok and report.blobs == 1


def test_a_partial_that_is_not_a_prefix_is_fetched_again(sshd: Sshd, tmp_path: Path) -> None:
    remote_root = tmp_path / "remote-store"
    source = tmp_path / "src"
    source.mkdir()
    payload = os.urandom(3 * 1024 * 1024)
    (source / "model.bin").write_bytes(payload)
    _log_model(remote_root, source, name="m")
    local = tmp_path / "local"
    configure(local, sshd, remote_root)
    wb.sync("gpu", root=local)
    digest = json.loads((local / "remote" / "gpu" / "artifacts" / "m" / "v1.json").read_text())["files"][0]["digest"]
    partial = local / "blobs" / "partial"
    partial.mkdir(parents=True)
    (partial / digest).write_bytes(b"garbage left by something else")
    result = fetch_artifact("gpu:m:v1", root=local)
    assert (result.path / "model.bin").read_bytes() == payload
    garbage = len(b"garbage left by something else")
    # the remote's copy does not agree with the partial's prefix: fetched whole, once
    assert garbage and result.resumed_bytes == 0 and result.bytes == len(payload)
    assert not (partial / digest).exists()
    assert open_artifacts(local).fsck().ok


def test_a_remote_blob_that_does_not_match_its_digest_is_refused(stores: tuple[Path, Path, Path]) -> None:
    remote_root, local, _ = stores
    wb.sync("gpu", root=local)
    manifest = json.loads((local / "remote" / "gpu" / "artifacts" / "model" / "v2.json").read_text())
    config = next(f for f in manifest["files"] if f["path"] == "config.json")
    blob = remote_root / "blobs" / "sha256" / config["digest"][:2] / config["digest"]
    blob.chmod(0o644)
    blob.write_bytes(b'{"layers": 9}')  # same length, other content: a damaged remote copy
    with pytest.raises(RemoteError, match=r"does not match its SHA-256 digest.*nothing was stored"):
        wb.use_artifact("gpu:model:v2", root=local)
    sha = local / "blobs" / "sha256"
    assert not (sha / config["digest"][:2] / config["digest"]).exists()
    assert open_artifacts(local).fsck().ok
    assert not (local / "cache" / "remote").exists()
