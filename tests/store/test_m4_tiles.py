"""M4 tiles (issue 16, acceptance 7): ``history(samples=, range=)`` read from tiles keeps every
spike: at every zoom, the lowest and highest point of every bucket are the raw data's, and the
answer is the one M4 over the raw points gives for the same buckets, with tiles or without
(missing, corrupt), for finished and live runs. And the compaction policy's bounds."""

from __future__ import annotations

import math
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import workbench as wb
from workbench.settings import load_settings
from workbench.store import open_store, segments, tiles
from workbench.store._downsample import m4_indices
from workbench.store.store import Store, _series_window, step_window

QUIET = {"flush_interval": 30.0, "system_metrics": False, "capture_output": False, "fsync": False}
STEPS = 20_000
KEYS = ("loss", "grad")
SMALL_LEVELS = (2, 3, 5, 7, 9)  # small buckets, so that 20k steps use every level
WINDOWS: list[tuple[float | None, float | None] | None] = [
    None, (1234, 1300), (5000.5, 15000.2), (-100, 50), (19_990, None), (None, 777),
    (777, 777 + 4096), (3 * 512 + 17, 9 * 512 - 3), (STEPS + 5, None)]
SAMPLES = (4, 40, 400, 2000)


def _values(seed: int) -> tuple[dict[str, np.ndarray], list[tuple[str, int, float]]]:
    """Random walks with planted single-point spikes (up, down, NaN); the spikes."""
    rng = np.random.default_rng(seed)
    out, spikes = {}, []
    for k, key in enumerate(KEYS):
        series = np.cumsum(rng.normal(0, 1, STEPS))
        for step in rng.choice(STEPS, 24, replace=False).tolist():
            kind = step % 3
            value = math.nan if kind == 0 else (series[step] + 500 + k) if kind == 1 else (series[step] - 500 - k)
            series[step] = value
            spikes.append((key, step, value))
        out[key] = series
    return out, spikes


def _log(run: Any, values: dict[str, np.ndarray], lo: int, hi: int, flush_every: int) -> None:
    for step in range(lo, hi):
        run.log({key: float(values[key][step]) for key in KEYS}, step=step)
        if step % flush_every == flush_every - 1:
            run.flush()


def _tile_all(metrics: Path, levels: tuple[int, ...] = SMALL_LEVELS, skip: int = 0) -> int:
    """Small-level tiles for the run's metric files (all but every ``skip``-th); how many."""
    made = 0
    for i, path in enumerate(segments.effective_files(metrics)):
        if skip and i % skip == 0:
            continue
        if tiles.write(path, segments.read_table(path), levels=levels) is not None:
            made += 1
    return made


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[tuple[str, int, float]]]:
    root = tmp_path_factory.mktemp("tiles") / "store"
    values, spikes = _values(1)
    run = wb.init(project="tiles", root=root, **QUIET)
    _log(run, values, 0, STEPS, 1500)
    run.finish()
    assert _tile_all(open_store(root).layout.metrics_dir(run.id)) >= 1
    return root, run.id, spikes


def _raw_m4(root: Path, run_id: str, key: str, window: Any, samples: int) -> Any:
    raw = wb.history(run_id, keys=key, range=window, root=root)
    steps, values = raw["step"].to_numpy(), raw["value"].to_numpy()
    if not len(steps):
        return raw, raw, None
    span = _series_window(step_window(window), steps)
    return raw, raw.iloc[m4_indices(steps, values, samples, span)], tiles.bucket_width(*span, samples)


def _check(root: Path, run_id: str, spikes: list[tuple[str, int, float]], window: Any, samples: int) -> bool:
    """history(samples, range) against M4 of the raw points; True when a tile level served it."""
    got = wb.history(run_id, keys=list(KEYS), samples=samples, range=window, root=root)
    lo, hi = step_window(window) or (-(2 ** 63), 2 ** 63 - 1)
    served = False
    for key in KEYS:
        mine = got[got["key"] == key]
        raw, expected, width = _raw_m4(root, run_id, key, window, samples)
        assert mine["step"].tolist() == expected["step"].tolist(), (key, window, samples)
        assert np.array_equal(mine["value"].to_numpy(), expected["value"].to_numpy(), equal_nan=True)
        assert np.array_equal(mine["time"].to_numpy(), expected["time"].to_numpy())
        if width is None:
            continue
        served = served or tiles.usable_level(width, sum(1 << k for k in SMALL_LEVELS)) is not None
        # every bucket's lowest and highest value (and its NaN) is there: the spikes survive
        raw_steps, raw_values = raw["step"].to_numpy(), raw["value"].to_numpy()
        bucket = raw_steps // width
        got_bucket = mine["step"].to_numpy() // width
        got_values = mine["value"].to_numpy()
        for b in np.unique(bucket).tolist() if len(raw) > samples else []:
            inside, kept = raw_values[bucket == b], got_values[got_bucket == b]
            finite = inside[~np.isnan(inside)]
            if len(finite):
                assert np.nanmin(kept) == finite.min() and np.nanmax(kept) == finite.max(), (key, b)
            assert np.isnan(inside).any() == np.isnan(kept).any(), (key, b)
        present = set(raw_steps.tolist())
        for spike_key, step, value in spikes:  # each spike that is its bucket's extreme is there
            if spike_key != key or not lo <= step <= hi:
                continue
            if step not in present:
                continue  # a live run's points not flushed yet
            inside = raw_values[bucket == step // width]
            first_of = raw_steps[bucket == step // width]
            if math.isnan(value):
                extreme = len(raw) <= samples or first_of[np.isnan(inside)][0] == step
            else:
                extreme = len(raw) <= samples or value in (np.nanmin(inside), np.nanmax(inside))
            row = mine[mine["step"] == step]
            assert len(row) == int(extreme) or (not extreme and len(row) <= 1), (key, step, window, samples)
            if extreme:
                assert (math.isnan(value) and math.isnan(row["value"].iloc[0])) or row["value"].iloc[0] == value
    return served


def test_every_zoom_keeps_every_spike(finished: tuple[Path, str, list[tuple[str, int, float]]]) -> None:
    root, run_id, spikes = finished
    served = sum(_check(root, run_id, spikes, window, samples) for window in WINDOWS for samples in SAMPLES)
    assert served >= 10  # most zooms came from the tiles, not the raw points


def test_missing_or_corrupt_tiles_give_the_same_answer(tmp_path: Path,
                                                      finished: tuple[Path, str, list[tuple[str, int, float]]]) -> None:
    source, run_id, spikes = finished
    root = tmp_path / "store"
    shutil.copytree(source, root)
    tile_dir = tiles.tile_dir(open_store(root).layout.metrics_dir(run_id))
    cases = [(None, 40), ((5000.5, 15000.2), 200), ((777, 777 + 4096), 8)]
    expected = {c: wb.history(run_id, samples=c[1], range=c[0], root=root) for c in cases}
    import warnings

    import pyarrow as pa
    import pyarrow.parquet as pq

    for damage in ("other columns", "garbage"):
        for side in tile_dir.iterdir():
            if damage == "garbage":
                side.write_bytes(b"PAR1 not a parquet file PAR1")
            else:
                pq.write_table(pa.table({"level": [-1], "x": [1.0]}), side)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the metric files are sound: nothing to warn about
            for (window, samples), frame in expected.items():
                fresh = Store(load_settings(root))  # not the process's cached store: no file known bad
                assert fresh.history(run_id, samples=samples, range=window).equals(frame)
    shutil.rmtree(tile_dir)
    for (window, samples), frame in expected.items():
        assert wb.history(run_id, samples=samples, range=window, root=root).equals(frame)
    _check(root, run_id, spikes, (1234, 1300), 8)  # and raw reads are as exact
    # reindex writes them again (default levels: this run is too small for any, so none)
    open_store(root).reindex()
    assert not any(p.name.endswith(".parquet") for p in tile_dir.glob("*")) if tile_dir.exists() else True


def test_a_live_run_mixes_segments_compacted_files_and_tiles(tmp_path: Path) -> None:
    root = tmp_path / "store"
    values, spikes = _values(7)
    run = wb.init(project="live", root=root, **QUIET)
    try:
        _log(run, values, 0, STEPS, 900)
        metrics = open_store(root).layout.metrics_dir(run.id)
        files = segments.effective_files(metrics)
        assert len(files) >= 5 and any(p.name.startswith("s-") for p in files)
        assert _tile_all(metrics, skip=3) >= 2  # some files with tiles, some without
        for window in (None, (4000, 17_000.5), (100, 2100)):
            for samples in (8, 40, 2000):
                _check(root, run.id, spikes, window, samples)
    finally:
        run.finish()


def test_compaction_streams_keys_and_builds_the_same_tiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A merge of files whose steps go back (a later file logged earlier steps) sorts them; the
    tiles a merge builds piece by piece equal those of the whole table."""
    monkeypatch.setattr(tiles, "MIN_ROWS", 1 << 16)  # files of 80,000 points get tiles (1 M by default)
    metrics = tmp_path / "metrics"
    rng = np.random.default_rng(3)
    everything = []
    for seq, lo in enumerate((0, 70_000, 30_000, 100_000)):  # the third file goes back
        steps = np.repeat(np.arange(lo, lo + 10_000), 2)
        codes = np.tile(np.array([0, 1], np.int32), 10_000)
        values = rng.normal(size=len(steps))
        values[rng.choice(len(values), 5)] = np.nan
        times = steps * 0.5
        segments.write_segment(metrics, seq, segments.make_table(*segments.sort_points(
            steps, codes, ["b", "a"], values, times)), fsync=False)
        everything.append((steps, codes, values, times))
    target = segments.compact(metrics, fsync=False)
    assert target is not None and [p.name for p in segments.effective_files(metrics)] == [target.name]
    merged = segments.read_table(target)
    steps = np.concatenate([e[0] for e in everything])
    codes = np.concatenate([e[1] for e in everything])
    values = np.concatenate([e[2] for e in everything])
    whole = segments.make_table(*segments.sort_points(steps, codes, ["b", "a"], values,
                                                      np.concatenate([e[3] for e in everything])))
    assert merged.column("step").to_pylist() == whole.column("step").to_pylist()
    assert merged.column("key").to_pylist() == whole.column("key").to_pylist()
    assert np.array_equal(merged.column("value").to_numpy(), whole.column("value").to_numpy(), equal_nan=True)
    side = tiles.sidecar(target, target.stat().st_size)
    assert side.is_file()  # 80,000 points, over MIN_ROWS here: the merge wrote its tiles
    import pyarrow.parquet as pq

    written = pq.read_table(side)
    built = tiles.build(whole).table()
    assert written.column("level").to_pylist() == built.column("level").to_pylist()
    for name in ("bucket", *tiles.FIELDS):
        assert np.array_equal(written.column(name).to_numpy(), built.column(name).to_numpy(), equal_nan=True), name


def test_pieces_build_the_tiles_of_the_whole() -> None:
    rng = np.random.default_rng(5)
    steps = np.sort(rng.choice(100_000, 30_000, replace=False))
    values = rng.normal(size=len(steps))
    values[rng.choice(len(values), 30)] = np.nan
    values[rng.choice(len(values), 30)] = np.inf
    times = rng.random(len(steps))
    whole = tiles.Builder(SMALL_LEVELS)
    whole.add(steps, values, times)
    whole.end_key("k")
    pieces = tiles.Builder(SMALL_LEVELS)
    cuts = sorted(rng.choice(len(steps), 12, replace=False).tolist())
    for lo, hi in zip([0, *cuts], [*cuts, len(steps)]):
        pieces.add(steps[lo:hi], values[lo:hi], times[lo:hi])
    pieces.end_key("k")
    a, b = whole.table(), pieces.table()
    for name in ("level", "bucket", *tiles.FIELDS):
        assert np.array_equal(a.column(name).to_numpy(), b.column(name).to_numpy(), equal_nan=True), name


def _simulate(sizes: list[int], fan_in: int = segments.FAN_IN) -> tuple[int, int, list[int]]:
    """Apply the live policy after each flush: (points rewritten, most files at once, files left)."""
    files: list[int] = []
    rewritten = most = 0
    for size in sizes:
        files.append(size)
        while (span := segments.plan(files, fan_in=fan_in)) is not None:
            merged = sum(files[span[0]:span[1]])
            rewritten += merged
            files[span[0]:span[1]] = [merged]
        most = max(most, len(files))
    return rewritten, most, files


@pytest.mark.parametrize("kind", ["steady", "random", "growing", "big flushes", "full flushes between"])
def test_compaction_rewrites_n_log_n_and_keeps_few_files(kind: str) -> None:
    rnd = random.Random(kind)
    if kind == "steady":
        sizes = [20_000] * 5_000  # 100 M points in small flushes
    elif kind == "random":
        sizes = [rnd.choice([10, 100, 1_000, 20_000, 300_000]) for _ in range(5_000)]
    elif kind == "growing":
        sizes = [10 * i for i in range(1, 3_000)]
    elif kind == "big flushes":
        sizes = [rnd.randint(500_000, 1_800_000) for _ in range(100)]
    else:  # a flusher that fell behind writes a full file now and then: files before it still merge
        sizes = [9_000_000 if rnd.random() < 0.02 else rnd.choice([100, 5_000, 60_000]) for _ in range(5_000)]
    n = sum(sizes)
    rewritten, most, files = _simulate(sizes)
    full = sum(1 for f in files if f >= segments.FULL_ROWS)
    # every rewrite lifts its points a tier: at most log_fan_in(MAX_ROWS / BASE_ROWS) + 1 times each
    tiers = math.log(segments.MAX_ROWS / segments.BASE_ROWS, segments.FAN_IN) + 2
    assert rewritten <= tiers * n, (rewritten / n, tiers)
    assert rewritten <= 2 * n * math.log2(n)
    # besides full files (n / FULL_ROWS at most), fewer than fan_in files of each tier
    # files of a few M points (full, or left before a full one), and fewer than fan_in of each tier
    bound = 2 * n // segments.FULL_ROWS + segments.FAN_IN * (tiers + 1)
    assert most <= bound + 1, (most, bound)
    assert len(files) <= bound, (len(files), bound)
    if kind == "steady":  # one run of files that are not full: fewer than fan_in of each tier
        assert len(files) - full <= (segments.FAN_IN - 1) * (tiers + 1)
    assert all(f <= segments.MAX_ROWS for f in files)
    assert sum(files) == n


def test_a_long_run_of_many_flushes_stays_small_on_disk(tmp_path: Path) -> None:
    """Real files: 150 flushes, compact_live after each, like a run's flusher: each point is
    rewritten a bounded number of times, the files stay few, and nothing is lost."""
    metrics = tmp_path / "metrics"
    before = dict(segments.written)
    rng = np.random.default_rng(11)
    step, most, total = 0, 0, 0
    for seq in range(150):
        n = int(rng.integers(50, 700))
        steps = np.arange(step, step + n)
        step += n
        segments.write_segment(metrics, seq, segments.make_table(
            steps, np.zeros(n, np.int32), ["loss"], rng.normal(size=n), steps * 1.0), fsync=False)
        total += n
        segments.compact_live(metrics)
        most = max(most, len(segments.effective_files(metrics)))
    rows = segments.written["rows"] - before["rows"]
    assert rows <= 3 * total, rows / total  # log_8 of the point count: about 2 rewrites each
    assert most <= 2 * segments.FAN_IN
    segments.compact_finish(metrics, keep=4)
    files = segments.effective_files(metrics)
    assert len(files) == 1
    table = segments.read_table(files[0])
    assert table.column("step").to_pylist() == list(range(total))


def test_a_log_call_writes_when_the_flusher_falls_behind(tmp_path: Path) -> None:
    """Buffered calls stay bounded even when the background flusher never runs (it shares the
    GIL with the logging loop): past 4 x flush_calls, log() writes them itself."""
    run = wb.init(project="bound", root=tmp_path / "store", **{**QUIET, "flush_calls": 1000})
    try:
        most = 0
        for step in range(10_000):
            run.log({"a": 1.0, "b": float(step)}, step=step)
            most = max(most, len(run._buffer))
        assert most <= 4 * 1000 + 1
        assert segments.effective_files(open_store(tmp_path / "store").layout.metrics_dir(run.id))
    finally:
        run.finish()
    assert len(wb.history(run.id, keys="b", root=tmp_path / "store")) == 10_000


def test_the_finest_level_equals_the_general_merge() -> None:
    """The finest level is built straight from the points (tiles._finest); it must equal merging
    one-point tiles (tiles.reduce), on data with NaN, infinities and ties."""
    rng = np.random.default_rng(5)
    for _ in range(100):
        n = int(rng.integers(1, 2000))
        steps = np.sort(rng.integers(0, int(rng.integers(1, 4000)), n)).astype(np.int64)
        values = rng.normal(size=n)
        for share, value in ((0.1, np.nan), (0.05, np.inf), (0.05, -np.inf), (0.2, 0.5)):
            values[rng.random(n) < share] = value
        times = rng.random(n)
        for level in (0, 3, 8):
            want_groups, want = tiles.reduce(tiles.from_points(steps, values, times), steps >> level)
            groups, got = tiles._finest(steps, values, times, level)
            assert np.array_equal(groups, want_groups)
            for name in tiles.FIELDS:
                assert np.array_equal(got[name], want[name], equal_nan=True), name
