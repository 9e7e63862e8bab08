"""``workbench demo``: fill a store with real data in seconds, serve the web app on it, and let a
LoRA fine-tune train in the background meanwhile (live in the app)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.cli.ui import port_number

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="fill a demo store with real runs, jobs and artifacts and serve the web app; "
                                    "a LoRA fine-tune then trains in the background, live in the app",
                       description="Fill a demo store (default ~/.workbench-demo) with real runs, jobs and "
                                   "artifacts in seconds, then serve the web app on it while a small LoRA "
                                   "fine-tune trains in the background; stopping the demo cancels it. On a "
                                   "store that holds the demo already, nothing is added but a fine-tune that "
                                   "has not completed.")
    p.add_argument("--runs", type=int, default=12, help="runs in the sweep (default 12)")
    p.add_argument("--steps", type=int, default=300, help="training steps per run (default 300)")
    p.add_argument("--no-finetune", action="store_true",
                   help="skip the small LoRA fine-tune (it trains in the background, a minute or a few on a CPU)")
    p.add_argument("--no-serve", action="store_true",
                   help="fill the store (waiting for the fine-tune), print the runs, and exit")
    p.add_argument("--port", type=port_number, default=5006, help="port of the web app (default 5006)")
    p.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    import workbench as wb
    from workbench.apps import demo
    from workbench.cli._terminal import echo
    from workbench.cli.runs import _print_frame

    root = Path(args.root).expanduser().absolute() if args.root else Path.home() / ".workbench-demo"
    token = None
    if not args.no_serve:  # a missing extra, a busy port or a bad token now, not after filling the store
        from workbench.apps._serving import check_listen
        from workbench.apps.server import resolve_token
        from workbench.cli.ui import check_ui_extra

        check_ui_extra("workbench demo (its web app)")
        check_listen("127.0.0.1", args.port)
        token = resolve_token("127.0.0.1", None)
    scheduled = _scheduler_running(root)  # a scheduler of the user's own, which the demo leaves alone
    # from now on, however the demo ends (Ctrl-C while it fills, the server stopped, a SIGKILL), its
    # jobs are cancelled and the scheduler it started is stopped: nothing of the demo outlives it
    demo.start_follower(root, stop_scheduler=not scheduled)
    if len(wb.runs(project="demo-sweep", root=root)) if (root / "runs").is_dir() else 0:
        echo(f"{root} already holds the demo; delete it to start over")
    else:
        echo(f"logging a sweep of {args.runs} runs into {root} ...", flush=True)
        sweep = demo.fill_demo_store(root, runs=args.runs, steps=args.steps)
        echo("adding artifacts with versions and aliases ...", flush=True)
        demo.add_artifacts(root, sweep)
        echo("launching a job and cancelling it ...", flush=True)
        demo.add_cancelled_job(root)
    finetune = None
    if not args.no_finetune and demo.finetune_needed(root):
        finetune = demo.launch_finetune(root)
        if finetune is None:
            echo("the LoRA fine-tune is skipped: torch is not installed (pip install 'workbench-ml[finetune]')")
    if finetune is not None and args.no_serve:
        echo(f"fine-tuning a LoRA classifier on the sample reviews ({demo.FINETUNE_STEPS} steps, a minute or a "
             "few on a CPU) ...", flush=True)
        wb.Job(finetune, root=root).wait(timeout=900)
    if not scheduled and (finetune is None or args.no_serve):  # nothing of the demo outlives it
        _stop_scheduler(root)
    frame = wb.runs(root=root, order_by="-summary.val_acc",
                    columns=["name", "project", "status", "config.lr", "config.batch_size",
                             "summary.train_loss", "summary.val_acc", "duration"])
    _print_frame(frame, as_json=False)
    if args.no_serve:
        echo(f"\nbrowse it: workbench ui --root {root}")
        return 0
    from workbench.apps.server import serve

    if finetune is not None:
        echo(f"\nthe LoRA fine-tune {demo.FINETUNE_NAME} ({finetune}) trains in the background now: "
             f"{demo.FINETUNE_STEPS} steps, about a minute on a laptop CPU, a few on a slow or busy one. "
             "The app answers the link below within seconds: watch the loss live on Run detail (Runs, "
             "then its row) and the progress on Jobs. Stopping the demo (Ctrl-C) cancels the fine-tune; "
             "the next `workbench demo` trains it again.", flush=True)
    return serve(root, port=args.port, token=token)


def _scheduler_running(root: Path) -> bool:
    from workbench.jobs._paths import JobPaths
    from workbench.jobs.daemon import scheduler_running

    return scheduler_running(JobPaths(root))


def _stop_scheduler(root: Path) -> None:
    from workbench.jobs.daemon import stop_scheduler
    from workbench.settings import load_settings

    stop_scheduler(load_settings(root))
