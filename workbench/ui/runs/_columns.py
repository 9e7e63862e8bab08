"""Which ``config.*`` / ``summary.*`` columns the Runs table shows by default, and which keys of a
filter no run has (for the zero-result hint). Plain functions over DataFrames of :func:`workbench.runs`."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

#: varying config keys and most-logged summary keys shown by default
DEFAULT_CONFIG = 5
DEFAULT_SUMMARY = 5
#: saved column choices longer than this are not one the app wrote
MAX_SAVED = 200

#: ``config.KEY`` / ``summary.KEY`` in a filter: bare (dotted, ``/`` and ``-`` allowed), "quoted" or `quoted`
_FIELD = re.compile(r'(?<![\w."`])(config|summary)\.("(?:[^"\\]|\\.)*"|`[^`]*`|[A-Za-z0-9_][A-Za-z0-9_./-]*)')
#: what define_metric adds after a summary key (``summary.loss.min``)
_AGGREGATES = (".min", ".max", ".mean", ".first", ".last", ".best")


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, dict, tuple, set)) or hasattr(value, "tolist"):
        try:
            return json.dumps(value.tolist() if hasattr(value, "tolist") else value, sort_keys=True, default=str)
        except (TypeError, ValueError):
            return str(value)
    return value


def default_columns(recent: pd.DataFrame) -> list[str]:
    """The config keys whose values vary across ``recent`` (most runs having them first), then
    the summary keys most runs logged; up to :data:`DEFAULT_CONFIG` + :data:`DEFAULT_SUMMARY`."""
    present = {c: int(recent[c].notna().sum()) for c in recent.columns
               if str(c).startswith(("config.", "summary."))}
    varying = []
    for column, count in present.items():
        if not column.startswith("config.") or count == 0:
            continue
        values = recent[column].dropna().map(_hashable)
        if values.nunique() > 1:
            varying.append((-count, column))
    logged = [(-count, column) for column, count in present.items()
              if column.startswith("summary.") and count and not column.startswith("summary._")]
    return ([c for _, c in sorted(varying)][:DEFAULT_CONFIG]
            + [c for _, c in sorted(logged)][:DEFAULT_SUMMARY])


def checked_columns(saved: Any) -> list[str] | None:
    """Column choices read back from the store (hostile): a list of ``config.*``/``summary.*`` strings."""
    if not isinstance(saved, list) or len(saved) > MAX_SAVED:
        return None
    if not all(isinstance(c, str) and c.startswith(("config.", "summary.")) and len(c) <= 1100 for c in saved):
        return None
    return list(dict.fromkeys(saved))


def filter_keys(where: str) -> list[str]:
    """The ``config.KEY`` / ``summary.KEY`` fields a filter names, as column labels (unquoted)."""
    found = []
    for kind, written in _FIELD.findall(where or ""):
        key = written
        if written[:1] == '"':
            key = re.sub(r"\\(.)", r"\1", written[1:-1])
        elif written[:1] == "`":
            key = written[1:-1]
        found.append(f"{kind}.{key}")
    return list(dict.fromkeys(found))


def unknown_keys(where: str, known: Iterable[str]) -> dict[str, list[str]]:
    """``{field: closest known fields}`` for each field of ``where`` that no run has."""
    known = set(known)
    out: dict[str, list[str]] = {}
    for label in filter_keys(where):
        base = next((label[: -len(a)] for a in _AGGREGATES if label.startswith("summary.") and label.endswith(a)),
                    label)
        if label in known or base in known:
            continue
        same_kind = sorted(k for k in known if k.startswith(label.split(".", 1)[0] + "."))
        out[label] = difflib.get_close_matches(label, same_kind, n=3, cutoff=0.6) or difflib.get_close_matches(
            label, sorted(known), n=3, cutoff=0.6)
    return out
