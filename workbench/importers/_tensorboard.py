"""TensorBoard log directories -> :class:`ImportedRun` (docs/import.md, "TensorBoard").

Every folder under a source that holds ``*tfevents*`` files is one run; its files (restarts) are
read in name order, records in file order. Records are framed and checked by ``_tfrecord`` (with
TensorBoard's masked CRC-32C) and decoded with TensorBoard's ``Event``/``Summary`` protos (no
TensorFlow).

Streaming: one pass per run reads every record; scalar points go to per-tag arrays that spill to
an anonymous temporary file once the run holds more than ``_SPILL_POINTS`` points, so memory is
bounded by the largest single series plus that buffer. Media (images, histograms, text) are not
kept: ``media()`` reads the files that held media a second time, up to the byte where the first
pass stopped, one item at a time.

A folder whose only content is an ``add_hparams`` session (PyTorch and tensorboardX write one into
a sub-folder of the run named after the time) is merged into its parent run when it is the only
such sub-folder: its hyperparameters become the parent's config, its metric values the parent's
series. Otherwise such sessions are runs of their own, with the parent folder as ``parent_id``.
"""

from __future__ import annotations

import itertools
import math
import os
import tempfile
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from workbench.errors import ImportSourceError
from workbench.importers._model import ImportedRun, MediaItem, Series
from workbench.importers._tfrecord import records

__all__ = ["read"]

KIND = "tensorboard"
#: scalar points a run holds in memory (24 bytes each) before they go to a temporary file
_SPILL_POINTS = 1_000_000
#: an add_hparams session folder is never larger than this (a few hundred bytes per parameter)
_SESSION_BYTES = 1 << 20
#: elements of one tensor summary we convert (a histogram has 3 per bin, an image summary 2 + samples)
_MAX_ELEMENTS = 10_000_000
#: bytes a tensor filled from one string value may expand to (TensorBoard's writers never fill)
_MAX_FILLED_BYTES = 16 << 20

#: the words of the skipped lines, per category: (singular, plural, why)
_SKIP_WORDS: dict[str, tuple[str, str, str]] = {
    "audio": ("audio clip", "audio clips", "audio is not imported"),
    "graphs": ("graph", "graphs", "model graphs are not imported"),
    "run_metadata": ("run metadata record", "run metadata records", "profiling data is not imported"),
    "pr_curves": ("PR curve", "PR curves", "PR curves are not imported"),
    "custom_scalars": ("custom scalar layout", "custom scalar layouts", "dashboard layouts are not imported"),
    "empty_histograms": ("empty histogram", "empty histograms", "a histogram with no values has no bins"),
}
_IGNORED_PLUGINS = frozenset(("hparams",))


# -- one run's files -----------------------------------------------------------------------------


@dataclass
class _Buffer:
    steps: array[int] = field(default_factory=lambda: array("q"))
    values: array[float] = field(default_factory=lambda: array("d"))
    times: array[float] = field(default_factory=lambda: array("d"))
    #: (offset, count) of spilled chunks in the scan's temporary file
    chunks: list[tuple[int, int]] = field(default_factory=list)
    total: int = 0


@dataclass
class _Scan:
    """What one pass over a run's files found (scalars kept, media counted)."""

    files: list[tuple[Path, str]]
    series: dict[str, _Buffer] = field(default_factory=dict)
    buffered: int = 0
    spill: IO[bytes] | None = None
    media: Counter[str] = field(default_factory=Counter)
    #: per file label: the byte up to which it was read, and whether it held media
    read_to: dict[str, int] = field(default_factory=dict)
    media_files: set[str] = field(default_factory=set)
    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, float] = field(default_factory=dict)
    hparams_session: bool = False
    status: str = "completed"
    group: str | None = None
    first_time: float | None = None
    last_time: float | None = None
    #: plugin name of each tag, from the first value that carried metadata (TensorBoard writes
    #: it once per tag per file, and a restarted writer may not write it again)
    plugins: dict[str, str] = field(default_factory=dict)
    other_kinds: bool = False

    def add_point(self, key: str, step: int, value: float, time: float) -> None:
        buf = self.series.get(key)
        if buf is None:
            buf = self.series[key] = _Buffer()
        buf.steps.append(step)
        buf.values.append(value)
        buf.times.append(time)
        buf.total += 1
        self.buffered += 1
        if self.buffered >= _SPILL_POINTS:
            self._spill()

    def _spill(self) -> None:
        if self.spill is None:
            self.spill = tempfile.TemporaryFile(prefix="wb-tb-")  # noqa: SIM115 (lives with the scan)
        for buf in self.series.values():
            if not buf.steps:
                continue
            offset = self.spill.seek(0, os.SEEK_END)
            for part in (buf.steps, buf.values, buf.times):
                part.tofile(self.spill)
            buf.chunks.append((offset, len(buf.steps)))
            buf.steps, buf.values, buf.times = array("q"), array("d"), array("d")
        self.buffered = 0

    def stream_series(self) -> Iterator[Series]:
        try:
            for key, buf in self.series.items():
                if not buf.chunks:
                    yield Series(key, buf.steps, buf.values, buf.times)
                    continue
                yield Series(key, *_all_points(self, buf))
        finally:
            self.close()

    def close(self) -> None:
        self.series = {}
        if self.spill is not None:
            self.spill.close()
            self.spill = None

    def seen(self, time: float) -> None:
        if not math.isfinite(time):
            return
        if self.first_time is None or time < self.first_time:
            self.first_time = time
        if self.last_time is None or time > self.last_time:
            self.last_time = time


def _scan(files: list[tuple[Path, str]]) -> _Scan:
    from tensorboard.compat.proto import event_pb2

    scan = _Scan(files)
    for path, label in files:
        read_to = 0
        try:
            for offset, data in records(path, label, scan.problems):
                read_to = offset + len(data) + 16
                try:
                    event = event_pb2.Event.FromString(data)
                except Exception as exc:  # noqa: BLE001 (protobuf's DecodeError and friends)
                    scan.problems.append(f"{label}: record at byte {offset} is not a TensorBoard event ({exc}); "
                                         "skipped")
                    continue
                scan.seen(event.wall_time)
                if _scan_event(scan, event):
                    scan.media_files.add(label)
        except OSError as exc:
            scan.unreadable.append(f"{label}: {exc.strerror or exc}")
            scan.problems.append(f"{label}: cannot be read ({exc.strerror or exc}); skipped")
        scan.read_to[label] = read_to
    return scan


def _scan_event(scan: _Scan, event: Any) -> bool:
    """Take one event into ``scan``; True when it holds media (read again by ``media()``)."""
    what = event.WhichOneof("what")
    if what in ("graph_def", "meta_graph_def"):
        scan.skipped["graphs"] += 1
        scan.other_kinds = True
        return False
    if what == "tagged_run_metadata":
        scan.skipped["run_metadata"] += 1
        scan.other_kinds = True
        return False
    if what != "summary":
        return False  # file_version, session_log, log_message, source_metadata: not data
    has_media = False
    for value in event.summary.value:
        plugin = _plugin(scan, value)
        kind = value.WhichOneof("value")
        if plugin == "hparams":
            _hparams(scan, value.metadata.plugin_data.content)
            continue
        if kind == "simple_value":
            scan.add_point(value.tag, event.step, value.simple_value, event.wall_time)
        elif kind == "tensor" and plugin == "scalars":
            number = _tensor_scalar(value.tensor)
            if number is None:
                scan.problems.append(f"scalar {value.tag!r} at step {event.step} is not a single number; skipped")
            else:
                scan.add_point(value.tag, event.step, number, event.wall_time)
        elif kind in ("image", "histo") or (kind == "tensor" and plugin in ("images", "histograms", "text")):
            for item in _media_items(scan, value, event.step, event.wall_time, None):
                scan.media[item.kind] += 1
            has_media = True  # read again by media(), which reports what is malformed
            scan.other_kinds = True
        else:
            scan.other_kinds = True
            category = "audio" if kind == "audio" else plugin or ("tensor" if kind == "tensor" else kind or "empty")
            scan.skipped[category] += 1
    return has_media


def _plugin(scan: _Scan, value: Any) -> str:
    name: str = value.metadata.plugin_data.plugin_name if value.HasField("metadata") else ""
    if name:
        scan.plugins.setdefault(value.tag, name)
        return name
    return scan.plugins.get(value.tag, "")


def _tensor_size(tensor: Any) -> int | None:
    """Elements a tensor claims, None when its shape is unknown or beyond ``_MAX_ELEMENTS`` (a hostile
    shape would make numpy repeat the last value to fill it)."""
    size = 1
    for dim in tensor.tensor_shape.dim:
        if dim.size < 0:
            return None
        size *= dim.size
        if size > _MAX_ELEMENTS:
            return None
    return size


def _ndarray(tensor: Any) -> Any:
    """The tensor as a numpy array (TensorBoard's own conversion); ValueError when it is not one."""
    from tensorboard.util import tensor_util

    size = _tensor_size(tensor)
    if size is None:
        raise ValueError("shape unknown or too large")
    # one string_val fills the whole shape: a few bytes in the file could become terabytes
    if len(tensor.string_val) == 1 and size > 1 and size * len(tensor.string_val[0]) > _MAX_FILLED_BYTES:
        raise ValueError("one string repeated over too many elements")
    return tensor_util.make_ndarray(tensor)


def _tensor_scalar(tensor: Any) -> float | None:
    if _tensor_size(tensor) != 1:
        return None
    if len(tensor.float_val) == 1:
        return float(tensor.float_val[0])
    if len(tensor.double_val) == 1:
        return float(tensor.double_val[0])
    try:
        array_ = _ndarray(tensor)
        if array_.size != 1 or array_.dtype.kind not in "fiub":
            return None
        return float(array_.reshape(-1)[0])
    except Exception:  # noqa: BLE001 (a malformed tensor in a hostile file)
        return None


def _media_items(scan: _Scan, value: Any, step: int, time: float, problems: list[str] | None) -> Iterator[MediaItem]:
    """The media of one summary value (``problems`` None: count only, report nothing)."""
    kind = value.WhichOneof("value")
    tag = value.tag

    def bad(what: str) -> None:
        if problems is not None:
            problems.append(f"{what} {tag!r} at step {step} is malformed; skipped")

    if kind == "image":
        yield MediaItem(tag, step, time, "image", bytes(value.image.encoded_image_string))
        return
    if kind == "histo":
        h = value.histo
        counts, limits = list(h.bucket), list(h.bucket_limit)
        if len(counts) != len(limits):
            bad("histogram")
            return
        nonzero = [i for i, c in enumerate(counts) if c > 0]
        if not nonzero:
            if problems is None:
                scan.skipped["empty_histograms"] += 1
            return
        start, end = nonzero[0], nonzero[-1]
        # TensorBoard's own reading (data_compat): empty outer buckets dropped, min and max as
        # the outer edges (the outermost limits are +-DBL_MAX)
        edges = [float(h.min), *limits[start:end], float(h.max)]
        if not _ordered(edges):
            bad("histogram")
            return
        yield MediaItem(tag, step, time, "histogram", (edges, counts[start:end + 1]))
        return
    plugin = scan.plugins.get(tag, "")
    try:
        data = _ndarray(value.tensor)
    except Exception:  # noqa: BLE001 (a malformed tensor in a hostile file)
        bad(plugin.rstrip("s") or "tensor")
        return
    if plugin == "images":
        flat = data.reshape(-1)
        for encoded in flat[2:]:  # width, height, then one encoded image per sample
            yield MediaItem(tag, step, time, "image", bytes(encoded))
    elif plugin == "histograms":
        if data.ndim != 2 or data.shape[1] != 3:
            bad("histogram")
            return
        if data.shape[0] == 0:
            if problems is None:
                scan.skipped["empty_histograms"] += 1
            return
        edges = [float(x) for x in data[:, 0]] + [float(data[-1, 1])]
        if not _ordered(edges):
            bad("histogram")
            return
        yield MediaItem(tag, step, time, "histogram", (edges, [float(x) for x in data[:, 2]]))
    else:  # text: a string, or a table of strings (rows on lines, cells tab-separated)
        if data.ndim == 0:
            text = _text(data.item())
        elif data.ndim == 1:
            text = "\n".join(_text(x) for x in data)
        else:
            text = "\n".join("\t".join(_text(x) for x in row.reshape(-1)) for row in data)
        yield MediaItem(tag, step, time, "text", text)


def _ordered(edges: list[float]) -> bool:
    return all(math.isfinite(e) for e in edges) and all(a <= b for a, b in itertools.pairwise(edges))


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


_STATUS = {1: "completed", 2: "failed", 3: "running"}


def _hparams(scan: _Scan, content: bytes) -> None:
    from tensorboard.plugins.hparams import plugin_data_pb2

    try:
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
    except Exception as exc:  # noqa: BLE001 (protobuf's DecodeError)
        scan.problems.append(f"an hparams record cannot be read ({exc}); skipped")
        return
    which = data.WhichOneof("data")
    if which == "session_start_info":
        scan.hparams_session = True
        info = data.session_start_info
        for name, value in info.hparams.items():
            scan.config[name] = _hparam_value(value)
        if info.group_name:
            scan.group = info.group_name
    elif which == "session_end_info":
        scan.status = _STATUS.get(data.session_end_info.status, "completed")


def _hparam_value(value: Any) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = float(value.number_value)
        # TensorBoard keeps every number as a double; integral ones were ints (batch sizes, epochs)
        if number.is_integer() and abs(number) < 2**53:
            return int(number)
        return number
    if kind == "string_value":
        return str(value.string_value)
    if kind == "bool_value":
        return bool(value.bool_value)
    if kind in ("list_value", "struct_value"):
        from google.protobuf import json_format

        return json_format.MessageToDict(value)
    return None


def _stream_media(scan: _Scan) -> Iterator[MediaItem]:
    """Read the media files again, up to where the scan stopped, one item at a time."""
    from tensorboard.compat.proto import event_pb2

    for path, label in scan.files:
        if label not in scan.media_files:
            continue
        try:
            for _offset, data in records(path, label, None, limit=scan.read_to.get(label, 0)):
                try:
                    event = event_pb2.Event.FromString(data)
                except Exception:  # noqa: BLE001 (reported by the scan)
                    continue
                if event.WhichOneof("what") != "summary":
                    continue
                for value in event.summary.value:
                    kind = value.WhichOneof("value")
                    plugin = scan.plugins.get(value.tag, "")
                    if kind in ("image", "histo") or (kind == "tensor" and plugin in ("images", "histograms", "text")):
                        yield from _media_items(scan, value, event.step, event.wall_time, scan.problems)
        except OSError as exc:
            scan.problems.append(f"{label}: cannot be read again for its media ({exc.strerror or exc}); "
                                 "its media skipped")


# -- sources -------------------------------------------------------------------------------------


def _is_event_file(name: str) -> bool:
    return "tfevents" in name  # TensorBoard's own test (io_wrapper.IsTensorFlowEventsFile)


def _file_order(name: str) -> tuple[tuple[int, int, str], ...]:
    """Event files in the order they were written: the name's numbers (time, pid, counter) compared
    as numbers, so ``...tfevents.1700000000.host.42.10`` comes after ``....9``."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in name.split("."))


def _run_dirs(root: Path, errors: dict[str, str]) -> dict[str, list[Path]]:
    """Folders under ``root`` holding event files (relative posix path -> files in name order)."""
    runs: dict[str, list[Path]] = {}

    def onerror(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else root
        try:
            rel = where.relative_to(root).as_posix()
        except ValueError:
            rel = "."
        errors[rel] = f"cannot list the folder ({exc.strerror or exc})"

    for folder, dirnames, filenames in os.walk(root, onerror=onerror):  # symlinks not followed
        dirnames.sort()
        events = sorted((name for name in filenames if _is_event_file(name)), key=_file_order)
        if events:
            rel = Path(folder).relative_to(root).as_posix()
            runs[rel] = [Path(folder) / name for name in events]
    return runs


def read(sources: Sequence[str], **options: Any) -> Iterator[ImportedRun]:
    """Yield one :class:`ImportedRun` per folder of event files under each of ``sources``.

    ``options``: ``project`` (recorded on each run; the writer's own ``project`` wins).
    """
    project = options.get("project")
    try:  # TensorBoard's protos: the 'import' extra (no TensorFlow needed)
        from tensorboard.compat.proto import event_pb2  # noqa: F401
    except ImportError as exc:
        from workbench._extras import _message
        from workbench.errors import MissingExtra

        raise MissingExtra(_message("workbench import tensorboard", "import", exc.name or "tensorboard"),
                           extra="import", module=exc.name or "tensorboard") from exc
    checked: list[tuple[str, Path]] = []
    for source in sources:
        path = Path(source)
        if not path.exists():
            raise ImportSourceError(f"TensorBoard source {source!r} does not exist; pass a log folder (the log_dir "
                                    "given to SummaryWriter) or an events.out.tfevents.* file")
        if not (path.is_dir() or path.is_file()):
            raise ImportSourceError(f"TensorBoard source {source!r} is neither a folder nor a file; pass a log "
                                    "folder or an events.out.tfevents.* file")
        checked.append((source, path))
    for source, path in checked:
        yield from _read_source(source, path, project)


def _read_source(source: str, path: Path, project: str | None) -> Iterator[ImportedRun]:
    if path.is_file():
        label = path.name
        yield _finish(source, label, path.parent.name or label, _scan([(path, label)]), project, None, None)
        return
    errors: dict[str, str] = {}
    runs = _run_dirs(path, errors)
    if not runs and not errors:
        raise ImportSourceError(f"no TensorBoard event files (events.out.tfevents.*) under {source!r}; pass the "
                                "log folder given to SummaryWriter(log_dir=...) or a folder above it")
    for rel, message in sorted(errors.items()):
        if rel not in runs:
            yield ImportedRun(KIND, source, rel, project=project, name=_name(rel, path), error=message)
    children: dict[str, list[str]] = {}
    for rel in runs:
        parent = _parent(rel)
        if parent is not None:
            children.setdefault(parent, []).append(rel)
    merged: set[str] = set()
    for rel, files in runs.items():
        if rel in merged:
            continue
        # an add_hparams session is a small leaf folder: only those are read to find out
        leaves = [c for c in children.get(rel, ()) if c not in children and _small(runs[c])]
        sessions = {c: _scan(_labelled(runs[c], path)) for c in leaves}
        for c in [c for c, s in sessions.items() if not s.hparams_session or s.other_kinds]:
            sessions.pop(c).close()
        scan = _scan(_labelled(files, path))
        if len(sessions) == 1:
            (child, session), = sessions.items()
            _merge(scan, session)
            merged.add(child)
        else:
            for s in sessions.values():
                s.close()
        parent = _parent(rel)
        parent_id = parent if parent in runs and scan.hparams_session and not scan.other_kinds else None
        if os.path.isdir(path / rel) and (path / rel / "projector_config.pbtxt").exists():
            scan.skipped["projector"] += 1
        yield _finish(source, rel, _name(rel, path), scan, project, parent_id, errors.get(rel))


def _small(files: list[Path]) -> bool:
    try:
        return sum(f.stat().st_size for f in files) <= _SESSION_BYTES
    except OSError:
        return False


def _parent(rel: str) -> str | None:
    if rel == ".":
        return None
    head = rel.rpartition("/")[0]
    return head or "."


def _name(rel: str, root: Path) -> str:
    return rel if rel != "." else (root.resolve().name or str(root))


def _labelled(files: list[Path], root: Path) -> list[tuple[Path, str]]:
    return [(f, f.relative_to(root).as_posix()) for f in files]


def _merge(scan: _Scan, session: _Scan) -> None:
    """Fold an ``add_hparams`` session folder into its run: config, status, metric series."""
    scan.files.extend(session.files)
    scan.read_to.update(session.read_to)
    scan.config.update(session.config)
    scan.group = scan.group or session.group
    if session.status != "completed":
        scan.status = session.status
    for t in (session.first_time, session.last_time):
        if t is not None:
            scan.seen(t)
    scan.problems.extend(session.problems)
    scan.unreadable.extend(session.unreadable)
    scan.skipped.update(session.skipped)
    for key, buf in session.series.items():
        steps, values, times = _all_points(session, buf)
        if key in scan.series and values:
            # add_hparams(metric_dict={"loss": ...}) beside a "loss" curve: the final value it
            # recorded (at step 0 by default) would be a stray point on the curve
            scan.summary[key] = values[-1]
            continue
        for step, value, time in zip(steps, values, times, strict=True):
            scan.add_point(key, step, value, time)
    session.close()


def _all_points(scan: _Scan, buf: _Buffer) -> tuple[array[int], array[float], array[float]]:
    steps, values, times = array("q"), array("d"), array("d")
    if buf.chunks:
        assert scan.spill is not None
        for offset, count in buf.chunks:
            scan.spill.seek(offset)
            for part in (steps, values, times):
                part.fromfile(scan.spill, count)
    steps.extend(buf.steps)
    values.extend(buf.values)
    times.extend(buf.times)
    return steps, values, times


def _finish(source: str, rel: str, name: str, scan: _Scan, project: str | None, parent_id: str | None,
            error: str | None) -> ImportedRun:
    if error is None and scan.files and len(scan.unreadable) == len(scan.files):
        error = "no event file can be read: " + "; ".join(scan.unreadable)
    if error is not None:
        scan.close()
        return ImportedRun(KIND, source, rel, project=project, name=name, error=error)
    skipped = [_skip_line(category, count) for category, count in scan.skipped.items()]
    return ImportedRun(
        KIND, source, rel, project=project, name=name, config=scan.config, status=scan.status,
        start_time=scan.first_time, end_time=scan.last_time, group=scan.group, summary=scan.summary,
        parent_id=parent_id,
        series=scan.stream_series, media=lambda: _stream_media(scan), skipped=skipped, problems=scan.problems,
    )


def _skip_line(category: str, count: int) -> str:
    if category == "projector":
        return "embedding projector data (projector_config.pbtxt): not imported"
    if category in _SKIP_WORDS:
        one, many, why = _SKIP_WORDS[category]
        return f"{count} {one if count == 1 else many}: {why}"
    if category == "tensor":
        return f"{count} tensor summar{'y' if count == 1 else 'ies'} without a plugin: not imported"
    return f"{count} '{category}' summar{'y' if count == 1 else 'ies'}: not imported"
