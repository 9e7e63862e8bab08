"""Web app benchmark of issue 7: the Runs page of ``workbench ui`` over 10,000 runs, in a real browser.

    python benchmarks/bench_app.py                # builds a 10,000-run store (about 1 minute)
    python benchmarks/bench_app.py --root DIR     # reuse a 10,000-run store from bench_core's make_runs

A real ``panel serve`` of the app (the tests' harness, tests/apps/_browser.py) and headless Debian
Chromium through Playwright. Each load is a fresh browser page, so a fresh Panel session: the
server builds the session's page (RunBrowser query included) before the browser can draw it.

A1  navigation to ``/webapp?page=runs`` -> first table row visible (``.tabulator-row``)
    target <= 3 s (issue 7, acceptance 4); baseline: the same page over a 10-run store,
    and ``wb.runs`` of every run on the 10,000-run store in this process (the query alone)
A2  navigation to ``/webapp`` (overview) -> the run count shown
The first load of a server also pays the session's imports of the components; it is printed apart.
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

HERE = Path(__file__).resolve().parent
# the tests' browser harness (tests/apps/_browser.py imports tests/conftest.py)
sys.path[:0] = [str(HERE), str(HERE.parent / "tests"), str(HERE.parent / "tests" / "apps")]
from _common import best_of, report  # noqa: E402 - found through the path set just above

ROW = ".tabulator-row"


def _load(page: Any, url: str, selector: str) -> tuple[float, float, float]:
    """Seconds from navigation to ``selector`` visible (a fresh page each time: a fresh session),
    with the browser's own marks: first byte of the HTML (the server built the session) and
    DOMContentLoaded (scripts parsed)."""
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_selector(selector, state="visible", timeout=60_000)
    seconds = time.perf_counter() - start
    nav = page.evaluate("(() => { const n = performance.getEntriesByType('navigation')[0];"
                        " return [n.responseStart, n.domContentLoadedEventEnd]; })()")
    return seconds, nav[0] / 1000, nav[1] / 1000


@contextmanager
def serve(root: Path, logs: Path, *, reap: bool) -> Iterator[str]:
    """``workbench ui``'s own ``panel serve`` command on a free port (as the tests' harness starts it);
    with ``reap``, sessions of closed pages go within 3-4 s instead of Bokeh's 15-32 s (a lifetime
    under a second made Panel link its CSS from the CDN on later loads)."""
    from _browser import free_port, wait_http

    from workbench.apps.server import serve_command, server_env

    port = free_port()
    extra = ["--check-unused-sessions", "1000", "--unused-session-lifetime", "3000"] if reap else []
    with open(logs / f"panel-{port}.log", "wb") as out:
        # no token (as --no-token): the app is read-only, which is all a load-time measure needs
        proc = subprocess.Popen(serve_command(root, "127.0.0.1", port, extra=extra), stdout=out,
                                stderr=subprocess.STDOUT, env=server_env(root, None), start_new_session=True)
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


def measure(root: Path, logs: Path, repeat: int, *, single_user: bool) -> dict[str, list[float]]:
    """Load times of the Runs page and the overview against one server of ``root``.

    ``single_user``: before each load the sessions of earlier loads are gone (a person opening the
    app); otherwise loads follow each other and earlier sessions still poll the store (reloads).
    """
    from _browser import chromium

    import workbench as wb

    total = len(wb.runs(root=root, columns=["run_id"]))
    count_text = f"text={total} runs"
    times: dict[str, list[float]] = {"first runs": [], "first overview": [], "runs": [], "overview": []}
    marks: dict[str, list[tuple[float, float]]] = {"runs": [], "overview": []}
    with serve(root, logs, reap=single_user) as url, chromium(logs) as browser:
        context = browser.page.context
        browser.page.close()
        pages = {"runs": (f"{url}?page=runs", ROW), "overview": (url, count_text)}
        for i in range(repeat + 1):
            for name, (address, selector) in pages.items():
                if single_user:
                    time.sleep(4.5)  # the server drops the last page's session (reap: 3 s unused, checked every 1 s)
                page = context.new_page()
                seconds, first_byte, parsed = _load(page, address, selector)
                page.close()
                times[f"first {name}" if i == 0 else name].append(seconds)
                if i:
                    marks[name].append((first_byte, parsed))
        if browser.outside:
            raise SystemExit(f"pages reached outside the machine: {browser.outside}")
    for name, pairs in marks.items():
        times[f"{name}: first byte"] = [a for a, _ in pairs]
        times[f"{name}: DOMContentLoaded"] = [b for _, b in pairs]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, help="an existing 10,000-run store (skips building one)")
    parser.add_argument("--repeat", type=int, default=5, help="page loads per measure (default 5)")
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
        logs = tmp / "logs"
        logs.mkdir()

        query = best_of(lambda: wb.runs(root=root), repeat=5)
        print(f"store: {len(wb.runs(root=root, columns=['run_id'])):,} runs; wb.runs of every row (the query "
              f"alone) {query * 1000:.0f} ms", flush=True)
        for label, single in (("one user", True), ("back-to-back reloads", False)):
            big = measure(root, logs, args.repeat, single_user=single)
            base = measure(small, logs, args.repeat, single_user=single)
            for name, values in (("10,000 runs", big), ("10 runs", base)):
                print(f"  {label}, {name}: " + "; ".join(f"{k} " + ", ".join(f"{v:.2f}" for v in vs)
                                                         for k, vs in values.items()), flush=True)
            for key, title in (("runs", "Runs page: navigation -> table shown"),
                               ("overview", "Overview: navigation -> counts shown")):
                value = statistics.median(big[key])
                report(f"A{1 if key == 'runs' else 2} {title}", value, "s", "<= 3 s", value <= 3,
                       f"{label}; max {max(big[key]):.2f} s; same page, 10 runs {statistics.median(base[key]):.2f} s; "
                       f"first load of the server {big['first ' + key][0]:.2f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
