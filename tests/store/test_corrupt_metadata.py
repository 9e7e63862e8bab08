"""Isolation of corrupt metadata (issue 12, acceptance 3): each kind of metadata file is truncated,
garbled and replaced by a directory in turn; every listing, page and command still works for the
rest of the store and names the bad file, and ``workbench fsck`` exits 1 naming it.

One store is built once (real runs, a queued job, artifact versions with aliases and usage, two
datasets, two remotes, a catalog snapshot) and copied for each case."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from workbench.cli import main as cli_main
from workbench.jobs import list_jobs
from workbench.jobs._paths import JobPaths
from workbench.remote import Remote, add_remote, list_remotes
from workbench.store._paths import FORMAT, Layout, new_run_id
from workbench.store.records import create_record

MODES = ("truncate", "garble", "directory")
CSV = b"text,label\ngreat,positive\nbroken,negative\n"


# -- the store every case starts from ----------------------------------------------------------------

def _run(root: Path, name: str) -> str:
    with wb.init(project="p", name=name, root=root, capture_output=False, system_metrics=False) as run:
        for step in range(20):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
    return run.id


def _job(root: Path, name: str) -> str:
    """A queued job as ``launch`` writes it (index marker, record, active marker), no scheduler."""
    layout, paths = Layout(root), JobPaths(root)
    paths.ensure()
    run_id = new_run_id()
    spec = {"recipe": "script", "config": {"command": ["true"]}, "executor": "local", "priority": 0, "retries": 0,
            "attempts": 0, "planned_steps": None}
    paths.mark(paths.index, run_id)
    create_record(layout, {"format": FORMAT, "id": run_id, "project": "p", "name": name, "status": "queued",
                           "created": 1.7e9, "config": {}, "summary": {}, "metrics": {}, "tags": [],
                           "job": spec}, fsync=False)
    paths.mark(paths.active, run_id)
    return run_id


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("template")
    root = base / "store"
    good, victim = _run(root, "good"), _run(root, "victim")
    good_job, victim_job = _job(root, "good-job"), _job(root, "victim-job")
    model = base / "model"
    model.mkdir()
    (model / "config.json").write_text('{"layers": 2}')
    (model / "weights.bin").write_bytes(os.urandom(50_000))
    wb.log_artifact(model, "model-a", type="model", root=root)
    (model / "config.json").write_text('{"layers": 3}')
    wb.log_artifact(model, "model-a", type="model", aliases=["best"], root=root, run=good)
    wb.use_artifact("model-a:best", run=good, root=root)
    (model / "config.json").write_text('{"layers": 4}')
    wb.log_artifact(model, "model-b", type="model", root=root)
    wb.log_dataset(CSV, filename="reviews.csv", root=root)
    wb.log_dataset(CSV.replace(b"great", b"fine"), filename="labels.csv", root=root)
    for name in ("gpu-a", "gpu-b"):
        add_remote(root, Remote(name=name, host=f"{name}.example.org", root="/srv/wb", python="/usr/bin/python3"))
    wb.reindex(root=root)
    assert wb.fsck(root=root).ok
    return {"root": root, "good": good, "victim": victim, "good_job": good_job, "victim_job": victim_job}


@pytest.fixture
def store(template: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    root = tmp_path / "store"
    shutil.copytree(template["root"], root, symlinks=True)
    monkeypatch.setenv("WORKBENCH_ROOT", str(root))
    return {**template, "root": root, "template_root": template["root"]}


# -- the corruptions --------------------------------------------------------------------------------

def _writable(path: Path) -> None:
    os.chmod(path, 0o600)


def corrupt_file(path: Path, mode: str) -> None:
    """Cut ``path`` in half, overwrite bytes in its middle (its footer, for parquet), or put a
    directory in its place."""
    _writable(path)
    data = path.read_bytes()
    if mode == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif mode == "garble":
        garbled = bytearray(data)
        at = len(data) - 12 if path.suffix == ".parquet" else len(data) // 2
        garbled[at : at + 12] = b'\x00\xff"}]{\xfe\x01oops'
        path.write_bytes(bytes(garbled))
    else:  # empty for parquet files (read as an empty dataset unless refused), not empty otherwise
        path.unlink()
        path.mkdir()
        if path.suffix != ".parquet":
            (path / "stray.txt").write_text("not what belongs here")


def corrupt_remote_table(root: Path, mode: str) -> Path:
    """Damage the ``[remotes.gpu-b]`` table of workbench.toml only (the file stays valid TOML)."""
    path = root / "workbench.toml"
    text = path.read_text()
    head, _, tail = text.partition("[remotes.gpu-b]")
    if mode == "truncate":  # cut after the table's first key: root and python are gone
        text = head + "[remotes.gpu-b]\n" + tail.splitlines()[1] + "\n"
    elif mode == "garble":
        text = head + "[remotes.gpu-b]" + tail.replace("port = 22", 'port = "twenty-two"')
    else:  # a value where a table belongs
        text = '[remotes]\n"gpu-b" = "not a table"\n\n' + head
    path.write_text(text)
    return path


def _victim(store: dict[str, Any], kind: str, mode: str) -> Path:
    """Corrupt one file of ``kind``; the path of the damaged file (what messages must name)."""
    root: Path = store["root"]
    if kind == "run record":
        path = root / "runs" / store["victim"] / "run.json"
    elif kind == "metric segment":
        path = sorted((root / "runs" / store["victim"] / "metrics").glob("*.parquet"))[-1]
    elif kind == "job record":
        path = root / "runs" / store["victim_job"] / "run.json"
    elif kind == "manifest":
        path = root / "artifacts" / "model-b" / "v1.json"
    elif kind == "alias file":
        path = root / "artifacts" / "model-a" / "aliases.json"
    elif kind == "usage log":
        path = root / "artifacts" / "model-a" / "usage.jsonl"
    elif kind == "dataset metadata":
        path = root / "artifacts" / "labels" / "v1.json"
        if mode == "garble":  # valid JSON, but the dataset's description is of the wrong shape
            _writable(path)
            path.write_text(path.read_text().replace('"rows": 2', '"rows": "two"'))
            assert '"rows": "two"' in path.read_text()
            return path
    elif kind == "catalog snapshot":
        path = next((root / "catalog").glob("snapshot-*/catalog.duckdb"))
    elif kind == "remote table":
        return corrupt_remote_table(root, mode)
    else:  # pragma: no cover
        raise AssertionError(kind)
    corrupt_file(path, mode)
    return path


KINDS = ("run record", "metric segment", "job record", "manifest", "alias file", "usage log", "dataset metadata",
         "remote table", "catalog snapshot")


# -- what every case checks ---------------------------------------------------------------------------

@contextlib.contextmanager
def caught() -> Iterator[list[str]]:
    """The warnings raised inside, as text (they are shown to users; here they are collected)."""
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        messages: list[str] = []
        yield messages
    messages += [str(r.message) for r in records]


def cli(*args: str) -> tuple[int, str, str]:
    """``workbench ARGS`` in this process (the same code as the command), warnings shown as it shows them."""
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        warnings.simplefilter("always")
        code = cli_main(list(args))
    return code, out.getvalue(), err.getvalue()


def wb_process(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120, check=False)


def named(path: Path, texts: list[str] | str, table: str | None = None) -> bool:
    joined = "\n".join([texts] if isinstance(texts, str) else texts)
    return str(path) in joined and (table is None or table in joined)


def _names(path: Path, kind: str) -> Callable[[list[str] | str], bool]:
    table = "gpu-b" if kind == "remote table" else None
    return lambda texts: named(path, texts, table)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_listing_works_for_the_rest_and_names_the_bad_file(
    store: dict[str, Any], kind: str, mode: str
) -> None:
    root: Path = store["root"]
    bad = _victim(store, kind, mode)
    names_bad = _names(bad, kind)

    # fsck first (the catalog is derived: the first query below rebuilds a damaged snapshot):
    # exit 1, the file named, what to do
    result = wb.fsck(root=root)
    assert not result.ok
    assert any(names_bad(f.path + " " + f.problem) for f in result.findings), result.findings
    process = wb_process("fsck")
    assert process.returncode == 1, process.stderr
    assert names_bad(process.stderr) and "fix: " in process.stderr and "Traceback" not in process.stderr

    # runs and their metric points (a new Store: the catalog loads the damaged snapshot cold)
    with caught() as said:
        frame = wb.runs(root=root)
        points = wb.history(store["good"], root=root)
        # a damaged block of the catalog snapshot is found when a query reads it (DuckDB checks
        # each block it reads): these read every table of it
        counts = [wb.sql(f"select count(*), max(hash(*columns(*))) from {view}", root=root) for view in
                  ("runs", "params", "summaries")]
    assert int(counts[0].iloc[0, 0]) == len(frame)
    expected_runs = {store["good"], store["victim"], store["good_job"], store["victim_job"]}
    if kind == "run record":
        expected_runs.discard(store["victim"])
    if kind == "job record":
        expected_runs.discard(store["victim_job"])
    assert set(frame["run_id"]) == expected_runs
    assert len(points) == 20
    if kind in ("run record", "job record", "catalog snapshot"):
        assert names_bad(said), said
    if kind == "metric segment":
        with caught() as said_history:
            assert wb.history(store["victim"], root=root).empty
        # the sql() reads above read every metric file: they may have named it first
        assert names_bad(said + said_history), (said, said_history)

    # artifacts, versions, aliases, datasets, disk usage
    with caught() as said:
        listing = wb.artifacts(root=root)
        usage = wb.disk_usage(root=root)
        users = wb.artifact("model-a:v2", root=root).used_by() if kind != "alias file" else []
    refs = set(listing["ref"])
    assert {"model-a:v1", "model-a:v2", "reviews:v1"} <= refs
    assert usage.versions == len(refs)
    if kind == "manifest":
        assert "model-b:v1" not in refs and names_bad(listing.attrs["skipped"]) and names_bad(said)
    elif kind == "dataset metadata":
        assert "labels:v1" not in refs and names_bad(listing.attrs["skipped"]) and names_bad(said)
    elif kind == "alias file":  # the versions stay, shown with `latest` only
        assert listing.set_index("ref").loc["model-a:v2", "aliases"] == ["latest"]
        assert names_bad(listing.attrs["skipped"])
    else:
        assert listing.attrs["skipped"] == [] and refs >= {"model-b:v1", "labels:v1"}
    if kind == "usage log":
        assert users == [] and names_bad(said)
    elif kind != "alias file":
        assert users and users[0] == store["good"]

    # jobs and remotes
    with caught() as said:
        jobs = {job.run_id for job in list_jobs(root)}
        remotes = [r.name for r in list_remotes(wb_settings(root))]
    assert store["good_job"] in jobs
    assert (store["victim_job"] in jobs) == (kind != "job record")
    assert "gpu-a" in remotes and ("gpu-b" in remotes) == (kind != "remote table")
    if kind in ("job record", "remote table"):
        assert names_bad(said), said

    # the pages' models: Artifacts, Runs, Jobs, Sync
    from workbench.ui.artifacts.model import ArtifactBrowserModel
    from workbench.ui.launch.monitor_model import JobMonitorModel
    from workbench.ui.runs.model import RunBrowserModel
    from workbench.ui.sync.model import SyncModel

    with caught():
        page = ArtifactBrowserModel(root)
        runs_page = RunBrowserModel(root=root)
        jobs_page = JobMonitorModel(root)
        sync_page = SyncModel(root)
    assert page.error is None and {"model-a", "reviews"} <= {a["name"] for a in page.artifacts}
    if kind in ("manifest", "dataset metadata", "alias file"):
        assert names_bad(page.skipped), page.skipped
    assert runs_page.error is None and store["good"] in runs_page.page_ids
    assert jobs_page.error is None and store["good_job"] in {j["run_id"] for j in jobs_page.jobs}
    assert sync_page.error is None and "gpu-a" in {r["name"] for r in sync_page.remotes}

    # the commands (in this process: the same code the command runs)
    for args in (["runs"], ["artifacts", "ls"], ["artifacts", "ls", "model-a"], ["datasets", "ls"], ["du"],
                 ["jobs", "ls"], ["remote", "ls"], ["artifacts", "show", "reviews"]):
        code, _, err = cli(*args)
        assert code == 0, (args, err)
        assert "Traceback" not in err
    for args, expect in ((["artifacts", "ls"], ("manifest", "alias file", "dataset metadata")),
                         (["du"], ("manifest", "dataset metadata")), (["jobs", "ls"], ("job record",)),
                         (["remote", "ls"], ("remote table",)), (["datasets", "ls"], ("dataset metadata",))):
        if kind in expect:
            assert names_bad(cli(*args)[2]), args


def wb_settings(root: Path) -> Any:
    from workbench.settings import load_settings

    return load_settings(root)


@pytest.mark.parametrize("kind", ["manifest", "alias file", "dataset metadata"])
def test_artifact_commands_as_processes_name_the_bad_file(store: dict[str, Any], kind: str) -> None:
    bad = str(_victim(store, kind, "truncate"))
    listing = wb_process("artifacts", "ls")
    assert listing.returncode == 0 and "model-a" in listing.stdout and bad in listing.stderr, listing.stderr
    usage = wb_process("du")
    assert usage.returncode == 0 and "artifact(s)" in usage.stdout
    assert (bad in usage.stderr) == (kind != "alias file"), usage.stderr  # du does not read alias files
    datasets = wb_process("datasets", "ls")
    assert datasets.returncode == 0 and "reviews" in datasets.stdout
    assert bad in datasets.stderr, datasets.stderr  # any damaged manifest might have been a dataset's
    for process in (listing, usage, datasets):
        assert "Traceback" not in process.stderr


def test_gc_refuses_while_a_manifest_is_damaged_and_says_which(store: dict[str, Any]) -> None:
    root: Path = store["root"]
    wb.log_artifact(__file__, "scratch", root=root)
    cli("artifacts", "rm", "scratch:v1")  # its blob is now unreferenced
    bad = _victim(store, "manifest", "garble")
    blobs_before = sorted(p.name for p in (root / "blobs").rglob("*") if p.is_file())
    process = wb_process("gc")
    assert process.returncode == 1 and str(bad) in process.stderr
    assert "removed nothing" in process.stderr or "without removing anything" in process.stderr
    assert sorted(p.name for p in (root / "blobs").rglob("*") if p.is_file()) == blobs_before
    # deleting another version still works, and says why no blob was collected
    code, out, err = cli("artifacts", "rm", "model-a:v1", "--gc")
    assert code == 0 and "deleted model-a:v1" in out and str(bad) in err


def test_a_damaged_next_version_stops_a_number_from_being_reused(store: dict[str, Any]) -> None:
    root: Path = store["root"]
    cli("artifacts", "rm", "model-a:v2")  # v2's number is reserved in next_version
    reserved = root / "artifacts" / "model-a" / "next_version"
    assert reserved.read_text().strip() == "3"
    corrupt_file(reserved, "garble")
    with pytest.raises(wb.ArtifactError, match="next_version"):
        wb.log_artifact(__file__, "model-a", type="model", root=root)
    result = wb.fsck(root=root)
    assert [f.kind for f in result.findings] == ["next_version"] and result.findings[0].path == str(reserved)


def test_fsck_names_a_settings_file_it_cannot_read_and_checks_the_rest(store: dict[str, Any]) -> None:
    root: Path = store["root"]
    (root / "workbench.toml").write_text("[remotes.gpu-a\nhost = ")
    result = wb.fsck(root=root)
    assert [f.kind for f in result.findings] == ["settings"]
    assert result.checked["run records"] == 2 and result.checked["job records"] == 2
    process = wb_process("fsck")
    assert process.returncode == 1 and str(root / "workbench.toml") in process.stderr


def test_fsck_repair_rebuilds_a_damaged_catalog(store: dict[str, Any]) -> None:
    root: Path = store["root"]
    bad = _victim(store, "catalog snapshot", "directory")
    process = wb_process("fsck", "--repair")
    assert process.returncode == 1 and "rebuilt it" in process.stderr, process.stderr
    moved = [p for p in (root / "quarantine").iterdir() if p.name.startswith("catalog-")]
    assert len(moved) == 1 and (moved[0] / bad.relative_to(root / "catalog")).is_dir()  # kept, not deleted
    assert wb_process("fsck").returncode == 0
    with caught() as said:
        assert len(wb.runs(root=root)) == 4
    assert said == []


def test_the_artifacts_page_names_the_bad_file_in_both_views(store: dict[str, Any]) -> None:
    from conftest import require_module

    require_module("ipywidgets")
    require_module("panel")
    from workbench.ui import ArtifactBrowser
    from workbench.ui.artifacts.panel_view import ArtifactBrowserPanel

    root: Path = store["root"]
    bad = _victim(store, "manifest", "garble")
    with caught():
        browser = ArtifactBrowser(root, live=False)
        widget = browser.widget()
        panel = ArtifactBrowserPanel(browser.model, live=False)
    assert str(bad) in widget.skipped.value and "model-a" in str(widget.names.options)
    assert str(bad) in panel.skipped.object
    # repaired: the line goes away at the next poll
    shutil.copy2(store["template_root"] / "artifacts" / "model-b" / "v1.json", bad)
    with caught():
        assert browser.model.poll()
    assert browser.model.skipped == [] and widget.skipped.value == "" and "model-b" in str(widget.names.options)
    panel.close()
    browser.close()
