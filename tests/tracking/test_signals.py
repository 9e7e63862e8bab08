"""SIGTERM arriving while the main thread is inside a flush keeps every point, once."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

import workbench as wb

SCRIPT = """
import os, signal, sys, workbench as wb
run = wb.init(project="sig", root=sys.argv[1], capture_output=False, system_metrics=False)
original = run._write_segment
sent = []
def interrupted(batch):
    if not sent:  # the signal handler runs in the middle of this flush, on this thread
        sent.append(1)
        os.kill(os.getpid(), signal.SIGTERM)
    return original(batch)
run._write_segment = interrupted
for i in range(1000):
    run.log({"a": i, "b": -i})
run.flush()
print("not reached")
"""


@pytest.mark.timeout(60)
def test_sigterm_during_a_flush_keeps_every_point_once(tmp_path: Path) -> None:
    root = tmp_path / "store"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(root)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == -signal.SIGTERM, proc.stderr
    assert "not reached" not in proc.stdout
    runs = wb.runs(root=root)
    assert runs["status"].tolist() == ["cancelled"]
    points = wb.history(runs["run_id"][0], root=root)
    assert len(points) == 2000
    assert points.groupby("key")["step"].apply(lambda s: sorted(s) == list(range(1000))).all()
