"""Every error workbench raises on purpose.

The tree::

    WorkbenchError
    ├── ConfigError            settings or workbench.toml are wrong
    ├── StoreError             the store on disk
    │   ├── RunNotFound        (also a KeyError) no run with that id or prefix
    │   ├── CorruptRecord      a run record that cannot be read
    │   ├── ReadOnlyRun        a synced run cannot be changed here
    │   ├── PointsLost         a run's metric points could not be stored (a full disk)
    │   ├── ArtifactNotFound   (also a KeyError) no artifact, version or alias for that ref
    │   └── ArtifactError      (also a ValueError) an artifact that cannot be logged or placed
    │       └── DatasetError   a dataset file that fails validation (encoding, columns, limits)
    ├── QueryError             a query the store cannot answer
    │   └── FilterError        a ``where`` / ``order_by`` expression that does not parse
    ├── JobError               launching or controlling jobs
    ├── RemoteError            SSH remotes and sync
    ├── ImportSourceError      a source to import (TensorBoard logs, MLflow store, W&B run) cannot be opened
    └── MissingExtra           (also an ImportError) a feature whose optional packages are not installed

A message says what failed, names the run, file or expression, and suggests the next step.
"""

from __future__ import annotations

__all__ = [
    "ArtifactError",
    "ArtifactNotFound",
    "ConfigError",
    "CorruptRecord",
    "DatasetError",
    "FilterError",
    "ImportSourceError",
    "JobError",
    "MissingExtra",
    "PointsLost",
    "QueryError",
    "ReadOnlyRun",
    "RemoteError",
    "RunNotFound",
    "StoreError",
    "WorkbenchError",
]


class WorkbenchError(Exception):
    """Root of every error workbench raises on purpose."""


class ConfigError(WorkbenchError):
    """Settings, ``workbench.toml`` or a ``WORKBENCH_*`` variable are not valid."""


class StoreError(WorkbenchError):
    """Something in the store on disk is missing, unreadable or not allowed."""


class RunNotFound(StoreError, KeyError):
    """No run matches the id (or id prefix) that was asked for."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "run not found"


class CorruptRecord(StoreError):
    """A run record exists but cannot be parsed."""


class ReadOnlyRun(StoreError):
    """The run was synced from a remote and is read-only here."""


class PointsLost(StoreError):
    """A run's metric points could not be written (a full disk, a quota, a read-only or failing
    filesystem) and were given up: ``run.finish()`` raises it after recording the run as
    ``failed`` with the same message. ``count`` is the number of points lost."""

    def __init__(self, message: str, run_id: str, count: int) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.count = count


class ArtifactNotFound(StoreError, KeyError):
    """No artifact, version or alias matches the ref (``name``, ``name:v3``, ``name:alias``)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "artifact not found"


class ArtifactError(StoreError, ValueError):
    """An artifact that cannot be logged, placed or read: a bad name, path, symlink or blob."""


class DatasetError(ArtifactError):
    """A dataset file that fails validation: encoding, empty, ragged rows, columns or limits."""


class QueryError(WorkbenchError):
    """A query over the store failed."""


class FilterError(QueryError, ValueError):
    """A ``where`` or ``order_by`` expression is not valid.

    ``position`` is the 0-based offset of the offending token in ``expression``.
    """

    def __init__(self, message: str, expression: str, position: int) -> None:
        self.expression = expression
        self.position = position
        pointer = " " * position + "^"
        super().__init__(f"{message}\n  {expression}\n  {pointer}")


class JobError(WorkbenchError):
    """A job could not be launched, found or controlled."""


class RemoteError(WorkbenchError):
    """A remote could not be reached, trusted or synced."""


class ImportSourceError(WorkbenchError):
    """A source given to an importer cannot be opened at all (a missing path, a server that is
    down, a file of the wrong kind). The message names the source and the fix; the other sources
    of the same import go on."""


class MissingExtra(WorkbenchError, ImportError):
    """A feature needs an optional part of workbench (an "extra") that is not installed.

    The message is one line naming the feature, the missing module and the command that installs
    it, e.g. ``pip install 'workbench-ml[ui]'``. ``extra`` is the extra's name, ``module`` the
    module that could not be imported.
    """

    def __init__(self, message: str, *, extra: str, module: str) -> None:
        super().__init__(message)
        self.extra = extra
        self.module = module
        self.name = module  # ImportError's attribute: the module that is missing
