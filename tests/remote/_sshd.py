"""A real OpenSSH server on 127.0.0.1 for the remote tests (see ../shared/NOTES.md).

``start_sshd`` starts ``/usr/sbin/sshd -D`` on a free port with a fresh ed25519 host key and
authorizes a fresh client key for the current user; ``remote_store`` fills a separate directory
with real workbench runs. Import the fixtures into a test module (a ``conftest.py`` here would
shadow the top-level one that other test directories import).
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import require_module, require_program

SSHD = "/usr/sbin/sshd"


@dataclasses.dataclass
class Sshd:
    host: str
    port: int
    user: str
    client_key: Path
    host_key: Path
    config: Path
    log: Path
    process: subprocess.Popen[bytes]

    def descendants(self) -> list[int]:
        """Pids of every process below the listener (one per session), deepest first."""
        found: list[int] = []
        frontier = [self.process.pid]
        while frontier:
            pid = frontier.pop()
            try:
                with open(f"/proc/{pid}/task/{pid}/children") as handle:
                    children = [int(c) for c in handle.read().split()]
            except OSError:
                children = []
            found.extend(children)
            frontier.extend(children)
        return list(reversed(found))

    def kill_sessions(self) -> int:
        """Kill every session (the listener's children and theirs): cuts live connections."""
        pids = self.descendants()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(pids)

    def stop(self) -> None:
        self.kill_sessions()  # a command started without a pty outlives its sshd otherwise
        self.process.kill()
        self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path.chmod(0o600)
    return path


def start_sshd(directory: Path, *, client_key: Path | None = None, env: dict[str, str] | None = None) -> Sshd:
    require_program(SSHD)
    require_program("ssh-keygen")
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    host_key = keygen(directory / f"host_key_{os.urandom(3).hex()}")
    if client_key is None:
        client_key = keygen(directory / "client_key")
    user = getpass.getuser()
    auth_dir = directory / "authorized"
    auth_dir.mkdir(exist_ok=True)
    (auth_dir / user).write_bytes(Path(f"{client_key}.pub").read_bytes())
    port = free_port()
    config = directory / f"sshd_config_{port}"
    log = directory / f"sshd_{port}.log"
    config.write_text(
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {host_key}\n"
        f"PidFile {directory}/sshd_{port}.pid\n"
        f"AuthorizedKeysFile {auth_dir}/%u\n"
        "StrictModes no\n"
        "UsePAM no\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\n"
        "PermitRootLogin prohibit-password\n"
        "UseDNS no\n"
        "MaxSessions 50\n"
        "MaxStartups 50\n"
        "Subsystem sftp internal-sftp\n"
        # bash reads ~/.bashrc for an ssh command only at shell level < 2: keep root's rc files
        # (pyenv init here, +150 ms a command) out of every command
        "SetEnv SHLVL=1" + "".join(f" {k}={v}" for k, v in (env or {}).items()) + "\n"
    )
    process = subprocess.Popen([SSHD, "-D", "-f", str(config), "-E", str(log)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if "Server listening" in text:
            break
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited with {process.returncode}: {text}")
        time.sleep(0.02)
    else:
        process.kill()
        raise RuntimeError(f"sshd did not start: {log.read_text(errors='replace')}")
    return Sshd("127.0.0.1", port, user, client_key, host_key, config, log, process)


@pytest.fixture(scope="module", name="sshd")
def sshd_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    require_module("fabric")
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


def make_runs(root: Path, count: int, *, params: int = 3, metrics: int = 2, steps: int = 5,
              project: str = "remote") -> list[str]:
    """Real runs made by workbench in the store at ``root``; their ids."""
    import workbench as wb

    ids = []
    for i in range(count):
        config = {f"p{k}": i * 10 + k for k in range(params)}
        run = wb.init(project=project, name=f"r{i}", config=config, root=root,
                      capture_output=False, system_metrics=False, fsync=False)
        for step in range(steps):
            run.log({f"m{k}": float(step * k + i) for k in range(metrics)}, step=step)
        run.finish()
        ids.append(run.id)
    return ids


@pytest.fixture(name="remote_root")
def remote_root_fixture(tmp_path: Path) -> Path:
    """A separate store that the remote side serves, with three real runs."""
    root = tmp_path / "remote-store"
    make_runs(root, 3)
    return root


PYTHON = sys.executable


def trust(local_root: Path, server: Sshd) -> None:
    """Put the server's host key into the local store's known_hosts (as `--trust-new-host` would)."""
    from workbench.remote import known_hosts_path

    path = known_hosts_path(local_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    key_type, key_data = Path(f"{server.host_key}.pub").read_text().split()[:2]
    with path.open("a") as handle:
        handle.write(f"[{server.host}]:{server.port} {key_type} {key_data}\n")


def configure(local_root: Path, server: Sshd, remote_root: Path, *, name: str = "gpu",
              python: str = PYTHON, key: Path | None = None, port: int | None = None,
              timeout: float = 5.0, trusted: bool = True) -> None:
    """Add remote ``name`` to the local store's workbench.toml (and trust its host key)."""
    from workbench.remote import Remote, add_remote

    add_remote(local_root, Remote(name=name, host=server.host, port=port or server.port, user=server.user,
                                  key=str(key or server.client_key), root=str(remote_root), python=python,
                                  timeout=timeout))
    if trusted:
        trust(local_root, server)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> content), to compare a store before and after."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@contextlib.contextmanager
def job_stores(sshd: Sshd, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, settings: str,
               script: str) -> Iterator[Path]:
    """A local store (``settings``: its workbench.toml) with remote ``gpu`` (a second root here,
    over sshd) and ``script`` as ``train.py`` in the working folder; yields the remote root. After:
    the scheduler stopped and no remote job left behind (a failed test kills its process group)."""
    import textwrap

    from workbench.jobs import list_jobs
    from workbench.jobs.daemon import stop_scheduler
    from workbench.settings import load_settings

    root.mkdir(parents=True)
    (root / "workbench.toml").write_text(settings)
    remote_root = tmp_path / "remote-store"
    configure(root, sshd, remote_root)
    work = tmp_path / "work"
    work.mkdir()
    (work / "train.py").write_text(textwrap.dedent(script))
    monkeypatch.setenv("WORKBENCH_SYSTEM_METRICS", "0")
    monkeypatch.chdir(work)
    yield remote_root
    with contextlib.suppress(Exception):
        stop_scheduler(load_settings(root), timeout=20)
    for job in list_jobs(root):
        pgid = (job.record["job"].get("process") or {}).get("pgid")
        if pgid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(pgid), signal.SIGKILL)
