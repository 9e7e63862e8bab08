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
    ArtifactError,
    ArtifactNotFound,
    ConfigError,
    DatasetError,
    FilterError,
    ImportSourceError,
    JobError,
    MissingExtra,
    QueryError,
    RemoteError,
    RunNotFound,
    StoreError,
    WorkbenchError,
)
from workbench.integrations import _register as _hf_report_to  # noqa: F401  (report_to="workbench")
from workbench.media import Audio, Histogram, Image, Table, Text, load_media, media
from workbench.tracking.api import init
from workbench.tracking.current import alert, config, define_metric, finish, log, summary
from workbench.tracking.run import Run

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from workbench.jobs.job import Job
    from workbench.remote._sync import SyncResult
    from workbench.store.artifacts.artifact import Artifact
    from workbench.store.artifacts.du import DuReport
    from workbench.store.catalog import ReindexReport
    from workbench.store.fsck import FsckResult

__all__ = [
    "Artifact",
    "ArtifactError",
    "ArtifactNotFound",
    "Audio",
    "ConfigError",
    "DatasetError",
    "FilterError",
    "Histogram",
    "Image",
    "ImportSourceError",
    "Job",
    "JobError",
    "MissingExtra",
    "QueryError",
    "RemoteError",
    "Run",
    "RunNotFound",
    "StoreError",
    "Table",
    "Text",
    "WorkbenchError",
    "__version__",
    "alert",
    "artifact",
    "artifacts",
    "config",
    "count_runs",
    "define_metric",
    "delete_run",
    "disk_usage",
    "finish",
    "fsck",
    "get_run",
    "history",
    "importers",
    "init",
    "launch",
    "load_media",
    "log",
    "log_artifact",
    "log_dataset",
    "media",
    "reindex",
    "remove_alias",
    "run",
    "run_artifacts",
    "run_logs",
    "runs",
    "set_alias",
    "sql",
    "store_version",
    "summary",
    "sync",
    "update_run",
    "use_artifact",
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


def count_runs(project: str | None = None, where: str | None = None, *, by_project: bool = False,
               root: PathLike | None = None) -> Any:
    """How many runs :func:`runs` would return, from one query (no row is built: cheap on a store
    of 100,000 runs). ``by_project=True``: a dict of project -> run count instead (``where`` and
    ``project`` still filter).

    Examples
    --------
    >>> wb.count_runs(where="status = 'running'")  # doctest: +SKIP
    3
    >>> wb.count_runs(by_project=True)  # doctest: +SKIP
    {'mnist': 120, 'sweeps': 4000}
    """
    store = _store(root)
    if by_project:
        return store.project_counts(project=project, where=where)
    return store.count_runs(project=project, where=where)


def history(
    run_ids: str | Sequence[str],
    keys: str | Sequence[str] | None = None,
    samples: int | None = None,
    *,
    range: tuple[float | None, float | None] | None = None,
    root: PathLike | None = None,
) -> pd.DataFrame:
    """Metric points in long form: columns ``run_id, key, step, value, time``.

    With ``samples``, each series (run and key) keeps at most about that many points, chosen
    by M4 (first, last, min and max of each step bucket), so spikes survive. With
    ``range=(lo, hi)``, only points with ``lo <= step <= hi`` (either end may be None: open),
    and ``samples`` buckets that window, so a zoomed chart gets full detail.

    Examples
    --------
    >>> wb.history(["0kq3x9v2a1b2c"], keys=["loss"], samples=2000)  # doctest: +SKIP
    >>> wb.history("0kq3x9v2a1b2c", keys="loss", samples=2000, range=(10_000, 20_000))  # doctest: +SKIP
    """
    return _store(root).history(run_ids, keys=keys, samples=samples, range=range)


def sql(query: str, *, root: PathLike | None = None) -> pd.DataFrame:
    """Read-only DuckDB SQL over the views ``runs``, ``params``, ``summaries`` and ``metrics``.

    A query reads those views and the store's files under ``runs/`` and ``catalog/``, nothing
    else: another path, a URL, an extension or any statement but a query is a ``QueryError``
    (docs/queries.md).

    Examples
    --------
    >>> wb.sql("select status, count(*) n from runs group by status")  # doctest: +SKIP
    """
    return _store(root).sql(query)


def get_run(run_id: str, *, root: PathLike | None = None) -> dict[str, Any]:
    """The record of one run (an id or a unique prefix), read from its file."""
    return dict(_store(root).get(run_id))


def store_version(*, root: PathLike | None = None) -> str:
    """A token that changes whenever a run record of the store changes (a new run, a status, a
    summary, tags, a heartbeat, a synced or deleted run); cheap enough to poll (one ``stat``).

    Live views compare it with the last one they saw and re-query only when it moved.
    """
    from pathlib import Path

    from workbench.settings import default_root
    from workbench.store._paths import Layout

    root_path = Path(root).expanduser() if root is not None else default_root()
    try:
        st = os.stat(Layout(root_path.absolute()).journal)
    except FileNotFoundError:
        return "0"
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def update_run(run_id: str, *, tags: Sequence[str] | None = None, notes: str | None = None,
               root: PathLike | None = None) -> dict[str, Any]:
    """Set the tags and/or notes of a run (an id or unique prefix) and return its new record.

    ``None`` leaves a field as it is. Safe while the run trains: only these fields are written,
    under the run's lock. A run synced from a remote is read-only here (:class:`ReadOnlyRun`
    from ``workbench.errors``, a :class:`StoreError`).

    Examples
    --------
    >>> wb.update_run("1m82g9", tags=["baseline", "lora"], notes="lr too high")  # doctest: +SKIP
    """
    from workbench.store.run_edit import update_run as _update_run

    return _update_run(_store(root), run_id, tags=tags, notes=notes)


def delete_run(run_id: str, *, root: PathLike | None = None) -> None:
    """Delete a run (an id or unique prefix) from the store: what ``workbench rm RUN --yes`` does
    to the run itself (artifact versions it made and blobs stay; ``workbench gc`` frees them).

    Refused (:class:`StoreError`) while the run is queued or its process still runs: stop it
    first. The run's directory leaves the store whole, in one rename.

    Examples
    --------
    >>> wb.delete_run("1m82g9")  # doctest: +SKIP
    """
    from workbench.store._delete import delete_run as _delete_run

    store = _store(root)
    _delete_run(store.layout, store.settings, store.resolve(run_id))


def run_logs(run_id: str, stream: str = "stdout", tail: int | None = 200, *,
             root: PathLike | None = None) -> str:
    """The captured output of a run: ``stdout`` or ``stderr``, its last ``tail`` lines (``None``: all).

    Read from the end of ``runs/<id>/logs/<stream>.log``, so it stays cheap for long runs and
    can be called again while the run prints. Empty when the run printed nothing.

    Examples
    --------
    >>> print(wb.run_logs("1m82g9", tail=20))  # doctest: +SKIP
    """
    from workbench.store.run_logs import read_logs

    return read_logs(_store(root), run_id, stream, tail)


def reindex(*, root: PathLike | None = None) -> ReindexReport:
    """Rebuild the catalog from the run records and check every metric segment."""
    report: ReindexReport = _store(root).reindex()
    return report


def fsck(*, repair: bool = False, root: PathLike | None = None) -> FsckResult:
    """Check every file of the store: run and job records, metric segments, the catalog, artifact
    manifests, alias files and usage logs, every blob (re-hashed), the settings and remotes.

    Returns an ``FsckResult``: ``ok``, and ``findings``, each with its ``kind``, ``path``,
    ``problem`` and ``fix``. Nothing is changed, except that the blobs found intact are recorded
    so that placing them soon after need not hash them again (the ``verify_trust_days`` setting).
    With ``repair``, each corrupt blob is moved into ``<root>/quarantine/`` (``quarantined`` names
    the versions that lost files; they then report the blob missing) and a damaged catalog is moved
    there and rebuilt. What ``workbench fsck [--repair]`` prints; see docs/store.md.

    Examples
    --------
    >>> import workbench as wb
    >>> result = wb.fsck()  # doctest: +SKIP
    >>> result.ok, [(f.kind, f.path) for f in result.findings]  # doctest: +SKIP
    (False, [('alias file', '/home/me/.workbench/artifacts/reviews/aliases.json')])
    """
    from pathlib import Path

    from workbench.jobs._paths import JobPaths
    from workbench.remote._config import check_remotes
    from workbench.settings import Settings, default_root, load_settings
    from workbench.store.fsck import Finding, check_store

    where = (Path(root).expanduser() if root is not None else default_root()).absolute()
    if not where.is_dir():
        raise StoreError(f"there is no store at {where}: pass --root (root=) or set WORKBENCH_ROOT to one")
    extra = []
    toml = where / "workbench.toml"
    try:
        settings = load_settings(where)
    except ConfigError as exc:  # the rest of the store can still be checked, with default settings
        settings = Settings(root=where)
        extra.append(Finding("settings", str(toml), str(exc),
                             "fix the file (docs/settings.md lists every setting), or move it away"))
    if os.path.lexists(toml) and not toml.is_file():
        extra.append(Finding("settings", str(toml), f"{toml} is not a regular file, so every setting in it is "
                             "ignored", "move it away and save the settings again (docs/settings.md)"))
    _, problems = check_remotes(settings)
    extra += [Finding("remote", str(settings.root / "workbench.toml"), problem,
                      "fix the table, or remove it with `workbench remote rm NAME`") for problem in problems]
    paths = JobPaths(settings.root)
    return check_store(settings, repair=repair, jobs=paths.listed(paths.index), extra=extra)


# -- artifacts ----------------------------------------------------------------------------------------

def _artifacts(root: PathLike | None) -> Any:
    from workbench.store.artifacts import open_artifacts

    return open_artifacts(root)


def _run_id(run: Run | str | None) -> tuple[str | None, PathLike | None]:
    if run is None or isinstance(run, str):
        return run, None
    if isinstance(run, Run):
        return run.id, run._settings.root
    raise TypeError(f"run must be a Run or a run id, not {type(run).__name__}")


def log_artifact(
    path: PathLike,
    name: str,
    type: str = "artifact",
    aliases: Sequence[str] | str | None = None,
    metadata: dict[str, Any] | None = None,
    *,
    required: Sequence[str] | None = None,
    run: Run | str | None = None,
    root: PathLike | None = None,
) -> Artifact:
    """Log a file or directory as a new version of artifact ``name``.

    Files are hashed (SHA-256, streamed) and each new blob is stored once: identical files, and
    identical chunks of large files, are shared by every version. Logging the same content as
    the newest version makes no new version and returns that one.

    Parameters
    ----------
    path:
        A file or a directory. Symlinks inside it must point inside it.
    name:
        1-128 letters, digits, ``.``, ``_`` or ``-``.
    type:
        ``model``, ``checkpoint``, ``dataset``... A ``dataset`` is checked first (see
        docs/artifacts.md): CSV, TSV, JSON, JSONL or parquet, UTF-8, consistent columns, limits.
    aliases:
        Names for this version, e.g. ``["best"]``; each moves here from any older version.
        ``latest`` always names the newest.
    metadata:
        JSON-friendly facts about the version (metrics, config, notes).
    required:
        Columns a dataset must have, e.g. ``["text", "label"]``.
    run:
        The run that produced it (a :class:`Run` or a run id), recorded on both sides.
    root:
        The store (default ``WORKBENCH_ROOT``, else ``~/.workbench``).

    Examples
    --------
    >>> import workbench as wb
    >>> wb.log_artifact("reviews.csv", "reviews", type="dataset", required=["text", "label"])  # doctest: +SKIP
    Artifact(name='reviews', version=1, type='dataset', ...)
    """
    run_id, run_root = _run_id(run)
    return _artifacts(root if root is not None else run_root).log(  # type: ignore[no-any-return]
        path, name, type, aliases, metadata, run_id=run_id, required=required)


def use_artifact(
    ref: str,
    dest: PathLike | None = None,
    *,
    run: Run | str | None = None,
    root: PathLike | None = None,
) -> Path:
    """A local directory holding the files of the version ``ref`` names.

    Files are hard links to the store's read-only blobs where possible, copies otherwise (across
    filesystems, with ``link_mode = "copy"``, and for large chunked files). Without ``dest`` the
    version is placed once under ``<root>/cache/artifacts/<name>/v<N>`` and reused. Every blob is
    checked against its SHA-256 as it is placed (the ``verify_placement`` setting): one that does
    not match raises :class:`ArtifactError` naming the file and ``workbench fsck --repair``, and
    nothing is placed.

    Parameters
    ----------
    ref:
        ``"name"`` (the newest), ``"name:v3"`` or ``"name:alias"``; ``"REMOTE:name:v3"`` or
        ``"REMOTE:name:alias"`` for a version on a synced remote: the blobs this store lacks are
        fetched over SSH first (resumable, verified by digest; see docs/remote.md).
    dest:
        A new or empty directory to place the files in.
    run:
        The run that uses it (a :class:`Run` or a run id): recorded for lineage.

    Examples
    --------
    >>> import workbench as wb
    >>> model_dir = wb.use_artifact("sentiment-model:best")  # doctest: +SKIP
    """
    run_id, run_root = _run_id(run)
    if isinstance(ref, str) and ref.count(":") == 2:
        from workbench.remote._fetch import fetch_remote_artifact
        from workbench.settings import load_settings

        return fetch_remote_artifact(load_settings(root if root is not None else run_root), ref, dest,
                                     run_id=run_id).path
    return _artifacts(root if root is not None else run_root).use(  # type: ignore[no-any-return]
        ref, dest, run_id=run_id)


def artifact(ref: str, *, root: PathLike | None = None) -> Artifact:
    """The :class:`Artifact` version ``ref`` names: files, metadata, aliases, producing run.

    Examples
    --------
    >>> import workbench as wb
    >>> art = wb.artifact("sentiment-model:best")  # doctest: +SKIP
    >>> art.ref, art.producer, art.used_by()  # doctest: +SKIP
    ('sentiment-model:v3', '0kq3x9v2a1b2c', ['0kq3xb7r9d4e1'])
    """
    return _artifacts(root).get(ref)  # type: ignore[no-any-return]


def artifacts(name: str | None = None, type: str | None = None, *,
              root: PathLike | None = None) -> pd.DataFrame:
    """Artifact versions as a DataFrame, one row each, oldest first within each name.

    Columns: ``ref, name, version, type, aliases, size, files, created, producer, digest``.
    A manifest or alias file that cannot be read is skipped (an alias file: only ``latest`` is
    shown) with a warning naming it; ``frame.attrs["skipped"]`` holds the same messages.

    Examples
    --------
    >>> import workbench as wb
    >>> wb.artifacts(type="dataset")  # doctest: +SKIP
    """
    import pandas as pd

    skipped: list[str] = []
    rows = [
        {"ref": a.ref, "name": a.name, "version": a.version, "type": a.type, "aliases": list(a.aliases),
         "size": a.size, "files": len(a.files), "created": pd.to_datetime(a.created, unit="s", utc=True),
         "producer": a.producer, "digest": a.digest}
        for a in _artifacts(root).find(name, type, skipped=skipped)
    ]
    columns = ["ref", "name", "version", "type", "aliases", "size", "files", "created", "producer", "digest"]
    frame = pd.DataFrame(rows, columns=columns)
    frame.attrs["skipped"] = skipped
    return frame


def run_artifacts(run: Run | str, *, root: PathLike | None = None) -> dict[str, list[dict[str, Any]]]:
    """What a run produced and used: ``{"produced": [...], "used": [...]}``.

    Each entry is ``{"name", "version", "type", "time"}`` (``produced`` entries also say whether
    the run made a ``new`` version or logged the same content as the newest).

    Examples
    --------
    >>> import workbench as wb
    >>> wb.run_artifacts("0kq3x9v2a1b2c")["used"]  # doctest: +SKIP
    [{'name': 'reviews', 'version': 2, 'type': 'dataset', 'time': 1732300000.0}]
    """
    run_id, run_root = _run_id(run)
    store = _artifacts(root if root is not None else run_root)
    return store.run_artifacts(_store(root if root is not None else run_root).resolve(run_id))  # type: ignore[no-any-return]

def log_dataset(
    source: bytes | PathLike,
    name: str | None = None,
    *,
    filename: str | None = None,
    required: Sequence[str] | None = None,
    aliases: Sequence[str] | str | None = None,
    metadata: dict[str, Any] | None = None,
    run: Run | str | None = None,
    root: PathLike | None = None,
) -> Artifact:
    """Log a dataset (a path, or the bytes of an uploaded file) as a ``dataset`` artifact version.

    The tables are checked first (docs/artifacts.md, "Datasets"); a bad one raises
    :class:`DatasetError` naming the file and the problem, and the store is left untouched.
    Bytes are written to a private temp file called ``filename`` (its extension says the format:
    ``.csv``, ``.tsv``, ``.json``, ``.jsonl``, ``.parquet``), logged, then removed. ``name``
    defaults to the file name up to its first dot.

    Examples
    --------
    >>> import workbench as wb
    >>> wb.log_dataset(b"text,label\\nnice,pos\\n", filename="reviews.csv").ref  # doctest: +SKIP
    'reviews:v1'
    """
    from workbench.store.artifacts.upload import log_dataset as _log_dataset

    run_id, run_root = _run_id(run)
    return _log_dataset(_artifacts(root if root is not None else run_root), source, name, filename=filename,
                        required=required, aliases=aliases, metadata=metadata, run_id=run_id)


def set_alias(ref: str, alias: str, *, root: PathLike | None = None) -> Artifact:
    """Point ``alias`` at the version ``ref`` names, moving it from any other version.

    A bad alias (``latest``, ``v3``, a path, whitespace) raises :class:`ArtifactError` with a
    suggested name; an unknown ref raises :class:`ArtifactNotFound`. Returns the version.

    Examples
    --------
    >>> import workbench as wb
    >>> wb.set_alias("sentiment-model:v3", "production").aliases  # doctest: +SKIP
    ('latest', 'production')
    """
    return _artifacts(root).set_alias(ref, alias)  # type: ignore[no-any-return]


def remove_alias(name: str, alias: str, *, root: PathLike | None = None) -> None:
    """Remove ``alias`` from artifact ``name`` (:class:`ArtifactNotFound` if it has none such).

    Examples
    --------
    >>> import workbench as wb
    >>> wb.remove_alias("sentiment-model", "production")  # doctest: +SKIP
    """
    _artifacts(root).remove_alias(name, alias)


def disk_usage(*, root: PathLike | None = None) -> DuReport:
    """Bytes the artifacts take: ``logical`` (every version at full size), ``unique`` (distinct
    blobs), ``on_disk`` (allocated, each inode once), ``saved`` by deduplication, and
    ``per_artifact`` (versions and logical bytes of each name). What ``workbench du`` prints.

    Examples
    --------
    >>> import workbench as wb
    >>> report = wb.disk_usage()  # doctest: +SKIP
    >>> report.saved / max(report.logical, 1)  # doctest: +SKIP
    0.82
    """
    return _artifacts(root).du()  # type: ignore[no-any-return]


# -- jobs -----------------------------------------------------------------------------------------------

def launch(
    recipe: str,
    config: dict[str, Any] | None = None,
    *,
    dataset: PathLike | None = None,
    base_model: PathLike | None = None,
    priority: int = 0,
    executor: str = "local",
    name: str | None = None,
    project: str | None = None,
    retries: int = 0,
    tags: Sequence[str] | None = None,
    root: PathLike | None = None,
) -> Job:
    """Queue a job (a fine-tune or any command) and return its :class:`Job`.

    Everything is checked before the job exists: the recipe, each config key (an unknown one
    is refused with the list of valid ones), the dataset's columns and the base model. The job
    is a run with status ``queued``; the store's scheduler (started here in the background when
    none runs, detached so it outlives this process) runs the highest-priority, oldest queued
    job whenever one of its ``job_slots`` is free, in its own process group.

    Parameters
    ----------
    recipe:
        ``text-classification``, ``causal-lm``, ``script``, or one a package registers through
        the ``workbench.recipes`` entry point group (see docs/jobs.md).
    config:
        The recipe's config; defaults come from the recipe, then ``[recipes.NAME]`` in
        ``workbench.toml``. For ``script``: ``{"command": "python train.py --lr 3e-4"}``.
    dataset:
        A CSV, JSONL, JSON or parquet file or a directory of them (logged as a ``dataset``
        artifact), or a dataset artifact ref such as ``"reviews:latest"``. The launch pins the
        version.
    base_model:
        A model directory, a ``model`` artifact ref or a hub id (recipes have defaults).
    priority:
        Higher runs first; equal priorities run oldest first.
    executor:
        Where the job runs: ``"local"``.
    name, project, tags:
        Of the job's run.
    retries:
        How many times a job that fails or crashes is queued again.
    root:
        The store (default ``WORKBENCH_ROOT``, else ``~/.workbench``).

    Raises
    ------
    JobError
        An unknown recipe or config key, a bad value, a base model path that does not exist.
    DatasetError
        A dataset without the columns the recipe needs (or otherwise malformed).

    Examples
    --------
    >>> import workbench as wb
    >>> job = wb.launch("text-classification", dataset="data/reviews",
    ...                 config={"lora": True, "epochs": 1}, priority=5)  # doctest: +SKIP
    >>> job.wait(timeout=600), job.record["summary"]["eval/accuracy"]  # doctest: +SKIP
    ('completed', 0.995)
    """
    from workbench.jobs.launch import launch as _launch

    return _launch(recipe, config, dataset=dataset, base_model=base_model, priority=priority, executor=executor,
                   name=name, project=project, retries=retries, tags=tags, root=root)


# -- remotes -----------------------------------------------------------------------------------------------

def sync(name: str, *, root: PathLike | None = None, progress: str | None = None) -> SyncResult:
    """Copy the runs that changed on remote ``name`` into the local store, over SSH.

    One command on the remote lists its runs; the records and metric segments of the runs that
    changed since the last sync come in one streamed archive, are checked (paths, file types,
    sizes, run ids) and staged, and each run then moves into place whole. Synced runs carry
    ``remote = name``, are read-only here and show in :func:`runs` like local ones. A local run
    with the same id is never overwritten. Needs ``pip install 'workbench-ml[remote]'``.

    Parameters
    ----------
    name:
        A remote of ``workbench.toml`` (``workbench remote add NAME --host ... --root ... --python ...``).
    root:
        The local store (default ``WORKBENCH_ROOT``, else ``~/.workbench``).
    progress:
        ``auto`` (a bar when stderr is a terminal), ``always`` or ``never``; default: the setting.

    Returns
    -------
    SyncResult
        ``runs`` (ids placed), ``files``, ``bytes``, ``seconds`` and ``refused`` (one message per
        entry a hostile or broken remote sent that was refused; those runs were not copied).

    Raises
    ------
    RemoteError
        The remote is unknown, unreachable, untrusted (unknown or changed host key), refuses the
        key, has no Python or store at the configured paths, or the connection was cut (the local
        store is then unchanged; sync again).

    Examples
    --------
    >>> import workbench as wb
    >>> result = wb.sync("gpu1")  # doctest: +SKIP
    >>> len(result.runs), result.refused  # doctest: +SKIP
    (12, [])
    """
    from workbench.remote._sync import sync as _sync

    return _sync(name, root=root, progress=progress)


_LAZY = {"Job": "workbench.jobs.job", "Artifact": "workbench.store.artifacts.artifact"}


def __getattr__(name: str) -> Any:
    # ``workbench.run``: the current run (W&B's ``wandb.run``), None when there is none
    if name == "run":
        from workbench.tracking.current import current

        return current()
    # ``workbench.importers``: the importers' room, loaded on first use
    if name == "importers":
        import importlib

        return importlib.import_module("workbench.importers")
    # classes of the jobs and artifacts rooms load on first use: `import workbench` stays light
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext workbench``: registers the ``%wb`` magic (see ``%wb --help``)."""
    from workbench.apps.magics import load_ipython_extension as load

    load(ipython)
