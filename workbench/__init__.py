"""workbench: local-first experiment tracking for notebooks and scripts.

Examples
--------
>>> import workbench as wb
>>> with wb.init(project="sentiment", config={"lr": 3e-4}) as run:  # doctest: +SKIP
...     run.log({"loss": 0.41, "acc": 0.88}, step=100)
>>> wb.runs(project="sentiment", where="config.lr < 1e-3", order_by="-summary.acc")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from workbench._version import __version__
from workbench.errors import (
    ConfigError,
    FilterError,
    QueryError,
    RunNotFound,
    StoreError,
    WorkbenchError,
)
from workbench.tracking.api import init
from workbench.tracking.run import Run

if TYPE_CHECKING:
    import pandas as pd

    from workbench.store.catalog import ReindexReport

__all__ = [
    "ConfigError",
    "FilterError",
    "QueryError",
    "Run",
    "RunNotFound",
    "StoreError",
    "WorkbenchError",
    "__version__",
    "get_run",
    "history",
    "init",
    "reindex",
    "runs",
    "sql",
]

PathLike = str | os.PathLike[str]


def _store(root: PathLike | None) -> Any:
    from workbench.store import open_store

    return open_store(root)


def runs(
    project: str | None = None,
    where: str | None = None,
    order_by: str | Sequence[str] | None = None,
    limit: int | None = None,
    columns: Sequence[str] | None = None,
    *,
    root: PathLike | None = None,
) -> pd.DataFrame:
    """Runs as a DataFrame, one row each, with flattened ``config.*`` and ``summary.*`` columns.

    Parameters
    ----------
    project:
        Only runs of this project.
    where:
        A filter such as ``"config.lr < 1e-3 and summary.acc > 0.8 and tags contains 'lora'"``
        (see docs/queries.md). An invalid one raises :class:`FilterError` pointing at the token.
    order_by:
        ``"-summary.acc"`` (descending), ``"created asc"``, or a list of them; default newest first.
    limit:
        At most this many rows.
    columns:
        Only these columns (plus ``run_id``), e.g. ``["name", "config.lr", "summary.acc"]``.

    Examples
    --------
    >>> wb.runs(where="status = 'completed'", order_by="-summary.acc", limit=5)  # doctest: +SKIP
    """
    return _store(root).runs(project=project, where=where, order_by=order_by, limit=limit, columns=columns)


def history(
    run_ids: str | Sequence[str],
    keys: str | Sequence[str] | None = None,
    samples: int | None = None,
    *,
    root: PathLike | None = None,
) -> pd.DataFrame:
    """Metric points in long form: columns ``run_id, key, step, value, time``.

    With ``samples``, each series (run and key) keeps at most about that many points, chosen
    by M4 (first, last, min and max of each step bucket), so spikes survive.

    Examples
    --------
    >>> wb.history(["0kq3x9v2a1b2c"], keys=["loss"], samples=2000)  # doctest: +SKIP
    """
    return _store(root).history(run_ids, keys=keys, samples=samples)


def sql(query: str, *, root: PathLike | None = None) -> pd.DataFrame:
    """Read-only DuckDB SQL over the views ``runs``, ``params``, ``summaries`` and ``metrics``.

    Examples
    --------
    >>> wb.sql("select status, count(*) n from runs group by status")  # doctest: +SKIP
    """
    return _store(root).sql(query)


def get_run(run_id: str, *, root: PathLike | None = None) -> dict[str, Any]:
    """The record of one run (an id or a unique prefix), read from its file."""
    return dict(_store(root).get(run_id))


def reindex(*, root: PathLike | None = None) -> ReindexReport:
    """Rebuild the catalog from the run records and check every metric segment."""
    return _store(root).reindex()
