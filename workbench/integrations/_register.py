"""``report_to="workbench"`` for transformers, without importing transformers.

transformers looks the names of ``TrainingArguments(report_to=...)`` up in
``transformers.integrations.integration_utils.INTEGRATION_TO_CALLBACK`` when a ``Trainer`` is made,
and expands ``report_to="all"`` with ``get_available_reporting_integrations()``. :func:`install`
(run when ``import workbench`` imports this module) adds ``"workbench"`` to both once that module has run: at once
when it is already imported, else from a ``sys.meta_path`` finder that wraps the module's
loader and registers right after the module's code has executed. Only then is
:mod:`workbench.integrations.hf` (and so transformers' ``TrainerCallback``) imported.

Standard library only: importing this module costs microseconds.
"""

from __future__ import annotations

import sys
import threading
import warnings
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from importlib.abc import Loader

__all__ = ["NAME", "install", "register"]

NAME = "workbench"
_TARGET = "transformers.integrations.integration_utils"
_lock = threading.Lock()


def register(module: ModuleType | None = None) -> bool:
    """Add ``"workbench"`` to transformers' integration table (and to ``report_to="all"``).

    Returns whether it is registered. Never raises: a failure is a warning, and then
    ``report_to="workbench"`` is refused by transformers as an unknown integration.
    """
    module = module if module is not None else sys.modules.get(_TARGET)
    if module is None:
        return False
    table = getattr(module, "INTEGRATION_TO_CALLBACK", None)
    if not isinstance(table, dict):
        return False
    if NAME in table:
        return True
    try:
        from workbench.integrations.hf import WorkbenchCallback
    except Exception as exc:  # noqa: BLE001 - an import of transformers must never fail because of us
        warnings.warn(f"workbench could not register report_to='workbench' with transformers: {exc}",
                      RuntimeWarning, stacklevel=2)
        return False
    table[NAME] = WorkbenchCallback
    available = getattr(module, "get_available_reporting_integrations", None)
    if callable(available) and not getattr(available, "_workbench", False):
        wrapped = _with_workbench(available)
        module.get_available_reporting_integrations = wrapped  # type: ignore[attr-defined]
        # transformers.integrations is a lazy module: a name it already served is cached there
        package = sys.modules.get("transformers.integrations")
        if package is not None and vars(package).get("get_available_reporting_integrations") is available:
            package.get_available_reporting_integrations = wrapped  # type: ignore[attr-defined]
    return True


def _with_workbench(available: Any) -> Any:
    """``get_available_reporting_integrations`` that also lists workbench, as transformers lists
    every other installed tracker (``report_to="all"``)."""

    def get_available_reporting_integrations() -> list[str]:
        names = list(available())
        if NAME not in names:
            names.append(NAME)
        return names

    get_available_reporting_integrations._workbench = True  # type: ignore[attr-defined]
    get_available_reporting_integrations.__doc__ = available.__doc__
    return get_available_reporting_integrations


class _Loader:
    """The loader of transformers' integration module, which registers workbench after it ran."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        register(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_filename...: tracebacks, inspect
        return getattr(self._loader, name)


class _Finder:
    """Finds nothing itself: wraps the loader the other finders give for transformers' module."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
                  ) -> ModuleSpec | None:
        if fullname != _TARGET:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec: ModuleSpec | None = finder.find_spec(fullname, path, target)
            if spec is None:
                continue
            if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = cast("Loader", _Loader(spec.loader))
            return spec
        return None


_finder = _Finder()


def install() -> None:
    """Register now if transformers' integration module is loaded, and whenever it is (again).

    The finder stays in ``sys.meta_path`` (one string comparison per new import): removing it
    could make another thread's import skip a finder, and ``importlib.reload`` of the module
    would drop the registration."""
    register()
    with _lock:
        if _finder not in sys.meta_path:
            sys.meta_path.insert(0, _finder)
    if _TARGET in sys.modules:  # imported by another thread meanwhile
        register()


install()  # `import workbench` imports this module: that is the whole of the hook-up
