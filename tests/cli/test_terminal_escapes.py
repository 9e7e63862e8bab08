"""Stored text reaches the terminal made visible, never as control bytes (issue 11, acceptance 4).

A store whose run names, tags, notes, config keys and values, summary and metric keys, error
messages, artifact file names and metadata, dataset columns and cells, job names and output, and
remote paths hold escape sequences; every listing command runs as a real subprocess, and its
stdout and stderr must hold no character a terminal would act on (only printable text, line
breaks and tabs), and must show the escapes in their visible form. Names, tags and keys carry C1
and bidi characters (a record with C0 controls in a name is refused as corrupt, which has its
own test: the warning and the error are made visible too); free text carries everything.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from tests.jobs._job_helpers import stop_everything, write_settings
from workbench.cli._terminal import dumps, visible
from workbench.store._paths import FORMAT

pytestmark = pytest.mark.timeout(300)

QUIET = {"flush_interval": 0.05, "system_metrics": False, "capture_output": False, "fsync": False}

#: what a name, tag or key may hold: CSI in its one-byte C1 form, a right-to-left override, an isolate
NAME = "n\x9b2J\u202eevil\u2066"
#: free text: erase screen, set the window title (OSC ... BEL), carriage return, backspace, C1 CSI,
#: DEL, bidi override, and a line break and a tab that would fake a line or a column
VALUE = "v\x1b[2J\x1b]0;title\x07\r\x08\u202e\x9b31m\x7f\nfake line\tcol"
#: the visible forms of VALUE's characters
SHOWN = ["\\x1b[2J", "\\x1b]0;title\\x07", "\\r", "\\x08", "\\u202e", "\\x9b31m", "\\x7f", "\\nfake line\\tcol"]
#: a file name may hold anything but "/" and NUL
FILE = "f\x1b[2J\x1b]0;t\x07\r\x08\u202e\x9b\x7f.txt"


def clean(text: str) -> None:
    """Nothing a terminal acts on: every character printable, or a line break or tab of the layout."""
    bad = sorted({char for char in text if not (char.isprintable() or char in "\n\t")})
    assert not bad, f"raw control characters {bad!r} in {text!r}"


def workbench(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench", "--root", str(root), *args], capture_output=True,
                          text=True, timeout=120, check=False, env=env, errors="surrogateescape")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("escapes")
    root = base / "store"
    env = {**os.environ, "WORKBENCH_SYSTEM_METRICS": "0", "HF_HUB_OFFLINE": "1"}
    env.pop("WORKBENCH_ROOT", None)
    write_settings(root, cancel_grace=2.0, scheduler_idle_exit=20.0)
    # runs: one completed, one failed with a hostile message
    run = wb.init(project=NAME, name=NAME, config={NAME: VALUE, "lr": 0.1}, tags=[NAME, "plain"],
                  notes=VALUE, root=root, **QUIET)
    for step in range(3):
        run.log({NAME: float(step), "loss": 1.0 / (step + 1)})
    run.summary["s" + NAME] = VALUE
    run.finish()
    with contextlib.suppress(RuntimeError), wb.init(project=NAME, name="failing", root=root, **QUIET):
        raise RuntimeError(VALUE)
    failed = wb.runs(root=root, where="status = 'failed'")["run_id"].iloc[0]
    # a record whose name holds C0 controls: refused as corrupt when read
    bad = "bad-escape-run"
    (root / "runs" / bad).mkdir(parents=True)
    (root / "runs" / bad / "run.json").write_text(json.dumps({
        "format": FORMAT, "id": bad, "project": "p", "name": "x\x1b[2J\x1b]0;owned\x07", "created": time.time(),
        "status": "completed", "config": {}, "summary": {}, "metrics": {}, "tags": [], "notes": "", "remote": None,
    }, ensure_ascii=False), encoding="utf-8")
    # artifacts: a hostile file name and metadata; a dataset with a hostile column and cell
    files = base / "files"
    files.mkdir()
    (files / FILE).write_text("weights")
    metadata = json.dumps({NAME: VALUE})
    assert workbench(root, "artifacts", "add", str(files), "--name", "clf", "--metadata", metadata,
                     "--run", run.id, env=env).returncode == 0
    table = base / "data.csv"
    column, cell = "text\x1b[2J\u202e\x9b", "hi\x1b]0;t\x07\x08\u202e\x9b\x7f"
    table.write_text(f'"{column}",label\n"{cell}",1\n', encoding="utf-8")
    added = workbench(root, "datasets", "add", str(table), "--name", "ds", env=env)
    assert added.returncode == 0, added.stderr
    # a job named NAME whose command and output hold VALUE; it fails
    code = f"import sys; print({VALUE!r}); sys.stderr.write({VALUE!r}); sys.exit(3)"
    launched = workbench(root, "launch", "--wait", "--name", NAME, "script", "--", sys.executable, "-c", code,
                         env=env)
    assert launched.returncode == 1, launched.stderr
    job = launched.stdout.split()[1]
    # a remote whose paths hold VALUE (a hand-edited workbench.toml; `remote add` checks the host)
    with open(root / "workbench.toml", "a", encoding="utf-8") as handle:
        handle.write('\n[remotes.gpu]\nhost = "gpu.example"\nuser = "u\\u202e"\n'
                     f"root = {json.dumps('/r' + VALUE)}\npython = {json.dumps('/py' + VALUE)}\n")
    yield {"root": root, "env": env, "run": run.id, "failed": failed, "bad": bad, "job": job}
    stop_everything(root)


def run_cli(store: dict[str, Any], *args: str, ok: bool = True) -> str:
    args = tuple(arg.format(**store) for arg in args)
    proc = workbench(store["root"], *args, env=store["env"])
    if ok:
        assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    clean(proc.stdout)
    clean(proc.stderr)
    return proc.stdout + proc.stderr


ESCAPED = ("\\x1b", "\\x9b", "\\u202e", "\\u001b", "\\u009b")

LISTINGS = [
    ("runs",),
    ("runs", "--columns", "name,project,tags,notes,error,status"),
    ("runs", "--json"),
    ("show", "{run}"),
    ("show", "{failed}"),
    ("show", "{run}", "--json"),
    ("sql", "select * from runs"),
    ("sql", "select * from params"),
    ("sql", "select * from summaries"),
    ("sql", "select distinct key from metrics"),
    ("sql", "select notes, tags from runs", "--json"),
    ("jobs", "ls"),
    ("jobs", "ls", "--json"),
    ("jobs", "show", "{job}"),
    ("jobs", "show", "{job}", "--json"),
    ("artifacts", "ls"),
    ("artifacts", "ls", "clf"),
    ("artifacts", "show", "clf"),
    ("artifacts", "show", "clf", "--json"),
    ("datasets", "ls"),
    ("datasets", "show", "ds"),
    ("datasets", "show", "ds", "--json"),
    ("remote", "ls"),
]


@pytest.mark.parametrize("args", LISTINGS, ids=[" ".join(a) for a in LISTINGS])
def test_every_listing_shows_escapes_visibly(store: dict[str, Any], args: tuple[str, ...]) -> None:
    out = run_cli(store, *args)
    if args[:2] != ("artifacts", "ls"):  # artifact names, types and aliases cannot hold escapes at all
        assert any(form in out for form in ESCAPED), out


def test_show_makes_every_character_of_a_field_visible(store: dict[str, Any]) -> None:
    out = run_cli(store, "show", "{run}")
    notes = next(line for line in out.splitlines() if line.startswith("notes"))
    assert notes == "notes    " + visible(VALUE)
    for form in SHOWN:
        assert form in notes
    assert "fake line" not in out.replace("\\nfake line", "")  # the line break did not make a line
    assert f"tags     {visible(NAME)}, plain" in out and "\\x9b2J\\u202eevil\\u2066" in out
    assert f"  s{visible(NAME)}" in out  # the summary key
    failed = run_cli(store, "show", "{failed}")
    assert f"RuntimeError: {visible(VALUE)}" in failed


def test_json_output_is_valid_json_holding_the_exact_text(store: dict[str, Any]) -> None:
    rows = [json.loads(line) for line in run_cli(store, "runs", "--json").splitlines() if line.startswith("{")]
    mine = next(row for row in rows if row["run_id"] == store["run"])
    assert mine["notes"] == VALUE and mine["name"] == NAME and mine[f"config.{NAME}"] == VALUE
    record = json.loads(run_cli(store, "show", "{run}", "--json"))
    assert record["notes"] == VALUE and record["summary"]["s" + NAME] == VALUE
    manifest = json.loads(run_cli(store, "artifacts", "show", "clf", "--json"))
    assert manifest["files"][0]["path"] == FILE and manifest["metadata"][NAME] == VALUE


def test_tables_escape_line_breaks_and_tabs_in_cells(store: dict[str, Any]) -> None:
    proc = workbench(store["root"], "sql", "select right(notes, 15) n from runs where notes <> ''",
                     env=store["env"])
    clean(proc.stdout)
    assert [line.strip() for line in proc.stdout.splitlines()] == ["n", "\\x7f\\nfake line\\tcol"]  # one row
    proc = workbench(store["root"], "remote", "ls", env=store["env"])
    clean(proc.stdout)
    (line,) = proc.stdout.splitlines()
    fields = line.split("\t")
    assert fields[0] == "gpu" and fields[1] == "u\\u202e@gpu.example:22"
    assert fields[2] == visible("/r" + VALUE) and fields[3] == visible("/py" + VALUE)


def test_jobs_and_artifacts_show_their_stored_text_visibly(store: dict[str, Any]) -> None:
    listing = run_cli(store, "jobs", "ls")
    assert store["job"] in listing and visible(NAME) in listing and "failed" in listing
    shown = run_cli(store, "jobs", "show", "{job}")
    assert visible(VALUE) in shown  # the tail of its stderr, each line made visible
    assert f"/{visible(NAME)}" in shown
    art = run_cli(store, "artifacts", "show", "clf")
    assert visible(FILE) in art and f"  {visible(NAME)} = {dumps(VALUE)}" in art
    data = run_cli(store, "datasets", "show", "ds")
    assert "text\\x1b[2J\\u202e\\x9b" in data and "hi\\x1b]0;t\\x07\\x08\\u202e\\x9b\\x7f" in data


def test_jobs_logs_stays_raw_and_says_so(store: dict[str, Any]) -> None:
    raw = subprocess.run([sys.executable, "-m", "workbench", "--root", str(store["root"]), "jobs", "logs",
                          store["job"], "--stdout"], capture_output=True, timeout=60, check=False, env=store["env"])
    assert raw.returncode == 0  # the job's own bytes, escape sequences and all
    assert b"v\x1b[2J\x1b]0;title\x07" in raw.stdout and "\u202e\x9b31m\x7f".encode() in raw.stdout
    helped = run_cli(store, "jobs", "logs", "--help")
    assert "as the job wrote it" in helped and "cat -v" in helped
    assert "made visible" in run_cli(store, "--help")


ERRORS = [
    ("show", "{bad}"),  # a corrupt record: its name is in the message
    ("show", "\x1b[2J\u202e"),  # no such run
    ("sql", "select 'x\x1b]0;owned\x07' +"),  # DuckDB repeats the query in its message
    ("sql", "select * from read_text('/etc/\x1b[2J')"),
    ("runs", "--where", "name = 'x\x1b[2J"),
    ("artifacts", "alias", "clf:v1", "prod\x1b[2J\x9b\u202e"),
    ("artifacts", "show", "clf\x1b[2J"),
    ("jobs", "show", "\x1b[2J"),
]


@pytest.mark.parametrize("args", ERRORS, ids=[repr(" ".join(a)) for a in ERRORS])
def test_error_messages_are_made_visible(store: dict[str, Any], args: tuple[str, ...]) -> None:
    proc = workbench(store["root"], *(a.format(**store) for a in args), env=store["env"])
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert any(line.startswith("workbench: error: ") for line in proc.stderr.splitlines()), proc.stderr
    clean(proc.stdout)
    clean(proc.stderr)
    assert any(form in proc.stderr for form in ("\\x1b", "\\u202e", "\\x9b")), proc.stderr


def test_warnings_are_made_visible(store: dict[str, Any]) -> None:
    proc = workbench(store["root"], "runs", env=store["env"])
    assert proc.returncode == 0
    clean(proc.stdout)
    clean(proc.stderr)
    assert "workbench: warning: skipping run bad-escape-run" in proc.stderr and "\\x1b]0;owned\\x07" in proc.stderr


# -- the one helper -------------------------------------------------------------------------------

def test_visible_and_dumps() -> None:
    assert visible("plain text, ünïcode 中文 🙂") == "plain text, ünïcode 中文 🙂"
    assert visible("a\x1b[2J\r\x08\x07\x00\x7f\x85\x9b\u200b\u202a\u202e\u2066\u2069\u2028\ufeff\U000e0041\n\t") == (
        "a\\x1b[2J\\r\\x08\\x07\\x00\\x7f\\x85\\x9b\\u200b\\u202a\\u202e\\u2066\\u2069\\u2028\\ufeff\\U000e0041\\n\\t")
    assert visible("lone \udcff surrogate") == "lone \\udcff surrogate"
    assert visible(None) == "None" and visible(3.5) == "3.5"
    text = {"k\x9b": ["\x1b[2J\u202e\U000e0041\udcff\n"]}
    assert json.loads(dumps(text)) == text and json.loads(dumps(text, indent=1)) == text
    clean(dumps(text, indent=1))


CLI = Path(__file__).resolve().parents[2] / "workbench" / "cli"


def _raw_prints(path: Path) -> list[str]:
    """Calls that print without the helper: print(), input(), sys.stdout/sys.stderr .write()."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    allowed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "cmd_logs":  # raw on purpose, documented
            allowed.update(id(inner) for inner in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or id(node) in allowed:
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("print", "input"):
            found.append(f"{path.name}:{node.lineno}: {func.id}()")
        elif isinstance(func, ast.Attribute) and func.attr in ("write", "writelines") and "sys." in ast.unparse(func):
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(func)}()")
    return found


def test_every_command_prints_through_the_helper() -> None:
    modules = sorted(p for p in CLI.glob("*.py") if p.name != "_terminal.py")
    assert len(modules) >= 6
    assert [line for path in modules for line in _raw_prints(path)] == []
