"""Settings, resolved when a store is opened (never at import time).

Precedence, lowest first: defaults, ``<root>/workbench.toml``, ``WORKBENCH_*`` environment
variables, explicit arguments. Every field is documented in ``docs/settings.md`` (a test checks).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench._private import make_dir, open_private
from workbench.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["Settings", "default_root", "load_settings"]

SETTINGS_FILE = "workbench.toml"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Resolved settings of one store.

    Examples
    --------
    >>> s = load_settings("/tmp/wb-doc", flush_interval=0.5)
    >>> s.flush_interval
    0.5
    """

    root: Path
    #: seconds between background flushes of buffered metric points
    flush_interval: float = 1.0
    #: buffered ``log`` calls that trigger an early flush
    flush_calls: int = 50_000
    #: seconds between heartbeats of a running run
    heartbeat_interval: float = 10.0
    #: a running run with no heartbeat for this long, whose process is gone, is ``crashed``
    crash_after: float = 60.0
    #: tee the run's stdout/stderr into ``runs/<id>/logs/``
    capture_output: bool = True
    #: log ``sys/*`` keys (CPU, memory, GPU) while a run is live; needs psutil
    system_metrics: bool = True
    #: seconds between system metric samples
    system_metrics_interval: float = 15.0
    #: make a run's files durable when it finishes (an fsync of each, points first); intermediate
    #: flushes are atomic but left to the kernel's writeback
    fsync: bool = True
    #: MiB of metric points a run keeps in memory while the store refuses writes (a full disk);
    #: past it the oldest are dropped and the run ends ``failed``
    log_buffer_mb: int = 256
    #: seconds ``finish()`` keeps retrying points the store refused before it gives them up
    finish_wait: float = 30.0
    #: how artifact files are placed: ``auto`` (hard link, copy where a link fails) or ``copy``
    link_mode: str = "auto"
    #: artifact files larger than this many bytes are stored as chunks (deduplicated within files)
    chunk_threshold: int = 4 * 1024 * 1024
    #: size in bytes of the chunks of a large artifact file (changing it stops dedup with old versions)
    chunk_size: int = 256 * 1024
    #: which placed artifact files are checked against their SHA-256: ``all`` (default) or
    #: ``copies`` (hard links to whole-file blobs are placed without reading them)
    verify_placement: str = "all"
    #: days for which a blob that ``workbench fsck`` hashed, unchanged since (inode, size and
    #: modification time), is placed without hashing it again (0: hash every time)
    verify_trust_days: int = 7
    #: a dataset file with more rows than this is refused
    dataset_max_rows: int = 10_000_000
    #: a dataset file larger than this many bytes is refused
    dataset_max_bytes: int = 2 * 1024 * 1024 * 1024
    #: progress bars for hashing and copying: ``auto`` (terminal or notebook), ``always``, ``never``
    progress: str = "auto"
    #: jobs that run at once in this store (the scheduler's worker slots)
    job_slots: int = 1
    #: seconds a cancelled running job gets between SIGTERM and SIGKILL
    cancel_grace: float = 10.0
    #: put each local job in a cgroup v2 of its own where the scheduler can create one (docs/jobs.md)
    job_cgroups: bool = True
    #: seconds with nothing queued or running after which a scheduler started by ``launch``
    #: exits (0: never)
    scheduler_idle_exit: float = 60.0
    #: language of the UI text: ``auto`` (the browser's, else English), ``en`` or ``zh``
    ui_language: str = "auto"
    #: seconds between live refreshes of open views (run table, charts, job monitor)
    ui_refresh: float = 2.0
    #: other tables of workbench.toml (remotes, recipes, ...), kept for the rooms that use them
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings) if f.name not in ("root", "extra")}
#: settings that take one of a few words
_CHOICES = {
    "link_mode": ("auto", "copy"),
    "verify_placement": ("all", "copies"),
    "progress": ("auto", "always", "never"),
    "ui_language": ("auto", "en", "zh"),
}
#: integer settings and their smallest (and largest) allowed values
_INT_RANGES = {
    "chunk_size": (4096, 64 * 1024 * 1024),
    "chunk_threshold": (0, 2**62),
    "dataset_max_rows": (1, 2**62),
    "dataset_max_bytes": (1, 2**62),
    "job_slots": (1, 1024),
    "log_buffer_mb": (1, 1024 * 1024),
    "verify_trust_days": (0, 3650),
}


def default_root() -> Path:
    """``WORKBENCH_ROOT``, else ``~/.workbench``."""
    env = os.environ.get("WORKBENCH_ROOT")
    return Path(env).expanduser() if env else Path.home() / ".workbench"


def _coerce(name: str, value: Any, source: str) -> Any:
    field_type = _FIELDS[name].type
    try:
        if field_type == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if field_type == "int":
            if isinstance(value, bool):
                raise ValueError(value)
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            number = int(value)
            low, high = _INT_RANGES.get(name, (1, 2**63))
            if not low <= number <= high:
                raise ValueError(value)
            return number
        if field_type == "float":
            if isinstance(value, bool):
                raise ValueError(value)
            result = float(value)
            # every float setting is a positive number of seconds: 0 would spin a loop
            if not 0 < result < float("inf"):
                raise ValueError(value)
            return result
        if field_type == "str" and name in _CHOICES:
            text = str(value).strip().lower()
            if text not in _CHOICES[name]:
                raise ConfigError(
                    f"setting {name!r} from {source} has the value {value!r}; use one of "
                    f"{', '.join(_CHOICES[name])} (see docs/settings.md)"
                )
            return text
    except (TypeError, ValueError) as exc:
        if field_type == "int":
            low, high = _INT_RANGES.get(name, (1, 2**63))
            limits = f" between {low} and {high}"
        elif field_type == "float":
            limits = " greater than 0"
        else:
            limits = ""
        raise ConfigError(
            f"setting {name!r} from {source} has the value {value!r}, which is not a valid "
            f"{field_type}{limits}; fix it there (see docs/settings.md)"
        ) from exc
    return value


def load_settings(root: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Resolve the settings of the store at ``root`` (default: :func:`default_root`)."""
    root_path = Path(root).expanduser() if root is not None else default_root()
    root_path = root_path.absolute()
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    toml_path = root_path / SETTINGS_FILE
    if toml_path.is_file():
        try:
            data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{toml_path} is not valid TOML: {exc}; fix or remove the file") from exc
        for key, value in data.items():
            if isinstance(value, dict):
                extra[key] = value
            elif key in _FIELDS:
                values[key] = _coerce(key, value, str(toml_path))
            else:
                raise ConfigError(
                    f"{toml_path} sets unknown setting {key!r}; known settings: "
                    f"{', '.join(sorted(_FIELDS))}"
                )
    for name in _FIELDS:
        env = os.environ.get(f"WORKBENCH_{name.upper()}")
        if env is not None and env != "":
            values[name] = _coerce(name, env, f"WORKBENCH_{name.upper()}")
    for name, value in overrides.items():
        if name not in _FIELDS:
            raise ConfigError(f"unknown setting {name!r}; known settings: {', '.join(sorted(_FIELDS))}")
        if value is not None:
            values[name] = _coerce(name, value, "the call's arguments")
    return Settings(root=root_path, extra=extra, **values)


def _toml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def save_settings(root: str | os.PathLike[str] | None = None, **values: Any) -> Settings:
    """Write settings into ``<root>/workbench.toml`` (atomically) and return the new Settings.

    Each value is checked as if it were read back; keys already in the file are replaced in place
    (comments and tables such as ``[remotes.*]`` are kept), new ones go before the first table.

    >>> save_settings("/tmp/wb-doc-save", job_slots=2).job_slots  # doctest: +SKIP
    2
    """
    root_path = (Path(root).expanduser() if root is not None else default_root()).absolute()
    path = root_path / SETTINGS_FILE
    checked = {}
    for name, value in values.items():
        if name not in _FIELDS:
            raise ConfigError(f"unknown setting {name!r}; known settings: {', '.join(sorted(_FIELDS))}")
        checked[name] = _coerce(name, value, "the new settings")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    first_table = next((i for i, line in enumerate(lines) if line.lstrip().startswith("[")), len(lines))
    head, tail = lines[:first_table], lines[first_table:]
    while head and not head[-1].strip():
        head.pop()
    for name, value in checked.items():
        line = f"{name} = {_toml_scalar(value)}"
        pattern = re.compile(rf"\s*{re.escape(name)}\s*=")
        for i, old in enumerate(head):
            if pattern.match(old):
                head[i] = line
                break
        else:
            head.append(line)
    if tail and head and head[-1].strip():
        head.append("")
    text = "\n".join(head + tail) + "\n"
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cannot update {path}: the result would not be valid TOML ({exc}); edit it by hand") from exc
    make_dir(root_path)  # a new store is private (workbench/_private.py)
    _replace_file(path, text.encode("utf-8"))
    return load_settings(root_path)


def _replace_file(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all: a private temporary file beside it, fsynced, renamed.

    (The store's atomic writes live in workbench/store/_atomic.py, which this module, below the
    store, may not import.)"""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------- views
#: folder of the store holding each project's view choices (Runs table columns, panel layouts)
VIEWS_DIR = "views"
#: a view file larger than this is not read (it is not one workbench wrote)
_VIEW_MAX_BYTES = 256 * 1024


def _view_path(root: str | os.PathLike[str] | None, project: str | None) -> Path:
    import hashlib

    root_path = (Path(root).expanduser() if root is not None else default_root()).absolute()
    # project names may hold any character: the file is named by a digest, never by the name
    name = "all" if project is None else "project-" + hashlib.sha256(
        str(project).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return root_path / VIEWS_DIR / f"{name}.json"


def load_view(project: str | None, *, root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The view choices saved for ``project`` (``None``: all projects), ``{}`` when there are none.

    They live in ``<root>/views/<digest of the project>.json``. The file is stored text: one that
    is too large, not JSON, or written for another project is ignored (``{}``); each caller still
    checks the values it reads.
    """
    import json
    import stat

    from workbench._private import NONBLOCK, OPEN_FLAGS

    path = _view_path(root, project)
    try:  # non-blocking: a fifo put in its place must not hang the view
        fd = os.open(path, os.O_RDONLY | OPEN_FLAGS | NONBLOCK)
    except OSError:
        return {}
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return {}
        data = handle.read(_VIEW_MAX_BYTES + 1)
    if len(data) > _VIEW_MAX_BYTES:
        return {}
    try:
        saved = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(saved, dict) or saved.get("project") != project or not isinstance(saved.get("values"), dict):
        return {}
    return dict(saved["values"])


def save_view(project: str | None, *, root: str | os.PathLike[str] | None = None, **values: Any) -> dict[str, Any]:
    """Save view choices for ``project`` (``None``: all projects), merged into those saved before;
    a value of ``None`` removes its key. Written atomically, private to the owner. Returns them all.

    >>> save_view("sentiment", root="/tmp/wb-doc-views", runs_columns=["config.lr"])  # doctest: +SKIP
    {'runs_columns': ['config.lr']}
    """
    import json

    merged = load_view(project, root=root)
    for key, value in values.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    try:
        data = json.dumps({"project": project, "values": merged}, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"view choices must be plain JSON values: {exc}") from exc
    encoded = data.encode("utf-8", "surrogatepass")
    if len(encoded) > _VIEW_MAX_BYTES:
        raise ConfigError(f"view choices take {len(encoded):,} bytes, more than the {_VIEW_MAX_BYTES:,} allowed")
    path = _view_path(root, project)
    make_dir(path.parent)
    _replace_file(path, encoded)
    return merged
