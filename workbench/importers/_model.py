"""What every importer yields and the one writer (``_writer.py``) consumes.

An importer is a generator of :class:`ImportedRun`: one per run it finds in the source. It reads
lazily: ``series()`` and ``media()`` are called by the writer once, inside its staging step, and
stream (memory is bounded by the largest single series, never by the source). Everything here is
hostile until the writer checks it: names, strings and numbers come from files users did not
write for us.

Statuses use the store's words (``workbench.store.records.STATUSES``): a source's "finished" is
``completed``, "killed" is ``cancelled``, "failed" is ``failed``, a run that stopped without an
end (a crashed or still-running source run) is ``crashed`` unless the source says it is running.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["ImportedRun", "MediaItem", "Series", "SourceFile"]


@dataclass
class Series:
    """One scalar key of one run, in the source's order (the writer sorts by step, stable)."""

    key: str
    steps: Sequence[int]
    values: Sequence[float]
    #: unix seconds of each point, at the source's precision (None where the source has none)
    times: Sequence[float] | None


@dataclass
class MediaItem:
    """One image, histogram or text logged at ``step`` (TensorBoard, W&B)."""

    key: str
    step: int
    time: float | None
    kind: Literal["image", "histogram", "text"]
    #: image: encoded PNG/JPEG/GIF bytes; histogram: ``(bin_edges, counts)`` sequences
    #: (len(edges) == len(counts) + 1); text: ``str``
    payload: Any


@dataclass
class SourceFile:
    """A file of the run (MLflow artifact, W&B file): goes into the artifact store with lineage."""

    #: its path relative to the run's files in the source ("model/weights.bin"), checked by the writer
    name: str
    #: where to read it now (the source's own file, or a temporary copy the reader made)
    path: Path


@dataclass
class ImportedRun:
    #: the importer's name: "tensorboard", "mlflow", "wandb", "csv", "jsonl" or a plugin's
    kind: str
    #: the source as the user gave it (a folder, a file, a URI with any password removed)
    source_path: str
    #: stable identity of the run inside the source (MLflow run id, W&B run id, the TensorBoard
    #: run folder relative to the path given); (kind, source_path, source_id) names one run forever
    source_id: str
    project: str | None = None
    name: str | None = None
    #: hyperparameters with their types (numbers, booleans, strings, nested dicts)
    config: dict[str, Any] = field(default_factory=dict)
    #: the source's own form of config where it differed (MLflow's params as strings), else None
    config_source: dict[str, str] | None = None
    tags: list[str] = field(default_factory=list)
    notes: str | None = None
    #: a store status (see the module docstring)
    status: str = "completed"
    #: unix seconds
    start_time: float | None = None
    end_time: float | None = None
    #: argv of the source command, where recorded
    command: list[str] | None = None
    git_commit: str | None = None
    git_branch: str | None = None
    #: who ran it and on which machine, where the source records them (MLflow's mlflow.user, W&B's host)
    user: str | None = None
    host: str | None = None
    #: W&B's job_type ("train", "eval")
    job_type: str | None = None
    #: final values as the source recorded them (W&B summary); the writer also derives the last
    #: value of each series the way the store does for its own runs
    summary: dict[str, Any] = field(default_factory=dict)
    #: source_id of the parent run (MLflow nested runs), same source
    parent_id: str | None = None
    group: str | None = None
    #: the scalar series, streamed; called once by the writer
    series: Callable[[], Iterator[Series]] = field(default=lambda: iter(()))
    #: media items, streamed; called once by the writer
    media: Callable[[], Iterator[MediaItem]] = field(default=lambda: iter(()))
    files: list[SourceFile] = field(default_factory=list)
    #: what the reader does not carry by design and why, one line each ("3 audio clips: audio is
    #: not imported"); shown in the report, does not fail the import
    skipped: list[str] = field(default_factory=list)
    #: damage found in the source ("events.out...: truncated record at byte 4096, the rest of the
    #: file skipped"); a reader may append here while ``series()``/``media()`` stream. The run is
    #: still written with what was readable, and the import exits 1.
    problems: list[str] = field(default_factory=list)
    #: set when nothing of the run can be imported (its metadata is unreadable): the writer writes
    #: nothing for it, reports this, and the import exits 1
    error: str | None = None
