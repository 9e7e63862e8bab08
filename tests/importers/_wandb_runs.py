"""Writes real W&B offline runs for test_import_wandb.py; run as a subprocess with WANDB_MODE=offline.

``python _wandb_runs.py OUT`` writes ``OUT/wandb/offline-run-*`` and ``OUT/later/wandb/...``
folders (one wandb service for all of them) and ``OUT/expected.json``: what each run was given,
with ``time.time()`` read just before and just after each ``run.log`` (W&B stamps the row in
between).
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import wandb

OUT = Path(sys.argv[1])
CONFIG: dict[str, Any] = {
    "lr": 0.001, "layers": 3, "use_bn": True, "optimizer": "adam", "betas": [0.9, 0.999],
    "schedule": {"kind": "cosine", "warmup": 10, "min_lr": 1e-06}, "seed": None, "big": 2**53 + 1,
}
PIXELS = (np.arange(48, dtype=np.uint8) * 5).reshape(4, 4, 3)
HIST_COUNTS, HIST_EDGES = [1.0, 0.0, 3.0], [0.0, 0.5, 1.0, 1.5]
expected: dict[str, Any] = {}


def logged(run: Any, rows: list[dict[str, Any]], row: dict[str, Any], step: int | None = None) -> None:
    before = time.time()
    run.log(row, step=step)
    rows.append({"step": step, "before": before, "after": time.time()})


# alpha: config of several types, explicit steps, nested keys, media, text, a saved file, summary
t0 = time.time()
run = wandb.init(mode="offline", dir=OUT, project="imports", id="alpha01", name="alpha run",
                 notes="first line\nsecond line", tags=["baseline", "tau-\u03c4"], group="grp",
                 job_type="train", config=CONFIG)
t1 = time.time()
run.config.update({"late": 7})
print("console line from alpha")  # captured by wandb into files/output.log
rows: list[dict[str, Any]] = []
for i in range(40):
    logged(run, rows, {"loss": 1.0 / (i + 1), "acc": i / 40, "val": {"loss": 2.0 / (i + 1)}, "count": i}, step=2 * i)
logged(run, rows, {"img": wandb.Image(PIXELS), "hist": wandb.Histogram(np_histogram=(HIST_COUNTS, HIST_EDGES)),
                   "note": "text at step 80", "flag": True,
                   "preds": wandb.Table(columns=["a", "b"], data=[[1, "x"], [2, "y"]])}, step=80)
saved = OUT / "extra" / "notes.txt"
saved.parent.mkdir(parents=True, exist_ok=True)
saved.write_text("saved with wandb.save\n")
wandb.save(str(saved), base_path=str(saved.parent), policy="now")
run.summary["best_acc"] = 0.975
run.summary["nested"] = {"a": 1, "b": "two"}
run.finish()
expected["alpha01"] = {"config": {**CONFIG, "late": 7}, "rows": rows, "init": [t0, t1], "end": time.time(),
                       "pixels": PIXELS.tolist(), "hist": [HIST_EDGES, HIST_COUNTS]}

# beta: many rows (the log spans several 32 KiB blocks), then a failure exit code
run = wandb.init(mode="offline", dir=OUT, project="imports", id="beta02", name="beta run")
rows = []
for i in range(300):
    logged(run, rows, {"x": float(i), "y": math.sin(i / 10)})
    if i == 150:  # each change writes a new run record to the log
        run.name, run.tags, run.notes = "beta renamed", ("late-tag",), "late notes"
run.finish(exit_code=1)
expected["beta02"] = {"rows": rows}

# gamma: a run resumed offline writes a second folder with the same id, its steps starting again
# at 0; that second folder goes under OUT/later/wandb (the test adds it to the source afterwards)
for part, values in enumerate(([1.0, 2.0, 3.0, 4.0, 5.0], [10.0, 11.0, 12.0])):
    run = wandb.init(mode="offline", dir=OUT / "later" if part else OUT, project="imports", id="gamma03",
                     resume="allow" if part else None)
    rows = []
    for value in values:
        logged(run, rows, {"g": value})
    run.finish()
    expected.setdefault("gamma03", {"rows": []})["rows"].extend(rows)

(OUT / "expected.json").write_text(json.dumps(expected))
