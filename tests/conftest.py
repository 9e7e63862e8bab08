"""Shared fixtures: a fresh store per test, and helpers for components CI must have."""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
IN_CI = bool(os.environ.get("CI"))


def require_module(name: str) -> ModuleType:
    """Import ``name``; skip the test without it, except in CI, where a missing component fails."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if IN_CI:
            pytest.fail(f"CI must have {name!r} installed: {exc}")
        pytest.skip(f"{name} is not installed")


def require_program(path: str) -> str:
    """An executable that tests need (sshd, chromium): skip without it, fail in CI."""
    found = path if os.path.isabs(path) and os.access(path, os.X_OK) else shutil.which(path)
    if not found:
        if IN_CI:
            pytest.fail(f"CI must have {path} installed (see .ci/run)")
        pytest.skip(f"{path} is not installed")
    return found


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "the condition",
             interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy, and return that; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty store under tmp_path, also set as WORKBENCH_ROOT for subprocesses."""
    store = tmp_path / "store"
    monkeypatch.setenv("WORKBENCH_ROOT", str(store))
    monkeypatch.delenv("WORKBENCH_RUN_ID", raising=False)
    return store


@pytest.fixture
def python() -> str:
    return sys.executable
