"""``workbench.init``: start a run, or attach to a launched one through ``WORKBENCH_RUN_ID``."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from workbench._private import make_dir
from workbench.errors import StoreError
from workbench.settings import load_settings
from workbench.store import segments
from workbench.store._atomic import atomic_write_bytes
from workbench.store._faults import describe, is_storage_fault, remedy
from workbench.store._paths import FORMAT, Layout, new_run_id
from workbench.store.records import create_record, normalize_tags, process_start_time, read_record, update_record
from workbench.tracking._environment import environment, git_diff
from workbench.tracking.run import Run

__all__ = ["init"]

_ADJECTIVES = ("amber", "bold", "brisk", "calm", "crisp", "dusty", "eager", "fancy", "gentle",
               "golden", "hazy", "icy", "jolly", "keen", "lucky", "misty", "noble", "proud",
               "quiet", "rapid", "shiny", "silent", "snowy", "sunny", "swift", "tidy", "vivid",
               "wise", "young", "zesty")
_NOUNS = ("badger", "breeze", "canyon", "cedar", "comet", "dawn", "delta", "ember", "falcon",
          "fjord", "glade", "harbor", "heron", "island", "lagoon", "maple", "meadow", "nebula",
          "orbit", "otter", "pebble", "pine", "quartz", "river", "sparrow", "summit", "thunder",
          "tundra", "valley", "willow")


# the diff of this process's working tree, as last saved: later runs of the process (a sweep)
# hard-link that file instead of writing the same bytes again
_last_diff: tuple[bytes, Path] | None = None


def _save_diff(path: Path, diff: bytes) -> None:
    global _last_diff
    # a run of the same store may share the file (a hard link); one of another store may not: its
    # modes and owner are that store's
    if _last_diff is not None and _last_diff[0] == diff and _last_diff[1].parents[2] == path.parents[2]:
        try:
            os.link(_last_diff[1], path)
            return
        except OSError:
            pass  # gone, or another filesystem: write it
    atomic_write_bytes(path, diff, fsync=False)
    _last_diff = (diff, path)


def _random_name() -> str:
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{secrets.randbelow(1000)}"


def _normalize_config(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    if isinstance(config, Mapping):
        return {str(k): (_normalize_config(v) if isinstance(v, Mapping) else v) for k, v in config.items()}
    if hasattr(config, "__dict__"):  # argparse.Namespace and friends
        return {k: v for k, v in vars(config).items() if not k.startswith("_")}
    raise TypeError(f"config must be a dict, a dataclass or a namespace, not {type(config).__name__}")


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with keys of ``extra`` it does not have (nested dicts merged the same way)."""
    out = dict(base)
    for key, value in extra.items():
        if key not in out:
            out[key] = value
        elif isinstance(out[key], dict) and isinstance(value, Mapping):
            out[key] = _merge(out[key], value)
    return out


def init(
    project: str | None = None,
    name: str | None = None,
    config: Any = None,
    tags: Iterable[str] | None = None,
    notes: str | None = None,
    root: str | os.PathLike[str] | None = None,
    **settings: Any,
) -> Run:
    """Start a run and return its :class:`~workbench.Run`.

    Parameters
    ----------
    project, name:
        Group and label of the run; ``name`` defaults to a random ``adjective-noun-N``.
    config:
        Hyperparameters (dict, dataclass or argparse namespace); nested dicts are fine.
    tags, notes:
        Free labels and text; both can be changed later.
    root:
        The store (default ``WORKBENCH_ROOT``, else ``~/.workbench``).
    **settings:
        Overrides of :class:`~workbench.settings.Settings` fields, e.g. ``flush_interval=5``.

    When ``WORKBENCH_RUN_ID`` is set (a launched job), the run attaches to that existing run:
    its launch config wins over ``config`` for keys both set.

    Examples
    --------
    >>> import workbench as wb
    >>> with wb.init(project="mnist", config={"lr": 3e-4}, tags=["baseline"]) as run:  # doctest: +SKIP
    ...     run.log({"loss": 0.3, "acc": 0.9}, step=100)
    """
    resolved = load_settings(root, **settings)
    segments.preload()
    layout = Layout(resolved.root)
    layout.ensure()
    config_dict = _normalize_config(config)
    tag_list = normalize_tags(tags)
    if notes is not None and not isinstance(notes, str):
        raise TypeError("notes must be a string")
    env = environment()
    now = time.time()
    pid = os.getpid()
    process = {
        "status": "running",
        "pid": pid,
        "pid_start": process_start_time(pid),
        "heartbeat": now,
        **{k: env[k] for k in ("host", "user", "python", "platform", "executable", "command", "cwd",
                                "git", "packages", "notebook")},
    }
    attach_id = os.environ.get("WORKBENCH_RUN_ID")
    if attach_id:
        def mutate(record: dict[str, Any]) -> None:
            if record.get("status") not in ("queued", "running", "crashed"):
                raise StoreError(
                    f"WORKBENCH_RUN_ID={attach_id} names a run that is {record.get('status')}; "
                    "unset the variable to start a new run"
                )
            record.update(process)
            record["config"] = _merge(record.get("config") or {}, config_dict)
            record["tags"] = normalize_tags([*(record.get("tags") or []), *tag_list])
            if notes and not record.get("notes"):
                record["notes"] = notes
            if name and not record.get("name"):
                record["name"] = name
            record.setdefault("started", now)
            record["started"] = record["started"] or now
            record.pop("ended", None)

        try:
            read_record(layout, attach_id)
        except KeyError:
            raise StoreError(
                f"WORKBENCH_RUN_ID={attach_id} names no run in {layout.root}; set WORKBENCH_ROOT to "
                "the store that launched it, or unset WORKBENCH_RUN_ID"
            ) from None
        record = update_record(layout, attach_id, mutate, fsync=resolved.fsync)
        stats = record.get("metrics") or {}
        first_step = max((int(s.get("step", -1)) for s in stats.values()), default=-1) + 1
        first_seq = segments.next_sequence(layout.metrics_dir(attach_id))
        return Run(layout, resolved, record, first_step=first_step, first_sequence=first_seq)

    run_id = new_run_id()
    record = {
        "format": FORMAT,
        "id": run_id,
        "project": project or os.environ.get("WORKBENCH_PROJECT") or "default",
        "name": name or _random_name(),
        "created": now,
        "started": now,
        "ended": None,
        "config": config_dict,
        "summary": {},
        "metrics": {},
        "tags": tag_list,
        "notes": notes or "",
        "remote": None,
        **process,
    }
    try:
        create_record(layout, record, fsync=False)  # durable at finish; a lost start loses no points
    except OSError as exc:
        if not is_storage_fault(exc):
            raise
        if not layout.record(run_id).exists():  # else only the journal line is missing: go on
            with contextlib.suppress(OSError):
                os.rmdir(layout.run_dir(run_id))
            raise StoreError(f"cannot start a run in {layout.root}: the store refused a write: "
                             f"{describe(exc, layout.runs)}; {remedy(exc)}") from exc
    unsaved = None
    git = env.get("git")
    if git and git.get("dirty"):
        diff = git_diff()
        if diff:
            files = layout.files_dir(run_id)
            try:
                make_dir(files)
                _save_diff(files / "diff.patch", diff)
            except OSError as exc:
                if not is_storage_fault(exc):
                    raise
                unsaved = f"the git diff of the working tree was not saved: {describe(exc, files)}"
    run = Run(layout, resolved, record)
    if unsaved is not None:
        with run._flush_lock:
            run._faults.warn(unsaved)  # recorded with the run's next record
    return run
