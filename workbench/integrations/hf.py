"""``WorkbenchCallback``: log a Hugging Face ``Trainer`` into workbench.

The shortest form is ``import workbench`` and ``TrainingArguments(..., report_to="workbench")``
(``import workbench`` registers the name with transformers; see :mod:`workbench.integrations._register`);
``callbacks=[WorkbenchCallback(...)]`` does the same with arguments.

What it records, on the main process only (``state.is_world_process_zero``):

- every ``Trainer`` log entry at ``state.global_step``: ``loss``, ``learning_rate``, ``grad_norm``
  as ``train/*``, evaluation metrics (``eval_accuracy``...) as ``eval/*``; a key is logged at a
  step once (``epoch`` comes with every entry), so no step of a run holds a key twice;
- the ``TrainingArguments`` as the run's config, with ``model`` (the model's config),
  ``model_name_or_path``, ``parameters`` (``total``, ``trainable``) and ``peft`` (adapter configs);
- the base model as used (lineage) when it was loaded from a placed workbench artifact;
- with ``log_model`` (or ``WORKBENCH_LOG_MODEL``), the final model (or adapter) as a ``model``
  artifact, and with ``"checkpoint"`` each saved checkpoint too.

Which run: the ``run`` given; else the active run the user started with ``workbench.init``; else one
it starts (inside a launched job ``init`` attaches to the job's run). A run it started ends
``completed`` when training ends, after the last evaluation is written: ``train()`` returns with
the run done. A second ``train()`` starts a new run; ``train(resume_from_checkpoint=...)`` reopens
the run the checkpoint was written by (its id is saved in the checkpoint's ``trainer_state.json``)
and logs only the steps after those it already has. ``trainer.evaluate()`` after ``train()``
reopens the training's run for the new points and ends it again.

Importing this module imports transformers (the ``finetune`` extra; without it, a ``MissingExtra``
naming it).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._extras import require

require("transformers", "finetune", "the Hugging Face Trainer integration (workbench.integrations.hf)")

from transformers import TrainerCallback  # noqa: E402
from transformers.trainer_callback import ExportableState  # noqa: E402

if TYPE_CHECKING:
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from workbench.store.artifacts.artifact import Artifact
    from workbench.tracking.run import Run

__all__ = ["WorkbenchCallback", "metric_name"]

_LOG_MODEL = {"": None, "false": None, "0": None, "no": None, "none": None,
              "true": "end", "1": "end", "yes": "end", "end": "end", "checkpoint": "checkpoint"}


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


def _log_model_mode(value: str | bool | None) -> str | None:
    from workbench.errors import ConfigError

    if value is None:
        value = os.environ.get("WORKBENCH_LOG_MODEL", "")
    if isinstance(value, bool):
        return "end" if value else None
    mode = _LOG_MODEL.get(str(value).strip().lower(), "?")
    if mode == "?":
        raise ConfigError(f"log_model / WORKBENCH_LOG_MODEL={value!r} is not understood: use 'end' (the final "
                          "model), 'checkpoint' (every saved checkpoint too) or 'false'")
    return mode


class WorkbenchCallback(TrainerCallback, ExportableState):
    """Logs a ``Trainer``'s metrics, config, model and parameter count into a workbench run.

    Parameters
    ----------
    run:
        The run to log into; it stays open when training ends (its owner finishes it). Default:
        the active run the user started with ``workbench.init``, else a run started when
        training begins (``workbench.init(project=, config=)``, the job's run inside a launched
        job), which ends ``completed`` when training ends.
    project:
        Project of the run it starts (default: ``WORKBENCH_PROJECT``, else ``default``).
    perplexity:
        Also log ``exp(loss)`` as ``*/perplexity`` for every loss (language models).
    log_model:
        ``"end"`` (or True): log the final model (only the adapter for a peft model, with the
        tokenizer or processor) as a ``model`` artifact when training ends; ``"checkpoint"``:
        also each checkpoint the Trainer saves, alias ``step-N``; ``"false"``: nothing.
        Default: ``WORKBENCH_LOG_MODEL``, else nothing.
    model_name:
        Name of that artifact (default ``model-<run id>``, as the Lightning logger).
    log_predictions:
        After each evaluation, log a table of the model's predictions on the first this many
        evaluation rows as ``eval/predictions`` (columns ``input``, ``label``, ``prediction``,
        ``score``: the decoded input, the label, the arg-max class and its probability) for a
        model whose output is one row of logits per example (sequence classification). Default
        0: none.

    Attributes
    ----------
    run:
        The run it logs into (None before training begins).
    seconds:
        Time spent in this callback: the cost of tracking, to compare with the step time.

    Examples
    --------
    >>> import workbench
    >>> from transformers import Trainer, TrainingArguments
    >>> args = TrainingArguments("out", report_to="workbench", logging_steps=1)  # doctest: +SKIP
    >>> Trainer(model=model, args=args, train_dataset=train).train()  # doctest: +SKIP
    >>> from workbench.integrations.hf import WorkbenchCallback
    >>> trainer = Trainer(model=model, args=TrainingArguments("out", report_to="none"),
    ...                   train_dataset=train,
    ...                   callbacks=[WorkbenchCallback(project="sentiment", log_model="end")])  # doctest: +SKIP
    """

    def __init__(
        self,
        run: Run | None = None,
        *,
        project: str | None = None,
        perplexity: bool = False,
        log_model: str | bool | None = None,
        model_name: str | None = None,
        log_predictions: int = 0,
    ) -> None:
        if isinstance(log_predictions, bool) or not isinstance(log_predictions, int) or log_predictions < 0:
            raise ValueError(f"WorkbenchCallback(log_predictions={log_predictions!r}): give a number of rows (0: none)")
        self.log_predictions = log_predictions
        self.run = run
        self.project = project
        self.perplexity = perplexity
        self.log_model = _log_model_mode(log_model)
        self.model_name = model_name
        self.seconds = 0.0
        self.run_id: str | None = run.id if run is not None else None  # saved in checkpoints
        self._given = run
        self._own = False  # whether this callback ends self.run
        self._training = False
        self._last: dict[str, int] = {}  # key -> last step logged into the run self._last_of
        self._last_of: str | None = None
        self._base_ref: str | None = None

    # -- checkpoints remember the run (transformers' ExportableState) ---------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "args": {"project": self.project, "perplexity": self.perplexity,
                     "log_model": self.log_model or False, "model_name": self.model_name,
                     "log_predictions": self.log_predictions},
            "attributes": {"run_id": self.run_id},
        }

    # -- events ------------------------------------------------------------------------------------
    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero:  # one run per training, not per rank
            return
        start = time.perf_counter()
        try:
            model = kwargs.get("model")
            self._training = True
            resumed_from = _checkpoint_run_id(state) if state.global_step > 0 else None
            self._choose_run(args, state, model, resumed_from)
            run = self.run
            assert run is not None
            if state.max_steps:
                _plan(run, int(state.max_steps))
        finally:
            self.seconds += time.perf_counter() - start

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not logs or not state.is_world_process_zero:
            return
        start = time.perf_counter()
        try:
            values = self._values(logs)
            step = int(state.global_step)
            if self._training and self.run is not None:
                values = self._new(values, step)
                if values:
                    self.run.log(values, step=step)
                    self._last.update(dict.fromkeys(values, step))
            elif values:
                self._log_outside_training(args, state, kwargs.get("model"), values, step)
        finally:
            self.seconds += time.perf_counter() - start

    def on_evaluate(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if not self.log_predictions or self.run is None or not state.is_world_process_zero:
            return
        start = time.perf_counter()
        try:
            table = _predictions(kwargs.get("model"), kwargs.get("eval_dataloader"),
                                 kwargs.get("processing_class"), self.log_predictions)
            if table is not None:
                from workbench.media import Table

                self.run.log({"eval/predictions": Table(table)}, step=int(state.global_step))
        finally:
            self.seconds += time.perf_counter() - start

    def on_save(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self.log_model != "checkpoint" or self.run is None or not state.is_world_process_zero:
            return
        start = time.perf_counter()
        try:
            folder = Path(args.output_dir or ".") / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                self._log_model_artifact(self.run, folder, state, kwargs.get("model"), checkpoint=True)
        finally:
            self.seconds += time.perf_counter() - start

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self.run is None or not state.is_world_process_zero:
            return
        start = time.perf_counter()
        try:
            self._training = False
            run = self.run
            if self.log_model is not None:
                with tempfile.TemporaryDirectory(prefix="workbench-model-") as folder:
                    model = kwargs.get("model")
                    _save_model(model, kwargs.get("processing_class"), Path(folder))
                    best = bool(args.load_best_model_at_end and state.best_model_checkpoint)
                    self._log_model_artifact(run, Path(folder), state, model, best=best)
            if self._own:
                run.finish()  # everything written, status completed: train() returns with the run done
            else:
                run.flush()  # the run's owner ends it; the last points are written all the same
        finally:
            self.seconds += time.perf_counter() - start

    # -- which run ----------------------------------------------------------------------------------
    def _choose_run(self, args: TrainingArguments, state: TrainerState, model: Any, resumed_from: str | None) -> None:
        import workbench
        from workbench.tracking.run import Run

        previous = self.run
        resume_id = resumed_from or (self.run_id if state.global_step > 0 else None)
        if self._given is not None:
            self._use(self._given, own=False, fresh=False)
        elif resume_id and previous is not None and previous.id == resume_id and previous.status == "running":
            self._use(previous, own=self._own, fresh=False)  # resuming an interrupted train() of this process
        else:
            if previous is not None and self._own and previous.status == "running":
                # the last train() stopped without on_train_end (an exception or an interrupt)
                previous.finish("failed", error={
                    "type": "TrainingInterrupted",
                    "message": "train() stopped before the end of training; the next train() logs into a new run",
                    "traceback": None})
            current = getattr(workbench, "run", None)
            if isinstance(current, Run) and current.status == "running" and not (self._own and current is previous):
                self._use(current, own=False, fresh=False)  # workbench.init() first, as with wandb.init()
            elif resume_id:
                run = workbench.init(project=self.project, id=resume_id, resume="allow", reinit="create_new")
                self._use(run, own=os.environ.get("WORKBENCH_RUN_ID") != run.id, fresh=False)
            else:
                run = workbench.init(project=self.project, config=_training_args(args))
                self._use(run, own=os.environ.get("WORKBENCH_RUN_ID") != run.id, fresh=True)
        assert self.run is not None
        self._record_model(self.run, args, model)

    def _use(self, run: Run, *, own: bool, fresh: bool) -> None:
        if fresh:
            self._last = {}
        elif self._last_of != run.id:  # a run with points already: log only after them
            self._last = _last_steps(run)
        self.run, self._own, self.run_id, self._last_of = run, own, run.id, run.id

    def _record_model(self, run: Run, args: TrainingArguments, model: Any) -> None:
        """TrainingArguments, model config, parameter counts, base model: in the run's config."""
        found = _model_facts(model)
        self._base_ref = _placed_artifact(run, found.get("model_name_or_path"))
        if self._base_ref is not None:
            used = {(u.get("name"), u.get("version")) for u in _used(run)}
            name, _, version = self._base_ref.rpartition(":v")
            if (name, int(version)) not in used:
                run.use_artifact(self._base_ref)
        if run is self._given:  # a recipe's run: its config is the job's; add the model's facts only
            config = found
        else:
            config = {**_training_args(args), **found}
        if not self._own:  # a run someone else started: add to, never change, what its owner set
            config = {k: v for k, v in config.items() if k not in run.config}
        if config:
            run.config.update(config, allow_val_change=True)

    def _log_outside_training(self, args: TrainingArguments, state: TrainerState, model: Any,
                              values: dict[str, float], step: int) -> None:
        """``trainer.evaluate()`` before or after ``train()``: into the training's run, reopened
        for these points and ended again; before any training, into a run of its own."""
        import workbench

        run = self.run
        if run is not None and not self._own and run.status == "running":
            values = self._new(values, step)  # the user's run, still open: log into it
            if values:
                run.log(values, step=step)
                self._last.update(dict.fromkeys(values, step))
                run.flush()
            return
        if run is not None and not self._own:
            return  # the user's run has ended: nothing to log into
        if run is not None:
            values = self._new(values, step)
            if not values:
                return
            run = workbench.init(project=run.project, id=run.id, resume="must", reinit="create_new")
        else:
            run = workbench.init(project=self.project, config=_training_args(args), reinit="create_new")
            self._use(run, own=os.environ.get("WORKBENCH_RUN_ID") != run.id, fresh=True)
            self._record_model(run, args, model)
        self.run, self.run_id = run, run.id
        run.log(values, step=step)
        self._last.update(dict.fromkeys(values, step))
        if self._own:
            run.finish()
        else:
            run.flush()

    # -- helpers ------------------------------------------------------------------------------------
    def _values(self, logs: dict[str, Any]) -> dict[str, float]:
        values: dict[str, float] = {}
        for key, value in logs.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            name = metric_name(key)
            values[name] = float(value)
            if self.perplexity and name.endswith("loss") and name != "train/mean_loss":
                values[name[: -len("loss")] + "perplexity"] = math.exp(min(float(value), 700.0))
        return values

    def _new(self, values: dict[str, float], step: int) -> dict[str, float]:
        """The values whose key has no point at ``step`` or later in the run: each key once a step
        (``epoch`` comes with every entry), and no step again after a resume."""
        last = self._last
        return {k: v for k, v in values.items() if step > last.get(k, -1)}

    def _log_model_artifact(self, run: Run, folder: Path, state: TrainerState, model: Any, *,
                            checkpoint: bool = False, best: bool = False) -> Artifact:
        facts = _model_facts(model)
        step = int(state.global_step)
        aliases = [f"step-{step}"] if checkpoint else (["best"] if best else [])
        metadata = {
            "base_model": facts.get("model_name_or_path"),
            "base_model_artifact": self._base_ref,
            "adapter": "peft" in facts,
            "parameters": facts.get("parameters"),
            "step": step,
            "checkpoint": checkpoint,
        }
        name = self.model_name or f"model-{run.id}"
        return run.log_artifact(folder, name=name, type="model", aliases=aliases, metadata=metadata)


# -- facts about the model and the run --------------------------------------------------------------------

def _predictions(model: Any, loader: Any, tokenizer: Any, rows: int) -> Any:
    """A DataFrame of ``rows`` evaluation examples with the model's predictions, or None when the
    model's output is not one row of logits per example (then a one-line note on stderr)."""
    import pandas as pd
    import torch

    if model is None or loader is None:
        return None
    records: list[dict[str, Any]] = []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for given in loader:
                batch = {k: v.to(model.device) if hasattr(v, "to") else v for k, v in given.items()}
                logits = getattr(model(**batch), "logits", None)
                if logits is None or logits.ndim != 2:
                    print("workbench: log_predictions needs a model that gives one row of logits per example "
                          "(sequence classification); no table logged", file=sys.stderr)
                    return None
                probabilities = torch.softmax(logits.float(), dim=-1)
                scores, predicted = probabilities.max(dim=-1)
                labels = batch.get("labels")
                ids = batch.get("input_ids")
                for i in range(len(logits)):
                    text = None
                    if ids is not None:
                        row_ids = ids[i].tolist()
                        decode = getattr(tokenizer, "decode", None)
                        text = (decode(row_ids, skip_special_tokens=True) if decode is not None
                                else " ".join(map(str, row_ids)))
                    label = labels[i].tolist() if labels is not None else None
                    records.append({"input": text, "label": label, "prediction": int(predicted[i]),
                                    "score": float(scores[i])})
                    if len(records) >= rows:
                        return pd.DataFrame(records)
    finally:
        model.train(was_training)
    return pd.DataFrame(records) if records else None


def _jsonable(value: Any) -> Any:
    def plain(item: Any) -> Any:
        if isinstance(item, (set, frozenset)):
            return sorted(item, key=str)
        return str(item)

    return json.loads(json.dumps(value, default=plain))


def _training_args(args: TrainingArguments) -> dict[str, Any]:
    if not hasattr(args, "to_sanitized_dict"):
        return {}
    return dict(_jsonable(args.to_sanitized_dict()))


def _model_facts(model: Any) -> dict[str, Any]:
    """``model`` (its config), ``model_name_or_path``, ``parameters`` and ``peft`` of a model."""
    if model is None:
        return {}
    facts: dict[str, Any] = {}
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "to_dict"):
        facts["model"] = _jsonable(config.to_dict())
    name = getattr(config, "name_or_path", None) or getattr(config, "_name_or_path", None)
    peft_config = getattr(model, "peft_config", None)
    if isinstance(peft_config, dict) and peft_config:
        facts["peft"] = {key: _jsonable(value.to_dict()) for key, value in peft_config.items()
                         if hasattr(value, "to_dict")}
        bases = [getattr(value, "base_model_name_or_path", None) for value in peft_config.values()]
        name = next((base for base in bases if base), name)
    if name:
        facts["model_name_or_path"] = str(name)
    if hasattr(model, "parameters"):
        total = trainable = 0
        for parameter in model.parameters():
            count = int(getattr(parameter, "ds_numel", 0) or parameter.numel())  # DeepSpeed ZeRO-3
            total += count
            if parameter.requires_grad:
                trainable += count
        facts["parameters"] = {"total": total, "trainable": trainable}
    return facts


def _checkpoint_run_id(state: TrainerState) -> str | None:
    """The run id a checkpoint's ``trainer_state.json`` saved for this callback."""
    saved = (getattr(state, "stateful_callbacks", None) or {}).get("WorkbenchCallback")
    for entry in saved if isinstance(saved, list) else [saved]:
        run_id = ((entry or {}).get("attributes") or {}).get("run_id") if isinstance(entry, dict) else None
        if isinstance(run_id, str) and run_id:
            return run_id
    return None


def _last_steps(run: Run) -> dict[str, int]:
    """The last step of each key of a run that already has points (resumed, or not ours)."""
    from workbench.store.records import read_record

    run.flush()
    metrics = read_record(run._layout, run.id).get("metrics") or {}
    return {key: int(stat["step"]) for key, stat in metrics.items()
            if isinstance(stat, dict) and isinstance(stat.get("step"), (int, float))}


def _used(run: Run) -> list[dict[str, Any]]:
    from workbench.store.records import read_record

    used = (read_record(run._layout, run.id).get("artifacts") or {}).get("used") or []
    return [u for u in used if isinstance(u, dict)]


def _placed_artifact(run: Run, name_or_path: str | None) -> str | None:
    """``name:vN`` when the model was loaded from where ``use_artifact`` places that version
    (``<root>/cache/artifacts/<name>/v<N>``) in the run's store."""
    if not name_or_path:
        return None
    try:
        path = Path(name_or_path).resolve()
        cache = (run._layout.root / "cache" / "artifacts").resolve()
        relative = path.relative_to(cache)
    except (OSError, ValueError):
        return None
    parts = relative.parts
    if len(parts) != 2 or not re.fullmatch(r"v[0-9]+", parts[1]):
        return None
    return f"{parts[0]}:{parts[1]}"


def _save_model(model: Any, processing_class: Any, folder: Path) -> None:
    """The model's files (a peft model saves its adapter only), with its tokenizer or processor."""
    if model is None:
        raise ValueError("the Trainer passed no model to WorkbenchCallback.on_train_end")
    if hasattr(model, "save_pretrained"):
        model.save_pretrained(folder)
    else:  # a plain torch module
        import torch

        torch.save(model.state_dict(), folder / "pytorch_model.bin")
    if processing_class is not None and hasattr(processing_class, "save_pretrained"):
        try:
            processing_class.save_pretrained(folder)
        except Exception as exc:  # noqa: BLE001 - the model is what matters; say what is missing
            warnings.warn(f"workbench: the model is logged without its processor: {exc}", stacklevel=2)


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
