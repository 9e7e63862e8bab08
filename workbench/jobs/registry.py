"""Finding recipes and executors by name, through entry points.

Recipes: group ``workbench.recipes``, each entry point naming a :class:`~workbench.jobs.Recipe`
object (``my-recipe = "mypkg.recipes:RECIPE"``). Executors: group ``workbench.executors``, each
naming a class or factory of an :class:`~workbench.jobs.executors.Executor`. The built-in ones are
registered in workbench's own ``pyproject.toml`` the same way; the table below finds them too when
an editable install's metadata is older than the code.
"""

from __future__ import annotations

import functools
import importlib
from importlib.metadata import entry_points
from typing import Any

from workbench.errors import JobError
from workbench.jobs.recipe import Recipe

__all__ = ["EXECUTOR_GROUP", "RECIPE_GROUP", "executor_names", "get_executor", "get_recipe", "recipe_names"]

RECIPE_GROUP = "workbench.recipes"
EXECUTOR_GROUP = "workbench.executors"

_BUILTIN_RECIPES = {
    "text-classification": "workbench.jobs.recipes.text_classification:RECIPE",
    "causal-lm": "workbench.jobs.recipes.causal_lm:RECIPE",
    "script": "workbench.jobs.recipes.script:RECIPE",
}
_BUILTIN_EXECUTORS = {
    "local": "workbench.jobs.executors.local:LocalExecutor",
    "ssh": "workbench.jobs.executors.ssh:SSHExecutor",
}


def _targets(group: str, builtins: dict[str, str]) -> dict[str, str]:
    found = {ep.name: ep.value for ep in entry_points(group=group)}
    for name, target in builtins.items():
        found.setdefault(name, target)
    return found


def _load(target: str, what: str, name: str) -> Any:
    module_name, _, attr = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name.strip())
        for part in attr.strip().split("."):
            if part:
                obj = getattr(obj, part)
    except Exception as exc:  # a broken plug-in: say which one, whatever it raised
        raise JobError(
            f"{what} {name!r} ({target}) could not be loaded: {type(exc).__name__}: {exc}; "
            "fix or uninstall the package that provides it"
        ) from exc
    return obj


def recipe_names() -> list[str]:
    """Every recipe name installed, sorted."""
    return sorted(_targets(RECIPE_GROUP, _BUILTIN_RECIPES))


@functools.lru_cache(maxsize=64)
def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; a JobError naming the known ones if there is none."""
    targets = _targets(RECIPE_GROUP, _BUILTIN_RECIPES)
    if not isinstance(name, str) or name not in targets:
        raise JobError(
            f"unknown recipe {name!r}; known recipes: {', '.join(sorted(targets))} "
            f"(add one through the {RECIPE_GROUP!r} entry point group, see docs/jobs.md)"
        )
    recipe = _load(targets[name], "recipe", name)
    if not isinstance(recipe, Recipe):
        raise JobError(
            f"recipe {name!r} ({targets[name]}) is a {type(recipe).__name__}, not a workbench.jobs.Recipe"
        )
    if recipe.name != name:
        raise JobError(f"recipe entry point {name!r} names a recipe called {recipe.name!r}; make them agree")
    return recipe


def executor_names() -> list[str]:
    return sorted(_targets(EXECUTOR_GROUP, _BUILTIN_EXECUTORS))


def get_executor(name: str) -> Any:
    """A new executor called ``name``; a JobError naming the known ones if there is none.

    A name ``KIND:ARG`` (``ssh:gpu1``) finds the executor registered as ``KIND`` and calls its
    factory with ``ARG``; a plain name calls it with no argument.
    """
    targets = _targets(EXECUTOR_GROUP, _BUILTIN_EXECUTORS)
    kind, _, arg = name.partition(":") if isinstance(name, str) else ("", "", "")
    if kind not in targets:
        raise JobError(
            f"unknown executor {name!r}; available here: {', '.join(sorted(targets))} "
            "(ssh takes a remote: 'ssh:NAME')"
        )
    factory = _load(targets[kind], "executor", kind)
    if not arg:
        return factory()
    try:
        return factory(arg)
    except TypeError as exc:
        raise JobError(f"executor {kind!r} takes no ':{arg}' part; use executor={kind!r}") from exc
