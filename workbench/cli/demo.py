"""``workbench demo``: fill a store with real data, then open the web app on it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.cli.ui import port_number

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="fill a demo store with real runs, jobs and artifacts, then serve the web app")
    p.add_argument("--runs", type=int, default=12, help="runs in the sweep (default 12)")
    p.add_argument("--steps", type=int, default=300, help="training steps per run (default 300)")
    p.add_argument("--no-finetune", action="store_true", help="skip the small LoRA fine-tune (about a minute on CPU)")
    p.add_argument("--no-serve", action="store_true", help="fill the store, print the runs, and exit")
    p.add_argument("--port", type=port_number, default=5006, help="port of the web app (default 5006)")
    p.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    import workbench as wb
    from workbench.apps import demo
    from workbench.cli._terminal import echo
    from workbench.cli.runs import _print_frame

    root = Path(args.root).expanduser().absolute() if args.root else Path.home() / ".workbench-demo"
    if not args.no_serve:  # a missing extra or a busy port now, not after minutes of filling the store
        from workbench.apps._serving import check_listen
        from workbench.cli.ui import check_ui_extra

        check_ui_extra("workbench demo (its web app)")
        check_listen("127.0.0.1", args.port)
    if len(wb.runs(project="demo-sweep", root=root)) if (root / "runs").is_dir() else 0:
        echo(f"{root} already holds the demo; delete it to start over")
    else:
        scheduled = _scheduler_running(root)
        echo(f"logging a sweep of {args.runs} runs into {root} ...", flush=True)
        sweep = demo.fill_demo_store(root, runs=args.runs, steps=args.steps)
        echo("adding artifacts with versions and aliases ...", flush=True)
        demo.add_artifacts(root, sweep)
        echo("launching a job and cancelling it ...", flush=True)
        demo.add_cancelled_job(root)
        if not args.no_finetune:
            echo("fine-tuning a LoRA classifier on the sample reviews (about a minute on CPU) ...", flush=True)
            if demo.add_finetune(root) is None:
                echo("  skipped: torch is not installed (pip install 'workbench-ml[finetune]')")
        if not scheduled:  # the one the demo's jobs started, idle now: nothing of the demo outlives it
            _stop_scheduler(root)
    frame = wb.runs(root=root, order_by="-summary.val_acc",
                    columns=["name", "project", "status", "config.lr", "config.batch_size",
                             "summary.train_loss", "summary.val_acc", "duration"])
    _print_frame(frame, as_json=False)
    if args.no_serve:
        echo(f"\nbrowse it: workbench --root {root} ui")
        return 0
    from workbench.apps.server import serve

    return serve(root, port=args.port)


def _scheduler_running(root: Path) -> bool:
    from workbench.jobs._paths import JobPaths
    from workbench.jobs.daemon import scheduler_running

    return scheduler_running(JobPaths(root))


def _stop_scheduler(root: Path) -> None:
    from workbench.jobs.daemon import stop_scheduler
    from workbench.settings import load_settings

    stop_scheduler(load_settings(root))
