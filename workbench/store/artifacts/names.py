"""Names that become paths: artifact names, aliases and types, checked before anything is written.

A name is 1-128 letters, digits, ``.``, ``_`` or ``-``, starting with a letter or digit. That
rules out ``/`` and ``\\`` (a path), ``..`` (a way out of ``artifacts/``), ``:`` (the ref
separator), control characters and whitespace. The error names the problem and suggests a name.
"""

from __future__ import annotations

import re
from typing import Any

from workbench.errors import ArtifactError

__all__ = ["RESERVED_ALIASES", "validate_alias", "validate_name", "validate_type"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
_VERSION = re.compile(r"v[0-9]+\Z")
#: aliases workbench maintains itself
RESERVED_ALIASES = frozenset({"latest"})


def _problem(name: str) -> str:
    if name == "":
        return "is empty"
    if "/" in name or "\\" in name:
        return "holds a path separator ('/' or '\\'), which would make it a path"
    if ".." in name:
        return "holds '..', which could point outside the store"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "holds control characters"
    if ":" in name:
        return "holds ':', which separates a name from its version or alias in a ref"
    if any(c.isspace() for c in name):
        return "holds whitespace"
    if len(name) > 128:
        return "is longer than 128 characters"
    if not name[0].isalnum():
        return "does not start with a letter or digit"
    return "holds characters other than letters, digits, '.', '_' and '-'"


def _suggest(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name)
    cleaned = re.sub(r"\.{2,}", ".", cleaned).strip(".-_")[:128]
    return cleaned or "my-artifact"


def _check(kind: str, name: Any) -> str:
    if not isinstance(name, str):
        raise ArtifactError(f"{kind} must be a string, not {type(name).__name__}")
    if not _NAME.match(name) or ".." in name:
        raise ArtifactError(
            f"{kind} {name!r} {_problem(name)}; use 1-128 letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit, e.g. {_suggest(name)!r}"
        )
    return name


def validate_name(name: Any) -> str:
    """``name`` if it is a valid artifact name, else :class:`ArtifactError` saying how to fix it.

    Examples
    --------
    >>> validate_name("sentiment-model")
    'sentiment-model'
    """
    return _check("artifact name", name)


def validate_alias(alias: Any, *, allow_reserved: bool = False) -> str:
    """A valid alias: a name that is not a version (``v3``) nor, unless allowed, ``latest``."""
    checked = _check("alias", alias)
    if _VERSION.match(checked):
        raise ArtifactError(f"alias {checked!r} looks like a version number; pick another, e.g. 'best'")
    if checked in RESERVED_ALIASES and not allow_reserved:
        raise ArtifactError(
            f"alias {checked!r} is maintained by workbench (it always names the newest version); "
            "pick another, e.g. 'production'"
        )
    return checked


def validate_type(kind: Any) -> str:
    """A valid artifact type such as ``model``, ``dataset`` or ``checkpoint``."""
    return _check("artifact type", kind)
