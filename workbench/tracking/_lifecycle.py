"""Finish live runs when the process ends: at exit, on SIGTERM, after an uncaught exception."""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import traceback
import weakref
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from workbench.tracking.run import Run

__all__ = ["register", "unregister"]

# The live runs of this process. This is process lifecycle, not an "active run": nothing reads
# it but the exit hooks below.
_live: weakref.WeakSet[Run] = weakref.WeakSet()
_installed = False
_signal_checked = False  # whether the SIGTERM handler was considered (from the main thread)
_uncaught: dict[str, Any] | None = None
_previous_excepthook = sys.excepthook
_previous_sigterm: Any = None
_exit_code: int | None = None
_original_exit = sys.exit


def _exit(status: str | int | None = None) -> NoReturn:
    """``sys.exit`` that remembers a failing status, so the exit hook records ``failed``."""
    global _exit_code
    if status is None or status == 0:
        _exit_code = 0
    elif isinstance(status, int):
        _exit_code = status
    else:
        _exit_code = 1  # sys.exit("message") exits with 1
    _original_exit(status)


def _excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    global _uncaught
    _uncaught = {
        "type": exc_type.__name__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(exc_type, exc, tb)),
    }
    _previous_excepthook(exc_type, exc, tb)


def _at_exit() -> None:
    for run in list(_live):
        if _uncaught is not None:
            run.finish(status="failed", error=_uncaught)
        elif _exit_code:
            run.finish(status="failed", exit_code=_exit_code,
                       error={"type": "SystemExit", "message": f"the script exited with status {_exit_code}"})
        else:
            run.finish(exit_code=_exit_code)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    for run in list(_live):
        run.finish(status="cancelled", error={"type": "SIGTERM", "message": "terminated by SIGTERM"})
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
        return
    # die of the signal, as the process would have without us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _install() -> None:
    global _installed, _signal_checked, _previous_sigterm
    if not _installed:
        _installed = True
        atexit.register(_at_exit)
        if sys.exit is _original_exit:
            sys.exit = _exit
        if sys.excepthook is sys.__excepthook__:
            sys.excepthook = _excepthook
    # only the main thread may set a handler: a run started from another thread leaves it to
    # the next run started from the main thread
    if not _signal_checked and threading.current_thread() is threading.main_thread():
        _signal_checked = True
        current = signal.getsignal(signal.SIGTERM)
        if current in (signal.SIG_DFL, None) or callable(current):
            _previous_sigterm = current if callable(current) else None
            signal.signal(signal.SIGTERM, _on_sigterm)


def register(run: Run) -> None:
    _install()
    _live.add(run)


def unregister(run: Run) -> None:
    _live.discard(run)
