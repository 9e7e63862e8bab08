"""Issue 11: SSH trust on first use that a person can check.

Against the real sshd fixture and the real ``ssh-keygen``: an unknown host's message shows the
``SHA256:`` fingerprint that ``ssh-keygen -lf`` prints for the host's public key; a pinned
fingerprint (``--fingerprint``, Python API and CLI) accepts the right key and records it, and
refuses a wrong one, recording nothing; a changed key shows both fingerprints.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _sshd import Sshd, configure, free_port, keygen, remote_root_fixture, sshd_fixture  # noqa: F401 - fixtures
from conftest import require_module, require_program

import workbench as wb
from workbench.errors import ConfigError, RemoteError
from workbench.remote import Remote, add_remote, check_remote, get_remote, known_hosts_path
from workbench.remote._connection import connect
from workbench.remote._hostkeys import fingerprint, key_type, parse_fingerprint
from workbench.settings import load_settings

TIMEOUT = 5.0
pytestmark = pytest.mark.timeout(120)


def ssh_keygen_l(path: Path) -> tuple[str, str]:
    """``(SHA256:..., TYPE)`` as the real ``ssh-keygen -lf`` prints them for a public key file."""
    out = subprocess.run([require_program("ssh-keygen"), "-lf", str(path)], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[1].startswith("SHA256:"), out
    return out[1], out[-1].strip("()")


def host_fingerprint(sshd: Sshd) -> str:
    return ssh_keygen_l(Path(f"{sshd.host_key}.pub"))[0]


def wrong_fingerprint(tmp_path: Path) -> str:
    return ssh_keygen_l(Path(f"{keygen(tmp_path / 'other_key')}.pub"))[0]


def workbench(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench", "--root", str(root), *args], capture_output=True,
                          text=True, timeout=60, check=False)


def add_args(sshd: Sshd, remote_root: Path) -> list[str]:
    return ["remote", "add", "gpu", "--host", sshd.host, "--port", str(sshd.port), "--user", sshd.user,
            "--key", str(sshd.client_key), "--root", str(remote_root), "--python", sys.executable,
            "--timeout", str(TIMEOUT)]


# -- fingerprints -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa"])
def test_fingerprint_is_what_ssh_keygen_prints(kind: str, tmp_path: Path) -> None:
    paramiko = require_module("paramiko")
    require_program("ssh-keygen")
    path = tmp_path / f"key_{kind}"
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True,
                   stdin=subprocess.DEVNULL, capture_output=True)
    key_name, data = Path(f"{path}.pub").read_text().split()[:2]
    key = paramiko.PKey.from_type_string(key_name, base64.b64decode(data))
    expected, expected_type = ssh_keygen_l(Path(f"{path}.pub"))
    assert fingerprint(key) == expected
    assert key_type(key) == expected_type
    assert parse_fingerprint(expected, "--fingerprint") == expected


@pytest.mark.parametrize("value", [
    "", "SHA256:", "sha256:" + "A" * 43, "MD5:" + ":".join(["ab"] * 16), ":".join(["ab"] * 16),
    "SHA256:" + "A" * 42, "SHA256:" + "A" * 44, "SHA256:" + "A" * 42 + "B",  # B: bits past the 32 bytes
    "SHA256:" + "A" * 42 + "=", "SHA256:" + "A" * 41 + "!A", " SHA256:" + "A" * 43, "SHA256:" + "A" * 43 + "\n",
    42, None,
])
def test_malformed_fingerprints_are_refused(value: object) -> None:
    with pytest.raises(ConfigError, match=r"--fingerprint: .* is not a host key fingerprint in OpenSSH's format"):
        parse_fingerprint(value, "--fingerprint")


def test_a_malformed_pin_is_a_config_error_before_connecting(tmp_path: Path) -> None:
    local = tmp_path / "local"
    remote = Remote(name="gpu", host="127.0.0.1", port=free_port(), root="/r", python="/usr/bin/python3")
    with pytest.raises(ConfigError, match="fingerprint"):
        add_remote(local, dataclasses.replace(remote, fingerprint="MD5:00"))
    assert not (local / "workbench.toml").exists()
    add_remote(local, remote)
    # nothing listens on that port: a ConfigError (not "cannot reach") shows nothing was tried
    with pytest.raises(ConfigError, match="not a host key fingerprint"):
        check_remote("gpu", root=local, fingerprint="SHA256:nope")
    with (local / "workbench.toml").open("a") as handle:
        handle.write('fingerprint = "SHA256:short"\n')
    with pytest.raises(ConfigError, match=r"remotes\.gpu in .*workbench\.toml: fingerprint: 'SHA256:short'"):
        get_remote(load_settings(local), "gpu")


@pytest.mark.parametrize("host", ["a,evil", "a b", "*", "!host", "-oProxyCommand=x", "h\nx"])
def test_hosts_that_would_name_other_hosts_in_known_hosts_are_refused(host: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a host name or IP address"):
        add_remote(tmp_path, Remote(name="gpu", host=host, root="/r", python="/usr/bin/python3"))


# -- against the real sshd ----------------------------------------------------------------------------


def test_unknown_host_shows_the_fingerprint_ssh_keygen_prints(sshd: Sshd, remote_root: Path,
                                                             tmp_path: Path) -> None:
    local = tmp_path / "local"
    configure(local, sshd, remote_root, timeout=TIMEOUT, trusted=False)
    expected = host_fingerprint(sshd)
    with pytest.raises(RemoteError) as info:
        wb.sync("gpu", root=local)
    message = str(info.value)
    assert "is an unknown host" in message
    assert f"ED25519 key fingerprint is {expected}." in message
    assert f"`workbench remote test gpu --fingerprint {expected}`" in message and "--trust-new-host" in message
    assert "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" in message
    assert not known_hosts_path(local).exists()


def test_pinned_fingerprint_python_api(sshd: Sshd, remote_root: Path, tmp_path: Path) -> None:
    local = tmp_path / "local"
    right, wrong = host_fingerprint(sshd), wrong_fingerprint(tmp_path)
    remote = Remote(name="gpu", host=sshd.host, port=sshd.port, user=sshd.user, key=str(sshd.client_key),
                    root=str(remote_root), python=sys.executable, timeout=TIMEOUT, fingerprint=wrong)
    add_remote(local, remote)
    assert get_remote(load_settings(local), "gpu").fingerprint == wrong
    for attempt in (lambda: check_remote("gpu", root=local), lambda: wb.sync("gpu", root=local),
                    lambda: check_remote("gpu", root=local, trust_new_host=True)):  # the pin wins
        with pytest.raises(RemoteError) as info:
            attempt()
        message = str(info.value)
        assert "does not match the fingerprint pinned in workbench.toml" in message
        assert f"the pin is {wrong}" in message and f"ED25519 key fingerprint is {right}" in message
        assert "Nothing was recorded" in message
        assert not known_hosts_path(local).exists()
    # a pin given now must not contradict the pin in workbench.toml
    with pytest.raises(ConfigError, match=re.escape(f"pins {wrong} in workbench.toml, not {right}")):
        check_remote("gpu", root=local, fingerprint=right)

    add_remote(local, dataclasses.replace(remote, fingerprint=right))
    assert check_remote("gpu", root=local)["python_version"].startswith("3.")
    known = known_hosts_path(local)
    key_name, data = Path(f"{sshd.host_key}.pub").read_text().split()[:2]
    assert known.read_text() == f"[{sshd.host}]:{sshd.port} {key_name} {data}\n"
    # OpenSSH reads the recorded line, and prints the same fingerprint for it
    found = subprocess.run(["ssh-keygen", "-F", f"[{sshd.host}]:{sshd.port}", "-f", str(known)],
                           capture_output=True, text=True, check=True).stdout
    assert data in found
    assert ssh_keygen_l(known)[0] == right
    assert len(wb.sync("gpu", root=local).runs) == 3
    assert known.read_text().count("\n") == 1  # recorded once


def test_fingerprint_given_to_check_remote(sshd: Sshd, remote_root: Path, tmp_path: Path) -> None:
    local = tmp_path / "local"
    configure(local, sshd, remote_root, timeout=TIMEOUT, trusted=False)
    right, wrong = host_fingerprint(sshd), wrong_fingerprint(tmp_path)
    refused = f"does not match the fingerprint given .*the pin is {re.escape(wrong)}.*{re.escape(right)}"
    with pytest.raises(RemoteError, match=refused):
        check_remote("gpu", root=local, fingerprint=wrong)
    assert not known_hosts_path(local).exists()
    assert check_remote("gpu", root=local, fingerprint=right)["python_version"].startswith("3.")
    assert f"[127.0.0.1]:{sshd.port} ssh-ed25519 " in known_hosts_path(local).read_text()
    assert check_remote("gpu", root=local)  # known now, without a pin


def test_changed_key_shows_both_fingerprints(sshd: Sshd, remote_root: Path, tmp_path: Path) -> None:
    local = tmp_path / "local"
    configure(local, sshd, remote_root, timeout=TIMEOUT, trusted=False)
    impostor = Path(f"{keygen(tmp_path / 'old_host_key')}.pub")
    key_name, data = impostor.read_text().split()[:2]
    known = known_hosts_path(local)
    known.parent.mkdir(parents=True)
    known.write_text(f"[{sshd.host}]:{sshd.port} {key_name} {data}\n")
    old, new = ssh_keygen_l(impostor)[0], host_fingerprint(sshd)
    for attempt in (lambda: wb.sync("gpu", root=local), lambda: check_remote("gpu", root=local, fingerprint=new)):
        with pytest.raises(RemoteError) as info:
            attempt()
        message = str(info.value)
        assert f"ED25519 key fingerprint is {old}" in message and new in message
        assert f"ssh-keygen -R '[127.0.0.1]:{sshd.port}' -f {known}" in message
        assert known.read_text() == f"[{sshd.host}]:{sshd.port} {key_name} {data}\n"
    with pytest.raises(RemoteError) as info:
        wb.sync("gpu", root=local)
    assert "CHANGED" in str(info.value) and f"ED25519 key fingerprint is {new}" in str(info.value)
    assert f"`workbench remote test gpu --fingerprint {new}`" in str(info.value)
    # the command it names removes the old key; then the new one is trusted by its fingerprint
    subprocess.run(["ssh-keygen", "-R", f"[127.0.0.1]:{sshd.port}", "-f", str(known)], check=True,
                   capture_output=True)
    assert check_remote("gpu", root=local, fingerprint=new)


def test_a_pin_that_contradicts_known_hosts_is_refused_before_connecting(sshd: Sshd, remote_root: Path,
                                                                         tmp_path: Path) -> None:
    local = tmp_path / "local"
    configure(local, sshd, remote_root, timeout=TIMEOUT, trusted=True)  # the real key is recorded
    wrong = wrong_fingerprint(tmp_path)
    with pytest.raises(RemoteError, match=f"records a key .* whose ED25519 key fingerprint is "
                                          f"{re.escape(host_fingerprint(sshd))}, but the fingerprint given "
                                          f".* is {re.escape(wrong)}"):
        check_remote("gpu", root=local, fingerprint=wrong)
    remote = get_remote(load_settings(local), "gpu")
    with pytest.raises(RemoteError, match=r"but the fingerprint pinned in workbench\.toml"):
        connect(dataclasses.replace(remote, fingerprint=wrong), known_hosts_path(local))


# -- the CLI, as a real subprocess --------------------------------------------------------------------


def test_cli_fingerprint(sshd: Sshd, remote_root: Path, tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    right, wrong = host_fingerprint(sshd), wrong_fingerprint(tmp_path)
    add = add_args(sshd, remote_root)
    known = known_hosts_path(local)

    result = workbench(local, *add, "--fingerprint", "MD5:ab:cd")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "--fingerprint: 'MD5:ab:cd' is not a host key fingerprint in OpenSSH's format" in result.stderr
    assert not (local / "workbench.toml").exists()
    result = workbench(local, *add, "--fingerprint", right, "--trust-new-host")
    assert result.returncode == 2 and "not allowed with argument" in result.stderr

    # the unknown host's message names its fingerprint; a wrong one given to `remote test` is refused
    assert workbench(local, *add).returncode == 0
    result = workbench(local, "remote", "test", "gpu")
    assert result.returncode == 1 and f"ED25519 key fingerprint is {right}" in result.stderr
    result = workbench(local, "remote", "test", "gpu", "--fingerprint", wrong)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"the pin is {wrong}" in result.stderr and right in result.stderr and not known.exists()

    # a wrong pin in workbench.toml: refused, nothing recorded
    result = workbench(local, *add, "--fingerprint", wrong)
    assert result.returncode == 0, result.stderr
    assert f'fingerprint = "{wrong}"' in (local / "workbench.toml").read_text()
    result = workbench(local, "remote", "test", "gpu")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"the pin is {wrong}" in result.stderr and f"ED25519 key fingerprint is {right}" in result.stderr
    assert not known.exists()

    # the right pin: the first connection records the key, later ones use it
    assert workbench(local, *add, "--fingerprint", right).returncode == 0
    result = workbench(local, "remote", "test", "gpu")
    assert result.returncode == 0, result.stderr
    assert "gpu: ok, Python 3." in result.stdout
    assert ssh_keygen_l(known)[0] == right
    result = workbench(local, "sync", "gpu", "--progress", "never")
    assert result.returncode == 0 and "synced 3 runs" in result.stdout, result.stderr


def test_cli_remote_test_fingerprint_records_the_key(sshd: Sshd, remote_root: Path, tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    assert workbench(local, *add_args(sshd, remote_root)).returncode == 0
    result = workbench(local, "remote", "test", "gpu", "--fingerprint", host_fingerprint(sshd))
    assert result.returncode == 0, result.stderr
    assert ssh_keygen_l(known_hosts_path(local))[0] == host_fingerprint(sshd)
    assert "fingerprint" not in (local / "workbench.toml").read_text()  # a one-time check, not a pin
