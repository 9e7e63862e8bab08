"""Nested config as dotted keys, the way ``workbench.runs()`` names its ``config.*`` columns,
and values as short text for tables. Shared by RunDetail and ConfigDiff."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["flatten", "text"]


def flatten(value: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    """``{"opt": {"lr": 1}}`` -> ``{"opt.lr": 1}``; an empty dict stays a value (``{}``)."""
    out: dict[str, Any] = {}
    for key, item in (value or {}).items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            out.update(flatten(item, name + "."))
        else:
            out[name] = item
    return out


def text(value: Any) -> str:
    """A value as a table shows it: ``0.0003``, ``adam``, ``[1, 2]``; empty for missing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=str)
    return str(value)
