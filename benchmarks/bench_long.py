"""Long runs (issue 16, acceptance 2): one run logs 10 keys x N steps, one dict per step.

    python benchmarks/bench_long.py                 # 10 M steps = 100 M points (minutes; ~2 GB of disk)
    python benchmarks/bench_long.py --steps 1000000 # 10 M points

Reports, all measured in this process:
- the sustained logging rate over the whole run (finish included) against the rate of a
  W1-sized run (10 keys x 20,000 steps = 200k points) logged by the same loop first;
- the peak RSS of the process after the long run's finish (VmHWM: logging and compaction);
- ``history`` of one key at samples=2000 over the full range and over a 1% window in the
  middle, each against DuckDB reading the same points (``SELECT step, value FROM
  read_parquet(files) WHERE key = ... [AND step BETWEEN ...]``) in the same process; and the
  files the run left and the bytes compaction wrote.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_of, report

KEYS = [f"train/metric_{i}" for i in range(10)]


def peak_rss_mb(field: str = "VmHWM") -> float:
    """The process's peak resident memory (VmHWM), or its current one (field="VmRSS")."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def log_run(root: Path, steps: int, values: list[float]) -> tuple[str, float, list[float]]:
    """Log 10 keys x ``steps`` as one dict per step; the run id, seconds (finish included), and
    the rate of each tenth of the run."""
    import workbench as wb

    run = wb.init(project="long", root=root, capture_output=False, system_metrics=False)
    log = run.log
    n = len(values)
    tenth = max(steps // 10, 1)
    rates = []
    start = mark = time.perf_counter()
    for step in range(steps):
        v = values[step % n]
        log({k: v for k in KEYS}, step=step)
        if step % tenth == tenth - 1:
            now = time.perf_counter()
            rates.append(tenth * len(KEYS) / (now - mark))
            mark = now
            if steps > 20_000:
                import pyarrow as pa

                print(f"  {step + 1:>11,} steps: {rates[-1]:>11,.0f} points/s, RSS {peak_rss_mb('VmRSS'):,.0f} MB, "
                      f"peak {peak_rss_mb():,.0f} MB; calls buffered {len(run._buffer):,}, arrow "
                      f"{pa.total_allocated_bytes() / 1e6:,.0f} MB", flush=True)
    run.finish()
    return run.id, time.perf_counter() - start, rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10_000_000, help="steps of the long run (10 keys each)")
    parser.add_argument("--dir", default=None, help="where to make the store (default: a temp dir)")
    args = parser.parse_args()

    import random

    random.seed(0)
    # random values with rare single-point spikes, cycled (a fresh float per step costs the loop)
    values = [random.gauss(0.0, 1.0) for _ in range(100_003)]
    for i in range(0, len(values), 9973):
        values[i] = 1000.0 if i % 2 else -1000.0

    tmp = Path(tempfile.mkdtemp(prefix="wb-long-", dir=args.dir))
    try:
        print(f"load average before: {os.getloadavg()}", flush=True)
        log_run(tmp / "short", 20_000, values)  # warm-up: imports, first run
        short_rates = []
        for i in range(3):
            _, seconds, _ = log_run(tmp / f"short{i}", 20_000, values)
            short_rates.append(20_000 * len(KEYS) / seconds)
        short_rate = max(short_rates)
        from workbench.store import segments

        before = dict(segments.written)
        run_id, long_s, tenths = log_run(tmp / "long", args.steps, values)
        rss = peak_rss_mb()
        rewrote = {k: segments.written[k] - before[k] for k in before}
        points = args.steps * len(KEYS)
        long_rate = points / long_s
        print(f"load average after logging: {os.getloadavg()}", flush=True)
        report(f"long run: {points:,} points (10 keys x {args.steps:,} steps)", long_rate, "points/s",
               ">= 0.9x W1", long_rate >= 0.9 * short_rate,
               f"{long_rate / short_rate:.2f}x the 200k-point run's {short_rate:,.0f} points/s (best of 3); "
               f"{long_s:.1f} s; slowest tenth {min(tenths):,.0f} points/s")
        report("peak RSS of the logging process (VmHWM)", rss, "MB", "<= 500 MB", rss <= 500)

        import duckdb

        from workbench.store import open_store, tiles

        store = open_store(tmp / "long")
        metrics = store.layout.metrics_dir(run_id)
        files = [str(p) for _, p in store.metric_files([run_id])]
        data_bytes = sum(os.path.getsize(p) for p in files)
        tile_bytes = sum(p.stat().st_size for p in tiles.tile_dir(metrics).glob("*.parquet"))
        print(f"files left: {len(files)} metric files, {data_bytes / 1e6:,.0f} MB; tile files "
              f"{len(tiles.available(metrics))}, {tile_bytes / 1e6:,.1f} MB; compaction wrote {rewrote['merges']} "
              f"files, {rewrote['bytes'] / 1e6:,.0f} MB, {rewrote['rows'] / points:.1f}x the points", flush=True)
        con = duckdb.connect()
        key = KEYS[3]

        def direct(lo: int | None = None, hi: int | None = None) -> int:
            sql = "SELECT step, value FROM read_parquet($files) WHERE key = $key"
            params: dict[str, object] = {"files": files, "key": key}
            if lo is not None:
                sql += " AND step BETWEEN $lo AND $hi"
                params.update(lo=lo, hi=hi)
            return len(con.execute(sql, params).fetchnumpy()["step"])

        for label, window, budget in (("full range", None, 0.2),
                                      ("1% window", (args.steps // 2, args.steps // 2 + args.steps // 100 - 1), 0.1)):
            frame = store.history(run_id, keys=key, samples=2000, range=window)
            seconds = best_of(lambda w=window: store.history(run_id, keys=key, samples=2000, range=w), repeat=5)
            base = best_of(lambda w=window: direct(*(w or (None, None))), repeat=3)
            report(f"history({key!r}, samples=2000) {label}", seconds * 1000, "ms", f"<= {budget * 1000:.0f} ms",
                   seconds <= budget, f"{len(frame)} points; DuckDB reading the same points: {base * 1000:.0f} ms "
                                      f"({base / seconds:.1f}x slower)")
        print(f"load average at the end: {os.getloadavg()}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
