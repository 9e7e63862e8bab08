"""Datasets: tables (CSV, TSV, JSON array, JSONL, parquet) checked before they are logged.

Each table is checked for its size (``dataset_max_bytes``), UTF-8 text (the byte offset and line
of the first bad byte are named), a header without empty or repeated names, rows of one width
(CSV) or objects with one set of keys (JSON), at least one row, at most ``dataset_max_rows``
rows, and any ``required`` columns. What it finds (rows, columns, schema, a preview) goes into
the version's ``metadata["dataset"]``. pyarrow is imported here only.
"""

from __future__ import annotations

import codecs
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from workbench.errors import DatasetError
from workbench.settings import Settings

__all__ = ["FORMATS", "describe_dataset", "describe_table", "table_format"]

FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
PREVIEW_ROWS = 5
_PREVIEW_CHARS = 200
_PREVIEW_DEPTH = 8  # a deeper value is previewed as its JSON text: the manifest allows 32 levels in all
_BLOCK = 1 << 20


def table_format(path: str) -> str | None:
    """The table format of a file name, or None for other files."""
    return FORMATS.get(os.path.splitext(path)[1].lower())


def _check_utf8(path: Path, shown: str) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0  # bytes of the file handed to the decoder so far
    with open(path, "rb") as handle:
        while True:
            block = handle.read(_BLOCK)
            pending = len(decoder.getstate()[0])  # bytes of a character cut by the last block
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                bad = offset - pending + max(exc.start, 0)
                with open(path, "rb") as again:
                    head = again.read(bad + 1)
                line = head.count(b"\n") + 1
                raise DatasetError(
                    f"{shown} is not UTF-8: the byte at offset {bad} (line {line}) is {head[bad:]!r}; "
                    "re-save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
                ) from None
            if not block:
                return
            offset += len(block)


def _depth(value: Any) -> int:
    """Levels of arrays and objects in ``value`` (a short one: its JSON text is a preview's)."""
    if isinstance(value, dict):
        return 1 + max((_depth(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(item) for item in value), default=0)
    return 0


def _preview_value(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _PREVIEW_CHARS:
        return value[:_PREVIEW_CHARS] + "..."
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, (dict, list)):
        text = json.dumps(value, default=str, ensure_ascii=False)
        if len(text) <= _PREVIEW_CHARS and _depth(value) <= _PREVIEW_DEPTH:
            return value
        return text if len(text) <= _PREVIEW_CHARS else text[:_PREVIEW_CHARS] + "..."
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


def _ragged_row(path: Path, delimiter: str) -> str:
    import csv

    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, [])
        for row in reader:
            if row and len(row) != len(header):
                return (
                    f"line {reader.line_num} has {len(row)} fields but the header has "
                    f"{len(header)} ({', '.join(header)[:120]})"
                )
    return "rows of different widths"


def _read_csv(path: Path, shown: str, delimiter: str) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        return pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter=delimiter))
    except pa.ArrowInvalid as exc:
        message = str(exc)
        if "Expected" in message and "columns" in message:
            raise DatasetError(
                f"{shown} has ragged rows: {_ragged_row(path, delimiter)}; fix those lines (quote "
                "fields that hold the delimiter)"
            ) from exc
        raise DatasetError(
            f"{shown} could not be read as {'TSV' if delimiter == chr(9) else 'CSV'}: {message}"
        ) from exc


def _check_keys(rows: Iterable[Any], shown: str, first_line: int) -> int:
    """Each row an object with the keys of the first; the count of rows."""
    keys: list[str] | None = None
    count = 0
    for number, row in enumerate(rows, first_line):
        if not isinstance(row, dict):
            raise DatasetError(
                f"{shown}: row {number} is {type(row).__name__}, not an object; "
                'each row must be an object like {"text": ..., "label": ...}'
            )
        if keys is None:
            keys = list(row)
        elif len(row) != len(keys) or not all(k in row for k in keys):
            missing = [k for k in keys if k not in row]
            extra = [k for k in row if k not in keys]
            raise DatasetError(
                f"{shown}: row {number} has inconsistent columns (missing {missing}, extra {extra}) "
                f"compared with the first row ({', '.join(keys)[:120]}); give every row the same keys "
                "(use null for a missing value)"
            )
        count += 1
    return count


def _jsonl_rows(path: Path, shown: str) -> Iterable[Any]:
    with open(path, encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError as exc:
                raise DatasetError(f"{shown}: line {number} is not valid JSON ({exc})") from None
            except RecursionError:
                raise DatasetError(_too_deep(f"{shown}: line {number}")) from None


def _too_deep(where: str) -> str:
    return (
        f"{where} nests arrays or objects too deeply to read (Python's JSON reader stops near "
        f"{sys.getrecursionlimit()} levels); flatten those values, or store them as JSON text in a string column"
    )


def _read_json(path: Path, shown: str, fmt: str) -> Any:
    import pyarrow as pa

    if fmt == "jsonl":
        rows = _check_keys(_jsonl_rows(path, shown), shown, 1)
        if rows == 0:
            raise DatasetError(f"{shown} holds no rows; a JSONL dataset has one JSON object per line")
        import pyarrow.json as pajson

        try:
            return pajson.read_json(path)
        except pa.ArrowInvalid as exc:
            raise DatasetError(f"{shown}: {exc}; give each column values of one type") from exc
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except ValueError as exc:
        raise DatasetError(f"{shown} is not valid JSON ({exc})") from None
    except RecursionError:
        raise DatasetError(_too_deep(shown)) from None
    if not isinstance(data, list):
        raise DatasetError(
            f"{shown} holds a JSON {type(data).__name__}; a JSON dataset is an array of "
            "objects (or use JSONL, one object per line)"
        )
    _check_keys(data, shown, 1)
    try:
        return pa.Table.from_pylist(data)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DatasetError(f"{shown}: {exc}; give each column values of one type") from exc


def describe_table(
    path: Path, shown: str, settings: Settings, required: Sequence[str] = ()
) -> dict[str, Any]:
    """Check one table file and describe it: format, rows, columns, schema, preview."""
    try:
        return _describe_table(path, shown, settings, required)
    except RecursionError:  # a value nested just under the reader's limit, deeper in a library
        raise DatasetError(_too_deep(shown)) from None


def _describe_table(path: Path, shown: str, settings: Settings, required: Sequence[str]) -> dict[str, Any]:
    fmt = table_format(path.name)
    if fmt is None:
        raise DatasetError(f"{shown} is not a table; datasets are {', '.join(sorted(set(FORMATS)))} files")
    size = path.stat().st_size
    if size == 0:
        raise DatasetError(f"{shown} is empty (0 bytes); a dataset needs a header and at least one row")
    if size > settings.dataset_max_bytes:
        raise DatasetError(
            f"{shown} is {size:,} bytes, over the dataset size limit of {settings.dataset_max_bytes:,}; "
            "raise the `dataset_max_bytes` setting (workbench.toml or WORKBENCH_DATASET_MAX_BYTES) "
            "or split the file"
        )
    import pyarrow as pa

    preview: list[dict[str, Any]]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(path)
            rows = parquet.metadata.num_rows
            schema = parquet.schema_arrow
            first = next(parquet.iter_batches(batch_size=PREVIEW_ROWS), None)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DatasetError(f"{shown} is not a readable parquet file: {exc}") from exc
        preview = first.to_pylist() if first is not None else []
    else:
        _check_utf8(path, shown)
        if fmt in ("csv", "tsv"):
            table = _read_csv(path, shown, "," if fmt == "csv" else "\t")
        else:
            table = _read_json(path, shown, fmt)
        rows, schema = table.num_rows, table.schema
        preview = table.slice(0, PREVIEW_ROWS).to_pylist()
    columns = list(schema.names)
    if any(not str(c).strip() for c in columns):
        position = [str(c).strip() for c in columns].index("") + 1
        raise DatasetError(
            f"{shown} has a column without a name (column {position}); name every column in the header"
        )
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise DatasetError(
            f"{shown} repeats column name(s) {', '.join(map(repr, repeated))}; make them unique"
        )
    if rows == 0:
        raise DatasetError(f"{shown} has a header but no rows; a dataset needs at least one row")
    if rows > settings.dataset_max_rows:
        raise DatasetError(
            f"{shown} has {rows:,} rows, over the limit of {settings.dataset_max_rows:,}; raise the "
            "`dataset_max_rows` setting (workbench.toml or WORKBENCH_DATASET_MAX_ROWS) or split the file"
        )
    missing = [c for c in required if c not in columns]
    if missing:
        raise DatasetError(
            f"{shown} lacks required column(s) {', '.join(map(repr, missing))}; it has "
            f"{', '.join(map(repr, columns))[:200]}: rename a column or pick the right file"
        )
    return {
        "format": fmt,
        "rows": int(rows),
        "columns": columns,
        "schema": {name: str(schema.field(name).type) for name in columns},
        "preview": [{k: _preview_value(v) for k, v in row.items()} for row in preview[:PREVIEW_ROWS]],
    }


def describe_dataset(
    files: Sequence[tuple[str, Path]], settings: Settings, required: Sequence[str] | None = None
) -> dict[str, Any]:
    """Check every table among ``files``; the ``metadata["dataset"]`` of the version.

    One table: its description. Several: the first one's columns, schema and preview, the total
    ``rows``, and each table under ``tables``.
    """
    required = [str(c) for c in (required or ())]
    tables = {rel: real for rel, real in files if table_format(rel) is not None}
    if not tables:
        raise DatasetError(
            f"no table among {', '.join(rel for rel, _ in files[:5])}; a dataset holds "
            f"{', '.join(sorted(set(FORMATS.values())))} files"
        )
    described = {rel: describe_table(real, rel, settings, required) for rel, real in tables.items()}
    first = next(iter(described.values()))
    info = dict(first)
    info["rows"] = sum(d["rows"] for d in described.values())
    if required:
        info["required"] = required
    if len(described) > 1:
        info["format"] = "mixed" if len({d["format"] for d in described.values()}) > 1 else first["format"]
        info["tables"] = {rel: {k: v for k, v in d.items() if k != "preview"} for rel, d in described.items()}
    return info
