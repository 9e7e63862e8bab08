"""Artifacts: content-addressed blobs, versions, aliases, placement, lineage, gc and fsck.

Real files under tmp_path, real subprocesses, a second filesystem (/dev/shm) where there is one.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from _artifact_helpers import (
    allocated_bytes,
    base_tensors,
    sha256_file,
    snapshot,
    tree_digests,
    write_checkpoint,
)
from conftest import IN_CI, require_module

import workbench as wb
from workbench.errors import ArtifactError, ArtifactNotFound, RunNotFound, StoreError
from workbench.store.artifacts import open_artifacts
from workbench.store.artifacts.aliases import parse_ref
from workbench.store.artifacts.digest import digest_file
from workbench.store.artifacts.names import validate_name

RUN_SETTINGS = {"capture_output": False, "system_metrics": False}


def _tree(folder: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return folder


def _blob(root: Path, digest: str) -> Path:
    return root / "blobs" / "sha256" / digest[:2] / digest


# -- digests ----------------------------------------------------------------------------------------


def test_digest_is_sha256sum_whole_and_per_chunk(tmp_path: Path) -> None:
    data = os.urandom(3 * 65536 + 123)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    found = digest_file(path, chunk_size=65536, threshold=65536)
    assert found.digest == hashlib.sha256(data).hexdigest()
    out = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True).stdout
    assert out.split()[0] == found.digest
    assert found.chunks == tuple(
        hashlib.sha256(data[i : i + 65536]).hexdigest() for i in range(0, len(data), 65536)
    )
    small = digest_file(path, chunk_size=65536, threshold=len(data))
    assert small.digest == found.digest and small.chunks is None


# -- logging, versions, aliases ---------------------------------------------------------------------


def test_log_file_and_directory_store_read_only_blobs(root: Path, tmp_path: Path) -> None:
    src = _tree(tmp_path / "out", {"config.json": b'{"a": 1}', "weights/model.bin": os.urandom(300_000)})
    art = wb.log_artifact(src, "classifier", type="model", aliases=["best"], metadata={"acc": 0.9})
    assert (art.ref, art.type, art.aliases, art.metadata) == (
        "classifier:v1",
        "model",
        ("best", "latest"),
        {"acc": 0.9},
    )
    assert [f.path for f in art.files] == ["config.json", "weights/model.bin"]
    for f in art.files:
        assert f.digest == sha256_file(src / f.path)
        blob = _blob(root, f.digest)
        assert blob.read_bytes() == (src / f.path).read_bytes()
        assert stat.S_IMODE(blob.stat().st_mode) == 0o400  # read-only, the owner's (the store is private)
    manifest = root / "artifacts" / "classifier" / "v1.json"
    assert manifest.is_file() and (root / "artifacts" / "classifier" / "aliases.json").is_file()

    single = wb.log_artifact(src / "config.json", "config", type="config")
    assert [f.path for f in single.files] == ["config.json"]
    placed = wb.use_artifact("config")
    assert (placed / "config.json").read_bytes() == b'{"a": 1}'


def test_same_content_as_newest_makes_no_new_version(root: Path, tmp_path: Path) -> None:
    src = _tree(tmp_path / "m", {"w.bin": b"abc" * 1000})
    first = wb.log_artifact(src, "m", type="model")
    again = wb.log_artifact(src, "m", type="model", aliases=["prod"])
    assert again.version == first.version == 1
    assert again.aliases == ("latest", "prod")
    (src / "w.bin").write_bytes(b"xyz" * 1000)
    assert wb.log_artifact(src, "m", type="model").version == 2
    (src / "w.bin").write_bytes(b"abc" * 1000)  # same as v1, but v1 is not the newest
    assert wb.log_artifact(src, "m", type="model").version == 3
    assert sorted(os.listdir(root / "artifacts" / "m")) == ["aliases.json", "v1.json", "v2.json", "v3.json"]


def test_aliases_latest_moves_and_refs_resolve(root: Path, tmp_path: Path) -> None:
    src = tmp_path / "f.txt"
    for i in range(3):
        src.write_text(f"version {i}")
        wb.log_artifact(src, "notes", type="text", aliases=["best"] if i == 1 else None)
    assert wb.artifact("notes").version == 3
    assert wb.artifact("notes:latest").version == 3
    assert wb.artifact("notes:v1").version == 1
    assert wb.artifact("notes:best").version == 2
    store = open_artifacts(root)
    store.set_alias("notes:v3", "best")  # moves
    assert wb.artifact("notes:best").version == 3
    assert wb.artifact("notes:v2").aliases == ()
    assert wb.artifact("notes:v3").aliases == ("best", "latest")
    with pytest.raises(ArtifactNotFound, match="no alias 'prod'"):
        wb.artifact("notes:prod")
    with pytest.raises(ArtifactNotFound, match="no version v9"):
        wb.artifact("notes:v9")
    with pytest.raises(KeyError):
        wb.artifact("nothing")
    with pytest.raises(ArtifactError, match="maintained by workbench"):
        store.set_alias("notes:v1", "latest")
    store.delete("notes:v3")
    assert wb.artifact("notes").version == 2  # latest moved back; 'best' went with v3
    with pytest.raises(ArtifactNotFound):
        wb.artifact("notes:best")
    src.write_text("version 4")
    assert wb.log_artifact(src, "notes", type="text").version == 4  # v3 is never reused
    assert parse_ref("notes:v12") == ("notes", 12) and parse_ref("notes") == ("notes", None)


def test_deleting_a_whole_artifact_never_hands_its_numbers_out_again(root: Path, tmp_path: Path) -> None:
    src = tmp_path / "f.txt"
    for i in range(2):
        src.write_text(f"version {i}")
        wb.log_artifact(src, "notes", type="text", aliases=["best"])
    store = open_artifacts(root)
    assert store.delete("notes") == ["notes:v1", "notes:v2"]
    assert store.names() == []
    with pytest.raises(ArtifactNotFound):
        wb.artifact("notes")
    src.write_text("other content")
    again = wb.log_artifact(src, "notes", type="text")
    assert again.version == 3  # lineage that names notes:v1 or v2 keeps meaning the deleted content
    assert again.aliases == ("latest",)  # 'best' went with the old versions


def test_a_name_keeps_its_type(root: Path, tmp_path: Path) -> None:
    src = tmp_path / "f.txt"
    src.write_text("x")
    wb.log_artifact(src, "thing", type="model")
    before = snapshot(root)
    with pytest.raises(ArtifactError, match="type 'model', not 'text'"):
        wb.log_artifact(src, "thing", type="text")
    assert snapshot(root) == before


# -- acceptance 1: ten checkpoints sharing most tensors -------------------------------------------


def test_ten_checkpoints_take_at_most_1_1x_their_unique_bytes(root: Path, tmp_path: Path) -> None:
    # Ten fine-tunes of one base: each changes 3 of 32 tensors (~10% of the bytes), at unaligned
    # offsets. Chunk size and tensor sizes are scaled down together (32 KiB chunks, 256 KiB-1 MiB
    # tensors, ~20 MB files); benchmarks/bench_artifacts.py measures the default 256 KiB chunks
    # with tensors of real sizes. The whole store is counted, directories and manifests included.
    store = open_artifacts(root, chunk_size=32 * 1024, fsync=False)
    base = base_tensors(seed=1, count=32, low=256 * 1024, high=1024 * 1024)
    names = sorted(base)
    unique = 0
    checkpoints = []
    for version in range(10):
        tensors = dict(base)
        if version:
            for name in names[(3 * version) % 32 : (3 * version) % 32 + 3]:
                tensors[name] = os.urandom(len(base[name]))
                unique += len(base[name])
        path = tmp_path / f"ckpt{version}" / "model.safetensors"
        path.parent.mkdir()
        write_checkpoint(path, tensors)
        if version == 0:
            unique += path.stat().st_size
        checkpoints.append(path)
        assert store.log(path.parent, "finetune", type="checkpoint").version == version + 1

    on_disk = allocated_bytes(root)
    logical = sum(p.stat().st_size for p in checkpoints)
    assert on_disk <= 1.1 * unique, (on_disk, unique, on_disk / unique)
    assert logical > 4 * on_disk  # ten copies would take ten times the base
    report = store.du()
    assert report.logical == logical and report.on_disk <= on_disk
    for version in (1, 5, 10):  # versions come back byte for byte
        placed = store.use(f"finetune:v{version}", tmp_path / "placed" / f"v{version}")
        assert sha256_file(placed / "model.safetensors") == sha256_file(checkpoints[version - 1])


# -- acceptance 3: concurrent writers --------------------------------------------------------------

WRITER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    import workbench as wb
    go = Path(sys.argv[1]); src = Path(sys.argv[2])
    while not go.exists():
        time.sleep(0.001)
    art = wb.log_artifact(src, "shared", type="checkpoint")
    print(art.version)
""")


def test_four_processes_get_versions_1_to_4(root: Path, tmp_path: Path) -> None:
    go = tmp_path / "go"
    procs = []
    for i in range(4):
        src = _tree(tmp_path / f"src{i}", {"model.bin": os.urandom(5_000_000), "common.txt": b"same in all"})
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", WRITER, str(go), str(src)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    time.sleep(0.5)  # let them import and wait at the barrier
    go.touch()
    versions = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        versions.append(int(out.strip()))
    assert sorted(versions) == [1, 2, 3, 4]
    assert sorted(os.listdir(root / "artifacts" / "shared")) == [
        "aliases.json",
        "v1.json",
        "v2.json",
        "v3.json",
        "v4.json",
    ]
    assert wb.artifact("shared").version == 4
    assert not list((root / "blobs").rglob("*.tmp"))
    assert open_artifacts(root).fsck().ok


# -- acceptance 4: copy fallback, for real ---------------------------------------------------------


def test_link_mode_copy_places_copies(root: Path, tmp_path: Path) -> None:
    src = _tree(tmp_path / "m", {"a.txt": b"hello", "big.bin": os.urandom(5_000_000)})
    art = wb.log_artifact(src, "m", type="model")
    small = next(f for f in art.files if f.path == "a.txt")
    linked = wb.use_artifact("m", tmp_path / "linked")
    assert os.stat(linked / "a.txt").st_ino == _blob(root, small.digest).stat().st_ino  # a hard link
    copied = open_artifacts(root, link_mode="copy").use("m", tmp_path / "copied")
    assert os.stat(copied / "a.txt").st_ino != _blob(root, small.digest).stat().st_ino
    assert _blob(root, small.digest).stat().st_nlink == 2  # the blob and the linked placement only
    assert stat.S_IMODE(os.stat(copied / "a.txt").st_mode) == 0o644  # a copy is the user's to change
    assert tree_digests(copied) == tree_digests(src) == tree_digests(linked)


def test_link_mode_from_workbench_toml_and_environment(
    root: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root.mkdir(parents=True)
    (root / "workbench.toml").write_text('link_mode = "copy"\n')
    assert open_artifacts(root).settings.link_mode == "copy"
    monkeypatch.setenv("WORKBENCH_LINK_MODE", "auto")
    assert open_artifacts(root).settings.link_mode == "auto"
    monkeypatch.setenv("WORKBENCH_LINK_MODE", "symlink")
    with pytest.raises(wb.ConfigError, match="auto, copy"):
        open_artifacts(root)


@pytest.fixture
def shm_dir(tmp_path: Path) -> Path:
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        missing = "no writable /dev/shm"
    elif shm.stat().st_dev == tmp_path.stat().st_dev:
        missing = "/dev/shm is on the same filesystem as tmp_path here"
    else:
        missing = ""
    if missing and IN_CI:
        pytest.fail(f"CI must have a second filesystem for this test: {missing}")
    if missing:
        pytest.skip(missing)
    folder = shm / f"workbench-test-{uuid.uuid4().hex}"
    folder.mkdir()
    yield folder
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def test_second_filesystem_falls_back_to_copies(root: Path, tmp_path: Path, shm_dir: Path) -> None:
    src = _tree(shm_dir / "src", {"a.txt": b"hello", "sub/b.bin": os.urandom(6_000_000)})  # logged from there
    art = wb.log_artifact(src, "m", type="model")
    with pytest.raises(OSError) as info:  # the premise: a hard link across them really fails
        os.link(_blob(root, art.files[0].digest), shm_dir / "probe")
    assert info.value.errno == errno.EXDEV
    placed = wb.use_artifact("m", shm_dir / "placed")
    assert placed.stat().st_dev != root.stat().st_dev
    assert tree_digests(placed) == tree_digests(src)
    assert _blob(root, art.files[0].digest).stat().st_nlink == 1
    assert not [p for p in shm_dir.iterdir() if p.name.startswith(".")]  # no temp directory left


# -- placement -------------------------------------------------------------------------------------


def test_use_artifact_caches_and_never_overwrites(root: Path, tmp_path: Path) -> None:
    src = _tree(tmp_path / "m", {"a.txt": b"one"})
    wb.log_artifact(src, "m", type="model")
    first = wb.use_artifact("m")
    assert first == root / "cache" / "artifacts" / "m" / "v1"
    assert wb.use_artifact("m:v1") == first
    (first / "a.txt").unlink()  # a damaged cached placement is placed again
    assert (wb.use_artifact("m") / "a.txt").read_bytes() == b"one"
    dest = tmp_path / "busy"
    dest.mkdir()
    (dest / "mine.txt").write_text("keep")
    with pytest.raises(ArtifactError, match="not empty"):
        wb.use_artifact("m", dest)
    assert sorted(os.listdir(dest)) == ["mine.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (wb.use_artifact("m", empty) / "a.txt").read_bytes() == b"one"


def test_missing_blob_leaves_no_partial_directory(root: Path, tmp_path: Path) -> None:
    src = _tree(tmp_path / "m", {"a.txt": b"one", "b.txt": b"two"})
    art = wb.log_artifact(src, "m", type="model")
    _blob(root, art.files[1].digest).unlink()
    with pytest.raises(ArtifactError, match=r"missing.*workbench fsck"):
        wb.use_artifact("m", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# -- lineage ---------------------------------------------------------------------------------------


def test_lineage_of_runs_and_versions(root: Path, tmp_path: Path) -> None:
    src = _tree(tmp_path / "data", {"train.txt": b"some text"})
    with wb.init(project="lineage", root=root, **RUN_SETTINGS) as producer:
        art = producer.log_artifact(src, "corpus", type="corpus", aliases=["v-good"])
    assert art.producer == producer.id
    with wb.init(project="lineage", root=root, **RUN_SETTINGS) as consumer:
        folder = consumer.use_artifact("corpus:v-good")
        assert (folder / "train.txt").read_bytes() == b"some text"
    other = wb.init(project="lineage", root=root, **RUN_SETTINGS)
    wb.use_artifact("corpus", run=other.id)
    wb.use_artifact("corpus", run=other)  # twice: listed once
    other.finish()

    assert wb.artifact("corpus").producer == producer.id
    assert wb.artifact("corpus").used_by() == [consumer.id, other.id]
    produced = wb.run_artifacts(producer.id)["produced"]
    assert [(e["name"], e["version"], e["new"]) for e in produced] == [("corpus", 1, True)]
    assert [(e["name"], e["version"]) for e in wb.run_artifacts(consumer)["used"]] == [("corpus", 1)]
    assert wb.get_run(consumer.id)["artifacts"]["used"][0]["name"] == "corpus"
    before = snapshot(root)
    with pytest.raises(RunNotFound):
        wb.use_artifact("corpus", run="nosuchrun0000")
    with pytest.raises(RunNotFound):
        wb.log_artifact(src, "corpus2", run="nosuchrun0000")
    assert snapshot(root) == before
    frame = wb.artifacts()
    assert list(frame["ref"]) == ["corpus:v1"] and frame["producer"][0] == producer.id


# -- acceptance 5: gc keeps what is referenced; fsck finds corruption -------------------------------


def test_gc_then_every_remaining_version_comes_back(root: Path, tmp_path: Path) -> None:
    store = open_artifacts(root, chunk_size=16 * 1024, chunk_threshold=64 * 1024)
    base = os.urandom(400_000)
    logged: dict[str, dict[str, str]] = {}
    for name in ("alpha", "beta"):
        for i in range(5):
            data = bytearray(base)
            data[i * 50_000 : i * 50_000 + 1000] = os.urandom(1000)
            src = _tree(
                tmp_path / f"{name}{i}",
                {"model.bin": bytes(data), "README": b"shared", f"only{i}.txt": f"{name} {i}".encode()},
            )
            art = store.log(src, name, type="model")
            logged[art.ref] = tree_digests(src)
    for ref in ("alpha:v1", "alpha:v3", "beta:v5", "beta:v2"):
        store.delete(ref)
        del logged[ref]
    dry = store.gc(dry_run=True)
    assert dry.blobs > 0 and dry.dry_run
    blobs_before = sorted(p.name for p in (root / "blobs").rglob("*") if p.is_file())
    report = store.gc()
    assert (report.blobs, report.bytes) == (dry.blobs, dry.bytes) and report.bytes > 0
    assert (
        len(sorted(p.name for p in (root / "blobs").rglob("*") if p.is_file()))
        == len(blobs_before) - report.blobs
    )
    assert store.gc().blobs == 0
    for ref, digests in logged.items():  # every remaining version, byte for byte
        placed = store.use(ref, tmp_path / "check" / ref.replace(":", "-"))
        assert tree_digests(placed) == digests
        assert {f.path: f.digest for f in store.get(ref).files} == digests
    assert store.fsck().ok


def test_fsck_finds_a_corrupt_and_a_missing_blob(root: Path, tmp_path: Path) -> None:
    src = _tree(tmp_path / "m", {"a.txt": b"alpha", "b.txt": b"beta"})
    art = wb.log_artifact(src, "m", type="model")
    store = open_artifacts(root)
    assert store.fsck().ok
    victim = _blob(root, art.files[0].digest)
    os.chmod(victim, 0o644)  # blobs are read-only: the test has to insist
    victim.write_bytes(b"alphA")
    _blob(root, art.files[1].digest).unlink()
    report = store.fsck()
    assert not report.ok
    assert [c["digest"] for c in report.corrupt] == [art.files[0].digest]
    assert report.corrupt[0]["used_by"] == ["m:v1 a.txt"]
    assert [m["digest"] for m in report.missing] == [art.files[1].digest]


def test_gc_refuses_with_an_unreadable_manifest(root: Path, tmp_path: Path) -> None:
    src = tmp_path / "f.txt"
    src.write_text("x")
    wb.log_artifact(src, "m", type="model")
    (root / "artifacts" / "m" / "v1.json").write_text("{not json")
    before = snapshot(root / "blobs")
    with pytest.raises(ArtifactError, match="gc stopped without removing anything"):
        open_artifacts(root).gc()
    assert snapshot(root / "blobs") == before


def test_a_manifest_whose_format_is_not_a_number_is_a_clear_error(root: Path, tmp_path: Path) -> None:
    import json

    src = tmp_path / "f.txt"
    src.write_text("x")
    wb.log_artifact(src, "m", type="model")
    path = root / "artifacts" / "m" / "v1.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "format": "one"}))
    with pytest.raises(ArtifactError, match="format 'one', not a number"):
        wb.artifact("m")
    with pytest.raises(ArtifactError, match="gc stopped without removing anything"):
        open_artifacts(root).gc()


def test_gc_cannot_run_while_a_writer_holds_the_store_lock(root: Path, tmp_path: Path) -> None:
    from workbench.store.artifacts.locks import store_lock

    src = tmp_path / "f.txt"
    src.write_text("x")
    wb.log_artifact(src, "m", type="model")
    store = open_artifacts(root)
    with store_lock(root / "artifacts"):  # what a writer holds from its first blob to its manifest
        with (
            pytest.raises(StoreError, match="could not take the artifact store lock"),
            store_lock(root / "artifacts", exclusive=True, timeout=0.2),
        ):
            pass
        assert store.fsck().ok  # shared holders do not block each other
    assert store.gc().kept == 1


def test_gc_never_removes_a_placement_on_its_way_into_the_cache(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gc removes cache entries of no live version, temp directories too: a placement must be
    renamed into place before its placer lets go of the store lock."""
    import threading

    src = _tree(tmp_path / "m", {"a.txt": b"alpha"})
    wb.log_artifact(src, "m", type="model")
    store = open_artifacts(root)
    real_rename = os.rename
    threads: list[threading.Thread] = []
    reports: list[Any] = []

    def slow_rename(source: Any, target: Any) -> None:
        if str(source).endswith(".tmp") and "cache" in str(source):
            threads.append(threading.Thread(target=lambda: reports.append(store.gc())))
            threads[0].start()
            time.sleep(0.5)  # gc gets the store lock now unless the placer still holds it
        real_rename(source, target)

    monkeypatch.setattr(os, "rename", slow_rename)
    placed = store.use("m")
    monkeypatch.setattr(os, "rename", real_rename)
    assert threads
    threads[0].join(timeout=30)
    assert tree_digests(placed) == tree_digests(src)
    assert len(reports) == 1 and reports[0].cache_dirs == 0


# -- acceptance 6: bad input, a clear error, nothing written ----------------------------------------


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("a/b", "path separator"),
        ("..", "'..'"),
        ("a..b", "'..'"),
        ("bad\x00name", "control characters"),
        ("new\nline", "control characters"),
        ("with:colon", "':'"),
        ("", "is empty"),
        (".hidden", "start with a letter"),
    ],
)
def test_bad_names_are_refused_with_a_suggestion(root: Path, tmp_path: Path, name: str, problem: str) -> None:
    src = tmp_path / "f.txt"
    src.write_text("x")
    wb.log_artifact(src, "existing", type="model")
    before = snapshot(root)
    with pytest.raises(ArtifactError, match="use 1-128 letters") as info:
        wb.log_artifact(src, name, type="model")
    assert problem in str(info.value)
    assert snapshot(root) == before


def test_bad_paths_are_refused_and_nothing_is_written(root: Path, tmp_path: Path) -> None:
    ok = tmp_path / "ok.txt"
    ok.write_text("x")
    wb.log_artifact(ok, "existing", type="model")
    before = snapshot(root)

    with pytest.raises(ArtifactError, match="does not exist"):
        wb.log_artifact(tmp_path / "nope", "m")
    outside = tmp_path / "secret.txt"
    outside.write_text("not yours")
    leaky = _tree(tmp_path / "leaky", {"a.txt": b"a"})
    (leaky / "link").symlink_to(outside)
    with pytest.raises(ArtifactError, match="outside"):
        wb.log_artifact(leaky, "m")
    dangling = _tree(tmp_path / "dangling", {"a.txt": b"a"})
    (dangling / "link").symlink_to(tmp_path / "gone")
    with pytest.raises(ArtifactError, match="does not exist"):
        wb.log_artifact(dangling, "m")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ArtifactError, match="holds no files"):
        wb.log_artifact(empty, "m")
    fifo_dir = _tree(tmp_path / "fifo", {"a.txt": b"a"})
    os.mkfifo(fifo_dir / "pipe")
    with pytest.raises(ArtifactError, match="not a regular file"):
        wb.log_artifact(fifo_dir, "m")
    with pytest.raises(ArtifactError, match="alias"):
        wb.log_artifact(ok, "m", aliases=["v2"])
    with pytest.raises(ArtifactError, match="metadata must be a dict"):
        wb.log_artifact(ok, "m", metadata=[1, 2])  # type: ignore[arg-type]
    assert snapshot(root) == before


def test_symlinks_inside_the_directory_are_followed(root: Path, tmp_path: Path) -> None:
    src = _tree(tmp_path / "m", {"real/w.bin": b"weights"})
    (src / "alias.bin").symlink_to(src / "real" / "w.bin")
    (src / "loop").symlink_to(src)  # a loop back to the top: walked once
    art = wb.log_artifact(src, "m", type="model")
    assert [f.path for f in art.files] == ["alias.bin", "real/w.bin"]
    assert art.files[0].digest == art.files[1].digest


def test_names(tmp_path: Path) -> None:
    assert validate_name("Model_v2.1-final") == "Model_v2.1-final"
    with pytest.raises(ArtifactError, match=r"e\.g\. 'my-model'"):
        validate_name("my model")


def test_progress_bar_only_when_asked(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_module("tqdm")  # skips locally without it, fails in CI
    src = tmp_path / "f.bin"
    src.write_bytes(os.urandom(100_000))
    open_artifacts(root).log(src, "quiet")
    assert capsys.readouterr().err == ""  # not a terminal: no bar
    open_artifacts(root, progress="always").log(src, "loud")
    assert "hashing loud" in capsys.readouterr().err
