"""A store is private (issue 11, acceptance 3): every directory workbench creates in it is 0700 and
every file 0600 (blobs 0400), whatever the process umask, and a store that exists keeps its modes.

Each test runs under the common umask 0o022, with which files made the default way come out
readable by everyone (0644, 0755): what is private here is private because workbench says so.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from _modes import common_umask, open_to_others  # noqa: F401 - common_umask: a fixture

import workbench as wb
from workbench.remote import Remote, add_remote
from workbench.settings import save_settings

pytestmark = pytest.mark.usefixtures("common_umask")


def file_names(root: Path) -> set[str]:
    return {p.name for p in root.rglob("*") if p.is_file()}


def test_a_new_store_and_everything_workbench_writes_in_it_are_owner_only(root: Path, tmp_path: Path) -> None:
    assert not root.exists()
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"dims": 4}')
    (model / "weights.bin").write_bytes(os.urandom(20_000))  # chunked below
    data = tmp_path / "reviews.csv"
    data.write_text("text,label\ngood,positive\nbad,negative\n")

    with wb.init(project="private", config={"lr": 0.1}, tags=["a"], root=root, system_metrics=False) as run:
        print("to the captured stdout.log")  # capture_output: logs/stdout.log, logs/stderr.log
        for step in range(40):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
            if step % 10 == 0:
                run.flush()  # several segments, then the compacted one at finish
        run.log_artifact(model, "model", type="model", aliases=["best"])
        run.use_artifact("model:best")  # usage.jsonl, placed in cache/ as hard links to blobs
    # settings, then a second version chunked and placed as copies, reassembled from its chunks
    save_settings(root, link_mode="copy", chunk_threshold=4096, chunk_size=4096)
    (model / "weights.bin").write_bytes(os.urandom(20_000))
    (model / "config.json").write_text('{"dims": 5}')
    wb.log_artifact(model, "model", type="model", root=root)
    placed = wb.use_artifact("model:v2", root=root)
    wb.log_dataset(data, root=root)
    wb.set_alias("reviews:v1", "train", root=root)
    wb.update_run(run.id, tags=["b"], root=root)
    add_remote(root, Remote(name="gpu", host="gpu1.example.org", root="/srv/wb", python="/usr/bin/python3"))
    assert len(wb.runs(root=root)) == 1 and len(wb.history(run.id, root=root)) == 40
    wb.sql("select count(*) from metrics", root=root)
    wb.reindex(root=root)  # a catalog snapshot written by DuckDB

    names = file_names(root)
    for expected in ("run.json", "stdout.log", "stderr.log", "journal", "state.json", "catalog.duckdb",
                     "v1.json", "v2.json", "aliases.json", "usage.jsonl", "store.lock", "model.lock",
                     "workbench.toml", "weights.bin"):
        assert expected in names, f"the test meant to make a {expected}"
    assert any(name.startswith("c-") and name.endswith(".parquet") for name in names)
    assert (placed / "weights.bin").stat().st_nlink == 1  # copied out of chunks, not linked
    assert open_to_others(root, root.parent) == []
    blobs = [p for p in (root / "blobs" / "sha256").rglob("*") if p.is_file()]
    assert blobs and {stat.S_IMODE(p.stat().st_mode) for p in blobs} == {0o400}  # read-only too
    assert stat.S_IMODE(os.stat(placed / "config.json").st_mode) == 0o600


def test_parents_that_workbench_creates_are_private_too(tmp_path: Path) -> None:
    root = tmp_path / "new" / "nested" / "store"
    wb.init(project="p", root=root, capture_output=False, system_metrics=False).finish()
    assert open_to_others(tmp_path / "new", tmp_path) == []


def test_settings_saved_first_make_a_private_store(tmp_path: Path) -> None:
    root = tmp_path / "store"
    save_settings(root, job_slots=2)
    assert open_to_others(root, root.parent) == []
    assert stat.S_IMODE(root.stat().st_mode) == 0o700


def test_an_existing_store_keeps_its_modes(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    root.mkdir(mode=0o755)
    root.chmod(0o755)  # the user's choice: workbench never changes it
    wb.init(project="p", root=root, capture_output=False, system_metrics=False).finish()
    assert stat.S_IMODE(root.stat().st_mode) == 0o755
    assert open_to_others(root, root.parent) == [f"shared {0o755:04o}"]  # everything inside is private


# Calls that create a file or directory with a mode of their own, and why each may. Everything
# else in the package creates through workbench/_private.py (make_dir, open_private,
# private_opener, restrict) or the atomic writes built on it: a new call that does not fails here.
_ALLOWED = {
    ("workbench/_private.py", "mkdir"): "the helper itself",
    ("workbench/_private.py", "os.open"): "the helper itself",
    ("workbench/store/artifacts/blobs.py", "os.open"): "blobs: READ_ONLY_MODE (0400)",
    ("workbench/store/artifacts/materialise.py", "mkdir"): "a dest of the user's, outside the store",
    ("workbench/store/artifacts/materialise.py", "copyfile"): "chmod-ed to 0600 (store) or 0644 (dest) at once",
    ("workbench/remote/_mirror.py", "write_bytes"): "rewrites a staged file written 0600 just before",
    ("workbench/jobs/executors/detached.py", "makedirs"): "the job's working directory",
    ("workbench/apps/demo.py", "write_text"): "a temporary directory",
    ("workbench/jobs/recipes/causal_lm.py", "write_text"): "the recipe's temporary directory",
    ("workbench/jobs/recipes/text_classification.py", "write_text"): "the recipe's temporary directory",
    ("workbench/compat/_wandb_artifact.py", "mkdtemp"): "W&B Artifact's staging directory (0700), outside the store",
    ("workbench/compat/_wandb_artifact.py", "mkdir"): "0700, inside the staging directory",
    ("workbench/compat/_wandb_artifact.py", "copyfile"): "inside the 0700 staging directory",
    ("workbench/compat/_wandb_artifact.py", "open"): "Artifact.new_file, inside the 0700 staging directory",
    ("workbench/compat/_wandb_run.py", "mkdtemp"): "a disabled run's scratch directory (0700), outside the store",
    ("workbench/importers/_mlflow.py", "mkdtemp"): "MLflow artifacts downloaded for one run (0700), outside the store",
    ("workbench/importers/_wandb.py", "mkdtemp"): "a W&B run's spilled series (0700), outside the store",
    ("workbench/importers/_wandb.py", "open"): "spill files inside that 0700 directory",
}


def _creating_calls(path: Path) -> set[tuple[str, str]]:
    import ast

    found = set()
    rel = path.relative_to(Path(wb.__file__).parent.parent).as_posix()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in ("mkdir", "makedirs", "write_text", "write_bytes", "mkdtemp", "touch", "copyfile"):
            found.add((rel, name))
        elif name == "open" and isinstance(func, ast.Attribute) and len(node.args) >= 3:
            found.add((rel, "os.open"))  # os.open with a mode of its own
        elif name == "open" and isinstance(func, ast.Name):
            mode = node.args[1] if len(node.args) > 1 else next(
                (k.value for k in node.keywords if k.arg == "mode"), None)
            writes = isinstance(mode, ast.Constant) and any(c in str(mode.value) for c in "wax")
            if writes and not any(k.arg == "opener" for k in node.keywords):
                found.add((rel, "open"))
    return found


def test_files_and_directories_are_created_through_the_private_helpers() -> None:
    package = Path(wb.__file__).parent
    found = set().union(*(_creating_calls(path) for path in package.rglob("*.py")))
    assert sorted(found - set(_ALLOWED)) == []
