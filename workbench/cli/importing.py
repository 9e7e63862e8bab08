"""``workbench import KIND SOURCE...``: bring runs from TensorBoard, MLflow, W&B, CSV or JSONL.

Prints one line per run (imported, updated, unchanged or failed, with what was added, and each
problem and skipped item under it) and a total. Exit status 0 when every run came in whole, 1
when a run failed or had problems (the others are imported), 2 when nothing could be read (an
unknown importer, or one that cannot be loaded, included) or the store cannot take anything;
with 1 or 2, a line on stderr says so.
"""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._terminal import PROGRESS_CHOICES, echo, visible

__all__ = ["cmd_import", "register"]

_KINDS = ("tensorboard", "mlflow", "wandb", "csv", "jsonl")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "import",
        help="import runs from TensorBoard logs, an MLflow store, W&B offline runs, CSV or JSONL files "
        "(again: only what is new)",
        description="Import runs into the store. KIND is tensorboard (folders of event files), mlflow (an mlruns "
        "folder, a sqlite:/// file or a tracking server URL), wandb (offline run folders), csv or jsonl (files), "
        "or an importer a package adds. Importing the same source again adds only what is new; see docs/import.md.",
    )
    p.add_argument("kind", metavar="KIND", help=f"{', '.join(_KINDS)}, or a plugin's importer")
    p.add_argument("sources", metavar="SOURCE", nargs="+", help="what to import (paths, or an MLflow URI)")
    p.add_argument("--project", help="put every run in this project (default: the source's)")
    p.add_argument("--experiment", action="append", dest="experiments", metavar="NAME",
                   help="mlflow: only this experiment (a name or id; repeat for several)")
    p.add_argument("--progress", choices=PROGRESS_CHOICES, default="auto",
                   help="a progress bar per source on stderr: auto (when stderr is a terminal), always, never")
    p.set_defaults(handler=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    from workbench import importers
    from workbench.errors import StoreError, WorkbenchError

    try:
        importers.reader(args.kind)  # an unknown importer, or a plugin's that cannot load: nothing is read
    except WorkbenchError as exc:
        echo(f"workbench: error: {visible(str(exc))}", err=True)
        return 2
    options: dict[str, Any] = {}
    if args.experiments:
        if args.kind != "mlflow":
            raise WorkbenchError(f"--experiment is for mlflow, not {visible(args.kind)}: leave it out")
        options["experiments"] = list(args.experiments)
    try:
        report = importers.from_source(args.kind, *args.sources, project=args.project, root=args.root,
                                       progress=args.progress, **options)
    except StoreError as exc:  # the store cannot take anything (its folder, the staging folder): nothing imported
        echo(f"workbench: error: {visible(str(exc))}", err=True)
        return 2
    echo(report.render(visible))  # one report, in order, on stdout (the bar alone is on stderr)
    code = report.exit_code
    if code == 2:
        echo(f"workbench: import: nothing could be read from {len(report.failed_sources)} source(s) (see above)",
             err=True)
    elif code == 1:
        bad = sum(1 for run in report.runs if run.outcome == "failed" or run.problems)
        echo(f"workbench: import: {bad} run(s) failed or had problems, {len(report.failed_sources)} source(s) "
             "could not be read (see above); the rest is imported", err=True)
    return code
