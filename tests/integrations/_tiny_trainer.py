"""A tiny BERT classifier built from a config and a tiny in-memory dataset, for Trainer tests.

Shared by tests/integrations/test_hf_trainer.py and the clean interpreter it starts. Imports
torch and transformers: import it after ``require_module("transformers")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments


def tiny_model() -> BertForSequenceClassification:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=32)
    config.num_labels = 2
    return BertForSequenceClassification(config)


class Rows(torch.utils.data.Dataset[dict[str, Any]]):
    """``n`` rows of 8 token ids; the label says whether the first token is even."""

    def __init__(self, n: int) -> None:
        generator = torch.Generator().manual_seed(n)
        self.ids = torch.randint(1, 100, (n, 8), generator=generator)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        ids = self.ids[index]
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": int(ids[0]) % 2}


def arguments(out: Path, **overrides: Any) -> TrainingArguments:
    settings: dict[str, Any] = {
        "output_dir": str(out), "max_steps": 6, "per_device_train_batch_size": 4,
        "per_device_eval_batch_size": 8, "logging_steps": 1, "learning_rate": 1e-3,
        "eval_strategy": "steps", "eval_steps": 2, "save_strategy": "no", "report_to": "workbench",
        "use_cpu": True, "disable_tqdm": True, "dataloader_num_workers": 0,
    }
    settings.update(overrides)
    return TrainingArguments(**settings)


def trainer(out: Path, model: Any = None, callbacks: list[Any] | None = None, **overrides: Any) -> Trainer:
    return Trainer(model=model if model is not None else tiny_model(), args=arguments(out, **overrides),
                   train_dataset=Rows(24), eval_dataset=Rows(8), callbacks=callbacks)


def parameters(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())
