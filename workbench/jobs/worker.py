"""``python -m workbench.jobs.worker``: the job process of a Python recipe.

The scheduler starts it with ``WORKBENCH_RUN_ID`` and ``WORKBENCH_ROOT`` set; it reads the job's
record, finds the recipe by name and calls its ``run`` with a :class:`~workbench.jobs.JobContext`.
torch and friends are imported by the recipe, here, in the job's own process.
"""

from __future__ import annotations

import os
import sys

from workbench.errors import JobError, WorkbenchError
from workbench.jobs.recipe import JobContext
from workbench.jobs.registry import get_recipe
from workbench.settings import load_settings
from workbench.store._paths import Layout
from workbench.store.records import read_record

__all__ = ["main"]


def main() -> int:
    run_id = os.environ.get("WORKBENCH_RUN_ID")
    if not run_id:
        raise JobError(
            "python -m workbench.jobs.worker runs a launched job: WORKBENCH_RUN_ID is not set; "
            "use workbench.launch() or `workbench launch`"
        )
    settings = load_settings()
    record = read_record(Layout(settings.root), run_id)
    spec = record.get("job")
    if not isinstance(spec, dict):
        raise JobError(f"run {run_id} is not a job")
    recipe = get_recipe(spec["recipe"])
    if recipe.run is None:
        raise JobError(f"recipe {recipe.name!r} runs a command, not Python")
    recipe.run(
        JobContext(run_id=run_id, config=dict(record.get("config") or {}), spec=spec, settings=settings)
    )
    return 0


def _main() -> int:
    """``main`` with a user's or environment's error (a missing extra, a bad config) as one line
    on stderr, in the job's log, instead of a traceback; the job fails with status 1."""
    try:
        return main()
    except WorkbenchError as exc:
        print(f"workbench: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(_main())
