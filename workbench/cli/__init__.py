"""``workbench``: thin commands over the rooms below. Each module here adds its subcommands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from workbench._version import __version__
from workbench.errors import WorkbenchError

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    from workbench.cli import artifacts, demo, jobs, remote, runs, ui

    parser = argparse.ArgumentParser(
        prog="workbench", description="Local-first tracking, comparison and launching of ML experiments."
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
    try:
        return int(args.handler(args) or 0)
    except WorkbenchError as exc:
        print(f"workbench: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `workbench runs | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
