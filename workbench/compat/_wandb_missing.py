"""What W&B offers that workbench does not (yet): media types, the server API, hosted sweeps.

Each raises a :class:`Unsupported` error that says what is missing and what to do instead, at
the moment a script reaches for it, never at import: a script that defines a ``wandb.Image``
branch it never takes still runs.
"""

from __future__ import annotations

from typing import Any, NoReturn

from workbench.errors import WorkbenchError

__all__ = [
    "Api",
    "Audio",
    "Histogram",
    "Html",
    "Image",
    "MediaNotAvailable",
    "Molecule",
    "Object3D",
    "Plotly",
    "Table",
    "Unsupported",
    "Video",
    "agent",
    "controller",
    "plot",
    "sweep",
]


class Unsupported(WorkbenchError):
    """A W&B feature that workbench does not offer; the message says what to use instead."""


class MediaNotAvailable(Unsupported):
    """A W&B media type (Table, Image, Histogram...): media land in a later workbench release."""


def _media(kind: str, instead: str) -> type:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        raise MediaNotAvailable(
            f"wandb.{kind}: workbench does not store media yet (they land in a later release); "
            f"{instead}, or save the object as a file with wandb.save() or in a wandb.Artifact"
        )

    return type(kind, (), {"__init__": __init__, "__doc__": f"W&B's ``{kind}``: raises MediaNotAvailable.",
                           "__module__": "workbench.compat.wandb"})


Table = _media("Table", "log each column's numbers as metrics (run.log({'acc': 0.9})) or keep the rows "
                        "in a CSV file logged as a dataset artifact")
Image = _media("Image", "log a number that describes it instead (run.log({'val/psnr': 31.2}))")
Histogram = _media("Histogram", "log summary numbers instead (run.log({'grad/mean': x.mean(), 'grad/max': x.max()}))")
Audio = _media("Audio", "log a number that describes it instead")
Video = _media("Video", "log a number that describes it instead")
Html = _media("Html", "write the page to a file")
Object3D = _media("Object3D", "log a number that describes it instead")
Molecule = _media("Molecule", "log a number that describes it instead")
Plotly = _media("Plotly", "log the plotted numbers as metrics; workbench draws the curves")


class _Plot:
    """``wandb.plot.*`` charts are media too."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)

        def chart(*args: Any, **kwargs: Any) -> NoReturn:
            raise MediaNotAvailable(
                f"wandb.plot.{name}: workbench does not store charts yet (media land in a later release); "
                "log the plotted numbers as metrics: workbench draws the curves (workbench ui, MetricCompare)"
            )

        return chart


plot = _Plot()


class Api:
    """W&B's server API: workbench has no server; the store answers queries directly."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise Unsupported(
            "wandb.Api() queries the W&B server; workbench has none: query the local store with "
            "workbench.runs(where=..., order_by=...), workbench.history(run_ids, keys=[...]), "
            "workbench.get_run(id) or workbench.sql('select ...') (docs/queries.md)"
        )


def _sweeps(call: str) -> NoReturn:
    raise Unsupported(
        f"wandb.{call}() needs the W&B sweep server; workbench sweeps (built on Optuna) land in a later "
        "release. Until then, loop over the configs yourself and call wandb.init(config=...) for each, "
        "then compare them with workbench.runs(order_by='-summary.acc')"
    )


def sweep(*args: Any, **kwargs: Any) -> NoReturn:
    """W&B's hosted sweeps: raises :class:`Unsupported` (Optuna sweeps land later)."""
    _sweeps("sweep")


def agent(*args: Any, **kwargs: Any) -> NoReturn:
    """W&B's sweep agent: raises :class:`Unsupported` (Optuna sweeps land later)."""
    _sweeps("agent")


def controller(*args: Any, **kwargs: Any) -> NoReturn:
    """W&B's local sweep controller: raises :class:`Unsupported` (Optuna sweeps land later)."""
    _sweeps("controller")
