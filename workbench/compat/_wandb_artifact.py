"""``wandb.Artifact``: a W&B-shaped artifact that logs as a workbench artifact version.

A W&B artifact is built file by file (``add_file``, ``add_dir``, ``new_file``) and logged
whole. Here the files are only noted until ``log_artifact``; then they are staged in a private
temporary directory (hard links where possible, copies otherwise) under the names the artifact
gives them, and that directory is logged as one version. Versions: W&B counts from ``v0``,
workbench from ``v1``: W&B's ``v0`` is workbench's ``v1`` (refs are translated both ways).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from workbench.compat._wandb_missing import Unsupported
from workbench.errors import ArtifactError

if TYPE_CHECKING:
    from workbench.store.artifacts import Artifact as StoredArtifact

__all__ = ["Artifact", "from_wandb_ref", "stage", "to_wandb_version"]

_DESCRIPTION = "wandb.description"  # where W&B's description is kept in the version's metadata
_VERSION = re.compile(r"^v(\d+)$")


def to_wandb_version(version: int) -> str:
    """Workbench's version 1 is W&B's ``v0``."""
    return f"v{version - 1}"


def from_wandb_ref(ref: str) -> str:
    """A W&B ref (``entity/project/name:v0``, ``name:alias``, ``name``) as a workbench ref.

    The entity and project are dropped (a store has one namespace of artifact names); ``vN``
    becomes ``v(N+1)``; aliases (``latest``, ``best``) stay.
    """
    if not isinstance(ref, str) or not ref:
        raise ArtifactError(f"use_artifact({ref!r}): name an artifact, e.g. 'reviews:latest' or 'reviews:v0'")
    name = ref.rsplit("/", 1)[-1]
    base, sep, tag = name.partition(":")
    if not sep:
        return base
    match = _VERSION.match(tag)
    if match:
        return f"{base}:v{int(match.group(1)) + 1}"
    return f"{base}:{tag}"


def _member(name: str, what: str) -> str:
    """A file name inside the artifact: relative, no ``..``, forward slashes."""
    clean = name.replace(os.sep, "/").strip("/")
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if not parts or ".." in parts or os.path.isabs(name):
        raise ArtifactError(f"{what}: {name!r} is not a file name inside the artifact; use a relative "
                            "name without '..', e.g. 'data/train.csv'")
    return "/".join(parts)


class Artifact:
    """W&B's ``Artifact(name, type, description=None, metadata=None)``.

    Examples
    --------
    >>> import workbench.compat.wandb as wandb
    >>> art = wandb.Artifact("reviews", type="dataset", metadata={"source": "crawl"})  # doctest: +SKIP
    >>> art.add_file("reviews.csv")  # doctest: +SKIP
    >>> run.log_artifact(art, aliases=["best"])  # doctest: +SKIP
    >>> art.version  # doctest: +SKIP
    'v0'
    """

    def __init__(self, name: str, type: str, description: str | None = None,
                 metadata: Mapping[str, Any] | None = None, incremental: bool = False,
                 use_as: str | None = None, **ignored: Any) -> None:
        if incremental:
            raise Unsupported(f"wandb.Artifact({name!r}, incremental=True): build the whole version and log it; "
                              "files identical to an earlier version's are stored once anyway")
        self._name = name
        self.type = type
        self.description = description
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._entries: dict[str, Path] = {}
        self._scratch: Path | None = None  # new_file()'s files, removed once logged (or with the object)
        self._stored: StoredArtifact | None = None
        self._placed: Path | None = None
        self._aliases: list[str] = []

    # -- what it is -----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """``name`` before it is logged; ``name:v0`` (W&B's numbering) after."""
        if self._stored is None:
            return self._name
        return f"{self._name}:{to_wandb_version(self._stored.version)}"

    @property
    def source_name(self) -> str:
        return self.name

    @property
    def qualified_name(self) -> str:
        return self.name

    @property
    def version(self) -> str:
        """``v0`` for workbench's version 1 (W&B numbers from 0)."""
        return to_wandb_version(self._logged("version").version)

    @property
    def aliases(self) -> list[str]:
        if self._stored is None:
            return list(self._aliases)
        return list(self._stored.aliases)

    @property
    def digest(self) -> str:
        return self._logged("digest").digest

    @property
    def size(self) -> int:
        if self._stored is None:
            return sum(path.stat().st_size for path in self._entries.values())
        return self._stored.size

    @property
    def state(self) -> str:
        return "PENDING" if self._stored is None else "COMMITTED"

    @property
    def ref(self) -> str:
        """The workbench ref of the logged version (``name:v1`` for W&B's ``name:v0``)."""
        return self._logged("ref").ref

    def _logged(self, what: str) -> StoredArtifact:
        if self._stored is None:
            raise ArtifactError(f"artifact {self._name!r} has no {what} yet: log it first with "
                                "run.log_artifact(artifact)")
        return self._stored

    def __repr__(self) -> str:
        return f"<Artifact {self.name} type={self.type}>"

    # -- building it ------------------------------------------------------------------------------
    def _add(self, member: str, source: Path, overwrite: bool) -> None:
        if self._stored is not None:
            raise ArtifactError(f"artifact {self.name!r} is logged and cannot change; make a new "
                                f"wandb.Artifact({self._name!r}, ...) for the next version")
        old = self._entries.get(member)
        if old is not None and old != source and not overwrite:
            raise ArtifactError(f"artifact {self._name!r} already has a file {member!r} (from {old}); "
                                "pass overwrite=True or another name=")
        self._entries[member] = source

    def add_file(self, local_path: str | os.PathLike[str], name: str | None = None, is_tmp: bool = False,
                 skip_cache: bool | None = None, policy: str | None = None, overwrite: bool = False) -> None:
        """Add one file, as ``name`` (default: its file name)."""
        source = Path(local_path).expanduser()
        if not source.is_file():
            raise ArtifactError(f"add_file: {source} is not a file; pass the path of a file (add_dir takes a "
                                "directory)")
        self._add(_member(name or source.name, "add_file"), source.absolute(), overwrite)

    def add_dir(self, local_path: str | os.PathLike[str], name: str | None = None,
                skip_cache: bool | None = None, policy: str | None = None, merge: bool = False) -> None:
        """Add every file under a directory, under the prefix ``name`` (default: none)."""
        source = Path(local_path).expanduser()
        if not source.is_dir():
            raise ArtifactError(f"add_dir: {source} is not a directory; pass a directory (add_file takes a file)")
        prefix = _member(name, "add_dir") + "/" if name else ""
        for folder, dirs, files in os.walk(source):
            dirs.sort()
            for file in sorted(files):
                path = Path(folder, file)
                if path.is_file():
                    rel = path.relative_to(source).as_posix()
                    self._add(prefix + rel, path.absolute(), overwrite=merge)

    @contextlib.contextmanager
    def new_file(self, name: str, mode: str = "x", encoding: str | None = None) -> Iterator[IO[Any]]:
        """Write a new file of the artifact: ``with art.new_file("labels.txt") as f: f.write(...)``."""
        member = _member(name, "new_file")
        if not any(flag in mode for flag in "wxa"):
            raise ArtifactError(f"new_file({name!r}, mode={mode!r}): open it for writing ('w' or 'x')")
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="workbench-wandb-artifact-"))
            weakref.finalize(self, shutil.rmtree, self._scratch, True)
        path = self._scratch / "files" / member
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if member in self._entries:
            raise ArtifactError(f"artifact {self._name!r} already has a file {member!r}; use another name")
        with open(path, mode.replace("x", "w"), encoding=encoding if "b" not in mode else None) as handle:
            yield handle
        self._add(member, path, overwrite=False)

    def add_reference(self, uri: str, name: str | None = None, checksum: bool = True,
                      max_objects: int | None = None) -> None:
        """``file://`` references are copied in (a workbench artifact holds its files); others are refused."""
        if not isinstance(uri, str) or not uri.startswith("file://"):
            raise Unsupported(f"add_reference({uri!r}): workbench artifacts hold their files; only file:// "
                              "references are taken (and copied in). Download the object first and add_file() it")
        path = Path(uri[len("file://"):])
        if path.is_dir():
            self.add_dir(path, name)
        else:
            self.add_file(path, name)

    def add(self, obj: Any, name: str) -> None:
        raise Unsupported(f"artifact.add(obj, {name!r}): media objects land in a later release; save the "
                          "object to a file and add_file() it")

    def remove(self, item: str) -> None:
        """Remove a file (by its name in the artifact) before logging."""
        member = _member(item, "remove")
        if self._entries.pop(member, None) is None:
            raise ArtifactError(f"artifact {self._name!r} has no file {member!r}")

    # -- reading it -------------------------------------------------------------------------------
    def _bind(self, stored: StoredArtifact, placed: Path | None) -> Artifact:
        self._stored = stored
        self._placed = placed
        self.type = stored.type
        meta = dict(stored.metadata)
        self.description = meta.pop(_DESCRIPTION, self.description)
        self.metadata = meta
        return self

    @classmethod
    def _from_stored(cls, stored: StoredArtifact, placed: Path | None) -> Artifact:
        art = cls(stored.name, stored.type)
        return art._bind(stored, placed)

    def download(self, root: str | os.PathLike[str] | None = None, allow_missing_references: bool = False,
                 skip_cache: bool | None = None, path_prefix: str | None = None, multipart: bool | None = None) -> str:
        """The directory holding the version's files.

        Without ``root``: the store's cache of the version (files are read-only hard links to the
        blobs; copy one before changing it). With ``root``: a new or empty directory to place them in.
        """
        stored = self._logged("files")
        if root is None and self._placed is not None:
            return str(self._placed)
        import workbench

        return str(workbench.use_artifact(stored.ref, root, root=stored.root))

    def file(self, root: str | os.PathLike[str] | None = None) -> str:
        """The path of the version's only file."""
        stored = self._logged("files")
        if len(stored.files) != 1:
            raise ArtifactError(f"artifact {self.name!r} has {len(stored.files)} files, not one: use download()")
        return str(Path(self.download(root)) / stored.files[0].path)

    def files(self) -> list[str]:
        """The names of its files."""
        if self._stored is None:
            return sorted(self._entries)
        return [f.path for f in self._stored.files]

    def wait(self, timeout: int | None = None) -> Artifact:
        """Logging is synchronous here: returns the artifact at once."""
        return self

    def save(self) -> None:
        raise Unsupported("artifact.save() logs outside a run on the W&B server; log it with "
                          "run.log_artifact(artifact) (or workbench.log_artifact(path, name))")

    def link(self, target_path: str, aliases: Sequence[str] | None = None) -> None:
        raise Unsupported("artifact.link(): the W&B model registry is a server feature; give the version an "
                          "alias instead: workbench.set_alias(artifact.ref, 'production')")


def stage(artifact: Artifact) -> tempfile.TemporaryDirectory[str]:
    """A private temporary directory holding the artifact's files under their names; the caller
    cleans it up (``with stage(art) as path``)."""
    if not artifact._entries:
        raise ArtifactError(f"artifact {artifact._name!r} has no files: add_file(), add_dir() or new_file() first")
    tmp = tempfile.TemporaryDirectory(prefix="workbench-wandb-stage-")
    try:
        top = Path(tmp.name, "files")
        top.mkdir(mode=0o700)
        for member, source in artifact._entries.items():
            target = top / member
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            real = os.path.realpath(source)
            try:
                os.link(real, target)
            except OSError:  # another filesystem, or links refused: a copy
                shutil.copyfile(real, target)
    except BaseException:
        tmp.cleanup()
        raise
    return tmp


def metadata_of(artifact: Artifact) -> dict[str, Any]:
    """The metadata to log: W&B's, plus its description."""
    meta = dict(artifact.metadata)
    if artifact.description:
        meta[_DESCRIPTION] = artifact.description
    return meta
