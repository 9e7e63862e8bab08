"""Formatting shared by the views: status colours, durations, sizes, times."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

#: status -> colour (CSS), the same in every view and both toolkits
STATUS_COLORS = {
    "running": "#1f77b4",
    "completed": "#2ca02c",
    "failed": "#d62728",
    "crashed": "#9467bd",
    "cancelled": "#7f7f7f",
    "queued": "#ff7f0e",
}


def status_color(status: str | None) -> str:
    return STATUS_COLORS.get(status or "", "#444444")


def duration(seconds: float | None) -> str:
    """``1h 02m``, ``3m 05s``, ``12.3s``; empty for unknown."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return ""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def size(num: float | None) -> str:
    """Bytes as ``1.5 MiB``."""
    if num is None:
        return ""
    value = float(num)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def when(value: Any) -> str:
    """A timestamp (epoch seconds, datetime, or ISO text) as local ``YYYY-MM-DD HH:MM:SS``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(float(value), tz=timezone.utc)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if hasattr(value, "to_pydatetime"):  # a pandas Timestamp: nanoseconds do not show anyway
        value = value.to_pydatetime(warn=False) if hasattr(value, "nanosecond") else value.to_pydatetime()
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return str(value.astimezone().strftime("%Y-%m-%d %H:%M:%S"))
    return str(value)
