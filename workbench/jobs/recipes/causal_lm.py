"""The ``causal-lm`` recipe: a LoRA fine-tune of a causal language model.

Data: a ``text`` column (the model learns all of it), or ``prompt,completion`` columns (it
learns the completion given the prompt). Logs the training loss and perplexity per step and the
held-out loss and perplexity per epoch; saves the LoRA adapter (with the tokenizer) as a ``model``
artifact. :func:`generate` continues a prompt with it.
"""

from __future__ import annotations

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

__all__ = ["RECIPE", "generate"]

MODEL_FILE = "workbench_model.json"

FIELDS = (
    Field("text_column", "str", "text", "the column of text to learn (text datasets)"),
    Field("prompt_column", "str", "prompt", "the prompt column (prompt,completion datasets)"),
    Field("completion_column", "str", "completion", "the completion column (prompt,completion datasets)"),
    *COMMON_FIELDS,
)


def _complete(config: dict[str, Any]) -> dict[str, Any]:
    out = dict(config)
    if out.get("learning_rate") is None:
        out["learning_rate"] = 2e-4
    return out


def _columns(config: Mapping[str, Any]) -> list[tuple[str, ...]]:
    return [(config["text_column"],), (config["prompt_column"], config["completion_column"])]


class _Examples:
    """Tokenized examples: ``input_ids`` and ``labels`` (-100 where nothing is to be learnt)."""

    def __init__(self, items: list[tuple[list[int], list[int]]]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        ids, labels = self.items[index]
        return {"input_ids": ids, "labels": labels}


def _encode(tokenizer: Any, rows: list[dict[str, Any]], columns: list[str], max_length: int) -> _Examples:
    eos = tokenizer.eos_token_id
    items = []
    for row in rows:
        if len(columns) == 1:
            ids = tokenizer(row[columns[0]], add_special_tokens=True)["input_ids"]
            ids = (ids + ([eos] if eos is not None else []))[:max_length]
            labels = list(ids)
        else:
            prompt = tokenizer(row[columns[0]], add_special_tokens=True)["input_ids"]
            answer = tokenizer(row[columns[1]], add_special_tokens=False)["input_ids"]
            answer = answer + ([eos] if eos is not None else [])
            ids = (prompt + answer)[:max_length]
            labels = ([-100] * len(prompt) + answer)[:max_length]
        if any(label != -100 for label in labels[1:]):
            items.append((ids, labels))
    return _Examples(items)


#: generated samples logged at each evaluation: this many prompts, this many new tokens each
SAMPLES = 3
SAMPLE_TOKENS = 24


def _sample_prompts(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    """Prompts for the samples: the prompt column of prompt,completion rows, else the first
    words (about a third) of held-out texts."""
    prompts = []
    for row in rows[:SAMPLES]:
        text = str(row.get(columns[0]) or "")
        if len(columns) == 1:
            words = text.split()
            text = " ".join(words[: max(1, min(8, len(words) // 3))])
        if text.strip():
            prompts.append(text)
    return prompts


def _samples_callback(run: Any, tokenizer: Any, prompts: list[str]) -> Any:
    """A Trainer callback that logs what the model writes after each prompt, at every evaluation:
    ``samples/<i>`` as text (the prompt is the caption), so Run detail shows them by step."""
    from transformers import TrainerCallback

    from workbench.media import Text

    class Samples(TrainerCallback):
        def on_evaluate(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
            if model is None or not prompts:
                return
            import torch

            was_training = model.training
            model.eval()
            values = {}
            try:
                with torch.no_grad():
                    for i, prompt in enumerate(prompts):
                        encoded = tokenizer(prompt, return_tensors="pt").to(model.device)
                        output = model.generate(**encoded, max_new_tokens=SAMPLE_TOKENS, do_sample=False,
                                                pad_token_id=tokenizer.pad_token_id)
                        values[f"samples/{i}"] = Text(tokenizer.decode(output[0], skip_special_tokens=True),
                                                      caption=prompt)
            finally:
                model.train(was_training)
            run.log(values, step=int(state.global_step))

    return Samples()


class _Collate:
    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, batch: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(item["input_ids"]) for item in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        for i, item in enumerate(batch):
            n = len(item["input_ids"])
            ids[i, :n] = torch.tensor(item["input_ids"])
            mask[i, :n] = 1
            labels[i, :n] = torch.tensor(item["labels"])
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def run(ctx: JobContext) -> None:
    require_finetune("causal-lm")
    config = ctx.config
    columns = list((ctx.spec.get("dataset") or {}).get("columns") or [config["text_column"]])
    with ctx.init() as run:
        started = time.time()
        data_dir = ctx.dataset_dir(run)
        split = load_split(data_dir, columns, config, str(ctx.dataset_ref))
        for column in columns[:1] if len(columns) == 1 else columns:
            check_text(split.train, column, f"{split.source} (training rows)")
            check_text(split.held, column, f"{split.source} (held-out rows)")
        print(f"workbench: data {split.source}; columns {', '.join(columns)}", flush=True)
        device = setup_torch(config)
        from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer

        from workbench.integrations.hf import WorkbenchCallback

        base = ctx.base_model_path(run)
        tokenizer = AutoTokenizer.from_pretrained(base)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(base)
        import peft

        with quiet_peft():
            model = peft.get_peft_model(model, lora_config(config, "CAUSAL_LM"))
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in model.parameters())
        run.summary["trainable_parameters"] = trainable
        print(
            f"workbench: base model {base}; training {trainable:,} of {total:,} parameters (LoRA)", flush=True
        )
        max_length = int(config["max_length"])
        train = _encode(tokenizer, split.train, columns, max_length)
        held = _encode(tokenizer, split.held, columns, max_length) if split.held else None
        if len(train) == 0:
            raise DatasetError(
                f"dataset {split.source}: no training row leaves anything to learn within "
                f"max_length={max_length} tokens"
            )
        callback = WorkbenchCallback(run, perplexity=True, log_model=False)  # the recipe logs its model itself
        with tempfile.TemporaryDirectory(prefix="workbench-job-") as scratch:
            trainer = Trainer(
                model=model,
                args=training_arguments(
                    config, os.path.join(scratch, "trainer"), device, evaluate=bool(held)
                ),
                train_dataset=train,
                eval_dataset=held if held else None,
                data_collator=_Collate(int(tokenizer.pad_token_id)),
                callbacks=[callback, _samples_callback(run, tokenizer, _sample_prompts(split.held, columns))]
                if held else [callback],
            )
            result = trainer.train()
            steps = int(result.global_step)
            run.summary["train/steps"] = steps
            run.summary["train/step_seconds"] = float(result.metrics.get("train_runtime", 0.0)) / max(
                steps, 1
            )
            run.summary["workbench/tracking_seconds"] = callback.seconds
            out = Path(scratch) / "adapter"
            model.save_pretrained(out)  # the trained model (an adapter only, with LoRA)
            tokenizer.save_pretrained(out)
            base_spec = dict(ctx.spec.get("base_model") or {})
            (out / MODEL_FILE).write_text(
                json.dumps(
                    {
                        "recipe": "causal-lm",
                        "adapter": True,
                        "base_model": base_spec,
                        "base_model_path": base,
                        "columns": columns,
                    },
                    indent=1,
                ),
                encoding="utf-8",
            )
            evals = [entry for entry in trainer.state.log_history if "eval_loss" in entry]
            final = {k[5:]: v for k, v in (evals[-1] if evals else {}).items() if k.startswith("eval_")}
            artifact = run.log_artifact(
                out,
                name=artifact_name(config, ctx.dataset_ref, "lora"),
                type="model",
                metadata={
                    "recipe": "causal-lm",
                    "dataset": ctx.dataset_ref,
                    "base_model": base_spec,
                    "config": dict(config),
                    "eval": final,
                },
            )
        run.summary["model"] = artifact.ref
        print(f"workbench: {steps} steps in {time.time() - started:.1f} s; saved {artifact.ref}", flush=True)


RECIPE = Recipe(
    name="causal-lm",
    description="LoRA fine-tune of a causal language model on text or prompt,completion data",
    fields=FIELDS,
    run=run,
    columns=_columns,
    dataset_required=True,
    base_model="required",
    complete=_complete,
    plan=plan_steps,
)


def load(model: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None) -> tuple[Any, Any]:
    """(model with the adapter, tokenizer) from an adapter artifact ref or directory."""
    path = Path(model)
    if not path.is_dir():
        from workbench.store.artifacts import open_artifacts

        path = open_artifacts(root).use(str(model))
    description = json.loads((path / MODEL_FILE).read_text(encoding="utf-8"))
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base_spec = description.get("base_model") or {}
    base = description["base_model_path"]
    if base_spec.get("kind") == "artifact":
        from workbench.store.artifacts import open_artifacts

        base = str(open_artifacts(root).use(base_spec["ref"]))
    tokenizer = AutoTokenizer.from_pretrained(path)
    with quiet_peft():
        from peft import PeftModel

        network = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), path)
    network.eval()
    return network, tokenizer


def generate(
    model: str | os.PathLike[str],
    prompt: str,
    *,
    max_new_tokens: int = 32,
    root: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> str:
    """``prompt`` and its continuation (see :func:`workbench.jobs.generate`)."""
    import torch

    network, tokenizer = load(model, root=root)
    encoded = tokenizer(prompt, return_tensors="pt")
    options = {
        "max_new_tokens": int(max_new_tokens),
        "do_sample": False,
        "pad_token_id": tokenizer.pad_token_id
        if tokenizer.pad_token_id is not None
        else tokenizer.eos_token_id,
        **kwargs,
    }
    with torch.no_grad():
        output = network.generate(**encoded, **options)
    return str(tokenizer.decode(output[0], skip_special_tokens=True))
