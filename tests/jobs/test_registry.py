"""Recipes are found through entry points: the built-in ones, and a plug-in's, which runs as a job."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from _job_helpers import jobs_env  # noqa: F401 - a fixture

import workbench as wb
from workbench.jobs.registry import RECIPE_GROUP, get_recipe, recipe_names

pytestmark = pytest.mark.usefixtures("jobs_env")

PLUGIN = """
from workbench.jobs import Field, Recipe

def main(ctx):
    with ctx.init() as run:
        for step in range(ctx.config["steps"]):
            run.log({"value": step * ctx.config["scale"]}, step=step)

RECIPE = Recipe(
    name="count-up", description="a plug-in recipe", run=main,
    fields=(Field("steps", "int", 3, "how many", minimum=1), Field("scale", "float", 1.0, "factor")),
    plan=lambda config, dataset: config["steps"],
)
"""


def test_the_builtin_recipes_register_through_entry_points() -> None:
    names = {ep.name for ep in entry_points(group=RECIPE_GROUP)}
    assert {"text-classification", "causal-lm", "script"} <= names
    assert {"text-classification", "causal-lm", "script"} <= set(recipe_names())
    assert get_recipe("causal-lm").base_model == "required"


def test_a_plugin_recipe_is_found_and_runs_as_a_job(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    (site / "countup_plugin").mkdir(parents=True)
    (site / "countup_plugin" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "countup_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: countup-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{RECIPE_GROUP}]\ncount-up = countup_plugin:RECIPE\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", str(site))  # the scheduler and the job find it the same way
    get_recipe.cache_clear()
    try:
        assert "count-up" in recipe_names()
        job = wb.launch("count-up", config={"steps": 4, "scale": 2.0})
        assert job.wait(timeout=60) == "completed", job.logs()
        record = job.record
        assert record["config"] == {"steps": 4, "scale": 2.0}
        assert record["metrics"]["value"]["last"] == 6.0 and job.progress == 1.0
        result = subprocess.run(
            [sys.executable, "-m", "workbench", "jobs", "recipes", "count-up"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "steps (int, default 3): how many" in result.stdout
    finally:
        get_recipe.cache_clear()


def test_docs_describe_every_builtin_config_key_and_job_setting() -> None:
    from conftest import REPO

    jobs_doc = (REPO / "docs" / "jobs.md").read_text(encoding="utf-8")
    for name in ("text-classification", "causal-lm", "script"):
        assert f"### {name}" in jobs_doc
        for field in get_recipe(name).fields:
            assert f"| `{field.name}` |" in jobs_doc, f"docs/jobs.md does not describe {name}'s {field.name}"
    settings_doc = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    for setting in ("job_slots", "cancel_grace", "scheduler_idle_exit", "job_cgroups"):
        assert f"## `{setting}`" in settings_doc
