"""The artifact commands, run as real subprocesses: artifacts, datasets, gc, fsck, du."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_module


def wb(*args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        capture_output=True,
        check=False,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"workbench {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"layers": 2}')
    (folder / "weights.bin").write_bytes(os.urandom(6_000_000))  # chunked
    return folder


def test_artifacts_add_ls_show_get_alias(root: Path, model_dir: Path, tmp_path: Path) -> None:
    out = wb(
        "artifacts",
        "add",
        str(model_dir),
        "--name",
        "clf",
        "--type",
        "model",
        "--alias",
        "best",
        "--metadata",
        '{"acc": 0.91}',
    ).stdout
    assert out.startswith("clf:v1") and "best" in out
    (model_dir / "config.json").write_text('{"layers": 3}')
    assert wb("artifacts", "add", str(model_dir), "--name", "clf", "--type", "model").stdout.startswith(
        "clf:v2"
    )

    listing = wb("artifacts", "ls").stdout
    assert "clf" in listing and "v2" in listing and "best:v1" in listing
    versions = [json.loads(line) for line in wb("artifacts", "ls", "clf", "--json").stdout.splitlines()]
    assert [v["ref"] for v in versions] == ["clf:v1", "clf:v2"] and versions[0]["aliases"] == ["best"]

    shown = wb("artifacts", "show", "clf:best").stdout
    assert "clf:v1" in shown and "acc = 0.91" in shown and "weights.bin" in shown and "chunks" in shown
    manifest = json.loads(wb("artifacts", "show", "clf", "--json").stdout)
    assert manifest["version"] == 2 and manifest["aliases"] == ["latest"]

    dest = tmp_path / "placed"
    path = Path(wb("artifacts", "get", "clf:v1", "--dest", str(dest)).stdout.strip())
    assert path == dest and (dest / "config.json").read_text() == '{"layers": 2}'
    assert (dest / "weights.bin").read_bytes() == (model_dir / "weights.bin").read_bytes()

    assert "clf:production -> clf:v2" in wb("artifacts", "alias", "clf:v2", "production").stdout
    assert json.loads(wb("artifacts", "show", "clf:production", "--json").stdout)["version"] == 2
    wb("artifacts", "alias", "clf", "production", "--delete")
    missing = wb("artifacts", "show", "clf:production", check=False)
    assert missing.returncode == 1 and "no alias 'production'" in missing.stderr


def test_get_records_the_consuming_run(root: Path, model_dir: Path) -> None:
    import workbench

    wb("artifacts", "add", str(model_dir), "--name", "clf", "--type", "model")
    run = workbench.init(project="cli", root=root, capture_output=False, system_metrics=False)
    run.finish()
    wb("artifacts", "get", "clf", "--run", run.id)
    assert f"used by  {run.id}" in wb("artifacts", "show", "clf").stdout


def test_rm_then_gc(root: Path, model_dir: Path) -> None:
    wb("artifacts", "add", str(model_dir), "--name", "clf", "--type", "model")
    (model_dir / "weights.bin").write_bytes(os.urandom(6_000_000))
    wb("artifacts", "add", str(model_dir), "--name", "clf", "--type", "model")
    out = wb("artifacts", "rm", "clf:v1").stdout
    assert "deleted clf:v1" in out and "run `workbench gc`" in out  # offered, not done: no terminal
    dry = wb("gc", "--dry-run").stdout
    assert dry.startswith("would remove 23 blob(s)")
    assert wb("gc").stdout.startswith("removed 23 blob(s)")
    assert wb("gc").stdout.startswith("removed 0 blob(s)")

    refused = wb("artifacts", "rm", "clf", check=False)  # a whole artifact needs --yes without a terminal
    assert refused.returncode == 1 and "--yes" in refused.stderr
    out = wb("artifacts", "rm", "clf", "--yes", "--gc").stdout
    assert "deleted clf:v2" in out and "removed 24 blob(s)" in out
    assert not [p for p in (root / "blobs" / "sha256").rglob("*") if p.is_file()]
    assert wb("artifacts", "ls").stdout.strip() == "(none)"


def test_fsck_exit_status(root: Path, model_dir: Path) -> None:
    wb("artifacts", "add", str(model_dir), "--name", "clf", "--type", "model")
    assert wb("fsck").stdout.rstrip().endswith("ok")
    blob = next(p for p in (root / "blobs" / "sha256").rglob("*") if p.is_file())
    os.chmod(blob, 0o644)
    with open(blob, "r+b") as handle:
        handle.write(b"\0\0\0\0")
    result = wb("fsck", check=False)
    assert result.returncode == 1
    assert f"corrupt blob {blob.name}" in result.stderr and "clf:v1" in result.stderr
    assert json.loads(wb("fsck", "--json", check=False).stdout)["corrupt"][0]["digest"] == blob.name


def test_du_reports_dedup(root: Path, model_dir: Path) -> None:
    for i in range(3):
        (model_dir / "config.json").write_text(f'{{"step": {i}}}')  # weights unchanged
        wb("artifacts", "add", str(model_dir), "--name", "clf", "--type", "model")
    data = json.loads(wb("du", "--json").stdout)
    assert data["versions"] == 3 and data["logical"] > 2.5 * data["unique"]
    assert data["saved"] > 0 and data["per_artifact"]["clf"]["versions"] == 3
    text = wb("du").stdout
    assert "saved by dedup" in text and "(2.9x)" in text


def test_datasets_add_ls_show(root: Path, tmp_path: Path) -> None:
    src = tmp_path / "reviews.csv"
    src.write_text("text,label\ngreat,1\nbad,0\n")
    out = wb("datasets", "add", str(src), "--name", "reviews", "--require", "text,label").stdout
    assert "reviews:v1" in out and "2 rows, columns: text, label" in out
    assert "reviews  v1" in wb("datasets", "ls").stdout
    shown = wb("datasets", "show", "reviews").stdout
    assert "2 rows" in shown and "label" in shown and "great" in shown
    assert json.loads(wb("datasets", "show", "reviews", "--json").stdout)["schema"] == {
        "text": "string",
        "label": "int64",
    }
    bad = tmp_path / "bad.csv"
    bad.write_text("text\nonly text\n")
    result = wb("datasets", "add", str(bad), "--name", "reviews", "--require", "text,label", check=False)
    assert result.returncode == 1 and "lacks required column(s) 'label'" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_name_is_a_clear_error(root: Path, model_dir: Path) -> None:
    result = wb("artifacts", "add", str(model_dir), "--name", "../escape", check=False)
    assert result.returncode == 1
    assert "workbench: error: artifact name '../escape'" in result.stderr and "Traceback" not in result.stderr
    assert not root.exists() or not (root / "artifacts").exists()


def test_progress_bar_on_request(root: Path, model_dir: Path) -> None:
    require_module("tqdm")  # skips locally without it, fails in CI
    quiet = wb("artifacts", "add", str(model_dir), "--name", "a")
    assert quiet.stderr == ""
    loud = wb("artifacts", "add", str(model_dir), "--name", "b", env={"WORKBENCH_PROGRESS": "always"})
    assert "hashing b" in loud.stderr
