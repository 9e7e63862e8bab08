"""Media benchmarks M1-M3 of issue 15, each tracker measured in the same script run.

    python benchmarks/bench_media.py                  # workbench, W&B offline, Trackio (~3-6 min)
    python benchmarks/bench_media.py --only workbench # workbench only
    python benchmarks/bench_media.py --steps 200      # a quick look

Workload (the same for every tracker): one run, steps 0..1999; each step logs an image
(256x256x3 uint8) and a histogram (10,000 float32 values), every 10th step a table (1,000 rows x
5 columns: int, float, two short texts, bool): 2,000 images + 2,000 histograms + 200 tables,
one ``log`` call per item, ``step=i``. Images come from a pool of 50 made with numpy before the
run (smooth gradients, filled circles and rectangles, Gaussian noise of sigma 3 levels); each
step writes its number into the image's first pixels, so every logged image is distinct (no
tracker gets content-addressed deduplication for free). Histogram values: a pool of 50 arrays
of N(mu, sigma), stamped the same way; tables: a pool of 10 DataFrames, stamped.

M1  caller time of one ``log`` call per kind, constructor included (``run.log({"pred":
    wb.Image(x)}, step=i)`` as a training loop writes it): median, p90, p99, max.
    "tight": the loop does nothing else, so it logs faster than any tracker can encode and
    workbench's back-pressure (``log`` waits while more than 512 calls wait for encoding) shows
    in the tail; "paced": the same loop with ``--pace-ms`` (default 20) of sleep per step (a
    GPU-bound loop waiting on its device), workbench only. "caller CPU": the calling thread's
    CPU time in an image call (``time.thread_time``); wall time above it is time the caller was
    descheduled or waited for the GIL.
M2  whole run, ``init`` to ``finish()`` returned (finish included: everything stored): items/s.
M3  store size on disk (the tracker's whole directory: blocks allocated).

Each tracker runs in a child process of this script (``--worker NAME``) with HOME, TMPDIR, the
W&B, Hugging Face and Trackio directories inside one temporary directory; W&B runs with
WANDB_MODE=offline, Hugging Face with HF_HUB_OFFLINE=1, so nothing is written outside it and
nothing reaches the network. Console capture and system metrics are off in all three.
Peers: ``pip install wandb trackio`` (not dependencies of workbench).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report

POOL = 50
SIZE = 256
HIST_VALUES = 10_000
TABLE_ROWS = 1_000
TABLE_EVERY = 10
TRACKERS = ("workbench", "wandb", "trackio")


# -- the workload -------------------------------------------------------------------------------
def make_images(content: str, seed: int = 0) -> list:
    import numpy as np

    rng = np.random.default_rng(seed)
    if content == "noise":
        return [rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(POOL)]
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    images = []
    for _ in range(POOL):
        angle = rng.uniform(0, 2 * np.pi, 3)
        freq = rng.uniform(0.3, 2.0, 3)
        phase = rng.uniform(0, 2 * np.pi, 3)
        image = np.stack([0.5 + 0.5 * np.sin(2 * np.pi * freq[c] * (xx * np.cos(angle[c]) + yy * np.sin(angle[c]))
                                             + phase[c]) for c in range(3)], axis=-1)
        for _ in range(4):  # filled circles
            cx, cy, r = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.05, 0.2)
            image[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = rng.uniform(0, 1, 3)
        for _ in range(2):  # rectangles
            x0, y0 = rng.integers(0, SIZE - 40, 2)
            w, h = rng.integers(20, 80, 2)
            image[y0:y0 + h, x0:x0 + w] = rng.uniform(0, 1, 3)
        image = image * 255.0 + rng.normal(0.0, 3.0, image.shape)
        images.append(np.clip(image, 0, 255).astype(np.uint8))
    return images


def make_histograms(seed: int = 1) -> list:
    import numpy as np

    rng = np.random.default_rng(seed)
    return [rng.normal(rng.uniform(-1, 1), rng.uniform(0.1, 2), HIST_VALUES).astype(np.float32) for _ in range(POOL)]


def make_tables(seed: int = 2) -> list:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    labels = np.array(["cat", "dog", "bird", "car", "ship", "truck", "frog", "horse"])
    frames = []
    for _ in range(10):
        label = labels[rng.integers(0, len(labels), TABLE_ROWS)]
        pred = labels[rng.integers(0, len(labels), TABLE_ROWS)]
        frames.append(pd.DataFrame({
            "id": np.arange(TABLE_ROWS, dtype=np.int64),
            "score": rng.uniform(0, 1, TABLE_ROWS),
            "label": label.tolist(),
            "pred": [f"{p} ({s:.2f})" for p, s in zip(pred, rng.uniform(0, 1, TABLE_ROWS), strict=True)],
            "correct": label == pred,
        }))
    return frames


# -- one tracker, in a child process -----------------------------------------------------------
def tracker_api(name: str, tmp: Path):
    """(init, Image, Histogram, Table, log, finish, missing) for ``name``; ``missing``: the media
    types it lacks (their items are skipped and said so)."""
    if name == "workbench":
        import workbench as wb

        def init():
            return wb.init(project="media", root=tmp / "store", capture_output=False, system_metrics=False)

        return (init, wb.Image, wb.Histogram, wb.Table,
                lambda run, data, step: run.log(data, step=step), lambda run: run.finish(), [])
    if name == "wandb":
        import wandb

        def init():
            settings = wandb.Settings(console="off", x_disable_stats=True, x_disable_meta=True,
                                      x_disable_machine_info=True, disable_git=True, disable_code=True,
                                      save_code=False, x_save_requirements=False, silent=True)
            return wandb.init(project="media", dir=str(tmp / "wandb"), mode="offline", settings=settings)

        return (init, wandb.Image, lambda values: wandb.Histogram(values, num_bins=64),
                lambda frame: wandb.Table(dataframe=frame),
                lambda run, data, step: run.log(data, step=step), lambda run: run.finish(), [])
    if name == "trackio":
        import trackio

        def init():
            return trackio.init(project="media", embed=False, auto_log_gpu=False, auto_log_cpu=False,
                                capture_console=False)

        missing = [kind for kind, attr in (("image", "Image"), ("histogram", "Histogram"), ("table", "Table"))
                   if not hasattr(trackio, attr)]
        return (init, getattr(trackio, "Image", None),
                (lambda values: trackio.Histogram(values, num_bins=64)) if hasattr(trackio, "Histogram") else None,
                (lambda frame: trackio.Table(dataframe=frame)) if hasattr(trackio, "Table") else None,
                lambda run, data, step: run.log(data, step=step), lambda run: run.finish(), missing)
    raise ValueError(name)


def worker(name: str, tmp: Path, steps: int, content: str, pace_ms: float) -> dict:
    import numpy as np

    images, hists, tables = make_images(content), make_histograms(), make_tables()
    start = time.perf_counter()
    init, Image, Histogram, Table, log, finish, missing = tracker_api(name, tmp)
    import_s = time.perf_counter() - start

    waits = [0]
    if name == "workbench":  # count the back-pressure waits of log() (workbench.tracking.run._sleep)
        import workbench.tracking.run as run_module

        real_sleep = run_module._sleep

        def counting_sleep(seconds: float) -> None:
            waits[0] += 1
            real_sleep(seconds)

        run_module._sleep = counting_sleep

    perf = time.perf_counter
    sleep = time.sleep
    pace = pace_ms / 1000.0
    calls: dict[str, list[float]] = {"image": [], "histogram": [], "table": []}
    make: dict[str, list[float]] = {"image": [], "histogram": [], "table": []}
    cpu: list[float] = []  # the caller's CPU time in each image call: wall minus this = descheduled or GIL wait
    thread_time = time.thread_time
    t_start = perf()
    run = init()
    t_init = perf() - t_start
    for i in range(steps):
        k = i % POOL
        image = images[k]
        image[0, 0, :] = (i & 255, (i >> 8) & 255, 7)  # distinct content at every step
        values = hists[k]
        values[0] = i * 1e-3
        if Image is not None:
            c0 = thread_time()
            t0 = perf()
            item = Image(image)
            t1 = perf()
            log(run, {"pred": item}, i)
            t2 = perf()
            cpu.append(thread_time() - c0)
            make["image"].append(t1 - t0)
            calls["image"].append(t2 - t0)
        if Histogram is not None:
            t0 = perf()
            item = Histogram(values)
            t1 = perf()
            log(run, {"w": item}, i)
            t2 = perf()
            make["histogram"].append(t1 - t0)
            calls["histogram"].append(t2 - t0)
        if Table is not None and i % TABLE_EVERY == 0:
            frame = tables[(i // TABLE_EVERY) % len(tables)]
            frame.iat[0, 0] = i
            t0 = perf()
            item = Table(frame)
            t1 = perf()
            log(run, {"eval": item}, i)
            t2 = perf()
            make["table"].append(t1 - t0)
            calls["table"].append(t2 - t0)
        if pace:
            sleep(pace)
    t_loop = perf() - t_start
    finish(run)
    total = perf() - t_start
    items = sum(len(v) for v in calls.values())
    out = {"name": name, "import_s": import_s, "init_s": t_init, "loop_s": t_loop, "total_s": total,
           "items": items, "missing": missing, "waits": waits[0], "content": content, "pace_ms": pace_ms,
           "calls": calls, "make": make, "cpu": cpu, "version": version_of(name), "np": np.__version__}
    return out


def version_of(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version({"workbench": "workbench-ml"}.get(name, name))
    except PackageNotFoundError:
        return "?"


def disk_usage(path: Path) -> tuple[int, int]:
    """(bytes allocated, files) under ``path``."""
    total = files = 0
    for folder, _, names in os.walk(path):
        for entry in names:
            try:
                st = os.lstat(os.path.join(folder, entry))
            except OSError:
                continue
            total += st.st_blocks * 512
            files += 1
    return total, files


# -- the parent: runs the children, prints the lines --------------------------------------------
def isolated_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    for sub in ("home", "tmp", "cache", "config", "data", "hf", "trackio", "wandb", "store"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    env.update({
        "HOME": str(tmp / "home"), "TMPDIR": str(tmp / "tmp"), "XDG_CACHE_HOME": str(tmp / "cache"),
        "XDG_CONFIG_HOME": str(tmp / "config"), "XDG_DATA_HOME": str(tmp / "data"),
        "WORKBENCH_ROOT": str(tmp / "store"),
        "WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DIR": str(tmp / "wandb"),
        "WANDB_CACHE_DIR": str(tmp / "cache" / "wandb"), "WANDB_CONFIG_DIR": str(tmp / "config" / "wandb"),
        "WANDB_DATA_DIR": str(tmp / "data" / "wandb"), "WANDB_ARTIFACT_DIR": str(tmp / "data" / "wandb-artifacts"),
        "WANDB_DISABLE_CODE": "true", "WANDB_DISABLE_GIT": "true", "WANDB_ERROR_REPORTING": "false",
        "WANDB_CONSOLE": "off", "WANDB_API_KEY": "",
        "HF_HOME": str(tmp / "hf"), "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
        "TRACKIO_DIR": str(tmp / "trackio"), "GRADIO_ANALYTICS_ENABLED": "False", "DO_NOT_TRACK": "1",
        "PYTHONUNBUFFERED": "1",
    })
    env.pop("WANDB_API_KEY")
    for key in ("TRACKIO_SPACE_ID", "TRACKIO_SERVER_URL", "WORKBENCH_RUN_ID"):
        env.pop(key, None)
    return env


def installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def run_child(name: str, args: argparse.Namespace, content: str, pace_ms: float) -> dict | None:
    tmp = Path(tempfile.mkdtemp(prefix=f"wb-bench-media-{name}-"))
    try:
        out = tmp / "result.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--tmp", str(tmp),
               "--steps", str(args.steps), "--content", content, "--pace-ms", str(pace_ms), "--out", str(out)]
        try:
            proc = subprocess.run(cmd, env=isolated_env(tmp), cwd=str(tmp), capture_output=True, text=True, check=False,
                                  timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"{name}: did not finish within {args.timeout} s", flush=True)
            return None
        if proc.returncode != 0 or not out.exists():
            print(f"{name}: failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}", flush=True)
            return None
        result = json.loads(out.read_text())
        data_dir = {"workbench": tmp / "store", "wandb": tmp / "wandb", "trackio": tmp / "trackio"}[name]
        result["disk_bytes"], result["disk_files"] = disk_usage(data_dir)
        stray = [p.name for p in (tmp / "home").iterdir()]
        result["home_written"] = stray
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def us(seconds: float) -> float:
    return seconds * 1e6


def fmt_us(seconds: float) -> str:
    value = us(seconds)
    return f"{value:,.0f} us" if value >= 100 else f"{value:.1f} us"


def print_results(results: dict[str, dict], label: str, pace_ms: float) -> None:
    wb = results.get("workbench")
    peers = [n for n in ("wandb", "trackio") if n in results]
    peer_names = {"wandb": "W&B", "trackio": "Trackio"}
    target = {"image": ("<= 50 us", 50e-6), "histogram": ("-", None), "table": ("-", None)}
    tag = f"{label}" + (f", paced {pace_ms:g} ms/step" if pace_ms else ", tight loop")
    for number, kind in ((1, "image"), (1, "histogram"), (1, "table")):
        if wb is None or not wb["calls"][kind]:
            continue
        times = wb["calls"][kind]
        median = statistics.median(times)
        others = []
        for peer in peers:
            ptimes = results[peer]["calls"][kind]
            if ptimes:
                pm = statistics.median(ptimes)
                others.append(f"{peer_names[peer]} {fmt_us(pm)}, {pm / median:.0f}x")
            else:
                others.append(f"{peer_names[peer]}: no {kind} type")
        text, limit = target[kind]
        ok = True if limit is None else median <= limit
        made = statistics.median(wb["make"][kind])
        cpu = f", caller CPU {fmt_us(statistics.median(wb['cpu']))}" if kind == "image" and wb["cpu"] else ""
        report(f"M{number} {kind} log() caller time, median ({tag})", us(median), "us", text, ok,
               f"constructor {fmt_us(made)}{cpu}; p90 {fmt_us(pct(times, 0.9))}, p99 {fmt_us(pct(times, 0.99))}, "
               f"max {fmt_us(max(times))}" + ("; " + "; ".join(others) if others else ""))
    if wb is not None:
        waited = wb["waits"]
        slow = sum(1 for kind in wb["calls"] for t in wb["calls"][kind] if t > 1e-3)
        blocked = sum(t for kind in wb["calls"] for t in wb["calls"][kind] if t > 1e-3)
        report(f"M1 log() calls over 1 ms ({tag})", slow, "calls", "-", True,
               f"{blocked:.2f} s in them; back-pressure sleeps of 1 ms: {waited}; loop {wb['loop_s']:.2f} s "
               f"of {wb['total_s']:.2f} s")
    for name in ["workbench", *peers]:
        result = results[name]
        missing = f"; missing types: {', '.join(result['missing'])}" if result["missing"] else ""
        base = wb["total_s"] if wb else None
        ratio = f", {result['total_s'] / base:.2f}x workbench's time" if base and name != "workbench" else ""
        rate = result["items"] / result["total_s"]
        report(f"M2 {peer_names.get(name, name)} whole run, init to finish ({tag})", rate, "items/s",
               "-", True, f"{result['items']} items in {result['total_s']:.2f} s (loop {result['loop_s']:.2f} s, "
               f"init {result['init_s'] * 1e3:.0f} ms, import {result['import_s']:.2f} s){ratio}{missing}")
    for name in ["workbench", *peers]:
        result = results[name]
        base = wb["disk_bytes"] if wb else None
        ratio = f", {result['disk_bytes'] / base:.2f}x workbench" if base and name != "workbench" else ""
        home = f"; wrote to HOME: {result['home_written']}" if result["home_written"] else ""
        report(f"M3 {peer_names.get(name, name)} store on disk ({tag})", result["disk_bytes"] / 1e6, "MB", "-",
               True, f"{result['disk_files']} files{ratio}{home}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--only", default=",".join(TRACKERS), help="comma-separated: workbench,wandb,trackio")
    parser.add_argument("--noise", action="store_true", help="also the worst case: images of pure noise")
    parser.add_argument("--pace-ms", type=float, default=20.0,
                        help="sleep per step of the paced workbench run (0: no paced run)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds for each tracker's run")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--content", default="smooth", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        result = worker(args.worker, Path(args.tmp), args.steps, args.content, args.pace_ms)
        Path(args.out).write_text(json.dumps(result))
        return

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; load average at start "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (other sessions' tests may load the machine)", flush=True)
    wanted = [n for n in args.only.split(",") if n]
    missing = [n for n in wanted if n != "workbench" and not installed(n)]
    if missing:
        print(f"not installed: pip install wandb trackio (skipping {', '.join(missing)})", flush=True)
    names = [n for n in wanted if n not in missing]
    n_tables = len(range(0, args.steps, TABLE_EVERY))
    print(f"workload: {args.steps} images 256x256x3 + {args.steps} histograms of 10,000 values + {n_tables} tables "
          f"of 1,000 x 5, one log() call each; images: pool of {POOL} smooth (gradients, shapes, noise sigma 3)",
          flush=True)
    versions = []
    contents = ["smooth"] + (["noise"] if args.noise else [])
    for content in contents:
        results = {}
        for name in names:
            result = run_child(name, args, content, 0.0)
            if result is not None:
                results[name] = result
                if content == contents[0]:
                    versions.append(f"{name} {result['version']}")
        if content == contents[0]:
            print("versions: " + ", ".join(versions), flush=True)
        print_results(results, f"{content} images", 0.0)
        if content == "smooth" and args.pace_ms and "workbench" in names:
            paced = run_child("workbench", args, content, args.pace_ms)
            if paced is not None:
                print_results({"workbench": paced}, f"{content} images", args.pace_ms)
    print(f"load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
