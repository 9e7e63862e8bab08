"""Remotes in ``workbench.toml``: ``[remotes.NAME]`` tables, read from Settings and written back.

Writing keeps the rest of the file as it is (comments included): the ``[remotes.NAME]`` table is
cut out of the text and the new one appended, the result is parsed to check it, then the file is
replaced atomically.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import sys
import warnings
from pathlib import Path
from typing import Any

from workbench._private import make_dir
from workbench.errors import ConfigError, RemoteError
from workbench.remote._hostkeys import parse_fingerprint
from workbench.settings import SETTINGS_FILE, Settings
from workbench.store._atomic import atomic_write_bytes

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["Remote", "add_remote", "check_remotes", "get_remote", "list_remotes", "remove_remote", "validate_name",
           "validate_remote"]


def quiet_ssh_logging() -> None:
    """Keep paramiko's log (its transport thread logs a traceback when a link breaks) off the
    terminal: every such failure reaches the caller as one RemoteError. Logging's last-resort
    handler would print it to stderr; a NullHandler on the ``paramiko`` logger, which does not
    propagate, keeps it out. To see it, add a handler to ``logging.getLogger("paramiko")`` and set
    its ``propagate`` back to True."""
    logger = logging.getLogger("paramiko")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


quiet_ssh_logging()  # every module that connects imports this one

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}\Z")
# a host name or IP address: no spaces, commas or wildcards, which would make the known_hosts line
# for it name other hosts too
_HOST = re.compile(r"[A-Za-z0-9_.:%][A-Za-z0-9_.:%-]{0,252}\Z")


@dataclasses.dataclass(frozen=True)
class Remote:
    """One SSH remote: where its store lives and which Python runs there."""

    name: str
    host: str
    root: str
    python: str
    port: int = 22
    user: str | None = None
    key: str | None = None
    #: seconds allowed to open the connection, and for each command or transfer to make progress
    timeout: float = 10.0
    #: the host key's fingerprint (``SHA256:...``, as ``ssh-keygen -lf`` prints it): the only key the
    #: host may offer; the first connection records it in known_hosts
    fingerprint: str | None = None

    def to_toml(self) -> str:
        lines = [f"[remotes.{self.name}]"]
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "name" or value is None:
                continue
            lines.append(f"{field.name} = {_toml_value(value)}")
        return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    if any(ord(c) < 32 for c in escaped):
        raise ConfigError(f"{text!r} holds control characters; it cannot be a remote setting")
    return f'"{escaped}"'


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{name!r} is not a valid remote name: use 1-32 characters of a-z, 0-9, '-' "
                          "and '_', starting with a letter or digit")
    return name


def _remote_from(name: str, table: Any, source: str) -> Remote:
    if not isinstance(table, dict):
        raise ConfigError(f"remotes.{name} in {source} is not a table")
    known = {f.name for f in dataclasses.fields(Remote)} - {"name"}
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"remotes.{name} in {source} has unknown keys {sorted(unknown)}; "
                          f"known: {sorted(known)}")
    for required in ("host", "root", "python"):
        if not isinstance(table.get(required), str) or not table[required]:
            raise ConfigError(f"remotes.{name} in {source} needs {required!r}; "
                              f"set it with `workbench remote add {name} --{required} ...`")
    if not _HOST.match(table["host"]):
        raise ConfigError(f"remotes.{name} in {source}: host {table['host']!r} is not a host name or IP address "
                          "(letters, digits and . - _ : % only)")
    port = table.get("port", 22)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"remotes.{name} in {source}: port {port!r} is not a TCP port")
    timeout = table.get("timeout", 10.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < 3600:
        raise ConfigError(f"remotes.{name} in {source}: timeout {timeout!r} is not 0-3600 seconds")
    for absolute in ("root", "python"):
        if not table[absolute].startswith("/"):
            raise ConfigError(f"remotes.{name} in {source}: {absolute} {table[absolute]!r} must be an "
                              "absolute path (the remote shell's rc files are not read)")
    fingerprint = table.get("fingerprint")
    if fingerprint is not None:
        parse_fingerprint(fingerprint, f"remotes.{name} in {source}: fingerprint")
    return Remote(name=validate_name(name), host=table["host"], root=table["root"], python=table["python"],
                  port=port, user=table.get("user"), key=table.get("key"), timeout=float(timeout),
                  fingerprint=fingerprint)


def check_remotes(settings: Settings) -> tuple[list[Remote], list[str]]:
    """The remotes of ``workbench.toml`` that are valid, and a message (naming the file and the
    table) for each one that is not."""
    tables = settings.extra.get("remotes", {})
    source = str(settings.root / SETTINGS_FILE)
    if not isinstance(tables, dict):
        return [], [f"'remotes' in {source} is not a table of tables; write each remote as [remotes.NAME] "
                    "(`workbench remote add` does)"]
    remotes, problems = [], []
    for name, table in sorted(tables.items()):
        try:
            remotes.append(_remote_from(name, table, source))
        except ConfigError as exc:
            problems.append(f"{exc}; fix that table, or remove it with `workbench remote rm {name}`")
    return remotes, problems


def list_remotes(settings: Settings) -> list[Remote]:
    """The remotes of ``workbench.toml``, by name. A table that is not a valid remote is skipped
    with a warning that names the file and the table (``get_remote`` of it says the same)."""
    remotes, problems = check_remotes(settings)
    for problem in problems:
        warnings.warn(f"skipping a remote: {problem}", stacklevel=2)
    return remotes


def get_remote(settings: Settings, name: str) -> Remote:
    tables = settings.extra.get("remotes", {})
    if not isinstance(tables, dict) or name not in tables:
        known = ", ".join(sorted(tables)) if isinstance(tables, dict) and tables else "none"
        raise RemoteError(f"no remote {name!r} in {settings.root / SETTINGS_FILE} (known: {known}); "
                          f"add it with `workbench remote add {name} --host ... --root ... --python ...`")
    return _remote_from(name, tables[name], str(settings.root / SETTINGS_FILE))


def _header_name(line: str) -> str | None:
    match = re.match(r"\s*\[\s*remotes\s*\.\s*(\"?)([A-Za-z0-9_-]+)\1\s*\]\s*(#.*)?$", line)
    return match.group(2) if match else None


def _without_table(text: str, name: str) -> tuple[str, bool]:
    out: list[str] = []
    skipping = found = False
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip()
        if stripped.startswith("["):
            skipping = _header_name(line) == name
            found = found or skipping
        if not skipping:
            out.append(line)
    return "".join(out), found


def _write(path: Path, text: str) -> None:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cannot update {path}: the result would not be valid TOML ({exc}); "
                          "edit its remotes by hand") from exc
    del data
    make_dir(path.parent)
    atomic_write_bytes(path, text.encode("utf-8"))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def validate_remote(remote: Remote) -> Remote:
    """``remote`` if ``add_remote`` would write it (name, host, paths, port, pin); ConfigError otherwise."""
    return _remote_from(validate_name(remote.name), {k: v for k, v in dataclasses.asdict(remote).items()
                                                     if k != "name" and v is not None}, "the arguments")


def prepare_root(conn: Any, *, init: bool) -> bool:
    """Check that the store exists at the remote's root over ``conn`` (a ``Connection``); with
    ``init``, create the root and its ``runs/`` and ``catalog/`` (mode 0700) where missing. True
    when something was created; a RemoteError naming the missing path (and ``--init``) otherwise."""
    import shlex

    remote: Remote = conn.remote
    root = shlex.quote(remote.root)
    where = f"remote {remote.name!r} ({remote.host})"
    if init:
        result = conn.run(f"if [ -d {root}/runs ]; then exit 0; fi; umask 077 && mkdir -p -- {root}/runs "
                          f"{root}/catalog && exit 10", what="the creation of the remote store")
        if result.exit_status not in (0, 10):
            message = result.stderr.decode(errors="replace").strip()[:300]
            raise RemoteError(f"cannot create the store {remote.root} on {where}: {message or 'mkdir failed'}; "
                              "check that its parent exists and is writable there, or pick another --root")
        return bool(result.exit_status == 10)
    result = conn.run(f"[ -d {root} ] || exit 4; [ -d {root}/runs ] || exit 5", what="the check of the root")
    if result.exit_status == 4:
        raise RemoteError(f"{where} has no directory {remote.root}: add the remote with --init to create it "
                          "and a store layout there (for a host used only for jobs), or fix --root")
    if result.exit_status == 5:
        raise RemoteError(f"{where}: {remote.root} is not a workbench store (it has no runs/ directory): add "
                          "the remote with --init to create one there, or fix --root")
    if result.exit_status != 0:
        message = result.stderr.decode(errors="replace").strip()[:300]
        raise RemoteError(f"the check of {remote.root} on {where} failed with exit status "
                          f"{result.exit_status}: {message}")
    return False


def add_remote(root: Path, remote: Remote) -> None:
    """Write ``[remotes.NAME]`` into ``<root>/workbench.toml``, replacing an existing table."""
    validate_remote(remote)
    path = root / SETTINGS_FILE
    text, _ = _without_table(_read(path), remote.name)
    if text and not text.endswith("\n"):
        text += "\n"
    if text.strip():
        text += "\n"
    _write(path, text + remote.to_toml())


def remove_remote(root: Path, name: str) -> None:
    path = root / SETTINGS_FILE
    text, found = _without_table(_read(path), name)
    if not found:
        raise RemoteError(f"no [remotes.{name}] table in {path}; `workbench remote ls` lists the remotes")
    _write(path, text.rstrip("\n") + "\n" if text.strip() else "")
