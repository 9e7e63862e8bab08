"""The CLI's one error boundary: any exception a command lets out, as one line a person can act on.

A :class:`~workbench.errors.WorkbenchError` already says what failed and what to do. The
operating system's errors (a full disk, a read-only or missing path, a name too long) get their
``errno`` text, the path, and a hint for the usual fix; running out of stack or memory says so,
and so do DuckDB's own I/O and memory errors. Anything else is a bug in workbench: the line says
that, where to report it, and that ``--debug`` (or ``WORKBENCH_DEBUG=1``) shows the traceback.
"""

from __future__ import annotations

import errno
import os

from workbench._version import __version__
from workbench.cli._terminal import visible
from workbench.errors import WorkbenchError

__all__ = ["BUG", "debug_requested", "describe"]

#: the words that mark an exception workbench did not expect (tests look for them)
BUG = "this is a bug in workbench"

_HINTS = {
    errno.ENOSPC: "the filesystem is full: free space on it (`df -h` shows it), or point --root "
    "(WORKBENCH_ROOT) at a store on a disk with room",
    errno.EDQUOT: "your disk quota is used up: free space, or ask for a larger quota",
    errno.EROFS: "the filesystem is read-only: remount it read-write, or point --root (WORKBENCH_ROOT) at "
    "a writable store",
    errno.EACCES: "check the owner and mode of the path (`ls -ld`), or use a store you may write",
    errno.EPERM: "check the owner and mode of the path (`ls -ld`), or use a store you may write",
    errno.ENAMETOOLONG: "a name in the path is longer than the filesystem allows (usually 255 bytes): "
    "use a shorter name",
    errno.ENOENT: "check the path: does every folder in it exist?",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
    errno.EISDIR: "the path is a folder where a file was expected: name a file",
    errno.EEXIST: "remove it or pick another path",
    errno.ENOTEMPTY: "empty the folder or pick another path",
    errno.ELOOP: "the path has a symbolic link loop: check the links in it",
    errno.EMFILE: "too many open files: raise the limit (`ulimit -n`) and try again",
    errno.ENFILE: "too many open files on this machine: close some programs and try again",
    errno.ENOMEM: "out of memory: close other programs, or work on a smaller input",
    errno.EIO: "the disk or network filesystem failed to read or write: check it (`dmesg`)",
    errno.EXDEV: "the two paths are on different filesystems: keep them on one",
    errno.ETXTBSY: "the file is in use by a running program: try again when it has stopped",
}


#: errors of a write, which write() reports without a file name
_WRITES = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG}
#: the network's trouble, not ours
_NETWORK = {errno.ECONNREFUSED, errno.ECONNRESET, errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH,
            errno.ECONNABORTED, errno.EPIPE, errno.EADDRINUSE, errno.EADDRNOTAVAIL}
#: what the user's or the environment's doing explains; any other errno (EBADF, EINVAL, ECHILD ...)
#: is workbench's own mistake and is reported as a bug
_ENVIRONMENT = set(_HINTS) | _WRITES | _NETWORK


def debug_requested(words: list[str]) -> tuple[list[str], bool]:
    """``words`` without ``--debug`` (anywhere before a ``--``), and whether it or ``WORKBENCH_DEBUG`` asks for it."""
    end = words.index("--") if "--" in words else len(words)
    kept = [word for word in words[:end] if word != "--debug"] + words[end:]
    env = os.environ.get("WORKBENCH_DEBUG", "").strip().lower() not in ("", "0", "false", "no", "off")
    return kept, env or len(kept) != len(words)


def describe(exc: BaseException, store: str | os.PathLike[str] | None = None) -> str:
    """One line (a filter error adds its caret lines) for ``exc``, after ``workbench: error: ``.

    ``store``, the command's store, is named when an OS error names no path (a failed write).
    """
    if isinstance(exc, WorkbenchError):
        return str(exc)
    if isinstance(exc, OSError) and (exc.errno in _ENVIRONMENT or (
            exc.errno is None and isinstance(exc, (TimeoutError, ConnectionError)))):
        return _os_error(exc, store)
    if isinstance(exc, MemoryError):
        return "out of memory: close other programs, or work on a smaller input (fewer runs, a smaller file)"
    text = visible(_os_error(exc, store) if isinstance(exc, OSError) else str(exc))
    if isinstance(exc, RecursionError):  # inputs are checked where they are parsed: this is a loop of ours
        text += " (if an input of yours is nested thousands deep, flatten it)"
    duckdb = {kind.__name__ for kind in type(exc).__mro__ if kind.__module__.lstrip("_").startswith("duckdb")}
    if "IOException" in duckdb:  # DuckDB reads and writes files itself: the disk's trouble, not ours
        return f"DuckDB could not read or write a file: {text}; check that the disk has room and the store is writable"
    if "OutOfMemoryException" in duckdb:
        return f"DuckDB ran out of memory: {text}; close other programs, or ask for fewer rows"
    return (
        f"unexpected {type(exc).__name__}{': ' + text if text else ''}. {BUG} {__version__}: please report "
        "it to the workbench issue tracker with the command you ran; run it again with --debug (or "
        "WORKBENCH_DEBUG=1) to see the traceback"
    )


def _os_error(exc: OSError, store: str | os.PathLike[str] | None) -> str:
    what = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno is not None and exc.strerror is None:  # OSError(code) alone
        what = os.strerror(exc.errno)
    paths = [visible(os.fsdecode(p)) if isinstance(p, (str, bytes)) else visible(p)
             for p in (exc.filename, exc.filename2) if p is not None]
    line = visible(what) + (f": {' -> '.join(paths)}" if paths else "")
    if not paths and store is not None and exc.errno in _WRITES:  # write() names no file: name the store
        line += f" (while writing; the store is {visible(os.fspath(store))})"
    hint = _HINTS.get(exc.errno or 0)
    return f"{line}; {hint}" if hint else line
