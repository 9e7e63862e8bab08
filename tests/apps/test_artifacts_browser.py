"""Issue 14 in headless Chromium: the Artifacts page shows a version's metadata (a hostile value as
text) and a long file path whole, and downloading a file gives its exact bytes; the Jobs page
launches into a project typed in its Project field."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from _browser import chromium, panel_app, shots  # noqa: F401 - shots: a fixture

import workbench as wb
from tests.jobs._job_helpers import jobs_env  # noqa: F401 - a fixture

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("jobs_env")]

LONG = "/".join(["a-rather-long-directory-name-that-goes-on"] * 5) + "/and-finally-the-weights-file.safetensors"
HOSTILE = '<img src=x onerror="window.__wb_xss=1">'
DATA = bytes(range(256)) * 64 + b"\x00end"

#: the path cell's text and whether it is cut (wider than its cell), through Panel's shadow roots
PATH_CELL = """(name) => {
  const cells = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) walk(el.shadowRoot);
      if (el.matches(".tabulator-cell[tabulator-field='path']") && el.textContent.endsWith(name)) cells.push(el);
    }
  };
  walk(document);
  return cells.map((el) => ({text: el.textContent, cut: el.scrollWidth > el.clientWidth + 1}));
}"""


def _box(page: object, label: str) -> object:
    return page.locator(f"label:text-is('{label}') + * input, label:text-is('{label}') ~ input").first  # type: ignore[attr-defined]


def test_artifact_metadata_whole_paths_download_and_launch_into_a_project(
    root: Path, tmp_path: Path, shots: Path  # noqa: F811
) -> None:
    files = tmp_path / "files"
    (files / LONG).parent.mkdir(parents=True)
    (files / LONG).write_bytes(DATA)
    (files / "config.json").write_text('{"layers": 2}')
    wb.log_artifact(files, "model", type="model", metadata={"note": HOSTILE, "nested": {"lr": 0.0003}}, root=root)
    with wb.init(project="vision", name="earlier", root=root):
        pass

    with panel_app(root, tmp_path) as server, chromium(shots) as b:
        page = b.page
        page.goto(server.link("page=artifacts"))
        page.wait_for_selector(".wb-metadata")
        metadata = page.locator(".wb-metadata").first.inner_text()
        assert HOSTILE in metadata and '{"lr": 0.0003}' in metadata, metadata
        assert page.evaluate("() => window.__wb_xss") is None

        name = LONG.rsplit("/", 1)[-1]
        cells = page.evaluate(PATH_CELL, name)
        assert [c["text"] for c in cells] == [LONG], cells  # whole, not cut with an ellipsis
        assert not cells[0]["cut"], cells
        page.locator(".tabulator-cell[tabulator-field='path']", has_text=name).first.click()
        button = page.get_by_role("button", name=f"Download {name}")
        button.wait_for()
        with page.expect_download() as download:
            button.click()
        assert download.value.suggested_filename == name
        assert Path(download.value.path()).read_bytes() == DATA
        b.shot("artifacts-metadata-download")

        page.goto(server.link("page=jobs"))
        page.wait_for_selector("text=Recipe")
        command = _box(page, "command *")
        command.fill(f"{sys.executable} -c \"import workbench as wb; wb.init().finish()\"")  # type: ignore[attr-defined]
        command.press("Enter")  # type: ignore[attr-defined]
        project = _box(page, "Project")
        assert project.input_value() == "default"  # type: ignore[attr-defined]
        project.fill("nlp-sweeps")  # type: ignore[attr-defined]
        project.press("Enter")  # type: ignore[attr-defined]
        page.get_by_role("button", name="Launch", exact=True).click()
        page.wait_for_selector("text=in nlp-sweeps")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not len(wb.runs(project="nlp-sweeps", root=root)):
            time.sleep(0.2)
        runs = wb.runs(project="nlp-sweeps", root=root)
        assert len(runs) == 1 and runs["status"].iloc[0] in ("queued", "running", "completed"), runs
        b.shot("jobs-project")
        assert not b.outside
        log = server.log.read_text(errors="replace")
        assert "Traceback" not in log, log[-3000:]
