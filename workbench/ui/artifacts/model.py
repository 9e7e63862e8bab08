"""The ArtifactBrowser's state: artifacts, the versions of the chosen one, one version's files,
lineage, aliases, dataset schema and preview, and what deduplication saves.

Everything comes from public functions (``wb.artifacts``, ``wb.artifact``, ``wb.set_alias``,
``wb.remove_alias``, ``wb.disk_usage``; ``wb.use_artifact`` places a file to download). A version's
manifest never changes once written, so each :class:`~workbench.Artifact` is read once and kept;
only aliases move, and they come with the ``wb.artifacts()`` listing that
:meth:`ArtifactBrowserModel.poll` compares.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import workbench as wb
from workbench.ui import _html
from workbench.ui._format import size as fmt_size
from workbench.ui._format import when
from workbench.ui._html import error_line
from workbench.ui._i18n import add_zh, tr
from workbench.ui._model import ViewModel
from workbench.ui._safe import Markup, markup

add_zh(
    {
        "Artifacts": "制品",
        "Versions": "版本",
        "Files": "文件",
        "Alias": "别名",
        "Set alias": "设置别名",
        "Remove alias": "删除别名",
        "Produced by": "生成于",
        "Used by": "使用者",
        "Schema": "结构",
        "Preview": "预览",
        "Disk usage": "磁盘占用",
        "No artifacts yet": "尚无制品",
        "new bytes": "新增字节",
        "Skipped, cannot be read": "已跳过（无法读取）",
        "Artifact": "制品",
        "Version": "版本",
        "Metadata": "元数据",
        "Key": "键",
        "Value": "值",
        "Download": "下载",
    }
)

#: the largest file the browser is sent (base64 over the websocket, whose messages Bokeh caps at
#: 20 MiB); a notebook user, or ``wb.use_artifact``, reads larger ones from disk
DOWNLOAD_LIMIT = 10 * 2**20


def _clean(value: Any) -> Any:
    """Preview cells as plain JSON-friendly values (NaN from pandas becomes None)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def metadata_rows(metadata: Any, skip: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """A version's metadata as ``{"key", "value"}`` rows, sorted by key: text as it is, anything
    else (numbers, lists, nested dicts) as JSON text. Views show both as text."""
    rows = []
    for key, value in sorted((metadata or {}).items(), key=lambda kv: str(kv[0])):
        if key in skip:
            continue
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
        rows.append({"key": str(key), "value": text})
    return rows


def metadata_html(rows: list[dict[str, str]]) -> Markup:
    """The metadata rows as an escaped key/value table; long values wrap (nothing is cut)."""
    if not rows:
        return Markup("")
    table = _html.table([[r["key"], r["value"]] for r in rows], [tr("Key"), tr("Value")])
    return markup('<div class="wb-metadata" style="overflow-wrap:anywhere;word-break:break-word;max-height:320px;'
                  'overflow:auto"><b>{}</b>{}</div>', tr("Metadata"), table)


def new_bytes(versions: list[wb.Artifact]) -> dict[int, int]:
    """For each version (oldest first), bytes of files whose content no earlier version had.

    Chunked files count whole when their file digest is new, so this is an upper bound for
    large files that changed a little (the store keeps only their new chunks).
    """
    seen: set[str] = set()
    out: dict[int, int] = {}
    for art in versions:
        fresh = 0
        for item in art.files:
            if item.digest not in seen:
                fresh += item.size
                seen.add(item.digest)
        out[art.version] = fresh
    return out


def skipped_lines(skipped: list[str]) -> Markup:
    """What could not be read, one line each (the files are named): the views show it above the
    listing."""
    if not skipped:
        return Markup("")
    return error_line(tr("Skipped, cannot be read") + ":\n" + "\n".join(skipped))


class ArtifactBrowserModel(ViewModel):
    """State and actions of the artifact browser; views render it and call the actions.

    Fields (names passed to observers): ``artifacts``, ``versions``, ``version`` (with ``files``,
    ``producer``, ``consumers``, ``dataset``, ``metadata``), ``file`` (the file chosen to download),
    ``usage``, ``message``, ``error`` (an alias, choice, download or disk-usage error stays until
    that action works again or :meth:`dismiss`; live refresh keeps it), ``skipped`` (one message
    per manifest or alias file that cannot be read, naming it: the rest is shown).
    """

    def __init__(self, root: Any = None, on_open_run: Callable[[str], None] | None = None) -> None:
        super().__init__(root)
        self.on_open_run = on_open_run
        self.artifacts: list[dict[str, Any]] = []
        self.name: str | None = None
        self.versions: list[dict[str, Any]] = []
        self.version: int | None = None
        self.files: list[dict[str, Any]] = []
        self.aliases: list[str] = []
        self.producer: str | None = None
        self.consumers: list[str] = []
        self.dataset: dict[str, Any] | None = None
        self.metadata: list[dict[str, str]] = []
        self.file: str | None = None
        self.usage: dict[str, Any] | None = None
        self.message: str | None = None
        self.skipped: list[str] = []
        self._listing: Any = None
        self._signature: tuple[Any, ...] = ()
        self._cache: dict[str, wb.Artifact] = {}
        self.refresh()

    # -- reading ----------------------------------------------------------------------------------
    def _read(self) -> tuple[Any, tuple[Any, ...]]:
        frame = wb.artifacts(root=self.root)
        signature = tuple(
            (ref, tuple(aliases)) for ref, aliases in zip(frame["ref"], frame["aliases"], strict=True)
        ) + tuple(frame.attrs.get("skipped", []))
        return frame, signature

    def refresh(self) -> None:
        """Read the listing again and redraw everything."""
        with self._lock, self.guard("Refresh"):
            frame, signature = self._read()
            self._apply(frame, signature)

    def poll(self) -> bool:
        """New versions, deleted ones and moved aliases appear."""
        with self._lock:
            try:
                frame, signature = self._read()
            except (wb.WorkbenchError, OSError):
                return False
            if signature == self._signature:
                return False
            with self.guard("Refresh"):
                self._apply(frame, signature)
            return True

    def _apply(self, frame: Any, signature: tuple[Any, ...]) -> None:
        self._listing = frame
        self._signature = signature
        skipped = list(frame.attrs.get("skipped", []))
        if skipped != self.skipped:
            self.skipped = skipped
            self.notify("skipped")
        rows: dict[str, dict[str, Any]] = {}
        for rec in frame.to_dict("records"):
            row = rows.setdefault(rec["name"], {"name": rec["name"], "type": rec["type"], "versions": 0})
            row["versions"] += 1
            row["latest"] = f"v{rec['version']}"
            row["size"] = int(rec["size"])
            row["updated"] = when(rec["created"])
        self.artifacts = sorted(rows.values(), key=lambda r: r["name"])
        self.notify("artifacts")
        if self.name is not None and self.name not in rows:
            self.name = None
        if self.name is None and self.artifacts:
            self.name = self.artifacts[0]["name"]
        self._load_versions()

    def _get(self, ref: str) -> wb.Artifact:
        art = self._cache.get(ref)
        if art is None:
            art = self._cache[ref] = wb.artifact(ref, root=self.root)
        return art

    def _load_versions(self) -> None:
        if self.name is None or self._listing is None:
            self.versions, self.version = [], None
            self.notify("versions")
            self._load_version()
            return
        frame = self._listing[self._listing["name"] == self.name]
        arts = [self._get(ref) for ref in frame["ref"]]
        fresh = new_bytes(arts)
        self.versions = [
            {
                "version": int(rec["version"]),
                "ref": rec["ref"],
                "label": f"v{rec['version']}",
                "created": when(art.created),
                "size": int(rec["size"]),
                "size_text": fmt_size(int(rec["size"])),
                "new_bytes": fresh.get(int(rec["version"]), 0),
                "new_text": fmt_size(fresh.get(int(rec["version"]), 0)),
                "files": int(rec["files"]),
                "aliases": ", ".join(rec["aliases"]),
                "producer": art.producer or "",
            }
            for rec, art in zip(frame.to_dict("records"), arts, strict=True)
        ]
        known = [v["version"] for v in self.versions]
        if self.version not in known:
            self.version = known[-1] if known else None
        self.notify("versions")
        self._load_version()

    def _load_version(self) -> None:
        if self.name is None or self.version is None:
            self.files, self.aliases, self.producer, self.consumers, self.dataset = [], [], None, [], None
            self.metadata, self.file = [], None
            self.notify("version", "file")
            return
        art = self._get(f"{self.name}:v{self.version}")
        self.files = [
            {"path": f.path, "size": f.size, "size_text": fmt_size(f.size), "chunks": f.chunks, "digest": f.digest[:12]}
            for f in art.files
        ]
        row = next((v for v in self.versions if v["version"] == self.version), None)
        self.aliases = [a for a in (row["aliases"].split(", ") if row and row["aliases"] else []) if a]
        self.producer = art.producer
        self.consumers = art.used_by()
        info = art.metadata.get("dataset") if art.type == "dataset" else None
        self.dataset = self._describe(info) if isinstance(info, dict) else None
        # a dataset's own description is shown as its schema and preview, not as one long JSON text
        self.metadata = metadata_rows(art.metadata, skip=("dataset",) if self.dataset is not None else ())
        if self.file not in {f.path for f in art.files}:
            self.file = None
        self.notify("version", "file")

    @staticmethod
    def _describe(info: dict[str, Any]) -> dict[str, Any]:
        schema = info.get("schema") or {}
        preview = [{k: _clean(v) for k, v in row.items()} for row in info.get("preview") or [] if isinstance(row, dict)]
        return {
            "format": info.get("format"),
            "rows": info.get("rows"),
            "columns": list(info.get("columns") or schema),
            "schema": [{"column": k, "type": str(v)} for k, v in schema.items()],
            "preview": preview,
            "required": list(info.get("required") or []),
        }

    # -- actions ----------------------------------------------------------------------------------
    def choose(self, name: str | None) -> None:
        """Show the versions of artifact ``name`` (its newest version chosen)."""
        with self._lock, self.act(tr("Artifact")):
            if name == self.name:
                return
            self.name, self.version = name, None
            self._load_versions()

    def choose_version(self, version: int | None) -> None:
        """Show the files, lineage and dataset of one version of the chosen artifact."""
        with self._lock, self.act(tr("Version")):
            if version == self.version:
                return
            self.version = None if version is None else int(version)
            self._load_version()

    @property
    def ref(self) -> str | None:
        """The chosen version's ref, e.g. ``reviews:v2``."""
        return None if self.name is None or self.version is None else f"{self.name}:v{self.version}"

    def _say(self, text: str) -> None:
        self.message = text
        self.notify("message")

    def set_alias(self, alias: str) -> bool:
        """Point ``alias`` at the chosen version (moving it from another); False with ``error`` set."""
        if self.refused(tr("Alias")):
            return False
        ref = self.ref
        ok = False
        with self._lock, self.act(tr("Alias")):
            if ref is None:
                raise wb.ArtifactError("choose an artifact version first, then set its alias")
            art = wb.set_alias(ref, alias.strip(), root=self.root)
            ok = True
            self._say(f"{art.name}:{alias.strip()} -> {art.ref}")
            frame, signature = self._read()
            self._apply(frame, signature)
        return ok

    def remove_alias(self, alias: str) -> bool:
        """Remove ``alias`` from the chosen artifact; False with ``error`` set."""
        if self.refused(tr("Alias")):
            return False
        ok = False
        with self._lock, self.act(tr("Alias")):
            if self.name is None:
                raise wb.ArtifactError("choose an artifact first")
            wb.remove_alias(self.name, alias, root=self.root)
            ok = True
            self._say(f"removed {self.name}:{alias}")
            frame, signature = self._read()
            self._apply(frame, signature)
        return ok

    def load_usage(self) -> None:
        """Measure the store (``workbench du``): logical bytes, on disk, saved by deduplication."""
        with self._lock, self.act(tr("Disk usage")):
            report = wb.disk_usage(root=self.root)
            self.usage = {
                "artifacts": report.artifacts,
                "versions": report.versions,
                "logical": report.logical,
                "unique": report.unique,
                "on_disk": report.on_disk,
                "saved": report.saved,
                "text": (
                    f"{report.versions} versions: {fmt_size(report.logical)} logical, "
                    f"{fmt_size(report.unique)} unique, {fmt_size(report.on_disk)} on disk, "
                    f"{fmt_size(report.saved)} saved by deduplication"
                ),
            }
            self.notify("usage")

    def choose_file(self, path: str | None) -> None:
        """Choose the file of the chosen version that :meth:`download` gives (None: none)."""
        self.file = path or None
        self.notify("file")

    def download(self, path: str | None = None) -> Path | None:
        """The local path of file ``path`` (default: the chosen :attr:`file`) of the chosen version,
        placed by ``wb.use_artifact``; None with ``error`` set.

        ``path`` comes from a browser, so it is only ever looked up in the version's manifest:
        a path the manifest does not list (``../x``, an absolute path, another version's file) is
        refused, and the placed file must lie inside the placed directory. Reading changes nothing,
        so a read-only (locked) view may download too. Files over :data:`DOWNLOAD_LIMIT` are
        refused, as a browser would not receive them (:meth:`local_path` has no limit).
        """
        return self._download(self.file if path is None else path, DOWNLOAD_LIMIT)

    def local_path(self, path: str | None = None) -> Path | None:
        """Like :meth:`download`, without the size limit (a notebook reads the file from disk)."""
        return self._download(self.file if path is None else path, None)

    def _download(self, path: str | None, limit: int | None) -> Path | None:
        ref = self.ref
        found: Path | None = None
        with self._lock, self.act(tr("Download")):
            if ref is None:
                raise wb.ArtifactError("choose an artifact version first, then one of its files")
            if path is None:
                raise wb.ArtifactError(f"choose one of the files of {ref} first")
            art = self._get(ref)
            item = next((f for f in art.files if f.path == path), None)
            if item is None:
                raise wb.ArtifactError(f"{path!r} is not a file of {ref}: choose one from its file list")
            if limit is not None and item.size > limit:
                raise wb.ArtifactError(
                    f"{item.path} is {fmt_size(item.size)}, more than the {fmt_size(limit)} a browser download "
                    f"takes: read it from wb.use_artifact({ref!r}) in Python"
                )
            placed = Path(wb.use_artifact(ref, root=self.root)).resolve()
            target = (placed / item.path).resolve()
            if not target.is_relative_to(placed) or not target.is_file():
                raise wb.ArtifactError(f"{item.path} of {ref} is not a file under {placed}: run `workbench fsck`")
            found = target
        return found

    def open_run(self, run_id: str) -> None:
        """Hand a producer or consumer run to the app (``on_open_run``), e.g. to show its detail."""
        if self.on_open_run is not None and run_id:
            self.on_open_run(run_id)
