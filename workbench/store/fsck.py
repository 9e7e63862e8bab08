"""``workbench fsck``: check every file of a store, say what to do about each problem, repair
what can be repaired without losing anything.

What is checked, and against what:

- **run records** (``runs/<id>/run.json``; those of launched jobs are reported as job records):
  the store's schema (``_schema``), as every query reads them;
- **metric segments** (the files a query reads): a regular file, a readable parquet file, the
  columns ``step, key, value, time``;
- **environment files** (``environments/<digest>.json``): the schema, and the digest of the
  content against the name (``workbench.store.environments``); one that no record names is kept;
- **the catalog** (``catalog/``): ``state.json``, the snapshot it names and its three parquet
  files, the journal a regular file. It is derived: ``workbench reindex`` rebuilds it;
- **artifacts** (:mod:`workbench.store.artifacts.fsck`): every blob re-hashed, every manifest,
  alias file, usage log and ``next_version`` read, local and mirrored from remotes; blobs that
  local versions name but the store lacks;
- what the rooms above the store pass in (``extra``): the settings file, ``[remotes.*]`` tables.

``repair`` moves each corrupt blob and each damaged environment file into ``<root>/quarantine/``
(the versions that lost files are named; the next run in that environment writes its file again)
and, when the catalog is damaged, moves ``catalog/`` there too and rebuilds it. Nothing is
deleted; a damaged record, segment, manifest or alias file is reported with its fix, never
rewritten. The result is ``ok`` only when nothing was found: a run that repaired something is
not ``ok`` (``workbench fsck`` exits 1, like ``e2fsck`` after correcting errors); the next run
is, if the repair left nothing to report.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import stat
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from workbench._steps import steps
from workbench.errors import RunNotFound, StoreError
from workbench.settings import Settings
from workbench.store import segments
from workbench.store._paths import Layout, is_run_id
from workbench.store.records import read_record

__all__ = ["Finding", "FsckResult", "check_artifacts_only", "check_store"]

@dataclasses.dataclass(frozen=True)
class Finding:
    """One problem: its ``kind`` (``run record``, ``job record``, ``metric segment``, ``catalog``,
    ``environment``, ``manifest``, ``alias file``, ``usage log``, ``next_version``, ``corrupt blob``,
    ``missing blob``, ``settings``, ``remote``), the ``path`` of the file, the ``problem`` and the
    ``fix``."""

    kind: str
    path: str
    problem: str
    fix: str


@dataclasses.dataclass(frozen=True)
class FsckResult:
    """What ``fsck`` found (``findings``), what it looked at (``checked``: counts per kind, and
    ``blob_bytes``) and what ``repair`` did: ``quarantined`` (``digest``, ``path`` it was moved
    to, ``lost``: the versions and files that lost it) and ``catalog_rebuilt`` (where the old
    catalog went, or None)."""

    findings: list[Finding]
    checked: dict[str, int]
    quarantined: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    catalog_rebuilt: str | None = None
    #: blobs no version names (``workbench gc`` removes them); not a problem
    unreferenced: int = 0
    #: the artifacts' part in detail (``corrupt``, ``missing``, ``bad_manifests``, ``bad_files``)
    artifacts: Any = None

    @property
    def ok(self) -> bool:
        """True when nothing was found (``workbench fsck`` then exits 0): no finding is left, and
        ``repair`` had nothing to repair."""
        return not (self.findings or self.quarantined or self.catalog_rebuilt)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly: what ``workbench fsck --json`` prints (the artifacts' detailed lists too)."""
        out = {"ok": self.ok, "findings": [dataclasses.asdict(f) for f in self.findings], "checked": self.checked,
               "quarantined": self.quarantined, "catalog_rebuilt": self.catalog_rebuilt,
               "unreferenced": self.unreferenced}
        if self.artifacts is not None:
            a = self.artifacts
            out.update(blobs=a.blobs, bytes=a.bytes, corrupt=a.corrupt, missing=a.missing,
                       bad_manifests=a.bad_manifests, bad_files=a.bad_files)
        return out


_RUN_FIX = ("restore the file from a backup, or move the run's directory out of the store; queries skip it "
            "meanwhile")
_JOB_FIX = ("restore the file from a backup, or move the run's directory out of the store; `workbench jobs ls` "
            "and the scheduler skip it meanwhile")
_SEGMENT_FIX = "restore the file, or move it out of the store: queries skip it meanwhile and its points are not shown"
_ENVIRONMENT_FIX = ("move it out of the store (`workbench fsck --repair` moves it into quarantine): runs that name it "
                    "show their short package list until a run in that environment writes the file again")
_CATALOG_FIX = ("`workbench reindex` (or `workbench fsck --repair`) rebuilds it from the run records: the catalog "
                "is derived, nothing is lost")


def _run_dirs(layout: Layout) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(layout.runs) if is_run_id(e.name) and e.is_dir(follow_symlinks=False))
    except FileNotFoundError:
        return []


def _check_runs(layout: Layout, jobs: set[str], findings: list[Finding], checked: dict[str, int]) -> None:
    import pyarrow.parquet as pq

    for run_id in steps(_run_dirs(layout), "checking runs"):
        kind = "job record" if run_id in jobs else "run record"
        path = layout.record(run_id)
        if os.path.lexists(path):
            checked[kind + "s"] += 1
            try:
                read_record(layout, run_id)
            except RunNotFound:
                pass  # deleted meanwhile
            except StoreError as exc:
                findings.append(Finding(kind, str(path), str(exc), _JOB_FIX if kind == "job record" else _RUN_FIX))
        for segment in segments.effective_files(layout.metrics_dir(run_id)):
            checked["metric segments"] += 1
            problem = _segment_problem(segment, pq)
            if problem is not None:
                findings.append(Finding("metric segment", str(segment), f"metric segment {segment} {problem}",
                                        _SEGMENT_FIX))


def _check_environments(layout: Layout, findings: list[Finding], checked: dict[str, int], repair: bool) -> None:
    from workbench.store.environments import environment_problems

    checked["environments"] = 0
    for path, found in environment_problems(layout):
        checked["environments"] += 1
        if found is None:
            continue
        problem, fix = found, _ENVIRONMENT_FIX
        if repair:
            from workbench.store.artifacts.quarantine import make_quarantine

            target = None
            with contextlib.suppress(OSError, StoreError):
                target = make_quarantine(layout) / f"{path.name}-{time.strftime('%Y%m%dT%H%M%S')}-{os.urandom(2).hex()}"
                os.rename(path, target)
            if target is not None and not os.path.lexists(path):
                problem += f" (--repair moved it to {target})"
                fix = "nothing more: the next run in that environment writes its file again"
        findings.append(Finding("environment", str(path), problem, fix))


def _segment_problem(path: Path, pq: Any) -> str | None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None  # compacted away since the listing
    if not stat.S_ISREG(mode):
        return "is not a regular file"
    try:
        names = pq.read_table(path).schema.names
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - any parquet/arrow failure means corrupt
        return f"cannot be read ({exc})"
    lacking = [name for name in segments.SCHEMA_FIELDS if name not in names]
    if lacking:
        return f"lacks the column(s) {', '.join(lacking)} (it has {', '.join(names)})"
    return None


def _check_catalog(layout: Layout, findings: list[Finding]) -> bool:
    """Findings about ``catalog/``; True when there are any."""
    before = len(findings)
    journal = layout.journal
    if os.path.lexists(journal) and not stat.S_ISREG(os.lstat(journal).st_mode):
        findings.append(Finding("catalog", str(journal), f"catalog journal {journal} is not a regular file",
                                _CATALOG_FIX))
    state = layout.catalog / "state.json"
    if not os.path.lexists(state):
        return len(findings) > before  # no snapshot written yet
    try:
        name = json.loads(state.read_bytes())["snapshot"]
        if not isinstance(name, str) or not name.startswith("snapshot-") or "/" in name:
            raise ValueError(f"names {name!r}, not a snapshot")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        findings.append(Finding("catalog", str(state), f"catalog state {state} cannot be read ({why})", _CATALOG_FIX))
        return True
    from workbench.store.catalog import check_snapshot

    for path, why in check_snapshot(layout.catalog / name):
        findings.append(Finding("catalog", str(path), f"catalog snapshot file {path} cannot be read ({why})",
                                _CATALOG_FIX))
    return len(findings) > before


def _rebuild_catalog(layout: Layout, settings: Settings) -> str:
    """Move the damaged ``catalog/`` into quarantine and build a new one; where the old one went."""
    from workbench.store.artifacts.quarantine import make_quarantine
    from workbench.store.store import Store

    folder = make_quarantine(layout)
    from workbench.errors import StoreError
    from workbench.store._lock import try_file_lock

    target = folder / f"catalog-{time.strftime('%Y%m%dT%H%M%S')}-{os.urandom(2).hex()}"
    busy = (f"the catalog {layout.catalog} is being written by another process (a snapshot, or another "
            "`fsck --repair`); run `workbench fsck --repair` again in a moment")
    lock = layout.catalog / "lock"
    with (try_file_lock(lock) if layout.catalog.is_dir() and not lock.is_symlink()
          else contextlib.nullcontext(True)) as locked:  # the lock snapshot writers take
        if not locked:
            raise StoreError(busy)
        try:
            os.rename(layout.catalog, target)  # readers elsewhere see a new journal and compare every record
        except FileNotFoundError:
            raise StoreError(busy) from None
    store = Store(settings)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the damaged records were reported already
            store.reindex(verify_segments=False)
    finally:
        store.catalog.close()
    return str(target)


_SYNC_AGAIN = "it was mirrored from that remote: sync it again (`workbench sync REMOTE`)"


def _mirrored(path: str, root: Path) -> bool:
    """Whether ``path`` is in a remote's mirror (``<root>/remote/<name>/artifacts/``)."""
    parts = Path(path).relative_to(root).parts if Path(path).is_relative_to(root) else ()
    return len(parts) > 2 and parts[0] == "remote" and parts[2] == "artifacts"


def _artifact_findings(report: Any, findings: list[Finding], root: Path) -> None:
    for item in report.bad_manifests:
        fix = (_SYNC_AGAIN if _mirrored(item["path"], root) else
               "restore the file, or delete that version (`workbench artifacts rm NAME:vN`); gc removes no blob "
               "until then, since a damaged manifest might reference any")
        findings.append(Finding("manifest", item["path"], item["error"], fix))
    for item in report.bad_files:
        path = item["path"]
        if _mirrored(path, root):
            findings.append(Finding("alias file" if path.endswith("aliases.json") else "manifest", path,
                                    item["error"], _SYNC_AGAIN))
        elif path.endswith("aliases.json"):
            kind, fix = "alias file", ("delete it and set the aliases again (`workbench artifacts alias REF ALIAS`); "
                                       "listings show only `latest` meanwhile")
        elif path.endswith("usage.jsonl"):
            kind, fix = "usage log", "restore it, or move it away: lineage misses the uses it held"
        else:
            kind, fix = "next_version", "write the next free version number into it (see the problem)"
        findings.append(Finding(kind, path, item["error"], fix))
    for item in report.corrupt:
        users = "; ".join(item["used_by"]) or "no version"
        findings.append(Finding(
            "corrupt blob", item["path"],
            f"corrupt blob {item['digest']} ({item['path']}): content hashes to {item['actual'][:16]}..., "
            f"used by {users}",
            "`workbench fsck --repair` moves it into quarantine; then log the versions that lost files again, "
            "fetch them from a remote, or delete them"))
    for item in report.missing:
        where = f" (moved to {item['quarantined']} by --repair: it was corrupt)" if "quarantined" in item else ""
        findings.append(Finding(
            "missing blob", item["digest"],
            f"blob {item['digest']} is missing{where}; these versions lost files: {'; '.join(item['used_by'])}",
            "log those versions again, fetch them from a remote that has them (`use_artifact(\"REMOTE:NAME:vN\")`), "
            "or delete them (`workbench artifacts rm NAME:vN`)"))


def check_store(
    settings: Settings,
    *,
    repair: bool = False,
    jobs: Iterable[str] = (),
    extra: Iterable[Finding] = (),
) -> FsckResult:
    """Check the whole store (see the module's docstring); ``jobs``: the run ids of launched jobs,
    ``extra``: findings of the rooms above the store (settings, remotes)."""
    layout = Layout(settings.root)
    findings: list[Finding] = list(extra)
    checked = {"run records": 0, "job records": 0, "metric segments": 0}
    _check_runs(layout, set(jobs), findings, checked)
    _check_environments(layout, findings, checked, repair)
    rebuilt = None
    if _check_catalog(layout, findings) and repair:
        rebuilt = _rebuild_catalog(layout, settings)
        findings = [f for f in findings if f.kind != "catalog"]
    result = check_artifacts_only(settings, repair=repair)
    checked.update(result.checked)
    return FsckResult(findings + result.findings, checked, result.quarantined, rebuilt, result.unreferenced,
                      result.artifacts)


def check_artifacts_only(settings: Settings, *, repair: bool = False) -> FsckResult:
    """The artifacts' part of :func:`check_store` (``workbench artifacts fsck``)."""
    from workbench.store.artifacts.fsck import check_store as check_artifacts

    layout = Layout(settings.root)
    report = check_artifacts(layout, settings, repair=repair)
    findings: list[Finding] = []
    _artifact_findings(report, findings, settings.root)
    checked = {"manifests": sum(1 for _ in _manifest_files(layout)), "blobs": report.blobs,
               "blob_bytes": report.bytes}
    return FsckResult(findings, checked, report.quarantined, None, report.unreferenced, report)


def _manifest_files(layout: Layout) -> Iterable[Path]:
    for artifacts in [layout.artifacts, *sorted((layout.root / "remote").glob("*/artifacts"))]:
        yield from artifacts.glob("*/v*.json")
