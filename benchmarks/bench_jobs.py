"""Job benchmarks of issue 4 (acceptance 7).

    python benchmarks/bench_jobs.py              # both parts (~3-4 min on 2 cores)
    python benchmarks/bench_jobs.py --quick      # one pair of fine-tunes instead of three

J1  200 queued `script` jobs that do nothing, 2 slots: time from a slot coming free (the job
    before has written its last line) to the next job's process running its first line.
    Measured from the jobs' own clocks: the last and first `time.time()` each job prints. The
    200 jobs are queued before a scheduler starts (the benchmark holds the scheduler lock while
    it launches), so every slot that comes free has a job waiting. Baseline: the same command
    started directly with subprocess, from Popen to its first line (interpreter start-up).
J2  tracking overhead inside the text-classification recipe (LoRA on MiniLM, data/reviews):
    the same fine-tune with per-step logging on (`logging_steps=1`) and off (`logging_steps=0`),
    alternated; step time = Trainer's train_runtime / steps. Also the time spent inside
    workbench's TrainerCallback, which the recipe records, against the training time.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report

REPO = Path(__file__).resolve().parent.parent
NOTHING = (
    "import time, sys; sys.stdout.write(repr(time.time()) + chr(10)); sys.stdout.write(repr(time.time()))"
)


def j1(tmp: Path, jobs: int = 200) -> None:
    import workbench as wb
    from workbench.jobs._paths import JobPaths
    from workbench.jobs.daemon import ensure_scheduler, stop_scheduler
    from workbench.settings import load_settings

    root = tmp / "j1"
    root.mkdir()
    (root / "workbench.toml").write_text("job_slots = 2\nsystem_metrics = false\n")
    paths = JobPaths(root)
    paths.ensure()
    # hold the scheduler lock while queueing, so that launch starts no scheduler yet
    fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    command = [sys.executable, "-S", "-c", NOTHING]
    started = time.perf_counter()
    queued = [wb.launch("script", config={"command": command}, root=root) for _ in range(jobs)]
    launch_seconds = (time.perf_counter() - started) / jobs
    os.close(fd)
    begin = time.time()
    ensure_scheduler(load_settings(root))
    for job in queued:
        assert job.wait(timeout=600) == "completed", job.logs()
    total = time.time() - begin
    stop_scheduler(load_settings(root))
    starts, ends = [], []
    for job in queued:
        first, last = job.logs("stdout").split()
        starts.append(float(first))
        ends.append(float(last))
    starts.sort()
    ends.sort()
    slots = 2
    latencies = [starts[k] - ends[k - slots] for k in range(slots, len(starts))]
    latencies_ms = sorted(x * 1000 for x in latencies)
    median = statistics.median(latencies_ms)
    p90 = latencies_ms[int(0.9 * (len(latencies_ms) - 1))]

    def direct() -> float:
        t0 = time.time()
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        return (float(out.split()[0]) - t0) * 1000

    baseline = statistics.median(direct() for _ in range(30))
    report(
        f"J1 slot free -> next job running, median ({jobs} jobs)",
        median,
        "ms",
        "<= 200 ms",
        median <= 200,
        f"p90 {p90:.1f} ms; baseline python start-up {baseline:.1f} ms",
    )
    report(
        "J1 throughput, 2 slots, jobs doing nothing",
        jobs / total,
        "jobs/s",
        "-",
        True,
        f"{total:.1f} s for {jobs}",
    )
    report("J1 launch() of one queued job", launch_seconds * 1000, "ms", "-", True)


def _fine_tune(root: Path, logging_steps: int, max_steps: int) -> dict[str, float]:
    import workbench as wb

    job = wb.launch(
        "text-classification",
        dataset=REPO / "data" / "reviews",
        root=root,
        config={
            "lora": True,
            "epochs": 1,
            "threads": 1,
            "max_steps": max_steps,
            "logging_steps": logging_steps,
            "eval_fraction": 0.0,
        },
    )
    status = job.wait(timeout=900)
    if status != "completed":
        raise SystemExit(f"fine-tune {job.run_id} {status}:\n{job.logs(tail=40)}")
    summary = job.record["summary"]
    return {
        "step": float(summary["train/step_seconds"]),
        "steps": float(summary["train/steps"]),
        "tracking": float(summary["workbench/tracking_seconds"]),
    }


def j2(tmp: Path, pairs: int, max_steps: int = 50) -> None:
    from workbench.jobs.daemon import stop_scheduler
    from workbench.settings import load_settings

    root = tmp / "j2"
    root.mkdir()
    (root / "workbench.toml").write_text("system_metrics = false\n")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    on, off, share = [], [], []
    for _ in range(pairs):
        with_logging = _fine_tune(root, 1, max_steps)
        without = _fine_tune(root, 0, max_steps)
        on.append(with_logging["step"])
        off.append(without["step"])
        share.append(with_logging["tracking"] / (with_logging["step"] * with_logging["steps"]))
    stop_scheduler(load_settings(root))
    step_on, step_off = statistics.median(on), statistics.median(off)
    overhead = (step_on - step_off) / step_off
    report(
        "J2 step time, logging every step",
        step_on * 1000,
        "ms",
        "-",
        True,
        "runs: " + ", ".join(f"{x * 1000:.0f}" for x in on),
    )
    report(
        "J2 step time, logging off",
        step_off * 1000,
        "ms",
        "-",
        True,
        "runs: " + ", ".join(f"{x * 1000:.0f}" for x in off),
    )
    report(
        "J2 tracking overhead, on vs off (median)",
        overhead * 100,
        "%",
        "< 1 %",
        overhead < 0.01,
        f"{pairs} pair(s) of {max_steps}-step LoRA fine-tunes; run-to-run noise included",
    )
    report(
        "J2 time inside WorkbenchCallback / training",
        statistics.median(share) * 100,
        "%",
        "< 1 %",
        statistics.median(share) < 0.01,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one pair of fine-tunes in J2")
    parser.add_argument("--only", choices=("j1", "j2"), help="run one part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as scratch:
        tmp = Path(scratch)
        if args.only in (None, "j1"):
            j1(tmp)
        if args.only in (None, "j2"):
            j2(tmp, pairs=1 if args.quick else 3)


if __name__ == "__main__":
    main()
