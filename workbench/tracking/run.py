"""``Run``: the handle training code logs through; the hot path of workbench.

``log`` only checks its input and appends one entry to a deque. A background thread turns the
entries into a parquet segment every ``flush_interval`` seconds (or sooner after
``flush_calls`` entries), updates the per-key summary, and rewrites the run record with a fresh
heartbeat. ``finish`` flushes, compacts the segments and writes the final status.

When the store refuses a write (a full disk, a read-only or failing filesystem), the points wait
in memory as arrays (``_backlog.py``) and the write is retried with backoff; the fault goes into
the record's ``warnings``. Points given up (over ``log_buffer_mb``, or still refused after
``finish_wait`` seconds of ``finish``) make the run end ``failed`` and ``finish`` raise
:class:`~workbench.errors.PointsLost` (docs/store.md, "Storage faults").
"""

from __future__ import annotations

import collections
import math
import numbers
import os
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from workbench._private import make_dir, private_opener
from workbench.errors import ConfigError, PointsLost, StoreError, WorkbenchError
from workbench.media.types import Media
from workbench.settings import Settings
from workbench.store import segments
from workbench.store._atomic import sync_paths
from workbench.store._faults import describe, is_storage_fault, remedy
from workbench.store._paths import Layout
from workbench.store.records import TERMINAL, Record, _serialize, normalize_tags, update_record
from workbench.tracking import _backlog, _capture, _environment, _flusher, _lifecycle, current
from workbench.tracking._config import Config, KeyAttributes, jsonable, same_config, set_items
from workbench.tracking._fault_log import FaultLog
from workbench.tracking._metric_defs import MetricDefs
from workbench.tracking._reserve import Reserve

if TYPE_CHECKING:
    from workbench.media.writer import MediaWriter
    from workbench.store.artifacts import Artifact

__all__ = ["Run"]

_MAX_KEY = 256
#: steps are int64
_MAX_STEP = 2**63
#: a finished run keeps up to this many metric files as they are (more are merged into one)
_FINISH_FILES = 4
#: media items waiting to be encoded: above this many, log() waits for the flusher (memory stays bounded)
_MEDIA_QUEUE_MAX = 512
_now = time.time
_sleep = time.sleep
#: file times come from a coarse clock (a scheduler tick behind time.time): changes this much
#: older than the last durable point are made durable again all the same
_CLOCK_SLACK = 2_000_000_000


def _fast_types() -> frozenset[type]:
    import numpy as np

    return frozenset(
        {float, int, bool, np.float64, np.float32, np.float16, np.int64, np.int32, np.int16,
         np.int8, np.uint8, np.uint16, np.uint32, np.uint64, np.bool_}
    )


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise TypeError(f"run.log: metric key {key!r} must be a non-empty string")
    if len(key) > _MAX_KEY:
        raise ValueError(f"run.log: metric key {key[:40]!r}... is longer than {_MAX_KEY} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise ValueError(f"run.log: metric key {key!r} holds control characters; use printable text")
    return key


def _scalar(value: Any) -> float:
    """A checked scalar (a fast type) as a float; an int beyond float64 as +-inf, as the batch path
    keeps it (never an OverflowError half-way through a column's append)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _to_float(key: str, value: Any) -> float:
    """A loggable scalar as float; a clear TypeError naming ``key`` for anything else."""
    if isinstance(value, (bool, int, float)):
        return float(value)
    kind = type(value).__name__
    shape = getattr(value, "shape", None)
    item = getattr(value, "item", None)
    if shape is not None and callable(item):
        if tuple(shape) != ():
            raise TypeError(
                f"run.log: value for key {key!r} is a {kind} of shape {tuple(shape)}; log a scalar "
                "(call .item() or .mean() on it), or log each element under its own key"
            )
        scalar = item()
        if isinstance(scalar, numbers.Real):  # also numpy's longdouble, whose item() stays numpy
            return float(scalar)
        raise TypeError(f"run.log: value for key {key!r} is a 0-d {kind} holding {type(scalar).__name__}, not a number")
    raise TypeError(
        f"run.log: value for key {key!r} is {kind}, not a number; log int, float, bool, or a "
        "numpy/torch scalar (put other values in run.summary, run.config or an artifact)"
    )


def _changed_since(run_dir: Path, since: int, skip: tuple[str, ...] = ()) -> tuple[list[Path], list[Path]]:
    """``(files, directories)`` of the tree at ``run_dir`` changed at or after ``since`` (ns, the
    change time: a write, a rename, a new or removed entry); temporary and hidden files (``.*``)
    and names in ``skip`` (at the top) are left out."""
    files: list[Path] = []
    dirs: list[Path] = []
    pending = [run_dir]
    top = True
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
            changed = os.stat(folder).st_ctime_ns >= since
        except FileNotFoundError:
            continue
        if changed:
            dirs.append(folder)
        for entry in entries:
            name = entry.name
            if name.startswith(".") or (top and name in skip):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_ctime_ns >= since:
                    files.append(Path(entry.path))
            except FileNotFoundError:
                continue
        top = False
    return files, dirs


class _Summary(KeyAttributes, MutableMapping[str, Any]):
    """``run.summary``: the last value of each metric, plus values set by hand (which stay).

    Keys read and set as items or attributes (``run.summary.best_acc = 0.93``), as in W&B.
    """

    __slots__ = ("_run",)
    _noun = "summary"

    def __init__(self, run: Run) -> None:
        object.__setattr__(self, "_run", run)

    def __getitem__(self, key: str) -> Any:
        return self._run._summary_view()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._run._set_summary(key, value)

    def __delitem__(self, key: str) -> None:
        self._run._del_summary(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._run._summary_view())

    def __len__(self) -> int:
        return len(self._run._summary_view())

    def __repr__(self) -> str:
        return f"Summary({self._run._summary_view()!r})"


class Run:
    """A run being logged. Make one with :func:`workbench.init`.

    Examples
    --------
    >>> import workbench as wb
    >>> with wb.init(project="doc", config={"lr": 0.1}, root=tmp) as run:  # doctest: +SKIP
    ...     for step in range(3):
    ...         run.log({"loss": 1.0 / (step + 1)})
    """

    def __init__(self, layout: Layout, settings: Settings, record: Record, *, first_step: int = 0,
                 first_sequence: int = 0, resumed: bool = False, allow_val_change: bool = False,
                 locked: Iterable[str] = ()) -> None:
        self._layout = layout
        self._settings = settings
        self.id: str = record["id"]
        self._record = record
        self._fast = _fast_types()
        self._buffer: collections.deque[tuple[int, float, dict[str, Any]]] = collections.deque()
        self._append = self._buffer.append
        # one-key calls: per key, one list of (step, value) pairs laid flat, [s0, v0, s1, v1, ...],
        # extended by ``column += (step, value)``: one C call, atomic under the GIL, so calls of
        # several threads never split a pair, and 2-3x cheaper than two array appends and a thread
        # check. The flusher takes the prefix a column holds (always a whole number of pairs) and
        # deletes it; calls that append meanwhile stay for the next flush (_take_buffer).
        # Wall times: the clock, [step, time, ...] pairs added the same way each time a call's step
        # differs from the last call's, so a step's points share the time of its first call
        self._columns: dict[str, list[Any]] = {}
        self._clock: list[Any] = []
        self._clock_step = -1  # the step of the last pair
        self._ticks = 0  # steps the fast paths saw change (_tick)
        self._step = first_step
        self._known: set[str] = set()
        # bound methods: the hot path saves an attribute lookup per check
        self._keys_known = self._known.issuperset
        self._types_fast = self._fast.issuperset
        self._sequence = first_sequence
        self._flush_lock = threading.RLock()
        self._urgent = False  # ask the flusher to write the record at its next tick
        self._inflight: tuple[list[Any], list[Any]] | None = None  # entries a flush is writing
        self._flush_calls = settings.flush_calls
        self._finished = False
        self._pending: dict[str, Any] = {}
        self._stats: dict[str, dict[str, Any]] = dict(record.get("metrics") or {})
        self._summary: dict[str, Any] = dict(record.get("summary") or {})
        self._pinned: set[str] = set(record.get("summary_pinned") or ())
        self._config: dict[str, Any] = dict(record.get("config") or {})
        self._config_view = Config(self)
        # config changes: counted, and the count the record on disk has (see _wait_written)
        self._config_version = 0
        self._config_written = 0
        self._written = threading.Condition(threading.Lock())
        #: top-level config keys a launch set (a job, a sweep trial): changes to them are ignored
        self._locked: frozenset[str] = frozenset(locked)
        self._warned_locked: set[str] = set()
        self._allow_val_change = allow_val_change
        self._defs = MetricDefs(record.get("metric_defs"))
        #: True when this run continues one started before (``init(id=..., resume=...)``)
        self.resumed = resumed
        self._last_write = time.time()
        self._flush_error: BaseException | None = None
        # points taken from the buffer but not stored yet, and the store's refusals to write them
        self._backlog = _backlog.Backlog(settings.log_buffer_mb * 1024 * 1024)
        self._faults = FaultLog(self.id, settings, self._backlog, list(record.get("warnings") or []))
        self._writing: list[_backlog.Batch] | None = None  # the group a segment write is storing
        self._final: dict[str, Any] | None = None  # the end of the run, until the store takes it
        self._reserve = Reserve(layout.run_dir(self.id))
        # files of the run changed since this time (ns) are made durable at finish: all of them
        # the first time (a resumed run's too: the process that wrote them may have crashed)
        self._durable_since = 0
        #: the paths the last durable point fsynced (tests: tracking/test_durable_finish.py)
        self._synced: list[Path] = []
        self._tees: list[tuple[str, _capture.Tee]] = []
        self._sys = None
        #: images, tables, ... logged: encoded and stored by the flusher (workbench/media/writer.py)
        self._media: MediaWriter | None = None
        if settings.capture_output:
            self._start_capture()
        if settings.system_metrics:
            from workbench.tracking._system import SystemSampler

            self._sys = SystemSampler.create(settings.system_metrics_interval)
        _flusher.register(self)
        _lifecycle.register(self)

    # -- identity -----------------------------------------------------------------------------
    @property
    def project(self) -> str:
        return str(self._record.get("project"))

    @property
    def name(self) -> str:
        return str(self._record.get("name"))

    @name.setter
    def name(self, name: str) -> None:
        if not isinstance(name, str) or not name or len(name) > 1024 or not name.isprintable():
            raise ValueError("run.name must be one line of printable text (at most 1024 characters)")
        self._set_field("name", name)

    @property
    def step(self) -> int:
        """The step the next ``log`` without ``step=`` takes (W&B's ``run.step``): one past the last
        step logged, counting a resumed run's points in its record and its segments."""
        return self._step

    @property
    def group(self) -> str | None:
        """The run's group (``init(group=...)``): runs of one experiment, e.g. the ranks of a job."""
        return self._record.get("group")

    @property
    def job_type(self) -> str | None:
        """What kind of run this is (``init(job_type="eval")``)."""
        return self._record.get("job_type")

    @property
    def config(self) -> Config:
        """The run's config, live: item and attribute access, ``update()``, ``setdefault()``.

        Every change is written to the record at once (queries see ``config.*``). A key that
        holds a different value is protected: changing it raises
        :class:`~workbench.errors.ConfigError` unless ``allow_val_change=True``.
        """
        return self._config_view

    @config.setter
    def config(self, values: Mapping[str, Any]) -> None:
        self.config.update(values)

    def _config_root(self) -> dict[str, Any]:
        return self._config

    def _config_set(self, path: tuple[str, ...], items: Mapping[str, Any], *, allow_val_change: bool,
                    delete: tuple[str, ...] = ()) -> None:
        if self._finished:
            raise WorkbenchError(f"run {self.id} is finished; its config can no longer change "
                                 f"(reopen it with workbench.init(id={self.id!r}, resume='must'))")
        if self._locked and not path:
            items = self._unlocked(items)
        with self._flush_lock:
            new = set_items(self._config, path, items, allow_val_change=allow_val_change or self._allow_val_change,
                            delete=delete)
            if same_config(new, self._config):
                return
            # a config the record cannot hold is refused here, before anything changes: once
            # pending it would fail every later write of the record (heartbeat, final status)
            try:
                _serialize({**self._record, "config": new}, self.id)
            except StoreError as exc:
                raise ConfigError(f"config not changed: {exc}") from None
            self._config = new
            self._config_view._refresh(new)
            self._record["config"] = new
            self._pending["config"] = new
            self._config_version += 1
            version = self._config_version
        self._wait_written(version)

    def _unlocked(self, items: Mapping[str, Any]) -> dict[str, Any]:
        """``items`` without changes to keys a launch (a job, a sweep trial) set: those keep
        their launch value, with a warning, as W&B does for sweep parameters."""
        kept: dict[str, Any] = {}
        for key, value in items.items():
            if key in self._locked and key in self._config and not same_config(jsonable(value), self._config[key]):
                if key not in self._warned_locked:
                    self._warned_locked.add(key)
                    print(f"workbench: run {self.id}: config key {key!r} is set by the launch "
                          f"({self._config[key]!r}); the value {jsonable(value)!r} is ignored", file=sys.__stderr__)
                continue
            kept[key] = value
        return kept

    @property
    def dir(self) -> Any:
        """The run's directory in the store (``runs/<id>``)."""
        return self._layout.run_dir(self.id)

    @property
    def status(self) -> str:
        return str(self._record.get("status"))

    @property
    def summary(self) -> _Summary:
        return _Summary(self)

    @property
    def tags(self) -> list[str]:
        return list(self._record.get("tags") or [])

    @tags.setter
    def tags(self, tags: list[str]) -> None:
        self._set_field("tags", normalize_tags(tags))

    @property
    def notes(self) -> str:
        return str(self._record.get("notes") or "")

    @notes.setter
    def notes(self, notes: str) -> None:
        if not isinstance(notes, str):
            raise TypeError("run.notes must be a string")
        self._set_field("notes", notes)

    def __repr__(self) -> str:
        return f"<Run {self.id} {self.project}/{self.name} {self.status}>"

    # -- the hot path -------------------------------------------------------------------------
    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None, *,
            time: float | None = None) -> None:
        """Log metric values at ``step`` (default: one past the last step logged).

        Values are numbers: int, float, bool, numpy scalars or 0-d numpy/torch tensors. NaN
        and infinities are kept as they are. A nested dict logs its keys as ``outer.inner``.
        ``commit=False`` keeps the step open: the next call without a step logs at the same
        step (W&B's convention). ``time`` is the points' wall time in epoch seconds (default:
        now), for importers and replays.
        """
        if type(data) is dict and len(data) == 1 and commit is None and time is None:
            # one float per call, a key logged before: into its key's column, no dict kept; a
            # finished run has no columns (the rest of the checks are in _tick, once per step)
            for key, value in data.items():
                try:
                    column = self._columns[key]
                except KeyError:
                    break
                if type(value) is float:
                    if step != self._clock_step:
                        step = self._tick(step)
                    column += (step, value)
                    return
        self._log(data, step, commit, time)

    def _log(self, data: Mapping[str, Any], step: Any, commit: bool | None, time: float | None) -> None:
        """``log``, every case."""
        if self._finished:
            raise WorkbenchError(f"run {self.id} is finished; start a new one with workbench.init()")
        # check the values before the step moves: a refused call changes nothing
        entry: dict[str, Any]
        if type(data) is not dict:
            entry = self._validate(data)
        elif len(data) == 1:  # one scalar per call: into its key's column, no dict kept
            [(key, value)] = data.items()
            column = self._columns.get(key)
            if column is not None and type(value) in self._fast and time is None:
                if step is None:
                    step = self._step
                    if commit is not False:
                        self._step = step + 1
                else:
                    if type(step) is not int or not 0 <= step < _MAX_STEP:
                        step = self._check_step(step)
                    if step >= self._step:
                        self._step = step + 1 if commit is not False else step
                if step != self._clock_step:
                    self._note_time(step)
                if commit is False:
                    self._clock_step = -1  # the next call at this step counts it (see _tick)
                column += (step, value if type(value) is float else _scalar(value))
                return
            entry = self._validate(data)
        elif self._keys_known(data) and self._types_fast(map(type, data.values())):
            entry = {**data}
        else:
            entry = self._validate(data)
        if step is None:
            step = self._step
            if commit is not False:
                self._step = step + 1
        else:
            if type(step) is not int or step < 0:
                step = self._check_step(step)
            if step >= self._step:
                self._step = step + 1 if commit is not False else step
        when = _now() if time is None else self._check_time(time)
        if self._media is not None and self._split_media(step, when, entry) and not entry:
            return  # media only: no points at this step
        if len(entry) == 1 and time is None:
            [(key, value)] = entry.items()
            if step != self._clock_step:
                self._note_time(step)
            if commit is False:
                self._clock_step = -1
            column = self._column(key)
            column += (step, _scalar(value))
        else:
            self._append((step, when, entry))
            if len(self._buffer) > self._flush_calls << 2:
                self._background_flush()  # the flusher fell behind (it shares the GIL): this thread
                # writes, so the calls held stay bounded (docs/store.md, "Memory of a long run")

    def log_scalar(self, key: str, value: float, step: int | None = None) -> None:
        """Log one metric value: ``run.log({key: value}, step=step)`` without the dict, the fastest
        way to log one number (Lightning's ``self.log``, a hand-written loop's one key per call).

        Examples
        --------
        >>> for step in range(1000):  # doctest: +SKIP
        ...     run.log_scalar("loss", loss, step)
        """
        try:
            column = self._columns[key]
        except KeyError:  # a new key (its column is made on the full path), or a finished run
            column = None
        if column is None or type(value) is not float:
            self._log({key: value}, step, None, None)  # another type: checked and converted there
            return
        if step != self._clock_step:
            step = self._tick(step)
        column += (step, value)

    def _tick(self, step: Any) -> int:
        """The fast paths' checks, once per step: a call whose step differs from the last call's
        (``None``: the next step) gets it checked and counted (a later call without a step logs
        after it) and its time noted (see ``_columns``); returns the step as an int.
        ``log(commit=False)`` sets the last step to -1, so the next fast call comes here."""
        if self._finished:
            raise WorkbenchError(f"run {self.id} is finished; start a new one with workbench.init()")
        if step is None:
            step = self._step
        elif type(step) is not int or not 0 <= step < _MAX_STEP:
            step = self._check_step(step)
        if step >= self._step:
            self._step = step + 1
        self._note_time(step)
        self._ticks += 1
        if not self._ticks & 255 and self._buffered > self._flush_calls << 2:
            self._background_flush()  # the flusher fell behind (it shares the GIL): as in _log
        return int(step)

    def _note_time(self, step: int) -> None:
        clock = self._clock
        clock += (step, _now())
        self._clock_step = step

    def _column(self, key: str) -> list[Any]:
        column = self._columns.get(key)
        if column is None:
            column = self._columns.setdefault(key, [])
        return column

    def _split_media(self, step: int, when: float, entry: dict[str, Any]) -> bool:
        """Move the media values of ``entry`` to the media queue; True when there were any."""
        media = {key: value for key, value in entry.items() if isinstance(value, Media)}
        if not media:
            return False
        for key in media:
            del entry[key]
        writer = self._media
        assert writer is not None
        queue = writer.queue
        queue.append((step, when, media))
        if len(queue) >= 32:
            self._urgent = True  # the flusher encodes at its next tick (0.1 s), not in a second
            if len(queue) > _MEDIA_QUEUE_MAX:  # the loop logs faster than images encode: wait
                _flusher.wake()
                while len(queue) > _MEDIA_QUEUE_MAX and not self._finished and _flusher.running():
                    _sleep(0.001)
        return True

    @staticmethod
    def _check_time(when: Any) -> float:
        if isinstance(when, bool) or not isinstance(when, (int, float)):
            raise TypeError(f"run.log: time must be epoch seconds (a number), not {when!r}")
        seconds = float(when)
        if not -2**33 < seconds < 2**33:  # the store's limit on times (years 1697 to 2242)
            raise ValueError(f"run.log: time {seconds} is not epoch seconds between the years 1697 and 2242")
        return seconds

    @staticmethod
    def _check_step(step: Any) -> int:
        if isinstance(step, bool) or not isinstance(step, int):
            try:
                as_int = int(step)
            except (TypeError, ValueError):
                as_int = None
            if as_int is None or as_int != step or isinstance(step, bool):
                raise TypeError(f"run.log: step must be an int, not {step!r}")
            step = as_int
        if step < 0:
            raise ValueError(f"run.log: step must be >= 0, not {step}")
        if step >= _MAX_STEP:
            raise ValueError(f"run.log: step {step} is too large; steps are 64-bit integers (below 2**63)")
        return int(step)

    def _validate(self, data: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            raise TypeError(f"run.log takes a dict of metric values, not {type(data).__name__}")
        clean: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(value, Mapping):  # W&B's nested form: {"val": {"loss": 1}} -> "val.loss"
                for inner, item in self._validate({f"{key}.{k}": v for k, v in value.items()}).items():
                    clean[inner] = item
                continue
            if key not in self._known:
                _check_key(key)
            if isinstance(value, Media):
                value.check(key)
                if self._media is None:
                    self._start_media()
                clean[key] = value
                continue
            clean[key] = value if type(value) in self._fast else _to_float(key, value)
        self._known.update(clean)
        return clean

    def _start_media(self) -> None:
        from workbench.media.writer import MediaWriter, preload

        preload()

        with self._flush_lock:
            if self._media is None:
                # a resumed run counts on from its record (no writer has written it since: none existed)
                self._media = MediaWriter(self._layout, self.id, self._settings, known=self._record.get("media"))

    # -- summary, tags, notes -------------------------------------------------------------------
    def _summary_view(self) -> dict[str, Any]:
        with self._flush_lock:
            self._take_buffer()
            if self._faults.current is None:
                self._write_backlog()
            summary = dict(self._summary)
            stats = self._stats
            if self._backlog:  # points the store refused so far: their values all the same
                stats = {key: dict(stat) for key, stat in self._stats.items()}
                for batch in self._backlog:
                    _backlog.fold(stats, summary, self._pinned, batch)
            return self._defs.apply(summary, stats, self._pinned) if self._defs else summary

    def _set_summary(self, key: str, value: Any) -> None:
        _check_key(key)
        value = jsonable(value)
        with self._flush_lock:
            self._summary[key] = value
            self._pinned.add(key)
            self._pending["summary"] = True

    def _del_summary(self, key: str) -> None:
        with self._flush_lock:
            del self._summary[key]
            self._pinned.discard(key)
            self._pending["summary"] = True

    def _set_field(self, name: str, value: Any) -> None:
        with self._flush_lock:
            self._record[name] = value
            self._pending[name] = value
        self._urgent = True
        _flusher.wake()

    def _wait_written(self, version: int, timeout: float = 10.0) -> None:
        """Have the flusher write the record now and wait (up to ``timeout``) until it has
        written config ``version``: queries see a config change when ``update`` returns.

        The write happens on the flusher's thread, never the caller's: a SIGTERM handler that
        finishes the run on the main thread must not find the record's lock held by the very
        write it interrupted. A store that refuses the write leaves the change pending (the
        flusher retries it, the fault goes into the run's warnings) and the caller goes on.
        """
        deadline = time.monotonic() + timeout
        with self._written:
            self._urgent = True
            _flusher.wake()
            while (self._config_written < version and not self._finished and self._faults.current is None
                   and self._flush_error is None and (left := deadline - time.monotonic()) > 0):
                self._written.wait(min(left, 0.5))

    # -- metric definitions and alerts ------------------------------------------------------------
    def define_metric(self, name: str, step_metric: str | None = None, *, step_sync: bool | None = None,
                      hidden: bool | None = None, summary: str | None = None, goal: str | None = None,
                      overwrite: bool | None = None) -> dict[str, Any]:
        """Say how a metric (or a glob such as ``"val/*"``) is summarised and charted, as in W&B.

        ``summary``: ``"min"``, ``"max"``, ``"mean"``, ``"first"``, ``"last"``, ``"best"`` (with
        ``goal``), ``"none"`` or a comma-separated list: the summary of the key becomes
        ``{"min": ..., "max": ...}`` (queries: ``summary.loss.min``). ``step_metric``: the key
        charts put on the x axis (e.g. ``"epoch"``). ``goal``: ``"minimize"`` or ``"maximize"``.
        ``hidden``: keep it out of default charts. Recorded in the run's ``metric_defs``.

        Examples
        --------
        >>> run.define_metric("val/loss", summary="min", goal="minimize")  # doctest: +SKIP
        >>> run.define_metric("val/*", step_metric="epoch")  # doctest: +SKIP
        """
        with self._flush_lock:
            spec = self._defs.define(name, step_metric=step_metric, step_sync=step_sync, hidden=hidden,
                                     summary=summary, goal=goal, overwrite=overwrite)
            self._record["metric_defs"] = self._defs.as_record()
            self._pending["metric_defs"] = self._record["metric_defs"]
            self._pending["summary"] = True
        self._urgent = True
        _flusher.wake()
        return spec

    def alert(self, title: str, text: str, level: str = "INFO", wait_duration: Any = None) -> bool:
        """Record an alert (W&B's ``run.alert``): kept in the run's ``alerts`` and printed to
        stderr. One with the same title within ``wait_duration`` seconds (or a ``timedelta``)
        of the last is dropped; returns whether it was recorded."""
        from workbench.tracking._metric_defs import make_alert

        with self._flush_lock:
            alerts = list(self._record.get("alerts") or [])
            alert = make_alert(title, text, level, wait_duration, alerts)
            if alert is None:
                return False
            alerts = [*alerts, alert][-100:]  # the newest 100
            self._record["alerts"] = alerts
            self._pending["alerts"] = alerts
        shown = "".join(c if c.isprintable() else " " for c in f"{alert['title']}: {alert['text']}")
        print(f"workbench: run {self.id}: alert {alert['level']}: {shown[:500]}", file=sys.__stderr__)
        self._urgent = True
        _flusher.wake()
        return True

    # -- flushing -----------------------------------------------------------------------------
    def _background_flush(self) -> None:
        """Called by the process's flusher thread (tracking/_flusher.py)."""
        with self._flush_lock:
            if not self._finished:
                self._flush(explicit=False)

    def flush(self) -> None:
        """Write buffered points and the record now (the background thread does this anyway).

        Raises :class:`~workbench.errors.StoreError` when the store refuses the write (a full
        disk, a read-only or failing filesystem): the points stay in memory, up to the setting
        ``log_buffer_mb``, and the background thread keeps trying.
        """
        with self._flush_lock:
            self._flush(explicit=True)
            if self._faults.current is not None:
                raise StoreError(self._faults.refusal())

    def _flush(self, *, explicit: bool) -> None:
        self._faults.begin()
        took = self._take_buffer()
        if self._sys is not None:
            self._sys.maybe_sample(self)
            took = self._take_buffer() or took
        media = self._media
        if media is not None and media.encode_queued(
                (lambda: self._store_media(media)) if explicit or self._faults.due() else None):
            took = True
        if not (explicit or self._faults.due()):
            self._faults.limit()  # the store refuses writes: wait for the next try
            return
        wrote = self._write_backlog()
        if media is not None:
            self._store_media(media)
        if wrote:
            try:
                segments.compact_live(self._layout.metrics_dir(self.id))
            except OSError as exc:
                if not is_storage_fault(exc):
                    raise
                # nothing is lost: the segments stay as they are, a later flush merges them
        for _, tee in self._tees:
            tee.flush_file()
        now = time.time()
        if (took or wrote or self._pending or self._faults.changed
                or now - self._last_write >= self._settings.heartbeat_interval):
            try:
                self._write_record(now)
            except OSError as exc:
                if not is_storage_fault(exc):
                    raise
                self._faults.refused(exc, self._layout.record(self.id))
            else:
                self._reserve.fit(self._layout.record(self.id))
        if self._faults.end():  # a new warning: record it at the next tick
            self._urgent = True

    def _store_media(self, media: MediaWriter) -> bool:
        """Store encoded media; a refusal of the store is noted like one of points. True when stored."""
        try:
            stored = media.store()
        except OSError as exc:
            if not is_storage_fault(exc):
                raise
            self._faults.refused(exc, self._layout.media_dir(self.id))
            return False
        if stored or media.failed:
            self._pending["media"] = {k: dict(v) for k, v in media.keys.items()}
            if media.failed:
                for line in media.failed:
                    self._faults.warn(line)
                media.failed.clear()
        return stored

    def _take_buffer(self) -> bool:
        """Move the buffered calls into the backlog as one batch; True when there were points."""
        buffer = self._buffer
        count = len(buffer)
        columns = []
        for key, column in list(self._columns.items()):  # list(): one C call, atomic
            length = len(column)  # whole pairs: a call adds its pair in one C call
            if length:
                # a copy of the prefix, then its deletion: pairs added between the two are after
                # the prefix and stay for the next flush
                columns.append((key, column[:length]))
                del column[:length]
        clock = None
        if columns:
            # after the columns: every point taken has its step's pair in this copy
            clock_pairs = self._clock
            length = len(clock_pairs)
            clock = clock_pairs[:length]
            if length > 2:  # the last pair stays: later calls at that step add none
                del clock_pairs[:length - 2]
        if not count and not columns:
            return False
        # iter(popleft, sentinel) pops in C; new entries appended meanwhile stay for next time
        entries = list(islice(iter(buffer.popleft, None), count))
        # a SIGTERM handler may call finish() on this thread in the middle of this: finish()
        # then puts these entries back and writes them itself (see _end)
        self._inflight = (entries, columns)
        try:
            batch = _backlog.prepare(entries, columns, clock)
        except BaseException:
            if self._inflight is not None:
                buffer.extendleft(reversed(entries))  # keep the points for the next try
                self._put_back(columns)
                self._inflight = None
            raise
        if batch is not None:
            self._backlog.append(batch)
        self._inflight = None
        return batch is not None

    def _put_back(self, columns: list[tuple[str, list[Any]]]) -> None:
        """Points taken from the columns go back in front of what was appended since (their steps'
        clock pairs: the clock keeps the last, later calls add their own)."""
        for key, pairs in columns:
            self._column(key)[0:0] = pairs

    @property
    def _buffered(self) -> int:
        return len(self._buffer) + sum(map(len, self._columns.values())) // 2

    def _write_backlog(self) -> bool:
        """Write the backlog as segments, oldest first; True when something was written.

        A refused write leaves the rest in the backlog and notes the fault."""
        wrote = False
        while self._backlog:
            group = self._backlog.pop_group()
            self._writing = group
            try:
                batch = _backlog.merge(group)
                self._write_segment(batch)
            except Exception as exc:  # noqa: BLE001 - kept and retried; finish() reports what is lost
                if self._writing is not None:  # else a finish() that interrupted us took the group
                    self._writing = None
                    self._backlog.put_back(group)
                self._faults.refused(exc, self._layout.metrics_dir(self.id))
                return wrote
            if self._writing is None:  # a finish() that interrupted the write stored the group
                return True
            self._writing = None
            _backlog.fold(self._stats, self._summary, self._pinned, batch)
            wrote = True
        return wrote

    def _write_segment(self, batch: _backlog.Batch) -> None:
        # take the number first: a flush re-entered from a signal handler gets its own
        sequence = self._sequence
        self._sequence += 1
        segments.write_segment(
            self._layout.metrics_dir(self.id), sequence, segments.make_table(*batch),
            fsync=False,  # atomic now; finish() makes it durable (see _make_durable)
        )

    def _retry_until(self, wait: float) -> None:
        """At the end of the run: retry refused points for up to ``wait`` seconds."""
        if not self._backlog or wait <= 0:
            return
        print(f"workbench: run {self.id}: {self._faults.retrying(wait)}", file=sys.__stderr__)
        deadline = time.monotonic() + wait
        delay = 0.05
        while self._backlog and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(delay, left))
            delay = min(delay * 2, 1.0)
            self._faults.begin()
            self._write_backlog()

    def _write_record(self, now: float, **final: Any) -> None:
        if self._faults.changed:
            self._faults.changed = False
            self._pending["warnings"] = list(self._faults.warnings)
        pending, self._pending = self._pending, {}
        stats = {k: dict(v) for k, v in self._stats.items()}
        summary = self._defs.apply(dict(self._summary), stats, self._pinned) if self._defs else dict(self._summary)
        self._defs.strip(stats)
        pinned = sorted(self._pinned)

        def mutate(record: Record) -> None:
            for name, value in pending.items():
                if name != "summary":
                    record[name] = value
            record["metrics"] = stats
            record["summary"] = summary
            record["summary_pinned"] = pinned
            record["heartbeat"] = now
            record.update(final)

        version = self._config_version
        try:
            self._record = update_record(
                self._layout, self.id, mutate, fsync=False, allow_remote=False
            )
        except BaseException:
            pending.update(self._pending)
            self._pending = pending
            raise
        self._last_write = now
        if version != self._config_written:
            with self._written:
                self._config_written = version
                self._written.notify_all()

    # -- capture ------------------------------------------------------------------------------
    def _start_capture(self) -> None:
        logs = self._layout.logs_dir(self.id)
        make_dir(logs)
        for name in ("stdout", "stderr"):
            file = open(  # noqa: SIM115 - the tee holds it until _stop_capture
                logs / f"{name}.log", "a", encoding="utf-8", errors="replace", opener=private_opener
            )
            self._tees.append((name, _capture.install(name, file)))

    def _stop_capture(self) -> None:
        for name, tee in reversed(self._tees):
            _capture.uninstall(name, tee)
        self._tees.clear()

    # -- the end ------------------------------------------------------------------------------
    def finish(self, status: str = "completed", *, error: Mapping[str, Any] | None = None,
               exit_code: int | None = None) -> None:
        """Flush everything, compact the metric segments, and record the final ``status``.

        Points the store refuses (a full disk, a read-only or failing filesystem) are retried
        for up to ``finish_wait`` seconds (setting, default 30). If points were given up, the run
        is recorded ``failed`` (another ``status`` asked for is kept) with an error that says how
        many and why, and :class:`~workbench.errors.PointsLost` is raised. Calling it again does
        nothing, except retry recording the end where the store refused that too.
        """
        lost = self._end(status, error=error, exit_code=exit_code)
        if lost is not None:
            raise lost

    def _end(self, status: str = "completed", *, error: Mapping[str, Any] | None = None,
             exit_code: int | None = None, wait: float | None = None) -> PointsLost | None:
        """``finish`` that returns the loss rather than raising it (exit hooks, ``__exit__``).

        ``wait`` overrides ``finish_wait`` (the SIGTERM handler tries once).
        """
        if status not in TERMINAL:
            raise ValueError(f"finish(status={status!r}): use one of {', '.join(sorted(TERMINAL))}")
        with self._flush_lock:
            if self._finished:
                if self._final is not None:  # the store refused the final record: try again
                    self._write_final()
                    if self._final is None:
                        _lifecycle.unregister(self)
                        if self._settings.fsync:
                            self._make_durable()
                return None
            self._finished = True
        _flusher.unregister(self)  # a flush in progress holds _flush_lock: we wait for it below
        with self._flush_lock:
            inflight, self._inflight = self._inflight, None
            if inflight is not None:
                # finish() interrupted a flush of this same thread (a signal handler): write
                # that flush's entries here, under new segment numbers, before compacting
                self._buffer.extendleft(reversed(inflight[0]))
                self._put_back(inflight[1])
            writing, self._writing = self._writing, None
            if writing is not None:
                self._backlog.put_back(writing)
            if self._flush_error is not None:
                self._faults.warn(f"a background flush failed: {self._flush_error}")
            self._faults.begin()
            try:
                self._take_buffer()
            except Exception as exc:  # noqa: BLE001 - still stop the capture and write the final status
                count = sum(len(entry[2]) for entry in self._buffer) + self._buffered - len(self._buffer)
                self._buffer.clear()
                self._columns.clear()
                self._backlog.dropped_at_finish += count
                self._faults.refused(exc, self._layout.metrics_dir(self.id))
            self._columns = {}  # a log() from another thread now finds the run finished
            self._write_backlog()
            self._faults.waited = self._settings.finish_wait if wait is None else wait
            self._retry_until(self._faults.waited)
            media_lost = self._finish_media(self._faults.waited)
            if not self._backlog:
                self._faults.end()  # a fault the writes above got past: its end is a warning too
            self._backlog.drop_all()
            self._stop_capture()
            try:
                # a few files read as fast as one: finish merges only when more are left, and
                # never rewrites a full file (segments.compact_finish)
                segments.compact_finish(self._layout.metrics_dir(self.id), keep=_FINISH_FILES)
            except Exception as exc:  # noqa: BLE001 - the segments stay as they are: nothing is lost
                cause = describe(exc, self._layout.metrics_dir(self.id)) if is_storage_fault(exc) else exc
                self._faults.warn(f"compaction failed, segments kept: {cause}")
            not_durable = self._make_points_durable() if self._settings.fsync else None
            now = time.time()
            lost = self._backlog.lost
            loss = self._faults.loss()
            if not_durable is not None:
                loss = f"{loss}; {not_durable}" if loss else not_durable
            if media_lost:
                why = (f"the store refused writes: {self._faults.last_where}" if self._faults.last_where
                       else "they could not be encoded or stored (the run's warnings say why)")
                media_loss = f"{media_lost:,} media items were lost: {why}; the other items are stored"
                loss = f"{loss}; {media_loss}" if loss else media_loss
            if loss is not None:
                if status == "completed":
                    status = "failed"
                    error = {"type": "PointsLost", "message": loss, "traceback": None}
                    print(f"workbench: run {self.id}: {loss}", file=sys.__stderr__)
                else:  # the status asked for (failed, cancelled) and its error stay
                    self._faults.warn(loss)
            final: dict[str, Any] = {"status": status, "ended": now}
            if error is not None:
                final["error"] = dict(error)
            if lost:
                final["points_lost"] = lost
            if self._media is not None:
                final.update(self._media.record_fields())
            if exit_code is not None:
                final["exit_code"] = exit_code
            self._record.update(final)  # run.status says it even where the store refuses it
            self._final = final
            self._write_final()
            if self._final is None and self._settings.fsync:
                self._make_durable()
        current.clear(self)
        if self._final is None:
            _lifecycle.unregister(self)  # else the exit hook tries to record the end once more
        if loss is not None:
            return PointsLost(f"run {self.id}: {loss}", self.id, lost)
        return None

    def _finish_media(self, wait: float) -> int:
        """Encode and store the media still queued, retrying refused writes for up to ``wait``
        seconds; returns how many items were given up (0: all stored)."""
        media = self._media
        if media is None:
            return 0
        try:
            media.encode_queued(lambda: self._store_media(media))
        except Exception as exc:  # noqa: BLE001 - the other items still go to the store
            self._faults.warn(f"media could not be encoded: {exc}")
        deadline = time.monotonic() + wait
        delay = 0.05
        self._faults.begin()
        while not self._store_media(media) and len(media):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(delay, left))
            delay = min(delay * 2, 1.0)
            self._faults.begin()
        for line in media.failed:
            self._faults.warn(line)
        media.failed.clear()
        if len(media):
            media.give_up()
        media.close()
        return media.lost  # given up now, and dropped before when memory ran out

    def _write_final(self) -> None:
        """Record the end of the run; on a full disk, give the reserve back and try again."""
        final = self._final
        assert final is not None
        try:
            self._write_record(final["ended"], **final)
        except OSError as exc:
            if not is_storage_fault(exc):
                raise
            if self._reserve.release():
                try:
                    self._write_record(final["ended"], **final)
                except OSError as again:
                    if not is_storage_fault(again):
                        raise
                    exc = again
                else:
                    self._final = None
                    return
            print(f"workbench: run {self.id}: its end ({final['status']}) could not be recorded: "
                  f"{describe(exc, self._layout.record(self.id))}; the store will show it crashed once "
                  f"this process ends; {remedy(exc)} and call run.finish() again to record it",
                  file=sys.__stderr__)
            return
        self._final = None
        self._reserve.release()

    # -- artifacts ----------------------------------------------------------------------------
    def log_artifact(self, path: Any, name: str, type: str = "artifact",
                     aliases: Iterable[str] | str | None = None, metadata: Mapping[str, Any] | None = None,
                     *, required: Sequence[str] | None = None) -> Artifact:
        """Log a file or directory as a new version of artifact ``name``, made by this run.

        See :func:`workbench.log_artifact`; the version is also listed in this run's record
        (``record["artifacts"]["produced"]``).

        Examples
        --------
        >>> run.log_artifact("out/", name="sentiment-model", type="model", aliases=["best"])  # doctest: +SKIP
        Artifact(name='sentiment-model', version=1, ...)
        """
        from workbench.store.artifacts import ArtifactStore

        return ArtifactStore(self._settings).log(path, name, type, aliases, metadata, run_id=self.id,
                                                 required=required)

    def use_artifact(self, ref: str, dest: Any = None) -> Path:
        """A local directory holding the version ``ref`` names, recorded as used by this run.

        See :func:`workbench.use_artifact`.

        Examples
        --------
        >>> data_dir = run.use_artifact("reviews:latest")  # doctest: +SKIP
        """
        from workbench.store.artifacts import ArtifactStore

        return ArtifactStore(self._settings).use(ref, dest, run_id=self.id)

    def _make_points_durable(self) -> str | None:
        """fsync what the run wrote since its last durable point, except its record: metric files,
        media index files and blobs, logs, files, the environment file, and the directories that
        name them. Done before the final record is written, so a status on disk never claims
        points that are not (docs/store.md, run records). The cost is this run's bytes alone,
        never the rest of the filesystem's (no syncfs). Returns what went wrong, or None."""
        layout = self._layout
        run_dir = layout.run_dir(self.id)
        since = self._durable_since
        files, dirs = _changed_since(run_dir, since, skip=("run.json",))
        if since == 0 or self._synced == []:
            dirs.append(layout.runs)  # the run's own entry (a new run, or one never made durable here)
        environments = [path for path in list(_environment.unsynced) if path.parent == layout.environments]
        if environments:  # written by this process's init, not made durable by a run's finish yet
            files.extend(environments)
            dirs.append(layout.environments)
        media = self._media
        if media is not None and media._blobs is not None:
            blob_files, blob_dirs = media._blobs.take_written()
            files.extend(blob_files)
            dirs.extend(blob_dirs)
        try:
            self._synced = sync_paths(files, dirs)
            _environment.unsynced.difference_update(environments)
        except OSError as exc:
            why = describe(exc, run_dir) if is_storage_fault(exc) else exc
            return (f"its files could not be made durable ({why}); points written since the run started "
                    "may be lost if the machine stops")
        return None

    def _make_durable(self) -> None:
        """fsync the run's record, then its directory and the store's change journal: after
        :meth:`_make_points_durable` and the final record's write, the end of the run is durable."""
        started = time.time_ns()
        layout = self._layout
        run_dir = layout.run_dir(self.id)
        try:
            synced = sync_paths([layout.record(self.id), layout.journal], [run_dir])
        except OSError as exc:
            print(f"workbench: run {self.id}: its record could not be made durable: {exc}", file=sys.__stderr__)
            return
        self._synced = [*self._synced, *synced]
        self._durable_since = started - _CLOCK_SLACK

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.finish()
            return
        error = {
            "type": exc_type.__name__,
            "message": str(exc),
            "traceback": "".join(traceback.format_exception(exc_type, exc, tb)),
        }
        status = "cancelled" if issubclass(exc_type, KeyboardInterrupt) else "failed"
        # a loss of points is recorded and printed; the exception in flight stays the one raised
        self._end(status=status, error=error)
