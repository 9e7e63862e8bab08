"""Issue 15, faults: a media file that vanished before the flusher encoded it is reported in the
run's warnings; a full disk while storing media ends with every item stored once space returns,
or the run ``failed`` with a message that counts the lost items. The full disk is a real 2 MiB
tmpfs filled to the last byte (tests/_mounts.py); mounting takes root: without it these skip,
except in CI, where they fail.
"""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _mounts import fill, tmpfs

import workbench as wb
from workbench.errors import PointsLost, StoreError
from workbench.store._paths import Layout
from workbench.store.records import read_record

FAST = {"flush_interval": 0.05, "system_metrics": False, "capture_output": False}


def noise(seed: int, *shape: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def record(store: Path, run_id: str) -> dict:
    return read_record(Layout(store), run_id)


# -- a file gone before the flusher read it ----------------------------------------------------------

def test_a_media_file_that_vanished_before_encoding_is_a_warning_of_the_run(tmp_path: Path) -> None:
    from PIL import Image as PILImage

    image_path, sound_path = tmp_path / "frame.png", tmp_path / "clip.wav"
    PILImage.fromarray(noise(1, 8, 8, 3)).save(image_path)
    with wave.open(str(sound_path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        writer.writeframes(b"\0\0" * 100)
    store = tmp_path / "store"
    # a flusher that waits a minute: the files go before it reads them; finish() encodes
    run = wb.init(project="p", root=store, flush_interval=60, system_metrics=False, capture_output=False)
    run.log({"frame": wb.Image(image_path), "clip": wb.Audio(sound_path), "kept": wb.Text("still here"),
             "loss": 0.5}, step=4)
    image_path.unlink()
    sound_path.unlink()
    run.finish()
    rec = record(store, run.id)
    warnings = "\n".join(rec.get("warnings") or [])
    for key in ("frame", "clip"):
        assert f"media '{key}' at step 4 was not stored" in warnings, warnings
    assert "No such file" in warnings or "FileNotFoundError" in warnings, warnings
    items = wb.media(run.id, root=store)
    assert items["key"].tolist() == ["kept"]  # the others are stored
    assert wb.history(run.id, root=store)["step"].tolist() == [4]


# -- a full disk ------------------------------------------------------------------------------------

@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real 2 MiB tmpfs, unmounted at teardown."""
    with tmpfs(tmp_path / "disk", size="2m", mode="0700") as small:
        monkeypatch.delenv("WORKBENCH_ROOT", raising=False)
        monkeypatch.delenv("WORKBENCH_RUN_ID", raising=False)
        yield small


def start(store: Path, **settings: object) -> wb.Run:
    """A run that has stored one image (so it has its reserve for the final record)."""
    run = wb.init(project="p", root=store, **{**FAST, **settings})
    run.log({"img": wb.Image(noise(0, 16, 16, 3)), "loss": 1.0}, step=0)
    run.flush()
    assert len(wb.media(run.id, root=store)) == 1
    return run


def log_while_full(run: wb.Run, steps: range, size: int = 24) -> None:
    for step in steps:
        run.log({"img": wb.Image(noise(step, size, size, 3)), "loss": 1.0 / (step + 1)}, step=step)
        try:
            run.flush()
        except StoreError:
            pass  # refused: the items wait in memory
    with pytest.raises(StoreError, match="No space left on device"):
        run.flush()


def test_media_logged_while_the_disk_is_full_are_all_stored_once_space_returns(disk: Path) -> None:
    store = disk / "store"
    run = start(store, finish_wait=10)
    ballast = fill(disk, "ballast")
    log_while_full(run, range(1, 11))
    assert len(wb.media(run.id, root=store)) == 1  # nothing more stored yet
    ballast.unlink()  # space returns
    run.finish()  # nothing lost: no exception
    rec = record(store, run.id)
    assert rec["status"] == "completed" and "media_lost" not in rec
    assert rec["media"]["img"]["count"] == 11
    items = wb.media(run.id, root=store)
    assert items["step"].tolist() == list(range(11))  # every item, once
    for _, row in items.iterrows():
        step = int(row["step"])
        expected = noise(step, 24, 24, 3) if step else noise(0, 16, 16, 3)
        assert np.array_equal(np.asarray(wb.load_media(row, root=store)), expected)
    assert any("No space left on device" in w for w in rec["warnings"])


def test_a_disk_that_stays_full_fails_the_run_and_counts_the_lost_media(disk: Path) -> None:
    store = disk / "store"
    run = start(store, finish_wait=0.3)
    fill(disk, "ballast")
    log_while_full(run, range(1, 11))
    with pytest.raises(PointsLost) as info:
        run.finish()
    message = str(info.value)
    assert "10 media items were lost" in message, message
    assert "No space left on device" in message
    rec = record(store, run.id)  # recorded on the full disk: the run's reserve made room for it
    assert rec["status"] == "failed" and run.status == "failed"
    assert rec["error"]["type"] == "PointsLost" and "10 media items were lost" in rec["error"]["message"]
    assert rec["media_lost"] == 10
    assert wb.media(run.id, root=store)["step"].tolist() == [0]


def test_media_dropped_from_a_full_memory_buffer_fail_the_run_even_when_the_rest_is_stored(disk: Path) -> None:
    """More media refused than log_buffer_mb holds: the oldest are dropped. Once space returns
    the rest is stored, but the dropped items are lost all the same: the run must say so."""
    store = disk / "store"
    run = start(store, finish_wait=10, log_buffer_mb=1)
    ballast = fill(disk, "ballast")
    logged = 40  # 40 noise PNGs of 96x96x3, about 28 KB each: over 1 MB
    log_while_full(run, range(1, logged + 1), size=96)
    ballast.unlink()
    with pytest.raises(PointsLost) as info:
        run.finish()
    stored = len(wb.media(run.id, root=store)) - 1
    lost = logged - stored
    assert 0 < lost < logged
    assert f"{lost:,} media items were lost" in str(info.value)
    rec = record(store, run.id)
    assert rec["status"] == "failed" and rec["media_lost"] == lost
    assert rec["media"]["img"]["count"] == stored + 1  # the record describes what is stored
