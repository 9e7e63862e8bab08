"""W&B offline runs (``wandb/offline-run-*/run-*.wandb``) as :class:`ImportedRun` objects.

A ``.wandb`` file is W&B's transaction log, one protobuf ``Record`` per entry; ``_wandb_log``
reads its framing (header, 32 KiB blocks, pieces, CRC-32) and decodes the records with W&B's own
protobuf classes.

Each log is decoded once, as a stream, when its run is yielded (``read`` first reads only up to
each log's run record, to group the logs by run id): metadata, config, summary, exit and counts
of what is not carried; the numbers go to a :class:`_Spill` (in memory up to ``_SPILL`` points,
then appended to small temporary files per key) that ``series()`` hands over one key at a time,
so memory is bounded by the largest single series; ``media()`` re-reads only the records noted
as holding media or text (every other record's frame is skipped without decoding).

Several folders with the same run id (a run resumed offline writes a new ``offline-run-*`` folder
whose steps start again at 0) are one run: their logs are read in start-time order, and the steps
of a later log that start at or below the previous log's last step are shifted to follow it, as
W&B itself does when a run resumes online.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import struct
import tempfile
import weakref
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import ImportSourceError
from workbench.importers._model import ImportedRun, MediaItem, Series, SourceFile
from workbench.importers._wandb_log import Unreadable, records

__all__ = ["read"]

_RUN_DIR = re.compile(r"(?:offline-)?run-\d{8}_\d{6}-(.+)\Z")
#: points held in memory by ``series()`` before they are spilled to the per-key temporary files
_SPILL = 100_000
_POINT = struct.Struct("<qdd")  # step, value, time (NaN: none)
#: W&B's own history keys: the axes of a row, not series
_AXES = ("_step", "_timestamp", "_runtime")
#: W&B media types carried, and why the others are not
_NOT_CARRIED = {
    "table-file": "tables are not imported (their JSON files are kept with the run's files)",
    "joined-table": "tables are not imported",
    "partitioned-table": "tables are not imported",
    "audio-file": "audio is not imported (its files are kept with the run's files)",
    "video-file": "video is not imported (its files are kept with the run's files)",
}
_OTHER_MEDIA = "this W&B media type is not imported (its files, if any, are kept with the run's files)"


def read(sources: Sequence[str], **options: Any) -> Iterator[ImportedRun]:
    """The runs of W&B offline folders: ``wandb/``, ``offline-run-*``/``run-*`` or ``.wandb`` files.

    Options: ``system_metrics`` (default True): W&B's system metrics (``stats`` records) as
    ``sys/<W&B name>`` series. A source that does not exist, or holds no W&B run, raises
    :class:`~workbench.errors.ImportSourceError` before any run is yielded.
    """
    system = bool(options.pop("system_metrics", True))
    if options:
        raise TypeError(f"unknown options for the W&B importer: {', '.join(sorted(options))}")
    from workbench import _extras

    pb = _extras.require("wandb.proto.wandb_internal_pb2", "import", "workbench import wandb")
    found: list[tuple[str, Path, Path | None]] = []  # (source as given, run folder, log or None)
    for source in sources:
        found.extend((source, folder, log) for folder, log in _discover(source))
    runs: dict[str, list[_Segment]] = {}
    order: list[str] = []
    for source, folder, log in found:
        if log is None:
            ident = _folder_id(folder)
            yield ImportedRun(kind="wandb", source_path=source, source_id=ident,
                              error=f"{folder}: no .wandb file in this W&B run folder; nothing to import")
            continue
        segment = _Segment(source=source, folder=folder, log=log)
        try:
            segment.identify(pb)
        except Unreadable as exc:
            yield ImportedRun(kind="wandb", source_path=source, source_id=_folder_id(folder), error=str(exc))
            continue
        if segment.run_id not in runs:
            order.append(segment.run_id)
        runs.setdefault(segment.run_id, []).append(segment)
    for run_id in order:
        try:
            run = _imported(run_id, runs[run_id], pb, system)
        except (Unreadable, OSError) as exc:  # the log went away or cannot be read since it was listed
            error = str(exc) if isinstance(exc, Unreadable) else f"{runs[run_id][0].log}: {exc}"
            run = ImportedRun(kind="wandb", source_path=runs[run_id][0].source, source_id=run_id, error=error)
        yield run


# -- finding runs --------------------------------------------------------------------------------


def _discover(source: str) -> list[tuple[Path, Path | None]]:
    """(run folder, its .wandb log or None) for each W&B run under ``source``."""
    path = Path(source)
    fix = "give a wandb/ folder, an offline-run-* folder or a run-*.wandb file"
    if not path.exists():
        raise ImportSourceError(f"{source}: no such file or folder; {fix}")
    if path.is_file():
        if path.suffix != ".wandb":
            raise ImportSourceError(f"{source}: not a W&B transaction log (.wandb file); {fix}")
        return [(path.parent, path)]
    if _logs_in(path) or _RUN_DIR.match(path.name):
        return [(path, _log_of(path))]
    parent = path / "wandb" if (path / "wandb").is_dir() else path
    folders = sorted(p for p in parent.iterdir() if _RUN_DIR.match(p.name) and p.is_dir() and not p.is_symlink())
    if not folders:
        raise ImportSourceError(f"{source}: no W&B run folders (offline-run-*, run-*) in it; {fix}")
    return [(folder, _log_of(folder)) for folder in folders]


def _logs_in(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.glob("*.wandb") if p.is_file() and not p.is_symlink())
    except OSError:
        return []


def _log_of(folder: Path) -> Path | None:
    logs = _logs_in(folder)
    match = _RUN_DIR.match(folder.name)
    if match and (folder / f"run-{match.group(1)}.wandb") in logs:
        return folder / f"run-{match.group(1)}.wandb"
    return logs[0] if logs else None


def _folder_id(folder: Path) -> str:
    match = _RUN_DIR.match(folder.name)
    return match.group(1) if match else folder.name


# -- values --------------------------------------------------------------------------------------


def _value(item: Any) -> Any:
    """The value of a history/config/summary item (``value_json``, or a typed history value)."""
    if item.value_json:
        return json.loads(item.value_json)
    which = item.WhichOneof("value") if "value" in item.DESCRIPTOR.oneofs_by_name else None
    if which is None or which == "none":
        return None
    if which == "json":
        return json.loads(item.json)
    return getattr(item, which)


def _apply(target: dict[str, Any], items: Iterable[Any], removes: Iterable[Any] = ()) -> int:
    """Apply W&B config/summary updates to ``target``; the count of values that did not parse."""
    bad = 0
    for item in items:
        path = list(item.nested_key) or [item.key]
        try:
            value = _value(item)
        except (ValueError, RecursionError):
            bad += 1
            continue
        node = target
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[path[-1]] = value
    for item in removes:
        path = list(item.nested_key) or [item.key]
        node = target
        for part in path[:-1]:
            child = node.get(part)
            node = child if isinstance(child, dict) else {}
        node.pop(path[-1], None)
    return bad


def _flat(row: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Keys of a history row with nested plain dicts joined by "." (as W&B shows them)."""
    for key, value in row.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and "_type" not in value:
            yield from _flat(value, name)
        else:
            yield name, value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _seconds(stamp: Any) -> float:
    return float(stamp.seconds) + float(stamp.nanos) / 1e9


@dataclass
class _Row:
    step: int
    time: float | None
    #: numeric values by flat key (only when asked for)
    numbers: list[tuple[str, float]]
    #: every other value by flat key: text, media dicts (``_type``), booleans, lists, nulls
    others: list[tuple[str, Any]]


#: first characters of a JSON number (and of W&B's NaN, Infinity, -Infinity)
_NUMERIC = frozenset("-0123456789NI")


def _row(record: Any, offset: int, numbers: bool) -> tuple[_Row | None, int]:
    """A history record as a row (steps shifted by ``offset``; None without a usable step) and
    the count of its values that did not parse. Numbers are read with ``float`` (the fast path:
    a row is mostly numbers); only other values go through ``json``."""
    # each field of a protobuf item costs a wrapper object: read each once, then work on tuples
    entries = [(tuple(item.nested_key) or (item.key,), item.value_json, item) for item in record.history.item]
    media = {path[:-1] for path, _, _ in entries if len(path) > 1 and path[-1] == "_type"}
    step: int | None = None
    stamp: float | None = None
    found: list[tuple[str, float]] = []
    others: list[tuple[str, Any]] = []
    dicts: dict[tuple[str, ...], dict[str, Any]] = {}
    bad = 0
    for path, raw, item in entries:
        head = path[0]
        if head[:1] == "_":
            if head == "_step" and len(path) == 1:
                with contextlib.suppress(ValueError, OverflowError):
                    step = int(float(raw)) if raw[:1] in _NUMERIC else None
            elif head == "_timestamp" and len(path) == 1:
                with contextlib.suppress(ValueError):
                    stamp = float(raw)
            continue
        owner = next((p for p in media if path[:len(p)] == p), None) if media else None
        if owner is None and raw[:1] in _NUMERIC and raw:
            if numbers:
                try:
                    found.append((head if len(path) == 1 else ".".join(path), float(raw)))
                except ValueError:
                    bad += 1
            continue
        try:
            value = _value(item)
        except (ValueError, RecursionError):
            bad += 1
            continue
        if owner is not None:
            node = dicts.setdefault(owner, {})
            for part in path[len(owner):-1]:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            node[path[-1]] = value
            continue
        for key, leaf in _flat({path[-1]: value}, ".".join(path[:-1])):
            number = _number(leaf)
            if number is None:
                others.append((key, leaf))
            elif numbers:
                found.append((key, number))
    others.extend((".".join(p), d) for p, d in dicts.items())
    if step is None and record.history.HasField("step"):
        step = int(record.history.step.num)
    if step is None or not -(2**62) <= step + offset < 2**62:  # room for a resumed part's offset; int64 on disk
        return None, bad
    return _Row(step + offset, stamp if stamp is not None and math.isfinite(stamp) else None, found, others), bad


# -- one log -------------------------------------------------------------------------------------


@dataclass
class _Segment:
    """One run folder's log: what the metadata pass found."""

    source: str
    folder: Path
    log: Path
    run: Any = None
    environment: Any = None
    exit: Any = None
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    saved: set[str] = field(default_factory=set)
    images: set[str] = field(default_factory=set)
    first_step: int | None = None
    last_step: int | None = None
    last_time: float | None = None
    #: added to every step of this log (a run resumed offline starts again at 0)
    offset: int = 0
    #: console output records (W&B also writes them to files/output.log)
    output: int = 0
    #: offsets of the history records that hold values other than numbers (media, text)
    media_at: set[int] = field(default_factory=set)
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)
    keys: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return str(self.run.run_id)

    @property
    def start(self) -> float | None:
        return _seconds(self.run.start_time) if self.run.HasField("start_time") else None

    def identify(self, pb: Any) -> None:
        """Read up to the run record (the log's second record): its id and start time."""
        damage: list[str] = []
        for _, record in records(self.log, pb, damage):
            if record.WhichOneof("record_type") == "run":
                self.run = record.run
                return
        detail = f" ({damage[0]})" if damage else ""
        raise Unreadable(f"{self.log}: no run record could be read{detail}; nothing to import")

    def scan(self, pb: Any, spill: _Spill, earlier: int | None) -> None:
        """The one decoding pass: metadata, config, summary, exit, counts; numbers into ``spill``
        (steps shifted to follow ``earlier``, the last step of the run's earlier parts, where they
        would collide); the offsets of the rows that hold other values, for ``media()``."""
        summary: dict[tuple[str, ...], str] = {}
        for at, record in records(self.log, pb, self.problems):
            kind = record.WhichOneof("record_type")
            if kind == "history":
                row = self.row(record, self.offset)
                if row is None:
                    self.skipped[("history row(s) without a usable step", "not imported")] += 1
                    continue
                if self.first_step is None and earlier is not None and row.step <= earlier:
                    self.offset = earlier + 1 - row.step  # a part resumed offline: its steps restart
                    row.step += self.offset
                self._tally(row)
                spill.step = row.step
                for key, number in row.numbers:
                    spill.add(key, row.step, number, row.time)
                if row.others:
                    self.media_at.add(at)
            elif kind == "stats" and record.stats.HasField("timestamp"):
                stamp = _seconds(record.stats.timestamp)
                self.last_time = max(self.last_time or stamp, stamp)
                if spill.system:
                    for item in record.stats.item:
                        with contextlib.suppress(ValueError, RecursionError):
                            sample = _number(json.loads(item.value_json))
                            if sample is not None:
                                spill.add(f"sys/{item.key}", spill.step, sample, stamp)
            elif kind == "run":  # a full snapshot each time: one more when a name, tag or note changes
                self.run = record.run
                self._bad_values(_apply(self.config, record.run.config.update), "config")
            elif kind == "config":
                self._bad_values(_apply(self.config, record.config.update, record.config.remove), "config")
            elif kind == "summary":  # one per logged row: kept as text, decoded once at the end
                for item in record.summary.update:
                    path = tuple(item.nested_key) or (item.key,)
                    summary.pop(path, None)
                    summary[path] = item.value_json
                for item in record.summary.remove:
                    path = tuple(item.nested_key) or (item.key,)
                    for gone in [k for k in summary if k[:len(path)] == path]:
                        del summary[gone]
            elif kind == "environment" and record.environment.program and self.environment is None:
                self.environment = record.environment
            elif kind == "exit":
                self.exit = record.exit
            elif kind == "files":
                self.saved.update(item.path for item in record.files.files)
            elif kind in ("artifact", "use_artifact", "noop_link_artifact"):
                self.skipped[("artifact record(s)", "W&B artifacts are not imported")] += 1
            elif kind in ("output", "output_raw"):
                self.output += 1
            elif kind == "alert":
                self.skipped[("alert(s)", "W&B alerts are not imported")] += 1
        bad = 0
        for path, text in summary.items():
            try:
                value = json.loads(text)
            except (ValueError, RecursionError):
                bad += 1
                continue
            node = self.summary
            for part in path[:-1]:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            node[path[-1]] = value
        self._bad_values(bad, "summary")

    def _bad_values(self, count: int, what: str) -> None:
        if count:
            self.problems.append(f"{self.log}: {count} {what} value(s) are not valid JSON; skipped")

    def row(self, record: Any, offset: int) -> _Row | None:
        row, bad = _row(record, offset, numbers=True)
        if bad:
            self.skipped[("history value(s) that are not valid JSON", "not imported")] += bad
        return row

    def _tally(self, row: _Row) -> None:
        self.first_step = row.step if self.first_step is None else min(self.first_step, row.step)
        self.last_step = row.step if self.last_step is None else max(self.last_step, row.step)
        if row.time is not None:
            self.last_time = max(self.last_time or row.time, row.time)
        for key, value in row.others:
            if isinstance(value, str):
                continue
            if isinstance(value, dict):
                kind = str(value.get("_type"))
                if kind == "image-file" and isinstance(value.get("path"), str):
                    self.images.add(value["path"])
                    continue
                if kind in ("image-file", "histogram"):
                    continue
                reason = ("value(s) of W&B type " + kind, _NOT_CARRIED.get(kind, _OTHER_MEDIA))
            else:
                reason = ("history value(s) that are not numbers, text or media (booleans, lists, nulls)",
                          "not imported")
            self.skipped[reason] += 1
            self.keys.setdefault(reason, set()).add(key)

    def files_dir(self) -> Path:
        return self.folder / "files"


# -- one run -------------------------------------------------------------------------------------


def _imported(run_id: str, segments: list[_Segment], pb: Any, system: bool) -> ImportedRun:
    segments.sort(key=lambda s: (s.start if s.start is not None else math.inf, s.folder.name))
    copies: list[str] = []
    kept: list[_Segment] = []
    for segment in segments:  # a copied folder is the same run started at the same time: read one
        if kept and segment.start is not None and segment.start == kept[-1].start:
            longer, shorter = sorted((kept[-1], segment), key=lambda s: s.log.stat().st_size, reverse=True)
            kept[-1] = longer
            copies.append(f"{shorter.folder}: a copy of {longer.folder} (the same run, started at the same "
                          "time); the longer log was read")
        else:
            kept.append(segment)
    segments = kept
    spill = _Spill(system)
    earlier: int | None = None
    for segment in segments:
        segment.scan(pb, spill, earlier)
        if segment.last_step is not None:
            earlier = segment.last_step if earlier is None else max(earlier, segment.last_step)
    first, final = segments[0], segments[-1]
    config: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    for segment in segments:
        config.update(segment.config)
        summary.update(segment.summary)
    config.pop("_wandb", None)
    summary = {k: v for k, v in summary.items()
               if not str(k).startswith("_") and not (isinstance(v, dict) and "_type" in v)}
    def latest(field: str) -> Any:
        """The run record's field as last set (each record is a snapshot; a resumed part's may
        leave out what the first part set)."""
        return next((value for value in (getattr(s.run, field) for s in reversed(segments)) if value), None)

    command, commit = _command(first)
    status = "crashed"
    end = final.last_time
    if final.exit is not None:
        status = "completed" if final.exit.exit_code == 0 else "failed"
        if final.start is not None:
            end = max(end or 0.0, final.start + float(final.exit.runtime))
    problems = [p for s in segments for p in s.problems]
    skipped: list[str] = []
    totals: Counter[tuple[str, str]] = Counter()
    keys: dict[tuple[str, str], set[str]] = {}
    for segment in segments:
        totals.update(segment.skipped)
        for reason, found in segment.keys.items():
            keys.setdefault(reason, set()).update(found)
    for (what, why), count in totals.items():
        names = sorted(keys.get((what, why), ()))
        more = ", ..." if len(names) > 5 else ""
        shown = f" (keys {', '.join(repr(n) for n in names[:5])}{more})" if names else ""
        skipped.append(f"{count} {what}{shown}: {why}")
    skipped.extend(copies)
    lost = sum(s.output for s in segments if not (s.files_dir() / "output.log").is_file())
    if lost:
        skipped.append(f"{lost} console output record(s): not imported (this run has no files/output.log, "
                       "where W&B keeps the same lines)")
    files = _files(segments, skipped)
    return ImportedRun(
        kind="wandb", source_path=first.source, source_id=run_id,
        project=latest("project"), name=latest("display_name"), config=config, tags=list(latest("tags") or ()),
        notes=latest("notes"), status=status, start_time=first.start, end_time=end,
        command=command, git_commit=commit, summary=summary, group=latest("run_group"),
        host=latest("host"), job_type=latest("job_type"),
        series=spill.series, media=lambda: _media(segments, pb, problems),
        files=files, skipped=skipped, problems=problems,
    )


def _command(segment: _Segment) -> tuple[list[str] | None, str | None]:
    """argv and git commit: the environment record (wandb >= 0.19), else files/wandb-metadata.json."""
    commit = segment.run.git.commit or None
    env = segment.environment
    if env is not None:
        return [env.program, *env.args], commit or env.git.commit or None
    meta = segment.files_dir() / "wandb-metadata.json"
    with contextlib.suppress(OSError, ValueError, RecursionError):
        if meta.is_file() and not meta.is_symlink() and meta.stat().st_size < 2**20:
            data = json.loads(meta.read_text(encoding="utf-8"))
            program, args = data.get("program"), data.get("args") or []
            git = data.get("git") if isinstance(data.get("git"), dict) else {}
            if isinstance(program, str) and isinstance(args, list) and all(isinstance(a, str) for a in args):
                commit = commit or (git.get("commit") if isinstance(git.get("commit"), str) else None)
                return [program, *args], commit
    return None, commit


def _files(segments: list[_Segment], skipped: list[str]) -> list[SourceFile]:
    """The run's files/ folder(s), less the images that go to the media store; a later folder of
    a resumed run replaces a file of the same name. Links are followed only for files the log says
    W&B saved (``wandb.save`` links the user's file into files/)."""
    chosen: dict[str, Path] = {}
    refused: list[str] = []
    outside: list[str] = []
    for segment in segments:
        root = segment.files_dir()
        if not root.is_dir() or root.is_symlink():
            continue
        # where a saved file may live: the folder W&B ran in (the one holding wandb/), so a
        # hostile run folder cannot pull ~/.ssh/id_rsa into the store by listing a link as saved
        folder = segment.folder.resolve()
        project = folder.parent.parent if folder.parent.name == "wandb" else folder.parent
        for dirpath, dirnames, filenames in os.walk(root):
            here = Path(dirpath)
            dirnames[:] = sorted(d for d in dirnames if not (here / d).is_symlink())
            for name in sorted(filenames):
                path = here / name
                rel = path.relative_to(root).as_posix()
                if rel in segment.images:
                    continue
                if path.is_symlink():
                    if rel not in segment.saved:
                        refused.append(rel)
                        continue
                    path = path.resolve()  # the saved file itself (the writer refuses links)
                    if not path.is_relative_to(project):
                        outside.append(rel)
                        continue
                if path.is_file():
                    chosen[rel] = path
    if refused:
        skipped.append(f"{len(refused)} file link(s) in files/ that the run's log does not list as saved "
                       f"({', '.join(refused[:5])}): not followed")
    if outside:
        skipped.append(f"{len(outside)} saved file link(s) that point outside the folder W&B ran in "
                       f"({', '.join(outside[:5])}): not followed (copy such files next to the run to import them)")
    return [SourceFile(name=name, path=path) for name, path in chosen.items()]


# -- streams -------------------------------------------------------------------------------------


class _Spill:
    """The points of one run by key, in source order: in memory up to ``_SPILL`` points, then
    appended to three small files per key (steps, values, times) in a temporary folder, so that
    ``series()`` holds one key at a time."""

    def __init__(self, system: bool) -> None:
        self.system = system
        #: the step of the last history row read (system metrics are placed at it)
        self.step = 0
        self._index: dict[str, int] = {}
        self._held: dict[int, tuple[array[Any], array[Any], array[Any]]] = {}
        self._count = 0
        self._untimed: set[int] = set()
        self._folder: str | None = None
        self._remove: weakref.finalize[Any, Any] | None = None

    def add(self, key: str, step: int, value: float, time: float | None) -> None:
        code = self._index.setdefault(key, len(self._index))
        held = self._held.get(code)
        if held is None:
            held = self._held[code] = (array("q"), array("d"), array("d"))
        held[0].append(step)
        held[1].append(value)
        if time is None:
            self._untimed.add(code)
            held[2].append(math.nan)
        else:
            held[2].append(time)
        self._count += 1
        if self._count >= _SPILL:
            self._flush()

    def _flush(self) -> None:
        if self._folder is None:  # removed by series(), or when this object is collected unread
            self._folder = tempfile.mkdtemp(prefix="workbench-wandb-")
            self._remove = weakref.finalize(self, shutil.rmtree, self._folder, ignore_errors=True)
        for code, columns in self._held.items():
            for column, suffix in zip(columns, "svt", strict=True):
                with open(os.path.join(self._folder, f"{code}.{suffix}"), "ab") as out:
                    column.tofile(out)
        self._held.clear()
        self._count = 0

    def series(self) -> Iterator[Series]:
        try:
            for key, code in self._index.items():
                columns: list[array[Any]] = [array("q"), array("d"), array("d")]
                if self._folder is not None:
                    for column, suffix in zip(columns, "svt", strict=True):
                        path = os.path.join(self._folder, f"{code}.{suffix}")
                        with contextlib.suppress(FileNotFoundError), open(path, "rb") as handle:
                            column.frombytes(handle.read())
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(path)
                held = self._held.pop(code, None)
                if held is not None:
                    for column, more in zip(columns, held, strict=True):
                        column.extend(more)
                steps, values, times = columns
                yield Series(key=key, steps=steps, values=values, times=None if code in self._untimed else times)
        finally:
            if self._remove is not None:
                self._remove()


def _media(segments: list[_Segment], pb: Any, problems: list[str]) -> Iterator[MediaItem]:
    """Images (files under files/media/), histograms and plain text values of the history."""
    for segment in segments:
        if not segment.media_at:
            continue
        root = segment.files_dir().resolve()
        for _, record in records(segment.log, pb, None, only=segment.media_at):
            row, _ = _row(record, segment.offset, numbers=False)
            if row is None:
                continue
            for key, value in row.others:
                if isinstance(value, str):
                    yield MediaItem(key=key, step=row.step, time=row.time, kind="text", payload=value)
                elif isinstance(value, dict) and value.get("_type") == "histogram":
                    bins, counts = value.get("bins"), value.get("values")
                    if (isinstance(bins, list) and isinstance(counts, list) and len(bins) == len(counts) + 1
                            and all(_number(x) is not None for x in bins + counts)):
                        yield MediaItem(key=key, step=row.step, time=row.time, kind="histogram",
                                        payload=([float(x) for x in bins], [float(x) for x in counts]))
                    else:
                        problems.append(f"{segment.log}: histogram {key!r} at step {row.step} has "
                                                "malformed bins; skipped")
                elif isinstance(value, dict) and value.get("_type") == "image-file":
                    data = _image(root, value.get("path"))
                    if data is None:
                        problems.append(f"{segment.log}: image {key!r} at step {row.step}: its file "
                                                f"{value.get('path')!r} is missing or outside files/; skipped")
                    else:
                        yield MediaItem(key=key, step=row.step, time=row.time, kind="image", payload=data)


def _image(root: Path, rel: Any) -> bytes | None:
    if not isinstance(rel, str) or not rel or "\0" in rel:
        return None
    path = (root / rel).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None
