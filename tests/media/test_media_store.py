"""Issue 15: media in the store. Media and scalars in one ``log``; the per-run index (parquet, the
``media`` view of ``sql()``); deduplication across runs measured as du does (allocated blocks);
a resumed run keeps its media; ``rm`` and ``gc`` remove a run's media blobs that nothing else
uses; ``import workbench`` imports no PIL. Real stores under ``tmp_path``, the real CLI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import workbench as wb
from workbench.errors import StoreError
from workbench.media import media_bytes
from workbench.store._paths import Layout
from workbench.store.records import read_record

QUIET = {"capture_output": False, "system_metrics": False}


def noise(seed: int, *shape: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def du(path: Path) -> int:
    """Bytes allocated on disk under ``path``, each inode counted once (as ``du`` does)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(folder, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def blob_files(root: Path) -> dict[str, Path]:
    return {p.name: p for p in Layout(root).blobs.rglob("*") if p.is_file() and len(p.name) == 64}


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    return subprocess.run([sys.executable, "-m", "workbench", *args, "--root", str(root)], capture_output=True,
                          text=True, timeout=120, check=False, env=env, stdin=subprocess.DEVNULL)


def test_media_and_scalars_in_one_log_call(tmp_path: Path) -> None:
    with wb.init(project="media", root=tmp_path, **QUIET) as run:
        for step in range(4):
            run.log({"loss": 1.0 / (step + 1), "pred": wb.Image(noise(step, 8, 8, 3), caption=f"s{step}"),
                     "val": {"acc": step / 4, "sample": wb.Text(f"step {step}")}}, step=step)
        run.log({"only_media": wb.Histogram(np.arange(10.0))}, step=9)
    history = wb.history(run.id, root=tmp_path)
    assert sorted(set(history["key"])) == ["loss", "val.acc"]  # media are not metric points
    assert sorted(history[history.key == "loss"]["step"]) == [0, 1, 2, 3]
    items = wb.media(run.id, root=tmp_path)
    assert list(items.columns) == ["run_id", "key", "step", "time", "kind", "digest", "format", "shape",
                                   "caption", "size", "inline", "meta"]
    assert sorted(set(items["key"])) == ["only_media", "pred", "val.sample"]
    pred = items[items.key == "pred"]
    assert pred["step"].tolist() == [0, 1, 2, 3] and pred["caption"].tolist() == ["s0", "s1", "s2", "s3"]
    assert (pred["kind"] == "image").all() and pred["shape"].tolist() == [(8, 8, 3)] * 4
    assert str(items["time"].dtype).startswith("datetime64")
    assert wb.load_media(items[items.key == "val.sample"].iloc[2], root=tmp_path) == "step 2"
    assert items[items.key == "only_media"]["step"].tolist() == [9]
    # filters
    assert set(wb.media(run.id, keys="pred", root=tmp_path)["key"]) == {"pred"}
    assert set(wb.media([run.id], kinds=["text", "histogram"], root=tmp_path)["kind"]) == {"text", "histogram"}
    record = read_record(Layout(tmp_path), run.id)
    assert record["status"] == "completed"
    assert record["media"]["pred"] == {"kind": "image", "count": 4, "step": 3}
    assert record["metrics"]["loss"]["count"] == 4 and "pred" not in record["metrics"]
    assert run.summary["loss"] == pytest.approx(0.25)


def test_the_index_is_parquet_under_the_run(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    with wb.init(project="media", root=tmp_path, **QUIET) as run:
        run.log({"pred": wb.Image(noise(1, 4, 4, 3), caption="c")}, step=5)
    files = sorted((Layout(tmp_path).run_dir(run.id) / "media").glob("*.parquet"))
    assert files
    table = pq.read_table(files[0])
    for column in ("run_id", "key", "step", "time", "kind", "digest", "shape", "caption"):
        assert column in table.column_names
    assert table.to_pylist()[0]["key"] == "pred" and table.to_pylist()[0]["step"] == 5


def test_media_is_a_view_in_sql(tmp_path: Path) -> None:
    with wb.init(project="media", root=tmp_path, **QUIET) as run:
        for step in range(3):
            run.log({"pred": wb.Image(noise(step, 4, 4, 3)), "sample": wb.Text(str(step))}, step=step)
        run.log({"eval": wb.Table(columns=["a"], data=[[1]])}, step=3)
    counts = wb.sql("select key, count(*) as n from media group by key order by key", root=tmp_path)
    assert counts.values.tolist() == [["eval", 1], ["pred", 3], ["sample", 3]]
    kinds = wb.sql(f"select kind, max(step) as s from media where run_id = '{run.id}' group by kind order by kind",
                   root=tmp_path)
    assert kinds.values.tolist() == [["image", 2], ["table", 3], ["text", 2]]
    plain = wb.sql("select key, count(*) from media group by key", root=tmp_path)  # the query
    assert len(plain) == 3


def test_the_same_image_logged_by_ten_runs_takes_the_space_of_one(tmp_path: Path) -> None:
    image = noise(7, 256, 256, 3)  # noise: the PNG is about 200 KB, far above any block rounding
    ids = []
    for index in range(10):
        with wb.init(project="dedup", root=tmp_path, **QUIET) as run:
            run.log({"pred": wb.Image(image)}, step=index)
        ids.append(run.id)
    items = wb.media(ids, root=tmp_path)
    assert len(items) == 10 and items["digest"].nunique() == 1
    digest = items["digest"].iloc[0]
    blobs = blob_files(tmp_path)
    assert list(blobs) == [digest]
    one = du(Layout(tmp_path).blobs)
    size = int(items["size"].iloc[0])
    assert size > 150_000
    assert size <= one < size + 64 * 1024  # ten items, one blob's worth of blocks
    assert int(items["size"].sum()) == 10 * size  # the logical size is ten times that
    assert du(tmp_path) < 3 * size  # the whole store: ten indexes and records are small beside it


def test_a_resumed_run_keeps_its_media_index_and_counts(tmp_path: Path) -> None:
    with wb.init(project="media", id="resumable", root=tmp_path, **QUIET) as run:
        for step in range(3):
            run.log({"pred": wb.Image(noise(step, 4, 4, 3)), "loss": float(step)}, step=step)
        run.log({"sample": wb.Text("first")}, step=2)
    before = wb.media("resumable", root=tmp_path)
    with wb.init(id="resumable", resume="must", root=tmp_path, **QUIET) as again:
        assert again.resumed
        for step in range(3, 5):
            again.log({"pred": wb.Image(noise(step, 4, 4, 3)), "loss": float(step)}, step=step)
    after = wb.media("resumable", root=tmp_path)
    pred = after[after.key == "pred"]
    assert pred["step"].tolist() == [0, 1, 2, 3, 4]
    assert after[after.step <= 2].reset_index(drop=True).equals(before.reset_index(drop=True))
    record = read_record(Layout(tmp_path), "resumable")
    assert record["media"]["pred"] == {"kind": "image", "count": 5, "step": 4}
    assert record["media"]["sample"] == {"kind": "text", "count": 1, "step": 2}  # not logged again: kept
    for _, row in pred.iterrows():
        assert np.array_equal(np.asarray(wb.load_media(row, root=tmp_path)), noise(int(row["step"]), 4, 4, 3))


def test_import_workbench_imports_no_pil() -> None:
    code = ("import sys, workbench as wb; wb.Image; wb.media; "
            "print(sorted(m for m in sys.modules if m == 'PIL' or m.startswith('PIL.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stdout


def logged_by_two_runs(tmp_path: Path) -> tuple[str, str, dict[str, str]]:
    """Run ``a`` logs its own image, a table with an image cell, text, and a shared image; ``b``
    logs the shared image. Returns both ids and the digests."""
    shared, own, cell = noise(1, 32, 32, 3), noise(2, 32, 32, 3), noise(3, 16, 16, 3)
    with wb.init(project="rm", root=tmp_path, **QUIET) as a:
        a.log({"shared": wb.Image(shared), "own": wb.Image(own), "text": wb.Text("only in a"),
               "table": wb.Table(columns=["img"], data=[[wb.Image(cell)]])}, step=0)
    with wb.init(project="rm", root=tmp_path, **QUIET) as b:
        b.log({"shared": wb.Image(shared)}, step=0)
    rows = wb.media(a.id, root=tmp_path).set_index("key")
    table = wb.load_media(rows.loc["table"], root=tmp_path)
    digests = {key: rows.loc[key, "digest"] for key in ("shared", "own", "text", "table")}
    digests["cell"] = table["img"][0].removeprefix("wb-media:image:")
    assert set(digests.values()) <= set(blob_files(tmp_path))
    return a.id, b.id, digests


def assert_only_shared_left(tmp_path: Path, a: str, b: str, digests: dict[str, str]) -> None:
    left = set(blob_files(tmp_path))
    assert digests["shared"] in left
    for key in ("own", "text", "table", "cell"):
        assert digests[key] not in left, key
        with pytest.raises(StoreError):
            media_bytes(digests[key], root=tmp_path)
    row = wb.media(b, root=tmp_path).iloc[0]
    assert np.array_equal(np.asarray(wb.load_media(row, root=tmp_path)), noise(1, 32, 32, 3))


def test_gc_keeps_media_blobs_of_live_runs(tmp_path: Path) -> None:
    a, _, digests = logged_by_two_runs(tmp_path)
    done = cli(tmp_path, "gc")
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(digests.values()) <= set(blob_files(tmp_path))  # every run still lives: nothing removed
    rows = wb.media(a, root=tmp_path)
    assert len(rows) == 4 and all(wb.load_media(r, raw=True, root=tmp_path) for _, r in rows.iterrows())


def test_delete_run_then_gc_removes_its_media_blobs_not_used_by_others(tmp_path: Path) -> None:
    a, b, digests = logged_by_two_runs(tmp_path)
    wb.delete_run(a, root=tmp_path)
    done = cli(tmp_path, "gc")
    assert done.returncode == 0, done.stdout + done.stderr
    assert_only_shared_left(tmp_path, a, b, digests)


def test_workbench_rm_with_gc_removes_the_runs_media(tmp_path: Path) -> None:
    a, b, digests = logged_by_two_runs(tmp_path)
    done = cli(tmp_path, "rm", a, "--yes", "--gc")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not Layout(tmp_path).run_dir(a).exists()
    assert_only_shared_left(tmp_path, a, b, digests)
