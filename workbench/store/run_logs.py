"""The captured output of a run (``runs/<id>/logs/stdout.log`` and ``stderr.log``), read from the end.

A long training run prints megabytes; a view that refreshes every two seconds wants the last lines
only, so the file is read backwards in blocks until enough lines are found.
"""

from __future__ import annotations

import os

from workbench.store.store import Store

__all__ = ["STREAMS", "read_logs"]

STREAMS = ("stdout", "stderr")
_BLOCK = 64 * 1024
_MAX_BYTES = 8 * 1024 * 1024  # a tail never reads more than this, whatever ``tail`` asks


def read_logs(store: Store, run_id: str, stream: str = "stdout", tail: int | None = 200) -> str:
    """The text of one stream of a run; ``tail`` keeps the last lines (``None``: everything)."""
    if stream not in STREAMS:
        raise ValueError(f"stream must be one of {', '.join(STREAMS)}, not {stream!r}")
    if tail is not None and (isinstance(tail, bool) or not isinstance(tail, int) or tail < 0):
        raise ValueError(f"tail must be a number of lines >= 0 or None, not {tail!r}")
    path = store.layout.logs_dir(store.resolve(run_id)) / f"{stream}.log"
    try:
        with path.open("rb") as file:
            data = file.read() if tail is None else _tail_bytes(file.fileno(), tail)
    except FileNotFoundError:
        return ""  # a run that printed nothing, or ran with capture_output off
    text = data.decode("utf-8", errors="replace")
    if tail is None:
        return text
    lines = text.splitlines(keepends=True)
    return "".join(lines[-tail:]) if tail else ""


def _tail_bytes(fd: int, lines: int) -> bytes:
    end = os.fstat(fd).st_size
    start = end
    chunks: list[bytes] = []
    newlines = 0
    while start > 0 and newlines <= lines and end - start < _MAX_BYTES:
        size = min(_BLOCK, start)
        start -= size
        chunk = os.pread(fd, size, start)
        chunks.append(chunk)
        newlines += chunk.count(b"\n")
    data = b"".join(reversed(chunks))
    if start > 0:  # the first line read may be cut: drop it
        cut = data.find(b"\n")
        data = data[cut + 1:] if cut >= 0 else data
    return data
