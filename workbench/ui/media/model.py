"""MediaPanels' view model: a panel for every media key the runs logged, with no configuration.

Keys come from the run records (:func:`workbench.get_run`: the ``media`` map, with per-key
``kind``, ``count`` and ``step``); the items from :func:`workbench.media` (the index) and their
bytes from :func:`workbench.load_media` (``raw=True``), only for what is shown, kept by digest.
Keys are grouped into sections by prefix as MetricPanels does (:func:`section_of`); each key's
panel shows its kind: images side by side per run at one step (a step slider and "latest"),
tables at one step, histograms as a heatmap over steps, text by step with a line diff between two
runs, audio as a player per step.

Everything a view shows is data: images and sounds as ``data:`` URIs made here from the stored
bytes (the app serves them itself, no address comes from the store), captions, cells and text as
strings that the views escape (:mod:`workbench.ui._safe`).
"""

from __future__ import annotations

import base64
import difflib
import io
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import workbench as wb
from workbench.ui._i18n import tr
from workbench.ui._model import Selection, ViewModel, as_selection
from workbench.ui.panels.model import PLAIN, section_of

__all__ = ["KINDS", "MediaPanel", "MediaPanelsModel", "MediaSection", "kind_label", "line_diff"]

#: the kinds in the order their panels come inside a section
KINDS = ("image", "table", "histogram", "text", "audio")
LIVE = frozenset(("queued", "running"))
#: image and sound formats a browser shows from a data: URI
IMAGE_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "gif": "image/gif",
               "webp": "image/webp"}
AUDIO_TYPES = {"wav": "audio/wav", "flac": "audio/flac"}
CELL = re.compile(r"wb-media:image:([0-9a-f]{64})\Z")
#: the most items a list (text, audio) shows per run, newest first; rows of a heatmap (steps)
LIST_MAX, HEAT_STEPS, HEAT_BINS = 20, 200, 48
THUMB = 96
_CACHE_MAX = 256


@dataclass(frozen=True)
class MediaPanel:
    """One media key's panel."""

    id: str
    title: str
    section: str
    kind: str


@dataclass
class MediaSection:
    id: str
    title: str
    panels: list[MediaPanel] = field(default_factory=list)


@dataclass(frozen=True)
class Shown:
    """One item as a view shows it: a run's, at a step, with its caption and (image, audio) its data URI."""

    run_id: str
    run_name: str
    step: int
    caption: str
    uri: str = ""
    text: str = ""


@dataclass
class TableView:
    run_id: str
    run_name: str
    step: int
    caption: str
    frame: Any  #: image cells are data: URIs of thumbnails (or "" when not an image)
    image_columns: list[str]


@dataclass
class Heatmap:
    """A histogram key of one run over steps: ``counts[i][j]`` at ``steps[j]`` in bin ``i``
    (``edges``: ``len(counts) + 1`` bin edges shared by every step)."""

    run_id: str
    run_name: str
    steps: list[int]
    edges: list[float]
    counts: list[list[float]]


def kind_label(kind: str) -> str:
    """The kind's name as the views show it (in the session's language)."""
    labels = {"image": tr("image"), "table": tr("table"), "histogram": tr("histogram"), "text": tr("text"),
              "audio": tr("audio")}
    return labels.get(kind, kind)


def line_diff(a: str, b: str) -> list[tuple[str, str]]:
    """``(marker, line)`` for a line diff of ``a`` to ``b``: ``" "`` same, ``"-"`` only in a, ``"+"`` only in b."""
    out = []
    for line in difflib.ndiff(a.splitlines(), b.splitlines()):
        if line.startswith("? "):
            continue
        out.append((line[0], line[2:]))
    return out


class MediaPanelsModel(ViewModel):
    """Panels of every media key the runs of ``source`` logged (a RunBrowser, a Selection or run ids).

    Fields (notified by name): ``layout`` (keys or runs changed), ``items`` (new items, or a
    step, zoom or diff choice changed; :attr:`changed` names the keys), ``error``.
    """

    def __init__(self, source: Any = None, *, root: Any = None) -> None:
        super().__init__(root if root is not None else getattr(getattr(source, "model", None), "root", None))
        self.selection: Selection = as_selection(source)
        self.records: dict[str, dict[str, Any]] = {}
        self.panels: dict[str, MediaPanel] = {}
        self.items: Any = None  # the index rows (a DataFrame) of the runs that stored media
        #: key -> the step chosen on its slider (absent: "latest", the newest step)
        self.chosen: dict[str, int] = {}
        #: key -> zoomed in (images at twice the size)
        self.zoomed: set[str] = set()
        #: key -> (run a, run b) of its text diff
        self.diff_runs: dict[str, tuple[str, str]] = {}
        self.changed: frozenset[str] = frozenset()
        self._bytes: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._unsubscribe = self.selection.observe(lambda fields: self.reload() if "run_ids" in fields else None)
        self.reload()

    # -- derived ---------------------------------------------------------------------------------
    @property
    def run_ids(self) -> list[str]:
        return list(self.selection.run_ids)

    def name(self, run_id: str) -> str:
        record = self.records.get(run_id) or {}
        return str(record.get("name") or run_id)

    @property
    def has_media(self) -> bool:
        return bool(self.panels)

    def sections(self) -> list[MediaSection]:
        """Sections by key prefix (keys without one first, as "media"), panels by kind then key."""
        by_section: dict[str, list[MediaPanel]] = {}
        for panel in self.panels.values():
            by_section.setdefault(panel.section, []).append(panel)
        out = []
        for sid in sorted(by_section, key=lambda s: (s != PLAIN, s)):
            panels = sorted(by_section[sid], key=lambda p: (KINDS.index(p.kind) if p.kind in KINDS else 9, p.id))
            out.append(MediaSection(sid, tr("media") if sid == PLAIN else sid, panels))
        return out

    @property
    def empty_hint(self) -> str:
        if not self.run_ids:
            return tr("No runs selected")
        if not self.panels:
            return tr("No media logged yet")
        return ""

    def _rows(self, key: str, run_id: str | None = None) -> Any:
        frame = self.items
        if frame is None or not len(frame):
            return frame.iloc[0:0] if frame is not None else None
        rows = frame[frame["key"] == key]
        return rows[rows["run_id"] == run_id] if run_id is not None else rows

    def steps(self, key: str) -> list[int]:
        """The steps at which some run stored ``key``, in order."""
        rows = self._rows(key)
        return sorted({int(s) for s in rows["step"]}) if rows is not None and len(rows) else []

    def step(self, key: str) -> int | None:
        """The step ``key``'s panel shows: the chosen one, else (latest) the newest."""
        steps = self.steps(key)
        if not steps:
            return None
        chosen = self.chosen.get(key)
        return chosen if chosen in steps else steps[-1]

    def latest(self, key: str) -> bool:
        return key not in self.chosen

    def _at(self, key: str, run_id: str) -> Any:
        """The run's last item of ``key`` at or before the shown step (None when it has none)."""
        rows = self._rows(key, run_id)
        step = self.step(key)
        if rows is None or not len(rows) or step is None:
            return None
        before = rows[rows["step"] <= step]
        return before.iloc[-1] if len(before) else None

    def images(self, key: str) -> list[Shown]:
        """Per selected run (that stored ``key``): its image at the shown step."""
        out = []
        for rid in self.records:
            row = self._at(key, rid)
            if row is None:
                continue
            out.append(Shown(rid, self.name(rid), int(row["step"]), str(row["caption"] or ""), self._image_uri(row)))
        return out

    def tables(self, key: str) -> list[TableView]:
        out = []
        for rid in self.records:
            row = self._at(key, rid)
            if row is None:
                continue
            with self.guard(tr("Media")):
                frame = wb.load_media(row, root=self.root)
                image_columns = [c for c in frame.attrs.get("image_columns", []) if c in frame.columns]
                frame = frame.copy()
                frame.attrs = {}
                for column in image_columns:
                    frame[column] = [self._cell_uri(v) for v in frame[column]]
                out.append(TableView(rid, self.name(rid), int(row["step"]), str(row["caption"] or ""), frame,
                                     image_columns))
        return out

    def heatmaps(self, key: str) -> list[Heatmap]:
        """Per run, ``key``'s histograms over steps resampled onto shared bins (a heatmap's rows)."""
        import numpy as np

        out = []
        for rid in self.records:
            rows = self._rows(key, rid)
            if rows is None or not len(rows):
                continue
            rows = rows.drop_duplicates("step", keep="last")
            if len(rows) > HEAT_STEPS:  # evenly spaced steps, the last one kept
                picks = np.unique(np.linspace(0, len(rows) - 1, HEAT_STEPS).round().astype(int))
                rows = rows.iloc[picks]
            hists = [wb.load_media(row, root=self.root) for _, row in rows.iterrows()]
            low = min(float(h["edges"][0]) for h in hists)
            high = max(float(h["edges"][-1]) for h in hists)
            if high <= low:
                high = low + 1.0
            edges = np.linspace(low, high, HEAT_BINS + 1)
            columns = []
            for h in hists:
                centres = (h["edges"][:-1] + h["edges"][1:]) / 2
                counts, _ = np.histogram(centres, bins=edges, weights=h["counts"])
                columns.append(counts)
            matrix = np.stack(columns, axis=1) if columns else np.zeros((HEAT_BINS, 0))
            out.append(Heatmap(rid, self.name(rid), [int(s) for s in rows["step"]], [float(e) for e in edges],
                               [[float(v) for v in r] for r in matrix]))
        return out

    def texts(self, key: str) -> list[tuple[str, str, list[Shown]]]:
        """Per run: ``(run_id, name, items newest first)`` (at most :data:`LIST_MAX`)."""
        out = []
        for rid in self.records:
            rows = self._rows(key, rid)
            if rows is None or not len(rows):
                continue
            shown = [Shown(rid, self.name(rid), int(r["step"]), str(r["caption"] or ""),
                           text=self._text(r)) for _, r in rows.iloc[::-1].iloc[:LIST_MAX].iterrows()]
            out.append((rid, self.name(rid), shown))
        return out

    def text_runs(self, key: str) -> list[str]:
        """The runs that stored text under ``key``."""
        rows = self._rows(key)
        found = set(rows["run_id"]) if rows is not None and len(rows) else set()
        return [rid for rid in self.records if rid in found]

    def diff_pair(self, key: str) -> tuple[str, str] | None:
        runs = self.text_runs(key)
        chosen = self.diff_runs.get(key)
        if chosen and chosen[0] in runs and chosen[1] in runs:
            return chosen
        if len(runs) < 2:
            return None
        return runs[0], runs[1]

    def diff(self, key: str) -> list[tuple[str, str]]:
        """A line diff of the diff pair's texts of ``key`` at the shown step (see :func:`line_diff`)."""
        pair = self.diff_pair(key)
        if pair is None:
            return []
        texts = []
        for rid in pair:
            row = self._at(key, rid)
            texts.append(self._text(row) if row is not None else "")
        return line_diff(texts[0], texts[1])

    def sounds(self, key: str) -> list[Shown]:
        """Per run, its sounds of ``key`` newest first (at most :data:`LIST_MAX` each)."""
        out = []
        for rid in self.records:
            rows = self._rows(key, rid)
            if rows is None or not len(rows):
                continue
            for _, row in rows.iloc[::-1].iloc[:LIST_MAX].iterrows():
                out.append(Shown(rid, self.name(rid), int(row["step"]), str(row["caption"] or ""),
                                 self._audio_uri(row)))
        return out

    # -- actions ---------------------------------------------------------------------------------
    def reload(self) -> None:
        """Read the records of the runs and their media index again."""
        with self._lock, self.guard(tr("Media")):
            self.records = {}
            for rid in self.run_ids:
                record = wb.get_run(rid, root=self.root)
                self.records[str(record["id"])] = record
            self._read_items()
        self.changed = frozenset(self.panels)
        self.notify("layout", "items")

    def set_step(self, key: str, step: int | None) -> None:
        """Show ``key`` at ``step`` (None: "latest", following new steps)."""
        if step is None:
            if key not in self.chosen:
                return
            self.chosen = {k: v for k, v in self.chosen.items() if k != key}
        else:
            if self.chosen.get(key) == int(step):
                return
            self.chosen = {**self.chosen, key: int(step)}
        self._changed(key)

    def move_step(self, key: str, by: int) -> None:
        """Show the step ``by`` places before (negative) or after the shown one."""
        steps, now = self.steps(key), self.step(key)
        if now is None:
            return
        index = max(0, min(len(steps) - 1, steps.index(now) + by))
        self.set_step(key, steps[index])

    def set_zoom(self, key: str, zoomed: bool) -> None:
        if zoomed != (key in self.zoomed):
            self.zoomed = (self.zoomed | {key}) if zoomed else (self.zoomed - {key})
            self._changed(key)

    def set_diff(self, key: str, a: str, b: str) -> None:
        """Diff ``key``'s text of run ``a`` with run ``b``'s."""
        if (a, b) != self.diff_runs.get(key):
            self.diff_runs = {**self.diff_runs, key: (a, b)}
            self._changed(key)

    def poll(self) -> bool:
        """Re-read running runs; the index again only when a record's media counts moved."""
        with self._lock:
            moved = False
            for rid, record in list(self.records.items()):
                if record.get("status") not in LIVE:
                    continue
                try:
                    fresh = wb.get_run(rid, root=self.root)
                except wb.WorkbenchError:
                    continue
                if (fresh.get("status"), fresh.get("media")) != (record.get("status"), record.get("media")):
                    moved = moved or fresh.get("media") != record.get("media")
                    self.records[rid] = fresh
            if not moved:
                return False
            before = set(self.panels)
            with self.guard(tr("Media")):
                self._read_items()
            self.changed = frozenset(self.panels)
        self.notify(*(("layout", "items") if set(self.panels) != before else ("items",)))
        return True

    def close(self) -> None:
        self._unsubscribe()

    # -- internals -------------------------------------------------------------------------------
    def _changed(self, key: str) -> None:
        self.changed = frozenset({key})
        self.notify("items")

    def _read_items(self) -> None:
        with_media = [rid for rid, r in self.records.items() if r.get("media")]
        self.items = wb.media(with_media, root=self.root) if with_media else None
        panels: dict[str, MediaPanel] = {}
        if self.items is not None:
            for key, kind in self.items[["key", "kind"]].drop_duplicates("key", keep="last").itertuples(index=False):
                panels[str(key)] = MediaPanel(str(key), str(key), section_of(str(key)), str(kind))
        self.panels = panels

    def _blob(self, row: Any) -> bytes:
        return bytes(wb.load_media(row, raw=True, root=self.root))

    def _cached(self, kind: str, digest: str, make: Any) -> str:
        found = self._bytes.get((kind, digest))
        if found is None:
            try:
                found = make()
            except (wb.WorkbenchError, OSError, ValueError):
                found = ""
            self._bytes[(kind, digest)] = found
            while len(self._bytes) > _CACHE_MAX:
                self._bytes.popitem(last=False)
        else:
            self._bytes.move_to_end((kind, digest))
        return found

    def _image_uri(self, row: Any) -> str:
        mime = IMAGE_TYPES.get(str(row["format"]).lower())
        if mime is None:
            return ""
        return self._cached("image", str(row["digest"]),
                            lambda: f"data:{mime};base64," + base64.b64encode(self._blob(row)).decode("ascii"))

    def _audio_uri(self, row: Any) -> str:
        mime = AUDIO_TYPES.get(str(row["format"]).lower())
        if mime is None:
            return ""
        return self._cached("audio", str(row["digest"]),
                            lambda: f"data:{mime};base64," + base64.b64encode(self._blob(row)).decode("ascii"))

    def _text(self, row: Any) -> str:
        return self._cached("text", str(row["digest"]), lambda: str(wb.load_media(row, root=self.root)))

    def _cell_uri(self, value: Any) -> str:
        """A table's image cell (``wb-media:image:<digest>``) as a thumbnail's data: URI; "" otherwise."""
        match = CELL.match(value) if isinstance(value, str) else None
        if match is None:
            return ""
        digest = match.group(1)

        def thumbnail() -> str:
            image = wb.load_media({"kind": "image", "digest": digest}, root=self.root)
            image.thumbnail((THUMB, THUMB))
            if image.mode not in ("RGB", "RGBA", "L", "LA"):
                image = image.convert("RGBA")
            out = io.BytesIO()
            image.save(out, format="PNG")
            return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")

        return self._cached("thumb", digest, thumbnail)
