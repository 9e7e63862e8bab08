"""Bring your history: import TensorBoard logs, MLflow stores, W&B offline runs, CSV and JSONL files.

Each function reads its sources with a reader found through the ``workbench.importers`` entry
point group (the built-in ones register there exactly as a plugin does) and hands the runs to one
writer, which makes imports idempotent, incremental and atomic (see docs/import.md). Readers import
their libraries (tensorboard, mlflow, wandb) only when they run: ``import workbench`` stays light.

Examples
--------
>>> import workbench as wb
>>> report = wb.importers.tensorboard("runs/", project="mnist")  # doctest: +SKIP
>>> report.exit_code, [(r.source_id, r.run_id, r.outcome) for r in report.runs]  # doctest: +SKIP
(0, [('lr-0.1', 'k3v9...', 'imported')])
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import entry_points
from typing import Any

from workbench.errors import ImportSourceError, WorkbenchError
from workbench.importers._checks import shown_source
from workbench.importers._model import ImportedRun, MediaItem, Series, SourceFile
from workbench.importers._report import ImportReport, RunReport, SourceFailure
from workbench.importers._writer import run_id_for, write_runs

__all__ = [
    "GROUP",
    "ImportReport",
    "ImportSourceError",
    "ImportedRun",
    "MediaItem",
    "RunReport",
    "Series",
    "SourceFailure",
    "SourceFile",
    "csv",
    "from_source",
    "jsonl",
    "mlflow",
    "names",
    "reader",
    "run_id_for",
    "tensorboard",
    "wandb",
    "write_runs",
]

#: the entry point group importers register in: ``name = "package.module:read"``
GROUP = "workbench.importers"

_BUILTIN = {
    "tensorboard": "workbench.importers._tensorboard:read",
    "mlflow": "workbench.importers._mlflow:read",
    "wandb": "workbench.importers._wandb:read",
    "csv": "workbench.importers._tables:read_csv",
    "jsonl": "workbench.importers._tables:read_jsonl",
}

PathLike = str | os.PathLike[str]
Reader = Callable[..., Iterator[ImportedRun]]


def _targets() -> dict[str, str]:
    found = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    for name, target in _BUILTIN.items():
        found.setdefault(name, target)
    return found


def names() -> list[str]:
    """The importers this installation has: the built-in ones and every plugin's."""
    return sorted(_targets())


def reader(kind: str) -> Reader:
    """The ``read(sources, **options)`` callable of importer ``kind`` (a :class:`WorkbenchError`
    naming the known ones when there is none, or when a plugin's cannot be loaded)."""
    target = _targets().get(kind)
    if target is None:
        raise WorkbenchError(f"no importer {kind!r}; known: {', '.join(names())} (a package adds one through "
                             f"the {GROUP!r} entry point group, see docs/import.md)")
    module_name, _, attr = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name.strip())
        for part in attr.strip().split("."):
            if part:
                obj = getattr(obj, part)
    except ImportError as exc:
        from workbench.errors import MissingExtra

        if isinstance(exc, MissingExtra):
            raise
        raise WorkbenchError(f"importer {kind!r} ({target}) could not be loaded: {exc}; "
                             "pip install 'workbench-ml[import]', or fix the package that provides it") from exc
    except Exception as exc:  # a broken plugin: say which one, whatever it raised
        raise WorkbenchError(f"importer {kind!r} ({target}) could not be loaded: {type(exc).__name__}: {exc}; "
                             "fix or uninstall the package that provides it") from exc
    if not callable(obj):
        raise WorkbenchError(f"importer {kind!r} ({target}) is not callable")
    return obj  # type: ignore[no-any-return]


def from_source(kind: str, *sources: PathLike, project: str | None = None, root: PathLike | None = None,
                progress: str = "auto", **options: Any) -> ImportReport:
    """Import ``sources`` with importer ``kind`` (built-in or a plugin's), one source at a time:
    a source that cannot be opened is reported (``failed_sources``) and the others go on.

    Examples
    --------
    >>> wb.importers.from_source("tensorboard", "runs/a", "runs/b", project="mnist")  # doctest: +SKIP
    """
    read = reader(kind)
    report = ImportReport(kind)
    if not sources:
        raise WorkbenchError(f"import {kind}: give at least one source")
    for source in sources:
        text = os.fspath(source)
        shown = shown_source(text)
        try:
            runs = read([text], **options)
        except ImportSourceError as exc:
            report.failed_sources.append(SourceFailure(kind, shown, str(exc)))
            continue
        report.extend(write_runs(runs, root=root, project=project, progress=progress, what=kind, source=shown))
    return report



def tensorboard(*paths: PathLike, project: str | None = None, root: PathLike | None = None,
                progress: str = "auto", **options: Any) -> ImportReport:
    """Import TensorBoard logs (folders of ``events.out.tfevents.*`` files, one run per folder):
    scalars with their steps and wall times, hparams, images, histograms and text.

    Examples
    --------
    >>> wb.importers.tensorboard("runs/", project="mnist")  # doctest: +SKIP
    """
    return from_source("tensorboard", *paths, project=project, root=root, progress=progress, **options)


def mlflow(uri: PathLike, *, experiments: Sequence[str] | None = None, project: str | None = None,
           root: PathLike | None = None, progress: str = "auto", **options: Any) -> ImportReport:
    """Import the runs of an MLflow store: an ``mlruns`` folder, a ``sqlite:///`` file or a
    tracking server URL; ``experiments``: only these (names or ids).

    Examples
    --------
    >>> wb.importers.mlflow("sqlite:///mlflow.db", experiments=["sentiment"])  # doctest: +SKIP
    """
    if experiments is not None:
        options["experiments"] = list(experiments)
    return from_source("mlflow", uri, project=project, root=root, progress=progress, **options)


def wandb(*paths: PathLike, project: str | None = None, root: PathLike | None = None,
          progress: str = "auto", **options: Any) -> ImportReport:
    """Import W&B offline runs (``wandb/offline-run-*`` folders, or a ``wandb/`` folder of them).

    Examples
    --------
    >>> wb.importers.wandb("wandb/", project="sentiment")  # doctest: +SKIP
    """
    return from_source("wandb", *paths, project=project, root=root, progress=progress, **options)


def csv(*paths: PathLike, project: str | None = None, root: PathLike | None = None,
        progress: str = "auto") -> ImportReport:
    """Import CSV files: one row per step (a ``step`` column, an optional ``time``, a column per
    key) or long form (``step, key, value[, time]``); a ``run`` column makes several runs.

    Examples
    --------
    >>> wb.importers.csv("history.csv", project="legacy")  # doctest: +SKIP
    """
    return from_source("csv", *paths, project=project, root=root, progress=progress)


def jsonl(*paths: PathLike, project: str | None = None, root: PathLike | None = None,
          progress: str = "auto") -> ImportReport:
    """Import JSON Lines files, one object per line, with the columns :func:`csv` reads.

    Examples
    --------
    >>> wb.importers.jsonl("history.jsonl")  # doctest: +SKIP
    """
    return from_source("jsonl", *paths, project=project, root=root, progress=progress)
