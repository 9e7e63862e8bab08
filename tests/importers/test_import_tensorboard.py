"""TensorBoard logs written by the real ``torch.utils.tensorboard`` and ``tensorboardX``, imported
and compared value by value with what was given to them.

The reader is checked on its own first (the ImportedRun objects), then end to end through
``workbench.importers.tensorboard`` and ``workbench import tensorboard``. The logs are written once
per module (``_tb_logs.py``); tests that change a source copy it first.
"""

from __future__ import annotations

import io
import itertools
import os
import shutil
import struct
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import require_module
from tests.importers import _tb_logs
from workbench.errors import ImportSourceError
from workbench.importers import _tensorboard, _tfrecord
from workbench.importers._model import ImportedRun, MediaItem, Series

LIBRARIES = ("torch", "tensorboardX")


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    """``logs/torch`` and ``logs/tensorboardX``: one run each (add_hparams in a sub-folder)."""
    require_module("tensorboard")
    torch_tb = require_module("torch.utils.tensorboard")
    tensorboardx = require_module("tensorboardX")
    base = tmp_path_factory.mktemp("tb-logs") / "logs"
    written = {
        "torch": _tb_logs.write_run(torch_tb.SummaryWriter, base / "torch", library="torch"),
        "tensorboardX": _tb_logs.write_run(tensorboardx.SummaryWriter, base / "tensorboardX", library="tensorboardX"),
    }
    return base, written


@pytest.fixture(scope="module")
def scalar_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, list[int]]:
    """An event file of ten scalar points (torch), and the byte offset of each record."""
    torch_tb = require_module("torch.utils.tensorboard")
    folder = tmp_path_factory.mktemp("tb-scalars")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        writer = torch_tb.SummaryWriter(log_dir=str(folder))
        _tb_logs.write_scalars(writer, "x", range(10))
        writer.close()
    data = next(folder.glob("events.out.tfevents.*")).read_bytes()
    offsets, at = [], 0
    while at < len(data):
        offsets.append(at)
        at += 16 + struct.unpack_from("<Q", data, at)[0]
    return data, offsets


def _runs(*sources: str, **options: Any) -> dict[str, tuple[ImportedRun, dict[str, Series], list[MediaItem]]]:
    out = {}
    for run in _tensorboard.read(list(sources), **options):
        series = {s.key: s for s in run.series()} if run.error is None else {}
        media = list(run.media()) if run.error is None else []
        out[run.source_id] = (run, series, media)
    return out


def _f32(value: float) -> float:
    return float(np.float32(value))


def _event_times(folder: Path) -> list[float]:
    """Every event's wall time, read by TensorBoard's own loader (the oracle)."""
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader

    return [event.wall_time for path in sorted(folder.rglob("*tfevents*"))
            for event in LegacyEventFileLoader(str(path)).Load()]


# -- the reader on its own ---------------------------------------------------------------------


@pytest.mark.parametrize("library", LIBRARIES)
def test_reader_matches_what_was_written(logs: tuple[Path, dict[str, Any]], library: str) -> None:
    from PIL import Image

    base, written = logs
    runs = _runs(str(base), project="hist")
    assert sorted(runs) == sorted(LIBRARIES)  # the add_hparams sub-folders are merged into their runs
    run, series, media = runs[library]
    want = written[library]
    assert (run.kind, run.source_path, run.name, run.project) == ("tensorboard", str(base), library, "hist")
    assert run.status == "completed" and run.error is None and run.problems == []

    # scalars: every step, the float32 value TensorBoard stores (float64 where it stores that), the
    # wall time given to add_scalar, in the order written
    expected_keys = [*want["scalars"], *want["hparam_metrics"]]
    assert list(series) == expected_keys
    for key, points in want["scalars"].items():
        assert list(series[key].steps) == [step for step, _ in points]
        exact = key == "tensor/f64"
        assert list(series[key].values) == [value if exact else _f32(value) for _, value in points], key
        assert series[key].times is not None
        assert list(series[key].times) == want["times"][key]
    assert list(series["hparam/accuracy"].values) == [_f32(0.875)]

    # hyperparameters with their types; PyTorch writes booleans as numbers (1.0), tensorboardX
    # as booleans; every number is a double in the file, integral ones come back as int
    config = run.config
    assert config == {"lr": 0.001, "layers": 3, "flag": 1 if library == "torch" else True, "optimizer": "adam"}
    assert type(config["layers"]) is int and type(config["lr"]) is float and type(config["optimizer"]) is str
    assert type(config["flag"]) is (int if library == "torch" else bool)

    times = _event_times(base / library)
    assert (run.start_time, run.end_time) == (min(times), max(times))

    images = [m for m in media if m.kind == "image"]
    assert [(m.key, m.step, m.time) for m in images] == [
        ("sample", step, _tb_logs.BASE_TIME + 40 + step) for step in want["images"]]
    for item in images:
        pixels = np.asarray(Image.open(io.BytesIO(item.payload)))
        assert np.array_equal(pixels, want["images"][item.step])
    (histogram,) = [m for m in media if m.kind == "histogram"]
    values = want["histograms"][2]
    edges, counts = histogram.payload
    assert (histogram.key, histogram.step, histogram.time) == ("weights", 2, _tb_logs.BASE_TIME + 50)
    assert len(edges) == len(counts) + 1 and sum(counts) == len(values)
    assert all(a <= b for a, b in itertools.pairwise(edges))
    assert edges[0] == pytest.approx(values.min()) and edges[-1] == pytest.approx(values.max())
    (text,) = [m for m in media if m.kind == "text"]
    assert (text.key, text.step, text.payload) == ("notes/text_summary", 1, want["text"][1])
    assert len(media) == 4
    assert run.skipped == ([
        "1 audio clip: audio is not imported", "embedding projector data (projector_config.pbtxt): not imported",
    ] if library == "torch" else [
        "1 PR curve: PR curves are not imported", "1 custom scalar layout: dashboard layouts are not imported",
    ])


def test_reader_sources_files_and_errors(logs: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    base, _ = logs
    # one event file as the source: the run is that file
    event_file = min((base / "torch").glob("events.out.tfevents.*"))
    runs = _runs(str(event_file))
    (run, series, _media), = runs.values()
    assert run.source_id == event_file.name and run.name == "torch"
    assert "loss" in series and run.config == {}  # the hparams session is another file

    # a run folder given directly: source id "."
    runs = _runs(str(base / "tensorboardX"))
    assert list(runs) == ["."] and runs["."][0].name == "tensorboardX"
    assert runs["."][0].config["optimizer"] == "adam"

    missing = tmp_path / "nope"
    with pytest.raises(ImportSourceError, match=r"nope.*does not exist"):
        list(_tensorboard.read([str(base), str(missing)]))  # checked before any run is read
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImportSourceError, match="no TensorBoard event files"):
        list(_tensorboard.read([str(tmp_path / "empty")]))

    # a run folder whose only event file cannot be opened: a run with an error, the rest imported
    shutil.copytree(base / "tensorboardX", tmp_path / "src" / "good")
    (tmp_path / "src" / "broken").mkdir()
    (tmp_path / "src" / "broken" / "events.out.tfevents.1.host").symlink_to(tmp_path / "gone")
    runs = _runs(str(tmp_path / "src"))
    assert runs["good"][0].error is None and runs["good"][1]["loss"].steps
    assert runs["broken"][0].error is not None and "events.out.tfevents.1.host" in runs["broken"][0].error


def test_reader_several_add_hparams_stay_runs(tmp_path: Path) -> None:
    torch_tb = require_module("torch.utils.tensorboard")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        writer = torch_tb.SummaryWriter(log_dir=str(tmp_path / "sweep"))
        for trial in range(2):
            writer.add_hparams({"lr": 0.1 * (trial + 1)}, {"score": float(trial)}, run_name=f"trial{trial}")
        writer.close()
    runs = _runs(str(tmp_path))
    assert sorted(runs) == ["sweep", "sweep/trial0", "sweep/trial1"]
    assert runs["sweep/trial1"][0].config == {"lr": 0.2} and runs["sweep/trial1"][0].parent_id == "sweep"
    assert list(runs["sweep/trial1"][1]["score"].values) == [1.0]


def test_reader_restarts_are_read_in_file_order(tmp_path: Path) -> None:
    torch_tb = require_module("torch.utils.tensorboard")
    written = []
    for part in range(3):  # three writers (restarts) into one folder: three event files
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            writer = torch_tb.SummaryWriter(log_dir=str(tmp_path / "run"), filename_suffix=f".{part}")
            written += _tb_logs.write_scalars(writer, "x", range(part * 3, part * 3 + 3))
            writer.close()
    (_run, series, _), = _runs(str(tmp_path)).values()
    assert len(list((tmp_path / "run").iterdir())) == 3
    assert [(s, v, t) for s, v, t in zip(series["x"].steps, series["x"].values, series["x"].times or [],
                                          strict=True)] == [(s, _f32(v), t) for s, v, t in written]


def test_reader_damaged_files(scalar_file: tuple[bytes, list[int]], tmp_path: Path) -> None:
    data, offsets = scalar_file
    # records: 0 file_version, 1 source_metadata?, then one per step; find the record of step 7
    first_point = len(offsets) - 10
    cut = offsets[first_point + 7] + 20  # in the middle of step 7's record
    for name, content in {
        "truncated": data[:cut],
        "garbage": data[:offsets[first_point + 4]] + b"\x00garbage!" * 5 + data[offsets[first_point + 4]:],
        "flipped": _flip(data, offsets[first_point + 4] + 14),
        "good": data,
    }.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "events.out.tfevents.1.host").write_bytes(content)
    runs = _runs(str(tmp_path))
    label = "{}/events.out.tfevents.1.host"

    run, series, _ = runs["truncated"]
    assert list(series["x"].steps) == list(range(7))
    assert run.problems == [f"{label.format('truncated')}: truncated record at byte {offsets[first_point + 7]} "
                            f"(it needs {offsets[first_point + 8] - offsets[first_point + 7]} bytes, 20 are left)"]

    run, series, _ = runs["garbage"]
    at = offsets[first_point + 4]
    assert list(series["x"].steps) == list(range(10))  # reading resumed after the junk
    assert run.problems == [f"{label.format('garbage')}: corrupt record at byte {at} (bad header checksum); "
                            f"45 bytes skipped, reading resumed at byte {at + 45}"]

    run, series, _ = runs["flipped"]
    assert list(series["x"].steps) == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    assert run.problems == [f"{label.format('flipped')}: corrupt record at byte {at} (bad data checksum); "
                            f"{offsets[first_point + 5] - at} bytes skipped, reading resumed at byte "
                            f"{offsets[first_point + 5]}"]
    assert runs["good"][0].problems == [] and list(runs["good"][1]["x"].steps) == list(range(10))


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


def test_reader_tensor_forms_and_what_is_skipped(tmp_path: Path) -> None:
    from PIL import Image

    require_module("tensorboard")
    written = _tb_logs.write_tensor_forms(tmp_path / "tf2")
    (run, series, media), = _runs(str(tmp_path)).values()
    assert series == {} and run.problems == []
    assert [(m.kind, m.key, m.step, m.time) for m in media] == [
        ("histogram", "dist", 1, _tb_logs.BASE_TIME + 1),
        ("image", "pics", 2, _tb_logs.BASE_TIME + 2), ("image", "pics", 2, _tb_logs.BASE_TIME + 2),
        ("text", "table", 3, _tb_logs.BASE_TIME + 3)]
    edges, counts = media[0].payload
    assert len(edges) == 8 and len(counts) == 7 and sum(counts) == 300
    assert edges[0] == written["values"].min() and edges[-1] == written["values"].max()
    for item, image in zip(media[1:3], written["images"], strict=True):
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(item.payload))), image)
    assert media[3].payload == "epoch\tnote\n1\tfine ✓"
    assert sorted(run.skipped) == ["1 'mesh' summary: not imported", "1 audio clip: audio is not imported",
                                   "1 graph: model graphs are not imported",
                                   "1 tensor summary without a plugin: not imported"]


def test_reader_spills_long_series(logs: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    base, _ = logs
    before = _runs(str(base))
    monkeypatch.setattr(_tensorboard, "_SPILL_POINTS", 3)  # every few points go to the temporary file
    after = _runs(str(base))
    for library in LIBRARIES:
        for key, s in before[library][1].items():
            t = after[library][1][key]
            assert (list(t.steps), list(t.values), list(t.times or [])) == \
                (list(s.steps), list(s.values), list(s.times or [])), key


# -- end to end: the writer, the store, the command line --------------------------------------


def test_import_end_to_end_then_again(logs: tuple[Path, dict[str, Any]], root: Path) -> None:
    from PIL import Image

    import workbench as wb
    from workbench import importers

    base, written = logs
    report = importers.tensorboard(base, root=root, progress="never")
    assert report.exit_code == 0, report.render()
    by_id = {r.source_id: r for r in report.runs}
    assert sorted(by_id) == sorted(LIBRARIES) and {r.outcome for r in report.runs} == {"imported"}
    for library in LIBRARIES:
        want, entry = written[library], by_id[library]
        expected = {**{k: [(s, v) for s, v in p] for k, p in want["scalars"].items()},
                    **{k: [(0, v)] for k, v in want["hparam_metrics"].items()}}
        assert entry.points == sum(len(p) for p in expected.values()) and entry.media == 4
        record = wb.get_run(entry.run_id, root=root)
        assert record["name"] == library and record["status"] == "completed"
        assert record["source"]["kind"] == "tensorboard" and record["source"]["id"] == library
        assert record["config"] == {"lr": 0.001, "layers": 3, "flag": 1 if library == "torch" else True,
                                    "optimizer": "adam"}
        assert type(record["config"]["layers"]) is int and type(record["config"]["flag"]) is \
            (int if library == "torch" else bool)
        times = _event_times(base / library)
        assert (record["started"], record["ended"]) == (min(times), max(times))

        history = wb.history(entry.run_id, root=root)
        for key, points in expected.items():
            rows = history[history["key"] == key].sort_values("step")
            assert list(rows["step"]) == [s for s, _ in points], key
            exact = key == "tensor/f64"
            assert list(rows["value"]) == [v if exact else _f32(v) for _, v in points], key
            if key in want["times"]:
                assert list(rows["time"]) == want["times"][key], key

        media = wb.media(entry.run_id, root=root)
        assert sorted(media["kind"]) == ["histogram", "image", "image", "text"]
        for _, row in media[media["kind"] == "image"].iterrows():
            image = wb.load_media(row, root=root)
            assert isinstance(image, Image.Image)
            assert np.array_equal(np.asarray(image), want["images"][int(row["step"])])
        (histogram,) = [wb.load_media(row, root=root) for _, row in media[media["kind"] == "histogram"].iterrows()]
        assert sum(histogram["counts"]) == len(want["histograms"][2])
        (text,) = [wb.load_media(row, root=root) for _, row in media[media["kind"] == "text"].iterrows()]
        assert text == want["text"][1]

    again = importers.tensorboard(base, root=root, progress="never")
    assert again.exit_code == 0 and {r.outcome for r in again.runs} == {"unchanged"}
    assert again.points == 0 and sum(r.media for r in again.runs) == 0
    assert {r.run_id for r in again.runs} == {r.run_id for r in report.runs}


def test_import_after_the_logs_grew_adds_exactly_the_new_points(tmp_path: Path, root: Path) -> None:
    import workbench as wb
    from workbench import importers

    torch_tb = require_module("torch.utils.tensorboard")
    folder = tmp_path / "logs" / "live"

    def history() -> list[tuple[str, int, float, float]]:
        (run_id,) = {r.run_id for r in importers.tensorboard(tmp_path / "logs", root=root, progress="never").runs}
        frame = wb.history(run_id, root=root).sort_values(["key", "step"])
        return [(k, int(s), float(v), float(t)) for k, s, v, t in
                zip(frame["key"], frame["step"], frame["value"], frame["time"], strict=True)]

    def imported() -> Any:
        return importers.tensorboard(tmp_path / "logs", root=root, progress="never").runs[0]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        writer = torch_tb.SummaryWriter(log_dir=str(folder))
    points = _tb_logs.write_scalars(writer, "x", range(5))
    first = imported()
    assert (first.outcome, first.points) == ("imported", 5)

    points += _tb_logs.write_scalars(writer, "x", range(5, 8))  # the same file grows (a live run)
    grown = imported()
    assert (grown.outcome, grown.points) == ("updated", 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        writer.close()
        writer = torch_tb.SummaryWriter(log_dir=str(folder))  # a restart: a second event file
    points += _tb_logs.write_scalars(writer, "x", range(8, 10))
    y_points = _tb_logs.write_scalars(writer, "y", range(2), offset=7.0)
    restarted = imported()
    assert (restarted.outcome, restarted.points) == ("updated", 4)
    assert imported().outcome == "unchanged"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        writer.add_hparams({"lr": 0.01, "tag": "late"}, {"final": 0.5})  # written at the end, in a sub-folder
        writer.close()
    late = imported()
    assert (late.outcome, late.points) == ("updated", 1)
    assert wb.get_run(late.run_id, root=root)["config"] == {"lr": 0.01, "tag": "late"}
    assert [p for p in history() if p[0] in ("x", "y")] == \
        [("x", s, _f32(v), t) for s, v, t in points] + [("y", s, _f32(v), t) for s, v, t in y_points]


def _workbench(*args: str, root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WORKBENCH_ROOT": str(root)}
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_cli_damaged_logs_report_and_exit_1(logs: tuple[Path, dict[str, Any]],
                                            scalar_file: tuple[bytes, list[int]], tmp_path: Path,
                                            root: Path) -> None:
    import workbench as wb
    from workbench.importers import run_id_for

    base, _ = logs
    data, offsets = scalar_file
    source = tmp_path / "logs"
    shutil.copytree(base / "tensorboardX", source / "good")
    cut = offsets[-3] + 9
    for name, content in {"truncated": data[:cut], "garbage": data[:offsets[-5]] + os.urandom(64)}.items():
        (source / name).mkdir()
        (source / name / "events.out.tfevents.1.host").write_bytes(content)
    (source / "broken").mkdir()
    (source / "broken" / "events.out.tfevents.1.host").symlink_to(tmp_path / "gone")

    done = _workbench("import", "tensorboard", str(source), "--progress", "never", root=root)
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert f"truncated/events.out.tfevents.1.host: truncated record at byte {offsets[-3]}" in out
    assert f"garbage/events.out.tfevents.1.host: corrupt record at byte {offsets[-5]}" in out
    assert "Traceback" not in out
    ids = {name: run_id_for("tensorboard", str(source), name) for name in ("good", "truncated", "garbage", "broken")}
    assert wb.get_run(ids["good"], root=root)["config"]["optimizer"] == "adam"
    assert len(wb.history(ids["truncated"], keys="x", root=root)) == 7
    assert len(wb.history(ids["garbage"], keys="x", root=root)) == 5
    assert wb.count_runs(root=root) == 3  # the broken run wrote nothing

    from workbench import importers

    missing = importers.tensorboard(tmp_path / "nope", root=root, progress="never")
    assert missing.exit_code == 2 and missing.runs == []
    (failure,) = missing.failed_sources
    assert "nope" in failure.error and "does not exist" in failure.error


def test_reader_hostile_records(tmp_path: Path) -> None:
    """Records that parse but lie: shapes that would take all memory, histograms going backwards,
    non-finite wall times, a tag with control characters. Each is reported or kept as text."""
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2
    from tensorboard.plugins.histogram import metadata as histogram_metadata
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    def event(step: int, value: Any, wall_time: float | None = None) -> Any:
        return event_pb2.Event(wall_time=_tb_logs.BASE_TIME + step if wall_time is None else wall_time,
                               step=step, summary=summary_pb2.Summary(value=[value]))

    huge = tensor_pb2.TensorProto(dtype=1, float_val=[1.0], tensor_shape=tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=1 << 20)] * 3))
    scalars = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    writer = EventFileWriter(str(tmp_path / "evil"))
    for e in [
        event(1, summary_pb2.Summary.Value(tag="big", tensor=huge, metadata=scalars)),
        event(2, summary_pb2.Summary.Value(tag="hist", tensor=huge,
                                           metadata=histogram_metadata.create_summary_metadata("", ""))),
        event(3, summary_pb2.Summary.Value(tag="backwards", histo=summary_pb2.HistogramProto(
            min=5.0, max=1.0, bucket_limit=[4.0, 2.0], bucket=[1.0, 1.0]))),
        event(4, summary_pb2.Summary.Value(tag="when", simple_value=1.0), wall_time=float("nan")),
        event(5, summary_pb2.Summary.Value(tag="\x1b[31mred\x07", simple_value=2.0)),
    ]:
        writer.add_event(e)
    writer.close()
    (run, series, media), = _runs(str(tmp_path)).values()
    assert media == [] and "big" not in series
    assert run.problems == ["scalar 'big' at step 1 is not a single number; skipped",
                            "histogram 'hist' at step 2 is malformed; skipped",
                            "histogram 'backwards' at step 3 is malformed; skipped"]
    times = series["when"].times
    assert times is not None and np.isnan(times[0]) and run.start_time is not None
    assert np.isfinite(run.start_time) and list(series["\x1b[31mred\x07"].values) == [2.0]


def test_compiled_checksum_matches_tensorboards() -> None:
    """With ``google-crc32c`` installed the reader uses it; it must agree with TensorBoard's own."""
    require_module("google_crc32c")
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    crc = _tfrecord.masked_crc()
    assert crc is not masked_crc32c
    rng = np.random.default_rng(5)
    for size in (0, 1, 8, 13, 1000):
        data = rng.integers(0, 256, size=size, dtype=np.uint8).tobytes()
        assert crc(data) == masked_crc32c(data), size


def test_reader_hparams_metric_named_like_a_curve_goes_to_summary(tmp_path: Path) -> None:
    torch_tb = require_module("torch.utils.tensorboard")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        writer = torch_tb.SummaryWriter(log_dir=str(tmp_path / "run"))
        curve = _tb_logs.write_scalars(writer, "loss", range(1, 4))
        writer.add_hparams({"lr": 0.5}, {"loss": 0.25, "acc": 0.75})
        writer.close()
    (run, series, _), = _runs(str(tmp_path)).values()
    assert run.config == {"lr": 0.5}
    assert list(series["loss"].steps) == [s for s, _, _ in curve]  # no stray point at step 0
    assert run.summary == {"loss": 0.25} and list(series["acc"].values) == [0.75]
