"""A demo store with real runs: logistic regression trained by gradient descent (numpy only)."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

__all__ = ["fill_demo_store", "train_logreg"]


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
    Path(root).mkdir(parents=True, exist_ok=True)
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
