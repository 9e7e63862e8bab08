"""The W&B-shaped run: a thin wrapper over a workbench run for the calls whose shape differs.

Everything not defined here (``config``, ``define_metric``, ``alert``, ``flush``, ``status``,
``resumed``...) is the workbench run's own. What differs from W&B:

- ``log`` puts values that are not numbers (text, ``None``, lists) into the summary, where W&B
  keeps the last value of a key too; workbench's history holds numbers only. Media
  (``wandb.Image``...) are media items; a list of them is one item per ``key.<index>``.
- ``dir`` is ``<store>/runs/<id>/files`` (W&B's ``wandb/run-*/files``): files written there stay
  with the run; ``save`` copies files into it.
- ``log_artifact`` takes a :class:`~workbench.compat._wandb_artifact.Artifact` or a path;
  ``use_artifact`` returns an ``Artifact`` whose ``download()`` gives the files.
"""

from __future__ import annotations

import glob as _glob
import os
import shutil
import sys
import tempfile
import weakref
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from workbench.compat._wandb_artifact import Artifact, from_wandb_ref, metadata_of, stage
from workbench.compat._wandb_missing import Unsupported
from workbench.errors import ArtifactError, DatasetError, StoreError
from workbench.media.types import Media

__all__ = ["Run", "Summary", "notice"]

_SUMMARY_KINDS = {"copy": "last"}  # W&B's summary names that workbench spells another way
_noticed: set[str] = set()


def notice(key: str, message: str) -> None:
    """Print ``message`` once per process (W&B features that do nothing here)."""
    if key in _noticed or os.environ.get("WANDB_SILENT", "").lower() in ("1", "true", "yes"):
        return
    _noticed.add(key)
    print(f"workbench: {message}", file=sys.stderr)


def _is_loggable(value: Any) -> bool:
    """Numbers (and numpy/torch scalars and arrays, which the run checks) go to the history."""
    return not (value is None or isinstance(value, (str, bytes, list, tuple, set, frozenset)))


def _split(data: Mapping[str, Any], prefix: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    """``data`` as (metrics for the history, other values for the summary); nested dicts as ``a.b``."""
    metrics: dict[str, Any] = {}
    others: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            inner_metrics, inner_others = _split(value, f"{name}.")
            metrics.update(inner_metrics)
            others.update(inner_others)
        elif _is_loggable(value):
            metrics[name] = value
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Media) for v in value):
            # W&B's gallery, {"examples": [wandb.Image(a), wandb.Image(b)]}: an item per key.<index>
            metrics.update({f"{name}.{index}": item for index, item in enumerate(value)})
        else:
            others[name] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return metrics, others


class Summary(MutableMapping[str, Any]):
    """``run.summary``: items and attributes (``run.summary.best = 0.9``), ``update()``."""

    __slots__ = ("_target",)

    def __init__(self, target: MutableMapping[str, Any]) -> None:
        object.__setattr__(self, "_target", target)

    def __getitem__(self, key: str) -> Any:
        return self._target[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._target[key] = value

    def __delitem__(self, key: str) -> None:
        del self._target[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._target)

    def __len__(self) -> int:
        return len(self._target)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._target[name]
        except KeyError:
            raise AttributeError(f"summary has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._target[name] = value

    def __repr__(self) -> str:
        return repr(self._target)


class Run:
    """What ``wandb.init()`` returns here: a workbench run with W&B's shape where it differs.

    Examples
    --------
    >>> import workbench.compat.wandb as wandb
    >>> with wandb.init(project="mnist", config={"lr": 1e-3}) as run:  # doctest: +SKIP
    ...     run.log({"loss": 0.3})
    ...     run.summary.best_loss = 0.3
    """

    def __init__(self, core: Any) -> None:
        object.__setattr__(self, "_core", core)
        object.__setattr__(self, "_saved", [])

    # -- identity -------------------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        return getattr(self._core, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "name":
            self._set_name(value)
        elif name in ("tags", "notes", "config"):
            setattr(self._core, name, list(value) if name == "tags" else value)
        else:
            raise AttributeError(f"wandb.Run has no settable attribute {name!r}")

    def _set_name(self, value: Any) -> None:
        if not isinstance(value, str) or not value:
            raise TypeError("run.name must be a non-empty string")
        self._core.name = value

    @property
    def entity(self) -> str:
        """W&B's team or user: a local store has none (``""``)."""
        return ""

    @property
    def path(self) -> str:
        return f"{self._core.project}/{self._core.id}"

    @property
    def url(self) -> None:
        """W&B's run page: a local store has no URL (``workbench ui`` shows the run)."""
        return None

    def get_url(self) -> None:
        return None

    def get_project_url(self) -> None:
        return None

    def project_name(self) -> str:
        return str(self._core.project)

    @property
    def sweep_id(self) -> None:
        return None

    @property
    def offline(self) -> bool:
        return False

    @property
    def disabled(self) -> bool:
        return bool(getattr(self._core, "disabled", False))

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(self._core.tags)

    @property
    def summary(self) -> Summary:
        return Summary(self._core.summary)

    @property
    def dir(self) -> str:
        """``<store>/runs/<id>/files``: files written here stay with the run (W&B's ``run.dir``).

        A disabled run has a private temporary directory instead.
        """
        return str(self._files_dir())

    def _files_dir(self) -> Path:
        core_dir = self._core.dir
        if core_dir is None:  # disabled: nothing goes to the store
            scratch = self.__dict__.get("_scratch")
            if scratch is None:
                scratch = Path(tempfile.mkdtemp(prefix="workbench-wandb-disabled-"))
                weakref.finalize(self, shutil.rmtree, scratch, True)
                object.__setattr__(self, "_scratch", scratch)
            return Path(scratch)
        from workbench._private import make_dir

        files = Path(core_dir) / "files"
        make_dir(files)
        return files

    def __repr__(self) -> str:
        return repr(self._core)

    # -- logging --------------------------------------------------------------------------------
    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None,
            sync: bool | None = None) -> None:
        """W&B's ``run.log``: numbers go to the history (nested dicts as ``a.b``); media
        (``wandb.Image``, ``Table``, ``Histogram``, ``Audio``, ``Html``) are stored as media items,
        a list of them as ``key.0``, ``key.1``...; text, ``None`` and other lists go to the
        summary (W&B shows their last value there too)."""
        if not isinstance(data, Mapping):
            raise TypeError(f"run.log takes a dict of values, not {type(data).__name__}")
        metrics, others = _split(data)
        if others and not getattr(self._core, "_finished", False):
            summary = self._core.summary
            for key, value in others.items():
                summary[key] = value
        self._core.log(metrics, step=step, commit=commit)

    def define_metric(self, name: str, step_metric: str | None = None, step_sync: bool | None = None,
                      hidden: bool | None = None, summary: str | None = None, goal: str | None = None,
                      overwrite: bool | None = None) -> Any:
        if isinstance(summary, str):
            summary = ",".join(_SUMMARY_KINDS.get(p.strip(), p.strip()) for p in summary.split(","))
        return self._core.define_metric(name, step_metric, step_sync=step_sync, hidden=hidden,
                                        summary=summary, goal=goal, overwrite=overwrite)

    # -- files --------------------------------------------------------------------------------------
    def save(self, glob_str: str | os.PathLike[str] | None = None, base_path: str | os.PathLike[str] | None = None,
             policy: str = "live") -> list[str]:
        """Copy the files matching ``glob_str`` into :attr:`dir`, now and again at ``finish()``.

        Paths are kept relative to ``base_path`` (default: the glob's directory); a file outside
        ``base_path`` keeps only its name. Returns the paths written.
        """
        if glob_str is None:
            raise TypeError("wandb.save() needs a glob, e.g. wandb.save('checkpoints/*.pt')")
        if policy not in ("live", "now", "end"):
            raise ValueError(f"wandb.save(policy={policy!r}): use 'live', 'now' or 'end'")
        pattern = os.fspath(glob_str)
        base = os.fspath(base_path) if base_path is not None else _glob_base(pattern)
        if policy != "now":
            self._saved.append((pattern, base))
        return self._copy_matches(pattern, base)

    def _copy_matches(self, pattern: str, base: str) -> list[str]:
        if getattr(self._core, "_finished", False):
            return []
        target = self._files_dir()
        written: list[str] = []
        for found in sorted(_glob.glob(pattern, recursive=True)):
            source = Path(found)
            if not source.is_file():
                continue
            try:
                rel = Path(os.path.relpath(source.resolve(), Path(base).resolve()))
            except ValueError:
                rel = Path(source.name)
            if rel.parts and rel.parts[0] == "..":
                rel = Path(source.name)
            dest = target / rel
            if source.resolve() == dest.resolve():
                continue  # written into run.dir already
            _private_copy(source, dest, target)
            written.append(str(dest))
        return written

    def watch(self, models: Any = None, criterion: Any = None, log: str | None = "gradients",
              log_freq: int = 1000, idx: int | None = None, log_graph: bool = False) -> None:
        """Nothing is logged (no hook on the model yet): log ``wandb.Histogram(p.grad)`` yourself."""
        notice("watch", "wandb.watch() logs nothing yet: it needs a hook on the model; log "
                        "wandb.Histogram(p.grad) or the gradient norm with wandb.log() yourself")

    def unwatch(self, models: Any = None) -> None:
        return None

    def log_code(self, root: str | None = ".", name: str | None = None, include_fn: Any = None,
                 exclude_fn: Any = None) -> None:
        """The run records its git commit and diff already; code files can be saved with ``save()``."""
        notice("log_code", "wandb.log_code(): the run records the git commit and the diff of the working tree "
                           "already; save other files with wandb.save('*.py')")

    def mark_preempting(self) -> None:
        return None

    # -- artifacts ------------------------------------------------------------------------------------
    def log_artifact(self, artifact_or_path: Artifact | str | os.PathLike[str], name: str | None = None,
                     type: str | None = None, aliases: Sequence[str] | None = None,
                     tags: Sequence[str] | None = None) -> Artifact:
        """Log a :class:`Artifact` (or a path) as a new version, made by this run.

        ``latest`` names the newest version anyway; other aliases move to this one. Logging the
        same files as the newest version gives that version again (no new one).
        """
        wanted = [a for a in ([aliases] if isinstance(aliases, str) else (aliases or ())) if a != "latest"]
        if isinstance(artifact_or_path, Artifact):
            artifact = artifact_or_path
            if name is not None and name != artifact._name:
                raise ArtifactError(f"log_artifact: the artifact is named {artifact._name!r}, not {name!r}")
        else:
            path = Path(artifact_or_path)
            artifact = Artifact(name or f"run-{self._core.id}-{path.name}", type or "unspecified")
            if path.is_dir():
                artifact.add_dir(path)
            else:
                artifact.add_file(path)
        if self.disabled:
            return artifact
        tmp = stage(artifact)
        try:
            stored = self._core.log_artifact(Path(tmp.name) / "files", artifact._name, artifact.type,
                                             aliases=wanted, metadata=metadata_of(artifact))
        except DatasetError as exc:
            raise DatasetError(f"artifact {artifact._name!r}: {exc}. W&B does not check type='dataset'; workbench "
                               "does (docs/migrate-wandb.md): log files that are not tables with another type, "
                               "e.g. type='raw_data'") from exc
        finally:
            tmp.cleanup()
        artifact._aliases = wanted
        return artifact._bind(stored, None)

    def use_artifact(self, artifact_or_name: Artifact | str, type: str | None = None,
                     aliases: Sequence[str] | None = None, use_as: str | None = None) -> Artifact:
        """The version a ref names (``name:latest``, ``name:v0``, ``name:best``, ``name``), recorded as
        used by this run; ``download()`` gives its files."""
        import workbench
        from workbench.store.artifacts import open_artifacts

        if isinstance(artifact_or_name, Artifact):
            ref = artifact_or_name.ref
        else:
            ref = from_wandb_ref(artifact_or_name)
        root = Path(self._core.dir).parents[1] if self._core.dir is not None else None
        stored = open_artifacts(root).get(ref)
        if type is not None and stored.type != type:
            raise ArtifactError(f"use_artifact({artifact_or_name!r}, type={type!r}): that artifact is a "
                                f"{stored.type!r}; pass type={stored.type!r} or leave type out")
        if self.disabled:
            placed = workbench.use_artifact(stored.ref, root=root)
        else:
            placed = self._core.use_artifact(stored.ref)
        return Artifact._from_stored(stored, Path(placed))

    def link_artifact(self, artifact: Artifact, target_path: str, aliases: Sequence[str] | None = None) -> None:
        raise Unsupported("run.link_artifact(): the W&B model registry is a server feature; give the version an "
                          "alias instead: run.log_artifact(artifact, aliases=['production'])")

    def link_model(self, *args: Any, **kwargs: Any) -> None:
        raise Unsupported("run.link_model(): the W&B model registry is a server feature; log the model with "
                          "run.log_artifact(path, type='model', aliases=['production'])")

    def log_model(self, path: str | os.PathLike[str], name: str | None = None,
                  aliases: Sequence[str] | None = None) -> Artifact:
        """W&B's ``run.log_model``: a ``model`` artifact."""
        return self.log_artifact(path, name=name, type="model", aliases=aliases)

    def use_model(self, name: str) -> str:
        """W&B's ``run.use_model``: the path of the model's files."""
        return self.use_artifact(name).download()

    # -- the end ---------------------------------------------------------------------------------------
    def _copy_saved(self) -> None:
        for pattern, base in self._saved:
            try:
                self._copy_matches(pattern, base)
            except OSError as exc:
                print(f"workbench: run {self._core.id}: wandb.save({pattern!r}): {exc}", file=sys.stderr)

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """End the run; ``exit_code`` other than 0 records it ``failed`` (W&B's convention)."""
        if not getattr(self._core, "_finished", False):
            self._copy_saved()
        status = "failed" if exit_code not in (None, 0) else "completed"
        self._core.finish(status, exit_code=exit_code)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not getattr(self._core, "_finished", False):
            self._copy_saved()
        self._core.__exit__(exc_type, exc, tb)


def _glob_base(pattern: str) -> str:
    """The directory part of ``pattern`` before its first wildcard."""
    parts: list[str] = []
    for part in Path(pattern).parts[:-1]:
        if any(c in part for c in "*?["):
            break
        parts.append(part)
    return str(Path(*parts)) if parts else "."


def _private_copy(source: Path, dest: Path, top: Path) -> None:
    """Copy ``source`` to ``dest`` (inside ``top``) privately and atomically: a 0600 temp file
    beside it, renamed into place."""
    from workbench._private import make_dir, private_opener

    if not dest.resolve().is_relative_to(top.resolve()):
        raise StoreError(f"wandb.save: {dest} would be outside the run's files {top}; pass base_path=")
    make_dir(dest.parent)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    try:
        with open(source, "rb") as src, open(tmp, "wb", opener=private_opener) as out:
            shutil.copyfileobj(src, out, 1 << 20)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
