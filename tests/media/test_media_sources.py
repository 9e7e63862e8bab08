"""Issue 15, acceptance 1: each kind of media logged from each accepted source reads back byte for
byte (images decoded and compared as pixels); bad shapes and types are a clear TypeError or
ValueError naming the key. Real stores under ``tmp_path``; nothing is mocked.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from _flac import write_flac
from PIL import Image as PILImage

import workbench as wb
from workbench.media import media_bytes

QUIET = {"capture_output": False, "system_metrics": False}
RNG = np.random.default_rng(15)


def log_and_read(tmp_path: Path, items: dict[str, Any], step: int = 0) -> pd.DataFrame:
    """Log ``items`` at ``step`` in a new run, finish it, and return its media rows keyed by key."""
    with wb.init(project="media", root=tmp_path, **QUIET) as run:
        run.log(items, step=step)
    rows = wb.media(run.id, root=tmp_path)
    assert sorted(rows["key"]) == sorted(items), rows
    assert (rows["step"] == step).all()
    assert rows["run_id"].eq(run.id).all()
    return rows.set_index("key", drop=False)


def pixels(image: Any) -> np.ndarray:
    array = np.asarray(image)
    return array[:, :, None] if array.ndim == 2 else array


def noise(*shape: int) -> np.ndarray:
    return RNG.integers(0, 256, size=shape, dtype=np.uint8)


# -- images -------------------------------------------------------------------------------------

U8 = noise(6, 7, 3)
U8_RGBA = noise(5, 4, 4)
U8_GRAY = noise(9, 8)
FLOAT = noise(6, 5, 3).astype(np.float64) / 255.0  # exact in 0-1: k/255 scales back to k

IMAGE_SOURCES: dict[str, tuple[Callable[[], Any], np.ndarray]] = {
    # name: (source, expected HWC uint8 pixels)
    "numpy_hw_uint8": (lambda: U8_GRAY, U8_GRAY[:, :, None]),
    "numpy_hwc_uint8": (lambda: U8, U8),
    "numpy_hwc_rgba": (lambda: U8_RGBA, U8_RGBA),
    "numpy_hwc_one_channel": (lambda: U8_GRAY[:, :, None], U8_GRAY[:, :, None]),
    "numpy_chw_uint8": (lambda: np.ascontiguousarray(np.moveaxis(U8, 2, 0)), U8),
    "numpy_hwc_float": (lambda: FLOAT, np.rint(FLOAT * 255).astype(np.uint8)),
    "numpy_chw_float32": (lambda: np.moveaxis(FLOAT, 2, 0).astype(np.float32), np.rint(FLOAT * 255).astype(np.uint8)),
    "numpy_hw_float": (lambda: FLOAT[:, :, 0], np.rint(FLOAT[:, :, :1] * 255).astype(np.uint8)),
    "torch_chw_float": (lambda: torch.from_numpy(np.moveaxis(FLOAT, 2, 0).copy()).float(),
                        np.rint(FLOAT * 255).astype(np.uint8)),
    "torch_hwc_uint8": (lambda: torch.from_numpy(U8.copy()), U8),
    "torch_hw_uint8": (lambda: torch.from_numpy(U8_GRAY.copy()), U8_GRAY[:, :, None]),
    "torch_requires_grad": (lambda: torch.from_numpy(np.moveaxis(FLOAT, 2, 0).copy()).float().requires_grad_(),
                            np.rint(FLOAT * 255).astype(np.uint8)),
    "pil_rgb": (lambda: PILImage.fromarray(U8), U8),
    "pil_rgba": (lambda: PILImage.fromarray(U8_RGBA), U8_RGBA),
    "pil_l": (lambda: PILImage.fromarray(U8_GRAY), U8_GRAY[:, :, None]),
}


@pytest.mark.parametrize("name", sorted(IMAGE_SOURCES))
def test_an_image_from_each_array_source_reads_back_pixel_for_pixel(tmp_path: Path, name: str) -> None:
    make, expected = IMAGE_SOURCES[name]
    rows = log_and_read(tmp_path, {"pred": wb.Image(make(), caption=f"from {name}")}, step=3)
    row = rows.loc["pred"]
    assert row["kind"] == "image" and row["format"] == "png" and row["caption"] == f"from {name}"
    assert tuple(row["shape"]) == expected.shape
    image = wb.load_media(row, root=tmp_path)
    assert isinstance(image, PILImage.Image)
    assert np.array_equal(pixels(image), expected)
    data = wb.load_media(row, raw=True, root=tmp_path)
    assert data == media_bytes(row["digest"], root=tmp_path) and data[:8] == b"\x89PNG\r\n\x1a\n"
    assert row["size"] == len(data)
    import hashlib

    assert hashlib.sha256(data).hexdigest() == row["digest"]  # content-addressed


def test_a_logged_array_is_copied_so_the_caller_may_reuse_its_buffer(tmp_path: Path) -> None:
    buffer = U8.copy()
    tensor = torch.from_numpy(U8.copy())
    with wb.init(project="media", root=tmp_path, flush_interval=60, **QUIET) as run:
        run.log({"array": wb.Image(buffer), "tensor": wb.Image(tensor)}, step=0)
        buffer[:] = 0  # the training loop overwrites its buffers before the flusher encodes
        tensor.zero_()
    rows = wb.media(run.id, root=tmp_path).set_index("key")
    for key in ("array", "tensor"):
        assert np.array_equal(pixels(wb.load_media(rows.loc[key], root=tmp_path)), U8), key


@pytest.mark.parametrize(("suffix", "fmt", "save_as"), [(".png", "png", "PNG"), (".jpg", "jpeg", "JPEG"),
                                                         (".webp", "webp", "WEBP"), (".gif", "gif", "GIF"),
                                                         (".bmp", "bmp", "BMP")])
def test_an_image_file_path_is_stored_byte_for_byte(tmp_path: Path, suffix: str, fmt: str, save_as: str) -> None:
    path = tmp_path / f"photo{suffix}"
    PILImage.fromarray(U8).save(path, format=save_as)
    original = path.read_bytes()
    rows = log_and_read(tmp_path, {"photo": wb.Image(path), "by_str": wb.Image(str(path))})
    for key in ("photo", "by_str"):
        row = rows.loc[key]
        assert row["kind"] == "image" and row["format"] == fmt
        assert wb.load_media(row, raw=True, root=tmp_path) == original
        assert tuple(row["shape"])[:2] == (6, 7)
        with PILImage.open(path) as expected:
            assert np.array_equal(np.asarray(wb.load_media(row, root=tmp_path)), np.asarray(expected))
    assert rows.loc["photo", "digest"] == rows.loc["by_str", "digest"]


# -- tables -------------------------------------------------------------------------------------

def test_a_dataframe_reads_back_cell_for_cell(tmp_path: Path) -> None:
    frame = pd.DataFrame({"text": ["good", "bad", "ünïcode ✓"], "label": [1, 0, 1], "score": [0.25, -1.5, 3.0],
                          "ok": [True, False, True]})
    rows = log_and_read(tmp_path, {"eval": wb.Table(frame, caption="val set")}, step=2)
    row = rows.loc["eval"]
    assert row["kind"] == "table" and row["format"] == "parquet" and row["caption"] == "val set"
    assert tuple(row["shape"]) == (3, 4)
    back = wb.load_media(row, root=tmp_path)
    assert list(back.columns) == ["text", "label", "score", "ok"]
    assert back.to_dict("list") == frame.to_dict("list")
    raw = wb.load_media(row, raw=True, root=tmp_path)
    assert raw[:4] == b"PAR1" and raw == media_bytes(row["digest"], root=tmp_path)


def test_a_list_of_rows_with_columns_reads_back(tmp_path: Path) -> None:
    data = [["good", 1, None], ["bad", 0, 2.5]]
    rows = log_and_read(tmp_path, {"rows": wb.Table(columns=["text", "label", "x"], data=data),
                                   "positional": wb.Table([["a", 1], ["b", 2]])})
    back = wb.load_media(rows.loc["rows"], root=tmp_path)
    assert list(back.columns) == ["text", "label", "x"]
    assert back["text"].tolist() == ["good", "bad"] and back["label"].tolist() == [1, 0]
    assert pd.isna(back["x"][0]) and back["x"][1] == 2.5
    positional = wb.load_media(rows.loc["positional"], root=tmp_path)
    assert positional.values.tolist() == [["a", 1], ["b", 2]]


def test_a_table_holds_images_in_cells(tmp_path: Path) -> None:
    first, second = noise(4, 4, 3), noise(3, 5)
    table = wb.Table(columns=["id", "image"], data=[[0, wb.Image(first)], [1, wb.Image(second)], [2, None]])
    rows = log_and_read(tmp_path, {"samples": table})
    back = wb.load_media(rows.loc["samples"], root=tmp_path)
    assert back.attrs["image_columns"] == ["image"]
    assert back["id"].tolist() == [0, 1, 2]
    cells = back["image"].tolist()
    assert pd.isna(cells[2])  # an empty cell stays empty
    for cell, expected in zip(cells[:2], (first, second[:, :, None])):
        assert isinstance(cell, str) and cell.startswith("wb-media:image:")
        digest = cell.removeprefix("wb-media:image:")
        image = wb.load_media({"kind": "image", "digest": digest}, root=tmp_path)
        assert np.array_equal(pixels(image), expected)


# -- histograms ---------------------------------------------------------------------------------

def test_histograms_from_numpy_torch_and_given_bins(tmp_path: Path) -> None:
    values = RNG.normal(size=5000)
    counts, edges = np.histogram(RNG.random(100), bins=7)
    rows = log_and_read(tmp_path, {
        "numpy": wb.Histogram(values),
        "torch": wb.Histogram(torch.from_numpy(values.copy())),
        "bins20": wb.Histogram(values, num_bins=20),
        "given": wb.Histogram(np_histogram=(counts, edges)),
        "given_torch": wb.Histogram(np_histogram=(torch.from_numpy(counts), torch.from_numpy(edges))),
    })
    expected64 = np.histogram(values, bins=64)
    for key, (want_counts, want_edges) in {"numpy": expected64, "torch": expected64,
                                          "bins20": np.histogram(values, bins=20),
                                          "given": (counts, edges), "given_torch": (counts, edges)}.items():
        row = rows.loc[key]
        assert row["kind"] == "histogram" and tuple(row["shape"]) == (len(want_counts),), key
        got = wb.load_media(row, root=tmp_path)
        assert np.array_equal(got["counts"], want_counts.astype(np.float64)), key
        assert np.array_equal(got["edges"], want_edges), key  # floats round-trip exactly through JSON
    assert rows.loc["numpy", "meta"]["total"] == 5000


def test_a_histogram_of_a_tensor_on_the_autograd_graph(tmp_path: Path) -> None:
    weight = torch.nn.Linear(16, 8).weight  # requires grad
    rows = log_and_read(tmp_path, {"weights": wb.Histogram(weight)})
    got = wb.load_media(rows.loc["weights"], root=tmp_path)
    counts, _ = np.histogram(weight.detach().numpy().astype(np.float64), bins=64)
    assert np.array_equal(got["counts"], counts) and got["counts"].sum() == 128


# -- text ---------------------------------------------------------------------------------------

def test_text_and_markdown_read_back_exactly(tmp_path: Path) -> None:
    plain = "the model said: ünïcode ✓\n<b>not markup</b>\n"
    markdown = "# Title\n\n* one\n* **two**\n"
    rows = log_and_read(tmp_path, {"sample": wb.Text(plain, caption="greedy"),
                                   "notes": wb.Text(markdown, markdown=True)})
    assert rows.loc["sample", "format"] == "txt" and rows.loc["notes", "format"] == "md"
    assert rows.loc["sample", "caption"] == "greedy"
    assert wb.load_media(rows.loc["sample"], root=tmp_path) == plain
    assert wb.load_media(rows.loc["notes"], root=tmp_path) == markdown
    assert wb.load_media(rows.loc["sample"], raw=True, root=tmp_path) == plain.encode("utf-8")
    assert wb.load_media(rows.loc["notes"], raw=True, root=tmp_path) == markdown.encode("utf-8")


# -- audio --------------------------------------------------------------------------------------

def test_audio_arrays_read_back_as_samples(tmp_path: Path) -> None:
    mono_float = np.sin(np.linspace(0, 200, 1600)) * 0.5
    stereo_int = RNG.integers(-32768, 32767, size=(800, 2), dtype=np.int16)
    channels_first = RNG.integers(-1000, 1000, size=(2, 400), dtype=np.int16)
    rows = log_and_read(tmp_path, {
        "mono": wb.Audio(mono_float, sample_rate=16000, caption="sine"),
        "stereo": wb.Audio(stereo_int, sample_rate=44100),
        "channels_first": wb.Audio(channels_first, sample_rate=8000),
        "torch": wb.Audio(torch.from_numpy(mono_float.astype(np.float32)), sample_rate=22050),
    })
    samples, rate = wb.load_media(rows.loc["mono"], root=tmp_path)
    assert rate == 16000 and samples.dtype == np.int16 and samples.shape == (1600,)
    assert np.array_equal(samples, np.round(mono_float * 32767).astype(np.int16))
    assert rows.loc["mono", "caption"] == "sine" and rows.loc["mono", "format"] == "wav"
    samples, rate = wb.load_media(rows.loc["stereo"], root=tmp_path)
    assert rate == 44100 and np.array_equal(samples, stereo_int)
    samples, rate = wb.load_media(rows.loc["channels_first"], root=tmp_path)
    assert rate == 8000 and np.array_equal(samples, channels_first.T)
    samples, rate = wb.load_media(rows.loc["torch"], root=tmp_path)
    assert rate == 22050 and np.abs(samples.astype(int) - np.round(mono_float * 32767)).max() <= 1
    raw = wb.load_media(rows.loc["stereo"], raw=True, root=tmp_path)
    with wave.open(io.BytesIO(raw)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (2, 2, 44100)


def test_wav_and_flac_paths_are_stored_byte_for_byte(tmp_path: Path) -> None:
    samples = RNG.integers(-20000, 20000, size=(3000, 2), dtype=np.int16)
    wav_path = tmp_path / "clip.wav"
    with wave.open(str(wav_path), "wb") as writer:
        writer.setnchannels(2)
        writer.setsampwidth(2)
        writer.setframerate(24000)
        writer.writeframes(samples.tobytes())
    flac_path = tmp_path / "clip.FLAC"  # the suffix in any case
    flac = write_flac(flac_path, samples, 24000)
    rows = log_and_read(tmp_path, {"wav": wb.Audio(wav_path), "flac": wb.Audio(str(flac_path))})
    assert rows.loc["wav", "format"] == "wav" and rows.loc["flac", "format"] == "flac"
    assert wb.load_media(rows.loc["wav"], raw=True, root=tmp_path) == wav_path.read_bytes()
    got, rate = wb.load_media(rows.loc["wav"], root=tmp_path)
    assert rate == 24000 and np.array_equal(got, samples)
    assert wb.load_media(rows.loc["flac"], raw=True, root=tmp_path) == flac
    assert wb.load_media(rows.loc["flac"], root=tmp_path) == flac  # FLAC loads as its bytes
    assert rows.loc["flac", "size"] == len(flac)


# -- bad shapes and types -------------------------------------------------------------------------

BAD: dict[str, tuple[type[Exception], Callable[[Path], Any]]] = {
    "image_4d": (ValueError, lambda p: wb.Image(np.zeros((2, 3, 4, 3), np.uint8))),
    "image_1d": (ValueError, lambda p: wb.Image(np.zeros(10, np.uint8))),
    "image_2_channels": (ValueError, lambda p: wb.Image(np.zeros((8, 8, 2), np.uint8))),
    "image_empty": (ValueError, lambda p: wb.Image(np.zeros((0, 8, 3), np.uint8))),
    "image_nan": (ValueError, lambda p: wb.Image(np.full((4, 4), np.nan))),
    "image_strings": (TypeError, lambda p: wb.Image(np.array([["a", "b"], ["c", "d"]]))),
    "image_dict": (TypeError, lambda p: wb.Image({"pixels": 1})),
    "image_none": (TypeError, lambda p: wb.Image(None)),
    "image_bytes": (TypeError, lambda p: wb.Image(b"\x89PNG")),
    "image_not_an_image_file": (ValueError, lambda p: wb.Image(p / "notes.txt")),
    "image_missing_file": (ValueError, lambda p: wb.Image(p / "gone.png")),
    "table_int": (TypeError, lambda p: wb.Table(42)),
    "table_nothing": (TypeError, lambda p: wb.Table()),
    "table_ragged": (ValueError, lambda p: wb.Table(columns=["a", "b"], data=[[1, 2], [3]])),
    "table_repeated_columns": (ValueError, lambda p: wb.Table(columns=["a", "a"], data=[[1, 2]])),
    "table_rows_not_lists": (TypeError, lambda p: wb.Table(columns=["a"], data=[1, 2])),
    "histogram_strings": (TypeError, lambda p: wb.Histogram(["a", "b"])),
    "histogram_str": (TypeError, lambda p: wb.Histogram("abc")),
    "histogram_nothing": (TypeError, lambda p: wb.Histogram()),
    "histogram_zero_bins": (ValueError, lambda p: wb.Histogram([1.0, 2.0], num_bins=0)),
    "histogram_bad_edges": (ValueError, lambda p: wb.Histogram(np_histogram=([1, 2], [0.0, 1.0]))),
    "text_int": (TypeError, lambda p: wb.Text(42)),
    "text_bytes": (TypeError, lambda p: wb.Text(b"bytes")),
    "audio_no_rate": (ValueError, lambda p: wb.Audio(np.zeros(100))),
    "audio_3d": (ValueError, lambda p: wb.Audio(np.zeros((10, 2, 2)), sample_rate=8000)),
    "audio_int32": (TypeError, lambda p: wb.Audio(np.zeros(100, np.int32), sample_rate=8000)),
    "audio_nan": (ValueError, lambda p: wb.Audio(np.full(100, np.nan), sample_rate=8000)),
    "audio_mp3_path": (ValueError, lambda p: wb.Audio(p / "song.mp3")),
    "audio_missing_file": (ValueError, lambda p: wb.Audio(p / "gone.wav")),
    "table_bad_image_cell": (ValueError, lambda p: wb.Table(columns=["img"],
                                                           data=[[wb.Image(np.zeros((4, 4, 2), np.uint8))]])),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_shapes_and_types_are_clear_errors_naming_the_key(tmp_path: Path, case: str) -> None:
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "song.mp3").write_bytes(b"ID3")
    error, make = BAD[case]
    key = f"bad/{case}"
    with wb.init(project="media", root=tmp_path, **QUIET) as run:
        run.log({"loss": 1.0}, step=0)
        with pytest.raises(error, match=f"'{key}'"):
            run.log({key: make(tmp_path), "loss": 0.5}, step=1)
        assert run.step == 1  # the refused call changed nothing
    assert wb.media(run.id, root=tmp_path).empty
    history = wb.history(run.id, root=tmp_path)
    assert history["step"].tolist() == [0]
