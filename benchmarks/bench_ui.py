"""UI benchmarks of issue 6: RunBrowser over 10,000 runs and MetricCompare of 20 long runs.

    python benchmarks/bench_ui.py                 # builds both stores (about 1 minute)
    python benchmarks/bench_ui.py --root DIR      # reuse a 10,000-run store from bench_core's make_runs

U1  RunBrowser filter, and sort, over 10,000 runs: the model call plus the page table a view shows
    (baseline: the same filter through wb.runs with limit=50, i.e. the query alone)
U2  RunBrowser poll with nothing changed (what every ui_refresh tick costs)
U3  MetricCompare of 20 runs x 100,000 steps: history(samples=2000) + EMA + series arrays
    (baseline: wb.history of the same runs and key with samples=2000, no smoothing)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_of, report

WHERE = "config.lr < 0.01 and summary.loss < 0.5"


def u1(root: Path) -> None:
    import workbench as wb
    from workbench.ui.runs.model import RunBrowserModel

    model = RunBrowserModel(root=root, columns=["config.lr", "config.batch_size", "summary.loss", "summary.acc"])
    print(f"store: {model.total:,} runs", flush=True)

    def do_filter() -> None:
        model.set_where(WHERE if model.where != WHERE else "config.lr < 0.005")
        model.table()

    flip = [False]

    def do_sort() -> None:
        flip[0] = not flip[0]
        model.sort_by("summary.loss", descending=flip[0])
        model.table()

    t_filter = best_of(do_filter, repeat=10)
    t_sort = best_of(do_sort, repeat=10)
    base = best_of(lambda: wb.runs(where=WHERE, order_by="summary.loss", limit=50, root=root), repeat=10)
    assert model.error is None, model.error
    report("U1 RunBrowser filter, 10,000 runs (+ page table)", t_filter * 1000, "ms", "<= 300 ms",
           t_filter <= 0.3, f"{model.matched:,} matching; wb.runs(limit=50) alone {base * 1000:.1f} ms, "
           f"ratio {t_filter / base:.1f}")
    report("U1 RunBrowser sort, 10,000 runs (+ page table)", t_sort * 1000, "ms", "<= 300 ms", t_sort <= 0.3,
           f"ratio to wb.runs(limit=50) {t_sort / base:.1f}")
    t_poll = best_of(model.poll, repeat=10)
    report("U2 RunBrowser poll, nothing changed", t_poll * 1000, "ms", "-", True,
           "every ui_refresh (default 2 s) while a view is open")


def u3(tmp: Path) -> None:
    import numpy as np

    import workbench as wb
    from workbench.ui.compare.model import MetricCompareModel

    root = tmp / "u3"
    start = time.perf_counter()
    ids = []
    steps = np.arange(100_000)
    for i in range(20):
        run = wb.init(project="u3", root=root, capture_output=False, system_metrics=False, fsync=False)
        values = 1.0 / (steps + 1 + i) + np.random.default_rng(i).normal(0, 0.01, len(steps))
        log = run.log
        for step in range(100_000):
            log({"loss": float(values[step])}, step=step)
        run.finish()
        ids.append(run.id)
    print(f"built 20 runs x 100,000 steps in {time.perf_counter() - start:.1f} s", flush=True)
    model = MetricCompareModel(ids, keys=["loss"], smoothing=0.6, root=root)

    t = best_of(model.reload, repeat=5)
    base = best_of(lambda: wb.history(ids, keys=["loss"], samples=2000, root=root), repeat=5)
    full = best_of(lambda: wb.history(ids, keys=["loss"], root=root), repeat=3)
    report("U3 MetricCompare 20 runs x 100k steps (prepare)", t * 1000, "ms", "<= 500 ms", t <= 0.5,
           f"{model.status_text}; wb.history(samples=2000) alone {base * 1000:.0f} ms, ratio {t / base:.2f}; "
           f"all 2M points {full * 1000:.0f} ms")
    t_smooth = best_of(lambda: model.set_smoothing(0.9 if model.smoothing != 0.9 else 0.5), repeat=5)
    report("U3 MetricCompare smoothing change (no query)", t_smooth * 1000, "ms", "-", True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, help="an existing 10,000-run store (skips building one)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wb-bench-ui-"))
    try:
        root = args.root
        if root is None:
            from bench_core import make_runs

            root = tmp / "u1"
            print(f"built 10,000 runs in {make_runs(root, 10_000):.1f} s", flush=True)
        u1(root)
        u3(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
