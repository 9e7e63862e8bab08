"""Issue 14, "URL is state", in headless Chromium on a real ``panel serve``: filter, sort and select
runs, open Compare, choose a key and a smoothing; the address bar then holds that view (and no
token), and the same address opened in a fresh browser context (no cookie: the token added, the way
the printed link carries it) shows the same page, filter, sort, selection, key and smoothing.
Clearing the filter takes ``where`` out of the address.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from _browser import chromium, panel_app, shots  # noqa: F401 - shots: a fixture

from tests.ui._stores import fill

pytestmark = pytest.mark.slow


def _query(page: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def _until(page: Any, check: Any, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: the address is {page.url}")
        page.wait_for_timeout(100)


def _compare_widgets(page: Any) -> tuple[list[str], str]:
    """Compare's chosen keys (the chooser's items) and the smoothing slider's text."""
    page.locator(".choices__list--multiple .choices__item").first.wait_for()
    keys = [t.replace("Remove item", "").strip()
            for t in page.locator(".choices__list--multiple .choices__item").all_inner_texts()]
    smoothing = page.get_by_text("Smoothing", exact=False).first.inner_text()
    return keys, smoothing


def test_a_copied_address_opens_the_same_view(root: Path, tmp_path: Path, shots: Path) -> None:  # noqa: F811
    ids = fill(root, 4, steps=10)  # run-000 .. run-003, config.lr 0.1, 0.01, 0.001, 0.0001
    with panel_app(root, tmp_path) as server, chromium(shots) as b:
        page = b.page
        page.goto(server.link("page=runs"))
        page.wait_for_selector(".tabulator-row")
        _until(page, lambda: "token" not in page.url, "the token left the address bar after the first load")
        where = page.get_by_placeholder("config.lr < 1e-3")
        where.fill("config.lr > 0.0005")
        where.press("Enter")
        _until(page, lambda: _query(page).get("where") == "config.lr > 0.0005", "the filter is written")
        _until(page, lambda: page.locator(".tabulator-row").count() == 3, "3 runs match")
        page.locator("select", has=page.locator("option", has_text="created")).first.select_option("name")
        _until(page, lambda: _query(page).get("sort") == "-name", "the sort is written")
        boxes = page.locator(".tabulator-row input[type=checkbox]")
        boxes.nth(0).click()  # by name, descending: run-002, run-001
        boxes.nth(1).click()
        _until(page, lambda: len(_query(page).get("runs", "").split(",")) == 2, "the selection is written")
        page.get_by_role("button", name="Compare selected").click()
        _until(page, lambda: _query(page).get("page") == "compare", "the page is written")
        page.locator(".choices__item", has_text="loss").locator("button").first.click()  # keep acc only
        _until(page, lambda: _query(page).get("keys") == "acc", "the chosen key is written")
        handle = page.locator(".noUi-handle").first
        handle.focus()
        for _ in range(3):
            handle.press("ArrowRight")
        _until(page, lambda: _query(page).get("smooth") == "0.03", "the smoothing is written")
        copied = _query(page)
        assert set(copied) == {"page", "where", "sort", "runs", "keys", "smooth"}, page.url
        assert copied["runs"].split(",") == [ids[2], ids[1]]
        keys, smoothing = _compare_widgets(page)
        assert keys == ["acc"] and "0.03" in smoothing, (keys, smoothing)
        url = page.url
        b.shot("url-state-compare")

        fresh = page.context.browser.new_context(viewport={"width": 1400, "height": 900})
        try:
            other = fresh.new_page()
            other.set_default_timeout(30_000)
            other.goto(url + "&token=" + str(server.token))
            assert (_compare_widgets(other)) == (keys, smoothing)
            legend = other.locator(".wb-legend").first.inner_text()
            assert "run-002" in legend and "run-001" in legend and "run-000" not in legend, legend
            _until(other, lambda: "token" not in other.url, "the token left the fresh address bar")
            assert _query(other) == copied
            other.get_by_role("button", name="Runs", exact=True).click()
            other.wait_for_selector(".tabulator-row")
            assert other.get_by_placeholder("config.lr < 1e-3").input_value() == "config.lr > 0.0005"
            assert other.locator(".tabulator-row").count() == 3
            assert other.locator("select", has=other.locator("option", has_text="created")).first.input_value() \
                == "name"
            assert other.locator(".tabulator-row input[type=checkbox]:checked").count() == 2
            assert other.locator(".tabulator-row").first.inner_text().count("run-002") == 1  # sorted by name, desc
            # the filter cleared: `where` leaves the address
            box = other.get_by_placeholder("config.lr < 1e-3")
            box.fill("")
            box.press("Enter")
            _until(other, lambda: "where" not in _query(other) and _query(other).get("page") == "runs",
                   "the cleared filter left the address")
            assert _query(other)["runs"] == copied["runs"]
        finally:
            fresh.close()
