"""``history()``: long form, key filters, run id prefixes, and downsampling that keeps spikes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import workbench as wb

QUIET = {"flush_interval": 30.0, "system_metrics": False, "capture_output": False, "fsync": False}
STEPS = 10_000


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("history") / "store"
    ids = []
    for spike_at in (1234, 8765):
        run = wb.init(project="h", root=root, **QUIET)
        for step in range(STEPS):
            loss = 100.0 if step == spike_at else 1.0 + math.sin(step / 100)
            run.log({"loss": loss, "nan": math.nan if step == spike_at + 1 else 0.0, "lr": 0.1})
            if step % 2500 == 0:
                run.flush()
        run.finish()
        ids.append(run.id)
    return root, ids


def test_long_form_sorted_by_run_key_step(runs: tuple[Path, list[str]]) -> None:
    root, ids = runs
    frame = wb.history(list(reversed(ids)), root=root)
    assert list(frame.columns) == ["run_id", "key", "step", "value", "time"]
    assert len(frame) == 2 * 3 * STEPS
    assert frame.index.tolist() == list(range(len(frame)))
    order = frame.sort_values(["run_id", "key", "step"], kind="stable").index.tolist()
    assert order == list(range(len(frame)))
    assert set(frame["run_id"]) == set(ids)


def test_keys_and_prefixes(runs: tuple[Path, list[str]]) -> None:
    root, ids = runs
    frame = wb.history(ids[0][:12], keys=["loss", "lr"], root=root)
    assert set(frame["key"]) == {"loss", "lr"} and set(frame["run_id"]) == {ids[0]}
    assert len(wb.history(ids, keys="loss", root=root)) == 2 * STEPS
    assert wb.history(ids, keys=[], root=root).empty


@pytest.mark.parametrize("samples", [4, 100, 2000])
def test_samples_keep_spikes_ends_and_nans(runs: tuple[Path, list[str]], samples: int) -> None:
    root, ids = runs
    frame = wb.history(ids, keys=["loss", "nan"], samples=samples, root=root)
    for (run_id, key), series in frame.groupby(["run_id", "key"]):
        assert len(series) <= samples + 8, (key, len(series))
        steps = series["step"].tolist()
        assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == STEPS - 1
        spike_at = 1234 if run_id == ids[0] else 8765
        if key == "loss":
            assert series["value"].max() == 100.0
            assert spike_at in steps
        else:
            assert series["value"].isna().sum() == 1  # the divergence stays visible
    full = wb.history(ids, keys="loss", samples=STEPS, root=root)
    assert len(full) == 2 * STEPS  # enough samples: every point


def test_samples_must_be_positive(runs: tuple[Path, list[str]]) -> None:
    root, ids = runs
    with pytest.raises(wb.QueryError):
        wb.history(ids, samples=0, root=root)
    values = wb.history(ids[0], keys="loss", samples=50, root=root)["value"].to_numpy()
    assert np.isfinite(values).all()


def test_range_keeps_the_window_and_samples_it(runs: tuple[Path, list[str]]) -> None:
    root, ids = runs
    frame = wb.history(ids, keys="loss", range=(1000, 1999.5), root=root)
    assert len(frame) == 2 * 1000 and frame["step"].min() == 1000 and frame["step"].max() == 1999
    assert wb.history(ids[0], keys="loss", range=(None, 9), root=root)["step"].tolist() == list(range(10))
    assert wb.history(ids[0], keys="loss", range=(9990, None), root=root)["step"].tolist() == list(range(9990, STEPS))
    assert len(wb.history(ids[0], keys="loss", range=(np.int64(5), np.float64(5)), root=root)) == 1
    assert wb.history(ids[0], keys="loss", range=(STEPS, None), root=root).empty
    # the spike at 1234 survives sampling of a window around it, and no point leaves the window
    window = wb.history(ids[0], keys=["loss", "nan"], samples=40, range=(1100, 1400), root=root)
    assert window["step"].between(1100, 1400).all()
    loss = window[window["key"] == "loss"]
    assert 100.0 in loss["value"].tolist() and len(loss) <= 48
    assert window[window["key"] == "nan"]["value"].isna().any()


@pytest.mark.parametrize("bad", [(1,), (1, 2, 3), "0:10", 5, (math.nan, 1), (1, math.nan), (10, 1), (True, 5),
                                 ("1", 5), {"lo": 1}])
def test_range_must_be_a_pair_of_steps(runs: tuple[Path, list[str]], bad: object) -> None:
    root, ids = runs
    with pytest.raises(wb.QueryError, match="range"):
        wb.history(ids[0], range=bad, root=root)  # type: ignore[arg-type]
