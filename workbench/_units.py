"""Byte counts as people read them (``1.5 MiB``), for messages of every room and the CLI.

The views keep their own copy in ``workbench/ui/_format.py``: ``workbench/ui`` may use only the
rooms' public functions (tests/ui/test_structure.py).
"""

from __future__ import annotations

__all__ = ["human_bytes"]


def human_bytes(value: float) -> str:
    """``1536`` -> ``1.5 KiB``; whole bytes below 1 KiB."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
