"""``workbench``: thin commands over the rooms below. Each module here adds its subcommands."""

from __future__ import annotations

import argparse
import io
import os
import select
import sys
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

from workbench._version import __version__
from workbench.cli._errors import debug_requested, describe
from workbench.cli._terminal import echo, visible
from workbench.settings import default_root

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse with its error line made visible: it quotes what was typed, which a terminal would obey."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {visible(message)}\n")


def build_parser() -> argparse.ArgumentParser:
    from workbench.cli import artifacts, demo, fsck, importing, jobs, remote, runs, ui

    parser = _Parser(
        prog="workbench", description="Local-first tracking, comparison and launching of ML experiments.",
        epilog="Stored text (names, tags, notes, keys, values, errors) is printed with control characters "
        "and escape sequences made visible in Python's notation (\\x1b, \\r, \\u202e), never sent to the "
        "terminal as they are; `workbench jobs logs` alone prints a job's output raw.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    parser.add_argument("--root", help="the store (default: WORKBENCH_ROOT, else ~/.workbench); also accepted "
                                       "after the command")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an error (anywhere on the line; also WORKBENCH_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (runs, artifacts, fsck, importing, demo, jobs, remote, ui):
        module.register(sub)
    _root_after_commands(parser)
    return parser


def _root_after_commands(parser: argparse.ArgumentParser) -> None:
    """Accept ``--root`` after every command too (``workbench runs --root X``), with the same meaning.

    Each command's parser gets its own ``--root`` whose default is "not given" (SUPPRESS), so that
    the one before the command stays in force unless the command line names another after it; a
    command whose own ``--root`` means something else (``remote add --root``, the remote's store)
    keeps it.
    """
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for command in dict.fromkeys(action.choices.values()):  # an alias names the same parser
            if "--root" not in command._option_string_actions:
                command.add_argument("--root", default=argparse.SUPPRESS,
                                     help="the store (default: WORKBENCH_ROOT, else ~/.workbench); also "
                                          "accepted before the command")
            _root_after_commands(command)


# options whose values often start with '-' ("-summary.acc" sorts descending): argparse would
# read such a value as an option, so "--order-by -x" becomes "--order-by=-x" first
_DASH_VALUES = ("--order-by",)


def _join_dash_values(argv: Sequence[str]) -> list[str]:
    out: list[str] = []
    items = list(argv)
    i = 0
    while i < len(items):
        if items[i] == "--":  # what follows is a job's command: pass it on untouched
            out.extend(items[i:])
            break
        if items[i] in _DASH_VALUES and i + 1 < len(items) and items[i + 1].startswith("-"):
            out.append(f"{items[i]}={items[i + 1]}")
            i += 2
            continue
        out.append(items[i])
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a failure is one ``workbench: error:`` line on stderr and exit code 1.

    argparse's own errors (a missing or malformed argument) exit with 2. ``--debug`` or
    ``WORKBENCH_DEBUG=1`` lets the exception out, traceback and all.
    """
    words, debug = debug_requested(list(sys.argv[1:] if argv is None else argv))
    _show_what_cannot_be_encoded()
    shown = warnings.showwarning
    warnings.showwarning = _show_warning
    store: str | None = None  # named by an error that names no path
    try:
        parser = build_parser()
        args = parser.parse_args(_join_dash_values(words))
        store = args.root or str(default_root())
        if args.command is None:
            parser.print_help()
            return 2
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError as exc:  # `workbench runs | head`: the reader has gone, nothing to say
        if _stdout_closed():
            return 0
        if debug:
            raise
        echo(f"workbench: error: {describe(exc, store)}", err=True)  # a pipe to another process (ssh) broke
        return 1
    except Exception as exc:  # the one boundary: every error a person can see is one line (issue 12)
        if debug:
            raise
        echo(f"workbench: error: {describe(exc, store)}", err=True)  # a message may span lines (a filter's caret)
        return 1
    finally:
        warnings.showwarning = shown


def _show_what_cannot_be_encoded() -> None:
    """A character the terminal's encoding lacks (an ASCII locale) is written as ``\\xe9``, as stderr does."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def _stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone; if so, point it at /dev/null.

    Then the flush at exit cannot fail on it again ("Exception ignored ... BrokenPipeError").
    """
    try:
        fd = sys.stdout.fileno()  # no descriptor (captured output): not a closed pipe
        poll = select.poll()
        poll.register(fd, select.POLLOUT)
        if not any(events & select.POLLERR for _, events in poll.poll(0)):
            return False
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):  # captured stdout; no poll()
        return False  # the broken pipe was another one (an ssh channel): an error to report
    return True


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """A warning (a skipped corrupt record, a snapshot not written) as one line, made visible."""
    echo(f"workbench: warning: {visible(message)}", err=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
