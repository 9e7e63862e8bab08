"""WorkbenchLogger with a real Lightning ``Trainer.fit`` (CPU, a linear layer, 32 random samples):
hyperparameters in ``config.*``, metrics at Lightning's steps, checkpoints as artifact versions
with ``best``/``last``, resume by run id, ``trainer.test()`` after fit, and ``pytorch_lightning``."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import require_module

import workbench as wb
from workbench.errors import MissingExtra

# in-process runs: no tee of pytest's streams, no system sampling, quick flushes
QUIET: dict[str, Any] = {"flush_interval": 0.05, "system_metrics": False, "capture_output": False, "fsync": False}
# the validation loss of each epoch: epoch 1 is the best, epoch 2 the last
VAL_LOSS = (0.5, 0.2, 0.4)

pytestmark = [
    # Lightning's own advice about tiny dataloaders, and torch's pytree deprecation inside Lightning
    pytest.mark.filterwarnings("ignore:The '\\w+_dataloader' does not have many workers"),
    pytest.mark.filterwarnings("ignore:The number of training batches"),
    pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning"),
]


class Odd:
    """A hyperparameter that is no JSON value (a tokenizer, a callable...)."""

    def __repr__(self) -> str:
        return "Odd()"


def parts(package: str) -> Any:
    """``(pl, WorkbenchLogger, TinyModule)`` for ``lightning`` or ``pytorch_lightning``."""
    require_module(package)
    torch = require_module("torch")
    if package == "lightning":
        pl = importlib.import_module("lightning.pytorch")
        from workbench.integrations.lightning import WorkbenchLogger
    else:
        pl = importlib.import_module("pytorch_lightning")
        from workbench.integrations.pytorch_lightning import WorkbenchLogger  # type: ignore[assignment]

    class TinyModule(pl.LightningModule):  # type: ignore[misc,name-defined]
        def __init__(self, lr: float = 0.05, optim: dict[str, Any] | None = None, odd: Any = None) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.layer = torch.nn.Linear(4, 1)

        def _loss(self, batch: Any) -> Any:
            x, y = batch
            return torch.nn.functional.mse_loss(self.layer(x), y)

        def training_step(self, batch: Any, index: int) -> Any:
            loss = self._loss(batch)
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch: Any, index: int) -> None:
            self.log("val_loss", torch.tensor(VAL_LOSS[self.current_epoch]))

        def test_step(self, batch: Any, index: int) -> None:
            self.log("test_loss", self._loss(batch))

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    return pl, WorkbenchLogger, TinyModule


def loader() -> Any:
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    generator = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(32, 4, generator=generator), torch.randn(32, 1, generator=generator))
    return DataLoader(data, batch_size=8)  # 4 steps an epoch


def trainer(pl: Any, tmp_path: Path, logger: Any, epochs: int = 2, callbacks: list[Any] | None = None) -> Any:
    return pl.Trainer(max_epochs=epochs, logger=logger, callbacks=callbacks or [], default_root_dir=tmp_path,
                      enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=1,
                      num_sanity_val_steps=0, accelerator="cpu", devices=1)


def steps(root: Path, run_id: str, key: str) -> list[int]:
    frame = wb.history(run_id, keys=[key], root=root)
    return sorted(int(step) for step in frame["step"])


def test_fit_records_hyperparameters_metrics_and_completes(root: Path, tmp_path: Path) -> None:
    pl, WorkbenchLogger, TinyModule = parts("lightning")
    logger = WorkbenchLogger(project="tiny", root=root, **QUIET)
    model = TinyModule(lr=0.05, optim={"name": "sgd", "momentum": {"beta": 0.9}, "betas": (0.9, 0.99)}, odd=Odd())
    trainer(pl, tmp_path, logger).fit(model, loader(), loader())

    run_id = logger.version
    assert wb.get_run(run_id, root=root)["status"] == "completed"  # at once, not at process exit
    row = wb.runs(root=root).set_index("run_id").loc[run_id]
    assert row["project"] == "tiny" and logger.name == "tiny"
    assert row["config.lr"] == 0.05
    assert row["config.optim.name"] == "sgd" and row["config.optim.momentum.beta"] == 0.9
    assert "Odd()" in str(row["config.odd"])  # an object is recorded as its text
    assert steps(root, run_id, "train_loss") == list(range(8))  # 4 steps an epoch, 2 epochs
    assert steps(root, run_id, "val_loss") == [3, 7]
    epochs = wb.history(run_id, keys=["epoch"], root=root)
    assert set(epochs["value"]) == {0.0, 1.0}


def test_a_run_the_user_started_is_used_and_left_open(root: Path, tmp_path: Path) -> None:
    pl, WorkbenchLogger, TinyModule = parts("lightning")
    with wb.init(project="mine", root=root, **QUIET) as run:
        logger = WorkbenchLogger(root=root)
        trainer(pl, tmp_path, logger, epochs=1).fit(TinyModule(), loader(), loader())
        assert logger.version == run.id
        assert run.status == "running"
        run.log({"after": 1.0})  # the user goes on logging
    assert wb.get_run(run.id, root=root)["status"] == "completed"
    assert steps(root, run.id, "train_loss") == [0, 1, 2, 3]


def test_a_fit_that_raises_leaves_the_run_failed(root: Path, tmp_path: Path) -> None:
    pl, WorkbenchLogger, TinyModule = parts("lightning")

    class Broken(TinyModule):  # type: ignore[misc,valid-type]
        def training_step(self, batch: Any, index: int) -> Any:
            if index == 2:
                raise RuntimeError("diverged")
            return super().training_step(batch, index)

    logger = WorkbenchLogger(root=root, **QUIET)
    with pytest.raises(RuntimeError, match="diverged"):
        trainer(pl, tmp_path, logger).fit(Broken(), loader(), loader())
    assert wb.get_run(logger.version, root=root)["status"] == "failed"
    assert steps(root, logger.version, "train_loss") == [0, 1]


@pytest.mark.parametrize("log_model", [True, "all"])
def test_checkpoints_are_versions_with_best_and_last(root: Path, tmp_path: Path, log_model: Any) -> None:
    pl, WorkbenchLogger, TinyModule = parts("lightning")
    logger = WorkbenchLogger(root=root, log_model=log_model, **QUIET)
    # the two best of 0.5, 0.2, 0.4: every epoch saves (and Lightning writes last.ckpt only after a save)
    checkpoint = pl.callbacks.ModelCheckpoint(monitor="val_loss", mode="min", save_top_k=2, save_last=True)
    trainer(pl, tmp_path, logger, epochs=3, callbacks=[checkpoint]).fit(TinyModule(), loader(), loader())

    name = f"model-{logger.version}"
    best = wb.artifact(f"{name}:best", root=root)
    last = wb.artifact(f"{name}:last", root=root)
    assert best.metadata["file"] == Path(checkpoint.best_model_path).name == "epoch=1-step=8.ckpt"
    assert (best.metadata["epoch"], best.metadata["step"]) == (1, 8)
    assert best.metadata["score"] == pytest.approx(0.2) and best.metadata["monitor"] == "val_loss"
    assert last.metadata["file"] == "last.ckpt"
    assert (last.metadata["epoch"], last.metadata["step"]) == (2, 12)
    assert best.type == last.type == "model" and best.producer == last.producer == logger.version
    versions = wb.artifacts(name, root=root)
    assert last.version == versions["version"].max()  # the newest
    if log_model == "all":  # each save: a top-2 file and last.ckpt after each epoch
        assert len(versions) == 6
    else:  # at the end of fit: the top-2 files (epochs 1 and 2) and last.ckpt
        assert len(versions) == 3
    assert wb.get_run(logger.version, root=root)["status"] == "completed"


@pytest.mark.filterwarnings("ignore:Checkpoint directory .* exists and is not empty")  # the same run's, on purpose
def test_resume_by_id_continues_the_run_without_a_step_twice(root: Path, tmp_path: Path) -> None:
    pl, WorkbenchLogger, TinyModule = parts("lightning")
    first = WorkbenchLogger(project="resume", root=root, **QUIET)
    every_epoch = pl.callbacks.ModelCheckpoint(save_top_k=-1)  # in <default_root_dir>/<project>/<run id>/
    trainer(pl, tmp_path, first, callbacks=[every_epoch]).fit(TinyModule(), loader(), loader())
    run_id = first.version
    assert steps(root, run_id, "train_loss") == list(range(8))

    # a new process would do this: the same id, and a checkpoint from before the run's last step
    again = WorkbenchLogger(project="resume", id=run_id, resume="must", root=root, **QUIET)
    fit = trainer(pl, tmp_path, again, epochs=3, callbacks=[pl.callbacks.ModelCheckpoint(save_top_k=-1)])
    with pytest.warns(UserWarning, match=r"logged up to step 7.*skipped"):
        fit.fit(TinyModule(), loader(), loader(), ckpt_path=Path(every_epoch.dirpath) / "epoch=0-step=4.ckpt")

    assert again.version == run_id and again.skipped > 0
    assert list(wb.runs(root=root)["run_id"]) == [run_id]  # no second run
    record = wb.get_run(run_id, root=root)
    assert record["status"] == "completed"
    history = wb.history(run_id, root=root)
    assert not history.duplicated(["key", "step"]).any()
    assert steps(root, run_id, "train_loss") == list(range(12))  # 0-7 from the first fit, 8-11 resumed
    assert steps(root, run_id, "val_loss") == [3, 7, 11]


def test_test_after_fit_reopens_and_finishes_the_same_run(root: Path, tmp_path: Path) -> None:
    pl, WorkbenchLogger, TinyModule = parts("lightning")
    logger = WorkbenchLogger(root=root, **QUIET)
    fit = trainer(pl, tmp_path, logger)
    model = TinyModule()
    fit.fit(model, loader(), loader())
    run_id = logger.version
    assert wb.get_run(run_id, root=root)["status"] == "completed"

    fit.test(model, loader(), verbose=False)
    assert logger.version == run_id
    assert list(wb.runs(root=root)["run_id"]) == [run_id]
    assert wb.get_run(run_id, root=root)["status"] == "completed"
    assert steps(root, run_id, "test_loss") == [8]  # after the fit's last step (7)


def test_pytorch_lightning(root: Path, tmp_path: Path) -> None:
    pl, WorkbenchLogger, TinyModule = parts("pytorch_lightning")
    logger = WorkbenchLogger(project="classic", root=root, log_model="all", **QUIET)
    checkpoint = pl.callbacks.ModelCheckpoint(monitor="val_loss", save_top_k=1, save_last=True)
    trainer(pl, tmp_path, logger, epochs=2, callbacks=[checkpoint]).fit(TinyModule(lr=0.01), loader(), loader())

    run_id = logger.version
    row = wb.runs(root=root).set_index("run_id").loc[run_id]
    assert row["status"] == "completed" and row["config.lr"] == 0.01
    assert steps(root, run_id, "train_loss") == list(range(8))
    assert wb.artifact(f"model-{run_id}:best", root=root).metadata["step"] == 8  # epoch 1: 0.2 < 0.5
    assert wb.artifact(f"model-{run_id}:last", root=root).metadata["file"] == "last.ckpt"


@pytest.mark.parametrize(("module", "package", "extra"), [
    ("workbench.integrations.lightning", "lightning.pytorch.loggers", "lightning"),
    ("workbench.integrations.pytorch_lightning", "pytorch_lightning.loggers", "pytorch-lightning"),
])
def test_without_lightning_the_error_names_what_to_install(monkeypatch: pytest.MonkeyPatch, module: str,
                                                           package: str, extra: str) -> None:
    monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setitem(sys.modules, package, None)  # what a missing package looks like to an import
    with pytest.raises(MissingExtra, match=rf"pip install 'workbench-ml\[{extra}\]'") as caught:
        importlib.import_module(module)
    assert caught.value.extra == extra and "\n" not in str(caught.value)
