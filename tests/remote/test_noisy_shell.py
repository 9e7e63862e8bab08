"""A remote whose login shell and Python print banners (issue 18, acceptance 3).

How the noise is made: the module's sshd sets ``BASH_ENV`` (``SetEnv`` in sshd_config) to a file
that prints a banner on stdout (one line, then text without a newline) and on stderr, and sets an
EXIT trap that prints again when the shell ends. sshd runs every command as ``$SHELL -c CMD`` with
the user's login shell, bash, which sources ``$BASH_ENV`` before the command: the same path as a
cluster's ``~/.bashrc`` loading environment modules (``module load`` prints on both streams). The
remote's configured ``python`` is a wrapper script that prints a banner on stdout and stderr, then
execs the real interpreter (a conda/module wrapper does this). Sync, an artifact fetch,
``workbench remote test`` and an ``ssh:`` job all run against that remote; a broken remote Python
(one that exits 1, one without workbench, one that is not Python 3) is named by ``remote test``
with the fix, exit status 1, and no traceback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from _sshd import Sshd, configure, make_runs, start_sshd
from conftest import require_module

import workbench as wb
from workbench.cli import main
from workbench.errors import RemoteError
from workbench.jobs import list_jobs
from workbench.jobs.daemon import stop_scheduler
from workbench.settings import load_settings

pytestmark = pytest.mark.slow

RC = """\
echo "Loading modules: cuda/12.4 gcc/13 (login banner on stdout)"
echo "module: warning: cache is stale (login banner on stderr)" >&2
printf 'tmux sessions: 0 '
trap 'echo "goodbye from the login shell"; echo "logout (stderr)" >&2' EXIT
"""


def _script(path: Path, text: str) -> str:
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


@pytest.fixture(scope="module")
def noisy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sshd, str, Path]]:
    """(sshd whose shell prints banners, a python that prints banners, a folder for scripts)."""
    require_module("fabric")
    directory = tmp_path_factory.mktemp("noisy")
    rc = directory / "noisy_rc.sh"
    # with the flag file, the shell refuses to run any command (an expired account, a broken rc file)
    rc.write_text(RC + f'[ -e {directory}/refuse ] && {{ echo "account expired: see the admin"; exit 1; }}\n')
    python = _script(directory / "python3", textwrap.dedent(f"""\
        #!/bin/sh
        echo "conda: environment 'train' activated (python banner on stdout)"
        echo "python: DeprecationWarning banner on stderr" >&2
        exec {sys.executable} "$@"
        """))
    server = start_sshd(directory / "sshd", env={"BASH_ENV": str(rc)})
    yield server, python, directory
    server.stop()


def _remote_store(tmp_path: Path) -> Path:
    remote_root = tmp_path / "remote-store"
    make_runs(remote_root, 2)
    source = tmp_path / "src"
    source.mkdir()
    (source / "weights.bin").write_bytes(os.urandom(300_000))
    (source / "config.json").write_text('{"layers": 2}')
    run = wb.init(project="remote", name="producer", root=remote_root, capture_output=False,
                  system_metrics=False, fsync=False)
    run.log({"loss": 0.5}, step=0)
    run.log_artifact(source, name="model", type="model")
    run.finish()
    return remote_root


def test_the_noisy_shell_is_really_noisy(noisy: tuple[Sshd, str, Path], tmp_path: Path) -> None:
    """The fixture reproduces the problem: a plain command's answer carries the banners."""
    from workbench.remote import get_remote, known_hosts_path
    from workbench.remote._connection import connect

    server, python, _ = noisy
    local = tmp_path / "local"
    configure(local, server, tmp_path, python=python, timeout=30.0)
    with connect(get_remote(load_settings(local), "gpu"), known_hosts_path(local)) as conn:
        channel = conn.open_channel(f"{python} -c 'print(42)'")
        channel.shutdown_write()
        out = channel.makefile("rb").read()
        err = channel.makefile_stderr("rb").read()
    assert out.startswith(b"Loading modules") and b"conda:" in out and b"42\n" in out
    assert out.rstrip().endswith(b"goodbye from the login shell")
    assert b"cache is stale" in err and b"DeprecationWarning banner" in err


def test_sync_and_fetch_through_banners(noisy: tuple[Sshd, str, Path], tmp_path: Path) -> None:
    server, python, _ = noisy
    remote_root = _remote_store(tmp_path)
    local = tmp_path / "local"
    configure(local, server, remote_root, python=python)
    result = wb.sync("gpu", root=local)
    assert result.refused == [] and len(result.runs) == 3 and result.artifacts == ["model"]
    assert wb.sync("gpu", root=local).runs == []  # nothing changed: nothing moved
    with wb.init(project="local", root=local, capture_output=False, system_metrics=False) as run:
        path = wb.use_artifact("gpu:model:latest", run=run)
    assert (path / "config.json").read_text() == '{"layers": 2}'
    assert (path / "weights.bin").read_bytes() == (tmp_path / "src" / "weights.bin").read_bytes()


def test_sync_needs_no_python_and_fetch_names_a_broken_one(noisy: tuple[Sshd, str, Path], tmp_path: Path) -> None:
    server, _, directory = noisy
    remote_root = _remote_store(tmp_path)
    local = tmp_path / "local"
    broken = _script(directory / "python-fetch-exits-1", "#!/bin/sh\necho 'module: python/3.12 unknown' >&2\nexit 1\n")
    configure(local, server, remote_root, python=broken)
    assert wb.sync("gpu", root=local).artifacts == ["model"]
    with pytest.raises(RemoteError, match=r"failed with exit status 1: module: python/3.12 unknown"):
        wb.use_artifact("gpu:model:latest", root=local)


def test_remote_test_passes_and_names_the_banner(noisy: tuple[Sshd, str, Path], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    server, python, _ = noisy
    remote_root = tmp_path / "remote-store"
    make_runs(remote_root, 1)
    local = tmp_path / "local"
    configure(local, server, remote_root, python=python)
    assert main(["--root", str(local), "remote", "test", "gpu"]) == 0
    out, err = capsys.readouterr()
    assert "gpu: ok" in out and f"Python {sys.version.split()[0]}" in out
    # every step of the protocol ran: the store, the tools, the record's round trips by tar and by
    # fetch's blob server under the noisy python
    assert "ok: store: " in out and "ok: tools: GNU tar and find" in out
    assert "ok: round trip: a record written by tar, read back by tar" in out
    assert f"ok: round trip: the record served by {python} as fetch serves blobs" in out
    # the banner is tolerated, and named with where it comes from and how to silence it
    assert "banner" in out and "Loading modules" in out and "conda:" in out
    assert "Traceback" not in out + err
    # nothing of the check stays in the remote store
    assert sorted(p.name for p in remote_root.iterdir() if p.name.startswith(".")) == []


@pytest.fixture
def job_store(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root.mkdir(parents=True)
    (root / "workbench.toml").write_text("scheduler_idle_exit = 20.0\n")
    work = tmp_path / "work"
    work.mkdir()
    (work / "train.py").write_text(textwrap.dedent("""\
        import workbench as wb
        with wb.init(config={"steps": 3}) as run:
            for step in range(3):
                run.log({"loss": 1.0 / (step + 1)}, step=step)
            print("trained")
        """))
    monkeypatch.setenv("WORKBENCH_SYSTEM_METRICS", "0")
    monkeypatch.chdir(work)
    yield root
    with contextlib.suppress(Exception):
        stop_scheduler(load_settings(root), timeout=20)
    for job in list_jobs(root):
        pgid = (job.record["job"].get("process") or {}).get("pgid")
        if pgid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(pgid), signal.SIGKILL)


def test_an_ssh_job_runs_through_banners(noisy: tuple[Sshd, str, Path], job_store: Path, tmp_path: Path) -> None:
    server, python, directory = noisy
    remote_root = tmp_path / "remote-store"
    configure(job_store, server, remote_root, python=python)
    broken = _script(directory / "python-job-exits-1", "#!/bin/sh\necho 'module: python/3.12 unknown' >&2\nexit 1\n")
    configure(job_store, server, remote_root, python=broken, name="bad")
    config = {"command": ["python", "train.py"], "env": {"WORKBENCH_SYSTEM_METRICS": "0"}}
    job = wb.launch("script", config=config, executor="ssh:gpu", root=job_store)
    bad = wb.launch("script", config=config, executor="ssh:bad", root=job_store)
    assert job.wait(timeout=90) == "completed", job.error
    assert job.record["job"]["exit"]["code"] == 0
    points = wb.history([job.run_id], keys=["loss"], root=job_store)
    assert list(points["step"]) == [0, 1, 2]
    assert "trained" in job.logs("stdout")
    # a broken Python fails the job at its start, with the reason and the fix (not "crashed" later)
    assert bad.wait(timeout=60) == "failed"
    message = bad.error["message"]
    assert f"{broken} exits with status 1 without running a Python 3 program" in message, message
    assert "module: python/3.12 unknown" in message and "--python" in message
    assert not (remote_root / "runs" / bad.run_id).exists()


BROKEN = {
    # a module system's python stub that fails before Python starts
    "exits-1": ("#!/bin/sh\necho 'Lmod has detected the following error: module python/3.12 unknown' >&2\n"
                "exit 1\n", ["exits with status 1", "Lmod has detected", "--python"]),
    # a real Python 3 that cannot import workbench (no site-packages)
    "no-workbench": (f"#!/bin/sh\necho 'python banner'\nexec {sys.executable} -S \"$@\"\n",
                     ["cannot import workbench", "pip install"]),
    # something that answers like Python 2 and never runs a Python 3 program
    "python2": ("#!/bin/sh\necho 'Python 2.7.18' >&2\necho '  File \"<string>\", line 1' >&2\n"
                "echo 'SyntaxError: invalid syntax' >&2\nexit 1\n", ["Python 2.7.18", "--python"]),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_remote_test_names_a_broken_python(noisy: tuple[Sshd, str, Path], tmp_path: Path, kind: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    server, _, directory = noisy
    text, expected = BROKEN[kind]
    python = _script(directory / f"python-{kind}", text)
    remote_root = tmp_path / "remote-store"
    make_runs(remote_root, 1)
    local = tmp_path / "local"
    configure(local, server, remote_root, python=python)
    assert main(["--root", str(local), "remote", "test", "gpu"]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    for words in expected:
        assert words in out + err, (words, out, err)
    assert python in out + err
    # the store and the shell were fine: those lines still say so
    assert "store" in out


def test_remote_test_names_a_missing_store(noisy: tuple[Sshd, str, Path], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    server, python, _ = noisy
    local = tmp_path / "local"
    configure(local, server, tmp_path / "nowhere", python=python)
    assert main(["--root", str(local), "remote", "test", "gpu"]) == 1
    out, err = capsys.readouterr()
    assert f"has no directory {tmp_path / 'nowhere'}" in out + err and "--init" in out + err
    assert "Traceback" not in out + err


def test_a_shell_that_never_runs_the_command_is_named(noisy: tuple[Sshd, str, Path], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    server, python, directory = noisy
    remote_root = tmp_path / "remote-store"
    make_runs(remote_root, 1)
    local = tmp_path / "local"
    configure(local, server, remote_root, python=python)
    (directory / "refuse").touch()
    try:
        assert main(["--root", str(local), "remote", "test", "gpu"]) == 1
        _, err = capsys.readouterr()
        assert "its login shell exited with status 1 before the command ran" in err
        assert "account expired: see the admin" in err and "Traceback" not in err
        assert main(["--root", str(local), "sync", "gpu"]) != 0
        _, err = capsys.readouterr()
        assert "account expired" in err and "not a valid tar stream" not in err
    finally:
        (directory / "refuse").unlink()
    assert not (local / "runs").exists() or not any((local / "runs").iterdir())


def test_the_frame_reader_on_hostile_and_cut_answers() -> None:
    """``_frame`` on its own: a marker after 100 KB of banner without a newline, a banner over the
    limit, an answer without a marker, a cut answer (no trailer), noise after the trailer."""
    import io

    from workbench.remote._frame import FrameError, new_frame, skip_noise, split_buffered

    frame = new_frame()
    stream = io.BytesIO(b"x" * 100_000 + frame.marker + b"PAYLOAD")
    assert skip_noise(stream, frame).endswith(b"xxx") and stream.read() == b"PAYLOAD"
    with pytest.raises(FrameError, match="more than 1024 bytes"):
        skip_noise(io.BytesIO(b"banner\n" * 1000 + frame.marker), frame, limit=1024)
    with pytest.raises(FrameError, match="ended before"):
        skip_noise(io.BytesIO(b"Welcome\n" + new_frame().marker + b"data"), frame)  # another command's
    out = b"motd\n" + frame.marker + b"a\x00b" + frame.trailer + b"3@@\nbye\n"
    err = b"warn\n" + frame.marker + b"oops\n" + frame.trailer + b"3@@\nlogout\n"
    assert split_buffered(frame, out, err) == (b"a\x00b", b"oops\n", 3, b"motd\n", b"warn\n")
    payload, _, status, _, _ = split_buffered(frame, b"motd" + frame.marker + b"partial", b"")
    assert (payload, status) == (b"partial", None)
    with pytest.raises(FrameError):
        split_buffered(frame, b"only a banner\n", b"")
