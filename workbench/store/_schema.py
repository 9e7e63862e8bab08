"""What a run record, an artifact manifest and an alias file may hold: checked before use.

Everything read from a store is hostile until it passes here: a local file (a copy, a hand edit,
a full disk) as much as a remote's (``workbench sync``). The checks come in three layers, each
cheap enough to run on every read:

1. **bytes**: the file's size, then how deeply its arrays and objects nest, counted over the
   bytes (``json.loads`` recurses, so a 100,000-deep document must never reach it);
2. **values**: limits on every value at any depth: strings (length, no NUL, no lone surrogate
   that UTF-8 cannot encode), object keys, item counts, integers that fit 64 bits;
3. **fields**: each kind's schema, the type of every field that the catalog, the queries and the
   views read (a ``summary`` that is a string, a ``created`` far past the year 2262 or a ``pid``
   past a C int would otherwise break every query of the store). Fields the schema does not
   name may hold any value within the limits, so a newer writer's extra fields pass.

Writers check what they write the same way (:func:`workbench.store.records.create_record` and
``update_record``, ``write_manifest``, ``write_aliases``), so a record this workbench writes is
always one it can read back. The limits are documented in docs/store.md.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MAX_ENVIRONMENT_BYTES",
    "MAX_INT",
    "MAX_ITEMS",
    "MAX_KEYS",
    "MAX_MANIFEST_BYTES",
    "MAX_NAME",
    "MAX_RECORD_BYTES",
    "MAX_STRING",
    "MAX_TIME",
    "SchemaError",
    "load_aliases",
    "load_environment",
    "load_manifest",
    "load_record",
    "name_problem",
    "read_bounded",
]

#: a run record larger than this is refused (a real one is a few kilobytes)
MAX_RECORD_BYTES = 16 * 1024 * 1024
#: an artifact manifest or alias file larger than this is refused (a real one is kilobytes)
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
#: an environment file larger than this is refused (a real one is tens of kilobytes)
MAX_ENVIRONMENT_BYTES = 4 * 1024 * 1024
#: arrays and objects nested deeper than this are refused (the document itself is level 1)
MAX_DEPTH = 32
#: characters in one string, at any depth
MAX_STRING = 1024 * 1024
#: characters in a name: a key of config, summary or metrics, a tag, a project, host or alias
MAX_NAME = 1024
#: keys of one object
MAX_KEYS = 100_000
#: items of one array
MAX_ITEMS = 1_000_000
#: integers are refused from this magnitude on (counters, steps and pids: within int64)
MAX_INT = 2**64
#: times are epoch seconds within +-MAX_TIME (years 1697 to 2242; pandas' datetimes end in 2262)
MAX_TIME = 2**33

_INT64 = 2**63


class SchemaError(Exception):
    """A document that does not match its schema: ``where`` (a field path, or ``""`` for the
    whole document) and ``reason``; ``str()`` joins them into a phrase such as
    ``summary is a string, not an object``."""

    def __init__(self, where: str, reason: str, *, not_json: bool = False, newer: bool = False) -> None:
        self.where, self.reason = where, reason
        #: the bytes are not JSON at all (cut short, binary), rather than JSON of the wrong shape
        self.not_json = not_json
        #: a format newer than this workbench reads: an upgrade, not a repair, is the fix
        self.newer = newer
        super().__init__(f"{where} {reason}" if where else reason)


# -- layer 1: bytes ------------------------------------------------------------------------------

def read_bounded(path: Path, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of ``path``: enough to tell that a file is over its limit
    without reading a huge one whole. OSError as ``open`` raises it; :class:`SchemaError` for
    something other than a regular file (a fifo would block the reader)."""
    # each flag where the system has it (Windows: no O_NONBLOCK nor O_CLOEXEC, but O_BINARY)
    flags = getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, os.O_RDONLY | flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SchemaError("", "is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(limit + 1)
    finally:
        os.close(fd)


# a JSON string literal, escapes included; brackets inside one do not nest anything
_STRING_LITERAL = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# '[' and '{' step one level in, ']' and '}' one level out (0xff is -1 as int8)
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_CHUNK = 1 << 20
# what may reach json.loads: far below the recursion limit, deep enough to name the field
_PARSE_DEPTH = 4 * MAX_DEPTH
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check_nesting(data: bytes) -> None:
    """Refuse what nests deeper than _PARSE_DEPTH before the recursive parser sees it, without
    recursion; layer 2 then refuses MAX_DEPTH..._PARSE_DEPTH, naming the field."""
    if data.count(b"[") + data.count(b"{") <= _PARSE_DEPTH:
        return  # cannot nest deeper than it has brackets (the common small document)
    brackets = _STRING_LITERAL.sub(b"", data).translate(None, _NOT_BRACKETS)
    if len(brackets) <= _PARSE_DEPTH:
        return
    import numpy as np  # lazily: numpy is a dependency, but not of `import workbench`

    steps = np.frombuffer(brackets.translate(_STEPS), dtype=np.int8)
    level = 0
    for start in range(0, len(steps), _CHUNK):  # the running depth, a chunk at a time (8 MiB)
        depth = steps[start : start + _CHUNK].astype(np.int64).cumsum() + level
        if int(depth.max()) > _PARSE_DEPTH:
            raise SchemaError("", f"is nested deeper than {MAX_DEPTH} levels of arrays and objects")
        level = int(depth[-1])


def _parse(data: bytes, limit: int) -> Any:
    if len(data) > limit:
        raise SchemaError("", f"is more than {limit:,} bytes, the most it may hold")
    _check_nesting(data)
    try:
        return json.loads(data)
    except RecursionError:  # not reached after _check_nesting; a guard all the same
        raise SchemaError("", f"is nested deeper than {MAX_DEPTH} levels of arrays and objects") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SchemaError("", f"is not valid JSON ({exc})", not_json=True) from exc


# -- layer 2: every value ------------------------------------------------------------------------

def _field(path: tuple[Any, ...]) -> str:
    """A field path for messages: ``config.optim.lr``, ``tags[2]``, ``summary['a b']``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_/-]{1,40}", part):
            out += f".{part}" if out else part
        else:
            out += f"[{_show(part)}]"
    return (out if len(out) <= 120 else out[:117] + "...") or "the document"


def _show(value: Any) -> str:
    """A short, escaped repr of a hostile value (control characters never reach a terminal)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _a(value: Any) -> str:
    """The JSON type of ``value`` with its article, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _string_problem(text: str, limit: int) -> str | None:
    if len(text) <= limit and text.isascii() and "\x00" not in text:
        return None  # the common case, in three C calls
    if len(text) > limit:
        return f"is a string of {len(text):,} characters, more than the {limit:,} allowed"
    if "\x00" in text:
        return "holds a NUL character"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "holds a lone surrogate (\\ud800-\\udfff) that UTF-8 cannot encode"
    return None


def _check_values(document: Any) -> None:
    """Limits on every value of a parsed document, walked without recursion."""
    if not isinstance(document, (dict, list)):
        _check_values([document])  # a bare scalar: checked as the item of an array
        return
    stack: list[tuple[Any, tuple[Any, ...]]] = [(document, ())]
    while stack:
        value, path = stack.pop()
        if len(path) >= MAX_DEPTH:
            raise SchemaError(_field(path), f"is nested deeper than {MAX_DEPTH} levels of arrays and objects")
        if isinstance(value, dict):
            if len(value) > MAX_KEYS:
                raise SchemaError(_field(path), f"has {len(value):,} keys, more than the {MAX_KEYS:,} allowed")
            items: Any = value.items()
        else:
            if len(value) > MAX_ITEMS:
                raise SchemaError(_field(path), f"has {len(value):,} items, more than the {MAX_ITEMS:,} allowed")
            items = enumerate(value)
        for key, inner in items:
            if type(key) is str:
                why = _string_problem(key, MAX_STRING)
                if why is not None:
                    raise SchemaError(_field(path), f"has a key that {why}")
            kind = type(inner)
            if kind is str:
                why = _string_problem(inner, MAX_STRING)
                if why is not None:
                    raise SchemaError(_field((*path, key)), why)
            elif kind is int:
                if not -MAX_INT < inner < MAX_INT:
                    raise SchemaError(_field((*path, key)), "is an integer of more than 64 bits")
            elif kind is dict or kind is list:
                stack.append((inner, (*path, key)))


# -- layer 3: fields -----------------------------------------------------------------------------

Check = Callable[[Any, tuple[Any, ...]], None]


def _fail(path: tuple[Any, ...], reason: str) -> None:
    raise SchemaError(_field(path), reason)


def _any(value: Any, path: tuple[Any, ...]) -> None:
    """Any JSON value (layer 2 has bounded it)."""


def _object(value: Any, path: tuple[Any, ...]) -> None:
    if not isinstance(value, dict):
        _fail(path, f"is {_a(value)}, not an object")


def _text(value: Any, path: tuple[Any, ...]) -> None:
    if not isinstance(value, str):
        _fail(path, f"is {_a(value)}, not a string")


def _name(value: Any, path: tuple[Any, ...]) -> None:
    """A name: a key of config, summary or metrics, a tag; not empty, one line."""
    _line(value, path)
    if not value:
        _fail(path, "is an empty string")


def _line(value: Any, path: tuple[Any, ...]) -> None:
    """One line of at most MAX_NAME characters (a project, run name, host, user)."""
    _text(value, path)
    if len(value) > MAX_NAME:
        _fail(path, f"is {len(value):,} characters long, more than the {MAX_NAME:,} a name may have")
    if _CONTROL.search(value):
        _fail(path, f"{_show(value)} holds control characters")


def _boolean(value: Any, path: tuple[Any, ...]) -> None:
    if not isinstance(value, bool):
        _fail(path, f"is {_a(value)}, not true or false")


def _integer(low: int, high: int) -> Check:
    """An integer (not a boolean) with ``low <= value < high``."""
    def check(value: Any, path: tuple[Any, ...]) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(path, f"is {_a(value)}, not an integer")
        if not low <= value < high:
            _fail(path, f"{value} is outside {low}..{high - 1}")
    return check


_int64 = _integer(-_INT64, _INT64)
_count = _integer(0, _INT64)


def _number(value: Any, path: tuple[Any, ...]) -> None:
    """A number; NaN and infinities too (metric values keep them)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(path, f"is {_a(value)}, not a number")


def _time(value: Any, path: tuple[Any, ...]) -> None:
    """Epoch seconds that pandas can show as a date."""
    _number(value, path)
    if not (math.isfinite(value) and -MAX_TIME <= value <= MAX_TIME):
        _fail(path, f"{_show(value)} is not a time (epoch seconds within +-{MAX_TIME:,})")


def _nullable(check: Check) -> Check:
    def nullable(value: Any, path: tuple[Any, ...]) -> None:
        if value is not None:
            check(value, path)
    return nullable


def _one_of(choices: tuple[str, ...]) -> Check:
    def check(value: Any, path: tuple[Any, ...]) -> None:
        if not isinstance(value, str) or value not in choices:
            _fail(path, f"{_show(value)} is not one of {', '.join(choices)}")
    return check


def _list_of(check: Check) -> Check:
    def list_of(value: Any, path: tuple[Any, ...]) -> None:
        if not isinstance(value, list):
            _fail(path, f"is {_a(value)}, not an array")
        for i, item in enumerate(value):
            check(item, (*path, i))
    return list_of


def _map_of(key: Check, check: Check) -> Check:
    """An object whose keys pass ``key`` and whose values pass ``check``."""
    def map_of(value: Any, path: tuple[Any, ...]) -> None:
        _object(value, path)
        for name, item in value.items():
            key(name, (*path, name))
            check(item, (*path, name))
    return map_of


def _fields(spec: Mapping[str, Check], required: tuple[str, ...] = ()) -> Check:
    """An object whose fields in ``spec`` pass their checks; other fields may hold anything."""
    def fields(value: Any, path: tuple[Any, ...]) -> None:
        _object(value, path)
        for name in required:
            if name not in value:
                _fail(path, f"has no {name!r}")
        for name, item in value.items():
            check = spec.get(name)
            if check is not None:
                check(item, (*path, name))
    return fields


def _nested_names(value: Any, path: tuple[Any, ...]) -> None:
    """An object whose keys, in nested objects too, are names (``config``: each becomes a column)."""
    _object(value, path)
    for name, item in value.items():
        _name(name, (*path, name))
        if isinstance(item, dict):
            _nested_names(item, (*path, name))  # depth is bounded by layer 1


def _run_id(value: Any, path: tuple[Any, ...]) -> None:
    from workbench.store._paths import is_run_id

    if not is_run_id(value):
        _fail(path, f"{_show(value)} is not a run id (2-64 characters of a-z, 0-9, '-' and '_')")


def _check_format(document: Any, current: int, path: tuple[Any, ...] = ("format",)) -> None:
    fmt = document.get("format", 1)
    if isinstance(fmt, bool) or not isinstance(fmt, int):
        raise SchemaError("", f"has format {_show(fmt)}, not a number")
    if fmt > current:
        raise SchemaError("", f"has format {fmt}, newer than this workbench understands ({current}); "
                              "upgrade workbench to read it", newer=True)
    if fmt < 1:
        _fail(path, f"{fmt} is not a format (1 or more)")


# -- run records ---------------------------------------------------------------------------------

_STAT = _fields({"count": _count, "step": _int64, "min": _nullable(_number), "max": _nullable(_number),
                 "last": _nullable(_number), "first": _nullable(_number), "sum": _nullable(_number)})
# define_metric: how a key (or a glob such as "val/*") is summarised and charted
_METRIC_DEF = _fields({"step_metric": _name, "summary": _list_of(_one_of(("min", "max", "mean", "first", "last",
                                                                          "best", "none"))),
                       "goal": _one_of(("minimize", "maximize")), "hidden": _boolean, "step_sync": _boolean})
_ALERT = _fields({"time": _time, "title": _text, "text": _text, "level": _one_of(("INFO", "WARN", "ERROR"))},
                 required=("time", "title", "text", "level"))
_LINEAGE = _fields({"name": _name, "version": _integer(1, _INT64), "type": _nullable(_line),
                    "time": _nullable(_time), "new": _nullable(_boolean), "remote": _nullable(_line)},
                   required=("name", "version"))
# media logged (workbench/media): per key, its kind, how many items and the last step
_MEDIA = _fields({"kind": _one_of(("image", "table", "histogram", "text", "audio")), "count": _count,
                  "step": _int64}, required=("kind", "count", "step"))
_GIT = _fields({"commit": _nullable(_line), "branch": _nullable(_line), "dirty": _nullable(_boolean)})
# a launched job's spec (workbench/jobs): the fields the scheduler and `jobs ls` compute with
_JOB = _fields({"recipe": _name, "priority": _int64, "retries": _count, "attempts": _count,
                "planned_steps": _nullable(_number), "executor": _nullable(_line), "config": _nullable(_object)})
_ERROR = _fields({"type": _nullable(_text), "message": _nullable(_text), "traceback": _nullable(_text)})
# an imported run (workbench/importers): where it came from, and what of the source is in already
# (points and media items per key, in source order), so a later import adds only the rest
_SOURCE = _fields({"kind": _name, "path": _text, "id": _text, "parent": _nullable(_run_id),
                   "parent_id": _nullable(_text), "config": _nullable(_map_of(_name, _text)),
                   "points": _map_of(_name, _count), "media": _map_of(_name, _count),
                   "files": _nullable(_text), "imported": _nullable(_time)},
                  required=("kind", "path", "id"))


@functools.cache
def _record_check() -> Check:
    from workbench.store.records import STATUSES  # records imports this module

    times = dict.fromkeys(("created", "started", "ended", "heartbeat"), _nullable(_time))
    texts = dict.fromkeys(("notes", "python", "platform", "executable", "cwd", "notebook"), _nullable(_text))
    lines = dict.fromkeys(("project", "name", "host", "user", "remote", "group", "job_type"), _nullable(_line))
    return _fields({
        "id": _run_id, "status": _one_of(STATUSES), **times, **texts, **lines,
        "config": _nested_names, "summary": _map_of(_name, _any), "summary_pinned": _list_of(_name),
        "metrics": _map_of(_name, _STAT), "tags": _list_of(_name),
        "pid": _nullable(_integer(1, 2**31)),  # os.kill takes a C int
        "pid_start": _nullable(_count), "exit_code": _nullable(_int64),
        "command": _nullable(_list_of(_text)), "packages": _nullable(_map_of(_name, _nullable(_text))),
        "git": _nullable(_GIT), "error": _nullable(_ERROR), "warnings": _list_of(_text),
        "environment": _nullable(_digest),  # environments/<digest>.json (workbench.store.environments)
        "points_lost": _count, "resumes": _count, "media": _map_of(_name, _MEDIA), "media_lost": _count,
        "metric_defs": _map_of(_name, _METRIC_DEF), "alerts": _list_of(_ALERT),
        "artifacts": _fields({"produced": _list_of(_LINEAGE), "used": _list_of(_LINEAGE)}),
        "job": _JOB, "source": _nullable(_SOURCE),
    })


def name_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a name of a run record (a config, summary or metric key, a tag), or
    None when it can: the check :func:`load_record` makes, for writers that check names one by one."""
    try:
        _name(value, ())
    except SchemaError as exc:
        return exc.reason
    return None


def load_record(data: bytes) -> dict[str, Any]:
    """The run record in ``data``, checked; :class:`SchemaError` saying what is wrong."""
    from workbench.store._paths import FORMAT

    record = _parse(data, MAX_RECORD_BYTES)
    _check_values(record)
    if not isinstance(record, dict) or "id" not in record:
        raise SchemaError("", "is not a workbench run record (no 'id')")
    _check_format(record, FORMAT)
    _record_check()(record, ())
    return record


# -- artifact manifests and alias files ------------------------------------------------------------

_SHA256 = re.compile(r"[0-9a-f]{64}\Z")  # as blobs.is_digest; here without an import per digest


def _digest(value: Any, path: tuple[Any, ...]) -> None:
    if not (isinstance(value, str) and _SHA256.match(value)):
        _fail(path, f"{_show(value)} is not a SHA-256 digest (64 hex digits)")


def _relative_path(value: Any, path: tuple[Any, ...]) -> None:
    _text(value, path)
    parts = value.split("/")
    if not value or value.startswith("/") or any(p in ("", ".", "..") for p in parts):
        _fail(path, f"{_show(value)} is not a relative path without '..', '.' or empty parts")


_FILE = _fields({"path": _relative_path, "size": _count, "digest": _digest,
                 "chunk_size": _integer(1, _INT64), "chunks": _list_of(_digest)},
                required=("path", "size", "digest"))


def _files(value: Any, path: tuple[Any, ...]) -> None:
    if not isinstance(value, list):
        _fail(path, f"is {_a(value)}, not an array")
    seen: set[str] = set()
    for i, entry in enumerate(value):
        try:
            _FILE(entry, (*path, i))
        except SchemaError as exc:  # the words the store has always used for a bad entry
            raise SchemaError(_field((*path, i)), f"is a malformed file entry ({exc})") from None
        if entry["path"] in seen:
            _fail((*path, i), f"is a malformed file entry: path {_show(entry['path'])} is listed twice")
        seen.add(entry["path"])


def _artifact_name(kind: str) -> Check:
    def check(value: Any, path: tuple[Any, ...]) -> None:
        from workbench.errors import ArtifactError
        from workbench.store.artifacts.names import validate_name, validate_type

        try:
            (validate_type if kind == "type" else validate_name)(value)
        except ArtifactError as exc:
            _fail(path, f"is not a valid {kind}: {exc}")
    return check


_MANIFEST = _fields({
    "name": _artifact_name("name"), "version": _integer(1, 10**9), "type": _artifact_name("type"),
    "digest": _digest, "size": _count, "created": _time, "producer": _nullable(_run_id),
    "source": _nullable(_text), "metadata": _nullable(_object), "files": _files,
})
# what `log_dataset` describes in a dataset version's metadata["dataset"] (listings and the
# Artifacts page compute with it)
_TABLE = _fields({"format": _line, "rows": _count, "columns": _list_of(_text), "schema": _map_of(_text, _text)})
_DATASET = _fields({"format": _line, "rows": _count, "columns": _list_of(_text), "schema": _map_of(_text, _text),
                    "preview": _list_of(_object), "required": _list_of(_text), "tables": _map_of(_text, _TABLE)})


def _dataset_metadata(manifest: dict[str, Any]) -> None:
    metadata = manifest.get("metadata")
    if manifest.get("type") == "dataset" and isinstance(metadata, dict) and "dataset" in metadata:
        _DATASET(metadata["dataset"], ("metadata", "dataset"))


def load_manifest(data: bytes) -> dict[str, Any]:
    """The artifact manifest in ``data``, checked; :class:`SchemaError` saying what is wrong."""
    from workbench.store.artifacts.manifests import MANIFEST_FORMAT

    manifest = _parse(data, MAX_MANIFEST_BYTES)
    _check_values(manifest)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise SchemaError("", "is not a workbench manifest (no 'files' list)")
    _check_format(manifest, MANIFEST_FORMAT)
    _MANIFEST(manifest, ())
    _dataset_metadata(manifest)
    return manifest


def _alias(value: Any, path: tuple[Any, ...]) -> None:
    from workbench.errors import ArtifactError
    from workbench.store.artifacts.names import validate_alias

    try:
        validate_alias(value, allow_reserved=True)
    except ArtifactError as exc:
        _fail(path, f"is not a valid alias: {exc}")


_ALIASES = _map_of(_alias, _integer(1, 10**9))


def load_aliases(data: bytes) -> dict[str, int]:
    """The alias file in ``data`` (alias -> version), checked; :class:`SchemaError` if it is not one."""
    aliases = _parse(data, MAX_MANIFEST_BYTES)
    _check_values(aliases)
    if not isinstance(aliases, dict):
        raise SchemaError("", f"is {_a(aliases)}, not an object of alias -> version")
    _ALIASES(aliases, ())
    return aliases


# -- environment files (environments/<digest>.json) -------------------------------------------------

_ENVIRONMENT = _fields({"packages": _map_of(_name, _line)}, required=("packages",))


def load_environment(data: bytes) -> dict[str, Any]:
    """The environment file in ``data`` (``{"format": 1, "packages": {name: version}}``), checked;
    :class:`SchemaError` if it is not one. Whether its digest matches its name is the caller's check
    (``workbench.store.environments``)."""
    from workbench.store.environments import ENVIRONMENT_FORMAT

    document = _parse(data, MAX_ENVIRONMENT_BYTES)
    _check_values(document)
    if not isinstance(document, dict) or not isinstance(document.get("packages"), dict):
        raise SchemaError("", "is not a workbench environment (no 'packages' object)")
    _check_format(document, ENVIRONMENT_FORMAT)
    _ENVIRONMENT(document, ())
    return document


def describe(exc: SchemaError) -> str:
    """``exc`` as a clause after a file's name: ``: summary is ...`` or `` is not valid JSON``."""
    return f": {exc}" if exc.where else f" {exc}"

