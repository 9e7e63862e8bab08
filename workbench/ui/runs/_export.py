"""The Runs table as CSV: stored text stays text in a spreadsheet too.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to
Excel, LibreOffice and Google Sheets (``=HYPERLINK(...)``, ``@SUM(...)``); such text gets a leading
``'`` (OWASP, "CSV Injection"). Numbers are written as numbers (``-0.5`` stays a number).
"""

from __future__ import annotations

import csv
import io
import math
import numbers
from collections.abc import Sequence
from typing import Any

from workbench.ui import _format

#: first characters that make a spreadsheet cell a formula
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(text: str) -> str:
    """Stored text as a CSV cell that a spreadsheet shows as text."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell(column: str, value: Any) -> Any:
    """One value of the table as a CSV cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if column == "created":
        return text_cell(_format.when(value))
    if column == "tags":
        return text_cell(", ".join(str(t) for t in value) if len(value) else "")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Real):
        return value
    return text_cell(str(value))


def to_csv(rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([text_cell(str(c)) for c in columns])
    for row in rows:
        writer.writerow([cell(c, v) for c, v in zip(columns, row)])
    return out.getvalue()
