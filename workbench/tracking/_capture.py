"""Tee of sys.stdout / sys.stderr into a run's log files."""

from __future__ import annotations

import io
import sys
from typing import Any, TextIO

__all__ = ["Tee"]


class Tee(io.TextIOBase):
    """Writes go to the wrapped stream and to ``file``; detached, it passes writes through only."""

    def __init__(self, stream: TextIO, file: TextIO) -> None:
        self._stream = stream
        self._file: TextIO | None = file

    def write(self, text: str) -> int:
        n = self._stream.write(text)
        file = self._file
        if file is not None:
            try:
                file.write(text)
            except (OSError, ValueError):  # a full disk must not break the user's print()
                self.detach_file()
        return n if n is not None else len(text)

    def flush(self) -> None:
        self._stream.flush()
        self.flush_file()

    def flush_file(self) -> None:
        file = self._file
        if file is not None:
            try:
                file.flush()
            except (OSError, ValueError):
                self.detach_file()

    def detach_file(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except (OSError, ValueError):  # close flushes: a full disk fails here too; the fd is closed
                pass

    @property
    def wrapped(self) -> TextIO:
        return self._stream

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", "utf-8")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def install(name: str, file: TextIO) -> Tee:
    stream = getattr(sys, name)
    tee = Tee(stream, file)
    setattr(sys, name, tee)
    return tee


def uninstall(name: str, tee: Tee) -> None:
    tee.flush_file()
    tee.detach_file()
    if getattr(sys, name) is tee:
        setattr(sys, name, tee.wrapped)
    # else another tee wraps ours: ours now only passes writes through
