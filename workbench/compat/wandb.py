"""W&B's module interface over a local workbench store: ``import workbench.compat.wandb as wandb``.

A script written for W&B runs unchanged but for its import line, for everything W&B does
offline: ``init`` (with ``config``, ``group``, ``job_type``, ``tags``, ``notes``, ``id`` +
``resume``, ``mode``, ``reinit``...), ``config``, ``log``, ``summary``, ``define_metric``,
``alert``, ``finish``, ``Artifact`` with ``log_artifact`` / ``use_artifact``, ``save``, and the
media types ``Image``, ``Table``, ``Histogram``, ``Audio`` and ``Html`` (stored as workbench
media items; ``Html`` as escaped text). The ``WANDB_*`` environment variables W&B reads are
honoured. What differs, and what is not there (``Video``, ``Object3D``, ``wandb.plot``, ``Api``,
hosted sweeps), is in docs/migrate-wandb.md.

Examples
--------
>>> import workbench.compat.wandb as wandb
>>> run = wandb.init(project="mnist", config={"lr": 1e-3, "epochs": 2})  # doctest: +SKIP
>>> for epoch in range(wandb.config.epochs):  # doctest: +SKIP
...     wandb.log({"loss": 1 / (epoch + 1)})
>>> wandb.finish()  # doctest: +SKIP
"""

from __future__ import annotations

import enum
import os
import sys
import weakref
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from typing import Any

from workbench.compat._wandb_artifact import Artifact
from workbench.compat._wandb_media import Audio, Histogram, Html, Image, Table
from workbench.compat._wandb_missing import (
    Api,
    MediaNotAvailable,
    Molecule,
    Object3D,
    Plotly,
    Unsupported,
    Video,
    agent,
    controller,
    plot,
    sweep,
)
from workbench.compat._wandb_run import Run, Summary, notice
from workbench.errors import ConfigError, WorkbenchError
from workbench.tracking.current import RunProxy

__all__ = [
    "AlertLevel",
    "Api",
    "Artifact",
    "Audio",
    "Error",
    "Histogram",
    "Html",
    "Image",
    "MediaNotAvailable",
    "Molecule",
    "NoRun",
    "Object3D",
    "Plotly",
    "Run",
    "Settings",
    "Table",
    "Unsupported",
    "Video",
    "__version__",
    "agent",
    "alert",
    "config",
    "controller",
    "define_metric",
    "finish",
    "init",
    "log",
    "log_artifact",
    "log_model",
    "login",
    "mark_preempting",
    "plot",
    "require",
    "save",
    "setup",
    "summary",
    "sweep",
    "teardown",
    "termerror",
    "termlog",
    "termwarn",
    "unwatch",
    "use_artifact",
    "use_model",
    "watch",
]

#: the W&B client API this module follows (scripts that compare versions see a recent one)
__version__ = "0.19.11"

#: ``except wandb.Error`` catches every error workbench raises on purpose
Error = WorkbenchError


class NoRun(WorkbenchError):
    """A call that needs a run before ``wandb.init()`` (W&B raises its ``wandb.Error`` there too)."""


class AlertLevel(str, enum.Enum):
    """W&B's alert levels."""

    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


class Settings:
    """W&B's ``Settings(...)``: accepted and ignored, but for ``mode`` (``"disabled"`` turns the
    run into a no-op, as ``init(mode=...)``) and ``reinit``."""

    def __init__(self, **settings: Any) -> None:
        self._settings = dict(settings)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._settings.get(name)

    def __repr__(self) -> str:
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in self._settings.items())})"


# -- the current run --------------------------------------------------------------------------

_wrappers: weakref.WeakKeyDictionary[Any, Run] = weakref.WeakKeyDictionary()


def _wrap(core: Any) -> Run:
    wrapper = _wrappers.get(core)
    if wrapper is None:
        wrapper = Run(core)
        _wrappers[core] = wrapper
    return wrapper


def _current() -> Run | None:
    from workbench.tracking import current

    core = current.current()
    return None if core is None else _wrap(core)


def _require(what: str) -> Run:
    run = _current()
    if run is None:
        raise NoRun(f"wandb.{what}: no run is active; call wandb.init() first")
    return run


def __getattr__(name: str) -> Any:
    # `wandb.run` is the current run, or None: computed on each read
    if name == "run":
        return _current()
    raise AttributeError(f"module 'workbench.compat.wandb' has no attribute {name!r}; see docs/migrate-wandb.md "
                         "for what workbench offers in its place")


class _Config(RunProxy):
    """``wandb.config``: the config of the current run (an error before ``wandb.init()``)."""

    __slots__ = ()
    _what = "config"
    _module = "wandb"

    def _target(self) -> Any:
        return _require("config").config

    def update(self, d: Any = None, allow_val_change: bool = False, **kwargs: Any) -> None:  # type: ignore[override]
        """W&B's ``config.update``: a dict, an argparse namespace or absl flags."""
        items = {**_config_dict(d), **kwargs}
        self._target().update(items, allow_val_change=allow_val_change)

    def setdefaults(self, d: Mapping[str, Any]) -> None:
        """W&B's ``config.setdefaults``: set the keys not set yet."""
        target = self._target()
        target.update({k: v for k, v in _config_dict(d).items() if k not in target})

    def as_dict(self) -> dict[str, Any]:
        return dict(self._target())

    def persist(self) -> None:
        """Every change is written at once: nothing to do."""


class _Summary(RunProxy):
    """``wandb.summary``: the summary of the current run."""

    __slots__ = ()
    _what = "summary"
    _module = "wandb"

    def _target(self) -> Summary:
        return _require("summary").summary


config: MutableMapping[str, Any] = _Config()
summary: MutableMapping[str, Any] = _Summary()


# -- init ---------------------------------------------------------------------------------------

def _config_dict(config: Any) -> dict[str, Any]:
    """W&B's config forms as a dict: a dict, an argparse namespace, absl flags, a YAML file path."""
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return dict(config)
    if isinstance(config, (str, os.PathLike)):
        return _yaml_config(os.fspath(config))
    values = getattr(config, "flag_values_dict", None)  # absl.flags.FLAGS
    if callable(values):
        return dict(values())
    if hasattr(config, "__dict__"):  # argparse.Namespace, SimpleNamespace, plain objects
        return {k: v for k, v in vars(config).items() if not k.startswith("_")}
    raise TypeError(f"wandb config must be a dict, an argparse namespace, absl flags or a YAML file path, "
                    f"not {type(config).__name__}")


def _yaml_config(path: str) -> dict[str, Any]:
    try:
        import yaml
    except ImportError:
        raise ConfigError(f"wandb.init(config={path!r}) reads a YAML file: pip install pyyaml") from None
    try:
        with open(path, encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle) or {}
    except OSError as exc:
        raise ConfigError(f"wandb.init(config={path!r}): cannot read it: {exc.strerror}; pass a dict or a "
                          "readable YAML file") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"wandb.init(config={path!r}) is not valid YAML: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ConfigError(f"wandb.init(config={path!r}): the file holds a {type(loaded).__name__}, not a mapping")
    loaded.pop("wandb_version", None)
    # W&B's config-defaults.yaml form: {"lr": {"desc": ..., "value": 0.1}}
    return {k: v["value"] if isinstance(v, dict) and "value" in v else v for k, v in loaded.items()}


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def _mode(mode: str | None, settings: Any) -> str | None:
    if (_env("WANDB_DISABLED") or "").lower() in ("1", "true", "yes") or _env("WANDB_MODE") == "disabled":
        return "disabled"  # the switch that turns logging off without touching the script
    if mode is None and settings is not None:
        mode = getattr(settings, "mode", None) if not isinstance(settings, Mapping) else settings.get("mode")
    mode = mode or _env("WANDB_MODE")
    if mode in (None, "online", "offline", "shared", "run", "dryrun"):
        return None  # the local store: W&B's offline mode is what workbench always does
    if mode == "disabled":
        return "disabled"
    raise ConfigError(f"wandb.init(mode={mode!r}): use 'online', 'offline' or 'disabled' "
                      "(online and offline both write the local store)")


def _resume(resume: Any, run_id: str | None) -> Any:
    if resume is None:
        resume = _env("WANDB_RESUME")
    if resume in (None, False, "false", "False"):
        return None
    if resume in (True, "auto", "true", "True"):
        # W&B's "auto" without an id resumes the last crashed run of the directory from a file
        # W&B keeps there; workbench keeps none: with an id it is "allow", without one a new run
        return "allow" if run_id else None
    if resume in ("allow", "must", "never"):
        return resume
    raise ConfigError(f"wandb.init(resume={resume!r}): use 'allow', 'must', 'never', 'auto' or True")


def _reinit(reinit: Any, settings: Any) -> Any:
    if reinit is None and settings is not None:
        reinit = getattr(settings, "reinit", None) if not isinstance(settings, Mapping) else settings.get("reinit")
    if reinit in (None, "default"):
        # W&B: a second init finishes the current run in a notebook, returns it in a script
        return "finish_previous" if "ipykernel" in sys.modules else "return_previous"
    if reinit is True:
        return "finish_previous"
    if reinit is False:
        return "return_previous"
    return reinit


def init(
    *,
    project: str | None = None,
    entity: str | None = None,
    config: Any = None,
    name: str | None = None,
    notes: str | None = None,
    tags: Sequence[str] | None = None,
    group: str | None = None,
    job_type: str | None = None,
    id: str | None = None,
    resume: bool | str | None = None,
    reinit: bool | str | None = None,
    mode: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    allow_val_change: bool | None = None,
    config_exclude_keys: Iterable[str] | None = None,
    config_include_keys: Iterable[str] | None = None,
    save_code: bool | None = None,
    settings: Any = None,
    anonymous: str | None = None,
    magic: Any = None,
    monitor_gym: bool | None = None,
    sync_tensorboard: bool | None = None,
    tensorboard: bool | None = None,
    force: bool | None = None,
    resume_from: str | None = None,
    fork_from: str | None = None,
) -> Run:
    """Start a run (W&B's ``wandb.init``) in the local store, and make it current.

    The store is ``WORKBENCH_ROOT`` (default ``~/.workbench``). W&B-only arguments are accepted
    and ignored: ``entity`` (a store has no teams), ``dir`` (W&B's local cache; the store is the
    record here), ``save_code`` (the git commit and diff are recorded anyway), ``settings``
    (but for its ``mode`` and ``reinit``), ``anonymous``, ``magic``, ``monitor_gym``,
    ``sync_tensorboard``, ``tensorboard``, ``force``. ``resume_from`` and ``fork_from``
    (rewinding a run on the server) raise :class:`Unsupported`.

    Environment variables, used where the argument is not given: ``WANDB_PROJECT``,
    ``WANDB_NAME``, ``WANDB_NOTES``, ``WANDB_TAGS`` (comma-separated), ``WANDB_RUN_GROUP``,
    ``WANDB_JOB_TYPE``, ``WANDB_RUN_ID``, ``WANDB_RESUME``, ``WANDB_MODE``.
    ``WANDB_MODE=disabled`` (or ``WANDB_DISABLED=true``) makes every run a no-op, whatever the
    script passes.

    Examples
    --------
    >>> import workbench.compat.wandb as wandb
    >>> run = wandb.init(project="mnist", config=args, group="ddp", job_type="train")  # doctest: +SKIP
    """
    if resume_from is not None or fork_from is not None:
        which = "resume_from" if resume_from is not None else "fork_from"
        raise Unsupported(f"wandb.init({which}=...) rewinds or forks a run on the W&B server; workbench cannot. "
                          "Continue a run with wandb.init(id=..., resume='allow'), or start a new one")
    import workbench

    values = _config_dict(config)
    if config_include_keys is not None:
        if config_exclude_keys is not None:
            raise ConfigError("wandb.init: pass config_include_keys or config_exclude_keys, not both")
        keep = set(config_include_keys)
        values = {k: v for k, v in values.items() if k in keep}
    elif config_exclude_keys is not None:
        drop = set(config_exclude_keys)
        values = {k: v for k, v in values.items() if k not in drop}
    if tags is None and _env("WANDB_TAGS"):
        tags = [t.strip() for t in (_env("WANDB_TAGS") or "").split(",") if t.strip()]
    run_id = id or _env("WANDB_RUN_ID")
    core = workbench.init(
        project=project or _env("WANDB_PROJECT"),
        name=name or _env("WANDB_NAME"),
        config=values,
        tags=list(tags) if tags is not None else None,
        notes=notes if notes is not None else _env("WANDB_NOTES"),
        group=group or _env("WANDB_RUN_GROUP"),
        job_type=job_type or _env("WANDB_JOB_TYPE"),
        id=run_id,
        resume=_resume(resume, run_id),
        mode=_mode(mode, settings),
        reinit=_reinit(reinit, settings),
        allow_val_change=bool(allow_val_change),
    )
    return _wrap(core)


# -- the calls on the current run -----------------------------------------------------------------

def log(data: Mapping[str, Any], step: int | None = None, commit: bool | None = None,
        sync: bool | None = None) -> None:
    """``run.log`` on the current run (see :meth:`Run.log`)."""
    _require("log").log(data, step=step, commit=commit)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the current run; nothing happens when there is none (as in W&B)."""
    run = _current()
    if run is not None:
        run.finish(exit_code=exit_code)


def define_metric(name: str, step_metric: str | None = None, step_sync: bool | None = None,
                  hidden: bool | None = None, summary: str | None = None, goal: str | None = None,
                  overwrite: bool | None = None) -> Any:
    """``run.define_metric`` on the current run."""
    return _require("define_metric").define_metric(name, step_metric, step_sync=step_sync, hidden=hidden,
                                                   summary=summary, goal=goal, overwrite=overwrite)


def alert(title: str, text: str, level: str | AlertLevel | None = None, wait_duration: Any = None) -> Any:
    """Record an alert on the current run (kept in its record and printed; nothing is sent)."""
    return _require("alert").alert(title, text, level=level or "INFO", wait_duration=wait_duration)


def save(glob_str: str | os.PathLike[str] | None = None, base_path: str | os.PathLike[str] | None = None,
         policy: str = "live") -> list[str]:
    """Copy matching files into the current run's files (see :meth:`Run.save`)."""
    return _require("save").save(glob_str, base_path, policy)


def log_artifact(artifact_or_path: Artifact | str | os.PathLike[str], name: str | None = None,
                 type: str | None = None, aliases: Sequence[str] | None = None,
                 tags: Sequence[str] | None = None) -> Artifact:
    """``run.log_artifact`` on the current run."""
    return _require("log_artifact").log_artifact(artifact_or_path, name=name, type=type, aliases=aliases)


def use_artifact(artifact_or_name: Artifact | str, type: str | None = None, aliases: Sequence[str] | None = None,
                 use_as: str | None = None) -> Artifact:
    """``run.use_artifact`` on the current run."""
    return _require("use_artifact").use_artifact(artifact_or_name, type=type)


def log_model(path: str | os.PathLike[str], name: str | None = None, aliases: Sequence[str] | None = None) -> Artifact:
    """``run.log_model`` on the current run."""
    return _require("log_model").log_model(path, name=name, aliases=aliases)


def use_model(name: str) -> str:
    """``run.use_model`` on the current run."""
    return _require("use_model").use_model(name)


def watch(models: Any = None, criterion: Any = None, log: str | None = "gradients", log_freq: int = 1000,
          idx: int | None = None, log_graph: bool = False) -> None:
    """Logs nothing (no hook on the model yet): prints one line saying so; log ``wandb.Histogram(p.grad)`` yourself."""
    notice("watch", "wandb.watch() logs nothing yet: it needs a hook on the model; log "
                    "wandb.Histogram(p.grad) or the gradient norm with wandb.log() yourself")


def unwatch(models: Any = None) -> None:
    """Nothing to undo (see :func:`watch`)."""


def mark_preempting() -> None:
    """Nothing to do: a run that is killed reads back as ``crashed`` and can be resumed."""


# -- process-level calls ----------------------------------------------------------------------------

def login(*args: Any, **kwargs: Any) -> bool:
    """The local store needs no login: returns True."""
    return True


def setup(settings: Any = None) -> None:
    """Nothing to set up: runs write to the local store directly."""


def teardown(exit_code: int | None = None) -> None:
    """Finish the current run, if any."""
    finish(exit_code=exit_code)


def require(*requirements: str, **kwargs: Any) -> None:
    """W&B feature flags (``wandb.require("core")``): nothing to turn on."""


def _term(prefix: str, string: str, newline: bool) -> None:
    if os.environ.get("WANDB_SILENT", "").lower() in ("1", "true", "yes") and prefix == "":
        return
    print(f"wandb: {prefix}{string}", end="\n" if newline else "", file=sys.stderr)


def termlog(string: str = "", newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    """Print a line to stderr, as W&B does."""
    _term("", string, newline)


def termwarn(string: str, newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    """Print a warning line to stderr."""
    _term("WARNING ", string, newline)


def termerror(string: str, newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    """Print an error line to stderr."""
    _term("ERROR ", string, newline)
