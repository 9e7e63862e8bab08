"""``log_dataset`` of bytes: a dataset that arrives as content and a file name (a browser upload).

The dataset checks read files, and the file name's extension says the format; so the bytes are
written to a private temp directory under that (bare) name, logged from there like any path, and
the directory is removed whatever happens. Views therefore never write files themselves. A name
longer than 200 bytes is cut to that, its extension kept: a filesystem refuses names past 255.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import ArtifactError

if TYPE_CHECKING:
    from workbench.store.artifacts import ArtifactStore
    from workbench.store.artifacts.artifact import Artifact

__all__ = ["dataset_name", "log_dataset"]

_BAD = re.compile(r"[^A-Za-z0-9._-]+")
#: the bytes of an uploaded file's name that are kept: under the 255 a name may have on common filesystems
_NAME_BYTES = 200


def dataset_name(filename: str) -> str:
    """The artifact name a file suggests: ``reviews.train.csv`` -> ``reviews``."""
    stem = Path(filename).name.split(".")[0]
    return _BAD.sub("-", stem).strip("-._")[:128] or "dataset"


def _check_filename(filename: Any) -> str:
    if not isinstance(filename, str) or not filename.strip():
        raise ArtifactError(
            "an uploaded dataset needs a file name such as 'reviews.csv' (the extension says the format)"
        )
    if filename in (".", "..") or "/" in filename or "\\" in filename or "\x00" in filename:
        raise ArtifactError(
            f"file name {filename!r} of an uploaded dataset must be a bare name such as 'reviews.csv', not a path"
        )
    try:
        size = len(filename.encode("utf-8"))
    except UnicodeEncodeError:
        raise ArtifactError(
            f"file name {filename!r} of an uploaded dataset holds lone surrogates, which are not text; "
            "name it with valid Unicode, e.g. 'reviews.csv'"
        ) from None
    if size <= _NAME_BYTES:
        return filename
    # the name is only a hint (its extension says the format): cut it to what any filesystem takes
    stem, dot, extension = filename.rpartition(".")
    if not dot or not stem or len(extension) > 16:
        stem, dot, extension = filename, "", ""
    room = _NAME_BYTES - len(dot + extension)
    return stem.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip() + dot + extension


def log_dataset(
    store: ArtifactStore,
    source: bytes | bytearray | memoryview | str | os.PathLike[str],
    name: str | None = None,
    *,
    filename: str | None = None,
    required: Sequence[str] | None = None,
    aliases: Iterable[str] | str | None = None,
    metadata: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> Artifact:
    """Log ``source`` (a path, or bytes named by ``filename``) as a ``dataset`` version."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        filename = _check_filename(filename)
        with tempfile.TemporaryDirectory(prefix="workbench-upload-") as folder:
            path = Path(folder) / filename
            with path.open("xb") as handle:
                handle.write(bytes(source))
            return store.log(path, name or dataset_name(filename), "dataset", aliases, metadata,
                             run_id=run_id, required=required)
    if not isinstance(source, (str, os.PathLike)):
        raise ArtifactError(f"a dataset is a path or bytes, not {type(source).__name__}")
    path = Path(source).expanduser()
    return store.log(path, name or dataset_name(path.name), "dataset", aliases, metadata,
                     run_id=run_id, required=required)
