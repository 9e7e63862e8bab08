"""MLflow runs, read through MLflow's own client (``mlflow.tracking.MlflowClient``).

A source is a tracking URI: a ``mlruns`` folder (a path or ``file://``), ``sqlite:///path.db``
(or another database URI MLflow reads) or an ``http(s)://`` tracking server. Each run becomes one
:class:`ImportedRun`: params become config with their types recovered where the string parses
back losslessly (the strings kept in ``config_source``), metrics stream one key at a time from
``get_metric_history`` (steps, values and millisecond timestamps), artifacts become files. What
maps to what, and what is left out, is in docs/import.md ("MLflow").

mlflow is imported only inside these functions. Its calls run with its logging silenced and its
warnings ignored (the import's report says what went wrong, once), and, for a server, with few
retries and a short timeout unless the user set ``MLFLOW_HTTP_REQUEST_*`` themselves, so a server
that is down fails in seconds rather than after minutes of back-off.

Artifacts in a local folder are read in place. Remote ones are downloaded into a temporary folder
per run; it is removed when the consumer asks for the next run (or closes the generator), so the
writer must take a run's files before it advances, as :func:`write_runs` does.
"""

from __future__ import annotations

import ast
import contextlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from workbench.errors import ImportSourceError
from workbench.importers._checks import shown_source
from workbench.importers._model import ImportedRun, Series, SourceFile

__all__ = ["read"]

KIND = "mlflow"

#: MLflow statuses -> store statuses (docs/import.md); a live run stays running: the store shows it
#: crashed once it is stale, and a later import records how it ended
STATUS = {"FINISHED": "completed", "FAILED": "failed", "KILLED": "cancelled", "RUNNING": "running",
          "SCHEDULED": "running"}

#: for a tracking server, unless the user set these: fail in seconds, not after minutes of back-off
_HTTP_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
             "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}
# the file store reads only with this set (MLflow 3 keeps it in maintenance mode)
_FILE_ENV = {"MLFLOW_ALLOW_FILE_STORE": "true"}
# no download bars of MLflow's own: the import has its bar
_QUIET_ENV = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
# folders of an experiment in a file store that are not runs
_NOT_RUNS = {"tags", "datasets", "traces", "models"}
_PAGE = 1000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_INT = re.compile(r"[+-]?[0-9]+")
_INT64 = 2**63
_LITERAL_MAX = 10_000  # longer params stay strings (never parsed)


def read(sources: Sequence[str], *, experiments: Sequence[str] | None = None,
         **options: Any) -> Iterator[ImportedRun]:
    """The runs of each tracking URI in ``sources``; ``experiments`` (names or ids) limits them.

    Raises :class:`ImportSourceError` for a source that cannot be opened at all (a missing
    folder or file, a server that is down, an experiment that is not there); a run that cannot
    be read is yielded with ``error`` set, damage inside a run lands in its ``problems``.
    Deleted runs (MLflow's trash) are not imported; each experiment that had some says how many
    in the ``skipped`` lines of its first imported run. Other ``options`` are ignored.
    """
    del options
    for source in sources:
        yield from _Source(source, experiments).runs()


# -- one source ------------------------------------------------------------------------------

class _Source:
    def __init__(self, source: str, experiments: Sequence[str] | None) -> None:
        self.given = source
        self.wanted = [str(e) for e in experiments] if experiments else None
        self.uri, self.shown, self.root = _resolve(source)
        self.http = self.uri.startswith(("http://", "https://"))
        self.env = {**_QUIET_ENV, **(_HTTP_ENV if self.http else {}), **(_FILE_ENV if self.root else {})}
        self.client: Any = None
        #: a file store's experiment folders that cannot be read, reported as failed entries
        self.broken: list[ImportedRun] = []
        #: run id -> why a file-store run could not be read whole (then read part by part)
        self.damaged: dict[str, str] = {}

    # every client call goes through here: quiet, bounded, errors as they are
    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with _quiet(self.env):
            return fn(*args, **kwargs)

    def open(self) -> list[Any]:
        if self.http:  # a server that is down is told in a fraction of a second, before mlflow loads
            refused = _connect(self.uri)
            if refused is not None:
                raise ImportSourceError(self.unreadable(refused))
        try:
            with _quiet({}):
                from mlflow.tracking import MlflowClient
        except ImportError as exc:
            from workbench._extras import _message
            from workbench.errors import MissingExtra

            raise MissingExtra(_message("workbench import mlflow", "import", exc.name or "mlflow"),
                               extra="import", module=exc.name or "mlflow") from exc
        from mlflow.entities import ViewType

        try:
            self.client = self.call(MlflowClient, tracking_uri=self.uri)
            if self.root is not None:
                found = self.experiment_folders()
            else:
                found = self.experiments(ViewType)
        except Exception as exc:  # mlflow, requests, sqlalchemy: nothing could be read
            raise ImportSourceError(self.unreadable(exc)) from exc
        if self.wanted is None:
            return sorted(found, key=lambda e: _id_key(e.experiment_id))
        chosen = [e for e in found if e.name in self.wanted or e.experiment_id in self.wanted]
        missing = [w for w in self.wanted if all(w not in (e.name, e.experiment_id) for e in chosen)]
        if missing:
            names = ", ".join(repr(e.name) for e in found[:20]) or "none"
            damaged = f"; {len(self.broken)} experiment folder(s) cannot be read" if self.broken else ""
            raise ImportSourceError(f"{self.shown}: no experiment named {missing[0]!r} (it has {names}{damaged}): "
                                    "give an experiment name or id that it holds")
        self.broken = []  # reported only when the whole store is imported
        return chosen

    def experiments(self, view: Any) -> list[Any]:
        found: list[Any] = []
        token = None
        while True:
            page = self.call(self.client.search_experiments, view_type=view.ALL, max_results=_PAGE, page_token=token)
            found.extend(page)
            token = page.token
            if not token:
                return found

    def experiment_folders(self) -> list[Any]:
        """A file store's experiments folder by folder: one damaged ``meta.yaml`` (MLflow's own
        search fails or skips it) costs only that experiment, which is reported."""
        assert self.root is not None
        found = []
        for entry in sorted(self.root.iterdir(), key=lambda p: p.name):
            if not entry.name.isdigit() or not entry.is_dir():
                continue
            try:
                if entry.is_symlink():
                    raise ValueError("it is a symbolic link, not followed")
                found.append(self.call(self.client.get_experiment, entry.name))
            except Exception as exc:  # noqa: BLE001 - reported as a failed entry, the others go on
                self.broken.append(self.failed(f"experiment:{entry.name}", None,
                                               f"experiment folder {entry.name} cannot be read ({_reason(exc)}): "
                                               "none of its runs imported"))
        return found

    def unreadable(self, exc: BaseException) -> str:
        reason = _text(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 300)
        if self.http:
            return (f"cannot reach the MLflow tracking server at {self.shown} ({reason}): start it "
                    "(mlflow server --host 127.0.0.1 --port PORT) or check the URL")
        return f"cannot read the MLflow store {self.shown} ({reason}): check that it is an MLflow tracking store"

    def runs(self) -> Iterator[ImportedRun]:
        found = self.open()
        from mlflow.entities import ViewType

        pending: Path | None = None  # the last run's downloaded artifacts, removed when we resume
        try:
            yield from self.broken
            for experiment in found:
                if experiment.lifecycle_stage == "deleted":
                    continue
                listed, deleted, broken = self.list_runs(experiment, ViewType)
                note = [f"{deleted} deleted run(s) of experiment {experiment.name!r} not imported "
                        "(MLflow's trash)"] if deleted else []
                for run in broken:
                    yield run
                for run in _parents_first(listed):
                    imported, temporary = self.imported(run, experiment.name)
                    imported.skipped[:0], note = note, []
                    yield imported
                    if pending is not None:
                        shutil.rmtree(pending, ignore_errors=True)
                    pending = temporary
        finally:
            if pending is not None:
                shutil.rmtree(pending, ignore_errors=True)

    def list_runs(self, experiment: Any, view: Any) -> tuple[list[Any], int, list[ImportedRun]]:
        """(runs, how many deleted, runs that could not be read) of one experiment."""
        folder = self.root / experiment.experiment_id if self.root is not None else None
        if folder is not None and folder.is_dir():
            return self.list_folder(experiment, folder)
        runs: list[Any] = []
        deleted, token = 0, None
        try:
            while True:
                page = self.call(self.client.search_runs, [experiment.experiment_id], "",
                                 run_view_type=view.ALL, max_results=_PAGE,
                                 order_by=["attributes.start_time ASC"], page_token=token)
                for run in page:
                    if run.info.lifecycle_stage == "deleted":
                        deleted += 1
                    else:
                        runs.append(run)
                token = page.token
                if not token:
                    return runs, deleted, []
        except Exception as exc:  # noqa: BLE001 - mlflow raises many kinds: reported, the rest goes on
            failed = self.failed(f"experiment:{experiment.experiment_id}", experiment.name,
                                 f"the runs of experiment {experiment.name!r} could not be listed "
                                 f"({_reason(exc)}); {len(runs)} listed before that were imported")
            return runs, deleted, [failed]

    def list_folder(self, experiment: Any, folder: Path) -> tuple[list[Any], int, list[ImportedRun]]:
        """A file store's experiment, run folder by run folder: one damaged run (MLflow's own
        search fails for the whole experiment then) costs only that run."""
        runs, broken, deleted = [], [], 0
        for entry in sorted(folder.iterdir(), key=lambda p: p.name):
            if entry.name in _NOT_RUNS or not entry.is_dir():
                continue
            if entry.is_symlink():  # a hostile store could point it anywhere
                broken.append(self.failed(entry.name, experiment.name, f"run folder {folder.name}/"
                                          f"{_text(entry.name, 200)} is a symbolic link: not followed"))
                continue
            if not any((entry / part).exists() for part in ("meta.yaml", "metrics", "params", "tags")):
                continue  # not a run (an artifact folder of a store that keeps them here)
            try:
                run = self.call(self.client.get_run, entry.name)
            except Exception as exc:  # noqa: BLE001 - one damaged run (yaml, ValueError...) costs only it
                salvaged = self.salvage(entry, exc)
                if isinstance(salvaged, ImportedRun):
                    broken.append(salvaged)
                    continue
                run = salvaged
            if run.info.lifecycle_stage == "deleted":
                deleted += 1
            else:
                runs.append(run)
        return runs, deleted, broken

    def salvage(self, folder: Path, exc: BaseException) -> Any:
        """A file-store run that MLflow could not read whole: its metadata, params and tags if
        those read (the damage is then in a metric file, which ``series`` reads line by line),
        else a failed run."""
        rel = f"{folder.parent.name}/{folder.name}"
        try:
            from mlflow.entities import Run, RunData

            store = self.client._tracking_client.store
            info = self.call(store._get_run_info, folder.name)
            params = self.call(store.get_all_params, folder.name)
            tags = self.call(store.get_all_tags, folder.name)
            run = Run(info, RunData(params=params, tags=tags))
        except Exception as second:  # noqa: BLE001 - then the run is reported as failed
            return self.failed(folder.name, None, f"run folder {rel} cannot be read ({_reason(exc)}"
                               + (f"; {_reason(second)}" if str(second) != str(exc) else "") + ")")
        self.damaged[folder.name] = f"{rel} could not be read whole ({_reason(exc)})"
        return run

    def failed(self, source_id: str, project: str | None, error: str) -> ImportedRun:
        return ImportedRun(kind=KIND, source_path=self.shown, source_id=source_id, project=project,
                           error=error)

    # -- one run -----------------------------------------------------------------------------

    def imported(self, run: Any, project: str) -> tuple[ImportedRun, Path | None]:
        info, data = run.info, run.data
        tags = dict(data.tags)
        params = dict(data.params)
        config, changed = {}, False
        for key, text in params.items():
            config[key] = _typed(text)
            changed = changed or not isinstance(config[key], str)
        out = ImportedRun(
            kind=KIND, source_path=self.shown, source_id=info.run_id, project=project,
            name=tags.get("mlflow.runName") or info.run_name or None,
            config=config, config_source=params if changed else None,
            notes=tags.get("mlflow.note.content") or None,
            start_time=_seconds(info.start_time), end_time=_seconds(info.end_time),
            git_commit=tags.get("mlflow.source.git.commit") or None,
            git_branch=tags.get("mlflow.source.git.branch") or None,
            user=tags.get("mlflow.user") or None,
            parent_id=tags.get("mlflow.parentRunId") or None,
        )
        out.status = STATUS.get(info.status, "crashed")
        if info.status not in STATUS:
            out.problems.append(f"status {_text(str(info.status), 40)!r} is not an MLflow status: imported as crashed")
        if tags.get("mlflow.source.name"):
            out.command = [tags["mlflow.source.name"]]
            if tags.get("mlflow.project.entryPoint"):
                out.command.append(tags["mlflow.project.entryPoint"])
        damaged = self.damaged.get(info.run_id)
        if damaged:
            out.problems.append(damaged)
        for key, value in tags.items():
            if key.startswith("mlflow."):
                continue
            tag = f"{key}={value}" if value != "" else key
            if len(tag) <= 1024 and "\n" not in tag and not _CONTROL.search(tag) and tag.strip():
                out.tags.append(tag)
            else:
                out.skipped.append(f"tag {_text(key, 80)!r}: its value ({len(value):,} characters) "
                                   "is not a one-line tag name, not imported")
        if "mlflow.log-model.history" in tags:
            out.skipped.append("logged models (mlflow.log-model.history): the model registry is not "
                               "imported; the model files are imported as artifacts")
        inputs = getattr(getattr(run, "inputs", None), "dataset_inputs", None) or []
        if inputs:
            out.skipped.append(f"{len(inputs)} dataset input(s): MLflow datasets are not imported")
        keys = sorted(data.metrics) if not damaged else self.metric_files(info)
        out.series = lambda: self.series(out, info, keys)
        temporary = None
        try:
            out.files, temporary = self.files(out, info)
        except Exception as exc:  # noqa: BLE001 - reported with the run, its other data imported
            out.problems.append(f"artifacts could not be read ({_reason(exc)}): none imported")
        return out, temporary

    def metric_files(self, info: Any) -> list[str]:
        assert self.root is not None
        folder = self.root / info.experiment_id / info.run_id / "metrics"
        if not folder.is_dir():
            return []
        return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                      if p.is_file() and not p.is_symlink())

    def series(self, out: ImportedRun, info: Any, keys: list[str]) -> Iterator[Series]:
        for key in keys:
            try:
                history = self.call(self.client.get_metric_history, info.run_id, key)
                points: list[tuple[int, float, int]] | None = [(m.step, m.value, m.timestamp) for m in history]
            except Exception as exc:  # noqa: BLE001 - one damaged series costs only its bad lines
                points = self.lenient(out, info, key, exc)
            if points is None:
                continue
            yield Series(key=key, steps=[int(p[0]) for p in points], values=[float(p[1]) for p in points],
                         times=[p[2] / 1000 for p in points])

    def lenient(self, out: ImportedRun, info: Any, key: str, exc: BaseException) -> list[tuple[int, float, int]] | None:
        """A file store's metric file read line by line (MLflow refuses it whole for one bad
        line): the good lines, and a problem naming the bad ones."""
        path = (self.root / info.experiment_id / info.run_id / "metrics" / key) if self.root else None
        if path is None or not path.is_file():
            out.problems.append(f"metric {_text(key, 80)!r} could not be read ({_reason(exc)}): not imported")
            return None
        points, bad = [], []
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                parts = raw.decode("utf-8", "replace").split()
                try:
                    if len(parts) not in (2, 3, 5):
                        raise ValueError
                    points.append((int(parts[2]) if len(parts) >= 3 else 0, float(parts[1]), int(parts[0])))
                except ValueError:
                    bad.append(number)
        if bad:
            rel = path.relative_to(self.root).as_posix() if self.root else key
            out.problems.append(f"metric {_text(key, 80)!r}: {len(bad)} unreadable line(s) in {rel} "
                                f"(first: line {bad[0]}) skipped, {len(points)} point(s) imported")
        return points

    def files(self, out: ImportedRun, info: Any) -> tuple[list[SourceFile], Path | None]:
        local = _local_path(info.artifact_uri)
        if local is not None and local.is_dir():  # read in place (a server's own folder when it runs here)
            return _walk(local, out), None
        if local is not None:  # no folder: no artifact was logged (MLflow makes it on the first)
            if self.http and not local.parent.parent.is_dir():  # nor the experiment's: another machine's
                out.skipped.append(f"artifacts: the server keeps them in its folder {_text(str(local), 200)}, "
                                   "which is not on this machine (serve them: mlflow server --serve-artifacts)")
            return [], None
        listing = self.call(self.client.list_artifacts, info.run_id)
        if not listing:
            return [], None
        temporary = Path(tempfile.mkdtemp(prefix="workbench-mlflow-"))
        try:
            self.call(self.client.download_artifacts, info.run_id, "", str(temporary))
            return _walk(temporary, out), temporary
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise


# -- helpers ---------------------------------------------------------------------------------

def _resolve(source: str) -> tuple[str, str, Path | None]:
    """(tracking URI for MLflow, the source as reports show it, the file store's folder or None);
    ImportSourceError for a path that is not there."""
    text = str(source).strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return text, shown_source(text), None
    if scheme == "sqlite":
        path = Path(url2pathname(unquote(text[len("sqlite:///"):]))) if text.startswith("sqlite:///") else None
        if path is None or not path.is_file():
            raise ImportSourceError(f"{text}: no such SQLite file (MLflow would create an empty one): "
                                    "give the path of an existing MLflow database, sqlite:///path/to/mlflow.db")
        path = path.resolve()
        return f"sqlite:///{path}", f"sqlite:///{path}", None
    if scheme and scheme != "file" and len(scheme) > 1:  # another database MLflow reads (postgresql://...)
        return text, shown_source(text), None
    folder = _local_path(text) or Path(text)
    if not folder.is_dir():
        hint = (f"for an SQLite store give sqlite:///{folder}" if folder.is_file()
                else "give an mlruns folder, a sqlite:/// file or a tracking server URL")
        raise ImportSourceError(f"{text}: no such MLflow store folder: {hint}")
    folder = folder.resolve()
    # MLflow would make a file store of any folder (a .trash folder, a Default experiment in it)
    if not any(entry.name.isdigit() and (entry / "meta.yaml").exists() for entry in folder.iterdir()):
        raise ImportSourceError(f"{text}: not an MLflow file store (no experiment folders with a meta.yaml): "
                                "give an mlruns folder, a sqlite:/// file or a tracking server URL")
    return folder.as_uri(), str(folder), folder


def _connect(url: str) -> OSError | None:
    """Why a TCP connection to the server of ``url`` fails, or None (also when a proxy would carry
    the request: then MLflow's own request tells)."""
    import socket
    from urllib.request import getproxies, proxy_bypass

    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        if getproxies().get(parts.scheme.lower()) and not proxy_bypass(host):
            return None
        socket.create_connection((host, port), timeout=5).close()
    except ValueError as exc:  # a port that is not a number
        return OSError(str(exc))
    except OSError as exc:
        return exc
    return None


def _local_path(uri: str | None) -> Path | None:
    """The local folder of a ``file://`` URI or plain path; None for a remote URI."""
    if not uri:
        return None
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return Path(url2pathname(unquote(parts.path)))
    if parts.scheme and len(parts.scheme) > 1:  # s3:, mlflow-artifacts:, http: (not a drive letter)
        return None
    return Path(uri)


def _walk(folder: Path, out: ImportedRun) -> list[SourceFile]:
    """The regular files under ``folder``; links are not followed (a hostile store could point
    one anywhere) and are reported."""
    files = []
    for top, dirs, names in os.walk(folder):
        base = Path(top)
        for name in sorted(dirs):
            if (base / name).is_symlink():
                out.skipped.append(f"artifact {_text((base / name).relative_to(folder).as_posix(), 200)!r} "
                                   "is a symbolic link: not imported")
        dirs[:] = sorted(d for d in dirs if not (base / d).is_symlink())
        for name in sorted(names):
            path = base / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink() or not path.is_file():
                out.skipped.append(f"artifact {_text(rel, 200)!r} is not a regular file: not imported")
                continue
            files.append(SourceFile(name=rel, path=path))
    return files


def _typed(text: str) -> Any:
    """A param string as the value it was logged from, where that value prints back as exactly
    this string (``"0.001"`` -> 0.001, ``"True"`` -> True, ``"[1, 2]"`` -> [1, 2]); else the string."""
    if not isinstance(text, str):
        return text
    if text in ("True", "true"):
        return True
    if text in ("False", "false"):
        return False
    if text == "None":
        return None
    if _INT.fullmatch(text):
        number = int(text)
        return number if str(number) == text and -_INT64 <= number < _INT64 else text
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        return value if math.isfinite(value) and repr(value) == text else text
    if text[:1] in "[{(" and len(text) <= _LITERAL_MAX:
        for parse, show in ((json.loads, json.dumps), (ast.literal_eval, str)):
            try:
                value = parse(text)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            if isinstance(value, (list, dict)) and _plain(value, 0) and show(value) == text:
                return value
    return text


def _plain(value: Any, depth: int) -> bool:
    """JSON-like and small: what a config may hold (names as keys, finite numbers)."""
    if depth > 8:
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    if value is None or isinstance(value, (bool, int, str)):
        return not isinstance(value, int) or isinstance(value, bool) or -_INT64 <= value < _INT64
    if isinstance(value, list):
        return all(_plain(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and k.strip() and len(k) <= 1024 and not _CONTROL.search(k)
                   and "\n" not in k and _plain(v, depth + 1) for k, v in value.items())
    return False


def _seconds(ms: Any) -> float | None:
    return ms / 1000 if isinstance(ms, (int, float)) and ms > 0 else None


def _id_key(experiment_id: str) -> tuple[int, str]:
    return (0, f"{int(experiment_id):020d}") if experiment_id.isdigit() else (1, experiment_id)


def _parents_first(runs: list[Any]) -> list[Any]:
    """Runs in their order, a parent always before its children (the writer links them)."""
    by_id = {run.info.run_id: run for run in runs}
    done: set[str] = set()
    ordered: list[Any] = []
    for first in runs:
        chain = []
        run = first
        while run is not None and run.info.run_id not in done:
            done.add(run.info.run_id)
            chain.append(run)
            run = by_id.get(run.data.tags.get("mlflow.parentRunId", ""))
        ordered.extend(reversed(chain))
    return ordered


def _text(value: str, limit: int) -> str:
    """A hostile string made safe to show: control characters replaced, length bounded."""
    value = _CONTROL.sub("?", value.replace("\n", " "))
    return value if len(value) <= limit else value[: limit - 3] + "..."


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return _text(text.splitlines()[0] if text else type(exc).__name__, 300)


@contextlib.contextmanager
def _quiet(env: dict[str, str]) -> Iterator[None]:
    """MLflow's logging and warnings silenced, and ``env`` set where the user did not set it."""
    added = [name for name in env if name not in os.environ]
    for name in added:
        os.environ[name] = env[name]
    disabled = logging.root.manager.disable  # the file store logs to the root logger too
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(disabled)
        for name in added:
            os.environ.pop(name, None)
