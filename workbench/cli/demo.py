"""``workbench demo``: fill a store with real runs (a small sweep), then show them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="log a real hyperparameter sweep into a demo store and list it")
    p.add_argument("--runs", type=int, default=12, help="runs in the sweep (default 12)")
    p.add_argument("--steps", type=int, default=300, help="training steps per run (default 300)")
    p.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from workbench.apps.demo import fill_demo_store
    from workbench.cli.runs import _print_frame
    from workbench.store import open_store

    root = Path(args.root) if args.root else Path.home() / ".workbench-demo"
    print(f"logging {args.runs} runs into {root} ...")
    fill_demo_store(root, runs=args.runs, steps=args.steps)
    store = open_store(root)
    frame = store.runs(project="demo-sweep", order_by="-summary.val_acc",
                       columns=["name", "status", "config.lr", "config.batch_size", "config.l2",
                                "summary.train_loss", "summary.val_acc", "duration"])
    _print_frame(frame, as_json=False)
    print(f"\nquery it: workbench --root {root} runs --where \"summary.val_acc > 0.8\" --order-by -summary.val_acc")
    return 0
