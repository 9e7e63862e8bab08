"""Host keys a person can check: OpenSSH fingerprints, pins, and the trust decision for a new host.

A fingerprint is shown as OpenSSH shows it: ``SHA256:`` and the unpadded base64 of the SHA-256 of
the key blob, which is what ``ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`` prints on the host,
so the two can be compared by eye. A *pin* (``--fingerprint``, or ``fingerprint`` in the remote's
table of ``workbench.toml``) names the one key a host may offer; pins are compared with
:func:`hmac.compare_digest`. Paramiko is never imported here: key objects come from the caller.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import shlex
from pathlib import Path
from typing import Any

from workbench._private import make_dir
from workbench.errors import ConfigError, RemoteError
from workbench.store._atomic import atomic_write_bytes

__all__ = ["HostKeyPolicy", "changed_message", "check_pin", "describe", "fingerprint", "key_type",
           "parse_fingerprint", "record", "same_fingerprint"]

PREFIX = "SHA256:"
_LENGTH = 43  # 32 bytes of SHA-256 in unpadded base64
_TYPES = {"ssh-ed25519": "ED25519", "ssh-rsa": "RSA", "ssh-dss": "DSA",
          "sk-ssh-ed25519@openssh.com": "ED25519-SK", "sk-ecdsa-sha2-nistp256@openssh.com": "ECDSA-SK"}
_HOST_KEY_FILES = {"ED25519": "ssh_host_ed25519_key.pub", "RSA": "ssh_host_rsa_key.pub",
                   "ECDSA": "ssh_host_ecdsa_key.pub", "DSA": "ssh_host_dsa_key.pub"}


def fingerprint(key: Any) -> str:
    """``SHA256:...`` of a paramiko key, exactly as ``ssh-keygen -lf`` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return PREFIX + base64.b64encode(digest).decode("ascii").rstrip("=")


def key_type(key: Any) -> str:
    """The key type as OpenSSH names it in messages: ``ED25519``, ``RSA``, ``ECDSA``."""
    name = str(key.get_name())
    if name in _TYPES:
        return _TYPES[name]
    return "ECDSA" if name.startswith("ecdsa-") else name.upper()


def describe(key: Any) -> str:
    """``ED25519 key fingerprint is SHA256:...``, the words ``ssh`` uses for an unknown host."""
    return f"{key_type(key)} key fingerprint is {fingerprint(key)}"


def _host_key_file(key: Any) -> str:
    return "/etc/ssh/" + _HOST_KEY_FILES.get(key_type(key), "ssh_host_ed25519_key.pub")


def parse_fingerprint(value: object, where: str) -> str:
    """``value`` if it is a fingerprint in OpenSSH's ``SHA256:`` format; ConfigError otherwise.

    ``where`` names the setting for the message (``--fingerprint``, ``remotes.gpu1 in ...``).
    """
    text = value if isinstance(value, str) else ""
    body = text[len(PREFIX):] if text.startswith(PREFIX) else ""
    valid = len(body) == _LENGTH
    if valid:  # 32 bytes, in the one spelling ssh-keygen prints for them
        try:
            digest = base64.b64decode(body + "=", validate=True)
        except (binascii.Error, ValueError):
            digest = b""
        valid = len(digest) == 32 and base64.b64encode(digest).decode("ascii") == body + "="
    if not valid:
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        raise ConfigError(
            f"{where}: {shown} is not a host key fingerprint in OpenSSH's format; expected 'SHA256:' and "
            f"{_LENGTH} characters of base64, as `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` prints it "
            "on the host (MD5 and hex fingerprints are not accepted)")
    return text


def same_fingerprint(a: str, b: str) -> bool:
    """Whether two fingerprints are the same, compared in constant time."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def record(known_hosts: Path, host_name: str, key: Any) -> None:
    """Append ``host_name``'s key to ``known_hosts`` (atomically; the other lines stay as they are)."""
    try:
        text = known_hosts.read_bytes()
    except FileNotFoundError:
        text = b""
    if text and not text.endswith(b"\n"):
        text += b"\n"
    line = f"{host_name} {key.get_name()} {key.get_base64()}\n".encode()
    try:
        make_dir(known_hosts.parent)  # private, like the store (workbench/_private.py)
        atomic_write_bytes(known_hosts, text + line)
    except OSError as exc:
        raise RemoteError(f"cannot record the host key of {host_name} in {known_hosts}: {exc}") from exc


class HostKeyPolicy:
    """Paramiko's missing-host-key policy for workbench: what happens to a host not in known_hosts.

    With a ``pin``, the host's key is accepted (and recorded) only if its fingerprint is the pin;
    with ``trust_new_host`` (and no pin), it is recorded (trust on first use, only when asked);
    otherwise it is refused with its fingerprint and how to trust it. A refusal records nothing.
    """

    def __init__(self, remote_name: str, where: str, known_hosts: Path, *, pin: str | None,
                 pin_source: str, trust_new_host: bool) -> None:
        self._name = remote_name
        self._where = where
        self._known_hosts = known_hosts
        self._pin = pin
        self._pin_source = pin_source
        self._trust = trust_new_host
        self.added: str | None = None

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        offered = fingerprint(key)
        if self._pin is not None:
            if not same_fingerprint(offered, self._pin):
                raise RemoteError(
                    f"the host key of {self._where} does not match {self._pin_source}: the pin is {self._pin}, "
                    f"the host offers a key whose {describe(key)}. Nothing was recorded. Someone may be "
                    f"intercepting the connection, or the pin is wrong: compare it with what "
                    f"`ssh-keygen -lf {_host_key_file(key)}` prints on the host")
        elif not self._trust:
            raise RemoteError(
                f"{self._where} is an unknown host: its key is not in {self._known_hosts}. Its {describe(key)}. "
                f"Check that this is what `ssh-keygen -lf {_host_key_file(key)}` prints on the host, then trust "
                f"it with `workbench remote test {self._name} --fingerprint {offered}` (or --trust-new-host)")
        record(self._known_hosts, hostname, key)
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.added = f"{key_type(key)} {offered}"


def check_pin(recorded: dict[str, Any] | None, pin: str | None, pin_source: str, where: str,
              host_name: str, known_hosts: Path) -> None:
    """Refuse, before connecting, a pin that contradicts a key known_hosts already records."""
    if pin is None or not recorded:
        return
    for key in recorded.values():
        if not same_fingerprint(fingerprint(key), pin):
            raise RemoteError(
                f"{known_hosts} records a key for {where} whose {describe(key)}, but {pin_source} is {pin}: "
                f"one of them is wrong. If the host was reinstalled and the pin is what `ssh-keygen -lf "
                f"{_host_key_file(key)}` prints there, remove the old key with "
                f"`ssh-keygen -R {shlex.quote(host_name)} -f {shlex.quote(str(known_hosts))}`; otherwise fix the pin")


def changed_message(where: str, remote_name: str, pinned: bool, offered: Any, expected: Any,
                    host_name: str, known_hosts: Path) -> str:
    """The message for a host whose key differs from the one known_hosts records."""
    new = fingerprint(offered)
    if pinned:
        trust = (f"update the pin with `workbench remote add {remote_name} ... --fingerprint {new}` and run "
                 f"`workbench remote test {remote_name}`")
    else:
        trust = f"run `workbench remote test {remote_name} --fingerprint {new}`"
    return (f"the host key of {where} CHANGED since it was recorded in {known_hosts}: the recorded key's "
            f"{describe(expected)}; the host now offers a key whose {describe(offered)}. Someone may be "
            "intercepting the connection, or the host was reinstalled. If you know it was reinstalled and "
            f"the new fingerprint is what `ssh-keygen -lf {_host_key_file(offered)}` prints there, remove "
            f"the old key with `ssh-keygen -R {shlex.quote(host_name)} -f {shlex.quote(str(known_hosts))}`, "
            f"then {trust}")
