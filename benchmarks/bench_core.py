"""Core benchmarks W1-W4 of issue 2, each against a baseline run in the same process.

    python benchmarks/bench_core.py            # everything (builds a 10,000-run store: ~1-2 min)
    python benchmarks/bench_core.py --quick    # skips the 10,000-run store

W1  one run logs 20 keys x 10,000 steps, then finish   baseline: the same points as numpy
    arrays written with pyarrow (no tracker at all)
W2  1,000 runs, 10 params and 5 metrics x 100 steps     baseline: a JSON file and a parquet
                                                       file per run, written directly
W3  filter + sort + top 20 on a warm store              baseline: the same query in DuckDB over a
                                                       ready wide table of the same runs
W4  full `loss` series of 50 runs x 10,000 steps        baseline: DuckDB read_parquet over the
                                                       same files
import: `python -c "import workbench"`                  baseline: `python -c "pass"`
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_of, report

KEYS20 = [f"metric_{i:02d}" for i in range(20)]


def w1(tmp: Path) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    import workbench as wb

    root = tmp / "w1"
    values = [float(i) * 0.001 for i in range(10_000)]

    def per_step() -> None:
        run = wb.init(project="w1", root=root, capture_output=False, system_metrics=False)
        log = run.log
        for step in range(10_000):
            v = values[step]
            log({k: v for k in KEYS20}, step=step)
        run.finish()

    def per_scalar() -> None:
        run = wb.init(project="w1", root=root, capture_output=False, system_metrics=False)
        log = run.log
        for step in range(10_000):
            v = values[step]
            for k in KEYS20:
                log({k: v}, step=step)
        run.finish()

    def baseline() -> None:
        n = 10_000 * len(KEYS20)
        steps = np.empty(n, np.int64)
        keys = np.empty(n, object)
        vals = np.empty(n, np.float64)
        times = np.empty(n, np.float64)
        i = 0
        for step in range(10_000):
            v = values[step]
            t = time.time()
            for k in KEYS20:
                steps[i], keys[i], vals[i], times[i] = step, k, v, t
                i += 1
        table = pa.table({"step": steps, "key": pa.array(keys, pa.string()).dictionary_encode(),
                          "value": vals, "time": times})
        path = tmp / "w1-baseline.parquet"
        pq.write_table(table, path)

    def per_scalar_form() -> None:
        run = wb.init(project="w1", root=root, capture_output=False, system_metrics=False)
        log_scalar = run.log_scalar
        for step in range(10_000):
            v = values[step]
            for k in KEYS20:
                log_scalar(k, v, step)
        run.finish()

    class ListLogger:
        """Issue 16's per-scalar baseline: the simplest logger there is, a method call that appends
        each scalar to three Python lists, then one parquet write of them."""

        def __init__(self) -> None:
            self.steps: list[int] = []
            self.keys: list[str] = []
            self.values: list[float] = []

        def log(self, key: str, value: float, step: int) -> None:
            self.steps.append(step)
            self.keys.append(key)
            self.values.append(value)

        def close(self, path: Path) -> None:
            table = pa.table({"step": pa.array(self.steps, pa.int64()),
                              "key": pa.array(self.keys, pa.string()).dictionary_encode(),
                              "value": pa.array(self.values, pa.float64())})
            pq.write_table(table, path)

    def scalar_baseline() -> None:
        logger = ListLogger()
        log = logger.log
        for step in range(10_000):
            v = values[step]
            for k in KEYS20:
                log(k, v, step)
        logger.close(tmp / "w1-scalar-baseline.parquet")

    points = 200_000
    t_step = best_of(per_step, repeat=5)
    t_scalar = best_of(per_scalar, repeat=3)
    t_form = best_of(per_scalar_form, repeat=3)
    t_list = best_of(scalar_baseline, repeat=3)
    t_base = best_of(baseline, repeat=3)
    report("W1 log 20 keys x 10k steps + finish", points / t_step, "points/s", ">= 1,000,000",
           points / t_step >= 1_000_000, f"{t_step * 1000:.0f} ms; {t_base / t_step:.2f}x the baseline's speed")
    report("W1 one log call per scalar + finish", points / t_scalar, "points/s", ">= 0.4x baseline",
           t_list / t_scalar >= 0.4, f"{t_scalar * 1000:.0f} ms; {t_list / t_scalar:.2f}x the per-scalar baseline")
    report("W1 run.log_scalar(key, value, step) + finish", points / t_form, "points/s", ">= 0.6x baseline",
           t_list / t_form >= 0.6, f"{t_form * 1000:.0f} ms; {t_list / t_form:.2f}x the per-scalar baseline")
    report("W1 per-scalar baseline: 3 lists -> parquet", points / t_list, "points/s", "-", True,
           f"{t_list * 1000:.0f} ms (issue 16)")
    report("W1 baseline: numpy buffers -> pyarrow parquet", points / t_base, "points/s", "-", True,
           f"{t_base * 1000:.0f} ms")


def make_runs(root: Path, count: int, steps: int = 100, seed: int = 0, **settings: object) -> float:
    """``count`` runs with 10 params and 5 metrics x ``steps`` steps; returns seconds.

    ``settings`` go to every ``init`` (``fsync=False``: W2 without durability)."""
    import random

    import workbench as wb

    rng = random.Random(seed)
    start = time.perf_counter()
    for i in range(count):
        config = {"lr": 10 ** rng.uniform(-4, -1), "batch_size": rng.choice([16, 32, 64]),
                  "dropout": rng.random() / 2, "layers": rng.randint(2, 12), "optimizer": rng.choice(["adam", "sgd"]),
                  "warmup": rng.randint(0, 500), "seed": i, "wd": rng.random() * 1e-2,
                  "model": rng.choice(["tiny", "small"]), "schedule": "cosine"}
        run = wb.init(project=f"p{i % 4}", config=config, root=root, capture_output=False,
                      system_metrics=False, **settings)
        final = rng.random()
        for step in range(steps):
            frac = (step + 1) / steps
            run.log({"loss": 1.0 - frac * (1 - final * 0.5), "acc": frac * final, "lr": config["lr"],
                     "grad_norm": 1.0 / (step + 1), "val_loss": 1.1 - frac * final}, step=step)
        run.finish()
    return time.perf_counter() - start


class RunLogger:
    """W2's baseline (issue 16): the simplest per-run logger there is, fed by the same loop as
    ``make_runs``: ``log(dict, step)`` appends each value with its step, key and wall time to four
    Python lists; ``close`` writes one JSON record (config and last values) and one parquet file."""

    def __init__(self, path: Path, config: dict) -> None:
        self.path, self.config = path, config
        self.steps: list[int] = []
        self.keys: list[str] = []
        self.values: list[float] = []
        self.times: list[float] = []

    def log(self, data: dict, step: int) -> None:
        now = time.time()
        for key, value in data.items():
            self.steps.append(step)
            self.keys.append(key)
            self.values.append(value)
            self.times.append(now)

    def close(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path.mkdir(parents=True)
        last = dict(zip(self.keys, self.values))
        (self.path / "run.json").write_text(json.dumps({"id": self.path.name, "config": self.config,
                                                        "summary": last}))
        table = pa.table({"step": pa.array(self.steps, pa.int64()),
                          "key": pa.array(self.keys, pa.string()).dictionary_encode(),
                          "value": pa.array(self.values, pa.float64()),
                          "time": pa.array(self.times, pa.float64())})
        pq.write_table(table, self.path / "metrics.parquet")


def make_runs_raw(root: Path, count: int, steps: int = 100, seed: int = 0) -> float:
    """``make_runs`` with :class:`RunLogger` in place of workbench: the same config, the same loop."""
    import random

    rng = random.Random(seed)
    start = time.perf_counter()
    for i in range(count):
        config = {"lr": 10 ** rng.uniform(-4, -1), "batch_size": rng.choice([16, 32, 64]),
                  "dropout": rng.random() / 2, "layers": rng.randint(2, 12), "optimizer": rng.choice(["adam", "sgd"]),
                  "warmup": rng.randint(0, 500), "seed": i, "wd": rng.random() * 1e-2,
                  "model": rng.choice(["tiny", "small"]), "schedule": "cosine"}
        run = RunLogger(root / f"r{i}", config)
        final = rng.random()
        for step in range(steps):
            frac = (step + 1) / steps
            run.log({"loss": 1.0 - frac * (1 - final * 0.5), "acc": frac * final, "lr": config["lr"],
                     "grad_norm": 1.0 / (step + 1), "val_loss": 1.1 - frac * final}, step=step)
        run.close()
    return time.perf_counter() - start


def w2(tmp: Path, repeat: int = 3) -> Path:
    """W2 with the default settings (every run durable when finish returns: fsync) and with
    ``fsync=False``, each against the raw JSON + parquet logger, interleaved ``repeat`` times
    (best of each: the machine is shared); the ratios are of the best times."""
    root = tmp / "w2"
    make_runs(tmp / "w2-warm", 50)  # imports, the environment file, the first run's costs
    make_runs_raw(tmp / "w2-raw-warm", 50)
    ours, nosync, raw = [], [], []
    for i in range(repeat):
        # the first repetition writes the store W3 queries; the others their own
        ours.append(make_runs(root if i == 0 else tmp / f"w2-{i}", 1000))
        nosync.append(make_runs(tmp / f"w2-nofsync-{i}", 1000, fsync=False))
        raw.append(make_runs_raw(tmp / f"w2-raw-{i}", 1000))
        for path in (tmp / f"w2-{i}", tmp / f"w2-nofsync-{i}", tmp / f"w2-raw-{i}"):
            if path != root:
                shutil.rmtree(path, ignore_errors=True)
    seconds, off, base = min(ours), min(nosync), min(raw)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    report("W2 1,000 runs (10 params, 5 metrics x 100 steps)", seconds, "s", "<= 1.5x baseline",
           seconds / base <= 1.5,
           f"baseline JSON+parquet per run: {base:.2f} s, ratio {seconds / base:.2f}; "
           f"{seconds / 1000 * 1e3:.2f} ms a run; all: {', '.join(f'{x:.2f}' for x in ours)} s; load {load}")
    report("W2 with fsync=False", off, "s", "-", True,
           f"ratio {off / base:.2f} to the same baseline; all: {', '.join(f'{x:.2f}' for x in nosync)} s; "
           f"baseline all: {', '.join(f'{x:.2f}' for x in raw)} s")
    return root


W3_WHERE = "config.lr < 0.01 and summary.loss < 0.3"


def w3(root: Path, label: str, budget_ms: float) -> None:
    import duckdb

    from workbench.settings import load_settings
    from workbench.store.store import Store

    store = Store(load_settings(root))
    store.runs(where=W3_WHERE, order_by="summary.loss", limit=20)  # warm: catalog loaded
    seconds = best_of(lambda: store.runs(where=W3_WHERE, order_by="summary.loss", limit=20), repeat=20)
    frame = store.runs(where=W3_WHERE, order_by="summary.loss", limit=20)
    # baseline: the same runs as a wide table in DuckDB, query only
    wide = store.runs(columns=["config.lr", "summary.loss", "name", "status"])
    con = duckdb.connect()
    con.register("wide_df", wide)
    con.execute("CREATE TABLE wide AS SELECT * FROM wide_df")
    query = ('SELECT * FROM wide WHERE "config.lr" < 0.01 AND "summary.loss" < 0.3 '
             'ORDER BY "summary.loss" LIMIT 20')
    base = best_of(lambda: con.execute(query).df(), repeat=20)
    cold_start = time.perf_counter()
    Store(load_settings(root)).runs(where=W3_WHERE, order_by="summary.loss", limit=20)
    cold = time.perf_counter() - cold_start
    report(f"W3 filter+sort+top20, {label} (warm)", seconds * 1000, "ms", f"<= {budget_ms:.0f} ms",
           seconds * 1000 <= budget_ms,
           f"{len(frame)} rows; DuckDB on a ready wide table: {base * 1000:.1f} ms; "
           f"cold open from snapshot: {cold * 1000:.0f} ms")


def w4(tmp: Path) -> None:
    import duckdb

    import workbench as wb
    from workbench.settings import load_settings
    from workbench.store.store import Store

    root = tmp / "w4"
    ids = []
    for i in range(50):
        run = wb.init(project="w4", root=root, capture_output=False, system_metrics=False, fsync=False)
        for step in range(10_000):
            run.log({"loss": 1.0 / (step + 1 + i), "acc": step / 10_000, "lr": 1e-3}, step=step)
        run.finish()
        ids.append(run.id)
    store = Store(load_settings(root))
    store.history(ids, keys=["loss"])
    seconds = best_of(lambda: store.history(ids, keys=["loss"]), repeat=10)
    frame = store.history(ids, keys=["loss"])
    assert len(frame) == 500_000, len(frame)
    files = [str(p) for _, p in store.metric_files(ids)]
    con = duckdb.connect()
    base = best_of(lambda: con.execute("SELECT * FROM read_parquet($f, filename=true) WHERE key = 'loss'",
                                       {"f": files}).df(), repeat=10)
    sampled = best_of(lambda: store.history(ids, keys=["loss"], samples=2000), repeat=5)
    report("W4 loss series, 50 runs x 10,000 steps", seconds * 1000, "ms", "<= 100 ms", seconds <= 0.1,
           f"DuckDB read_parquet of the same files to pandas: {base * 1000:.0f} ms; "
           f"with samples=2000: {sampled * 1000:.0f} ms")


def import_time() -> None:
    def run(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - start

    bare = min(run("pass") for _ in range(5))
    full = min(run("import workbench") for _ in range(5))
    heavy = subprocess.run(
        [sys.executable, "-c", "import sys, workbench; print(' '.join(m for m in ('torch', 'transformers', "
         "'panel', 'fabric') if m in sys.modules))"], capture_output=True, text=True, check=True).stdout.strip()
    report("python -c 'import workbench'", full, "s", "<= 0.3 s", full <= 0.3 and not heavy,
           f"bare interpreter {bare:.3f} s; heavy modules imported: {heavy or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="skip the 10,000-run store")
    parser.add_argument("--only", choices=["w1", "w2", "w3", "w4", "import"],
                        help="one benchmark (w3 builds its store with w2)")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="wb-bench-"))
    try:
        if args.only in (None, "import"):
            import_time()
        if args.only in (None, "w1"):
            w1(tmp)
        if args.only in (None, "w2", "w3"):
            root = w2(tmp)
            if args.only == "w2":
                return
            w3(root, "1,000 runs", 30)
            if not args.quick:
                make_runs(root, 9000, seed=1)
                w3(root, "10,000 runs", 60)
        if args.only in (None, "w4"):
            w4(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
