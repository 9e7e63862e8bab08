"""``WorkbenchLogger``: log a Lightning ``Trainer`` (``lightning.pytorch``) into workbench.

Pass it as ``Trainer(logger=WorkbenchLogger(project=...))``. It records the hyperparameters that
``save_hyperparameters()`` collects as ``config.*``, every metric Lightning logs at its global step
(with ``epoch``), the checkpoints of ``ModelCheckpoint`` as versions of the artifact
``model-<run id>`` with the aliases ``best`` and ``last`` (``log_model=True`` or ``"all"``), and
resumes a run by id. For the ``pytorch_lightning`` package, use
``workbench.integrations.pytorch_lightning``. See docs/integrations.md, "Lightning".

Importing this module imports lightning (and torch).
"""

from __future__ import annotations

from workbench._extras import require

# one line naming what to install, not a traceback from deep inside the import
require("lightning.pytorch.loggers", "lightning", "WorkbenchLogger (workbench.integrations.lightning)")

from lightning.fabric.loggers.logger import _DummyExperiment  # noqa: E402 -- after the check above
from lightning.fabric.utilities.rank_zero import rank_zero_only  # noqa: E402 -- after the check above
from lightning.pytorch.loggers import Logger  # noqa: E402 -- after the check above

from workbench.integrations._lightning_impl import LoggerMixin  # noqa: E402 -- after the check above

__all__ = ["WorkbenchLogger"]


class WorkbenchLogger(LoggerMixin, Logger):
    """A Lightning logger that records into a workbench run.

    The run starts on first use (when ``Trainer.fit`` sets up) and is finished when the fit ends
    (``completed``, or ``failed``/``cancelled``); a later ``trainer.test()`` or ``fit()`` with the
    same logger reopens the same run. A run the user started (``workbench.run``) is used instead,
    when no ``id`` is given, and is left for the user to finish.

    Parameters
    ----------
    project, name, config, tags, notes, root:
        Of the run, as for :func:`workbench.init`. ``config`` is merged with the hyperparameters.
    id, resume:
        Continue the run with this id (``resume="allow"`` by default with an id, or ``"must"``),
        e.g. with ``trainer.fit(model, ckpt_path=...)``. Points at or below the run's last logged
        step are skipped (with a warning) until the training passes it.
    log_model:
        ``False``; ``True``: log the checkpoints of each ``ModelCheckpoint`` at the end of fit;
        ``"all"``: log each checkpoint as it is saved. Each file is a version of ``model-<run id>``
        (type ``model``; metadata ``score``, ``monitor``, ``step``, ``epoch``, ``file``).
    save_dir:
        Where Lightning writes checkpoints (``<save_dir>/<project>/<run id>/checkpoints``); default:
        the trainer's ``default_root_dir``.
    checkpoint_name:
        The artifact's name instead of ``model-<run id>``.
    **init_kwargs:
        Passed to :func:`workbench.init` (``group=``, settings such as ``flush_interval=``).

    Examples
    --------
    >>> import lightning as L
    >>> from workbench.integrations.lightning import WorkbenchLogger
    >>> logger = WorkbenchLogger(project="mnist", log_model=True)  # doctest: +SKIP
    >>> trainer = L.Trainer(max_epochs=3, logger=logger,
    ...                     callbacks=[L.pytorch.callbacks.ModelCheckpoint(monitor="val_loss")])  # doctest: +SKIP
    >>> trainer.fit(model, train_loader, val_loader)  # doctest: +SKIP
    >>> wb.artifact(f"model-{logger.version}:best").metadata["score"]  # doctest: +SKIP
    """

    _rank_zero_only = rank_zero_only
    _dummy_experiment = _DummyExperiment
