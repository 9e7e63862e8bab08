"""Real TensorBoard logs for the importer tests, written by ``torch.utils.tensorboard`` and
``tensorboardX``; each writer returns what it gave the library, for value-by-value checks."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np

#: wall times given to every add_* call: in the past, with sub-millisecond digits
BASE_TIME = 1_700_000_000.123456
SCALAR_STEPS = [0, 1, 2, 5, 10]


def _scalar(step: int) -> float:
    return 1.0 / (step + 3) + 0.1


def write_run(writer_class: Any, log_dir: Path, *, library: str) -> dict[str, Any]:
    """One run in ``log_dir``: scalars, hparams, an image, a histogram, text (and audio with torch)."""
    rng = np.random.default_rng(7 if library == "torch" else 11)
    written: dict[str, Any] = {"scalars": {}, "times": {}, "images": {}, "histograms": {}, "text": {}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        writer = writer_class(log_dir=str(log_dir))
        for step in SCALAR_STEPS:
            time = BASE_TIME + step * 1.5
            writer.add_scalar("loss", _scalar(step), step, walltime=time)
            writer.add_scalar("lr", 0.01 * (step + 1), step, walltime=time + 0.25)
            written["scalars"].setdefault("loss", []).append((step, _scalar(step)))
            written["times"].setdefault("loss", []).append(time)
            written["scalars"].setdefault("lr", []).append((step, 0.01 * (step + 1)))
            written["times"].setdefault("lr", []).append(time + 0.25)
        if library == "torch":
            # the tensor-based scalars plugin form, float32 and float64
            writer.add_scalar("tensor/f32", 2.5 / 3, 3, walltime=BASE_TIME + 30, new_style=True)
            writer.add_scalar("tensor/f64", 2.5 / 3, 4, walltime=BASE_TIME + 31, new_style=True,
                              double_precision=True)
            written["scalars"]["tensor/f32"] = [(3, 2.5 / 3)]
            written["times"]["tensor/f32"] = [BASE_TIME + 30]
            written["scalars"]["tensor/f64"] = [(4, 2.5 / 3)]
            written["times"]["tensor/f64"] = [BASE_TIME + 31]
        for step in (0, 4):
            image = rng.integers(0, 256, size=(3, 6, 8), dtype=np.uint8)  # CHW
            writer.add_image("sample", image, step, walltime=BASE_TIME + 40 + step)
            written["images"][step] = image.transpose(1, 2, 0)  # HWC, as the PNG decodes
        values = rng.normal(size=500)
        writer.add_histogram("weights", values, 2, walltime=BASE_TIME + 50)
        written["histograms"][2] = values
        writer.add_text("notes", "hello **world** ✓", 1, walltime=BASE_TIME + 60)
        written["text"][1] = "hello **world** ✓"
        if library == "torch":  # tensorboardX's add_audio needs soundfile, not installed here
            writer.add_audio("voice", np.zeros(800, dtype=np.float32), 0, sample_rate=8000,
                             walltime=BASE_TIME + 70)
            writer.add_embedding(rng.normal(size=(4, 3)), metadata=list("abcd"), global_step=0)
        else:  # what is not carried: counted as skipped
            writer.add_pr_curve("pr", np.array([0, 1, 1, 0]), np.array([0.1, 0.9, 0.8, 0.3]), 0,
                                walltime=BASE_TIME + 71)
            writer.add_custom_scalars_multilinechart(["loss", "lr"])
        hparams = {"lr": 0.001, "layers": 3, "flag": True, "optimizer": "adam"}
        writer.add_hparams(hparams, {"hparam/accuracy": 0.875})
        written["hparams"] = hparams
        written["hparam_metrics"] = {"hparam/accuracy": 0.875}
        writer.close()
    return written


def write_scalars(writer: Any, key: str, steps: range, *, offset: float = 0.0) -> list[tuple[int, float, float]]:
    """``key`` at ``steps`` through an open writer (flushed); returns (step, value, time)."""
    points = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for step in steps:
            value, time = step * 0.5 + offset, BASE_TIME + 1000 + step
            writer.add_scalar(key, value, step, walltime=time)
            points.append((step, value, time))
        writer.flush()
    return points


def write_tensor_forms(log_dir: Path) -> dict[str, Any]:
    """The tensor-based plugin forms (what TensorFlow 2 and newer writers produce), built with
    TensorBoard's own summary helpers and metadata, and things no importer carries."""
    from PIL import Image
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.plugins.audio import metadata as audio_metadata
    from tensorboard.plugins.histogram import summary as histogram_summary
    from tensorboard.plugins.image import metadata as image_metadata
    from tensorboard.plugins.text import metadata as text_metadata
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    from tensorboard.util import tensor_util

    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8) for _ in range(2)]
    encoded = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        encoded.append(buffer.getvalue())
    values = rng.normal(size=300)
    table = [["epoch", "note"], ["1", "fine ✓"]]

    def value(tag: str, array: Any, metadata: Any = None) -> Any:
        return summary_pb2.Summary.Value(tag=tag, tensor=tensor_util.make_tensor_proto(array), metadata=metadata)

    summaries = [
        (1, histogram_summary.histogram_pb("dist", values, buckets=7).value[0]),
        (2, value("pics", np.array([b"7", b"5", *encoded], dtype=object),
                  image_metadata.create_summary_metadata("", ""))),
        (3, value("table", np.array(table, dtype=object), text_metadata.create_summary_metadata("", ""))),
        (4, value("clip", np.array([[b"RIFF....", b""]], dtype=object),
                  audio_metadata.create_summary_metadata("", "", encoding=audio_metadata.Encoding.Value("WAV")))),
        (5, value("raw", np.arange(3.0))),
        (6, value("shape", np.arange(3.0), summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="mesh")))),
    ]
    writer = EventFileWriter(str(log_dir))
    for step, summary_value in summaries:
        writer.add_event(event_pb2.Event(wall_time=BASE_TIME + step, step=step,
                                         summary=summary_pb2.Summary(value=[summary_value])))
    writer.add_event(event_pb2.Event(wall_time=BASE_TIME + 9, graph_def=b"not really a graph"))
    writer.close()
    return {"images": images, "values": values, "table": table}
