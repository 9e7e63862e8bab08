"""Helpers for job tests: a store with fast job settings, cleanup of every scheduler and job process a
test started (real subprocesses, nothing mocked), and small waiting helpers.

Test modules use ``pytestmark = pytest.mark.usefixtures("jobs_env")`` and the ``root`` fixture.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import wait_for  # noqa: F401 - re-exported for the job tests

from workbench.jobs._container import Container
from workbench.jobs._paths import JobPaths
from workbench.jobs.daemon import scheduler_info, stop_scheduler
from workbench.settings import load_settings
from workbench.store._paths import Layout
from workbench.store.records import read_record

PYTHON = sys.executable


def py(code: str) -> list[str]:
    """The argv of a script job running ``code`` with this interpreter."""
    return [PYTHON, "-c", textwrap.dedent(code)]




def write_settings(root: Path, **values: Any) -> None:
    root.mkdir(parents=True, exist_ok=True)
    lines = [f"{k} = {str(v).lower() if isinstance(v, bool) else repr(v)}" for k, v in values.items()]
    (root / "workbench.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _kill_leftovers(root: Path) -> None:
    paths = JobPaths(root)
    layout = Layout(root)
    for run_id in paths.listed(paths.index):
        with contextlib.suppress(Exception):
            process = (read_record(layout, run_id).get("job") or {}).get("process") or {}
            container = Container.from_record(process.get("container"))
            if container is not None:  # every process of the job, and its cgroup
                container.kill()
            if process.get("pgid"):
                os.killpg(int(process["pgid"]), signal.SIGKILL)


@pytest.fixture
def jobs_env(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``root`` with a short cancel grace; every scheduler and job of it is stopped afterwards."""
    write_settings(root, cancel_grace=2.0, scheduler_idle_exit=30.0)
    monkeypatch.setenv("WORKBENCH_SYSTEM_METRICS", "0")  # inherited by the scheduler and its jobs
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    yield root
    stop_everything(root)


def stop_everything(root: Path) -> None:
    """Stop the scheduler of ``root`` and kill every job process it left (a fixture's teardown)."""
    with contextlib.suppress(Exception):
        stop_scheduler(load_settings(root), timeout=20)
    info = scheduler_info(JobPaths(root))
    if info and isinstance(info.get("pid"), int):
        with contextlib.suppress(ProcessLookupError):
            os.kill(info["pid"], signal.SIGKILL)
    _kill_leftovers(root)
