"""``workbench show`` lists a run's media keys (issue 15), as text: a hostile key stays inert."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

import workbench as wb


def test_show_lists_media_keys_kinds_counts_and_last_steps(tmp_path: Path) -> None:
    run = wb.init(project="media", root=tmp_path, capture_output=False, system_metrics=False)
    for step in range(3):
        run.log({"pred": wb.Image(np.full((4, 4), step, np.uint8)), "loss": 1.0}, step=step)
    run.log({"<b>note</b>": wb.Text("x")}, step=7)
    run.finish()
    out = subprocess.run([sys.executable, "-m", "workbench", "--root", str(tmp_path), "show", run.id],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    lines = out.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("media ")))
    assert lines[start + 1].split() == ["<b>note</b>", "text", "1", "7"]
    assert lines[start + 2].split() == ["pred", "image", "3", "2"]
    assert "\x1b" not in out
