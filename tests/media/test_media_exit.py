"""A script that logs media and never calls finish(): the exit hook stores every item (issue 15).

The exit hook runs while the interpreter shuts down, when a new import that registers an exit
hook of its own (pandas, the thread pool) is refused; the media path imports what it needs at
the first media ``log``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import workbench as wb

SCRIPT = """
import sys
import numpy as np
import workbench as wb
run = wb.init(project="exit", root=sys.argv[1], capture_output=False, system_metrics=False)
for i in range(40):
    run.log({"pred": wb.Image(np.full((64, 64, 3), i, np.uint8)), "table": wb.Table(data=[[i]], columns=["i"])},
            step=i)
"""


def test_media_logged_without_finish_are_all_stored_by_the_exit_hook(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    [run_id] = list(wb.runs(root=tmp_path)["run_id"])
    assert wb.get_run(run_id, root=tmp_path)["status"] == "completed"
    items = wb.media(run_id, root=tmp_path)
    assert len(items) == 80 and sorted(set(items["step"])) == list(range(40))
    assert wb.load_media(items[items["key"] == "table"].iloc[-1], root=tmp_path)["i"].tolist() == [39]
