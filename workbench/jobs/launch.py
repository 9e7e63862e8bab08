"""``launch``: check a job's inputs, queue it as a run with status ``queued``, wake a scheduler."""

from __future__ import annotations

import getpass
import os
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any

from workbench.errors import JobError
from workbench.jobs._paths import JobPaths
from workbench.jobs.job import Job
from workbench.jobs.registry import get_executor, get_recipe
from workbench.settings import SETTINGS_FILE, load_settings
from workbench.store._paths import FORMAT, Layout, new_run_id
from workbench.store.records import HOSTNAME, create_record, normalize_tags

__all__ = ["launch"]


def _int(value: Any, what: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise JobError(f"{what} must be an int, not {value!r}")
    if minimum is not None and value < minimum:
        raise JobError(f"{what} must be at least {minimum}, not {value}")
    return value


def _tags(tags: Iterable[str] | None) -> list[str]:
    try:
        return normalize_tags(tags)
    except (TypeError, ValueError) as exc:
        raise JobError(f"{exc}; give tags as non-empty printable strings") from exc


def launch(
    recipe: str,
    config: Mapping[str, Any] | None = None,
    *,
    dataset: str | os.PathLike[str] | None = None,
    base_model: str | os.PathLike[str] | None = None,
    priority: int = 0,
    executor: str = "local",
    name: str | None = None,
    project: str | None = None,
    retries: int = 0,
    tags: Iterable[str] | None = None,
    root: str | os.PathLike[str] | None = None,
) -> Job:
    """Queue a job and return its :class:`Job`; see :func:`workbench.launch`."""
    settings = load_settings(root)
    JobPaths(settings.root).check_private()  # no scheduler would run it: refuse before writing anything
    the_recipe = get_recipe(recipe)
    priority = _int(priority, "priority")
    retries = _int(retries, "retries", 0)
    if not isinstance(executor, str):
        raise JobError(f"executor must be a name such as 'local' or 'ssh:NAME', not {executor!r}")
    the_executor = get_executor(executor)  # JobError naming the known ones; 'ssh:NAME' takes a remote
    check = getattr(the_executor, "check", None)
    if check is not None:
        check(settings)  # e.g. the remote is configured
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise JobError(f"name must be a non-empty string, not {name!r}")
    if project is not None and (not isinstance(project, str) or not project.strip()):
        raise JobError(f"project must be a non-empty string, not {project!r}")
    tag_list = _tags(tags)

    from workbench.jobs.schema import resolve_config

    defaults = (settings.extra.get("recipes") or {}).get(recipe)
    resolved = resolve_config(
        recipe, the_recipe.fields, config, defaults, defaults_source=str(settings.root / SETTINGS_FILE)
    )
    if the_recipe.complete is not None:
        resolved = the_recipe.complete(resolved)

    base_spec = None
    if the_recipe.base_model == "none":
        if base_model is not None:
            raise JobError(f"recipe {recipe!r} takes no base model; leave base_model out")
    else:
        if base_model is None and the_recipe.default_base_model is not None:
            base_model = the_recipe.default_base_model()
        if base_model is None:
            if the_recipe.base_model == "required":
                missing = (
                    "; its default base model is not installed here" if the_recipe.default_base_model else ""
                )
                raise JobError(
                    f"recipe {recipe!r} needs base_model= (a local model directory, a model artifact "
                    f"or a hub id){missing}"
                )
        else:
            from workbench.jobs.inputs import resolve_base_model

            base_spec = resolve_base_model(base_model, settings)

    dataset_spec = None
    if the_recipe.columns is None:
        if dataset is not None:
            raise JobError(f"recipe {recipe!r} takes no dataset; leave dataset out")
    elif dataset is None:
        if the_recipe.dataset_required:
            columns = " or ".join("(" + ", ".join(c) + ")" for c in the_recipe.columns(resolved))
            raise JobError(
                f"recipe {recipe!r} needs dataset= (a file, directory or dataset artifact with "
                f"columns {columns})"
            )
    else:
        from workbench.jobs.inputs import resolve_dataset

        dataset_spec = resolve_dataset(dataset, settings, the_recipe.columns(resolved))

    # a recipe with `cwd` / `env` keys (script) sets the job process's directory and environment
    keys = {f.name for f in the_recipe.fields}
    cwd = str(resolved.get("cwd") or os.getcwd()) if "cwd" in keys else os.getcwd()
    env = dict(resolved.get("env") or {}) if "env" in keys else {}
    planned = the_recipe.plan(resolved, dataset_spec) if the_recipe.plan is not None else None
    if the_recipe.command is not None:
        argv = [str(a) for a in the_recipe.command(resolved)]
    else:
        argv = [sys.executable, "-m", "workbench.jobs.worker"]
    layout = Layout(settings.root)
    layout.ensure()
    paths = JobPaths(settings.root)
    paths.ensure()
    run_id = new_run_id()
    now = time.time()
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = None
    spec: dict[str, Any] = {
        "recipe": recipe,
        "config": dict(config or {}),
        "dataset": dataset_spec,
        "base_model": base_spec,
        "executor": executor,
        "priority": priority,
        "retries": retries,
        "attempts": 0,
        "planned_steps": planned,
        "python": sys.executable,
        "cwd": cwd,
        "env": env,
        "launched": {"time": now, "host": HOSTNAME, "pid": os.getpid(), "user": user},
    }
    record = {
        "format": FORMAT,
        "id": run_id,
        "project": project or os.environ.get("WORKBENCH_PROJECT") or "default",
        "name": name or f"{recipe}-{run_id[-5:]}",
        "status": "queued",
        "created": now,
        "started": None,
        "ended": None,
        "config": resolved,
        "summary": {},
        "metrics": {},
        "tags": tag_list,
        "notes": "",
        "remote": None,
        "host": HOSTNAME,
        "user": user,
        "command": argv,
        "cwd": spec["cwd"],
        "job": spec,
    }
    # index first, then the record, then the active marker: a crash in between leaves a marker
    # without a record (ignored), never a queued job that no scheduler can find
    paths.mark(paths.index, run_id)
    create_record(layout, record, fsync=settings.fsync)
    paths.mark(paths.active, run_id)
    from workbench.jobs.daemon import ensure_scheduler

    ensure_scheduler(settings)
    return Job(run_id, root=settings.root)
