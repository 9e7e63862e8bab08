"""``WorkbenchLogger`` for the ``pytorch_lightning`` package (Lightning's older name).

The same logger as :mod:`workbench.integrations.lightning`, built on ``pytorch_lightning``'s own
``Logger`` base class and rank, so that a ``pytorch_lightning.Trainer`` (also under DDP) logs
from rank 0 only. See docs/integrations.md, "Lightning".

Importing this module imports pytorch_lightning (and torch).
"""

from __future__ import annotations

from workbench._extras import require

# one line naming what to install, not a traceback from deep inside the import
require("pytorch_lightning.loggers", "pytorch-lightning", "WorkbenchLogger (workbench.integrations.pytorch_lightning)")

from lightning_fabric.loggers.logger import _DummyExperiment  # noqa: E402 -- after the check above
from lightning_fabric.utilities.rank_zero import rank_zero_only  # noqa: E402 -- after the check above
from pytorch_lightning.loggers import Logger  # noqa: E402 -- after the check above

from workbench.integrations._lightning_impl import LoggerMixin  # noqa: E402 -- after the check above

__all__ = ["WorkbenchLogger"]


class WorkbenchLogger(LoggerMixin, Logger):
    """A ``pytorch_lightning`` logger that records into a workbench run.

    Parameters and behaviour: as :class:`workbench.integrations.lightning.WorkbenchLogger`.

    Examples
    --------
    >>> import pytorch_lightning as pl
    >>> from workbench.integrations.pytorch_lightning import WorkbenchLogger
    >>> trainer = pl.Trainer(max_epochs=3, logger=WorkbenchLogger(project="mnist"))  # doctest: +SKIP
    >>> trainer.fit(model, train_loader, val_loader)  # doctest: +SKIP
    """

    _rank_zero_only = rank_zero_only
    _dummy_experiment = _DummyExperiment
