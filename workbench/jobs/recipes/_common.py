"""What the torch recipes share: config keys, tables, splits, device and threads.

Everything here runs inside the job process. Tables are read with pyarrow before torch is
imported, so that a bad dataset fails in a second rather than after loading a model.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench.errors import DatasetError, JobError
from workbench.jobs.schema import Field

__all__ = ["COMMON_FIELDS", "Split", "load_split", "plan_steps", "require_finetune", "setup_torch", "split_tables"]

COMMON_FIELDS = (
    Field("epochs", "int", 3, "passes over the training set", minimum=1, maximum=10_000),
    Field("max_steps", "int", 0, "stop after this many steps (0: run all epochs)", minimum=0),
    Field("batch_size", "int", 16, "examples per step", minimum=1, maximum=65_536),
    Field(
        "learning_rate",
        "float",
        None,
        "peak learning rate (default depends on the recipe and on lora)",
        nullable=True,
        minimum=0.0,
    ),
    Field("weight_decay", "float", 0.0, "AdamW weight decay", minimum=0.0),
    Field("warmup_steps", "int", 0, "steps of linear learning-rate warm-up", minimum=0),
    Field("max_length", "int", 128, "tokens per example (longer ones are cut)", minimum=1, maximum=1_000_000),
    Field("lora_r", "int", 8, "LoRA rank", minimum=1, maximum=4096),
    Field("lora_alpha", "int", 16, "LoRA scaling (alpha)", minimum=1),
    Field("lora_dropout", "float", 0.0, "dropout on the LoRA path", minimum=0.0, maximum=1.0),
    Field(
        "lora_target_modules",
        "list",
        None,
        "modules to adapt (default: peft's choice for the model type)",
        nullable=True,
    ),
    Field(
        "eval_fraction",
        "float",
        0.1,
        "share of the rows held out for evaluation when the dataset has no "
        "test/eval table (0: no evaluation)",
        minimum=0.0,
        maximum=0.9,
    ),
    Field("seed", "int", 0, "random seed (split, initialisation, order)", minimum=0),
    Field(
        "logging_steps", "int", 1, "log the training loss every this many steps (0: not at all)", minimum=0
    ),
    Field(
        "device",
        "str",
        "auto",
        "where to train: auto (CUDA when available), cpu or cuda",
        choices=("auto", "cpu", "cuda"),
    ),
    Field("threads", "int", 0, "CPU threads for torch (0: torch's default)", minimum=0, maximum=1024),
    Field(
        "model_name",
        "str",
        None,
        "name of the model artifact (default: from the dataset's name)",
        nullable=True,
    ),
)

_TRAIN = re.compile(r"(^|[/_.-])train", re.IGNORECASE)
_EVAL = re.compile(r"(^|[/_.-])(test|eval|valid|validation|dev|heldout|held-out|holdout)", re.IGNORECASE)


def split_tables(tables: Sequence[str]) -> tuple[str, str | None]:
    """(training table, held-out table or None) among a dataset's table files, by their names."""
    tables = sorted(tables)
    if len(tables) == 1:
        return tables[0], None
    train = [t for t in tables if _TRAIN.search(Path(t).name)]
    held = [t for t in tables if _EVAL.search(Path(t).name) and t not in train]
    if len(train) == 1 and len(held) <= 1:
        return train[0], held[0] if held else None
    raise DatasetError(
        f"the dataset has tables {', '.join(tables)}; name one train.* (and at most one test.*, eval.* or "
        "validation.*), or log only the table to train on"
    )


def plan_steps(config: Mapping[str, Any], dataset: Mapping[str, Any] | None) -> int | None:
    """Optimizer steps the job will take, from the dataset's row counts (as the launch saw them)."""
    if config.get("max_steps"):
        return int(config["max_steps"])
    if not dataset:
        return None
    tables = dataset.get("tables") or {}
    try:
        train, held = split_tables(list(tables))
    except DatasetError:
        return None
    rows = int(tables[train].get("rows", 0))
    if held is None and config.get("eval_fraction"):
        rows -= _held_out_count(rows, float(config["eval_fraction"]))
    return max(1, math.ceil(rows / int(config["batch_size"]))) * int(config["epochs"])


def _held_out_count(rows: int, fraction: float) -> int:
    if fraction <= 0 or rows < 2:
        return 0
    return min(rows - 1, max(1, round(rows * fraction)))


class Split:
    """Training and held-out rows of a dataset (lists of dicts of the columns asked for)."""

    def __init__(self, train: list[dict[str, Any]], held: list[dict[str, Any]], source: str) -> None:
        self.train = train
        self.held = held
        self.source = source


def _read_table(path: Path, columns: Sequence[str], shown: str) -> list[dict[str, Any]]:
    import pyarrow as pa

    from workbench.store.artifacts.datasets import table_format

    fmt = table_format(path.name)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
        elif fmt in ("csv", "tsv"):
            import pyarrow.csv as pacsv

            # every column as text: labels such as "01" or "1.0" stay what the file says
            table = pacsv.read_csv(
                path,
                parse_options=pacsv.ParseOptions(delimiter="," if fmt == "csv" else "\t"),
                convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in columns}),
            )
        elif fmt == "jsonl":
            import pyarrow.json as pajson

            table = pajson.read_json(path)
        elif fmt == "json":
            import json

            table = pa.Table.from_pylist(json.loads(path.read_text(encoding="utf-8-sig")))
        else:
            raise DatasetError(f"{shown} is not a table file")
    except (pa.ArrowInvalid, ValueError, OSError) as exc:
        raise DatasetError(f"dataset table {shown} could not be read: {exc}") from exc
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise DatasetError(
            f"dataset table {shown} lacks column(s) {', '.join(missing)}; it has "
            f"{', '.join(table.column_names)}"
        )
    rows: list[dict[str, Any]] = table.select(list(columns)).to_pylist()
    return rows


def load_split(data_dir: Path, columns: Sequence[str], config: Mapping[str, Any], ref: str) -> Split:
    """Read the dataset's tables: its train/held-out tables, or one table split by ``eval_fraction``."""
    from workbench.store.artifacts.datasets import table_format

    tables = sorted(
        str(p.relative_to(data_dir))
        for p in data_dir.rglob("*")
        if p.is_file() and table_format(p.name) is not None
    )
    if not tables:
        raise DatasetError(f"dataset {ref} holds no table files")
    train_name, held_name = split_tables(tables)
    train = _read_table(data_dir / train_name, columns, f"{ref}/{train_name}")
    if held_name is not None:
        held = _read_table(data_dir / held_name, columns, f"{ref}/{held_name}")
        return Split(
            train, held, f"{ref}: {train_name} ({len(train)} rows), held out {held_name} ({len(held)})"
        )
    count = _held_out_count(len(train), float(config.get("eval_fraction") or 0.0))
    order = list(range(len(train)))
    random.Random(int(config.get("seed") or 0)).shuffle(order)
    held = [train[i] for i in sorted(order[:count])]
    keep = set(order[count:])
    train = [row for i, row in enumerate(train) if i in keep]
    return Split(
        train,
        held,
        f"{ref}: {train_name}, {len(train)} rows to train on, {len(held)} held out "
        f"(eval_fraction {config.get('eval_fraction')})",
    )


def check_text(rows: list[dict[str, Any]], column: str, where: str) -> None:
    for number, row in enumerate(rows, 1):
        value = row.get(column)
        if not isinstance(value, str) or not value.strip():
            raise DatasetError(
                f"dataset {where}: row {number} has {'no' if value is None else 'an empty'} "
                f"{column!r} ({value!r}); every row needs text"
            )


def require_finetune(recipe: str) -> None:
    """MissingExtra (one line: ``pip install 'workbench-ml[finetune]'``) unless the fine-tune stack is
    installed where the job runs; checked before the job's run starts, importing nothing."""
    from workbench._extras import check

    check("torch", "transformers", "peft", "accelerate", extra="finetune", feature=f"the {recipe} recipe")


def setup_torch(config: Mapping[str, Any]) -> str:
    """Import torch, apply ``threads`` and pick the device from ``device``; the device name."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    threads = int(config.get("threads") or 0)
    if threads > 0:
        torch.set_num_threads(threads)
    wanted = str(config.get("device") or "auto")
    has_cuda = torch.cuda.is_available()
    if wanted == "cuda" and not has_cuda:
        raise JobError("device='cuda' was asked for, but torch sees no CUDA device here; use device='auto'")
    device = "cuda" if wanted == "cuda" or (wanted == "auto" and has_cuda) else "cpu"
    torch.manual_seed(int(config.get("seed") or 0))
    print(
        f"workbench: torch {torch.__version__} on {device}"
        f"{'' if device != 'cpu' else f' ({torch.get_num_threads()} threads)'}",
        flush=True,
    )
    return device


@contextlib.contextmanager
def quiet_peft() -> Iterator[None]:
    """Silence a deprecation that peft triggers inside transformers 5 (nothing a user can act on)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def lora_config(config: Mapping[str, Any], task_type: str) -> Any:
    import peft

    return peft.LoraConfig(
        task_type=getattr(peft.TaskType, task_type),
        r=int(config["lora_r"]),
        lora_alpha=int(config["lora_alpha"]),
        lora_dropout=float(config["lora_dropout"]),
        target_modules=list(config["lora_target_modules"]) if config.get("lora_target_modules") else None,
    )


def training_arguments(config: Mapping[str, Any], out_dir: str, device: str, *, evaluate: bool) -> Any:
    from transformers import TrainingArguments

    logging_steps = int(config.get("logging_steps") or 0)
    return TrainingArguments(
        output_dir=out_dir,
        num_train_epochs=int(config["epochs"]),
        max_steps=int(config.get("max_steps") or 0) or -1,
        per_device_train_batch_size=int(config["batch_size"]),
        per_device_eval_batch_size=int(config["batch_size"]) * 2,
        learning_rate=float(config["learning_rate"]),
        weight_decay=float(config["weight_decay"]),
        warmup_steps=int(config["warmup_steps"]),
        logging_strategy="steps" if logging_steps else "no",
        logging_steps=logging_steps or 1,
        eval_strategy="epoch" if evaluate else "no",
        save_strategy="no",
        report_to="none",
        use_cpu=device == "cpu",
        disable_tqdm=True,
        seed=int(config["seed"]),
        dataloader_num_workers=0,
        dataloader_pin_memory=device != "cpu",
    )


def artifact_name(config: Mapping[str, Any], dataset_ref: str | None, suffix: str) -> str:
    if config.get("model_name"):
        return str(config["model_name"])
    base = (dataset_ref or "model").split(":", 1)[0]
    return f"{base}-{suffix}"[:128]
