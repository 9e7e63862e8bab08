"""A real ``workbench`` process that runs many command lines, one after another (the fuzz test's worker).

Starting Python and importing workbench takes most of a second; the fuzz test runs hundreds of
command lines, so this process runs each through :func:`workbench.cli.main`, exactly as
``python -m workbench`` does, and reports its exit code, stdout and stderr. Command lines arrive
as JSON lines on the descriptor in ``argv[1]``; results leave as JSON lines on ``argv[2]``
(stdin stays free: a command that asks for confirmation reads it). An exception that escapes
``main`` is written to the call's stderr as the interpreter would print it, traceback and all,
with exit code 1. A command line that runs past ``argv[3]`` seconds is stopped and reported.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import traceback
from types import FrameType

_KEEP = 20_000  # characters of stdout and stderr sent back: enough to judge, small enough to pass


class _Timeout(BaseException):  # not an Exception: main() must not turn it into a message
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _Timeout


def _run(argv: list[str], limit: int) -> dict[str, object]:
    from workbench.cli import main

    out, err = io.StringIO(), io.StringIO()
    signal.alarm(limit)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code: object = main(argv)
            except SystemExit as exc:  # argparse: 2 for a bad argument, 0 for --help
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except _Timeout:
                code = "timeout"
            except BaseException:  # noqa: BLE001 - what the interpreter would print
                err.write(traceback.format_exc())
                code = 1
    finally:
        signal.alarm(0)
    return {"code": code, "stdout": _cut(out.getvalue()), "stderr": _cut(err.getvalue())}


def _cut(text: str) -> str:
    return text if len(text) <= _KEEP else text[: _KEEP // 2] + "\n[...]\n" + text[-_KEEP // 2 :]


def serve(requests: int, results: int, limit: int) -> None:
    signal.signal(signal.SIGALRM, _alarm)
    with os.fdopen(requests, encoding="utf-8") as incoming, os.fdopen(results, "w", encoding="utf-8") as outgoing:
        for line in incoming:
            argv = json.loads(line)
            result = _run(argv, limit)
            outgoing.write(json.dumps(result, ensure_ascii=True) + "\n")
            outgoing.flush()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
