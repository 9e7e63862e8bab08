"""A demo store with real data: a sweep of real training runs (numpy logistic regression), one that
fails and one that is cancelled, artifacts with versions and aliases, and (when torch is installed)
a small real LoRA fine-tune of the text-classification recipe on the sample reviews."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from workbench._private import make_dir, private_opener

__all__ = ["DATA", "fill_demo_store", "train_logreg"]

#: the sample datasets of the repository (reviews, stories, qa)
DATA = Path(__file__).resolve().parents[2] / "data"


def train_logreg(run: object, *, lr: float, batch_size: int, l2: float, steps: int, seed: int) -> float:
    """Train on a synthetic two-class problem, logging to ``run``; returns validation accuracy."""
    import numpy as np

    rng = np.random.default_rng(seed)
    dims = 20
    true_w = rng.normal(size=dims)
    x = rng.normal(size=(4000, dims))
    y = (x @ true_w + rng.normal(scale=2.0, size=len(x)) > 0).astype(np.float64)
    x_train, y_train, x_val, y_val = x[:3000], y[:3000], x[3000:], y[3000:]
    w = np.zeros(dims)
    acc = 0.0
    for step in range(steps):
        idx = rng.integers(0, len(x_train), batch_size)
        xb, yb = x_train[idx], y_train[idx]
        with np.errstate(over="ignore"):
            p = 1 / (1 + np.exp(-(xb @ w)))
        loss = -np.mean(yb * np.log(p + 1e-12) + (1 - yb) * np.log(1 - p + 1e-12)) + l2 * (w @ w)
        grad = xb.T @ (p - yb) / batch_size + 2 * l2 * w
        w -= lr * grad
        if not np.isfinite(loss):
            raise FloatingPointError(f"training diverged at step {step} (lr={lr})")
        metrics = {"train_loss": float(loss), "lr": lr}
        if step % 20 == 0 or step == steps - 1:
            acc = float(np.mean(((x_val @ w) > 0) == y_val))
            metrics["val_acc"] = acc
        run.log(metrics, step=step)  # type: ignore[attr-defined]
    return acc


def fill_demo_store(root: str | os.PathLike[str], *, runs: int = 12, steps: int = 300) -> list[str]:
    """Log a sweep of ``runs`` real training runs into ``root``; one diverges and fails."""
    import workbench as wb

    grid = [(lr, bs, l2) for bs, l2, lr in itertools.product([64, 16, 256], [0.0, 1e-3], [0.01, 0.05, 0.2, 1.0])]
    ids = []
    make_dir(root)  # a store: private (workbench/_private.py)
    for i, (lr, batch_size, l2) in enumerate(grid[:runs]):
        config = {"lr": lr, "batch_size": batch_size, "l2": l2, "optimizer": "sgd",
                  "model": {"kind": "logreg", "dims": 20}}
        tags = ["sweep", "high-lr" if lr >= 0.2 else "low-lr"]
        try:
            with wb.init(project="demo-sweep", config=config, tags=tags, root=root,
                         capture_output=False, system_metrics=False) as run:
                ids.append(run.id)
                train_logreg(run, lr=lr, batch_size=batch_size, l2=l2, steps=steps, seed=i)
        except FloatingPointError:
            pass
    # one run that fails for real, with its traceback recorded
    try:
        with wb.init(project="demo-sweep", name="diverging", config={"lr": 1e6, "batch_size": 16, "l2": 0.0},
                     tags=["sweep", "broken"], root=root, capture_output=False, system_metrics=False) as run:
            ids.append(run.id)
            train_logreg(run, lr=1e6, batch_size=16, l2=0.0, steps=steps, seed=99)
            raise FloatingPointError("loss exploded")  # pragma: no cover - lr=1e6 diverges first
    except FloatingPointError:
        pass
    return ids


_SLOW_SCRIPT = """
import time, workbench as wb
run = wb.init()
for step in range(100000):
    run.log({"loss": 1.0 / (step + 1)}, step=step)
    time.sleep(0.05)
"""


def add_cancelled_job(root: str | os.PathLike[str], *, timeout: float = 120.0) -> str:
    """Launch a ``script`` job that would run for hours, wait until it logs, then cancel it."""
    import time

    import workbench as wb

    script = Path(root) / "demo-scripts" / "endless.py"
    make_dir(script.parent)
    with open(script, "w", encoding="utf-8", opener=private_opener) as handle:
        handle.write(_SLOW_SCRIPT)
    job = wb.launch("script", config={"command": ["python", str(script)]}, name="endless (cancelled)",
                    project="demo-jobs", tags=["demo"], root=root)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if job.status == "running" and len(wb.history(job.run_id, keys="loss", root=root)) >= 5:
            break
        time.sleep(0.2)
    job.cancel()
    return job.run_id


def add_artifacts(root: str | os.PathLike[str], sweep: list[str]) -> None:
    """The reviews dataset (v1), and a "sweep-best" config artifact with two versions and aliases."""
    import json
    import tempfile

    import workbench as wb

    reviews = DATA / "reviews"
    if reviews.is_dir():
        wb.log_artifact(reviews, name="reviews", type="dataset", aliases=["production"], root=root)
    best = wb.runs(project="demo-sweep", where="status = 'completed'", order_by="-summary.val_acc", root=root)
    with tempfile.TemporaryDirectory() as tmp:
        for version, (_, row) in enumerate(best.head(2).iloc[::-1].iterrows(), start=1):
            params = Path(tmp) / "params.json"
            params.write_text(json.dumps({k[len("config."):]: row[k] for k in row.index
                                          if k.startswith("config.") and k.count(".") == 1}, default=str))
            wb.log_artifact(params, name="sweep-best", type="config",
                            aliases=["production"] if version == 2 else ["candidate"],
                            metadata={"val_acc": float(row["summary.val_acc"]), "version_note": f"v{version}"},
                            run=str(row["run_id"]), root=root)
    del sweep


def add_finetune(root: str | os.PathLike[str], *, timeout: float = 900.0) -> str | None:
    """A small real LoRA fine-tune (text-classification on the sample reviews); None without torch."""
    import importlib.util

    import workbench as wb

    if importlib.util.find_spec("torch") is None or not (DATA / "reviews").is_dir():
        return None
    job = wb.launch("text-classification", dataset="reviews:latest", name="reviews-lora", project="demo-finetune",
                    config={"lora": True, "epochs": 1, "max_steps": 40, "batch_size": 16, "max_length": 64},
                    tags=["demo", "lora"], root=root)
    job.wait(timeout=timeout)
    return job.run_id
