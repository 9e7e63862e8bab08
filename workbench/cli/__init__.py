"""``workbench``: thin commands over the rooms below. Each module here adds its subcommands."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from workbench._version import __version__
from workbench.cli._terminal import echo, visible
from workbench.errors import WorkbenchError

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    from workbench.cli import artifacts, demo, jobs, remote, runs, ui

    parser = argparse.ArgumentParser(
        prog="workbench", description="Local-first tracking, comparison and launching of ML experiments.",
        epilog="Stored text (names, tags, notes, keys, values, errors) is printed with control characters "
        "and escape sequences made visible in Python's notation (\\x1b, \\r, \\u202e), never sent to the "
        "terminal as they are; `workbench jobs logs` alone prints a job's output raw.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    parser.add_argument("--root", help="the store (default: WORKBENCH_ROOT, else ~/.workbench)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (runs, artifacts, demo, jobs, remote, ui):
        module.register(sub)
    return parser


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
    parser = build_parser()
    args = parser.parse_args(_join_dash_values(sys.argv[1:] if argv is None else argv))
    if args.command is None:
        parser.print_help()
        return 2
    shown = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        return int(args.handler(args) or 0)
    except WorkbenchError as exc:
        echo(f"workbench: error: {exc}", err=True)  # a message may span lines (a caret under a filter)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `workbench runs | head`
        return 0
    finally:
        warnings.showwarning = shown


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """A warning (a skipped corrupt record, a snapshot not written) as one line, made visible."""
    echo(f"workbench: warning: {visible(message)}", err=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
