"""MetricCompare zoom re-query (issue 16): what a box or wheel zoom costs, against history() itself.

    python benchmarks/bench_compare_zoom.py                  # 2 runs x 1,000,000 steps
    python benchmarks/bench_compare_zoom.py --steps 200000

Reports, all measured in this process over the same store:
- Z1 ``model.set_window(lo, hi)`` of a 1% window (re-read, merge with the full-range points,
  series rebuilt) against ``wb.history(ids, keys, samples=2000, range=(lo, hi))`` alone;
- Z2 ``model.reset_window()`` (no read) against the full-range ``wb.history(samples=2000)``;
- Z3 a burst of 100 ``request_window`` calls (a wheel zoom's events): the reads it caused and
  the time until the last window is shown, against one ``set_window`` of that last window.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_of, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()

    import numpy as np

    import workbench as wb
    from workbench.ui.compare.model import MetricCompareModel

    with tempfile.TemporaryDirectory(prefix="wb-zoom-") as tmp:
        root = Path(tmp) / "store"
        ids = []
        start = time.perf_counter()
        for r in range(args.runs):
            run = wb.init(project="zoom", name=f"long-{r}", root=root, capture_output=False, system_metrics=False)
            values = 1.0 + 0.01 * np.random.default_rng(r).standard_normal(args.steps)
            for step, value in enumerate(values.tolist()):
                run.log({"loss": value}, step=step)
            run.finish()
            ids.append(run.id)
        print(f"logged {args.runs} x {args.steps:,} steps in {time.perf_counter() - start:.1f} s; "
              f"load average {os.getloadavg()}", flush=True)

        mid, span = args.steps // 2, max(args.steps // 100, 10)
        windows = [(mid - span // 2 + k * span // 10, mid + span // 2 + k * span // 10) for k in range(5)]
        model = MetricCompareModel(ids, keys=["loss"], samples=2000, root=root)
        turn = iter(range(10**9))

        def direct() -> None:
            wb.history(ids, keys=["loss"], samples=2000, range=windows[next(turn) % len(windows)], root=root)

        def zoom() -> None:
            model.set_window(*windows[next(turn) % len(windows)])

        base_times, zoom_times = [], []
        direct(), zoom()  # warm up
        for _ in range(11):  # interleaved, so that a busy moment of the machine hits both alike
            base_times.append(best_of(direct, repeat=1, warmup=0))
            zoom_times.append(best_of(zoom, repeat=1, warmup=0))
        base, t_zoom = statistics.median(base_times), statistics.median(zoom_times)
        assert model.error is None and model.window_steps, model.error
        ratio = t_zoom / base
        report("Z1 set_window 1% window (model)", t_zoom * 1000, "ms", "<= 1.5x", ratio <= 1.5,
               f"history(range=) alone {base * 1000:.1f} ms, ratio {ratio:.2f}x")

        full = best_of(lambda: wb.history(ids, keys=["loss"], samples=2000, root=root), repeat=5)

        def reset() -> None:
            model.set_window(*windows[0])
            start = time.perf_counter()
            model.reset_window()
            times.append(time.perf_counter() - start)

        times: list[float] = []
        for _ in range(5):
            reset()
        t_reset = sorted(times)[len(times) // 2]
        report("Z2 reset_window (no read)", t_reset * 1000, "ms", "<= 0.5x", t_reset <= 0.5 * full,
               f"full-range history(samples=2000) {full * 1000:.1f} ms, ratio {t_reset / full:.2f}x")

        reads, bursts = [], []
        for _ in range(3):
            model.reset_window()
            before = model.window_reads
            start = time.perf_counter()
            burst = [(mid - span * (1 + k / 50), mid + span * (1 + k / 50)) for k in range(100)]
            for lo, hi in burst:
                model.request_window(lo, hi)
            model.wait_window(60)
            bursts.append(time.perf_counter() - start)
            reads.append(model.window_reads - before)
            assert model.window == burst[-1], model.window
        t_burst = sorted(bursts)[1]
        last = burst[-1]

        def one() -> None:
            model.reset_window()
            model.set_window(*last)

        t_one = best_of(one, repeat=5)
        report("Z3 100 zoom events: reads (max of 3 bursts)", max(reads), "reads", "<= 3", max(reads) <= 3,
               f"last window shown after {t_burst * 1000:.1f} ms (median) = {t_burst / t_one:.2f}x one "
               f"set_window of it ({t_one * 1000:.1f} ms)")
        model.close()
        print(f"load average {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
