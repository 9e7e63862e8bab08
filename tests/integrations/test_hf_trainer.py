"""The Hugging Face Trainer integration: a real Trainer on a tiny BERT built from a config.

`report_to="workbench"` works after `import workbench` (from a clean interpreter); the run ends
`completed` when `train()` returns, with the model config, the parameter count and every eval
point; a second `train()` is a new run, a resumed one continues its run; no key is ever logged
twice at a step; the model is logged as an artifact with lineage to its base; a run the user
started is used and left open.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from conftest import require_module

import workbench as wb

HERE = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    monkeypatch.delenv("WORKBENCH_LOG_MODEL", raising=False)
    monkeypatch.delenv("WORKBENCH_PROJECT", raising=False)


def _tiny() -> Any:
    require_module("transformers")
    import _tiny_trainer

    return _tiny_trainer


def _callback(trainer: Any) -> Any:
    from workbench.integrations.hf import WorkbenchCallback

    [callback] = [c for c in trainer.callback_handler.callbacks if isinstance(c, WorkbenchCallback)]
    return callback


def _steps(root: Path, run_id: str, key: str) -> list[int]:
    frame = wb.history(run_id, keys=[key], root=root)
    return sorted(int(step) for step in frame["step"])


def _no_duplicates(root: Path, run_id: str) -> None:
    frame = wb.history(run_id, root=root)
    twice = frame[frame.duplicated(["key", "step"], keep=False)]
    assert twice.empty, f"run {run_id} logged a key twice at a step:\n{twice}"


CHILD = """
import json, sys
from pathlib import Path
import workbench
lazy = "transformers" not in sys.modules
sys.path.insert(0, sys.argv[2])
import _tiny_trainer as tiny
from transformers import TrainingArguments
trainer = tiny.trainer(Path(sys.argv[1]))
trainer.train()
[callback] = [c for c in trainer.callback_handler.callbacks if type(c).__name__ == "WorkbenchCallback"]
run_id = callback.run.id
print(json.dumps({"lazy": lazy, "run": run_id, "status": workbench.get_run(run_id)["status"],
                  "parameters": tiny.parameters(trainer.model),
                  "all": TrainingArguments(sys.argv[1], report_to="all").report_to}))
"""


def test_report_to_workbench_in_a_clean_interpreter(root: Path, tmp_path: Path) -> None:
    require_module("transformers")
    env = {**os.environ, "WORKBENCH_PROJECT": "hf"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "out"), str(HERE)], check=False, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    child = json.loads(done.stdout.strip().splitlines()[-1])
    assert child["lazy"], "import workbench imported transformers"
    assert child["status"] == "completed"  # when train() returned, before the process ended
    assert "workbench" in child["all"]  # report_to="all" includes it, as every installed tracker
    record = wb.get_run(child["run"], root=root)
    assert record["status"] == "completed" and record["project"] == "hf"
    config = record["config"]
    assert config["max_steps"] == 6 and "workbench" in config["report_to"]  # TrainingArguments
    assert config["model"]["hidden_size"] == 16 and config["model"]["model_type"] == "bert"
    assert config["parameters"] == {"total": child["parameters"], "trainable": child["parameters"]}
    assert _steps(root, child["run"], "eval/loss") == [2, 4, 6]  # every eval point, the last one too
    assert _steps(root, child["run"], "train/loss") == [1, 2, 3, 4, 5, 6]
    assert record["summary"]["train/mean_loss"] > 0
    _no_duplicates(root, child["run"])


def test_a_second_train_is_a_new_run_and_evaluate_after_train_reopens_it(root: Path, tmp_path: Path) -> None:
    tiny = _tiny()
    trainer = tiny.trainer(tmp_path / "out", eval_steps=4)
    trainer.train()
    first = _callback(trainer).run
    assert first.status == "completed"
    trainer.train()
    second = _callback(trainer).run
    assert second.id != first.id and second.status == "completed"
    assert [r for r in wb.runs(root=root)["run_id"]] and len(wb.runs(root=root)) == 2
    for run in (first, second):
        assert _steps(root, run.id, "train/loss") == [1, 2, 3, 4, 5, 6]
        _no_duplicates(root, run.id)
    # evaluate() after train(): the training's run is reopened for the new point, then done again
    trainer.evaluate()
    assert wb.get_run(second.id, root=root)["status"] == "completed"
    assert _steps(root, second.id, "eval/loss") == [4, 6]
    trainer.evaluate()  # the same step again: nothing new, no duplicate
    assert _steps(root, second.id, "eval/loss") == [4, 6]
    _no_duplicates(root, second.id)
    assert len(wb.runs(root=root)) == 2


def test_a_train_that_raised_leaves_its_run_to_the_next_train_as_failed(root: Path, tmp_path: Path) -> None:
    tiny = _tiny()
    from transformers import TrainerCallback

    class Boom(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step == 3:
                raise RuntimeError("boom")

    boom = Boom()
    trainer = tiny.trainer(tmp_path / "out", callbacks=[boom])
    with pytest.raises(RuntimeError, match="boom"):
        trainer.train()
    first = _callback(trainer).run
    assert first.status == "running"  # transformers tells no callback that train() raised
    trainer.remove_callback(boom)
    trainer.train()
    second = _callback(trainer).run
    assert second.id != first.id and second.status == "completed"
    record = wb.get_run(first.id, root=root)
    assert record["status"] == "failed" and record["error"]["type"] == "TrainingInterrupted"
    assert _steps(root, first.id, "train/loss") == [1, 2]  # step 3 raised before its log


def test_resume_from_checkpoint_continues_the_run(root: Path, tmp_path: Path) -> None:
    tiny = _tiny()
    out = tmp_path / "out"
    first = tiny.trainer(out, save_strategy="steps", save_steps=3)
    first.train()
    run_id = _callback(first).run.id
    # a new process would build a new Trainer: the checkpoint remembers the run
    again = tiny.trainer(out, max_steps=8, save_strategy="steps", save_steps=3)
    again.train(resume_from_checkpoint=str(out / "checkpoint-3"))
    assert _callback(again).run.id == run_id
    assert len(wb.runs(root=root)) == 1
    record = wb.get_run(run_id, root=root)
    assert record["status"] == "completed" and record["config"]["max_steps"] == 8
    assert _steps(root, run_id, "train/loss") == [1, 2, 3, 4, 5, 6, 7, 8]  # 4-6 once, not twice
    assert _steps(root, run_id, "eval/loss") == [2, 4, 6, 8]
    _no_duplicates(root, run_id)


def test_log_model_with_lineage_to_a_base_model_artifact(root: Path, tmp_path: Path) -> None:
    tiny = _tiny()
    require_module("peft")
    import peft

    from workbench.integrations.hf import WorkbenchCallback

    tiny.tiny_model().save_pretrained(tmp_path / "base")
    wb.log_artifact(tmp_path / "base", name="tiny-bert", type="model", root=root)
    placed = wb.use_artifact("tiny-bert", root=root)
    from transformers import BertForSequenceClassification

    base = BertForSequenceClassification.from_pretrained(placed)
    lora = peft.LoraConfig(task_type="SEQ_CLS", r=2, lora_alpha=4, target_modules=["query", "value"])
    with warnings.catch_warnings():  # peft reads a property transformers 5 deprecates
        warnings.simplefilter("ignore", FutureWarning)
        model = peft.get_peft_model(base, lora)
    callback = WorkbenchCallback(project="lineage", log_model="end", model_name="tiny-adapter")
    trainer = tiny.trainer(tmp_path / "out", model=model, callbacks=[callback], report_to="none")
    trainer.train()
    run = callback.run
    assert run is not None
    record = wb.get_run(run.id, root=root)
    assert record["status"] == "completed"
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert record["config"]["parameters"]["trainable"] == trainable < record["config"]["parameters"]["total"]
    assert record["config"]["peft"]["default"]["r"] == 2
    artifact = wb.artifact("tiny-adapter", root=root)
    assert artifact.producer == run.id and artifact.type == "model"
    assert artifact.metadata["base_model"] == str(placed) and artifact.metadata["base_model_artifact"] == "tiny-bert:v1"
    assert artifact.metadata["adapter"] is True and artifact.metadata["step"] == 6
    assert any(path.endswith("adapter_model.safetensors") for path in _paths(artifact))
    used = wb.run_artifacts(run.id, root=root)["used"]
    assert [(u["name"], u["version"]) for u in used] == [("tiny-bert", 1)]


def test_log_model_from_the_environment_with_checkpoints(root: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    tiny = _tiny()
    monkeypatch.setenv("WORKBENCH_LOG_MODEL", "checkpoint")
    trainer = tiny.trainer(tmp_path / "out", max_steps=4, save_strategy="steps", save_steps=2)
    trainer.train()
    run = _callback(trainer).run
    versions = wb.artifacts(name=f"model-{run.id}", root=root)
    assert list(versions["producer"]) == [run.id] * 3  # checkpoints 2 and 4, then the final model
    aliases = [list(a) for a in versions["aliases"]]
    assert "step-2" in aliases[0] and "step-4" in aliases[1] and "latest" in aliases[2]
    final = wb.artifact(f"model-{run.id}", root=root)
    assert final.metadata["checkpoint"] is False and final.metadata["base_model"] is None
    assert any(path.endswith("model.safetensors") for path in _paths(final))


def test_a_run_the_user_started_is_used_and_left_open(root: Path, tmp_path: Path) -> None:
    tiny = _tiny()
    run = wb.init(project="mine", config={"learning_rate": 0.5}, root=root)
    try:
        trainer = tiny.trainer(tmp_path / "out")
        trainer.train()
        assert _callback(trainer).run is run and run.status == "running"
        record = wb.get_run(run.id, root=root)
        assert record["status"] == "running"
        assert record["config"]["learning_rate"] == 0.5  # the user's value, not the Trainer's
        assert record["config"]["model"]["hidden_size"] == 16 and record["config"]["max_steps"] == 6
        assert record["metrics"]["eval/loss"]["step"] == 6  # written before train() returned
        run.log({"after": 1.0})
    finally:
        run.finish()
    assert len(wb.runs(root=root)) == 1


def _paths(artifact: Any) -> list[str]:
    return [f.path for f in artifact.files]


def test_the_registration_survives_a_reload_of_transformers_module() -> None:
    require_module("transformers")
    import importlib

    import transformers.integrations.integration_utils as utils

    assert "workbench" in utils.INTEGRATION_TO_CALLBACK
    importlib.reload(utils)
    assert "workbench" in utils.INTEGRATION_TO_CALLBACK
    assert "workbench" in utils.get_available_reporting_integrations()


def test_log_predictions_logs_a_table_of_eval_predictions_at_each_evaluation(root: Path, tmp_path: Path) -> None:
    tiny = _tiny()
    from workbench.integrations.hf import WorkbenchCallback

    run = wb.init(project="hf", root=root, capture_output=False, system_metrics=False)
    trainer = tiny.trainer(tmp_path / "out", callbacks=[WorkbenchCallback(run, log_predictions=5)], report_to="none")
    trainer.train()
    run.finish()
    items = wb.media(run.id, keys=["eval/predictions"], root=root)
    assert list(items["step"]) == [2, 4, 6] and set(items["kind"]) == {"table"}
    table = wb.load_media(items.iloc[-1], root=root)
    assert list(table.columns) == ["input", "label", "prediction", "score"] and len(table) == 5
    rows = tiny.Rows(8)  # the evaluation rows, in order (the eval loader does not shuffle)
    assert list(table["label"]) == [int(rows[i]["labels"]) for i in range(5)]
    assert set(table["prediction"]) <= {0, 1} and ((table["score"] >= 0.5) & (table["score"] <= 1)).all()
    assert table["input"][0] == " ".join(str(int(t)) for t in rows[0]["input_ids"])  # no tokenizer: the ids
    assert _steps(root, run.id, "eval/loss") == [2, 4, 6]  # the metrics still arrive as before
