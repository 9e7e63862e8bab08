"""Stores filled with real runs for UI tests (through workbench.init / log / finish)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import workbench as wb

QUIET = {"capture_output": False, "system_metrics": False}


def make_run(root: Path, *, project: str = "p", name: str | None = None, config: dict[str, Any] | None = None,
             tags: Sequence[str] = (), metrics: dict[str, Sequence[float]] | None = None,
             finish: bool = True, fail: bool = False) -> wb.Run:
    """One run logging ``metrics`` (key -> values, one per step), finished (or failed) unless told not to."""
    run = wb.init(project=project, name=name, config=config or {}, tags=list(tags), root=root, **QUIET)
    for key, values in (metrics or {}).items():
        for step, value in enumerate(values):
            run.log({key: float(value)}, step=step)
    if finish:
        run.finish("failed" if fail else "completed")
    return run


def fill(root: Path, count: int, *, steps: int = 20, project: str = "p") -> list[str]:
    """``count`` finished runs with config lr/batch, tags, and loss/acc curves; returns their ids."""
    ids = []
    for i in range(count):
        lr = 10 ** (-1 - i % 4)
        run = make_run(root, project=project, name=f"run-{i:03d}", config={"lr": lr, "batch": 16 * (1 + i % 3)},
                       tags=["even" if i % 2 == 0 else "odd", f"group{i % 3}"],
                       metrics={"loss": [1.0 / (s + 1 + i) for s in range(steps)],
                                "acc": [s / steps for s in range(steps)]})
        ids.append(run.id)
    return ids


