"""Web app benchmark (issues 7 and 14): every page of ``workbench ui`` over 10,000 runs, in a real browser.

    python benchmarks/bench_app.py                # builds a 10,000-run store (about 1 minute)
    python benchmarks/bench_app.py --root DIR     # reuse a 10,000-run store from bench_core's make_runs

A real ``panel serve`` of the app (``workbench ui``'s own command line) and headless Debian
Chromium through Playwright, with the browser's cache on as a user's is (Playwright's request
routing, which the tests use to block the internet, turns the cache off; here requests are only
recorded, and any to another host fails the benchmark).

Three measures per page, each "navigation -> the page's content visible" (Runs and Artifacts: the
first table row; Compare and Run detail: a chart; Overview: the run count; Jobs, Remotes,
Settings: their form):

B1  first page of a new server: navigation to ``/webapp`` right after ``workbench ui`` answers
    (the session's imports and first build included); target <= 3 s
B2  load: a fresh browser page (a fresh Panel session) at ``/webapp?page=NAME``, the server warm
    and the sessions of earlier loads gone (a person opening a link); target <= 1 s
B3  in-app: a click on the page's button in the sidebar of a loaded session, first visit of the
    page in that session (the page is built) and a revisit (it is shown again); target <= 1 s

Baselines in the same run: the same pages over a 10-run store, and ``wb.runs`` of every run of the
10,000-run store in this process (the query alone).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
# the tests' browser harness (tests/apps/_browser.py imports tests/conftest.py)
sys.path[:0] = [str(HERE), str(HERE.parent / "tests"), str(HERE.parent / "tests" / "apps")]
from _common import best_of, report  # noqa: E402 - found through the path set just above

#: page -> (its sidebar label, what shows its content); the order alternates selectors so a
#: click never finds the last page's content
PAGES = {
    "overview": ("Overview", ".wb-counts"),
    "runs": ("Runs", ".wb-main .tabulator-row"),
    "compare": ("Compare", ".wb-main canvas"),
    "artifacts": ("Artifacts", ".wb-main .tabulator-row"),
    "detail": ("Run detail", ".wb-main canvas"),
    "jobs": ("Jobs", ".wb-main button:has-text('Launch')"),
    "remotes": ("Remotes", ".wb-main button:has-text('Test')"),
    "settings": ("Settings", ".wb-main :text('Worker slots')"),
}


def _marks(page: Any) -> tuple[float, float]:
    """The browser's own marks of the last navigation: first byte of the HTML (the server built
    the session) and DOMContentLoaded (the page's scripts parsed), in seconds."""
    nav = page.evaluate("(() => { const n = performance.getEntriesByType('navigation')[0];"
                        " return [n.responseStart, n.domContentLoadedEventEnd]; })()")
    return nav[0] / 1000, nav[1] / 1000


def _load(page: Any, url: str, selector: str) -> float:
    """Seconds from navigation to ``selector`` visible."""
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_selector(selector, state="visible", timeout=60_000)
    return time.perf_counter() - start


def _click(page: Any, label: str, selector: str) -> float:
    """Seconds from a click on the sidebar's ``label`` to ``selector`` visible."""
    button = page.locator(".wb-nav button", has_text=label).first
    start = time.perf_counter()
    button.click()
    page.wait_for_selector(selector, state="visible", timeout=60_000)
    return time.perf_counter() - start


@contextmanager
def serve(root: Path, logs: Path) -> Iterator[str]:
    """``workbench ui``'s own ``panel serve`` command on a free port (sessions of closed pages go
    within 3-4 s, the app's own setting)."""
    from _browser import free_port, wait_http

    from workbench.apps.server import serve_command, server_env

    port = free_port()
    with open(logs / f"panel-{port}.log", "wb") as out:
        # no token (as --no-token): the app is read-only, which is all a load-time measure needs
        proc = subprocess.Popen(serve_command(root, "127.0.0.1", port), stdout=out, stderr=subprocess.STDOUT,
                                env=server_env(root, None), start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/favicon.ico", 60, proc)
        yield f"http://127.0.0.1:{port}/webapp"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@contextmanager
def chromium() -> Iterator[tuple[Any, list[str]]]:
    """A headless Chromium context with its HTTP cache on; yields it and the list of requests made
    to any host but this machine."""
    from _browser import CHROMIUM, CHROMIUM_ARGS, LOCAL_HOSTS
    from playwright.sync_api import sync_playwright

    outside: list[str] = []

    def record(request: Any) -> None:
        parsed = urlparse(request.url)
        if parsed.scheme not in ("data", "blob") and parsed.hostname not in LOCAL_HOSTS:
            outside.append(request.url)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
        context.on("request", record)
        try:
            yield context, outside
        finally:
            context.close()
            browser.close()


def sample_runs(root: Path) -> list[str]:
    """Three runs of the store that logged metrics (Compare's and Run detail's subjects)."""
    import workbench as wb

    frame = wb.runs(root=root, columns=["run_id"], order_by="-created", limit=3)
    return [str(r) for r in frame["run_id"]]


def ensure_artifacts(root: Path, scratch: Path) -> None:
    """The Artifacts page needs versions to list: two of one artifact, made once per store."""
    import workbench as wb

    if len(wb.artifacts(root=root)):
        return
    for i in range(2):
        path = scratch / f"weights-{i}.txt"
        path.write_text(f"version {i}\n")
        wb.log_artifact(path, "bench-weights", type="model", metadata={"i": i}, root=root)


def measure(root: Path, logs: Path, repeat: int) -> dict[str, list[float]]:
    """B1-B3 for every page against one fresh server of ``root``."""
    runs = sample_runs(root)
    queries = {"compare": f"&runs={','.join(runs)}", "detail": f"&runs={runs[0]}"}
    times: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        times.setdefault(name, []).append(value)

    with serve(root, logs) as url, chromium() as (context, outside):
        page = context.new_page()
        add("B1 first page", _load(page, url, PAGES["overview"][1]))
        page.close()
        for i in range(repeat + 1):  # the first round warms the browser's cache and the server
            for name, (_label, selector) in PAGES.items():
                time.sleep(4.5)  # the server drops the last page's session (3 s unused, checked every 1 s)
                page = context.new_page()
                seconds = _load(page, f"{url}?page={name}{queries.get(name, '')}", selector)
                first_byte, parsed = _marks(page)
                page.close()
                if i:
                    add(f"B2 {name}", seconds)
                    add(f"B2 {name}: first byte", first_byte)
                    add(f"B2 {name}: DOMContentLoaded", parsed)
        for _ in range(repeat):
            time.sleep(4.5)
            page = context.new_page()  # a session with Compare's runs selected, opened at Overview
            _load(page, f"{url}?runs={','.join(runs)}", PAGES["overview"][1])
            for visit in ("first visit", "revisit"):
                for name, (label, selector) in PAGES.items():
                    if name == "overview" and visit == "first visit":
                        continue  # it is on screen already
                    add(f"B3 {name}: {visit}", _click(page, label, selector))
            page.close()
        if outside:
            raise SystemExit(f"pages reached outside the machine: {outside}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, help="an existing 10,000-run store (skips building one)")
    parser.add_argument("--repeat", type=int, default=5, help="loads per page and measure (default 5)")
    args = parser.parse_args()

    from bench_core import make_runs

    import workbench as wb

    tmp = Path(tempfile.mkdtemp(prefix="wb-bench-app-"))
    try:
        root = args.root
        if root is None:
            root = tmp / "a1"
            print(f"built 10,000 runs in {make_runs(root, 10_000):.1f} s", flush=True)
        small = tmp / "small"
        make_runs(small, 10)
        for store in (root, small):
            ensure_artifacts(store, tmp)
        logs = tmp / "logs"
        logs.mkdir()

        query = best_of(lambda: wb.runs(root=root), repeat=5)
        print(f"store: {len(wb.runs(root=root, columns=['run_id'])):,} runs; wb.runs of every row (the query "
              f"alone) {query * 1000:.0f} ms", flush=True)
        big = measure(root, logs, args.repeat)
        base = measure(small, logs, args.repeat)
        for name, values in (("10,000 runs", big), ("10 runs", base)):
            print(f"  {name}: " + "; ".join(f"{k} " + ", ".join(f"{v:.2f}" for v in vs) for k, vs in values.items()),
                  flush=True)
        first = big["B1 first page"][0]
        report("B1 first page after the server starts", first, "s", "<= 3 s", first <= 3,
               f"10 runs {base['B1 first page'][0]:.2f} s")
        for key in [k for k in big if k.startswith(("B2", "B3")) and ":" not in k.replace(": first visit", "")
                    .replace(": revisit", "")]:
            value = statistics.median(big[key])
            detail = f"max {max(big[key]):.2f} s; 10 runs {statistics.median(base[key]):.2f} s"
            if key.startswith("B2"):
                detail += (f"; first byte {statistics.median(big[key + ': first byte']):.2f} s, DOMContentLoaded "
                           f"{statistics.median(big[key + ': DOMContentLoaded']):.2f} s")
            report(key, value, "s", "<= 1 s", value <= 1, detail)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
