"""Issue 14, "URL is state": the web app's address <-> its view, without a browser.

The mapping (:mod:`workbench.apps.url_state`) and the app's use of it: a link's values reach the
views (checked, unknown ones left out), and the view's changes come back as the address to write.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tests.ui._stores import fill
from workbench.apps import url_state
from workbench.apps.url_state import MAX_RUNS, UrlState, parse, to_query, to_search
from workbench.settings import load_view
from workbench.ui.panels.model import VIEW_KEY

PAGES = ("overview", "runs", "compare", "detail")


def test_round_trip_keeps_every_value() -> None:
    state = UrlState(page="compare", project="nlp", where="config.lr < 0.01 and summary.acc > 0.5",
                     q="warm up", sort="summary.acc", runs=["abc123", "def456"], keys=["train/loss", "eval/acc"],
                     smooth=0.6, x="time", group="config.lr", search="loss")
    search = to_search(state)
    query = {k: v[0] for k, v in parse_qs(search[1:]).items()}
    assert list(query) == ["page", "project", "where", "q", "sort", "runs", "keys", "smooth", "x", "group", "search"]
    assert parse(query, PAGES) == state


def test_defaults_are_left_out() -> None:
    assert to_search(UrlState()) == ""
    assert to_query(UrlState(page="overview", sort="-created", smooth=0.0, x="step", keys=[], search="")) == {}
    assert to_query(UrlState(page="runs", sort="created")) == {"page": "runs", "sort": "created"}
    assert parse({}, PAGES) == UrlState()


def test_the_token_and_unknown_names_are_never_written() -> None:
    state = parse({"token": "s3cret-token-value", "page": "runs", "evil": "1"}, PAGES)
    assert to_search(state) == "?page=runs"


@pytest.mark.parametrize("query, expected", [
    ({"page": "nowhere"}, UrlState()),
    ({"page": "<script>"}, UrlState()),
    ({"smooth": "1.5"}, UrlState()),
    ({"smooth": "-0.1"}, UrlState()),
    ({"smooth": "nan"}, UrlState()),
    ({"smooth": "inf"}, UrlState()),
    ({"smooth": "lots"}, UrlState()),
    ({"x": "javascript:alert(1)"}, UrlState()),
    ({"sort": "name; drop table runs"}, UrlState()),
    ({"sort": "--created"}, UrlState()),
    ({"group": "config.lr) or (1=1"}, UrlState()),
    ({"runs": "a'b,<img src=x>,ok1,ok1,../x"}, UrlState(runs=["ok1"])),
    ({"where": "x" * (url_state.MAX_TEXT + 1)}, UrlState()),
    ({"keys": "loss,,a\x00b,acc"}, UrlState(keys=["loss", "acc"])),
])
def test_hostile_values_are_refused(query: dict[str, str], expected: UrlState) -> None:
    assert parse(query, PAGES) == expected


def test_hostile_text_stays_plain_text_and_is_escaped_in_the_address() -> None:
    where = "name = '<img src=x onerror=alert(1)>' & status = \"x\"#"
    state = parse({"where": where, "q": "a&page=settings", "search": "</script>"}, PAGES)
    assert (state.where, state.q, state.search) == (where, "a&page=settings", "</script>")
    search = to_search(state)
    assert "<" not in search and "&page=settings" not in search and "#" not in search
    assert {k: v[0] for k, v in parse_qs(urlparse(search).query).items()} == {
        "where": where, "q": "a&page=settings", "search": "</script>"}


def test_runs_are_capped() -> None:
    ids = [f"run{i}" for i in range(MAX_RUNS + 30)]
    state = parse({"runs": ",".join(ids)}, PAGES)
    assert state.runs == ids[:MAX_RUNS]
    assert to_query(UrlState(runs=ids))["runs"] == ",".join(ids[:MAX_RUNS])


# -- the app -------------------------------------------------------------------------------------
app_test = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # the app's Panel 1.x widget names


def _written(app: object) -> dict[str, str]:
    app.start_writing()  # type: ignore[attr-defined]  # what the page's onload does in a served session
    return {k: v[0] for k, v in parse_qs(app.written[1:]).items()}  # type: ignore[attr-defined]


@app_test
def test_a_link_opens_the_view_it_names_and_the_view_writes_it_back(root: Path) -> None:
    from workbench.apps.webapp import build_app

    ids = fill(root, 4, steps=10)
    query = {"page": "compare", "where": "config.lr < 0.05", "q": "run-00", "sort": "name",
             "runs": f"{ids[1]},nosuchrun,{ids[2]}", "keys": "acc,nosuchkey", "smooth": "0.5", "x": "relative",
             "search": "ac", "token": "never-written-token"}
    app = build_app(root, query)
    model = app.browser.model
    assert (model.where, model.search, model.sort_column, model.descending) == ("config.lr < 0.05", "run-00",
                                                                               "name", False)
    assert app.browser.selection.run_ids == [ids[1], ids[2]]  # the unknown id is left out
    metrics = app._compare.model
    assert (metrics.keys, metrics.smoothing, metrics.x_axis) == (["acc"], 0.5, "relative")
    assert metrics.error is None  # an unknown key in a link is left out, not an error
    panels = app._panels["compare"]
    assert panels.search == "ac" and [p.keys for p in panels.drawn()] == [("acc",)]
    assert (load_view("p", root=root).get(VIEW_KEY) or {}).get("search", "") == ""  # a link's search: not saved
    written = _written(app)
    assert written == {"page": "compare", "where": "config.lr < 0.05", "q": "run-00", "sort": "name",
                       "runs": f"{ids[1]},{ids[2]}", "keys": "acc", "smooth": "0.5", "x": "relative",
                       "search": "ac"}

    model.set_where("")  # the filter cleared: `where` leaves the address, even if the rows stay the same
    metrics.set_smoothing(0.0)
    app.show("runs")
    assert _written(app) == {"page": "runs", "q": "run-00", "sort": "name", "runs": f"{ids[1]},{ids[2]}",
                             "keys": "acc", "x": "relative"}


@app_test
def test_a_bad_link_shows_the_usual_errors_and_falls_back(root: Path) -> None:
    from workbench.apps.webapp import build_app

    fill(root, 2, steps=5)
    app = build_app(root, {"page": "settings'><script>", "where": "config.lr <<< 1", "runs": "x'--"})
    assert app.nav.value == "overview"
    model = app.browser.model
    assert model.error and model.error.startswith("Filter")  # the inline filter error, as if typed
    assert app.browser.selection.run_ids == []
    assert _written(app) == {"where": "config.lr <<< 1"}  # kept as the plain text the person sees
