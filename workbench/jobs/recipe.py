"""``Recipe``: what a job runs, its config schema, and what it needs (dataset, base model).

A recipe either runs Python inside the job process (``run``: called with a :class:`JobContext`
by ``python -m workbench.jobs.worker``), or names a command to execute (``command``: the
``script`` recipe). Recipes are found by name through the ``workbench.recipes`` entry point group
(see :mod:`workbench.jobs.registry`); the built-in ones register the same way.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.jobs.schema import Field

if TYPE_CHECKING:
    from workbench.settings import Settings
    from workbench.tracking.run import Run

__all__ = ["JobContext", "Recipe"]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A kind of job.

    Parameters
    ----------
    name:
        The name users launch it by, e.g. ``"text-classification"``.
    fields:
        Its config keys; a launch with any other key is refused, listing these.
    run:
        Called inside the job process with a :class:`JobContext` (for Python recipes).
    command:
        Or: given the resolved config, the argv to execute (for recipes that run a program).
    description:
        One line for listings.
    columns:
        Given the config, the column sets a dataset may have (any one of them), e.g.
        ``[("text", "label")]``; None: the recipe takes no dataset.
    dataset_required:
        A launch without ``dataset=`` is refused.
    base_model:
        ``"none"``, ``"optional"`` or ``"required"``.
    default_base_model:
        Returns the base model to use when the launch names none (or None).
    complete:
        Fills values that depend on other keys (``learning_rate`` from ``lora``) at launch.
    plan:
        Given the config and the dataset's description (``rows`` per table), the planned number
        of steps, for progress.

    Examples
    --------
    >>> def main(ctx):
    ...     with ctx.init() as run:
    ...         run.log({"loss": 0.5})
    >>> Recipe("hello", fields=(Field("steps", "int", 10, "how many"),), run=main).name
    'hello'
    """

    name: str
    fields: tuple[Field, ...] = ()
    run: Callable[[JobContext], None] | None = None
    command: Callable[[Mapping[str, Any]], Sequence[str]] | None = None
    description: str = ""
    columns: Callable[[Mapping[str, Any]], Sequence[Sequence[str]]] | None = None
    dataset_required: bool = False
    base_model: str = "none"
    default_base_model: Callable[[], str | None] | None = None
    complete: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    plan: Callable[[Mapping[str, Any], Mapping[str, Any] | None], int | None] | None = None

    def __post_init__(self) -> None:
        if (self.run is None) == (self.command is None):
            raise ValueError(f"recipe {self.name!r}: give exactly one of run= and command=")
        if self.base_model not in ("none", "optional", "required"):
            raise ValueError(f"recipe {self.name!r}: base_model must be 'none', 'optional' or 'required'")


@dataclasses.dataclass
class JobContext:
    """What a Python recipe gets inside the job process.

    Attributes
    ----------
    run_id:
        The job's run.
    config:
        The resolved config (defaults, ``workbench.toml``, launch).
    spec:
        The launch spec from the run record (``dataset``, ``base_model``, ``priority``...).
    settings:
        The store's settings.
    """

    run_id: str
    config: dict[str, Any]
    spec: dict[str, Any]
    settings: Settings

    @property
    def root(self) -> Path:
        return self.settings.root

    def init(self) -> Run:
        """Attach to the job's run (``workbench.init`` with ``WORKBENCH_RUN_ID``)."""
        from workbench.tracking.api import init

        os.environ["WORKBENCH_RUN_ID"] = self.run_id
        return init(root=self.settings.root)

    @property
    def dataset_ref(self) -> str | None:
        dataset = self.spec.get("dataset") or {}
        return dataset.get("ref")

    def dataset_dir(self, run: Run) -> Path:
        """The dataset version's files, placed locally and recorded as used by ``run``."""
        ref = self.dataset_ref
        if ref is None:
            from workbench.errors import JobError

            raise JobError(f"job {self.run_id} has no dataset")
        return run.use_artifact(ref)

    def base_model_path(self, run: Run) -> str:
        """A local directory (or hub id) of the base model; an artifact is recorded as used."""
        base = self.spec.get("base_model") or {}
        kind = base.get("kind")
        if kind == "artifact":
            return str(run.use_artifact(base["ref"]))
        if kind == "path":
            return str(base["path"])
        if kind == "hub":
            return str(base["id"])
        from workbench.errors import JobError

        raise JobError(f"job {self.run_id} has no base model")

    def set_planned_steps(self, steps: int) -> None:
        """Record the planned number of steps (progress is logged steps against it)."""
        from workbench.store._paths import Layout
        from workbench.store.records import update_record

        def mutate(record: dict[str, Any]) -> bool:
            job = record.get("job")
            if not isinstance(job, dict) or job.get("planned_steps") == steps:
                return False
            job["planned_steps"] = int(steps)
            return True

        update_record(Layout(self.settings.root), self.run_id, mutate, fsync=False)
        self.spec["planned_steps"] = int(steps)
