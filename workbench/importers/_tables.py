"""CSV and JSON Lines files: metric histories exported from anywhere (a spreadsheet, a W&B or
MLflow export, a script's log).

Two shapes, told apart by the header (the first object's keys in JSONL):

- **wide**: one row per step: a ``step`` column (``_step`` also works; without one the row's
  number in its run is the step), an optional time column (``time``, ``timestamp``,
  ``_timestamp`` or ``wall_time``: unix seconds, or ISO 8601 text; a time without a zone is UTC),
  and a key per other column. A cell left empty means no point of that key at that step.
- **long**: columns ``step``, ``key``, ``value`` (and optionally a time column): one point a row.

Either may carry a run column (``run``, ``run_id`` or ``name``: several runs in one file; the
source id of a run is that value, else the file's name), ``config.<name>`` columns (the run's
hyperparameters, typed: ``3`` an int, ``0.1`` a float, ``true`` a boolean, else text; the first
non-empty cell of the run), ``tags`` (``;``-separated in CSV, a list in JSONL), ``notes`` and
``status`` (a store status: ``completed``, ``failed``, ``running``...). A JSONL line may nest
objects: ``{"config": {"lr": 0.1}}`` is the run's config, ``{"val": {"acc": 0.9}}`` the key
``val/acc``.

Damage is reported per row, never a crash: a cell that is no number (``problems``, the cell
skipped), a row with too many or too few fields, a line that is no JSON, a truncated last line.
A column that holds text from its first cell on (a comment column) is not a metric: it is
skipped, said once in ``skipped``. The file is read once, a run's points kept as packed arrays
(24 bytes a point) until the writer has stored them.
"""

from __future__ import annotations

import csv as _csv
import json
import math
from array import array
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.errors import ImportSourceError
from workbench.importers._model import ImportedRun, Series

__all__ = ["read_csv", "read_jsonl"]

_RUN = ("run", "run_id", "name")
_STEP = ("step", "_step")
_TIME = ("time", "timestamp", "_timestamp", "wall_time")
_META = ("tags", "notes", "status")
_STATUSES = ("queued", "running", "completed", "failed", "cancelled", "crashed")
#: problems listed per run before the rest are only counted
_MAX_PROBLEMS = 100


class _Run:
    def __init__(self, source_id: str) -> None:
        self.source_id = source_id
        self.series: dict[str, tuple[array[int], array[float], array[float]]] = {}
        self.config: dict[str, Any] = {}
        self.tags: list[str] = []
        self.notes: str | None = None
        self.status: str | None = None
        self.problems: list[str] = []
        self.extra_problems = 0
        self.rows = 0
        self.first: float | None = None
        self.last: float | None = None

    def problem(self, text: str) -> None:
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(text)
        else:
            self.extra_problems += 1

    def point(self, key: str, step: int, value: float, when: float) -> None:
        found = self.series.get(key)
        if found is None:
            found = self.series[key] = (array("q"), array("d"), array("d"))
        found[0].append(step)
        found[1].append(value)
        found[2].append(when)


def _typed(text: Any) -> Any:
    """A CSV cell as the value it spells: int, float, boolean, else the text."""
    if not isinstance(text, str):
        return text
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    return value


def _number(cell: Any) -> float | None:
    """A metric value; None when the cell is no number."""
    if isinstance(cell, bool):
        return float(cell)
    if isinstance(cell, (int, float)):
        try:
            return float(cell)
        except OverflowError:
            return math.inf if cell > 0 else -math.inf
    if isinstance(cell, str):
        try:
            return float(cell)
        except ValueError:
            return None
    return None


def _step(cell: Any) -> int | None:
    if isinstance(cell, bool):
        return None
    if isinstance(cell, int):
        return cell if 0 <= cell < 2**63 else None
    value = _number(cell)
    if value is None or not math.isfinite(value) or value != int(value) or not 0 <= value < 2**63:
        return None
    return int(value)


def _time(cell: Any) -> float | None:
    value = _number(cell)
    if value is not None:
        return value if math.isfinite(value) and abs(value) <= 2**33 else None
    if isinstance(cell, str) and cell.strip():
        try:
            when = datetime.fromisoformat(cell.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return when.timestamp()
    return None


class _Table:
    """The rows of one file, turned into runs."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path = path
        self.columns = list(columns)
        names = set(self.columns)
        self.run_column = next((c for c in _RUN if c in names), None)
        self.step_column = next((c for c in _STEP if c in names), None)
        self.time_column = next((c for c in _TIME if c in names), None)
        self.long = "key" in names and "value" in names
        reserved = {self.run_column, self.step_column, self.time_column, *_META}
        if self.long:
            reserved |= {"key", "value"}
        self.keys = [c for c in self.columns if c not in reserved and not c.startswith("config.") and c != "config"]
        self.meta_columns = [c for c in self.columns if c.startswith("config.") or c == "config" or c in _META]
        self.text_columns: set[str] = set()
        self.numeric_columns: set[str] = set()
        self.runs: dict[str, _Run] = {}
        self.skipped: list[str] = []

    def run(self, row: dict[str, Any]) -> _Run:
        value = row.get(self.run_column) if self.run_column else None
        source_id = str(value) if value not in (None, "") else self.path.name
        found = self.runs.get(source_id)
        if found is None:
            found = self.runs[source_id] = _Run(source_id)
        return found

    def add(self, row: dict[str, Any], where: str) -> None:
        run = self.run(row)
        if self.step_column is not None:
            step = _step(row.get(self.step_column))
            if step is None:
                run.problem(f"{where}: step {row.get(self.step_column)!r} is not a whole number from 0: the row is "
                            "skipped")
                return
        else:
            step = run.rows
        run.rows += 1
        when = math.nan
        if self.time_column is not None and row.get(self.time_column) not in (None, ""):
            found = _time(row.get(self.time_column))
            if found is None:
                run.problem(f"{where}: time {row.get(self.time_column)!r} is neither unix seconds nor ISO 8601: "
                            "the row's points have no time of their own")
            else:
                when = found
                run.first = when if run.first is None else min(run.first, when)
                run.last = when if run.last is None else max(run.last, when)
        self._meta(run, row)
        if self.long:
            key, cell = row.get("key"), row.get("value")
            if key in (None, ""):
                run.problem(f"{where}: no key: the row is skipped")
                return
            value = _number(cell)
            if value is None:
                run.problem(f"{where}: value {cell!r} of {str(key)!r} is not a number: skipped")
                return
            run.point(str(key), step, value, when)
            return
        series = run.series
        text_columns = self.text_columns
        for key in self.keys:
            cell = row.get(key)
            if cell is None or cell == "" or key in text_columns:
                continue
            if type(cell) is str:  # the usual case (CSV): float() straight away
                try:
                    number: float | None = float(cell)
                except ValueError:
                    number = None
            else:
                number = _number(cell)
            if number is not None and key in self.numeric_columns:
                arrays = series.get(key)
                if arrays is not None:
                    arrays[0].append(step)
                    arrays[1].append(number)
                    arrays[2].append(when)
                    continue
            value = number
            if value is None:
                if key not in self.numeric_columns:  # text from its first cell on: not a metric
                    self.text_columns.add(key)
                    self.skipped.append(f"column {key!r} holds text ({str(cell)[:40]!r}): not a metric, "
                                        "not imported")
                    continue
                run.problem(f"{where}: {key!r} is {str(cell)[:80]!r}, not a number: the cell is skipped")
                continue
            self.numeric_columns.add(key)
            run.point(key, step, value, when)

    def _meta(self, run: _Run, row: dict[str, Any]) -> None:
        if not self.meta_columns:
            return
        for column in self.meta_columns:
            cell = row.get(column)
            if column == "config" and isinstance(cell, dict):
                for name, value in cell.items():
                    run.config.setdefault(str(name), value)
            elif isinstance(column, str) and column.startswith("config.") and cell not in (None, ""):
                run.config.setdefault(column[len("config."):], _typed(cell))
        tags = row.get("tags")
        if tags not in (None, "") and not run.tags:
            items = tags if isinstance(tags, list) else str(tags).split(";")
            run.tags = [str(t).strip() for t in items if str(t).strip()]
        notes = row.get("notes")
        if notes not in (None, "") and run.notes is None:
            run.notes = str(notes)
        status = row.get("status")
        if status not in (None, ""):
            run.status = str(status).strip().lower()

    def imported_runs(self, kind: str, problems: list[str]) -> Iterator[ImportedRun]:
        source = str(self.path)
        for run in self.runs.values():
            status = run.status or "completed"
            extra = list(problems) + run.problems
            if run.extra_problems:
                extra.append(f"... and {run.extra_problems} more rows with problems")
            if status not in _STATUSES:
                extra.append(f"status {status!r} is not one of {', '.join(_STATUSES)}: recorded as completed")
                status = "completed"
            yield ImportedRun(
                kind, source, run.source_id, name=run.source_id if self.run_column else self.path.stem,
                config=run.config, tags=run.tags, notes=run.notes, status=status,
                start_time=run.first, end_time=run.last, series=_series_of(run), skipped=list(self.skipped),
                problems=extra,
            )
            run.series = {}  # stored: the memory goes


def _series_of(run: _Run) -> Any:
    def series() -> Iterator[Series]:
        import numpy as np

        for key, (steps, values, times) in list(run.series.items()):
            when: Any = np.frombuffer(times, dtype=np.float64) if len(times) else np.zeros(0)
            # numpy arrays: the writer converts them without a copy (typed as the model's sequences)
            at: Any = np.frombuffer(steps, dtype=np.int64) if len(steps) else np.zeros(0, np.int64)
            got: Any = np.frombuffer(values, dtype=np.float64) if len(values) else np.zeros(0)
            yield Series(key, at, got, None if bool(np.isnan(when).all()) else when)
    return series


def _open(source: str, kind: str) -> Path:
    path = Path(source).expanduser()
    if not path.exists():
        raise ImportSourceError(f"{kind} file {source!r} does not exist; check the path")
    if not path.is_file():
        raise ImportSourceError(f"{kind} source {source!r} is not a file; give the {kind} file itself")
    return path.absolute()


def _ends_with_newline(path: Path) -> bool:
    size = path.stat().st_size
    if size == 0:
        return True
    with open(path, "rb") as handle:
        handle.seek(size - 1)
        return handle.read(1) in (b"\n", b"\r")


def read_csv(sources: Sequence[str], **options: Any) -> Iterator[ImportedRun]:
    """The runs of each CSV file in ``sources`` (see the module docstring)."""
    for source in sources:
        path = _open(source, "csv")
        problems: list[str] = []
        try:
            handle = open(path, newline="", encoding="utf-8-sig", errors="replace")  # noqa: SIM115
        except OSError as exc:
            raise ImportSourceError(f"csv file {source!r} cannot be read: {exc.strerror}") from exc
        with handle:
            reader = _csv.reader(handle)
            try:
                header = next(reader)
            except StopIteration:
                raise ImportSourceError(f"csv file {source!r} is empty; it needs a header row") from None
            except _csv.Error as exc:
                raise ImportSourceError(f"csv file {source!r} has no readable header ({exc})") from None
            header = [h.strip() for h in header]
            if len(set(header)) != len(header):
                raise ImportSourceError(f"csv file {source!r} names a column twice in its header; rename one")
            table = _Table(path, header)
            complete = _ends_with_newline(path)
            fast = _fast_wide(table) if complete and not table.long else False
            if fast:
                yield from table.imported_runs("csv", problems)
                continue
            width = len(header)
            pending: tuple[int, list[str]] | None = None
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    break
                except _csv.Error as exc:
                    problems.append(f"line {reader.line_num}: {exc}: skipped")
                    continue
                if pending is not None:
                    _csv_row(table, *pending, width)
                pending = (reader.line_num, fields)
            if pending is not None:
                line, fields = pending
                if not complete and len(fields) != width:
                    table.run(dict(zip(header, fields))).problem(
                        f"line {line}: the last line is cut short ({len(fields)} of {width} fields): skipped")
                else:
                    _csv_row(table, line, fields, width)
        if not table.runs:
            raise ImportSourceError(f"csv file {source!r} has a header but no row that could be read"
                                    + (f" ({problems[0]})" if problems else ""))
        yield from table.imported_runs("csv", problems)


def _fast_wide(table: _Table) -> bool:
    """A clean wide CSV file (every row as wide as the header, every metric cell a number or
    empty, whole steps, numeric times), read by pyarrow a block (16 MiB) at a time, column by
    column: True when it was, False (``table`` left empty) when the file needs the row-by-row
    reader, which reports each damaged row by its line."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    refused: list[Any] = []

    def refuse(row: Any) -> str:
        refused.append(row)
        return "skip"

    columns = table.columns
    pieces: dict[str, dict[str, list[tuple[Any, Any, Any]]]] = {}
    try:
        reader = pacsv.open_csv(
            table.path, read_options=pacsv.ReadOptions(column_names=columns, skip_rows=1, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(invalid_row_handler=refuse, newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(columns, pa.string()),
                                                 strings_can_be_null=True, quoted_strings_can_be_null=True))
        with reader:
            for batch in reader:
                if refused or not _fast_block(table, batch, pieces):
                    raise ValueError("not clean")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, UnicodeDecodeError, ValueError):
        table.runs.clear()
        return False
    if refused or not table.runs:
        table.runs.clear()
        return False
    import numpy as np

    for name, keys in pieces.items():
        run = table.runs[name]
        for key, parts in keys.items():
            run.series[key] = tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[assignment]
        keys.clear()
    return True


def _fast_block(table: _Table, batch: Any, pieces: dict[str, dict[str, list[tuple[Any, Any, Any]]]]) -> bool:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rows_in = batch.num_rows
    if not rows_in:
        return True

    def numbers(name: str) -> Any:
        return pc.cast(pc.utf8_trim_whitespace(batch.column(name)), pa.float64())

    if table.step_column is not None:
        raw = numbers(table.step_column)
        if raw.null_count:
            return False
        steps_f = raw.to_numpy()
        if not (np.isfinite(steps_f).all() and (steps_f >= 0).all() and (steps_f < 2**63).all()):
            return False
        steps = steps_f.astype(np.int64)
        if not (steps == steps_f).all():
            return False
    else:
        steps = None
    times = np.full(rows_in, np.nan)
    if table.time_column is not None:
        times = np.asarray(numbers(table.time_column).to_numpy(zero_copy_only=False), dtype=np.float64)
        if (np.abs(times[np.isfinite(times)]) > 2**33).any():
            return False
    arrays = {}
    for key in table.keys:
        column = numbers(key)  # ArrowInvalid on a cell that is no number: the row reader says which
        arrays[key] = (np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64),
                       ~np.asarray(column.is_null().to_numpy(zero_copy_only=False)))
    if table.run_column is not None:
        encoded = pc.dictionary_encode(batch.column(table.run_column))
        if encoded.null_count:
            return False  # rows without a run: the row reader names them after the file
        names = encoded.dictionary.to_pylist()
        codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False))
    else:
        names, codes = [table.path.name], np.zeros(rows_in, np.int64)
    meta_rows = {c: batch.column(c).to_pylist() for c in table.meta_columns}
    for index in dict.fromkeys(codes.tolist()) if len(names) > 1 else [0]:
        name = names[index]
        run = table.runs.get(name)
        if run is None:
            run = table.runs[name] = _Run(name)
        rows = np.flatnonzero(codes == index) if len(names) > 1 else np.arange(rows_in)
        run_steps = steps[rows] if steps is not None else np.arange(run.rows, run.rows + len(rows), dtype=np.int64)
        run.rows += len(rows)
        run_times = times[rows]
        finite = run_times[np.isfinite(run_times)]
        if len(finite):
            low, high = float(finite.min()), float(finite.max())
            run.first = low if run.first is None else min(run.first, low)
            run.last = high if run.last is None else max(run.last, high)
        keys = pieces.setdefault(name, {})
        for key, (got, present_all) in arrays.items():
            present = present_all[rows]
            if present.any():
                keys.setdefault(key, []).append((run_steps[present], got[rows][present], run_times[present]))
        for c, cells in meta_rows.items():  # status: the last given; the rest: the first
            for position in (reversed(rows.tolist()) if c == "status" else rows.tolist()):
                if cells[position] not in (None, ""):
                    table._meta(run, {c: cells[position]})
                    break
    return True


def _csv_row(table: _Table, line: int, fields: list[str], width: int) -> None:
    if not fields or (len(fields) == 1 and not fields[0].strip()):
        return  # a blank line
    if len(fields) != width:
        row = dict(zip(table.columns, fields))
        table.run(row).problem(f"line {line}: {len(fields)} fields where the header has {width}: skipped")
        return
    table.add(dict(zip(table.columns, fields)), f"line {line}")


def _flatten(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and not (prefix == "" and key == "config"):
            out.update(_flatten(value, f"{name}/"))
        else:
            out[name] = value
    return out


def read_jsonl(sources: Sequence[str], **options: Any) -> Iterator[ImportedRun]:
    """The runs of each JSON Lines file in ``sources`` (see the module docstring)."""
    for source in sources:
        path = _open(source, "jsonl")
        problems: list[str] = []
        rows: list[tuple[int, dict[str, Any]]] = []
        columns: dict[str, None] = {}
        try:
            handle = open(path, "rb")  # noqa: SIM115
        except OSError as exc:
            raise ImportSourceError(f"jsonl file {source!r} cannot be read: {exc.strerror}") from exc
        table: _Table | None = None
        with handle:
            for number, raw in enumerate(handle, 1):
                if not raw.strip():
                    continue
                try:
                    row = json.loads(raw)
                except (ValueError, RecursionError) as exc:
                    if not raw.endswith(b"\n"):
                        problems.append(f"line {number}: the last line is cut short: skipped")
                    else:
                        problems.append(f"line {number} is not JSON ({str(exc)[:80]}): skipped")
                    continue
                if not isinstance(row, dict):
                    problems.append(f"line {number} is {type(row).__name__}, not an object: skipped")
                    continue
                row = _flatten(row)
                if table is None:
                    # the columns are those of the first rows; a key that first shows up later is
                    # a key all the same
                    rows.append((number, row))
                    columns.update(dict.fromkeys(row))
                    if len(rows) >= 100:
                        table = _flush_rows(path, columns, rows)
                    continue
                for key in row:
                    if key not in columns and not key.startswith("config"):
                        columns[key] = None
                        table.keys.append(key)
                table.add(row, f"line {number}")
        if table is None:
            if not rows:
                raise ImportSourceError(f"jsonl file {source!r} holds no object; one JSON object per line") \
                    if not problems else ImportSourceError(f"jsonl file {source!r}: no line could be read "
                                                           f"({problems[0]})")
            table = _flush_rows(path, columns, rows)
        yield from table.imported_runs("jsonl", problems)


def _flush_rows(path: Path, columns: dict[str, None], rows: list[tuple[int, dict[str, Any]]]) -> _Table:
    table = _Table(path, list(columns))
    for number, row in rows:
        table.add(row, f"line {number}")
    rows.clear()
    return table
