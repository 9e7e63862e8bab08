"""A demo store with real data: a sweep of real training runs (numpy logistic regression), one that
fails and one that is cancelled, artifacts with versions and aliases, and (when torch is installed)
a small real LoRA fine-tune of the text-classification recipe on the sample reviews.

Everything but the fine-tune takes seconds; ``workbench demo`` writes that, serves the web app, and
leaves the fine-tune to train in the background (a job of the store's scheduler), so the app shows
it live. A follower process (:func:`start_follower`) ends the demo's jobs with the demo.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from workbench._private import make_dir, private_opener

__all__ = ["DATA", "fill_demo_store", "finetune_needed", "launch_finetune", "start_follower", "train_logreg"]

#: the sample datasets of the repository (reviews, stories, qa)
DATA = Path(__file__).resolve().parents[2] / "data"


def train_logreg(run: object, *, lr: float, batch_size: int, l2: float, steps: int, seed: int) -> float:
    """Train on a synthetic two-class problem, logging to ``run``; returns validation accuracy."""
    import numpy as np

    rng = np.random.default_rng(seed)
    dims = 20
    true_w = rng.normal(size=dims)
    x = rng.normal(size=(4000, dims))
    y = (x @ true_w + rng.normal(scale=2.0, size=len(x)) > 0).astype(np.float64)
    x_train, y_train, x_val, y_val = x[:3000], y[:3000], x[3000:], y[3000:]
    w = np.zeros(dims)
    acc = 0.0
    for step in range(steps):
        idx = rng.integers(0, len(x_train), batch_size)
        xb, yb = x_train[idx], y_train[idx]
        with np.errstate(over="ignore"):
            p = 1 / (1 + np.exp(-(xb @ w)))
        loss = -np.mean(yb * np.log(p + 1e-12) + (1 - yb) * np.log(1 - p + 1e-12)) + l2 * (w @ w)
        grad = xb.T @ (p - yb) / batch_size + 2 * l2 * w
        w -= lr * grad
        if not np.isfinite(loss):
            raise FloatingPointError(f"training diverged at step {step} (lr={lr})")
        metrics = {"train_loss": float(loss), "lr": lr}
        if step % 20 == 0 or step == steps - 1:
            acc = float(np.mean(((x_val @ w) > 0) == y_val))
            metrics["val_acc"] = acc
        run.log(metrics, step=step)  # type: ignore[attr-defined]
    return acc


def fill_demo_store(root: str | os.PathLike[str], *, runs: int = 12, steps: int = 300) -> list[str]:
    """Log a sweep of ``runs`` real training runs into ``root``; one diverges and fails."""
    import workbench as wb

    grid = [(lr, bs, l2) for bs, l2, lr in itertools.product([64, 16, 256], [0.0, 1e-3], [0.01, 0.05, 0.2, 1.0])]
    ids = []
    make_dir(root)  # a store: private (workbench/_private.py)
    for i, (lr, batch_size, l2) in enumerate(grid[:runs]):
        config = {"lr": lr, "batch_size": batch_size, "l2": l2, "optimizer": "sgd",
                  "model": {"kind": "logreg", "dims": 20}}
        tags = ["sweep", "high-lr" if lr >= 0.2 else "low-lr"]
        try:
            with wb.init(project="demo-sweep", config=config, tags=tags, root=root,
                         capture_output=False, system_metrics=False) as run:
                ids.append(run.id)
                train_logreg(run, lr=lr, batch_size=batch_size, l2=l2, steps=steps, seed=i)
        except FloatingPointError:
            pass
    # one run that fails for real, with its traceback recorded
    try:
        with wb.init(project="demo-sweep", name="diverging", config={"lr": 1e6, "batch_size": 16, "l2": 0.0},
                     tags=["sweep", "broken"], root=root, capture_output=False, system_metrics=False) as run:
            ids.append(run.id)
            train_logreg(run, lr=1e6, batch_size=16, l2=0.0, steps=steps, seed=99)
            raise FloatingPointError("loss exploded")  # pragma: no cover - lr=1e6 diverges first
    except FloatingPointError:
        pass
    return ids


_SLOW_SCRIPT = """
import time, workbench as wb
run = wb.init()
for step in range(100000):
    run.log({"loss": 1.0 / (step + 1)}, step=step)
    time.sleep(0.05)
"""


def add_cancelled_job(root: str | os.PathLike[str], *, timeout: float = 120.0) -> str:
    """Launch a ``script`` job that would run for hours, wait until it logs, then cancel it."""
    import time

    import workbench as wb

    script = Path(root) / "demo-scripts" / "endless.py"
    make_dir(script.parent)
    with open(script, "w", encoding="utf-8", opener=private_opener) as handle:
        handle.write(_SLOW_SCRIPT)
    job = wb.launch("script", config={"command": ["python", str(script)]}, name="endless (cancelled)",
                    project="demo-jobs", tags=["demo"], root=root)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = job.status
        if status == "running" and len(wb.history(job.run_id, keys="loss", root=root)) >= 5:
            break
        if status not in ("queued", "running"):  # ended already (cancelled by the demo's follower)
            break
        time.sleep(0.2)
    job.cancel()
    return job.run_id


def add_artifacts(root: str | os.PathLike[str], sweep: list[str]) -> None:
    """The reviews dataset (v1), and a "sweep-best" config artifact with two versions and aliases."""
    import json
    import tempfile

    import workbench as wb

    reviews = DATA / "reviews"
    if reviews.is_dir():
        wb.log_artifact(reviews, name="reviews", type="dataset", aliases=["production"], root=root)
    best = wb.runs(project="demo-sweep", where="status = 'completed'", order_by="-summary.val_acc", root=root)
    with tempfile.TemporaryDirectory() as tmp:
        for version, (_, row) in enumerate(best.head(2).iloc[::-1].iterrows(), start=1):
            params = Path(tmp) / "params.json"
            params.write_text(json.dumps({k[len("config."):]: row[k] for k in row.index
                                          if k.startswith("config.") and k.count(".") == 1}, default=str))
            wb.log_artifact(params, name="sweep-best", type="config",
                            aliases=["production"] if version == 2 else ["candidate"],
                            metadata={"val_acc": float(row["summary.val_acc"]), "version_note": f"v{version}"},
                            run=str(row["run_id"]), root=root)
    del sweep


#: the demo's fine-tune: a LoRA adapter of the text-classification recipe, trained on the sample reviews
#: (800 training rows, 16 a step: two epochs, each ending with an evaluation on the 200 held out)
FINETUNE_PROJECT = "demo-finetune"
FINETUNE_NAME = "reviews-lora"
FINETUNE_EPOCHS = 2
FINETUNE_STEPS = 100
#: the projects of the demo's jobs (the cancelled script job, the fine-tune)
JOB_PROJECTS = ("demo-jobs", FINETUNE_PROJECT)
#: fine-tune statuses after which the demo trains no new one (it is under way, or it finished)
_KEPT = ("queued", "running", "completed")


def launch_finetune(root: str | os.PathLike[str]) -> str | None:
    """Queue the small real LoRA fine-tune and return its job's run id at once; None without torch.

    It trains in the scheduler's background process, logging ``train/loss`` every step, so a run
    page shows it live. It leaves a core to the web app (``threads``), which a demo is there to show.
    """
    import importlib.util

    import workbench as wb

    if importlib.util.find_spec("torch") is None or not (DATA / "reviews").is_dir():
        return None
    threads = max(1, (os.cpu_count() or 2) - 1)
    job = wb.launch("text-classification", dataset="reviews:latest", name=FINETUNE_NAME, project=FINETUNE_PROJECT,
                    config={"lora": True, "epochs": FINETUNE_EPOCHS, "max_steps": FINETUNE_STEPS, "batch_size": 16,
                            "max_length": 64, "threads": threads},
                    tags=["demo", "lora"], root=root)
    return job.run_id


def finetune_needed(root: str | os.PathLike[str]) -> bool:
    """Whether the store lacks a demo fine-tune that is queued, running or completed.

    A demo stopped while its fine-tune trained cancelled it: the next demo trains one again.
    """
    import workbench as wb

    frame = wb.runs(project=FINETUNE_PROJECT, columns=["run_id", "status"], root=root)
    return not (len(frame) and frame["status"].isin(_KEPT).any())


def add_finetune(root: str | os.PathLike[str], *, timeout: float = 900.0) -> str | None:
    """Launch the fine-tune (:func:`launch_finetune`) and wait until it ends; None without torch."""
    import workbench as wb

    run_id = launch_finetune(root)
    if run_id is not None:
        wb.Job(run_id, root=root).wait(timeout=timeout)
    return run_id


# ---------------------------------------------------------------- the background part of `workbench demo`
#: seconds between two looks of the follower at its parent (the demo's server)
_POLL = 0.2


def start_follower(root: str | os.PathLike[str], *, stop_scheduler: bool) -> None:
    """Start the process that ends the demo's background work when the demo ends.

    ``workbench demo`` becomes its web app's server (``exec``), so the process a terminal or a
    service manager signals is the server's. The follower, started before the demo writes
    anything, is that process's child, in its process group (a Ctrl-C reaches both). When the
    demo is gone, however it ended (during the fill or while serving; a signal, SIGKILL
    included), or a signal reaches the follower itself, it cancels the demo's jobs (those of
    :data:`JOB_PROJECTS` launched since it started) that are queued or running, and stops the
    scheduler if ``stop_scheduler`` (none ran before the demo), so nothing of the demo outlives it.
    Its messages go to ``<root>/demo-scripts/background.log``.
    """
    import subprocess
    import sys
    import time

    log_path = Path(root) / "demo-scripts" / "background.log"
    make_dir(root)  # a store: private (workbench/_private.py)
    make_dir(log_path.parent)
    argv = [sys.executable, "-m", __name__, "--root", str(root), "--parent", str(os.getpid()),
            "--since", repr(time.time())]
    if stop_scheduler:
        argv.append("--stop-scheduler")
    with open(log_path, "ab", opener=private_opener) as log:
        subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=True, cwd=str(root))


def follow(root: str | os.PathLike[str], parent: int, since: float, *, stop_scheduler: bool) -> int:
    """The follower's life (see :func:`start_follower`): wait for the demo's end, then clean up."""
    import signal
    import threading

    import workbench.jobs.daemon
    import workbench.jobs.job  # noqa: F401 - imported now: the clean-up should not wait for imports

    ended = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        ended.set()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    while os.getppid() == parent and not ended.wait(_POLL):
        pass
    return finish_background(root, since, stop_scheduler=stop_scheduler)


def finish_background(root: str | os.PathLike[str], since: float, *, stop_scheduler: bool) -> int:
    """Cancel the demo's jobs launched since ``since`` that have not ended; stop the scheduler if asked."""
    from workbench.errors import WorkbenchError
    from workbench.jobs.job import list_jobs

    code = 0
    try:
        jobs = [job for job in list_jobs(root) if job.record.get("project") in JOB_PROJECTS
                and float(job.record.get("created") or 0) >= since]
    except (WorkbenchError, OSError) as exc:  # no store yet: the demo ended before writing one
        jobs = []
        if (Path(root) / "jobs").exists():
            print(f"workbench demo: cannot list the jobs of {root}: {exc}", flush=True)
            code = 1
    for job in jobs:
        try:
            if job.status in ("queued", "running"):
                print(f"workbench demo: the demo ended; cancelling {job.record.get('name')} ({job.run_id})",
                      flush=True)
                job.cancel(wait=True)
            else:  # its run has ended, its process may still be exiting: a scheduler stopped now would kill it
                job.wait(timeout=30)
        except (WorkbenchError, OSError) as exc:
            print(f"workbench demo: cannot cancel the job {job.run_id}: {exc}", flush=True)
            code = 1
    if stop_scheduler:
        from workbench.jobs.daemon import stop_scheduler as stop
        from workbench.settings import load_settings

        try:
            stop(load_settings(root))
        except (WorkbenchError, OSError) as exc:
            print(f"workbench demo: cannot stop the scheduler of {root}: {exc}", flush=True)
            code = 1
    return code


def _main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog=f"python -m {__name__}",
                                     description="the follower of `workbench demo` (see start_follower)")
    parser.add_argument("--root", required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--since", type=float, required=True)
    parser.add_argument("--stop-scheduler", action="store_true")
    args = parser.parse_args(argv)
    return follow(args.root, args.parent, args.since, stop_scheduler=args.stop_scheduler)


if __name__ == "__main__":
    import sys

    sys.exit(_main(sys.argv[1:]))
