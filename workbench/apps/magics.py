"""``%load_ext workbench``: the ``%wb`` line magic for notebooks.

    %wb runs [--project P] [--where EXPR] [--order-by KEY]    a RunBrowser
    %wb compare RUN [RUN ...] [--keys loss,acc]              a MetricCompare of those runs
    %wb detail RUN                                           a RunDetail
    %wb artifacts | jobs | launch | sync                     the other components
    %wb sql SELECT ...                                       a DataFrame (read-only DuckDB SQL)

Each command returns the component, so the cell shows it; ``--root`` picks the store.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from workbench.errors import WorkbenchError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would exit the kernel's process
        raise WorkbenchError(f"%wb: {message}; `%wb --help` shows the commands")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%wb", description="workbench views and queries in a notebook")
    parser.add_argument("--root", default=None)
    # --root is also accepted after the command (`%wb runs --root DIR`)
    common = _Parser(add_help=False)
    common.add_argument("--root", default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    runs = sub.add_parser("runs", parents=[common])
    runs.add_argument("--project")
    runs.add_argument("--where")
    runs.add_argument("--order-by")
    compare = sub.add_parser("compare", parents=[common])
    compare.add_argument("run_ids", nargs="+")
    compare.add_argument("--keys", help="comma-separated metric keys")
    detail = sub.add_parser("detail", parents=[common])
    detail.add_argument("run_id")
    for name in ("artifacts", "jobs", "launch", "sync"):
        sub.add_parser(name, parents=[common])
    sql = sub.add_parser("sql")
    sql.add_argument("query", nargs=argparse.REMAINDER)
    return parser


def wb_magic(line: str) -> Any:
    """Run one ``%wb`` command; returns what the cell should show."""
    import workbench as wb
    from workbench import ui

    if line.strip() in ("", "-h", "--help", "help"):
        print(__doc__)
        return None
    args = _parser().parse_args(shlex.split(line))
    root = args.root
    if args.command == "runs":
        kwargs = {k: v for k, v in (("project", args.project), ("where", args.where), ("order_by", args.order_by))
                  if v}
        return ui.RunBrowser(root=root, **kwargs)
    if args.command == "compare":
        keys = [k for k in (args.keys or "").split(",") if k] or None
        return ui.MetricCompare(args.run_ids, keys=keys, root=root)
    if args.command == "detail":
        return ui.RunDetail(args.run_id, root=root)
    if args.command == "artifacts":
        return ui.ArtifactBrowser(root=root)
    if args.command == "jobs":
        return ui.JobMonitor(root=root)
    if args.command == "launch":
        return ui.LaunchForm(root=root)
    if args.command == "sync":
        return ui.SyncPanel(root=root)
    return wb.sql(" ".join(args.query), root=root)


def load_ipython_extension(ipython: Any) -> None:
    def magic(line: str) -> Any:
        try:
            return wb_magic(line)
        except WorkbenchError as exc:  # a readable line, not a traceback
            print(f"workbench: {exc}")
            return None

    ipython.register_magic_function(magic, magic_kind="line", magic_name="wb")
