"""`workbench rm RUN`: the run leaves the store whole; what only it made can go with it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import workbench as wb


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120, check=False, env=dict(os.environ))


def blob_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in (root / "blobs").rglob("*") if p.is_file())


def test_rm_deletes_the_run_and_what_only_it_made(root: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(os.urandom(200_000))
    with wb.init(project="p", root=root, capture_output=False) as maker:
        maker.log({"loss": 1.0})
        maker.log_artifact(model, name="model", type="model")
    with wb.init(project="p", root=root, capture_output=False) as keeper:
        keeper.log({"loss": 2.0})
    assert blob_bytes(root) >= 200_000

    refused = cli("--root", str(root), "rm", maker.id)  # no TTY and no --yes: nothing happens
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert len(wb.runs(root=root)) == 2

    done = cli("--root", str(root), "rm", maker.id[:12], "--yes", "--artifacts", "--gc")
    assert done.returncode == 0, done.stderr
    assert wb.runs(root=root)["run_id"].tolist() == [keeper.id]
    assert not (root / "runs" / maker.id).exists()
    assert not [p for p in (root / "runs").iterdir() if p.name.startswith(".deleted-")]
    assert wb.artifacts(root=root).empty
    assert blob_bytes(root) == 0


def test_rm_keeps_versions_another_run_used(root: Path, tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("shared")
    with wb.init(project="p", root=root, capture_output=False) as maker:
        maker.log_artifact(data, name="notes", type="text")
    with wb.init(project="p", root=root, capture_output=False) as user:
        user.use_artifact("notes:latest")
    done = cli("--root", str(root), "rm", maker.id, "--yes", "--artifacts")
    assert done.returncode == 0, done.stderr
    assert wb.artifact("notes:v1", root=root).producer == maker.id  # kept: another run used it


def test_rm_refuses_a_running_run(root: Path) -> None:
    run = wb.init(project="p", root=root, capture_output=False)
    try:
        out = cli("--root", str(root), "rm", run.id, "--yes")
        assert out.returncode == 1 and "stop it first" in out.stderr
        assert (root / "runs" / run.id / "run.json").exists()
    finally:
        run.finish()
