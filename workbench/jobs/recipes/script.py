"""The ``script`` recipe: run any command as a job.

The command's own ``workbench.init()`` attaches to the job's run through ``WORKBENCH_RUN_ID``; a
command that never calls it still gets a run with its exit code, logs and timing.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench.errors import JobError
from workbench.jobs.recipe import Recipe
from workbench.jobs.schema import Field

__all__ = ["RECIPE"]

FIELDS = (
    Field(
        "command",
        "argv",
        None,
        "the command, e.g. 'python train.py --lr 3e-4' (python means the interpreter that launched the job)",
        required=True,
    ),
    Field("cwd", "str", None, "working directory (default: where the job was launched)", nullable=True),
    Field("env", "dict", {}, "extra environment variables for the command"),
    Field("planned_steps", "int", None, "steps the command will log, for progress", nullable=True, minimum=1),
)


def _complete(config: dict[str, Any]) -> dict[str, Any]:
    out = dict(config)
    cwd = Path(out.get("cwd") or os.getcwd()).expanduser().absolute()
    if not cwd.is_dir():
        raise JobError(f"script: cwd {str(cwd)!r} is not a directory")
    out["cwd"] = str(cwd)
    argv = list(out["command"])
    if argv[0] in ("python", "python3"):
        argv[0] = sys.executable  # the environment the job was launched from, not whatever is on PATH
    elif "/" in argv[0]:
        if not (cwd / argv[0]).exists():
            raise JobError(f"script: command {argv[0]!r} does not exist (relative to {cwd})")
    elif shutil.which(argv[0], path=(out.get("env") or {}).get("PATH") or os.environ.get("PATH")) is None:
        raise JobError(f"script: command {argv[0]!r} is not found on PATH; give its full path")
    out["command"] = argv
    return out


def _command(config: Mapping[str, Any]) -> list[str]:
    return list(config["command"])


def _plan(config: Mapping[str, Any], dataset: Mapping[str, Any] | None) -> int | None:
    steps = config.get("planned_steps")
    return int(steps) if steps else None


RECIPE = Recipe(
    name="script",
    description="run any command; its workbench.init() logs into the job's run",
    fields=FIELDS,
    command=_command,
    complete=_complete,
    plan=_plan,
)
