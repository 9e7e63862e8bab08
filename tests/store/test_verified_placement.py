"""Verified placement (issue 12, acceptance 4): one byte of a blob is flipped; ``use_artifact`` and
``workbench artifacts get`` refuse to place it with an error naming the file and the fix,
``workbench fsck --repair`` quarantines it and names the versions that lost files, and ``fsck``
keeps reporting the loss (exit 1) until it is restored or the version deleted. The fetch path
(``REMOTE:name:vN`` and the SyncPanel) is tested in tests/remote/test_verified_fetch.py."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import require_module

import workbench as wb
from workbench.errors import ArtifactError
from workbench.settings import save_settings

CHUNK = 64 * 1024


def wb_process(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120, check=False)


def blob(root: Path, digest: str) -> Path:
    return root / "blobs" / "sha256" / digest[:2] / digest


def flip_one_byte(path: Path, *, keep_mtime: bool = False) -> None:
    """Change one byte in place, as a failing disk or an edit through a writable hard link would."""
    before = os.stat(path)
    os.chmod(path, 0o600)
    with open(path, "r+b") as handle:
        handle.seek(before.st_size // 2)
        byte = handle.read(1)
        handle.seek(before.st_size // 2)
        handle.write(bytes([byte[0] ^ 0x01]))
    os.chmod(path, 0o400)
    if keep_mtime:  # what bit rot looks like: no write time changes
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.fixture
def model(root: Path, tmp_path: Path) -> dict[str, object]:
    """``model:v1``: config.json (one whole-file blob, hard-linked when placed) and weights.bin
    (chunked: reassembled from 64 KiB chunk blobs when placed)."""
    save_settings(root, chunk_size=CHUNK, chunk_threshold=CHUNK)
    src = tmp_path / "model"
    src.mkdir()
    (src / "config.json").write_text('{"layers": 2}')
    weights = os.urandom(5 * CHUNK + 123)
    (src / "weights.bin").write_bytes(weights)
    wb.log_artifact(src, "model", type="model", root=root)
    return {"src": src, "weights": weights}


def _victim(root: Path, model: dict[str, object], which: str) -> tuple[str, Path]:
    """(the artifact file, the blob that holds it or its third chunk) for ``which`` file kind."""
    from workbench.store.artifacts import open_artifacts

    files = {f["path"]: f for f in open_artifacts(root).manifest("model:v1")["files"]}
    if which == "chunked":
        return "weights.bin", blob(root, files["weights.bin"]["chunks"][2])
    return "config.json", blob(root, files["config.json"]["digest"])


@pytest.mark.parametrize(("which", "link_mode"), [("whole", "auto"), ("whole", "copy"), ("chunked", "auto")])
def test_a_flipped_byte_is_never_placed(root: Path, model: dict[str, object], tmp_path: Path, which: str,
                                        link_mode: str) -> None:
    save_settings(root, link_mode=link_mode)
    name, victim = _victim(root, model, which)
    flip_one_byte(victim)

    dest = tmp_path / "placed"
    with pytest.raises(ArtifactError) as caught:
        wb.use_artifact("model:v1", dest, root=root)
    message = str(caught.value)
    assert name in message and str(victim) in message and "workbench fsck --repair" in message
    assert not dest.exists() and not list(tmp_path.glob(".placed*"))  # nothing placed, no temp left
    with pytest.raises(ArtifactError, match="fsck --repair"):
        wb.use_artifact("model:v1", root=root)  # into the cache: refused as well
    assert not (root / "cache" / "artifacts" / "model" / "v1").exists()

    process = wb_process("artifacts", "get", "model:v1", "--dest", str(dest))
    assert process.returncode == 1 and "Traceback" not in process.stderr
    assert name in process.stderr and str(victim) in process.stderr and "workbench fsck --repair" in process.stderr
    assert process.stdout == "" and not dest.exists()


def test_a_cached_placement_is_checked_before_it_is_handed_out_again(root: Path, model: dict[str, object]) -> None:
    placed = wb.use_artifact("model:v1", root=root)
    _, config = _victim(root, model, "whole")
    assert os.path.samefile(placed / "config.json", config)
    flip_one_byte(config)  # the cached hard link is the blob
    with pytest.raises(ArtifactError, match=r"config\.json"):
        wb.use_artifact("model:v1", root=root)
    # a cached copy that someone edited is placed again from the (intact) blobs
    os.chmod(config, 0o600)
    config.write_text('{"layers": 2}')
    placed = wb.use_artifact("model:v1", root=root)
    (placed / "weights.bin").write_bytes(b"\0" * len(model["weights"]))  # type: ignore[arg-type]
    again = wb.use_artifact("model:v1", root=root)
    assert (again / "weights.bin").read_bytes() == model["weights"]


def test_fsck_repair_quarantines_the_blob_and_names_the_versions_that_lost_files(
    root: Path, model: dict[str, object], tmp_path: Path
) -> None:
    src: Path = model["src"]  # type: ignore[assignment]
    (src / "config.json").write_text('{"layers": 3}')  # v2 shares the chunks of weights.bin
    wb.log_artifact(src, "model", type="model", root=root)
    _, victim = _victim(root, model, "chunked")
    digest = victim.name
    flip_one_byte(victim)

    found = wb_process("fsck")
    assert found.returncode == 1 and f"corrupt blob {digest}" in found.stderr
    assert "model:v1 weights.bin" in found.stderr and "model:v2 weights.bin" in found.stderr

    repaired = wb_process("fsck", "--repair")
    assert repaired.returncode == 1, repaired.stderr  # something was found (and repaired)
    assert f"quarantined corrupt blob {digest}" in repaired.stderr
    assert "versions that lost files: model:v1 weights.bin; model:v2 weights.bin" in repaired.stderr
    assert not victim.exists()
    moved = list((root / "quarantine").glob(f"{digest}-*"))
    assert len(moved) == 1 and moved[0].stat().st_size == CHUNK  # kept for inspection, not deleted

    after = wb_process("fsck")  # the loss stays a finding, named, with what to do
    assert after.returncode == 1
    assert f"missing blob: blob {digest} is missing" in after.stderr
    assert "model:v1 weights.bin" in after.stderr and "workbench artifacts rm" in after.stderr
    with pytest.raises(ArtifactError, match="missing"):
        wb.use_artifact("model:v2", tmp_path / "v2", root=root)
    assert not (tmp_path / "v2").exists()

    wb_process("artifacts", "rm", "model", "--yes")
    clean = wb_process("fsck")
    assert clean.returncode == 0 and clean.stdout.rstrip().endswith("ok")


def test_fsck_repair_restores_a_blob_from_an_intact_cached_copy(root: Path, model: dict[str, object],
                                                               tmp_path: Path) -> None:
    wb.use_artifact("model:v1", root=root)  # weights.bin reassembled in the cache: a copy of its chunks
    _, victim = _victim(root, model, "chunked")
    flip_one_byte(victim)
    result = wb.fsck(repair=True, root=root)
    assert not result.ok and result.findings == []
    assert [q["digest"] for q in result.quarantined] == [victim.name] and result.quarantined[0]["lost"] == []
    assert result.quarantined[0]["restored_from"].endswith("weights.bin")
    # the intact cached copy it came from stays (a running job may be reading it)
    assert Path(result.quarantined[0]["restored_from"]).read_bytes() == model["weights"]
    assert wb.fsck(root=root).ok
    placed = wb.use_artifact("model:v1", tmp_path / "placed", root=root)
    assert (placed / "weights.bin").read_bytes() == model["weights"]


def test_verify_placement_copies_skips_hard_links_only(root: Path, model: dict[str, object], tmp_path: Path) -> None:
    save_settings(root, verify_placement="copies")
    _, victim = _victim(root, model, "whole")
    flip_one_byte(victim)
    placed = wb.use_artifact("model:v1", tmp_path / "linked", root=root)  # documented: links are not read
    assert os.path.samefile(placed / "config.json", victim)
    assert wb_process("fsck").returncode == 1  # fsck still finds it
    save_settings(root, link_mode="copy")
    with pytest.raises(ArtifactError, match=r"config\.json"):
        wb.use_artifact("model:v1", tmp_path / "copied", root=root)


def test_a_recent_fsck_is_trusted_while_the_blob_is_unchanged(root: Path, model: dict[str, object],
                                                              tmp_path: Path) -> None:
    assert wb.fsck(root=root).ok  # records every intact blob with its inode, size and mtime
    _, victim = _victim(root, model, "chunked")
    flip_one_byte(victim, keep_mtime=True)  # bit rot: nothing about the file says it changed
    placed = wb.use_artifact("model:v1", tmp_path / "trusted", root=root)
    assert (placed / "weights.bin").read_bytes() != model["weights"]  # trusted: the documented trade-off
    save_settings(root, verify_trust_days=0)
    with pytest.raises(ArtifactError, match=r"weights\.bin"):
        wb.use_artifact("model:v1", tmp_path / "hashed", root=root)
    save_settings(root, verify_trust_days=7)
    flip_one_byte(victim)  # a write: the modification time changes, the stamp no longer applies
    flip_one_byte(victim)
    with pytest.raises(ArtifactError, match=r"weights\.bin"):
        wb.use_artifact("model:v1", tmp_path / "changed", root=root)


# -- fetch from a remote, and the UI path that places files (the SyncPanel's fetch) ----------------------

@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    require_module("fabric")
    sys.path.insert(0, str(Path(__file__).parents[1] / "remote"))
    from _sshd import start_sshd

    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


def test_fetch_and_the_sync_panel_refuse_a_corrupt_local_blob(sshd: Any, tmp_path: Path) -> None:
    from _sshd import configure, make_runs

    from workbench.remote import fetch_artifact
    from workbench.ui.sync.model import SyncModel

    remote_root, local = tmp_path / "remote-store", tmp_path / "local"
    make_runs(remote_root, 1)
    src = tmp_path / "src"
    src.mkdir()
    (src / "config.json").write_text('{"layers": 2}')
    (src / "weights.bin").write_bytes(os.urandom(5 * 1024 * 1024 + 7))  # chunked
    wb.log_artifact(src, "model", type="model", root=remote_root)
    configure(local, sshd, remote_root)
    wb.sync("gpu", root=local)
    first = fetch_artifact("gpu:model:v1", root=local, progress="never")
    assert first.blobs > 20 and (first.path / "config.json").read_text() == '{"layers": 2}'

    victim = next(p for p in (local / "blobs" / "sha256").glob("*/*") if p.read_bytes() == b'{"layers": 2}')
    flip_one_byte(victim)
    dest = tmp_path / "placed"
    with pytest.raises(ArtifactError) as caught:  # present locally, so not fetched: checked as it is placed
        wb.use_artifact("gpu:model:v1", dest, root=local)
    assert "config.json" in str(caught.value) and "fsck --repair" in str(caught.value) and not dest.exists()

    panel = SyncModel(root=local)
    assert panel.fetch("gpu:model:v1") and panel.wait(60)
    assert panel.error is not None and "config.json" in panel.error and str(victim) in panel.error
    assert "fsck --repair" in panel.error

    # the way back: quarantine the bad blob, then the fetch brings an intact copy from the remote
    repaired = wb.fsck(repair=True, root=local)
    assert [q["digest"] for q in repaired.quarantined] == [victim.name]
    again = fetch_artifact("gpu:model:v1", dest, root=local, progress="never")
    assert again.blobs == 1 and (dest / "config.json").read_text() == '{"layers": 2}'
    assert wb.fsck(root=local).ok


def test_fsck_repair_never_moves_a_blob_out_of_the_store(root: Path, model: dict[str, object],
                                                         tmp_path: Path) -> None:
    """A symbolic link planted at <root>/quarantine would carry the blob out: it is refused."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "quarantine").symlink_to(outside)
    _, victim = _victim(root, model, "whole")
    flip_one_byte(victim)
    with pytest.raises(ArtifactError, match="quarantine"):
        wb.fsck(repair=True, root=root)
    assert victim.exists() and list(outside.iterdir()) == []
