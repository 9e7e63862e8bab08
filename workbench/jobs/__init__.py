"""Jobs: fine-tunes and scripts launched into a persistent priority queue (see docs/jobs.md).

A job is a run with status ``queued`` and a launch spec in its record (``record["job"]``). One
scheduler per store (``workbench.jobs.scheduler``) starts the highest-priority, oldest queued job
in its own process group whenever one of its slots is free. Recipes (what a job runs) and
executors (where it runs) are found by name through entry points.

torch, transformers and peft are imported only inside job processes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.jobs.job import Job, list_jobs
from workbench.jobs.launch import launch
from workbench.jobs.recipe import JobContext, Recipe
from workbench.jobs.registry import executor_names, get_recipe, recipe_names
from workbench.jobs.schema import Field

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "Field",
    "Job",
    "JobContext",
    "Recipe",
    "executor_names",
    "generate",
    "get_recipe",
    "launch",
    "list_jobs",
    "predict",
    "recipe_names",
]


def predict(model: str | Path, texts: list[str], *, root: str | Path | None = None) -> list[str]:
    """Labels for ``texts`` from a model the ``text-classification`` recipe saved.

    ``model`` is the model artifact's ref (``reviews-classifier:latest``) or its directory.
    Imports torch and transformers (and peft for an adapter).

    Examples
    --------
    >>> from workbench.jobs import predict
    >>> predict("reviews-classifier:latest", ["Great value, works perfectly."])  # doctest: +SKIP
    ['positive']
    """
    from workbench.jobs.recipes.text_classification import predict as _predict

    return _predict(model, texts, root=root)


def generate(
    model: str | Path, prompt: str, *, max_new_tokens: int = 32, root: str | Path | None = None, **kwargs: Any
) -> str:
    """Text that a ``causal-lm`` adapter continues ``prompt`` with (greedy unless ``kwargs``
    say otherwise, e.g. ``do_sample=True``).

    ``model`` is the adapter artifact's ref (``stories-lora:latest``) or its directory.

    Examples
    --------
    >>> from workbench.jobs import generate
    >>> generate("stories-lora:latest", "The cat", max_new_tokens=20)  # doctest: +SKIP
    'The cat sat in the garden. It was happy.'
    """
    from workbench.jobs.recipes.causal_lm import generate as _generate

    return _generate(model, prompt, max_new_tokens=max_new_tokens, root=root, **kwargs)
