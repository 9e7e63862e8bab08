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


def _end(run: Run, status: str, error: dict[str, Any] | None, exit_code: int | None = None,
         wait: float | None = None) -> None:
    # _end, not finish: a loss of points is recorded and printed, not raised into the interpreter's
    # exit; a run whose end the store refused (a full disk) is tried once more here
    try:
        run._end(status, error=error, exit_code=exit_code, wait=wait)
    except Exception as exc:  # noqa: BLE001 - the process is ending: say it, never a traceback here
        print(f"workbench: run {run.id}: could not be finished: {exc}", file=sys.__stderr__)


def _at_exit() -> None:
    for run in list(_live):
        if _uncaught is not None:
            _end(run, "failed", _uncaught)
        elif _exit_code:
            _end(run, "failed", {"type": "SystemExit", "message": f"the script exited with status {_exit_code}"},
                 _exit_code)
        else:
            _end(run, "completed", None, _exit_code)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    for run in list(_live):
        # a signal asks to stop now: refused points get one more try, not finish_wait seconds
        _end(run, "cancelled", {"type": "SIGTERM", "message": "terminated by SIGTERM"}, wait=0.0)
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
