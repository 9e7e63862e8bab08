"""Aliases (``artifacts/<name>/aliases.json``: alias -> version) and refs that use them.

``latest`` always names the newest version: it is written for readers of the file, but
resolved from the manifests themselves, so it cannot go stale. Any other alias names one
version and moves when it is set again. A ref is ``name`` (the newest), ``name:v3`` or
``name:alias``.
"""

from __future__ import annotations

import re
from pathlib import Path

from workbench.errors import ArtifactError, ArtifactNotFound
from workbench.store._atomic import atomic_write_bytes, dumps_json
from workbench.store._schema import MAX_MANIFEST_BYTES, SchemaError, describe, load_aliases, read_bounded
from workbench.store.artifacts.manifests import list_versions
from workbench.store.artifacts.names import validate_alias, validate_name

__all__ = ["parse_ref", "read_aliases", "resolve", "write_aliases"]

_VERSION = re.compile(r"v([1-9][0-9]*)\Z")


def aliases_path(artifacts: Path, name: str) -> Path:
    return artifacts / name / "aliases.json"


def read_aliases(artifacts: Path, name: str) -> dict[str, int]:
    """Alias -> version of ``name`` (``latest`` included when the artifact has versions).

    The file is checked against the store's schema (``workbench/store/_schema.py``: an object of
    valid aliases, each naming a version number): :class:`ArtifactError` names the file and what
    is wrong.
    """
    path = aliases_path(artifacts, name)
    try:
        aliases = load_aliases(read_bounded(path, MAX_MANIFEST_BYTES))
    except (FileNotFoundError, NotADirectoryError):
        aliases = {}
    except OSError as exc:
        raise ArtifactError(f"alias file {path} cannot be read: {exc.strerror}") from exc
    except SchemaError as exc:
        raise ArtifactError(f"alias file {path}{describe(exc)}; delete it and set the aliases again") from None
    versions = list_versions(artifacts, name)
    if versions:
        aliases["latest"] = versions[-1]
    else:
        aliases.pop("latest", None)
    return aliases


def write_aliases(artifacts: Path, name: str, aliases: dict[str, int], *, fsync: bool) -> None:
    """Write the aliases (call under the name lock); ``latest`` is set to the newest version."""
    versions = set(list_versions(artifacts, name))
    clean = {k: v for k, v in sorted(aliases.items()) if v in versions}
    if versions:
        clean["latest"] = max(versions)
    data = dumps_json(clean)
    try:
        load_aliases(data)
    except SchemaError as exc:
        raise ArtifactError(f"artifact {name!r}: aliases not written, they would not be readable ({exc})") from None
    atomic_write_bytes(aliases_path(artifacts, name), data, fsync=fsync)


def parse_ref(ref: str) -> tuple[str, int | str | None]:
    """``(name, selector)``: selector is a version number, an alias, or None for the newest.

    Examples
    --------
    >>> parse_ref("classifier:v3")
    ('classifier', 3)
    >>> parse_ref("classifier:best")
    ('classifier', 'best')
    """
    if not isinstance(ref, str):
        raise ArtifactError(f"an artifact ref is a string like 'name:v3', not {type(ref).__name__}")
    name, sep, selector = ref.partition(":")
    validate_name(name)
    if not sep:
        return name, None
    if ":" in selector:
        raise ArtifactError(
            f"ref {ref!r} has more than one ':'; use 'name', 'name:v3' or 'name:alias' "
            "(refs to artifacts on a remote need `workbench sync` first)"
        )
    match = _VERSION.match(selector)
    if match:
        return name, int(match.group(1))
    if selector == "latest":
        return name, None
    return name, validate_alias(selector)


def resolve(artifacts: Path, ref: str) -> tuple[str, int]:
    """``(name, version)`` that ``ref`` names now; :class:`ArtifactNotFound` if none."""
    name, selector = parse_ref(ref)
    versions = list_versions(artifacts, name)
    if not versions:
        raise ArtifactNotFound(
            f"no artifact named {name!r} in {artifacts.parent}; list artifacts with `workbench artifacts ls`"
        )
    if selector is None:
        return name, versions[-1]
    if isinstance(selector, int):
        if selector not in versions:
            shown = ", ".join(f"v{v}" for v in versions[-5:])
            raise ArtifactNotFound(f"artifact {name!r} has no version v{selector} (it has {shown})")
        return name, selector
    aliases = read_aliases(artifacts, name)
    if selector not in aliases:
        known = ", ".join(sorted(aliases)) or "none"
        raise ArtifactNotFound(
            f"artifact {name!r} has no alias {selector!r} (aliases: {known}); set one with "
            f"`workbench artifacts alias {name}:v<N> {selector}`"
        )
    return name, aliases[selector]
