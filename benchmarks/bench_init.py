"""A short run's fixed cost: ``init`` + one point + ``finish``, against writing the same record
and a one-row parquet file directly (no tracker).

    python benchmarks/bench_init.py

A sweep of many short runs and a notebook cell re-run pay this per run; the target is that it
stays a few milliseconds (the environment list is read once per process, its file written once
per environment).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_of, report


def main() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    import workbench as wb

    root = Path(tempfile.mkdtemp(prefix="wb-bench-init-"))
    started = time.perf_counter()
    wb.init(project="first", root=root, capture_output=False, system_metrics=False).finish()
    first = time.perf_counter() - started

    def one_run() -> None:
        run = wb.init(project="b", config={"lr": 0.1}, root=root, capture_output=False, system_metrics=False)
        run.log({"loss": 1.0})
        run.finish()

    count = 0

    def baseline() -> None:
        nonlocal count
        count += 1
        base = root / "baseline" / str(count)
        base.mkdir(parents=True)
        (base / "run.json").write_text(json.dumps({"id": str(count), "config": {"lr": 0.1}, "status": "completed"}))
        pq.write_table(pa.table({"step": [0], "key": ["loss"], "value": [1.0], "time": [time.time()]}),
                       base / "metrics.parquet")

    ours = best_of(one_run, repeat=30, warmup=3)
    theirs = best_of(baseline, repeat=30, warmup=3)
    report("first init + finish of the process", first * 1e3, "ms", "-", True,
           "reads the installed distributions once")
    report("init + one point + finish (median of 30)", ours * 1e3, "ms", "<= 10 ms", ours <= 0.010,
           f"baseline: record + parquet written directly {theirs * 1e3:.1f} ms, ratio {ours / theirs:.1f}x")


if __name__ == "__main__":
    main()
