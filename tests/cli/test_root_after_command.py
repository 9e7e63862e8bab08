"""``--root`` after the command (``workbench runs --root X``) means what it means before it (issue 14)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

import workbench as wb
from workbench.cli import build_parser

Command = tuple[tuple[str, ...], argparse.ArgumentParser]


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[Command]:
    found: list[Command] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append(((*path, name), sub))
                found += _leaves(sub, (*path, name))
    return found


def test_every_command_accepts_root() -> None:
    commands = _leaves(build_parser())
    assert len(commands) > 25
    for path, parser in commands:
        assert "--root" in parser._option_string_actions, path


@pytest.mark.parametrize(("argv", "root"), [
    (["runs"], None),
    (["--root", "A", "runs"], "A"),
    (["runs", "--root", "B"], "B"),
    (["--root", "A", "runs", "--root", "B", "--limit", "2"], "B"),  # the last one given wins
    (["jobs", "ls", "--root", "C"], "C"),
    (["jobs", "--root", "C", "ls"], "C"),
    (["--root", "A", "jobs", "ls"], "A"),
    (["artifacts", "ls", "--root", "D"], "D"),
    (["demo", "--no-serve", "--root", "E"], "E"),
])
def test_root_before_or_after_the_command(argv: list[str], root: str | None) -> None:
    assert build_parser().parse_args(argv).root == root


def test_remote_add_keeps_its_own_root() -> None:
    """``remote add --root`` is the remote's store, as it always was; the local one goes before."""
    args = build_parser().parse_args(["--root", "/local", "remote", "add", "gpu", "--host", "h", "--root", "/srv/wb",
                                      "--python", "/usr/bin/python3"])
    assert (args.root, args.remote_root) == ("/local", "/srv/wb")
    assert build_parser().parse_args(["remote", "--root", "/local", "ls"]).root == "/local"


def test_a_real_command_reads_the_store_named_after_it(tmp_path: Path) -> None:
    mine, other = tmp_path / "mine", tmp_path / "other"
    for root, name in ((mine, "in-mine"), (other, "in-other")):
        with wb.init(project="p", name=name, root=root, system_metrics=False, capture_output=False) as run:
            run.log({"loss": 1.0})
    env = {"WORKBENCH_ROOT": str(other), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "workbench", "runs", "--json", "--root", str(mine)],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["name"] for line in done.stdout.splitlines()] == ["in-mine"]
    done = subprocess.run([sys.executable, "-m", "workbench", "runs", "--root"], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert done.returncode == 2 and "--root: expected one argument" in done.stderr, done.stderr
