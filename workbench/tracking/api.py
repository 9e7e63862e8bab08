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
from workbench.errors import ConfigError, RunNotFound, StoreError
from workbench.settings import load_settings
from workbench.store import segments
from workbench.store._atomic import atomic_write_bytes
from workbench.store._faults import describe, is_storage_fault, remedy
from workbench.store._paths import FORMAT, Layout, new_run_id, validate_run_id
from workbench.store.records import (
    create_record,
    is_crashed,
    normalize_tags,
    process_start_time,
    read_record,
    update_record,
)
from workbench.tracking import current
from workbench.tracking._config import jsonable, set_items
from workbench.tracking._environment import environment, git_diff, save_environment
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


# one Layout per store for the runs of this process: its change journal stays open between runs
_layouts: dict[Path, Layout] = {}
_start_times: dict[int, int | None] = {}


def _layout(root: Path) -> Layout:
    layout = _layouts.get(root)
    if layout is None:
        if len(_layouts) >= 16:
            _layouts.clear()
        layout = _layouts[root] = Layout(root)
    return layout


def _start_time(pid: int) -> int | None:
    """``process_start_time(pid)`` read once per process (a forked child has a pid of its own)."""
    if pid not in _start_times:
        _start_times.clear()
        _start_times[pid] = process_start_time(pid)
    return _start_times[pid]


def _random_name() -> str:
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{secrets.randbelow(1000)}"


def _normalize_config(config: Any) -> dict[str, Any]:
    """The config given to ``init`` as JSON-safe nested dicts (see tracking/_config.jsonable)."""
    if config is None:
        return {}
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    elif not isinstance(config, Mapping) and hasattr(config, "__dict__"):  # argparse.Namespace and friends
        config = {k: v for k, v in vars(config).items() if not k.startswith("_")}
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict, a dataclass or a namespace, not {type(config).__name__}")
    result: dict[str, Any] = jsonable(config)
    return result


#: ``init(mode=)``: both W&B modes that log mean "into the local store" here
_MODES = ("online", "offline", "disabled")
_RESUME = {True: "allow", "allow": "allow", "auto": "allow", "must": "must", "never": "never"}
_REINIT = {None: "finish_previous", "default": "finish_previous", True: "finish_previous",
           "finish_previous": "finish_previous", False: "return_previous", "return_previous": "return_previous",
           "create_new": "create_new"}


def _check_line(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 1024 or not value.isprintable():
        raise ConfigError(f"init({what}={value!r}): use one line of printable text (at most 1024 characters)")
    return value


def _check_choice(value: Any, choices: Mapping[Any, str] | tuple[str, ...], what: str) -> Any:
    try:
        ok = value in choices
    except TypeError:  # unhashable
        ok = False
    if not ok:
        shown = ", ".join(repr(c) for c in choices)
        raise ConfigError(f"init({what}={value!r}): use one of {shown}")
    return choices[value] if isinstance(choices, Mapping) else value


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
    *,
    group: str | None = None,
    job_type: str | None = None,
    id: str | None = None,
    resume: bool | str | None = None,
    mode: str | None = None,
    reinit: bool | str | None = None,
    dir: str | os.PathLike[str] | None = None,
    allow_val_change: bool = False,
    **settings: Any,
) -> Run:
    """Start a run, make it the current run (``workbench.run``) and return it.

    Parameters
    ----------
    project, name:
        Group and label of the run; ``name`` defaults to a random ``adjective-noun-N``.
    config:
        Hyperparameters (dict, dataclass or argparse namespace); nested dicts are fine. Later
        changes go through ``run.config`` (a live mapping).
    tags, notes:
        Free labels and text; both can be changed later.
    root, dir:
        The store (default ``WORKBENCH_ROOT``, else ``~/.workbench``); ``dir`` is W&B's name for it.
    group, job_type:
        W&B's grouping fields: runs of one experiment (``group``), the kind of run (``job_type``);
        both are columns of :func:`workbench.runs`.
    id, resume:
        ``id`` names the run (2-64 characters of a-z, 0-9, ``-``, ``_``). ``resume``: ``"allow"``
        (or ``True``) reopens the run with that id if it exists, else creates it; ``"must"`` reopens
        it and fails if there is none; ``"never"`` (and no ``resume``) fails if it exists. A
        reopened run is ``running`` again, ``run.resumed`` is True, and steps continue after its
        last logged step.
    mode:
        ``"online"`` and ``"offline"`` both log into the local store; ``"disabled"`` returns a run
        that checks every call and writes nothing (also ``WORKBENCH_MODE=disabled``).
    reinit:
        What a second ``init`` in the process does with the current run: finish it (the default,
        ``True``, ``"finish_previous"``: re-running a notebook cell leaves no run ``running``),
        return it (``False``, ``"return_previous"``), or keep it running (``"create_new"``).
    allow_val_change:
        Let ``run.config`` changes overwrite keys with different values for this run.
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
    if mode is None:
        mode = os.environ.get("WORKBENCH_MODE") or None
    if mode is not None:
        _check_choice(mode, _MODES, "mode")
    policy = _check_choice(reinit, _REINIT, "reinit")
    if resume not in (None, False):
        resume = _check_choice(resume, _RESUME, "resume")
    else:
        resume = None
    if dir is not None:
        if root is not None and Path(root).expanduser() != Path(dir).expanduser():
            raise ConfigError(f"init: root={os.fspath(root)!r} and dir={os.fspath(dir)!r} name two stores; pass one")
        root = dir
    group = _check_line(group, "group")
    job_type = _check_line(job_type, "job_type")
    if id is not None:
        if not isinstance(id, str):
            raise ConfigError(f"init(id={id!r}): a run id is a string")
        try:
            validate_run_id(id)
        except StoreError as exc:
            raise ConfigError(f"init(id=...): {exc}") from None
    elif resume == "must":
        raise ConfigError("init(resume='must') needs the id of the run to resume: init(id=..., resume='must')")
    config_dict = _normalize_config(config)
    tag_list = normalize_tags(tags)
    if notes is not None and not isinstance(notes, str):
        raise TypeError("notes must be a string")

    attach_id = os.environ.get("WORKBENCH_RUN_ID")
    previous = current.current()
    if previous is not None:
        if policy == "return_previous" or (
                policy != "create_new" and attach_id and previous.id == attach_id and id in (None, attach_id)):
            return previous
        if policy == "finish_previous":
            previous.finish()

    if mode == "disabled":
        from workbench.tracking._disabled import DisabledRun

        disabled = DisabledRun(project or os.environ.get("WORKBENCH_PROJECT") or "default", name or _random_name(),
                               config_dict, tag_list, notes or "", group, job_type, id, allow_val_change, root)
        current.set_current(disabled)
        return disabled  # type: ignore[return-value]

    resolved = load_settings(root, **settings)
    segments.preload()
    layout = _layout(resolved.root)
    layout.ensure()
    env = environment()
    env_digest, env_unsaved = save_environment(layout)
    now = time.time()
    pid = os.getpid()
    process = {
        "status": "running",
        "pid": pid,
        "pid_start": _start_time(pid),
        "heartbeat": now,
        **{k: env[k] for k in ("host", "user", "python", "platform", "executable", "command", "cwd",
                                "git", "packages", "notebook")},
        "environment": env_digest,
    }
    labels = {"group": group, "job_type": job_type}
    if attach_id:
        run = _attach(layout, resolved, attach_id, process, config_dict, tag_list, notes, name, labels, now,
                      allow_val_change)
    elif id is not None and layout.record(id).exists():
        if resume not in ("allow", "must"):
            raise StoreError(f"run {id!r} already exists in {layout.root}; pass resume='allow' (or 'must') to "
                             "continue it, or leave out id for a new run")
        run = _reopen(layout, resolved, id, process, config_dict, tag_list, notes, name, labels, now,
                      allow_val_change)
    elif resume == "must":
        raise RunNotFound(f"init(id={id!r}, resume='must'): there is no run {id!r} in {layout.root}; check the id "
                          "and the store (WORKBENCH_ROOT), or use resume='allow' to create it")
    else:
        run = _create(layout, resolved, env, process, id, project, name, config_dict, tag_list, notes, labels, now,
                      allow_val_change)
    if env_unsaved is not None:
        with run._flush_lock:
            run._faults.warn(env_unsaved)  # recorded with the run's next record
    current.set_current(run)
    return run


def _attach(layout: Layout, resolved: Any, attach_id: str, process: dict[str, Any], config_dict: dict[str, Any],
            tag_list: list[str], notes: str | None, name: str | None, labels: dict[str, Any], now: float,
            allow_val_change: bool) -> Run:
    """A launched job's process takes over the run its launch made (``WORKBENCH_RUN_ID``).

    The keys its launch set (a job's config, a sweep trial's parameters) win over ``config``
    and stay locked: the script's own defaults for them are ignored, as in W&B sweeps."""
    launched: set[str] = set()

    def mutate(record: dict[str, Any]) -> None:
        launched.update(record.get("config") or {})
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
        for key, value in labels.items():
            if value is not None and not record.get(key):
                record[key] = value
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
    return _continue(layout, resolved, record, resumed=False, allow_val_change=allow_val_change, locked=launched)


def _reopen(layout: Layout, resolved: Any, run_id: str, process: dict[str, Any], config_dict: dict[str, Any],
            tag_list: list[str], notes: str | None, name: str | None, labels: dict[str, Any], now: float,
            allow_val_change: bool) -> Run:
    """``init(id=..., resume=...)``: the run continues, running again, its steps after its last."""
    def mutate(record: dict[str, Any]) -> None:
        status = record.get("status")
        if status == "running" and not is_crashed(record, now, resolved.crash_after):
            raise StoreError(f"run {run_id!r} is still running (pid {record.get('pid')} on {record.get('host')}); "
                             "resume it once that process has ended, or start a new run")
        if status == "queued":
            raise StoreError(f"run {run_id!r} is a queued job; the scheduler starts it")
        record["config"] = set_items(record.get("config") or {}, (), config_dict, allow_val_change=allow_val_change)
        record.update(process)
        record["tags"] = normalize_tags([*(record.get("tags") or []), *tag_list])
        if notes:
            record["notes"] = notes
        if name:
            record["name"] = name
        for key, value in labels.items():
            if value is not None:
                record[key] = value
        record["resumes"] = int(record.get("resumes") or 0) + 1
        for key in ("ended", "error", "exit_code"):
            record.pop(key, None)

    record = update_record(layout, run_id, mutate, fsync=resolved.fsync, allow_remote=False)
    return _continue(layout, resolved, record, resumed=True, allow_val_change=allow_val_change)


def _continue(layout: Layout, resolved: Any, record: dict[str, Any], *, resumed: bool,
              allow_val_change: bool, locked: Iterable[str] = ()) -> Run:
    run_id = record["id"]
    stats = record.get("metrics") or {}
    last = max((int(s.get("step", -1)) for s in stats.values()), default=-1)
    # segments written after the record's last write (a crash, a refused record write) may hold
    # later steps: continue after those too, never on top of them
    last = max(last, segments.last_step(layout.metrics_dir(run_id)))
    first_seq = segments.next_sequence(layout.metrics_dir(run_id))
    return Run(layout, resolved, record, first_step=last + 1, first_sequence=first_seq, resumed=resumed,
               allow_val_change=allow_val_change, locked=locked)


def _create(layout: Layout, resolved: Any, env: dict[str, Any], process: dict[str, Any], run_id: str | None,
            project: str | None, name: str | None, config_dict: dict[str, Any], tag_list: list[str],
            notes: str | None, labels: dict[str, Any], now: float, allow_val_change: bool) -> Run:
    run_id = run_id or new_run_id()
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
        **{k: v for k, v in labels.items() if v is not None},
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
    run = Run(layout, resolved, record, allow_val_change=allow_val_change)
    if unsaved is not None:
        with run._flush_lock:
            run._faults.warn(unsaved)  # recorded with the run's next record
    return run
