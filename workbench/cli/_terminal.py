r"""Stored text on a terminal: shown, never obeyed. The one way the commands print.

Run names, tags, notes, keys, values, artifact and file names, job and remote names, error
messages: a training script, a teammate or a synced remote wrote them, and a terminal obeys
what they may hold. ``\x1b[2J`` clears the screen, ``\x1b]0;...\x07`` sets the window title (or,
in some terminals, writes a file or a clipboard), ``\r`` and ``\x08`` write over what was
printed, ``\x9b`` is the one-byte form of ESC [ , and ``\u202e`` turns the rest of a line around.

So every command prints through :func:`echo` (lines it composed), :func:`table` (rows of
stored values) or :func:`dumps` (``--json``); ``tests/cli/test_terminal_escapes.py`` fails when
a command prints any other way. The notation is Python's string-literal one, the one ``repr``
uses: each character that ``str.isprintable`` calls unprintable (C0 controls, DEL, C1 controls
U+0080-U+009F, Unicode format characters such as bidi overrides and isolates U+202A-U+202E and
U+2066-U+2069 and zero-width characters, line and paragraph separators, lone surrogates) is
shown as ``\t``, ``\n``, ``\r``, ``\xHH``, ``\uHHHH`` or ``\UHHHHHHHH``. A backslash stays as it
is, so ``\x1b`` on screen is either an ESC byte or those four characters in the text; the
``--json`` output tells them apart. JSON output keeps valid JSON: such characters are written
as JSON's ``\uHHHH`` escapes, so a program reading it gets the exact text back.

``workbench jobs logs`` is the one exception: it prints the job's own output as the job wrote it.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

__all__ = ["PROGRESS_CHOICES", "confirm", "dumps", "echo", "progress", "table", "visible"]

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_LAYOUT = "\n\t"  # what echo() passes through: the line breaks and tabs a command writes itself


def _escape(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(value: Any) -> str:
    r"""``value`` as text on one line, every unprintable character shown in its escape.

    For one field or table cell: line breaks and tabs are shown too (``\n``, ``\t``).

    Examples
    --------
    >>> visible("loss\x1b[2J\u202e")
    'loss\\x1b[2J\\u202e'
    """
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def _lines(text: str) -> str:
    """``text`` with every unprintable character escaped but its line breaks and tabs."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() or char in _LAYOUT else _escape(char) for char in text)


def echo(text: Any = "", *, err: bool = False, end: str = "\n", flush: bool = False) -> None:
    """Print ``text``, a line (or lines) the command composed, to stdout (``err``: stderr).

    Unprintable characters are shown escaped, except the line breaks and tabs that lay the text
    out: a stored value put into ``text`` goes through :func:`visible` first, so that its own
    line breaks cannot fake a line of output.
    """
    stream = sys.stderr if err else sys.stdout
    stream.write(_lines(text if isinstance(text, str) else str(text)) + end)
    if flush:
        stream.flush()


def confirm(question: str) -> bool:
    """Ask a yes/no ``question`` (shown as :func:`echo` shows text) when stdin is a terminal; else no."""
    if not sys.stdin.isatty():
        return False
    echo(f"{question} [y/N] ", end="", flush=True)
    return input().strip().lower() in ("y", "yes")


def table(rows: Iterable[Sequence[Any]], header: Sequence[str], *, empty: str = "(none)") -> None:
    """Print ``rows`` under ``header`` in aligned columns, each cell through :func:`visible`."""
    cells = [[visible(cell) for cell in row] for row in rows]
    if not cells:
        echo(empty)
        return
    titles = [visible(title) for title in header]
    widths = [max(len(row[i]) for row in [titles, *cells]) for i in range(len(titles))]
    for row in [titles, *cells]:
        echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def dumps(value: Any, *, indent: int | None = None, default: Any = str) -> str:
    r"""``value`` as JSON for a terminal: valid JSON, every unprintable character as ``\uHHHH``.

    Examples
    --------
    >>> dumps({"name": "a\x9b2J"})
    '{"name": "a\\u009b2J"}'
    """
    text = json.dumps(value, indent=indent, ensure_ascii=False, default=default)
    if text.replace("\n", "").isprintable():
        return text
    out = []
    for char in text:
        if char.isprintable() or char == "\n":  # a raw line break is indentation: json escapes the others
            out.append(char)
            continue
        code = ord(char)
        if code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:  # JSON writes a character beyond the BMP as a surrogate pair
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
    return "".join(out)


#: ``--progress`` of the store-wide commands (``reindex``, ``fsck``, ``gc``), as ``sync`` has it
PROGRESS_CHOICES = ("auto", "always", "never")


class _Line:
    """One line of progress on stderr, redrawn at most 5 times a second: ``what: done/total (n%), s``."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.drawn = 0.0
        self.width = 0

    def __call__(self, what: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self.drawn < 0.2 and not (total is not None and done == total):
            return
        self.drawn = now
        count = f"{done:,}/{total:,} ({100 * done // total}%)" if total else f"{done:,}"
        text = visible(f"{what}: {count}, {now - self.started:.0f} s")
        pad = " " * max(0, self.width - len(text))
        self.width = len(text)
        sys.stderr.write(f"\r{text}{pad}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")  # the line goes: the command's own output follows
            sys.stderr.flush()


@contextlib.contextmanager
def progress(mode: str | None) -> Iterator[None]:
    """Show the progress of the store-wide passes run inside (``workbench/_steps.py``) on stderr:
    ``auto`` (and None) only when stderr is a terminal, ``always`` anywhere, ``never`` not at all.
    Never on stdout: a command's output stays what it was in pipes and tests."""
    from workbench import _steps

    shown = mode == "always" or (mode in (None, "auto") and hasattr(sys.stderr, "isatty") and sys.stderr.isatty())
    if not shown:
        yield
        return
    line = _Line()
    try:
        with _steps.reporting(line):
            yield
    finally:
        line.close()
