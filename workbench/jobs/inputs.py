"""Checking a launch's inputs before a job exists: the dataset and the base model.

A dataset is a path (a table file or a directory of them, logged here as a ``dataset``
artifact) or the ref of a dataset artifact (``reviews:latest``); either way the launch pins the
version (``reviews:v3``) and checks that each table has one of the column sets the recipe takes.
A base model is a local model directory, a ``model`` artifact, or a Hugging Face hub id.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.errors import ArtifactError, ArtifactNotFound, DatasetError, JobError
from workbench.settings import Settings

__all__ = ["resolve_base_model", "resolve_dataset"]

_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?\Z")
_NAME_BAD = re.compile(r"[^A-Za-z0-9._-]+")


def _dataset_name(path: Path) -> str:
    stem = path.name if path.is_dir() else path.name.split(".")[0]
    name = _NAME_BAD.sub("-", stem).strip("-._")[:128]
    return name or "dataset"


def _tables(info: dict[str, Any], files: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Rows and columns of each table of a dataset description."""
    if "tables" in info:
        return {
            rel: {"rows": int(t.get("rows", 0)), "columns": list(t.get("columns") or [])}
            for rel, t in info["tables"].items()
        }
    from workbench.store.artifacts.datasets import table_format

    tables = [rel for rel in files if table_format(rel) is not None]
    rel = tables[0] if tables else "?"
    return {rel: {"rows": int(info.get("rows", 0)), "columns": list(info.get("columns") or [])}}


def _match(tables: dict[str, dict[str, Any]], alternatives: Sequence[Sequence[str]], shown: str) -> list[str]:
    """The column set every table has (the first that fits); DatasetError naming what is missing."""
    for wanted in alternatives:
        if all(all(c in t["columns"] for c in wanted) for t in tables.values()):
            return list(wanted)
    needs = " or ".join("(" + ", ".join(w) + ")" for w in alternatives)
    for rel, table in tables.items():
        if not any(all(c in table["columns"] for c in w) for w in alternatives):
            raise DatasetError(
                f"dataset {shown}: table {rel} has columns {', '.join(table['columns'])[:200]}, but the "
                f"recipe needs columns {needs}; rename the columns or pass the column names in the config "
                "(e.g. text_column=...)"
            )
    raise DatasetError(f"dataset {shown}: its tables do not share one of the column sets {needs}")


def resolve_dataset(
    value: str | os.PathLike[str], settings: Settings, alternatives: Sequence[Sequence[str]]
) -> dict[str, Any]:
    """Pin (and, for a path, log) the dataset; the ``dataset`` part of the launch spec."""
    from workbench.store.artifacts import ArtifactStore

    store = ArtifactStore(settings)
    given = os.fspath(value)
    path = Path(given).expanduser()
    if path.exists():
        from workbench.store.artifacts.datasets import describe_dataset
        from workbench.store.artifacts.files import collect_files

        files = collect_files(path)
        info = describe_dataset(files, settings)  # DatasetError: structure, encoding, limits
        tables = _tables(info, [rel for rel, _ in files])
        columns = _match(tables, alternatives, str(path))
        artifact = store.log(path, _dataset_name(path), type="dataset", required=columns)
    else:
        try:
            artifact = store.get(given)
        except ArtifactNotFound:
            raise JobError(
                f"dataset {given!r} is neither a file or directory (relative to {Path.cwd()}) nor a "
                "dataset artifact in this store; pass a path to a CSV, JSONL or parquet file, or a "
                "ref such as reviews:latest (list them with `workbench artifacts ls`)"
            ) from None
        except ArtifactError as exc:  # e.g. a name no artifact could have
            raise JobError(f"dataset {given!r} is neither a path nor a valid artifact ref: {exc}") from exc
        if artifact.type != "dataset":
            raise JobError(
                f"artifact {artifact.ref} is a {artifact.type!r}, not a dataset; log the data with "
                "type='dataset' (workbench.log_artifact)"
            )
        info = dict(artifact.metadata.get("dataset") or {})
        tables = _tables(info, [f.path for f in artifact.files])
        columns = _match(tables, alternatives, artifact.ref)
    return {
        "ref": artifact.ref,
        "given": given,
        "columns": columns,
        "tables": tables,
        "rows": sum(t["rows"] for t in tables.values()),
    }


def _looks_like_path(value: str) -> bool:
    # hub ids are "name" or "org/name" and never start with ".", "/" or "~"
    return value.startswith(("/", ".", "~")) or value.count("/") > 1 or "\\" in value


def resolve_base_model(value: str | os.PathLike[str], settings: Settings) -> dict[str, Any]:
    """The ``base_model`` part of the launch spec: ``{"kind": "path"|"artifact"|"hub", ...}``."""
    given = os.fspath(value)
    if not isinstance(given, str) or not given.strip():
        raise JobError(f"base_model must be a model directory, a model artifact or a hub id, not {value!r}")
    path = Path(given).expanduser()
    if path.exists():
        if not path.is_dir() or not (path / "config.json").is_file():
            raise JobError(
                f"base model {given!r} is not a model directory (no config.json in it); pass the "
                "directory that from_pretrained() loads"
            )
        return {"kind": "path", "path": str(path.resolve()), "given": given}
    if isinstance(value, os.PathLike) or _looks_like_path(given):
        raise JobError(
            f"base model path {given!r} does not exist (relative to {Path.cwd()}); pass an "
            "existing model directory, a model artifact ref or a hub id"
        )
    from workbench.store.artifacts import ArtifactStore

    store = ArtifactStore(settings)
    name = given.split(":", 1)[0]
    if (store.layout.artifacts / name).is_dir() and name in store.names():
        artifact = store.get(given)
        if artifact.type != "model":
            raise JobError(f"artifact {artifact.ref} is a {artifact.type!r}, not a model")
        return {"kind": "artifact", "ref": artifact.ref, "given": given}
    if _HUB_ID.match(given):
        return {"kind": "hub", "id": given, "given": given}
    raise JobError(
        f"base model {given!r} is neither an existing directory, a model artifact nor a hub id "
        "(such as 'org/model')"
    )
