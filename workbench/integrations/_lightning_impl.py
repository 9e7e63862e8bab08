"""The Lightning logger, written once for both packages that ship Lightning.

``lightning`` (``lightning.pytorch``) and ``pytorch_lightning`` each have their own ``Logger`` base
class and their own ``rank_zero_only`` (whose ``rank`` each package's ``Trainer`` sets), so
``workbench.integrations.lightning`` and ``workbench.integrations.pytorch_lightning`` each mix
:class:`LoggerMixin` into their package's ``Logger``. This module imports neither package, nor
torch until a checkpoint is read.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from argparse import Namespace
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from workbench.errors import ConfigError

if TYPE_CHECKING:
    from workbench.tracking.run import Run

__all__ = ["LoggerMixin"]

# how Lightning's finalize(status) maps onto a run's end ("finished": a SLURM requeue, handled apart)
_END = {"success": "completed", "failed": "failed"}
# init() arguments that describe a new run: not sent again when the logger reopens its own run
_DESCRIBE = frozenset({"group", "job_type", "allow_val_change"})


def _scalar(value: Any) -> Any:
    """A plain number from a tensor or numpy scalar (``run.log`` takes numbers)."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _checkpoint_position(path: str) -> dict[str, int]:
    """``epoch`` and ``step`` of a Lightning checkpoint, read without loading its tensors (mmap)."""
    try:
        import torch

        # weights_only=False: the checkpoint was written by this process a moment ago, and its
        # hyperparameters may hold objects that the weights-only unpickler refuses
        checkpoint = torch.load(path, map_location="cpu", mmap=True, weights_only=False)
        return {"epoch": int(checkpoint["epoch"]), "step": int(checkpoint["global_step"])}
    except Exception:  # noqa: BLE001 -- metadata is a nicety: a file torch cannot read still gets logged
        return {}


class LoggerMixin:
    """Everything of ``WorkbenchLogger`` but its Lightning base class (see the public modules)."""

    # set by each public module: the package's rank_zero_only and its dummy experiment class
    _rank_zero_only: ClassVar[Any] = None
    _dummy_experiment: ClassVar[type[Any] | None] = None

    def __init__(
        self,
        project: str | None = None,
        name: str | None = None,
        id: str | None = None,
        resume: bool | str | None = None,
        config: Any = None,
        tags: list[str] | None = None,
        notes: str | None = None,
        log_model: bool | str = False,
        root: str | os.PathLike[str] | None = None,
        save_dir: str | os.PathLike[str] | None = None,
        checkpoint_name: str | None = None,
        **init_kwargs: Any,
    ) -> None:
        super().__init__()
        if log_model not in (False, True, "all"):
            raise ConfigError(f"WorkbenchLogger(log_model={log_model!r}): use False, True (the checkpoints "
                              "at the end of fit) or 'all' (each checkpoint as it is saved)")
        self._project = project
        self._name = name
        self._id = id
        self._resume = resume
        self._config = config
        self._tags = tags
        self._notes = notes
        self._log_model = log_model
        self._root = root
        self._save_dir = None if save_dir is None else os.fspath(save_dir)
        self._checkpoint_name = checkpoint_name
        self._init_kwargs = init_kwargs
        self._run: Run | None = None
        self._owned = False  # the logger started (or resumed) the run: it finishes it at finalize
        self._ended = False  # the logger finished its run; the next use reopens it
        self._floor = -1  # a resumed run's last logged step: points at or below it are skipped
        self._epoch_point: tuple[int | None, Any] = (None, None)  # (step, epoch) last logged
        self.skipped = 0  # how many log_metrics calls were skipped for that reason
        self._logged: dict[str, int] = {}  # checkpoint path -> mtime (ns) when logged
        self._callbacks: dict[int, Any] = {}  # ModelCheckpoint callbacks to scan at finalize

    # -- identity -------------------------------------------------------------------------------
    @property
    def name(self) -> str | None:
        """The project of the run (Lightning's experiment "name")."""
        return self._run.project if self._run is not None else self._project

    @property
    def version(self) -> str | None:
        """The run id (the ``id`` given, before the run starts)."""
        return self._run.id if self._run is not None else self._id

    @property
    def save_dir(self) -> str | None:
        """Where Lightning writes checkpoints (``<save_dir>/<project>/<run id>/checkpoints``);
        None: the trainer's ``default_root_dir``. The run itself lives in the store."""
        return self._save_dir

    @property
    def experiment(self) -> Any:
        """The :class:`workbench.Run`, started (or reopened) on first use; on ranks other than 0
        a stand-in that does nothing."""
        if self._rank() > 0:
            dummy = self._dummy_experiment
            return dummy() if dummy is not None else None
        run = self._run
        if run is None or self._ended or run.status != "running":
            run = self._run = self._open()
        return run

    def _rank(self) -> int:
        return int(getattr(self._rank_zero_only, "rank", 0) or 0)

    def _open(self) -> Run:
        import workbench

        if self._owned and self._run is not None:
            # the logger finished its run at a finalize (fit): trainer.test() and friends reopen it
            kwargs = {k: v for k, v in self._init_kwargs.items() if k not in _DESCRIBE}
            run = workbench.init(project=self._run.project, root=self._root, id=self._run.id, resume="must",
                                 reinit="create_new", **kwargs)
            self._ended = False
            return run
        current = getattr(workbench, "run", None)
        if self._id is None and current is not None and current.status == "running":
            # like WandbLogger: a run the user started is used, and left for the user to finish
            self._owned = False
            if self._config is not None:
                current.config.update(self._config, allow_val_change=True)
            return current  # type: ignore[no-any-return]
        extra: dict[str, Any] = {}
        if self._id is not None:
            extra = {"id": self._id, "resume": "allow" if self._resume is None else self._resume}
        run = workbench.init(self._project, self._name, self._config, self._tags, self._notes, self._root,
                             reinit="create_new", **extra, **self._init_kwargs)
        self._owned = True
        self._ended = False
        if self._id is not None and getattr(run, "resumed", False):
            self._floor = self._last_step(run)
        return run

    @staticmethod
    def _last_step(run: Run) -> int:
        return run.step - 1  # the run counts its record's and its segments' points

    # -- Logger hooks -------------------------------------------------------------------------
    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any) -> None:
        """Record ``params`` (a dict or namespace, nested or holding objects) as ``config.*``."""
        if self._rank() > 0 or params is None:
            return
        values = vars(params) if isinstance(params, Namespace) else dict(params)
        self.experiment.config.update(values, allow_val_change=True)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log ``metrics`` at ``step`` (Lightning's global step; it adds ``epoch``)."""
        if self._rank() > 0:
            return
        run = self.experiment
        if step is not None and self._floor >= 0:
            if step <= self._floor:
                if not self.skipped:
                    warnings.warn(
                        f"workbench: run {run.id} had logged up to step {self._floor}, and the training resumed "
                        f"from an earlier checkpoint (step {step}): its points up to step {self._floor} are "
                        "skipped, so that no step is logged twice", stacklevel=2)
                self.skipped += 1
                return
            self._floor = -1
        data = {key: _scalar(value) for key, value in metrics.items()}
        if "epoch" in data:
            # Lightning adds the epoch to each call, and calls twice at an epoch's last step (training,
            # then validation): one point is enough
            point = (step, data["epoch"])
            if point == self._epoch_point:
                del data["epoch"]
            self._epoch_point = point
        if data:
            run.log(data, step=step)

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        """With ``log_model="all"``, log the checkpoints saved since the last call; with True, remember
        the callback and log at the end of fit."""
        if self._rank() > 0 or not self._log_model:
            return
        if self._log_model == "all":
            self._log_checkpoints(checkpoint_callback)
        else:
            self._callbacks[id(checkpoint_callback)] = checkpoint_callback

    def save(self) -> None:
        """Nothing: the run writes its points in the background (Lightning calls this after each log)."""

    def finalize(self, status: str) -> None:
        """End of a fit, validate or test: log pending checkpoints and finish the run the logger started
        (``completed``, ``failed``, or ``cancelled`` after Ctrl-C). A run the user started stays open."""
        if self._rank() > 0 or self._run is None or self._ended:
            return
        run = self._run
        if status == "success":
            for callback in list(self._callbacks.values()):
                self._log_checkpoints(callback)
        if not self._owned or status not in _END or run.status != "running":
            run.flush()  # "finished": a SLURM requeue saves and goes on; the job resumes the run later
            return
        end = _END[status]
        if end == "failed" and isinstance(sys.exc_info()[1], KeyboardInterrupt):
            end = "cancelled"  # Lightning finalizes an interrupted fit as "failed" while handling the interrupt
        self._ended = True
        run.finish(end)

    # -- checkpoints ----------------------------------------------------------------------------
    def _log_checkpoints(self, callback: Any) -> None:
        """Log each checkpoint file of ``callback`` that is new or rewritten since it was logged, oldest
        first, as a version of ``model-<run id>``: ``best`` on the callback's best model, ``last`` on
        the newest file."""
        last = getattr(callback, "last_model_path", "") or ""
        best = getattr(callback, "best_model_path", "") or ""
        scores: dict[str, Any] = {}
        scores.update(getattr(callback, "best_k_models", {}) or {})
        if best:
            scores[best] = getattr(callback, "best_model_score", None)
        if last:
            scores.setdefault(last, getattr(callback, "current_score", None))
        files = []
        for path, score in scores.items():
            try:
                mtime = os.stat(path).st_mtime_ns
            except OSError:
                continue  # removed by top-k since, or never written
            if self._logged.get(path) != mtime:
                files.append((mtime, path == last, path, score))
        if not files:
            return
        files.sort()
        run = self.experiment
        name = self._checkpoint_name or f"model-{run.id}"
        monitor = getattr(callback, "monitor", None)
        for index, (mtime, _, path, score) in enumerate(files):
            aliases = []
            if path == best:
                aliases.append("best")
            if index == len(files) - 1:
                aliases.append("last")
            value = None if score is None else float(_scalar(score))
            metadata = {"score": value if value is not None and math.isfinite(value) else None, "monitor": monitor,
                        "file": os.path.basename(path), **_checkpoint_position(path)}
            run.log_artifact(path, name, type="model", aliases=aliases, metadata=metadata)
            self._logged[path] = mtime
