"""What an import did: one :class:`RunReport` per run the readers found, and the sources that
could not be opened at all. ``ImportReport.exit_code`` is what ``workbench import`` exits with."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

__all__ = ["ImportReport", "RunReport", "SourceFailure"]

Outcome = Literal["imported", "updated", "unchanged", "failed"]

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _plain(value: Any) -> str:
    r"""``value`` on one line, each unprintable character in Python's escape notation (``\x1b``),
    as ``workbench/cli/_terminal.visible`` shows stored text; the CLI passes that one."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char.isprintable():
            out.append(char)
            continue
        code = ord(char)
        out.append(_NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else
                                        f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"))
    return "".join(out)


@dataclasses.dataclass
class RunReport:
    """One run of a source: where it came from, the workbench run it became and what was added."""

    #: the importer (``tensorboard``, ``mlflow``, ``wandb``, ``csv``, ``jsonl`` or a plugin's)
    kind: str
    #: the source as given (a folder, a file, a URI without its password)
    source_path: str
    #: the run's identity inside the source (MLflow run id, TensorBoard run folder, ...)
    source_id: str
    #: the workbench run id (derived from kind, source path and source id: the same every import)
    run_id: str | None
    name: str | None
    #: ``imported`` (a new run), ``updated`` (new points, media, files or fields), ``unchanged``
    #: (nothing new: nothing was written) or ``failed`` (nothing of this run was written)
    outcome: Outcome
    points: int = 0
    media: int = 0
    files: int = 0
    #: what the reader does not carry by design (audio, a plot), one line each
    skipped: list[str] = dataclasses.field(default_factory=list)
    #: damage in the source and values refused; the run is written with the rest (exit code 1)
    problems: list[str] = dataclasses.field(default_factory=list)
    #: why the run failed (``outcome == "failed"``)
    error: str | None = None


@dataclasses.dataclass
class SourceFailure:
    """A source that could not be opened at all (a missing path, a server that is down)."""

    kind: str
    source: str
    error: str


@dataclasses.dataclass
class ImportReport:
    """What one import did: ``runs`` (a :class:`RunReport` each), ``failed_sources`` and ``seconds``.

    ``exit_code``: 0 when every run was imported, updated or unchanged without problems; 1 when a
    run failed or had problems (the other runs are imported); 2 when nothing could be read.
    ``render()`` is the text ``workbench import`` prints.
    """

    what: str
    runs: list[RunReport] = dataclasses.field(default_factory=list)
    failed_sources: list[SourceFailure] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    def extend(self, other: ImportReport) -> None:
        self.runs.extend(other.runs)
        self.failed_sources.extend(other.failed_sources)
        self.seconds += other.seconds

    def count(self, outcome: Outcome) -> int:
        return sum(1 for run in self.runs if run.outcome == outcome)

    @property
    def points(self) -> int:
        return sum(run.points for run in self.runs)

    @property
    def exit_code(self) -> int:
        if not self.runs and self.failed_sources:
            return 2
        if self.failed_sources or any(run.outcome == "failed" or run.problems for run in self.runs):
            return 1
        return 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def render(self, show: Callable[[Any], str] = _plain) -> str:
        """The report as lines of plain text; every value from a source passes through ``show``
        (default: control characters escaped), so a hostile name cannot drive a terminal."""
        lines = []
        for run in self.runs:
            label = f"{show(run.kind)} {show(run.source_id)}"
            target = f" -> {show(run.run_id)}" if run.run_id else ""
            name = f" ({show(run.name)})" if run.name else ""
            added = [f"{n:,} {what}" for n, what in ((run.points, "points"), (run.media, "media items"),
                                                      (run.files, "files")) if n]
            detail = f": {', '.join(added)}" if added and run.outcome in ("imported", "updated") else ""
            lines.append(f"{run.outcome:9} {label}{target}{name}{detail}")
            if run.error:
                lines.append(f"  error: {show(run.error)}")
            lines.extend(f"  problem: {show(p)}" for p in run.problems)
            lines.extend(f"  skipped: {show(s)}" for s in run.skipped)
        for failure in self.failed_sources:
            lines.append(f"failed    {show(failure.kind)} source {show(failure.source)}: {show(failure.error)}")
        counts = ", ".join(f"{self.count(o)} {o}" for o in ("imported", "updated", "unchanged", "failed")
                           if self.count(o))
        problems = sum(1 for run in self.runs if run.problems)
        tail = f"; {problems} with problems" if problems else ""
        sources = f"; {len(self.failed_sources)} source(s) could not be read" if self.failed_sources else ""
        lines.append(f"{self.what}: {len(self.runs)} run(s): {counts or 'none found'}{tail}{sources} "
                     f"({self.points:,} points, {self.seconds:.1f} s)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()
