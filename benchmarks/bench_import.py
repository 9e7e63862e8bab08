"""Import benchmarks of issue 17 (acceptance 4): TensorBoard and MLflow sources into a fresh store,
against the peers and a read-only floor measured in the same run.

    python benchmarks/bench_import.py                       # 1,000 TB runs x 10 tags x 1,000 steps,
                                                            # an MLflow file store of 1,000 runs
    python benchmarks/bench_import.py --runs 50 --steps 200  # a quick check
    python benchmarks/bench_import.py --only ours,floor      # skip the peers

Sources (written once by the real libraries, cached under ``--cache``; a rerun reuses them):
  TensorBoard  RUNS folders ``run_0000/``..., each one event file written by
               ``torch.utils.tensorboard.SummaryWriter`` (faster than tensorboardX here: 17k vs 11k
               points/s with a large ``max_queue``), 10 tags x STEPS ``add_scalar`` calls with
               explicit wall times. Sources 100x and 10x smaller (the first RUNS/100 and RUNS/10
               folders, hard links) give the peers a size they finish in, and show that peak
               memory does not grow with the source.
  MLflow       a file store (``mlruns/``, ``MLFLOW_ALLOW_FILE_STORE=true``) of MLFLOW_RUNS runs in one
               experiment: 10 params (floats, ints, booleans, strings: all stored as text by MLflow),
               3 tags, 5 metrics x MLFLOW_STEPS steps with timestamps, status FINISHED (every 10th
               FAILED), written with ``MlflowClient.log_batch`` (1,000 entries a call). Also copies
               100x and 10x smaller (hard links).

Each measurement is a child process (its own interpreter, HOME/TMPDIR in a temporary folder, no
network); the parent reads the child's peak RSS from ``os.wait4`` and times it. Figures: the
child's wall time (interpreter and imports included) and the import call alone, points/s and
runs/s, peak RSS. Compared:
  ours     ``workbench.importers.tensorboard(src, root=fresh)`` / ``.mlflow(uri, root=fresh)``
  floor    TB: tensorboard's ``EventFileLoader`` over every event file, each value touched, nothing
           stored; MLflow: ``MlflowClient`` search_runs + get_metric_history of every metric
  trackio  ``trackio.import_tf_events(src, project)`` with TRACKIO_DIR in the temporary folder
           (TensorBoard only: Trackio has no MLflow import)
  aim      ``aim convert tensorboard --logdir src`` / ``aim convert mlflow --tracking_uri URI`` into a
           fresh ``aim init`` repo, Aim's own CLI from ``--aim`` or $WB_BENCH_AIM (a separate venv:
           ``python3 -m venv /tmp/aimvenv && /tmp/aimvenv/bin/pip install aim tensorflow-cpu tensorboard
           mlflow==3.18.0``: Aim's TensorBoard converter needs TensorFlow and tensorboard; its MLflow
           converter calls ``MlflowClient.list_experiments``, removed in mlflow 2.0, so it runs with that
           name aliased to ``search_experiments``); skipped with the reason when absent.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report

TAGS = ["train/loss", "train/acc", "train/lr", "train/grad_norm", "train/perplexity",
        "val/loss", "val/acc", "val/perplexity", "perf/samples_per_s", "perf/gpu_mem_gb"]
ML_METRICS = ["loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"]
T0 = 1_760_000_000.0  # wall time of the first point of the first run (2025-10-09)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- generators (run in a pool of processes; each writes whole runs) -----------------------------
def _tb_chunk(args: tuple[str, list[int], int]) -> int:
    out, runs, steps = args
    from torch.utils.tensorboard import SummaryWriter

    for r in runs:
        rng = random.Random(r)
        final = rng.random()
        writer = SummaryWriter(os.path.join(out, f"run_{r:04d}"), max_queue=100_000, flush_secs=3600)
        start = T0 + r * 3600.0
        for step in range(steps):
            frac = (step + 1) / steps
            loss = 2.0 * math.exp(-3.0 * frac) * (1.0 - 0.5 * final) + 0.01 * rng.random()
            values = (loss, 1.0 - loss / 2.5, 1e-3 * (1.0 - frac), 1.0 / (step + 1) + rng.random(),
                      math.exp(loss), loss * 1.1, 0.95 - loss / 2.4, math.exp(loss * 1.1),
                      900.0 + 50.0 * rng.random(), 20.0 + rng.random())
            wall = start + step * 0.5
            for k, tag in enumerate(TAGS):
                writer.add_scalar(tag, values[k], step, walltime=wall + k * 0.001)
        writer.close()
    return len(runs)


def _mlflow_chunk(args: tuple[str, str, list[int], int]) -> int:
    uri, experiment_id, runs, steps = args
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    for r in runs:
        rng = random.Random(r)
        start_ms = int((T0 + r * 3600.0) * 1000)
        params = {"lr": f"{10 ** rng.uniform(-4, -2):.6g}", "batch_size": str(rng.choice([16, 32, 64, 128])),
                  "epochs": str(rng.randint(1, 20)), "dropout": f"{rng.random() / 2:.3f}",
                  "optimizer": rng.choice(["adam", "sgd", "adamw"]), "use_amp": rng.choice(["True", "False"]),
                  "weight_decay": "0.01", "seed": str(r), "model": rng.choice(["resnet18", "resnet50", "vit-s"]),
                  "warmup_steps": str(rng.randint(0, 500))}
        run = client.create_run(experiment_id, start_time=start_ms, run_name=f"run-{r:04d}",
                                tags={"team": "vision", "dataset": rng.choice(["cifar10", "imagenet"])})
        run_id = run.info.run_id
        final = rng.random()
        metrics = []
        for step in range(steps):
            frac = (step + 1) / steps
            loss = 2.0 * math.exp(-3.0 * frac) * (1.0 - 0.5 * final) + 0.01 * rng.random()
            ts = start_ms + step * 500
            for key, value in zip(ML_METRICS, (loss, 1.0 - loss / 2.5, loss * 1.1, 0.95 - loss / 2.4,
                                               1e-3 * (1.0 - frac))):
                metrics.append(Metric(key, value, ts, step))
        first = True
        for i in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[i:i + 1000],
                             params=[Param(k, v) for k, v in params.items()] if first else [],
                             tags=[RunTag("stage", "bench")] if first else [])
            first = False
        status = "FAILED" if r % 10 == 9 else "FINISHED"
        client.set_terminated(run_id, status, end_time=start_ms + steps * 500 + 1000)
    return len(runs)


def _pool_map(fn, chunks: list, jobs: int) -> None:  # type: ignore[no-untyped-def]
    if jobs <= 1 or len(chunks) <= 1:
        for c in chunks:
            fn(c)
        return
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        for _ in pool.imap_unordered(fn, chunks):
            pass


def _chunks(n: int, size: int) -> list[list[int]]:
    return [list(range(i, min(n, i + size))) for i in range(0, n, size)]


def _link_copy(src: Path, dst: Path) -> None:
    """A copy of the tree ``src`` at ``dst`` made of hard links (no data copied)."""
    shutil.copytree(src, dst, copy_function=os.link)


def make_tb(cache: Path, runs: int, steps: int, jobs: int) -> Path:
    big = cache / f"tb-{runs}r-{len(TAGS)}t-{steps}s"
    done = big.with_name(big.name + ".done")
    if not done.exists():
        shutil.rmtree(big, ignore_errors=True)
        big.mkdir(parents=True)
        t = time.perf_counter()
        print(f"generating {big.name}: {runs} runs x {len(TAGS)} tags x {steps} steps with "
              f"torch.utils.tensorboard, {jobs} processes ...", flush=True)
        _pool_map(_tb_chunk, [(str(big), c, steps) for c in _chunks(runs, 10)], jobs)
        seconds = time.perf_counter() - t
        done.write_text(json.dumps({"seconds": seconds, "points": runs * len(TAGS) * steps}))
        print(f"  generated in {seconds:.0f} s ({runs * len(TAGS) * steps / seconds:,.0f} points/s)", flush=True)
    return big


def tb_subset(big: Path, runs: int) -> Path:
    """The first ``runs`` run folders of ``big``, hard links (no data copied)."""
    out = big.with_name(f"{big.name}-first{runs}")
    if not out.exists():
        part = out.with_name(out.name + ".part")
        shutil.rmtree(part, ignore_errors=True)
        part.mkdir()
        for r in range(runs):
            _link_copy(big / f"run_{r:04d}", part / f"run_{r:04d}")
        part.rename(out)
    return out


def make_mlflow(cache: Path, runs: int, steps: int, jobs: int) -> Path:
    big = cache / f"mlflow-{runs}r-{len(ML_METRICS)}m-{steps}s"
    done = big.with_name(big.name + ".done")
    if not done.exists():
        shutil.rmtree(big, ignore_errors=True)
        big.mkdir(parents=True)
        t = time.perf_counter()
        print(f"generating {big.name}: MLflow file store, {runs} runs x 10 params x {len(ML_METRICS)} metrics x "
              f"{steps} steps with MlflowClient.log_batch, {jobs} processes ...", flush=True)
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
        from mlflow.tracking import MlflowClient

        uri = (big / "mlruns").as_uri()
        experiment_id = MlflowClient(tracking_uri=uri).create_experiment("bench")
        _pool_map(_mlflow_chunk, [(uri, experiment_id, c, steps) for c in _chunks(runs, 25)], jobs)
        seconds = time.perf_counter() - t
        done.write_text(json.dumps({"seconds": seconds, "points": runs * len(ML_METRICS) * steps}))
        print(f"  generated in {seconds:.0f} s", flush=True)
    return big / "mlruns"


def mlflow_subset(mlruns: Path, runs: int) -> Path:
    """A file store with the experiments' meta.yaml and the runs named run-0000... below ``runs``
    (hard links); run meta.yaml still names the original artifact folders (there are no artifacts)."""
    out = mlruns.parent.with_name(f"{mlruns.parent.name}-first{runs}") / "mlruns"
    if not out.exists():
        part = out.with_name("mlruns.part")
        shutil.rmtree(part, ignore_errors=True)
        part.mkdir(parents=True)
        keep = {f"run-{r:04d}" for r in range(runs)}
        for exp in mlruns.iterdir():
            if not (exp / "meta.yaml").exists():
                continue
            (part / exp.name).mkdir()
            os.link(exp / "meta.yaml", part / exp.name / "meta.yaml")
            for run_dir in exp.iterdir():
                tag = run_dir / "tags" / "mlflow.runName"
                if run_dir.is_dir() and tag.exists() and tag.read_text().strip() in keep:
                    _link_copy(run_dir, part / exp.name / run_dir.name)
        part.rename(out)
    return out


# -- the workers: one child process each --------------------------------------------------------
def _count_report(result: object) -> tuple[int | None, int | None, list[str]]:
    """Points and runs of an ImportReport, read defensively; and the statuses that were not ok."""
    runs = getattr(result, "runs", None)
    if runs is None and isinstance(result, (list, tuple)):
        runs = result
    if runs is None:
        return None, None, []
    points = 0
    bad = []
    for run in runs:
        n = getattr(run, "points_added", getattr(run, "points", None))
        points += int(n or 0)
        status = getattr(run, "outcome", getattr(run, "status", "imported"))
        if status not in ("imported", "updated", "unchanged"):
            bad.append(f"{getattr(run, 'source_id', '?')}: {status} {getattr(run, 'problems', '')}")
    bad.extend(f"{f.source}: {f.error}" for f in getattr(result, "failed_sources", []))
    return points, len(runs), bad


def worker(name: str, source: Path, dest: Path) -> dict:
    if name == "ours-tb":
        from workbench import importers

        t = time.perf_counter()
        result = importers.tensorboard(str(source), project="bench", root=dest, progress="never")
        seconds = time.perf_counter() - t
        points, runs, bad = _count_report(result)
        return {"seconds": seconds, "points": points, "runs": runs, "bad": bad[:5], "bad_count": len(bad)}
    if name == "ours-mlflow":
        from workbench import importers

        t = time.perf_counter()
        result = importers.mlflow(source.as_uri(), project="bench", root=dest, progress="never")
        seconds = time.perf_counter() - t
        points, runs, bad = _count_report(result)
        return {"seconds": seconds, "points": points, "runs": runs, "bad": bad[:5], "bad_count": len(bad)}
    if name in ("floor-tb", "floor-tbraw"):
        from tensorboard.backend.event_processing import event_file_loader

        loader = (event_file_loader.EventFileLoader if name == "floor-tb"
                  else event_file_loader.LegacyEventFileLoader)

        t = time.perf_counter()
        points = runs = 0
        folders = set()
        for folder, _, names in sorted(os.walk(source)):
            for entry in sorted(names):
                if "tfevents" not in entry:
                    continue
                folders.add(folder)
                for event in loader(os.path.join(folder, entry)).Load():
                    step, wall = event.step, event.wall_time  # noqa: F841 (touched, like a reader)
                    for value in event.summary.value:
                        tensor = value.tensor
                        _ = tensor.float_val[0] if tensor.float_val else value.simple_value
                        points += 1
        runs = len(folders)
        return {"seconds": time.perf_counter() - t, "points": points, "runs": runs}
    if name == "floor-mlflow":
        from mlflow.entities import ViewType
        from mlflow.tracking import MlflowClient

        t = time.perf_counter()
        client = MlflowClient(tracking_uri=source.as_uri())
        points = runs = 0
        for experiment in client.search_experiments(view_type=ViewType.ALL):
            token = None
            while True:
                page = client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL,
                                          max_results=1000, page_token=token)
                for run in page:
                    runs += 1
                    _ = run.data.params, run.data.tags, run.info.status, run.info.start_time
                    for key in run.data.metrics:
                        points += len(client.get_metric_history(run.info.run_id, key))
                token = page.token
                if not token:
                    break
        return {"seconds": time.perf_counter() - t, "points": points, "runs": runs}
    if name == "trackio-tb":
        import trackio

        t = time.perf_counter()
        trackio.import_tf_events(str(source), project="bench")
        seconds = time.perf_counter() - t
        import sqlite3

        dbs = list(Path(os.environ["TRACKIO_DIR"]).rglob("bench.db"))
        points = runs = None
        if dbs:
            with sqlite3.connect(dbs[0]) as conn:
                points = conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
        return {"seconds": seconds, "points": points, "runs": runs}
    raise SystemExit(f"unknown worker {name}")


# -- the parent ---------------------------------------------------------------------------------
def isolated_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    for sub in ("home", "tmp", "cache", "config", "data", "hf", "trackio"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    env.update({
        "HOME": str(tmp / "home"), "TMPDIR": str(tmp / "tmp"), "XDG_CACHE_HOME": str(tmp / "cache"),
        "XDG_CONFIG_HOME": str(tmp / "config"), "XDG_DATA_HOME": str(tmp / "data"),
        "WORKBENCH_ROOT": str(tmp / "store"), "MLFLOW_ALLOW_FILE_STORE": "true",
        "HF_HOME": str(tmp / "hf"), "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
        "TRACKIO_DIR": str(tmp / "trackio"), "GRADIO_ANALYTICS_ENABLED": "False", "DO_NOT_TRACK": "1",
        "AIM_UI_TELEMETRY_ENABLED": "0", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1",
    })
    for key in ("TRACKIO_SPACE_ID", "TRACKIO_SERVER_URL", "WORKBENCH_RUN_ID", "MLFLOW_TRACKING_URI"):
        env.pop(key, None)
    return env


def disk_usage(path: Path) -> int:
    total = 0
    for folder, _, names in os.walk(path):
        for entry in names:
            try:
                total += os.lstat(os.path.join(folder, entry)).st_blocks * 512
            except OSError:
                pass
    return total


def spawn(cmd: list[str], env: dict[str, str], cwd: Path, log: Path, timeout: float) -> dict:
    """Run ``cmd``; its wall time, exit status and peak RSS (``os.wait4``: this child alone)."""
    with open(log, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=str(cwd), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > timeout:
                os.killpg(proc.pid, 9)
                pid, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = -9
                return {"timeout": True, "wall": time.perf_counter() - start, "maxrss_kb": usage.ru_maxrss}
            time.sleep(0.05)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    return {"timeout": False, "rc": proc.returncode, "wall": wall, "maxrss_kb": usage.ru_maxrss,
            "cpu": usage.ru_utime + usage.ru_stime}


def measure(name: str, source: Path, args: argparse.Namespace, expected: tuple[int, int]) -> dict | None:
    """One child: a python worker (ours, floor, trackio) or Aim's CLI; None when it cannot run."""
    tmp = Path(tempfile.mkdtemp(prefix=f"wb-bench-import-{name}-", dir=args.tmp))
    try:
        env = isolated_env(tmp)
        dest = tmp / "store"
        out = tmp / "result.json"
        if name.startswith("aim-"):
            aim = args.aim if name == "aim-tb" else args.aim_mlflow
            if not aim or not Path(aim).exists():
                print(f"{name}: skipped: Aim's CLI not found (--aim/--aim-mlflow PATH or $WB_BENCH_AIM, "
                      "$WB_BENCH_AIM_MLFLOW)", flush=True)
                return None
            dest.mkdir()
            init = subprocess.run([aim, "init", "--repo", str(dest)], env=env, cwd=str(tmp), capture_output=True,
                                  text=True, check=False, timeout=120)
            if init.returncode != 0:
                print(f"{name}: skipped: aim init failed: {init.stdout[-500:]}{init.stderr[-500:]}", flush=True)
                return None
            if name == "aim-tb":
                cmd = [aim, "convert", "--repo", str(dest), "tensorboard", "--logdir", str(source), "--no-cache"]
            else:
                # Aim's converter calls MlflowClient.list_experiments, removed in mlflow 2.0: alias it to
                # search_experiments (same result) and run Aim's own CLI entry point, nothing else changed
                cmd = [str(Path(aim).parent / "python"), "-c", AIM_MLFLOW_SHIM, "convert", "--repo", str(dest),
                       "mlflow", "--tracking_uri", source.as_uri()]
        else:
            cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--source", str(source),
                   "--dest", str(dest), "--out", str(out)]
        log = tmp / "log.txt"
        timeout = args.timeout if name.startswith("ours-") else args.peer_timeout
        result = spawn(cmd, env, tmp, log, timeout)
        text = log.read_text(errors="replace")
        if result["timeout"]:
            result.update(points=None, runs=None, seconds=None, expected_points=expected[0], expected_runs=expected[1])
            print(f"{name}: did not finish within {timeout:.0f} s (peak RSS so far "
                  f"{result['maxrss_kb'] / 1024:.0f} MB)", flush=True)
            return result
        if result["rc"] != 0 or (not name.startswith("aim-") and not out.exists()):
            print(f"{name}: failed (exit {result['rc']}):\n{text[-3000:]}", flush=True)
            return None
        if name.startswith("aim-"):
            if "Could not process" in text or "failed to import" in text:
                print(f"{name}: failed: {text[-1000:]}", flush=True)
                return None
            result.update(points=None, runs=None, seconds=None)
        else:
            result.update(json.loads(out.read_text()))
        if result.get("bad_count"):
            print(f"{name}: {result['bad_count']} runs not ok, e.g. {result['bad']}", flush=True)
        result["disk_bytes"] = disk_usage(dest) if dest.exists() else 0
        if name == "trackio-tb":
            result["disk_bytes"] = disk_usage(tmp / "trackio")
        result["expected_points"], result["expected_runs"] = expected
        return result
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


AIM_MLFLOW_SHIM = """import sys
from mlflow.tracking import MlflowClient
if not hasattr(MlflowClient, "list_experiments"):
    MlflowClient.list_experiments = lambda self, *a, **k: self.search_experiments(*a, **k)
from aim.cli.cli import cli_entry_point
sys.argv[0] = "aim"
sys.exit(cli_entry_point())
"""

LABELS = {"ours-tb": "workbench import tensorboard", "floor-tb": "floor: EventFileLoader read only",
          "floor-tbraw": "floor: LegacyEventFileLoader read only",
          "trackio-tb": "Trackio import_tf_events", "aim-tb": "Aim `aim convert tensorboard`",
          "ours-mlflow": "workbench import mlflow", "floor-mlflow": "floor: MlflowClient read only",
          "aim-mlflow": "Aim `aim convert mlflow`"}


def show(kind: str, name: str, size: str, r: dict, ours: dict | None, floor: dict | None) -> None:
    points = r.get("points") or r["expected_points"]
    runs = r.get("runs") or r["expected_runs"]
    label = f"{LABELS[name]} ({size})"
    if r.get("timeout"):
        report(label, r["wall"], "s", "-", False, f"did not finish within {r['wall']:.0f} s; "
               f"peak RSS {r['maxrss_kb'] / 1024:,.0f} MB so far")
        return
    call = r.get("seconds")
    wall = r["wall"]
    parts = [f"{points:,} points, {runs:,} runs in {wall:.1f} s wall"
             + (f" (the call {call:.1f} s)" if call is not None else " (process, imports included)"),
             f"{runs / wall:,.1f} runs/s", f"peak RSS {r['maxrss_kb'] / 1024:,.0f} MB",
             f"CPU {r.get('cpu', 0):.0f} s", f"on disk {r.get('disk_bytes', 0) / 1e6:,.1f} MB"]
    if r.get("points") is not None and r["points"] != r["expected_points"]:
        parts.append(f"COUNTED {r['points']:,} of {r['expected_points']:,} points")
    if ours and name != ours["name"] and not ours.get("timeout"):
        parts.append(f"workbench takes {ours['wall'] / wall:.2f}x this time")
    if floor and name != floor["name"] and not floor.get("timeout"):
        parts.append(f"{wall / floor['wall']:.2f}x the EventFileLoader floor's time" if kind == "tb"
                     else f"{wall / floor['wall']:.2f}x the floor's time")
    report(label, points / wall, "points/s", "-", True, "; ".join(parts))


def bench_source(kind: str, sizes: list[tuple[str, Path, tuple[int, int]]], args: argparse.Namespace) -> None:
    """Every tool on each source, smallest first; a peer is skipped on a source where the rate it
    showed on the previous one projects past ``--peer-timeout``; the memory check on ours."""
    tools = [t for t in (f"ours-{kind}", f"floor-{kind}", f"floor-{kind}raw", f"trackio-{kind}", f"aim-{kind}")
             if t in LABELS and t.split("-", maxsplit=1)[0] in args.only]
    results: dict[str, dict[str, dict]] = {}
    rates: dict[str, float] = {}
    for size, source, expected in sizes:
        print(f"-- {kind}: {size}, {expected[1]:,} runs, {expected[0]:,} points; load {load()}", flush=True)
        for tool in tools:
            peer = not tool.startswith("ours-")
            if peer and tool in rates and expected[0] / rates[tool] > args.peer_timeout:
                print(f"{LABELS[tool]} ({size}): skipped: {expected[0] / rates[tool]:,.0f} s projected at the "
                      f"{rates[tool]:,.0f} points/s it took on the smaller source, over --peer-timeout "
                      f"{args.peer_timeout:.0f} s", flush=True)
                continue
            if peer and tool not in rates and size != sizes[0][0]:
                continue  # it failed or timed out on a smaller source
            r = measure(tool, source, args, expected)
            if r is None:
                continue
            r["name"] = tool
            results.setdefault(size, {})[tool] = r
            if not r.get("timeout"):
                rates[tool] = expected[0] / r["wall"]
            here = results[size]
            show(kind, tool, size, r, here.get(f"ours-{kind}"), here.get(f"floor-{kind}"))
    if len(sizes) >= 2:
        (small_label, _, _), (big_label, _, _) = sizes[-2], sizes[-1]
        small = results.get(small_label, {}).get(f"ours-{kind}")
        big = results.get(big_label, {}).get(f"ours-{kind}")
        if small and big and not big.get("timeout"):
            ratio = big["maxrss_kb"] / small["maxrss_kb"]
            report(f"peak RSS of workbench import {kind}, {big_label} / {small_label}", ratio, "x", "<= 1.5x",
                   ratio <= 1.5, f"{big['maxrss_kb'] / 1024:,.0f} MB for {big['expected_runs']:,} runs vs "
                   f"{small['maxrss_kb'] / 1024:,.0f} MB for {small['expected_runs']:,}; the largest series is "
                   "the same in both")


def _sizes(runs: int, points: int, subset) -> list[tuple[str, Path, tuple[int, int]]]:  # type: ignore[no-untyped-def]
    out = []
    for div in (100, 10):
        n = runs // div
        if n >= 1:
            out.append((f"1/{div} source", subset(n), (points // runs * n, n)))
    return out


def versions(aim: str | None, aim_mlflow: str | None) -> str:
    from importlib import metadata

    import workbench

    out = [f"workbench {workbench.__version__}"]
    for name in ("tensorboard", "google-crc32c", "torch", "mlflow", "trackio", "tbparse"):
        try:
            out.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name} -")
    for label, cli in (("Aim for TensorBoard", aim), ("Aim for MLflow", aim_mlflow)):
        if not cli or not Path(cli).exists():
            continue
        code = ("from importlib import metadata as m\nfor n in ('aim', 'tensorflow-cpu', 'mlflow'):\n"
                " try: print(n, m.version(n))\n except Exception: print(n, '-')")
        probe = subprocess.run([str(Path(cli).parent / "python"), "-c", code], capture_output=True, text=True,
                               check=False)
        out.append(f"{label}: {Path(cli).parent.parent} (" + ", ".join(probe.stdout.split("\n")[:3]) + ")")
    return ", ".join(out)


def _run_tb(args: argparse.Namespace, tb: Path) -> None:
    points = args.runs * len(TAGS) * args.steps
    print(f"TensorBoard: {args.runs:,} runs x {len(TAGS)} tags x {args.steps:,} steps "
          f"({points:,} points), {disk_usage(tb) / 1e6:,.0f} MB of event files", flush=True)
    sizes = _sizes(args.runs, points, lambda n: tb_subset(tb, n))
    if not args.small_only:
        sizes.append(("full source", tb, (points, args.runs)))
    bench_source("tb", sizes, args)


def _run_mlflow(args: argparse.Namespace, ml: Path, mlflow_runs: int) -> None:
    points = mlflow_runs * len(ML_METRICS) * args.mlflow_steps
    print(f"MLflow file store: {mlflow_runs:,} runs x 10 params x {len(ML_METRICS)} metrics x "
          f"{args.mlflow_steps:,} steps ({points:,} points), {disk_usage(ml) / 1e6:,.0f} MB", flush=True)
    sizes = _sizes(mlflow_runs, points, lambda n: mlflow_subset(ml, n))
    if not args.small_only:
        sizes.append(("full source", ml, (points, mlflow_runs)))
    bench_source("mlflow", sizes, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000, help="TensorBoard runs (default 1000)")
    parser.add_argument("--steps", type=int, default=1000, help="steps of each TensorBoard tag (default 1000)")
    parser.add_argument("--mlflow-runs", type=int, default=None, help="MLflow runs (default: --runs)")
    parser.add_argument("--mlflow-steps", type=int, default=200, help="steps of each MLflow metric (default 200)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/wb-bench-import"), help="where sources are kept")
    parser.add_argument("--tmp", type=Path, default=None, help="where the stores are written (default $TMPDIR)")
    parser.add_argument("--jobs", type=int, default=2, help="processes that generate sources (default 2)")
    parser.add_argument("--only", default="ours,floor,trackio,aim", help="comma-separated tools")
    parser.add_argument("--sources", default="tb,mlflow", help="comma-separated: tb,mlflow")
    parser.add_argument("--aim", default=None, help="Aim's CLI for TensorBoard, in a venv with tensorflow-cpu and "
                        "tensorboard (default $WB_BENCH_AIM, then aim on PATH)")
    parser.add_argument("--aim-mlflow", default=None, help="Aim's CLI for MLflow, in a venv with mlflow (default "
                        "$WB_BENCH_AIM_MLFLOW, then --aim); Aim's converter calls MlflowClient.list_experiments, "
                        "gone in mlflow 2: it runs with that one name aliased to search_experiments")
    parser.add_argument("--timeout", type=float, default=3000, help="seconds ours may take (default 3000)")
    parser.add_argument("--peer-timeout", type=float, default=600,
                        help="seconds a floor or peer may take (default 600); one whose rate on the smaller "
                        "source projects past it is skipped, the projection printed")
    parser.add_argument("--small-only", action="store_true", help="only the 1/100 and 1/10 sources")
    parser.add_argument("--keep", action="store_true", help="keep the stores written")
    parser.add_argument("--generate-only", action="store_true", help="make the sources and stop")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dest", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.out.write_text(json.dumps(worker(args.worker, args.source, args.dest)))
        return
    args.only = set(args.only.split(","))
    sources = args.sources.split(",")
    mlflow_runs = args.mlflow_runs or args.runs
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.tmp:
        args.tmp.mkdir(parents=True, exist_ok=True)
    args.aim = args.aim or os.environ.get("WB_BENCH_AIM") or shutil.which("aim")
    args.aim_mlflow = args.aim_mlflow or os.environ.get("WB_BENCH_AIM_MLFLOW") or args.aim
    print(f"python {platform.python_version()}, {os.cpu_count()} cores; load average at start {load()} "
          "(other sessions' work may load the machine)", flush=True)
    print(f"versions: {versions(args.aim, args.aim_mlflow)}", flush=True)
    tb = make_tb(args.cache, args.runs, args.steps, args.jobs) if "tb" in sources else None
    ml = make_mlflow(args.cache, mlflow_runs, args.mlflow_steps, args.jobs) if "mlflow" in sources else None
    if args.generate_only:
        return
    for source in sources:
        if source == "tb" and tb:
            _run_tb(args, tb)
        elif source == "mlflow" and ml:
            _run_mlflow(args, ml, mlflow_runs)
    print(f"load average at end {load()}", flush=True)


if __name__ == "__main__":
    main()
