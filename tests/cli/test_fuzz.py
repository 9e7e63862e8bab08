"""Every command with hostile arguments, on four stores: never a traceback (issue 12, acceptance 5).

The commands come from the argparse parser itself, so a new command is fuzzed the day it is
registered. For each, hypothesis builds command lines from that command's own arguments, filled
with hostile values (control characters, huge strings, missing paths, /dev/null, a folder where
a file belongs, names past 255 bytes, negative and huge numbers, option-like words, deep JSON,
SQL that writes), and a real ``workbench`` process (``_cli_runner.py``, one for the module so
that Python starts once) runs each against

- ``normal``: a small store with runs, an artifact, a dataset, a job and a remote;
- ``missing``: a root that does not exist, or cannot (under a file, /dev/null, a name too long);
- ``read-only``: a copy of the store on a tmpfs remounted read-only;
- ``full``: a copy of the store on a tmpfs with no byte left.

Each result must hold no Python traceback and no "this is a bug" line, exit 2 exactly when
argparse rejects the line (0 for ``--help``), else 0 or 1, and exit 1 with a ``workbench:`` line
that says what went wrong. The examples are derandomized: CI runs the same lines every time.

The servers (``ui``, ``dashboard``, ``demo``, ``scheduler``) would not return: only their argument
errors are run. No value names a program that exists (a ``script`` job would run it), no host
needs DNS, and ``--wait``, ``--follow`` and ``--trust-new-host`` (which wait or connect) are never
drawn.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _mounts import fill, tmpfs
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import workbench as wb
from tests.jobs._job_helpers import stop_everything
from workbench.cli import _join_dash_values, build_parser
from workbench.cli._errors import BUG

pytestmark = pytest.mark.timeout(300)

RUNNER = Path(__file__).with_name("_cli_runner.py")
REPO = Path(__file__).resolve().parents[2]
# command lines per command and store: about 600 in all, well under a minute; WORKBENCH_FUZZ_EXAMPLES=50
# digs deeper (and WORKBENCH_FUZZ_SEED=N draws other lines) when hunting, not in CI
EXAMPLES = int(os.environ.get("WORKBENCH_FUZZ_EXAMPLES", "4"))
SEED = os.environ.get("WORKBENCH_FUZZ_SEED")
CALL_LIMIT = 60  # seconds one command line may take in the runner
SERVERS = {"ui", "dashboard", "demo", "scheduler"}  # they serve until stopped
NEVER_DRAWN = {"--wait", "--follow", "-f", "--trust-new-host", "--debug", "--help", "-h", "--version"}
CONDITIONS = ("normal", "missing", "read-only", "full")
QUIET = {"flush_interval": 0.05, "system_metrics": False, "capture_output": False, "fsync": False}


# -- the commands, from the parser ------------------------------------------------------------


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, sub in action.choices.items():
                if id(sub) in seen:  # an alias
                    continue
                seen.add(id(sub))
                found.append(((*prefix, name), sub))
                found += _commands(sub, (*prefix, name))
    return found


PARSERS = dict(_commands(build_parser()))
# destructive commands last: what they delete, the others still find
_LAST = ("rm", "gc", "cancel", "alias")
FUZZED = sorted((path for path in PARSERS if path[0] not in SERVERS),
                key=lambda path: (any(word in _LAST for word in path), path))


def test_every_registered_command_is_fuzzed() -> None:
    """The list is the parser's: a command added tomorrow is fuzzed (or is a server, run for its errors)."""
    assert {path[0] for path in PARSERS} >= {"runs", "show", "sql", "artifacts", "datasets", "launch", "jobs",
                                             "remote", "sync", "fetch", *SERVERS}
    assert len(FUZZED) >= 25
    assert all(path[0] not in SERVERS for path in FUZZED)


# -- hostile values ------------------------------------------------------------------------------

TEXT = ["", " ", "\t", "\x1b[2J\x1b]0;title\x07", "\u202eevil", "\udcff\udcfe", "a\nb\r\x08", "\U0001f4a5",
        "../../etc/passwd", "..", ".", "~", "$HOME", "%s%n%x", "'; drop table runs; --", "\\", "*", "a" * 300,
        "b" * 5000, "c" * 10_000, "-", "--", "-x", "--no-such-option", "--root", "--json", "--yes", "=",
        "ROOT", "null", "{}", "[]", "name:v1", "a:b:c", ":", "x:v-1", "x:v99999999999999999999", "x:latest"]
NUMBERS = ["-1", "0", "1", "-0", "99999999999999999999", "-99999999999999999999", "1e309", "nan", "inf",
           "-inf", "0x10", "1_000", "3.5", "1e-320", "٣"]
SQL = ["select 1", "update extensions", "select * from runs", "copy runs to 'out.csv'", "attach 'x.db' as x",
       "install httpfs", "load httpfs", "select * from read_csv_auto('/etc/passwd')", "pragma version",
       "set memory_limit='1KB'", "select '", "select " + "(" * 3000 + "1" + ")" * 3000, "drop view runs",
       "select * from metrics; delete from runs", "create table t as select 1", "export database 'x'",
       "select getenv('HOME')", "checkpoint", "select * from glob('/*')", "describe runs"]
FILTERS = ["config.lr <", "(" * 5000, "summary.acc > 0.8", "config." + "a" * 300 + " = 1", "tags contains",
           "status = 'completed' or", "'", "-summary.acc", "config.lr,summary.acc", "1 = 1; drop table runs",
           "name like '%'", "not " * 3000 + "true", "config.lr < 1e309"]
JSON = ["{", "[]", "{}", '{"a": NaN}', '{"a": ' + "[" * 5000 + "]" * 5000 + "}", '{"a": ' + "[" * 100 + "]" * 100 + "}",
        '"x"', "null", '{"' + "k" * 300 + '": 1}', '{"a": 1e999}', '{"\\u0000": "\\u001b[2J"}']
SETS = ["=", "a=", "=b", "epochs=-1", "lr=nan", "command=x", "x" * 300 + "=1", "epochs=99999999999999999999",
        "lora=maybe", "max_length=-5", "batch_size=0"]
HOSTS = ["127.0.0.1", "-oProxyCommand=touch /tmp/workbench-pwned", "host name", "\x1b[2J", "", "[::1]",
         "256.256.256.256", "a" * 300 + ".invalid", "user@127.0.0.1", "127.0.0.1:22", "localhost\n"]


def _safe_word(word: str) -> bool:
    """Not a program that could run as a script job's command (a dangerous or endless one)."""
    try:
        return "\x00" not in word and shutil.which(word) is None
    except (ValueError, OSError):
        return True


class Fixture:
    """The stores, their paths and the values that name things in them."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.roots: dict[str, Path] = {}
        self.refs: list[str] = []
        self.paths: list[str] = []  # read from
        self.dests: list[str] = []  # written to: all under base


def _values(fx: Fixture, action: argparse.Action) -> st.SearchStrategy[str]:
    dest = action.dest
    general = st.sampled_from(TEXT)
    text = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=30)
    paths = st.sampled_from(fx.paths)
    refs = st.sampled_from(fx.refs)
    if dest == "host":
        return st.sampled_from(HOSTS)  # no free text: a name would be looked up in DNS
    if dest == "command":  # a script job's command: never a program that exists
        return st.one_of(general, paths, text).filter(_safe_word)
    if dest == "recipe":
        return st.one_of(st.sampled_from(["script", "no-such-recipe"]), general, text)
    if dest == "executor":
        return st.one_of(st.sampled_from(["local", "ssh:gpu", "ssh:", "ssh:nope", "local:x"]), general)
    specific: st.SearchStrategy[str] | None = None
    if action.type in (int, float):  # mostly numbers argparse takes, so that the command gets them
        return st.one_of(st.sampled_from(NUMBERS), st.sampled_from(NUMBERS), st.sampled_from(NUMBERS), general)
    if action.choices:
        choices = st.sampled_from([str(choice) for choice in action.choices])
        return st.one_of(choices, choices, choices, general)
    if dest == "query":
        specific = st.sampled_from(SQL)
    elif dest in ("where", "order_by", "columns", "require"):
        specific = st.sampled_from(FILTERS)
    elif dest == "metadata":
        specific = st.sampled_from(JSON)
    elif dest == "values":
        specific = st.sampled_from(SETS)
    elif dest == "dest":  # written to: only places under the test's folder
        specific = st.sampled_from(fx.dests)
    elif dest in ("path", "key", "dataset", "base_model", "remote_root", "python", "notebook"):
        specific = paths
    else:  # names, ids, refs, aliases, projects, types
        specific = refs
    if dest == "dest":
        return st.one_of(specific, specific, st.sampled_from(NUMBERS))
    return st.one_of(specific, specific, general, text, paths, st.sampled_from(NUMBERS))


@st.composite
def command_line(draw: st.DrawFn, fx: Fixture, path: tuple[str, ...]) -> list[str]:
    parser = PARSERS[path]
    words = list(path)
    positionals: list[str] = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        values = _values(fx, action)
        if action.option_strings:
            options = [o for o in action.option_strings if o not in NEVER_DRAWN]
            if not options or not draw(st.booleans() if not action.required else st.just(True)):
                continue
            words.append(draw(st.sampled_from(options)))
            if action.nargs != 0:
                words.append(draw(values))
            continue
        low, high = {"?": (0, 1), "*": (0, 2), "+": (1, 2)}.get(str(action.nargs), (1, 1))
        count = draw(st.integers(low, high))
        positionals += [draw(values) for _ in range(count)]
    if path[0] == "launch" and len(positionals) > 1 and draw(st.booleans()):
        positionals.insert(1, "--")  # the rest is the command, as a script job's is given
    words += positionals
    if draw(st.integers(0, 9)) == 0:  # now and then a word too many, or one too few
        words.append(draw(st.sampled_from(TEXT)))
    elif draw(st.integers(0, 9)) == 0 and len(words) > len(path):
        words.pop()
    return words


# -- the stores ---------------------------------------------------------------------------------


def _template(base: Path, fx: Fixture) -> Path:
    """A small store: two runs, a finished job, an artifact, a dataset and a remote."""
    root = base / "template" / "store"
    root.mkdir(parents=True)
    (root / "workbench.toml").write_text(
        'cancel_grace = 1.0\nscheduler_idle_exit = 60.0\n\n[remotes.gpu]\nhost = "127.0.0.1"\nport = 1\n'
        'root = "/nonexistent/store"\npython = "/usr/bin/python3"\ntimeout = 2.0\n', encoding="utf-8")
    files = base / "files"
    files.mkdir()
    runs = []
    for name in ("alpha", "beta"):
        run = wb.init(project="p", name=name, config={"lr": 0.1}, tags=["t"], root=root, **QUIET)
        for step in range(5):
            run.log({"loss": 1.0 / (step + 1)})
        run.finish()
        runs.append(run.id)
    (files / "model").mkdir()
    (files / "model" / "weights.bin").write_bytes(os.urandom(4096))
    (files / "data.csv").write_text("text,label\ngood,1\nbad,0\n", encoding="utf-8")
    (files / "ragged.csv").write_text("a,b\n1,2,3\n", encoding="utf-8")
    (files / "latin1.csv").write_bytes("text\ncaf\xe9\n".encode("latin-1"))
    (files / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    (files / "deep.jsonl").write_text('{"a": ' + "[" * 5000 + "]" * 5000 + "}\n", encoding="utf-8")
    (files / "empty.csv").write_text("", encoding="utf-8")
    (files / "file.txt").write_text("a file where a folder belongs\n", encoding="utf-8")
    wb.log_artifact(files / "model", name="clf", type="model", aliases=["best"], run=runs[0], root=root)
    wb.log_dataset(files / "data.csv", name="ds", root=root)
    job = wb.launch("script", {"command": [sys.executable, "-c", "print('hi')"]}, root=root)
    job.wait()
    stop_everything(root)  # the copies hold no live scheduler
    fx.refs = [*runs, runs[0][:4], job.run_id, job.run_id[-5:], "clf", "clf:v1", "clf:latest", "clf:best",
               "clf:v0", "ds", "ds:latest", "gpu", "gpu:clf:latest", "nope", "nope:v1", "best", "production", "model",
               "dataset"]
    missing = base / "missing-dir" / "deeper" / "data.csv"
    fx.paths = [str(files / name) for name in ("model", "data.csv", "ragged.csv", "latin1.csv", "deep.json",
                                               "deep.jsonl", "empty.csv", "file.txt")]
    fx.paths += [str(missing), "/dev/null", str(files), str(files / "file.txt" / "below"),
                 str(files / ("n" * 300 + ".csv")), str(base / "ro" / "new"), str(base / "full" / "new"),
                 "relative/dir", "x.csv", "~/nope"]
    fx.dests = [str(missing.parent), str(files / "file.txt"), str(files), str(files / "file.txt" / "below"),
                str(base / ("n" * 300)), str(base / "ro" / "new"), str(base / "full" / "new"), "relative/dir",
                "~/nope", "", "."]
    return root


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    base = tmp_path_factory.mktemp("fuzz")
    fixture = Fixture(base)
    template = _template(base, fixture)
    normal = base / "normal" / "store"
    shutil.copytree(template, normal, symlinks=True)
    fixture.roots["normal"] = normal
    with contextlib.ExitStack() as stack:
        try:
            fixture.roots["read-only"] = stack.enter_context(tmpfs(base / "ro", template, state="ro")) / "store"
            fixture.roots["full"] = stack.enter_context(tmpfs(base / "full", template, size="8m",
                                                              state="full")) / "store"
        except pytest.skip.Exception:
            pass  # no root here: those two conditions skip (CI fails instead, in tmpfs())
        yield fixture
        stop_everything(normal)


class Runner:
    """The worker process: one command line in, its exit code, stdout and stderr out."""

    def __init__(self, fx: Fixture) -> None:
        self.fx = fx
        requests_r, self._requests = os.pipe()
        self._results, results_w = os.pipe()
        home = fx.base / "home"
        (home / "cwd").mkdir(parents=True)
        env = {**os.environ, "HOME": str(home), "WORKBENCH_SYSTEM_METRICS": "0", "HF_HUB_OFFLINE": "1",
               "PYTHONPATH": str(REPO)}
        for name in ("WORKBENCH_ROOT", "WORKBENCH_DEBUG", "WORKBENCH_RUN_ID"):
            env.pop(name, None)
        self.log = open(fx.base / "runner.stderr", "w+", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, str(RUNNER), str(requests_r), str(results_w), str(CALL_LIMIT)],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, cwd=home / "cwd", env=env,
            pass_fds=(requests_r, results_w),
        )
        os.close(requests_r)
        os.close(results_w)
        self.out = os.fdopen(self._requests, "w", encoding="utf-8")
        self.back = os.fdopen(self._results, encoding="utf-8")

    def run(self, argv: list[str]) -> dict[str, Any]:
        self.out.write(json.dumps(argv, ensure_ascii=True) + "\n")
        self.out.flush()
        line = self.back.readline()
        if not line:
            self.log.seek(0)
            raise AssertionError(f"the workbench process died running {argv!r}:\n{self.log.read()[-4000:]}")
        result: dict[str, Any] = json.loads(line)
        return result

    def stop(self) -> str:
        self.out.close()
        self.process.wait(timeout=60)
        self.back.close()
        self.log.seek(0)
        text = self.log.read()
        self.log.close()
        return text


@pytest.fixture(scope="module")
def runner(fx: Fixture) -> Iterator[Runner]:
    worker = Runner(fx)
    yield worker
    leftovers = worker.stop()
    assert "Traceback" not in leftovers, leftovers[-4000:]


def parses(argv: list[str]) -> int | None:
    """argparse's verdict: None when it accepts the line, else the exit code it gives (2, or 0 for help)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            build_parser().parse_args(_join_dash_values(argv))
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 0
    return None


def _short(text: str, keep: int = 300) -> str:
    return text if len(text) <= keep else f"{text[:keep]}...({len(text)} characters)"


def problem(argv: list[str], result: dict[str, Any]) -> str | None:
    """What is wrong with how ``argv`` ended, or None."""
    code, out, err = result["code"], result["stdout"], result["stderr"]
    if code == "timeout":
        return f"ran past {CALL_LIMIT} s"
    if "Traceback" in err or "Exception ignored" in err:
        return "a Python traceback on stderr"
    if BUG in err:
        return "an unexpected exception (reported as a bug)"
    verdict = parses(argv)
    if verdict is not None:  # argparse refuses the line (2), or shows help (0)
        if code != verdict:
            return f"exit code {code}, but argparse says {verdict}"
        return None if code != 2 or "error:" in err else "exit code 2 without an error message"
    if code == 2:  # a command group without its verb prints its help; import and sync document 2 (nothing
        # could be imported, could not sync: docs/import.md, docs/remote.md) and say why on stderr
        if ("import" in argv or "sync" in argv) and any(
                line.startswith(("workbench: error: ", "workbench: import: ")) and len(line) > 30
                for line in err.splitlines()):
            return None
        return None if "usage:" in out else "exit code 2 for a line argparse accepts, and no help"
    if code not in (0, 1):
        return f"exit code {code}"
    if code == 1:
        if not err.strip():
            return "exit code 1 and nothing on stderr"
        for line in err.splitlines():  # fsck, reindex and rm (without --yes) report in their own words
            if line.startswith("workbench: ") and len(line.split(":", 2)[-1].strip()) < 4:
                return "an error line that says nothing"
    return None


def judge(argv: list[str], result: dict[str, Any]) -> None:
    found = problem(argv, result)
    if found is not None:
        shown = {key: _short(value, 3000) if isinstance(value, str) else value for key, value in result.items()}
        pytest.fail(f"{found}: workbench {' '.join(_short(repr(word), 200) for word in argv)}\n-> {shown}",
                    pytrace=False)


def _root(fx: Fixture, condition: str, draw: Any) -> Path:
    if condition != "missing":
        return fx.roots[condition]
    files = fx.base / "files"
    return Path(draw(st.sampled_from([
        str(fx.base / "missing" / "store"), str(files / "file.txt" / "store"), "/dev/null",
        str(fx.base / ("s" * 300)), str(files / "data.csv"),
    ])))


def _reset(fx: Fixture, condition: str) -> None:
    if condition == "missing":
        if (fx.base / "missing" / "store" / "jobs").exists():  # a launch started a scheduler there
            stop_everything(fx.base / "missing" / "store")
        shutil.rmtree(fx.base / "missing", ignore_errors=True)
    elif condition == "full":
        fill(fx.roots["full"].parent)  # a deletion may have freed a few blocks


@pytest.mark.parametrize("path", FUZZED, ids=" ".join)
@pytest.mark.parametrize("condition", CONDITIONS)
def test_hostile_command_lines_end_in_a_message(fx: Fixture, runner: Runner, condition: str,
                                                path: tuple[str, ...]) -> None:
    if condition not in fx.roots and condition != "missing":
        pytest.skip("mounting a tmpfs takes root")

    @settings(max_examples=EXAMPLES, derandomize=SEED is None, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        root = _root(fx, condition, data.draw)
        argv = ["--root", str(root), *data.draw(command_line(fx, path))]
        try:
            judge(argv, runner.run(argv))
        finally:
            _reset(fx, condition)

    if SEED is not None:
        check = seed(int(SEED))(check)
    check()


# -- the servers: only their argument errors ------------------------------------------------------

SERVER_ERRORS = [
    ["ui", "--port", "x"], ["ui", "--port"], ["ui", "--token", "short"], ["ui", "--allow-origin", "/x"],
    ["ui", "--allow-origin", "*"], ["ui", "--no-such-option"], ["dashboard"], ["dashboard", "no-such-notebook"],
    ["dashboard", "/dev/null"], ["dashboard", "compare", "--port", "nan"], ["demo", "--runs", "x"],
    ["demo", "--steps", "1e309"], ["demo", "--port"], ["scheduler", "--slots", "0"], ["scheduler", "--slots", "-1"],
    ["scheduler", "--idle-exit", "x"], ["scheduler", "--slots", "x"], ["ui", "\x1b[2J"], ["demo", "extra"],
    ["ui", "--port", "-1"], ["ui", "--port", "99999"], ["ui", "--address", "999.1.1.1"],
    ["dashboard", "compare", "--port", "-1"], ["dashboard", "compare", "--port", "70000"], ["demo", "--port", "0"],
]


@pytest.mark.parametrize("words", SERVER_ERRORS, ids=lambda words: " ".join(map(repr, words)))
def test_servers_refuse_bad_arguments_with_a_message(fx: Fixture, runner: Runner, words: list[str]) -> None:
    argv = ["--root", str(fx.base / "servers" / "store"), *words]
    result = runner.run(argv)
    judge(argv, result)
    assert result["code"] in (1, 2), result
    assert any(line.startswith(("workbench: error:", "usage:")) or ": error:" in line
               for line in result["stderr"].splitlines()), result


# -- the same boundary in a real `python -m workbench`, on each store ------------------------------


@pytest.mark.parametrize("condition", CONDITIONS)
def test_a_fresh_process_reports_in_one_line(fx: Fixture, condition: str) -> None:
    """What the worker saw, `python -m workbench` prints too: each store, a reading and a writing command."""
    if condition not in fx.roots and condition != "missing":
        pytest.skip("mounting a tmpfs takes root")
    root = fx.roots.get(condition, fx.base / "files" / "file.txt" / "store")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env.update(WORKBENCH_SYSTEM_METRICS="0", HF_HUB_OFFLINE="1")
    started = time.monotonic()
    for words in (["runs", "--where", "(" * 5000], ["artifacts", "add", str(fx.base / "files" / "model"),
                                                    "--name", "m2", "--metadata", "{\"a\": 1}"]):
        done = subprocess.run([sys.executable, "-m", "workbench", "--root", str(root), *words], capture_output=True,
                              text=True, errors="surrogateescape", timeout=120, check=False, env=env,
                              stdin=subprocess.DEVNULL)
        assert "Traceback" not in done.stderr, done.stderr
        assert done.returncode in (0, 1), done
        if done.returncode == 1:
            assert done.stderr.startswith("workbench: error: "), done.stderr
            assert len(done.stderr.strip().splitlines()) <= 3, done.stderr  # a filter error adds its caret
    assert time.monotonic() - started < 60
