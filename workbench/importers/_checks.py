"""Names and strings of an imported run made safe for its record (the store's schema decides)."""

from __future__ import annotations

import math
import re
from typing import Any

from workbench.store._schema import MAX_NAME, MAX_STRING, name_problem

__all__ = ["Checker", "escaped", "file_problem", "is_time", "shown_source"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def escaped(text: str) -> str:
    """Control characters in Python's notation (``\\x1b``, ``\\n``), as the CLI shows stored text."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group()) or f"\\x{ord(m.group()):02x}", text)


class Checker:
    """Names and strings of one run made safe for the record, each change noted as a problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems

    def name(self, value: Any, what: str) -> str | None:
        """A key or tag: escaped when it holds control characters; None (refused) when empty or too long."""
        text: str = value if isinstance(value, str) else str(value)
        if name_problem(text) is None and _utf8(text):
            return text
        value = text
        fixed = escaped(text).encode("utf-8", "replace").decode("utf-8")
        if name_problem(fixed) is None:
            self.problems.append(f"{what} {value!r} holds control characters or bytes that are not UTF-8: "
                                 f"stored as {fixed!r}")
            return fixed
        self.problems.append(f"{what} {value[:80]!r} refused: {name_problem(fixed)}")
        return None

    def line(self, value: Any, what: str) -> str | None:
        """A project, run name or group: as :meth:`name`, cut to the longest a name may be."""
        if value is None:
            return None
        text = value if isinstance(value, str) else str(value)
        if len(text) > MAX_NAME:
            self.problems.append(f"{what} {text[:40]!r}... is {len(text):,} characters: cut to {MAX_NAME:,}")
            text = text[:MAX_NAME]
        return self.name(text, what)

    def text(self, value: Any, what: str) -> str | None:
        if value is None:
            return None
        text = value if isinstance(value, str) else str(value)
        if "\x00" in text:
            text = text.replace("\x00", "\\x00")
        text = text.encode("utf-8", "replace").decode("utf-8")
        if len(text) > MAX_STRING:
            self.problems.append(f"{what} is {len(text):,} characters: cut to {MAX_STRING:,}")
            text = text[:MAX_STRING]
        return text

    def value(self, value: Any, what: str, depth: int = 0) -> Any:
        """A config or summary value as JSON the store accepts (nested keys checked as names)."""
        if value is None or isinstance(value, (bool, float)):
            return value
        if isinstance(value, int):
            if -(2**63) <= value < 2**63:
                return value
            self.problems.append(f"{what}: integer {value} does not fit 64 bits: stored as text")
            return str(value)
        if isinstance(value, str):
            return self.text(value, what)
        if depth > 20:
            self.problems.append(f"{what} nests too deep: stored as text")
            return self.text(repr(value), what)
        if isinstance(value, dict):
            out = {}
            for key, inner in value.items():
                name = self.name(key, f"{what} key")
                if name is not None:
                    out[name] = self.value(inner, f"{what}.{name}", depth + 1)
            return out
        if isinstance(value, (list, tuple)):
            return [self.value(item, what, depth + 1) for item in value]
        try:
            import numpy as np

            if isinstance(value, np.generic):
                return self.value(value.item(), what, depth)
        except ImportError:  # pragma: no cover - numpy is a dependency
            pass
        return self.text(str(value), what)


def _utf8(text: str) -> bool:
    """Whether ``text`` can be stored (a name of bytes that are not UTF-8 reaches us as lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def file_problem(name: Any) -> str | None:
    if not isinstance(name, str) or not name:
        return "is not a file name"
    if not _utf8(name):
        return "holds bytes that are not UTF-8"
    parts = name.split("/")
    if name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in parts):
        return "is not a relative path without '..', '.' or empty parts"
    return name_problem(name)


def is_time(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and abs(value) <= 2**33)


def shown_source(source: str) -> str:
    """``source`` as reports, progress bars and records may show it: a URL without its
    ``user:password@``, query and fragment (tokens live there); anything else as it is."""
    if "://" not in source:
        return source
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(source)
        if not parts.netloc:  # sqlite:///path, file:///path: nothing to hide but a query
            return source.split("?", 1)[0].split("#", 1)[0]
        host = parts.hostname or ""
        netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    except ValueError:  # a malformed port or host: nothing of it is shown
        return source.split("://", 1)[0] + "://..."
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
