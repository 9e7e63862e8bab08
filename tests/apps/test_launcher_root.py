"""The JupyterLab launcher card opens the store the user works on (issue 14): WORKBENCH_ROOT, else
the settings' default, as an absolute path, in the app's command line and its environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.apps import proxy


def _served_root(card: dict[str, object]) -> str:
    argv = card["command"](8123, "/user/me/")  # type: ignore[operator]
    return str(argv[argv.index("--root") + 1])


def test_the_card_opens_workbench_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path / "my-store"))
    card = proxy.setup()
    assert _served_root(card) == str(tmp_path / "my-store")
    env = card["environment"]()
    assert env["WORKBENCH_ROOT"] == str(tmp_path / "my-store")  # the app's launches go to the same store
    assert len(env["WORKBENCH_UI_TOKEN"]) >= 16


def test_a_relative_workbench_root_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBENCH_ROOT", "stores/demo")
    assert _served_root(proxy.setup()) == str(tmp_path / "stores" / "demo")


def test_without_workbench_root_the_settings_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_ROOT", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    card = proxy.setup()
    assert _served_root(card) == str(tmp_path / ".workbench")
    assert card["environment"]()["WORKBENCH_ROOT"] == str(tmp_path / ".workbench")


def test_the_card_reads_the_root_when_it_starts_the_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path / "first"))
    card = proxy.setup()
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path / "second"))
    assert _served_root(card) == str(tmp_path / "second")
