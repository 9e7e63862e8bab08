"""What a run records about where it ran: host, Python, packages, git, command, notebook."""

from __future__ import annotations

import functools
import getpass
import os
import platform
import socket
import subprocess
import sys
from typing import Any

__all__ = ["environment", "git_diff", "notebook_path"]

_PACKAGES = ("numpy", "pandas", "torch", "transformers", "peft", "accelerate", "datasets",
             "scikit-learn", "sklearn", "jax", "tensorflow", "lightning", "workbench")
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


def _package_versions() -> dict[str, str]:
    loaded = tuple(n for n in _PACKAGES if n.replace("-", "_") in sys.modules or n == "workbench")
    return dict(_versions_of(loaded))


@functools.lru_cache(maxsize=16)
def _versions_of(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    # reading package metadata parses files (about 1 ms a package): once per set of packages
    from importlib import metadata

    versions: dict[str, str] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return tuple(versions.items())


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
    info["packages"] = _package_versions()
    info["notebook"] = notebook_path()
    return info
