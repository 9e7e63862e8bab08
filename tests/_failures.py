"""Runs that end badly for real (issue 14, failures explained): a script whose run raises, a
process killed mid-run. Shared by the RunDetail tests and the browser tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: a training script whose run fails inside ``with wb.init(...)``: argv[1] is the store, argv[2]
#: the exception's message, argv[3] lines it prints on stderr first (one per line)
FAILING = """
import sys
import workbench as wb

def train_step(step):
    if step == 3:
        raise ValueError(sys.argv[2])

with wb.init(project="failures", name="diverged", config={"lr": 10.0}, root=sys.argv[1]) as run:
    print(run.id, flush=True)
    print(sys.argv[3], file=sys.stderr, flush=True)
    for step in range(5):
        run.log({"loss": 1.0 + step}, step=step)
        train_step(step)
"""

#: a run that prints a tick a line on stdout and stderr until it is killed; argv[1] is the store
TICKING = """
import sys, time
import workbench as wb

run = wb.init(project="failures", name="ticking", root=sys.argv[1], system_metrics=False)
sys.__stdout__.write(run.id + "\\n")
sys.__stdout__.flush()
for tick in range(100000):
    print(f"tick {tick} out", flush=True)
    print(f"tick {tick} err", file=sys.stderr, flush=True)
    run.log({"loss": 1.0 / (tick + 1)}, step=tick)
    time.sleep(0.05)
"""


def failing_run(root: Path, message: str, stderr: str = "warming up") -> str:
    """A real run that failed: its record's error holds ``message`` and the traceback, its
    captured stderr ``stderr``; returns its id."""
    env = {**os.environ, "WORKBENCH_SYSTEM_METRICS": "0"}
    done = subprocess.run([sys.executable, "-c", FAILING, str(root), message, stderr], check=False,
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 1, done.stderr
    return done.stdout.splitlines()[0]


def ticking_run(root: Path) -> tuple[subprocess.Popen[str], str]:
    """A running run in its own process (kill it to make it crash); the process and the run's id."""
    proc = subprocess.Popen([sys.executable, "-c", TICKING, str(root)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()
