"""Optional parts of workbench ("extras"): one clear line when a feature's packages are missing.

workbench is ``workbench-ml`` on the package index; its extras are ``system``, ``ui``,
``finetune`` and ``remote`` (pyproject.toml). A feature that needs one checks for it where a user
starts the feature, before anything else happens (before ``workbench ui`` prints its link, before
a fine-tune is queued), and raises :class:`~workbench.errors.MissingExtra`, whose message names the
feature, the missing module and the ``pip install`` command. Nothing here is imported by
``import workbench``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType

from workbench.errors import MissingExtra

__all__ = ["DISTRIBUTION", "check", "install_command", "require"]

#: the name of workbench on the package index (the import name stays ``workbench``)
DISTRIBUTION = "workbench-ml"


def install_command(extra: str) -> str:
    """``pip install 'workbench-ml[EXTRA]'``."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def _message(feature: str, extra: str, module: str) -> str:
    return f"{feature} needs the '{extra}' extra ({module} is not installed): {install_command(extra)}"


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported, asked without importing it (cheap, even for torch)."""
    if module in sys.modules:
        return sys.modules[module] is not None  # None: imports of it are blocked
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a missing parent package; a module without a spec
        return False


def check(*modules: str, extra: str, feature: str) -> None:
    """Raise :class:`MissingExtra` for the first of ``modules`` that is not installed.

    Imports none of them, so it costs microseconds: call it where a user starts ``feature``.

    >>> check("json", extra="ui", feature="workbench ui")
    """
    for module in modules:
        if not _installed(module):
            raise MissingExtra(_message(feature, extra, module), extra=extra, module=module)


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` and return it, or raise :class:`MissingExtra` naming ``extra``.

    A module that is installed but cannot import one of its own dependencies is named by that
    dependency (reinstalling the extra brings it back).
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = exc.name or module
        raise MissingExtra(_message(feature, extra, missing), extra=extra, module=missing) from exc
