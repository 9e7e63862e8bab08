"""``WorkbenchCallback``: log a Hugging Face ``Trainer`` into workbench.

Pass it in ``callbacks=[WorkbenchCallback()]`` (with ``report_to="none"`` for the others). It logs
every ``Trainer`` log entry at ``state.global_step``: ``loss``, ``learning_rate`` and
``grad_norm`` as ``train/*``, evaluation metrics (``eval_accuracy``...) as ``eval/*``. Inside a
launched job it attaches to the job's run and records the planned number of steps, which is what
``Job.progress`` measures against. The built-in recipes use it themselves.

Importing this module imports transformers.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

if TYPE_CHECKING:
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from workbench.tracking.run import Run

__all__ = ["WorkbenchCallback", "metric_name"]


def metric_name(key: str) -> str:
    """The workbench key of a Trainer log key: ``eval_accuracy`` -> ``eval/accuracy``,
    ``loss`` -> ``train/loss``, ``train_loss`` (the run's mean) -> ``train/mean_loss``."""
    if key.startswith("eval_"):
        return "eval/" + key[5:]
    if key.startswith("test_"):
        return "test/" + key[5:]
    if key == "train_loss":
        return "train/mean_loss"
    if key.startswith("train_"):
        return "train/" + key[6:]
    return "train/" + key


class WorkbenchCallback(TrainerCallback):
    """Logs a ``Trainer``'s metrics into a workbench run.

    Parameters
    ----------
    run:
        The run to log into. Default: ``workbench.init(project=, config=)`` when training begins
        (which attaches to the job's run inside a launched job), with the ``TrainingArguments``
        as config.
    project:
        Project of the run it starts (when ``run`` is not given).
    perplexity:
        Also log ``exp(loss)`` as ``*/perplexity`` for every loss (language models).

    Attributes
    ----------
    run:
        The run it logs into (None before training begins).
    seconds:
        Time spent in this callback: the cost of tracking, to compare with the step time.

    Examples
    --------
    >>> from transformers import Trainer, TrainingArguments
    >>> from workbench.integrations.hf import WorkbenchCallback
    >>> args = TrainingArguments("out", report_to="none", logging_steps=1)  # doctest: +SKIP
    >>> trainer = Trainer(model=model, args=args, train_dataset=train,
    ...                   callbacks=[WorkbenchCallback(project="sentiment")])  # doctest: +SKIP
    >>> trainer.train()  # doctest: +SKIP
    """

    def __init__(
        self, run: Run | None = None, *, project: str | None = None, perplexity: bool = False
    ) -> None:
        self.run = run
        self.project = project
        self.perplexity = perplexity
        self.seconds = 0.0

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        start = time.perf_counter()
        if self.run is None and state.is_world_process_zero:  # one run per training, not per rank
            import workbench

            config = args.to_sanitized_dict() if hasattr(args, "to_sanitized_dict") else {}
            self.run = workbench.init(project=self.project, config=config)
        if self.run is not None and state.max_steps and state.is_world_process_zero:
            _plan(self.run, int(state.max_steps))
        self.seconds += time.perf_counter() - start

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if self.run is None or not logs or not state.is_world_process_zero:
            return
        start = time.perf_counter()
        values: dict[str, float] = {}
        for key, value in logs.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            name = metric_name(key)
            values[name] = float(value)
            if self.perplexity and name.endswith("loss") and name != "train/mean_loss":
                values[name[: -len("loss")] + "perplexity"] = math.exp(min(float(value), 700.0))
        if values:
            self.run.log(values, step=int(state.global_step))
        self.seconds += time.perf_counter() - start


def _plan(run: Run, steps: int) -> None:
    """Record the planned steps in a launched job's record (progress = steps logged / planned)."""
    from workbench.store.records import update_record

    def mutate(record: dict[str, Any]) -> bool:
        job = record.get("job")
        if not isinstance(job, dict) or job.get("planned_steps") == steps:
            return False
        job["planned_steps"] = steps
        return True

    update_record(run._layout, run.id, mutate, fsync=False)
