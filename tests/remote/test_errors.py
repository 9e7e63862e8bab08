"""Acceptance 5: wrong key, unknown host, changed host key, unreachable host, remote without Python:
each a clear RemoteError within the timeout, and nothing written to the store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _sshd import Sshd, configure, free_port, keygen, remote_root_fixture, snapshot, sshd_fixture  # noqa: F401 - fixtures

import workbench as wb
from workbench.errors import RemoteError
from workbench.remote import get_remote, known_hosts_path
from workbench.remote._connection import check, connect

TIMEOUT = 3.0


def _sync_fails(local: Path, match: str) -> None:
    before = snapshot(local / "runs")
    start = time.monotonic()
    with pytest.raises(RemoteError, match=match):
        wb.sync("gpu", root=local)
    assert time.monotonic() - start < TIMEOUT + 2
    assert snapshot(local / "runs") == before
    assert not (local / "remote" / "gpu" / "cursor.json").exists()


def test_wrong_key(sshd: Sshd, remote_root: Path, tmp_path: Path) -> None:
    local = tmp_path / "local"
    configure(local, sshd, remote_root, key=keygen(tmp_path / "stranger"), timeout=TIMEOUT)
    _sync_fails(local, r"refused the login of user \S+ with key .*stranger.*authorized_keys")


def test_missing_key_file(sshd: Sshd, remote_root: Path, tmp_path: Path) -> None:
    local = tmp_path / "local"
    configure(local, sshd, remote_root, key=tmp_path / "no_such_key", timeout=TIMEOUT)
    _sync_fails(local, r"the key file .*no_such_key of remote 'gpu' .* does not exist")


def test_unknown_host_is_refused_unless_trusted_once(sshd: Sshd, remote_root: Path, tmp_path: Path) -> None:
    local = tmp_path / "local"
    configure(local, sshd, remote_root, timeout=TIMEOUT, trusted=False)
    _sync_fails(local, r"unknown host: its key is not in .*known_hosts.*--trust-new-host")
    assert not known_hosts_path(local).exists()
    from workbench.settings import load_settings

    remote = get_remote(load_settings(local), "gpu")
    with connect(remote, known_hosts_path(local), trust_new_host=True) as conn:
        assert check(conn)["python_version"].startswith("3.")
    assert f"[127.0.0.1]:{sshd.port} ssh-ed25519 " in known_hosts_path(local).read_text()
    assert wb.sync("gpu", root=local).refused == []


def test_changed_host_key_is_always_refused(sshd: Sshd, remote_root: Path, tmp_path: Path) -> None:
    local = tmp_path / "local"
    configure(local, sshd, remote_root, timeout=TIMEOUT, trusted=False)
    impostor = keygen(tmp_path / "old_host_key")
    key_type, key_data = Path(f"{impostor}.pub").read_text().split()[:2]
    known = known_hosts_path(local)
    known.parent.mkdir(parents=True)
    known.write_text(f"[{sshd.host}]:{sshd.port} {key_type} {key_data}\n")
    _sync_fails(local, r"host key of .* CHANGED .*ssh-keygen -R '\[127\.0\.0\.1\]:\d+' -f .*known_hosts")
    # trust-on-first-use does not apply to a changed key
    from workbench.settings import load_settings

    with pytest.raises(RemoteError, match="CHANGED"):
        connect(get_remote(load_settings(local), "gpu"), known, trust_new_host=True)
    assert known.read_text() == f"[{sshd.host}]:{sshd.port} {key_type} {key_data}\n"


def test_unreachable_host(sshd: Sshd, remote_root: Path, tmp_path: Path) -> None:
    local = tmp_path / "local"
    configure(local, sshd, remote_root, port=free_port(), timeout=TIMEOUT)  # nothing listens there
    _sync_fails(local, r"cannot reach remote 'gpu' .*127\.0\.0\.1:\d+.*Connection refused.*sshd runs there")


def test_remote_without_python(sshd: Sshd, remote_root: Path, tmp_path: Path) -> None:
    local = tmp_path / "local"
    configure(local, sshd, remote_root, python="/nonexistent/bin/python3", timeout=TIMEOUT)
    _sync_fails(local, r"has no Python at /nonexistent/bin/python3: install Python 3 there")
    from workbench.settings import load_settings

    with connect(get_remote(load_settings(local), "gpu"), known_hosts_path(local)) as conn, \
            pytest.raises(RemoteError, match="has no Python"):
        check(conn)


def test_remote_without_a_store(sshd: Sshd, tmp_path: Path) -> None:
    local = tmp_path / "local"
    configure(local, sshd, tmp_path / "nowhere", timeout=TIMEOUT)
    _sync_fails(local, r"has no directory .*nowhere: fix --root")


def test_unknown_remote(tmp_path: Path) -> None:
    with pytest.raises(RemoteError, match=r"no remote 'gpu' .*known: none.*workbench remote add gpu"):
        wb.sync("gpu", root=tmp_path / "local")
