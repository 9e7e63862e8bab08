"""The one writer every importer feeds: :func:`write_runs` turns :class:`ImportedRun` objects into
store runs that look exactly like native ones, idempotently and atomically.

- **Identity.** A run's id is derived from ``(kind, source path, source id)`` (:func:`run_id_for`):
  importing the same source again finds the same run by one ``stat``, no scan. The record says
  where the run came from (``source``: kind, path, id, and how many points and media items of
  each key are in already).
- **Atomic.** A new run is built whole in ``<root>/import/staging-*`` (record, metric segments,
  media index) and placed by one rename; a run that grew is rebuilt there from hard links of its
  files plus the new segment and record, and swapped in by one ``renameat2(RENAME_EXCHANGE)``
  (sync's placement). A process killed at any moment leaves the old run or the new one, never a
  mix; its staging directory is removed by the next import (``fsck`` ignores it).
- **Incremental.** Sources are append-only: the points of a key past the count already imported
  (in source order) are the new ones, and only those are written; media items the same way.
  A source with nothing new writes nothing (outcome ``unchanged``).
- **Checked.** Every name and string passes the store's schema before it lands (a name with
  control characters is stored with them escaped, as text; a record that would not read back
  fails the run, and nothing of it is written).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from workbench._private import make_dir, private_opener
from workbench.errors import ImportSourceError, MissingExtra, StoreError, WorkbenchError
from workbench.importers._checks import Checker, file_problem, is_time
from workbench.importers._model import ImportedRun, MediaItem, SourceFile
from workbench.importers._points import Points, series_arrays
from workbench.importers._report import ImportReport, RunReport, SourceFailure, _plain
from workbench.importers._staging import exchange, link_tree, staging, staging_root
from workbench.settings import Settings, load_settings
from workbench.store._paths import FORMAT, Layout
from workbench.store._schema import name_problem

__all__ = ["run_id_for", "staging_root", "write_runs"]

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
#: media items encoded and stored together
_MEDIA_CHUNK = 64
_SUFFIX = {b"\x89PNG": ".png", b"\xff\xd8\xff": ".jpg", b"GIF8": ".gif", b"BM": ".bmp"}


def run_id_for(kind: str, source_path: str, source_id: str) -> str:
    """The workbench run id of source run ``source_id`` of ``source_path`` read by importer ``kind``:
    14 characters of Crockford base32 of a SHA-256, like native ids in form (never equal to one in
    practice: 70 bits)."""
    digest = hashlib.sha256("\0".join((kind, source_path, source_id)).encode("utf-8", "surrogatepass")).digest()
    number = int.from_bytes(digest[:9], "big")
    chars = []
    for _ in range(14):
        number, digit = divmod(number, 32)
        chars.append(_ALPHABET[digit])
    return "".join(chars)


def normalize_source(source_path: str) -> str:
    """A local path as an absolute one (``./logs`` and ``/home/me/logs`` are one source); a URI as is."""
    if "://" in source_path or source_path.startswith(("sqlite:", "file:")):
        return source_path
    try:
        return str(Path(source_path).expanduser().absolute())
    except (OSError, ValueError):
        return source_path


# -- media --------------------------------------------------------------------------------------------

def _media_value(item: MediaItem, scratch: Path, n: int) -> Any:
    """The ``wb.Image`` / ``wb.Histogram`` / ``wb.Text`` that ``run.log`` would have stored."""
    from workbench.media.types import Histogram, Image, Text

    if item.kind == "image":
        data = item.payload
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"an image payload is encoded bytes, not {type(data).__name__}")
        data = bytes(data)
        suffix = next((s for magic, s in _SUFFIX.items() if data.startswith(magic)), None)
        if suffix is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            suffix = ".webp"
        if suffix is None:
            raise ValueError("the image is not PNG, JPEG, GIF, WebP or BMP")
        path = scratch / f"{n}{suffix}"
        with open(path, "wb", opener=private_opener) as out:  # 0600, like every file of the store
            out.write(data)
        value: Any = Image(path)
    elif item.kind == "histogram":
        edges, counts = item.payload
        value = Histogram(np_histogram=(counts, edges))
    elif item.kind == "text":
        value = Text(item.payload if isinstance(item.payload, str) else str(item.payload))
    else:
        raise ValueError(f"media of kind {item.kind!r} is not imported")
    value.check(item.key)
    return value


# -- files --------------------------------------------------------------------------------------------

def _files_signature(files: list[tuple[str, Path]]) -> str:
    lines = []
    for name, path in sorted(files):
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        lines.append(f"{name}\0{path.stat().st_size}\0{digest.hexdigest()}")
    return hashlib.sha256("\n".join(lines).encode("utf-8", "surrogatepass")).hexdigest()


def artifact_name(kind: str, run_id: str) -> str:
    """The artifact that holds the files of imported run ``run_id``: ``<kind>-<run id>-files``."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", kind)[:40].strip("._-") or "import"
    return f"{safe}-{run_id}-files"


# -- one run ------------------------------------------------------------------------------------------

class _Failed(Exception):
    """This run is not written: the reason is the message."""


def _read_existing(layout: Layout, run_id: str) -> dict[str, Any] | None:
    from workbench.errors import RunNotFound
    from workbench.store.records import read_record

    try:
        return read_record(layout, run_id)
    except RunNotFound:
        return None
    except StoreError as exc:
        raise _Failed(f"its run {run_id} is in the store but cannot be read ({exc}); `workbench fsck` says "
                      "more: move the run's directory away and import again") from None


_OWNED = ("project", "name", "config", "tags", "notes", "status", "created", "started", "ended", "heartbeat",
          "command", "git", "group", "summary", "summary_pinned", "metrics", "source", "media", "error")


class _Importer:
    def __init__(self, settings: Settings, project: str | None, staging: Path) -> None:
        self.settings = settings
        self.layout = Layout(settings.root)
        self.project = project
        self.staging = staging

    def write(self, run: ImportedRun, report: RunReport, count_points: Any) -> None:
        """Write ``run`` (new or grown) or find it unchanged; fills ``report``."""
        from workbench.store import segments, tiles
        from workbench.store._atomic import atomic_write_bytes, sync_filesystem
        from workbench.store._lock import file_lock
        from workbench.store.records import STATUSES, _serialize

        problems = report.problems
        noted = len(problems)  # the reader's; what the checks below add is said when something is written
        check = Checker(problems)
        run_id = report.run_id
        assert run_id is not None
        target = self.layout.run_dir(run_id)
        staged = self.staging / run_id
        lock = file_lock(target, timeout=120, what=f"lock of run {run_id!r}") if target.is_dir() \
            else contextlib.nullcontext()
        with lock:
            existing = _read_existing(self.layout, run_id)
            if existing is not None:
                source = existing.get("source") or {}
                same = Checker([])  # the identity as the record holds it (text checked as it was stored)
                if (source.get("kind"), source.get("path"), source.get("id")) != (
                        same.text(run.kind, ""), same.text(report.source_path, ""), same.text(run.source_id, "")):
                    raise _Failed(f"run {run_id} of the store was not imported from this source; it is left "
                                  "as it is")
            if staged.exists():
                shutil.rmtree(staged)
            if existing is not None:
                link_tree(target, staged)
            else:
                make_dir(staged, parents=False, exist_ok=False)
            record: dict[str, Any] = dict(existing) if existing is not None else {
                "format": FORMAT, "id": run_id, "remote": None}
            old_source = dict(existing.get("source") or {}) if existing else {}
            now = time.time()
            start = run.start_time
            fallback_time: float = float(start) if start is not None and is_time(start) else float(
                (existing.get("created") if existing else None) or now)

            # points: only those past the count already imported, per key, in source order
            imported_points: dict[str, int] = dict(old_source.get("points") or {})
            stats = {k: dict(v) for k, v in (existing.get("metrics") or {}).items()} if existing else {}
            source_summary = check.value(dict(run.summary or {}), "summary")
            summary: dict[str, Any] = dict(existing.get("summary") or {}) if existing else {}
            pinned = set(source_summary)
            points = Points(staged / "metrics", stats, summary, pinned, fallback_time)
            seen: dict[str, int] = {}
            for series in run.series():
                key = check.name(series.key, "metric key")
                if key is None:
                    continue
                steps, values, times, why = series_arrays(series, fallback_time)
                if why is not None:
                    problems.append(f"metric {key!r}: {why}; the key is skipped")
                    continue
                before = seen.get(key, 0)
                seen[key] = before + len(steps)
                skip = max(0, imported_points.get(key, 0) - before)
                if skip < len(steps):
                    points.add(key, steps[skip:], values[skip:], times[skip:])
                    count_points(len(steps) - skip)
            points.flush()
            for key, total in seen.items():
                imported_points[key] = max(total, imported_points.get(key, 0))
            report.points = points.added

            # media: the same, per key
            imported_media: dict[str, int] = dict(old_source.get("media") or {})
            report.media = self._media(run, staged, run_id, record, imported_media, fallback_time, check)

            # the record: every field the source gives, checked
            status = run.status
            if status not in STATUSES:
                problems.append(f"status {status!r} is not a workbench status: recorded as crashed")
                status = "crashed"
            project = self.project or run.project or record.get("project") or "default"
            record["project"] = check.line(project, "project") or "default"
            record["name"] = check.line(run.name or run.source_id, "run name") or run_id
            record["config"] = check.value(dict(run.config or {}), "config")
            tags = []
            for tag in run.tags or []:
                checked = check.name(tag, "tag")
                if checked is not None and checked not in tags:
                    tags.append(checked)
            record["tags"] = tags
            record["notes"] = check.text(run.notes, "notes") or ""
            created = run.start_time if is_time(run.start_time) else (
                record.get("created") if is_time(record.get("created")) else points.first_time or now)
            record["created"] = created
            record["started"] = run.start_time if is_time(run.start_time) else created
            ended = run.end_time if is_time(run.end_time) else None
            if ended is None and status != "running":
                ended = points.last_time or record.get("ended") or record["started"]
            record["ended"] = ended
            record["heartbeat"] = ended if ended is not None else (points.last_time or record.get("heartbeat")
                                                                   or record["started"])
            record["status"] = status
            if (record.get("error") or {}).get("type") == "crashed":
                record.pop("error")  # the catalog's mark (below) lasts only while the source says running
            if status == "running" and existing is not None and existing.get("status") == "crashed":
                # the catalog marked it crashed (no process here beats for it): keep that mark until
                # the source says how the run ended
                for name in ("status", "ended", "error", "heartbeat"):
                    if name in existing:
                        record[name] = existing[name]
            if run.command is not None:
                record["command"] = [check.text(part, "command") or "" for part in run.command]
            if run.git_commit is not None:
                commit = check.line(run.git_commit, "git commit")
                if commit is not None:
                    record["git"] = {**(record.get("git") or {}), "commit": commit}
            if run.git_branch is not None:
                branch = check.line(run.git_branch, "git branch")
                if branch is not None:
                    record["git"] = {**(record.get("git") or {}), "branch": branch}
            for field in ("user", "host", "job_type"):
                value = getattr(run, field)
                if value is not None:
                    record[field] = check.line(value, field.replace("_", " "))
            if run.group is not None:
                record["group"] = check.line(run.group, "group")
            record["metrics"] = stats
            summary.update(source_summary)
            record["summary"] = summary
            record["summary_pinned"] = sorted(pinned | set(record.get("summary_pinned") or []))
            parent = run_id_for(run.kind, report.source_path, run.parent_id) if run.parent_id else None
            config_source = None
            if run.config_source is not None:
                config_source = {}
                for key, value in run.config_source.items():
                    param = check.name(key, "config key")
                    if param is not None:
                        config_source[param] = check.text(value, f"config {param}") or ""
            record["source"] = {
                "kind": run.kind, "path": report.source_path, "id": run.source_id, "parent": parent,
                "parent_id": run.parent_id, "config": config_source, "points": imported_points,
                "media": imported_media, "files": old_source.get("files"),
                "imported": old_source.get("imported") or now,
            }
            for name in ("kind", "path", "id", "parent_id"):
                value = record["source"][name]
                if isinstance(value, str):
                    record["source"][name] = check.text(value, f"source {name}")
            try:
                data = _serialize(record, run_id)
            except StoreError as exc:
                raise _Failed(str(exc)) from None

            unchanged = (existing is not None and not report.points and not report.media
                         and _comparable(record) == _comparable(existing))
            if unchanged:
                shutil.rmtree(staged, ignore_errors=True)
                report.outcome = "unchanged"
                del problems[noted:]  # escaped names were reported when they were stored
            else:
                metrics_dir = staged / "metrics"
                if points.segments:
                    with contextlib.suppress(Exception):  # the segments stay as they are: nothing is lost
                        segments.compact_finish(metrics_dir, keep=4)
                    tiles.rebuild(metrics_dir)
                atomic_write_bytes(staged / "run.json", data, fsync=False)
                if self.settings.fsync:
                    sync_filesystem(staged)
                if existing is None:
                    try:
                        os.rename(staged, target)
                    except OSError as exc:
                        raise _Failed(f"run {run_id} appeared in the store meanwhile (another import of the "
                                      f"same source?): {exc.strerror}; import again") from None
                    report.outcome = "imported"
                else:
                    trash = self.staging / f".replaced-{run_id}"
                    if not exchange(staged, target):
                        os.rename(target, trash)
                        os.rename(staged, target)
                    else:
                        os.rename(staged, trash)
                    shutil.rmtree(trash, ignore_errors=True)
                    report.outcome = "updated"
                try:  # the run is in place: what fails now costs a line, not the run
                    if self.settings.fsync:
                        sync_filesystem(self.layout.runs)
                    self.layout.note_change(run_id)
                except OSError as exc:
                    problems.append(f"the run is in the store, but its change could not be noted for open "
                                    f"catalogs ({_oserror(exc, self.layout.catalog)}): `workbench reindex` "
                                    "catches them up")
        report.files = self._files(run, run_id, record, check)
        if report.files and report.outcome == "unchanged":
            report.outcome = "updated"

    def _media(self, run: ImportedRun, staged: Path, run_id: str, record: dict[str, Any],
               imported: dict[str, int], fallback_time: float, check: Checker) -> int:
        from workbench.media.writer import MediaWriter
        from workbench.store.artifacts.locks import store_lock

        writer: MediaWriter | None = None
        scratch = staged / ".scratch"
        seen: dict[str, int] = {}
        added = 0
        queued = 0
        layout = Layout(self.settings.root)
        layout.runs = self.staging  # the index goes into the staged run; the blobs into the store

        def store() -> bool:
            assert writer is not None
            with store_lock(self.layout.artifacts):
                writer.store()
            return True

        try:
            for n, item in enumerate(run.media()):
                key = check.name(item.key, "media key")
                if key is None:
                    continue
                before = seen.get(key, 0)
                seen[key] = before + 1
                if before < imported.get(key, 0):
                    continue
                try:
                    step = int(item.step)
                    if not 0 <= step < 2**63:
                        raise ValueError(f"step {step} is outside 0..2**63-1")
                    if writer is None:
                        make_dir(scratch, parents=False)
                        writer = MediaWriter(layout, run_id, self.settings, known=record.get("media") or {})
                    value = _media_value(item, scratch, n)
                except (TypeError, ValueError, OSError) as exc:
                    check.problems.append(f"media {key!r} at step {item.step}: not imported ({exc})")
                    continue
                when = float(item.time) if item.time is not None and is_time(item.time) else fallback_time
                writer.queue.append((step, when, {key: value}))
                queued += 1
                if queued >= _MEDIA_CHUNK:
                    writer.encode_queued(store)
                    store()
                    queued = 0
            if writer is not None:
                writer.encode_queued(store)
                store()
                for line in writer.failed:
                    check.problems.append(line)
                added = sum(int(v.get("count", 0)) for v in writer.keys.values()) - sum(
                    int(v.get("count", 0)) for v in (record.get("media") or {}).values())
                record["media"] = {k: dict(v) for k, v in writer.keys.items()}
        finally:
            if writer is not None:
                writer.close()
            shutil.rmtree(scratch, ignore_errors=True)
        for key, total in seen.items():
            imported[key] = max(total, imported.get(key, 0))
        return max(added, 0)

    def _files(self, run: ImportedRun, run_id: str, record: dict[str, Any], check: Checker) -> int:
        """The run's files as one version of artifact ``<kind>-<run id>-files`` (type ``run-files``),
        produced by the run; nothing when they are the files of the last import."""
        if not run.files:
            return 0
        from workbench.store.artifacts.log import log_artifact
        from workbench.store.records import update_record

        chosen: list[tuple[str, Path]] = []
        names: set[str] = set()
        for item in run.files:
            if not isinstance(item, SourceFile):
                continue
            why = file_problem(item.name)
            if why is not None:
                check.problems.append(f"file {item.name!r} {why}: not imported")
                continue
            path = Path(item.path)
            if not path.is_file():
                check.problems.append(f"file {item.name!r}: {path} is not a readable file: not imported")
                continue
            if item.name in names:
                continue
            names.add(item.name)
            chosen.append((item.name, path))
        if not chosen:
            return 0
        try:
            signature = _files_signature(chosen)
        except OSError as exc:
            check.problems.append(f"the run's files could not be read ({exc}): not imported")
            return 0
        if (record.get("source") or {}).get("files") == signature:
            return 0
        folder = self.staging / f"files-{run_id}"
        shutil.rmtree(folder, ignore_errors=True)
        try:
            for name, path in chosen:
                dest = folder / name
                make_dir(dest.parent)
                try:
                    os.link(path, dest)
                except OSError:  # another filesystem: a private copy (0600)
                    with open(path, "rb") as src, open(dest, "wb", opener=private_opener) as out:
                        shutil.copyfileobj(src, out, 1 << 20)
            log_artifact(self.layout, self.settings, folder, artifact_name(run.kind, run_id), "run-files",
                         metadata={"source": {"kind": run.kind, "path": record["source"]["path"],
                                              "id": record["source"]["id"]}}, run_id=run_id)

            def mutate(current: dict[str, Any]) -> None:
                current.setdefault("source", {})["files"] = signature

            update_record(self.layout, run_id, mutate, fsync=self.settings.fsync)
        except WorkbenchError as exc:
            check.problems.append(f"the run's files were not imported: {exc}")
            return 0
        except OSError as exc:  # copying them into the store's staging (a full disk): the run is in already
            check.problems.append(f"the run's files were not imported: {_oserror(exc, folder)}; the next import "
                                  "tries again")
            return 0
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return len(chosen)


def _comparable(record: dict[str, Any]) -> dict[str, Any]:
    out = {k: record.get(k) for k in _OWNED}
    source = dict(out.get("source") or {})
    source.pop("imported", None)
    out["source"] = source
    return out


# -- many runs ----------------------------------------------------------------------------------------

class _Bar:
    """A tqdm bar for one source: runs done (of the total when known), points in the postfix."""

    def __init__(self, mode: str, desc: str, total: int | None) -> None:
        self.bar: Any = None
        self.points = 0
        tty = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
        if mode == "always" or (mode == "auto" and tty):
            try:
                from tqdm import tqdm
            except ImportError:
                return
            # the source as given may hold any character (a file name): shown escaped, as the report does
            self.bar = tqdm(total=total, desc=_plain(desc), unit="run", leave=False, file=sys.stderr,
                            mininterval=0.2)

    def add_points(self, n: int) -> None:
        self.points += n
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.points:,} points", refresh=False)

    def run_done(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.points:,} points", refresh=True)
            self.bar.close()


def write_runs(
    runs: Iterable[ImportedRun],
    *,
    root: str | os.PathLike[str] | None = None,
    project: str | None = None,
    progress: str = "auto",
    what: str = "import",
    source: str | None = None,
) -> ImportReport:
    """Write the runs an importer yields into the store at ``root``; what happened to each.

    ``project`` overrides each run's project. ``source`` names the source in the report and on the
    bar when reading it fails (default: ``what``). ``progress``: ``auto`` (a bar when stderr is a
    terminal), ``always`` or ``never``. An :class:`~workbench.errors.ImportSourceError` raised
    while reading (the source cannot be opened) is reported in ``failed_sources``; a run that
    cannot be written is reported ``failed`` and the others go on. See the module docstring for
    identity, atomicity and incremental imports.
    """
    if progress not in ("auto", "always", "never"):
        raise ValueError(f"progress must be 'auto', 'always' or 'never', not {progress!r}")
    started = time.perf_counter()
    settings = load_settings(root)
    try:
        Layout(settings.root).ensure()
    except OSError as exc:
        raise StoreError(f"cannot open the store at {settings.root} to import into: "
                         f"{_oserror(exc, settings.root)}") from exc
    report = ImportReport(what)
    total = len(runs) if hasattr(runs, "__len__") else None  # type: ignore[arg-type]
    label = source if source is not None else what
    bar = _Bar(progress, f"{what} {label}" if source is not None else what, total)
    try:
        with _staging_or_store_error(settings) as folder:
            importer = _Importer(settings, project, folder)
            iterator = iter(runs)
            while True:
                try:
                    run = next(iterator)
                except StopIteration:
                    break
                except MissingExtra:
                    raise
                except ImportSourceError as exc:
                    report.failed_sources.append(SourceFailure(what, label, str(exc)))
                    break
                except Exception as exc:  # noqa: BLE001 - a reader's bug or a source it chokes on: this source stops
                    report.failed_sources.append(SourceFailure(what, label, f"{type(exc).__name__}: {exc}"))
                    break
                report.runs.append(_write_one(importer, run, bar))
                bar.run_done()
    finally:
        bar.close()
    report.seconds = time.perf_counter() - started
    return report


@contextlib.contextmanager
def _staging_or_store_error(settings: Settings) -> Iterator[Path]:
    """:func:`staging`, its own OS errors (the folder cannot be made: a full disk, permissions)
    as a StoreError naming the path; errors of the block pass through."""
    entered = False
    try:
        with staging(settings) as folder:
            entered = True
            yield folder
    except OSError as exc:
        if entered:
            raise
        where = staging_root(settings.root)
        raise StoreError(f"cannot make the import's staging folder under {where}: {_oserror(exc, where)}") from exc


def _oserror(exc: OSError, where: str | os.PathLike[str]) -> str:
    """An OS error while writing ``where``: a full disk, a quota, a read-only or failing
    filesystem in the store's words (the path, the free space there, the fix); any other as it is."""
    from workbench.store._faults import describe, is_storage_fault, remedy

    if is_storage_fault(exc):
        return f"{describe(exc, where)}: {remedy(exc)}"
    return f"{type(exc).__name__}: {exc}"


def _write_one(importer: _Importer, run: ImportedRun, bar: _Bar) -> RunReport:
    kind = str(getattr(run, "kind", "") or "import")
    source_path = normalize_source(str(run.source_path))
    source_id = str(run.source_id)
    entry = RunReport(kind=kind, source_path=source_path, source_id=source_id, run_id=None,
                      name=run.name, outcome="failed", skipped=list(run.skipped or []),
                      problems=list(run.problems or []))
    if name_problem(kind) is not None:
        entry.error = f"importer name {kind!r} {name_problem(kind)}"
        return entry
    entry.run_id = run_id_for(kind, source_path, source_id)
    if run.error:
        entry.error = run.error
        return entry
    try:
        importer.write(run, entry, bar.add_points)
    except _Failed as exc:
        entry.outcome, entry.error = "failed", str(exc)
        entry.points = entry.media = 0
    except MissingExtra:
        raise
    except (WorkbenchError, OSError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        entry.outcome, entry.error = "failed", f"{type(exc).__name__}: {exc}"
        if isinstance(exc, OSError):
            where = exc.filename if isinstance(exc.filename, str) else importer.settings.root
            entry.error = f"{_oserror(exc, where)}; nothing of this run was written"
        entry.points = entry.media = 0
    finally:
        shutil.rmtree(importer.staging / (entry.run_id or "-"), ignore_errors=True)
    # a reader may note damage while series()/media() stream
    for line in run.problems or []:
        if line not in entry.problems:
            entry.problems.append(line)
    entry.skipped = list(run.skipped or [])
    if len(entry.problems) > 1000:
        entry.problems[1000:] = [f"... and {len(entry.problems) - 1000} more problems"]
    return entry
