"""What a run records about where it ran: host, Python, packages, git, command, notebook.

The installed distributions (every one ``importlib.metadata`` finds, name -> version) are read once
per process and stored once per environment, by digest (``workbench.store.environments``); the
record keeps the digest and a short map of the key ML packages taken from the same list.
"""

from __future__ import annotations

import functools
import getpass
import os
import platform
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    from workbench.store._paths import Layout

__all__ = ["environment", "git_diff", "installed", "notebook_path", "save_environment"]

#: the record's short ``packages`` map: these distributions (normalised names) when installed
_PACKAGES = ("numpy", "pandas", "torch", "transformers", "peft", "accelerate", "datasets", "tokenizers",
             "safetensors", "huggingface-hub", "trl", "diffusers", "bitsandbytes", "deepspeed", "scikit-learn",
             "jax", "flax", "tensorflow", "keras", "lightning", "pytorch-lightning")
#: this package's distribution ("workbench" before it was renamed on the package index)
_OWN = ("workbench-ml", "workbench")
_GIT_TIMEOUT = 5.0
DIFF_LIMIT = 1 << 20


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args], capture_output=True, timeout=_GIT_TIMEOUT, check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.decode("utf-8", "replace")


@functools.lru_cache(maxsize=8)
def _git_info(cwd: str) -> dict[str, Any] | None:
    del cwd  # the cache key: git runs in the current directory
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return None
    status = _git("status", "--porcelain", "--untracked-files=no") or ""
    branch = (_git("rev-parse", "--abbrev-ref", "HEAD") or "").strip() or None
    return {"commit": commit.strip(), "branch": branch, "dirty": bool(status.strip())}


def git_diff() -> bytes | None:
    """The uncommitted diff of the current directory's repository, at most 1 MiB."""
    return _git_diff(os.getcwd())


@functools.lru_cache(maxsize=8)
def _git_diff(cwd: str) -> bytes | None:
    del cwd  # the cache key
    diff = _git("diff", "HEAD")
    if not diff:
        return None
    data = diff.encode("utf-8")
    return data[:DIFF_LIMIT]


_SEPARATORS = re.compile(r"[-_.]+")


def _normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them: ``Foo_Bar.baz`` -> ``foo-bar-baz``."""
    return _SEPARATORS.sub("-", name).lower()


def _header(dist: Any) -> tuple[str | None, str | None]:
    """``(Name, Version)`` of a distribution from the head of its METADATA file (the fields come
    first: parsing the whole file, description included, costs 20 times more); through
    ``dist.metadata`` where the distribution is not a plain directory."""
    folder = getattr(dist, "_path", None)
    if isinstance(folder, (str, os.PathLike)):
        for filename in ("METADATA", "PKG-INFO"):
            name = version = None
            try:
                with open(os.path.join(folder, filename), "rb") as handle:
                    for line in handle:
                        if not line.strip():
                            break  # the end of the headers
                        if line.startswith(b"Name:"):
                            name = line[5:].strip().decode("utf-8", "replace")
                        elif line.startswith(b"Version:"):
                            version = line[8:].strip().decode("utf-8", "replace")
                        if name and version:
                            return name, version
            except OSError:
                continue
            return name, version
    try:
        return dist.metadata["Name"], dist.version
    except Exception:  # noqa: BLE001 - a broken distribution is left out, never a failed run
        return None, None


def _usable(text: str | None) -> TypeGuard[str]:
    # what the store's schema accepts as a name/version: one line of at most 1024 characters
    return text is not None and 0 < len(text) <= 1024 and text.isprintable()


@functools.lru_cache(maxsize=1)
def _installed() -> tuple[tuple[str, str], ...]:
    # ~200 distributions: ~30 ms to import importlib.metadata (when nothing did), ~10 ms to list
    # and read them; once per process (a package installed later shows in the next process)
    from importlib import metadata

    found: dict[str, str] = {}
    for dist in metadata.distributions():  # in sys.path order: the first of a name is the one imported
        name, version = _header(dist)
        if not (_usable(name) and _usable(version)):
            continue
        found.setdefault(_normalise(name), version)
    return tuple(sorted(found.items()))


def installed() -> dict[str, str]:
    """Every distribution installed in this process's environment: normalised name -> version,
    sorted by name (read once per process)."""
    return dict(_installed())


@functools.lru_cache(maxsize=1)
def _encoded() -> tuple[str, bytes]:
    from workbench.store.environments import encode_environment

    return encode_environment(dict(_installed()))


def save_environment(layout: Layout) -> tuple[str | None, str | None]:
    """Store this process's environment in ``layout`` once (``environments/<digest>.json``, written
    only when absent); ``(digest, warning)``. A store that refuses the write (a full disk) costs
    only the file: the digest comes back with a warning for the run's fault log. ``(None,
    warning)`` only when the environment could not be read at all."""
    try:
        digest, data = _encoded()
    except Exception as exc:  # noqa: BLE001 - capture must never stop a run from starting
        return None, f"the environment (installed packages) could not be read: {type(exc).__name__}: {exc}"
    path = layout.environment(digest)
    known = _saved.get(str(path))
    if known is not None:
        try:
            st = os.stat(path)
        except OSError:
            pass
        else:
            if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) == known:
                return digest, None  # the file this process wrote or checked, unchanged since
    from workbench.store._faults import describe
    from workbench.store.environments import write_environment

    try:
        if write_environment(layout, digest, data):
            unsynced.add(path)
        st = os.stat(path)
    except OSError as exc:
        return digest, (f"the environment {digest[:12]} ({len(_installed())} packages) was not saved: "
                        f"{describe(exc, layout.environments)}")
    _saved[str(path)] = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    return digest, None


#: environment files this process wrote or read back whole, by path: (device, inode, size, mtime);
#: a later run of the process that finds the file unchanged neither reads nor writes it
_saved: dict[str, tuple[int, int, int, int]] = {}
#: environment files this process wrote and no run's finish has made durable yet (the first run
#: of a process to finish fsyncs the file with its own: workbench/tracking/run.py)
unsynced: set[Path] = set()


@functools.lru_cache(maxsize=1)
def _package_versions() -> dict[str, str]:
    versions = dict(_installed())
    short = {name: versions[name] for name in _PACKAGES if name in versions}
    own = next((versions[name] for name in _OWN if name in versions), None)
    if own is not None:
        short["workbench"] = own  # under the name it is imported by
    return short


def notebook_path() -> str | None:
    """The notebook this kernel runs, when Jupyter or VS Code says so."""
    path = os.environ.get("JPY_SESSION_NAME")
    if path:
        return path
    ipython = sys.modules.get("IPython")
    if ipython is not None:
        shell = ipython.get_ipython()
        if shell is not None:
            vsc = shell.user_ns.get("__vsc_ipynb_file__")
            if vsc:
                return str(vsc)
    return None


@functools.lru_cache(maxsize=1)
def _static() -> dict[str, Any]:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = None
    return {
        "host": socket.gethostname(),
        "user": user,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "executable": sys.executable,
    }


def environment() -> dict[str, Any]:
    """Facts of this process, cheap after the first call (git and versions are cached)."""
    info = dict(_static())
    info["command"] = [sys.executable, *sys.argv] if sys.argv and sys.argv[0] else [sys.executable]
    info["cwd"] = os.getcwd()
    info["git"] = _git_info(info["cwd"])
    info["packages"] = dict(_package_versions())
    info["notebook"] = notebook_path()
    return info
