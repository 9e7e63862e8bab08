"""Issue 16: a MetricCompare zoom re-reads the steps in view at full resolution (``history(range=)``).

A long run (200,000 steps) with one planted single-point spike: the full-range chart holds about
``samples`` points, a few dozen of them in a 1,000-step window; after a zoom to that window every
step in it is drawn, with the logged values, the spike among them. The model, the notebook view
(bqplot: its PanZoom moves the shared x scale, set here as the front end would) and the Panel view
(a Bokeh ``RangesUpdate``/``Reset`` event, as BokehJS sends them) are driven in Python over a real
store; tests/apps/test_compare_zoom_browser.py zooms with the mouse in Chromium.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

import workbench as wb
from tests.conftest import require_module
from tests.ui._stores import QUIET, make_run
from workbench.ui import MetricCompare
from workbench.ui.compare.model import MetricCompareModel, Series

STEPS = 200_000
SPIKE = 123_457
LO, HI = 123_000, 124_000
SAMPLES = 2000


def _values(seed: int = 0) -> np.ndarray:
    values = 1.0 + 0.01 * np.random.default_rng(seed).standard_normal(STEPS)
    values[SPIKE] = 50.0
    return values


def _long_run(root: Path, name: str = "long", values: np.ndarray | None = None, finish: bool = True) -> wb.Run:
    run = wb.init(project="p", name=name, root=root, **QUIET)
    for step, value in enumerate(_values() if values is None else values):
        run.log({"loss": float(value)}, step=step)
    if finish:
        run.finish()
    return run


@pytest.fixture(scope="module")
def long_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """One store for the module (logging 200k steps takes a second): the long run and a short one."""
    root = tmp_path_factory.mktemp("zoom-store")
    long = _long_run(root)
    short = make_run(root, name="short", metrics={"loss": [2.0 - s / 500 for s in range(500)]})
    return root, long.id, short.id


def _in(series: Series, lo: float = LO, hi: float = HI) -> np.ndarray:
    assert series.steps is not None
    return (series.steps >= lo) & (series.steps <= hi)


def _long(model: MetricCompareModel, run_id: str) -> Series:
    return next(s for s in model.series if s.run_id == run_id)


def test_a_window_is_reread_at_full_resolution_and_reset_is_instant(long_store: tuple[Path, str, str]) -> None:
    root, long_id, short_id = long_store
    values = _values()
    model = MetricCompareModel([long_id, short_id], keys=["loss"], samples=SAMPLES, root=root)
    before = _long(model, long_id)
    full_x, full_y = before.x.copy(), before.y.copy()
    assert len(before.y) <= SAMPLES and _in(before).sum() < 60  # a 1,000-step window: a few buckets
    assert before.y.max() == 50.0  # M4 keeps the spike's value at full range, not its neighbours
    assert not ({SPIKE - 1, SPIKE + 1} <= set(before.steps[_in(before)].astype(int)))

    model.set_window(LO, HI)
    assert model.error is None
    after = _long(model, long_id)
    inside = after.steps[_in(after)].astype(int)
    assert np.array_equal(inside, np.arange(LO, HI + 1))  # every step of the window, in order
    assert np.array_equal(after.y[_in(after)], values[LO:HI + 1])  # the logged values, exactly
    assert after.y[after.steps == SPIKE][0] == 50.0
    assert after.steps[0] == 0 and after.steps[-1] == STEPS - 1  # outside the window: the full-range points
    assert model.window == (LO, HI) and model.window_steps == {long_id: (LO, HI)}  # the short run is complete
    assert "zoomed: steps 123,000 to 124,000 re-read" in model.status_text
    assert model.window_reads == 1
    short = _long(model, short_id)
    assert len(short.y) == 500  # not re-read: its 500 points were all there

    model.set_smoothing(0.5)  # smoothing keeps the window
    assert model.window == (LO, HI) and _in(_long(model, long_id)).sum() == HI - LO + 1

    model.reset_window()
    back = _long(model, long_id)
    assert model.window is None and model.window_steps == {} and model.window_reads == 1  # no read
    assert np.array_equal(back.x, full_x) and np.array_equal(back.y, full_y)
    assert "zoomed" not in model.status_text

    model.set_window(LO, HI)
    model.set_x_axis("relative")  # the charts are drawn anew: the window goes
    assert model.window is None and len(_long(model, long_id).y) == len(full_y)
    model.set_window(-1e9, 1e9)  # covering every series: the full range, nothing read
    assert model.window is None and model.window_reads == 2
    model.set_window(float("nan"), 3)
    assert model.error is not None and "finite" in model.error
    model.close()


@pytest.mark.parametrize("axis", ["relative", "time"])
def test_time_axes_map_the_window_back_to_steps(long_store: tuple[Path, str, str], axis: str) -> None:
    root, long_id, short_id = long_store
    model = MetricCompareModel([long_id, short_id], keys=["loss"], samples=SAMPLES, x_axis=axis, root=root)
    series = _long(model, long_id)
    lo = float(series.x[np.searchsorted(series.steps, LO)])
    hi = float(series.x[np.searchsorted(series.steps, HI, side="right") - 1])
    shown = {int(s) for s, x in zip(series.steps, series.x) if lo <= x <= hi}
    model.set_window(lo, hi)
    assert model.error is None and model.window == (lo, hi)
    first, last = model.window_steps[long_id]
    assert first <= min(shown) and last >= max(shown)  # never narrower than what the window shows
    assert last - first < 5_000  # and not much wider: the neighbouring full-range points
    zoomed = _long(model, long_id)
    assert np.array_equal(zoomed.steps[_in(zoomed, first, last)].astype(int), np.arange(first, last + 1))
    assert zoomed.y[zoomed.steps == SPIKE][0] == 50.0
    assert short_id not in model.window_steps
    model.close()


def test_a_zooms_many_events_read_one_window_at_a_time(long_store: tuple[Path, str, str]) -> None:
    root, long_id, _ = long_store
    model = MetricCompareModel([long_id], keys=["loss"], samples=SAMPLES, root=root)
    threads: list[int] = []
    stop = threading.Event()

    def count() -> None:
        while not stop.is_set():
            threads.append(sum(t.name == "workbench-ui-zoom" for t in threading.enumerate()))
            time.sleep(0.001)

    watcher = threading.Thread(target=count)
    watcher.start()
    try:
        windows = [(100_000 - 1000 * i, 150_000 + 1000 * i) for i in range(60)]  # a wheel zooming out
        for lo, hi in windows:
            model.request_window(lo, hi)
        assert model.wait_window(30)
    finally:
        stop.set()
        watcher.join()
    assert model.error is None
    assert 1 <= model.window_reads <= 3, model.window_reads  # the first window, then the latest (60 asked)
    assert max(threads) <= 1  # one read in flight at most
    assert model.window == windows[-1]  # the latest request is what is shown
    lo, hi = windows[-1]
    assert model.window_steps[long_id] == (lo, hi)
    reads = model.window_reads
    model.request_window(*windows[-1])  # the same window again (a linked chart): nothing read
    model.request_window("a", None)  # not numbers: ignored
    assert model.wait_window(10) and model.window_reads == reads and model.window == windows[-1]
    model.request_window(-1e12, 1e12)  # zoomed out past every line: the full range, at once
    assert model.window is None and model.window_reads == reads
    model.close()


def test_live_refresh_keeps_the_window(root: Path) -> None:
    values = _values()[:20_000]
    run = wb.init(project="p", name="live", root=root, **QUIET)
    for step in range(10_000):
        run.log({"loss": float(values[step])}, step=step)
    run.flush()
    try:
        model = MetricCompareModel([run.id], keys=["loss"], samples=500, root=root)
        model.set_window(2_000, 2_400)
        assert _in(model.series[0], 2_000, 2_400).sum() == 401
        for step in range(10_000, 20_000):
            run.log({"loss": float(values[step])}, step=step)
        run.flush()
        assert model.poll()
        series = model.series[0]
        assert model.window == (2_000, 2_400) and model.window_steps == {run.id: (2_000, 2_400)}
        assert np.array_equal(series.steps[_in(series, 2_000, 2_400)], np.arange(2_000, 2_401))
        assert series.steps[-1] == 19_999  # what it logged since, outside the window, at full range
        assert model.total_points == 20_000
    finally:
        run.finish()


def test_notebook_view_pan_zoom_requeries(long_store: tuple[Path, str, str]) -> None:
    require_module("bqplot")
    import bqplot as bq

    root, long_id, short_id = long_store
    component = MetricCompare([long_id, short_id], keys=["loss"], samples=SAMPLES, root=root, refresh=60)
    try:
        component.widget()
        view = component._views[0]
        model = component.model
        figure = view.figures[0]
        assert isinstance(figure.interaction, bq.interacts.PanZoom)
        assert figure.interaction.scales["x"] == [view.x_scale]
        raw = view._marks[0][0][1]  # the long run's raw line
        before = int(((raw.x >= LO) & (raw.x <= HI)).sum())
        assert before < 60
        with view.x_scale.hold_sync():  # what PanZoom sends back from the browser: min and max
            view.x_scale.min, view.x_scale.max = float(LO), float(HI)
        assert model.wait_window(30)
        assert model.window == (LO, HI)
        inside = raw.x[(raw.x >= LO) & (raw.x <= HI)]
        assert np.array_equal(inside, np.arange(LO, HI + 1)) and 50.0 in raw.y  # full resolution, the spike
        assert "zoomed" in view.info.value
        assert view.x_scale.min == LO and view.x_scale.max == HI  # the view stays where the user put it
        view.reset_zoom.click()
        assert model.window is None and view.x_scale.min is None and view.x_scale.max is None
        assert int(((raw.x >= LO) & (raw.x <= HI)).sum()) == before
    finally:
        component.close()


def test_notebook_view_time_axis_zoom(long_store: tuple[Path, str, str]) -> None:
    require_module("bqplot")
    import datetime as dt

    root, long_id, _ = long_store
    component = MetricCompare([long_id], keys=["loss"], samples=SAMPLES, x_axis="time", root=root, refresh=60)
    try:
        component.widget()
        view = component._views[0]
        series = component.model.series[0]
        at_lo, at_hi = np.searchsorted(series.steps, LO), np.searchsorted(series.steps, HI)
        lo, hi = float(series.x[at_lo]), float(series.x[at_hi])
        utc = dt.timezone.utc
        with view.x_scale.hold_sync():  # a DateScale's bounds come back as naive UTC datetimes
            view.x_scale.min = dt.datetime.fromtimestamp(lo, utc).replace(tzinfo=None)
            view.x_scale.max = dt.datetime.fromtimestamp(hi, utc).replace(tzinfo=None)
        assert component.model.wait_window(30)
        assert component.model.window == pytest.approx((lo, hi), abs=1e-3)
        first, last = component.model.window_steps[long_id]
        assert first <= series.steps[at_lo] and last >= series.steps[at_hi] and last - first < 5_000
    finally:
        component.close()


def test_panel_view_ranges_update_requeries(long_store: tuple[Path, str, str]) -> None:
    require_module("panel")
    from bokeh.events import RangesUpdate, Reset

    root, long_id, short_id = long_store
    component = MetricCompare([long_id, short_id], keys=["loss"], samples=SAMPLES, root=root, refresh=60)
    try:
        component.panel().get_root()
        view = component._views[0]
        figure = view.figures[0]
        source = view.sources[0][0]

        def inside() -> np.ndarray:
            x = np.asarray(source.data["x"])
            return x[(x >= LO) & (x <= HI)]

        assert len(inside()) < 60
        figure._trigger_event(RangesUpdate(figure, x0=LO, x1=HI, y0=0.0, y1=60.0))  # as BokehJS sends it
        assert component.model.wait_window(30) and component.model.window == (LO, HI)
        assert np.array_equal(inside(), np.arange(LO, HI + 1))
        assert 50.0 in list(source.data["y"])
        assert "zoomed" in view.info.object
        figure._trigger_event(Reset(figure))
        assert component.model.window is None and len(inside()) < 60
        # a wheel zoomed out past every line: RangesUpdate with the whole extent is the full range too
        figure._trigger_event(RangesUpdate(figure, x0=LO, x1=HI, y0=0.0, y1=60.0))
        assert component.model.wait_window(30) and component.model.window == (LO, HI)
        figure._trigger_event(RangesUpdate(figure, x0=-20_000, x1=220_000, y0=0.0, y1=60.0))
        assert component.model.window is None and len(inside()) < 60
        # on the wall-time axis Bokeh's x is milliseconds, the model's seconds
        view.x_axis.value = "time"
        series = next(s for s in component.model.series if s.run_id == long_id)
        lo, hi = float(series.x[np.searchsorted(series.steps, LO)]), float(series.x[np.searchsorted(series.steps, HI)])
        view.figures[0]._trigger_event(RangesUpdate(view.figures[0], x0=lo * 1000, x1=hi * 1000, y0=0.0, y1=60.0))
        assert component.model.wait_window(30)
        assert component.model.window == pytest.approx((lo, hi))
        first, last = component.model.window_steps[long_id]
        assert first <= LO + 500 and last >= HI - 500 and last - first < 5_000
    finally:
        component.close()
