"""One SSH connection per remote (Fabric over paramiko), with host keys checked and timeouts.

Fabric trusts every host key by default: here the client loads the store's known_hosts file and
refuses an unknown host, showing its ``SHA256:`` fingerprint, unless its key has the pinned fingerprint
or the caller asks to trust a new host once; either records its key (see ``_hostkeys``). The TCP
socket is ours, with ``TCP_NODELAY`` (paramiko leaves Nagle on, about 40 ms per command). Every
failure leaves as a :class:`~workbench.errors.RemoteError` (a malformed pin: a ConfigError).
"""

from __future__ import annotations

import shlex
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from workbench.errors import ConfigError, RemoteError
from workbench.remote._config import Remote
from workbench.remote._frame import Frame, FrameError, new_frame, show, skip_noise, split_buffered, wrap
from workbench.remote._hostkeys import HostKeyPolicy, changed_message, check_pin, parse_fingerprint, same_fingerprint

__all__ = ["CommandResult", "Connection", "connect"]


def _import_ssh() -> tuple[Any, Any]:
    from workbench._extras import require

    # MissingExtra: one line naming the 'remote' extra and its pip install command
    return require("fabric", "remote", "remotes (SSH)"), require("paramiko", "remote", "remotes (SSH)")


class CommandResult:
    """A command's exit status and answer (the payload of its frame: banners printed by the
    remote's login shell around it are in ``noise_out`` and ``noise_err``, at most 4 KiB each)."""

    __slots__ = ("exit_status", "noise_err", "noise_out", "stderr", "stdout")

    def __init__(self, exit_status: int, stdout: bytes, stderr: bytes, noise_out: bytes = b"",
                 noise_err: bytes = b"") -> None:
        self.exit_status = exit_status
        self.stdout = stdout
        self.stderr = stderr
        self.noise_out = noise_out
        self.noise_err = noise_err


def _where(remote: Remote) -> str:
    return f"remote {remote.name!r} ({remote.user + '@' if remote.user else ''}{remote.host}:{remote.port})"



def close_channel(channel: Any) -> None:
    """Close ``channel``; on a link that is already gone paramiko raises from close() (EOFError,
    socket errors, SSHException), which must not replace the error that says the link was lost."""
    try:
        channel.close()
    except Exception:  # noqa: BLE001 - whatever paramiko raises for a dead transport
        pass

class Connection:
    """An open connection to one remote. Use :func:`connect`; close it (or use ``with``)."""

    def __init__(self, remote: Remote, fabric_connection: Any) -> None:
        self.remote = remote
        self._conn = fabric_connection
        self._transport = fabric_connection.client.get_transport()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    def alive(self) -> bool:
        return self._transport is not None and bool(self._transport.is_active())

    def _lost(self, what: str, exc: BaseException | None = None) -> RemoteError:
        detail = f": {exc}" if exc is not None and str(exc) else ""
        return RemoteError(f"connection to {_where(self.remote)} was lost during {what}{detail}; "
                           "nothing was changed for it here: run the command again")

    def open_channel(self, command: str) -> Any:
        """A channel running ``command``, with the remote's timeout on every read and write."""
        if self._transport is None or not self._transport.is_active():
            raise self._lost(command.split(" ", 1)[0])
        try:
            channel = self._transport.open_session(timeout=self.remote.timeout)
            channel.settimeout(self.remote.timeout)
            channel.exec_command(command)
        except (OSError, EOFError) as exc:
            raise self._lost(command.split(" ", 1)[0], exc) from exc
        except Exception as exc:  # paramiko.SSHException and friends
            raise self._lost(command.split(" ", 1)[0], exc) from exc
        return channel

    def open_stream(self, command: str, *, what: str, frame: Frame | None = None) -> tuple[Any, Any]:
        """A channel running ``command``, whose stdout is a self-delimiting stream (a tar archive),
        and that stream, read past the banners to the frame marker. ``frame``: the command prints
        the marker itself (a Python program, see ``Frame.python``); without it the shell does.

        The caller sends stdin and closes the channel. A command that ends before its marker is a
        RemoteError: the connection was lost, ``raise_for_checks``'s for its exit status, or that the
        remote did not run it."""
        own = frame is not None
        frame = frame or new_frame()
        # the shell marks stderr; stdout too unless the program marks it itself (after its banners)
        channel = self.open_channel(frame.begin(stdout=not own) + command)
        try:
            stream = channel.makefile("rb")
            skip_noise(stream, frame)
        except FrameError as exc:
            status = wait_status(channel, 1.0)
            err = _stderr_after(channel, frame) if status not in (-1, 0) else b""
            close_channel(channel)
            if status == -1:
                raise self._lost(what, exc) from None
            if status != 0:
                raise_for_checks(self.remote, CommandResult(status, b"", err))
            raise self._no_frame(what, exc) from None
        except (OSError, EOFError) as exc:
            close_channel(channel)
            raise self._lost(what, exc) from exc
        return channel, stream

    def _no_frame(self, what: str, exc: FrameError) -> RemoteError:
        printed = show(exc.noise)
        return RemoteError(
            f"{_where(self.remote)} did not run {what} as sent ({exc}; it printed "
            f"{printed!r}): its login shell's rc files or a ForceCommand in sshd_config run something "
            "else; workbench needs a POSIX shell that runs the command it is sent")

    def run(self, command: str, stdin: bytes = b"", *, what: str = "a command",
            frame: Frame | None = None) -> CommandResult:
        """Run ``command`` (a shell line), send ``stdin``, read everything back; no pty. The answer is
        framed (``_frame``): banners the login shell prints before or after it are set apart. Pass
        ``frame`` when the command runs a Python program that prints the marker again (``Frame.python``)."""
        frame = frame or new_frame()
        channel = self.open_channel(wrap(frame, command))
        stdout, stderr = bytearray(), bytearray()
        try:
            if stdin:
                channel.sendall(stdin)
            channel.shutdown_write()
            while True:
                chunk = channel.recv(1 << 16)
                if not chunk:
                    break
                stdout += chunk
            while True:
                chunk = channel.recv_stderr(1 << 16)
                if not chunk:
                    break
                stderr += chunk
            status = wait_status(channel, self.remote.timeout)
        except (OSError, EOFError) as exc:  # socket.timeout is an OSError
            close_channel(channel)
            raise self._lost(what, exc) from exc
        close_channel(channel)
        if status == -1:  # no exit status: the connection went away, the command did not "fail"
            raise self._lost(what)
        try:
            payload, err, framed, noise_out, noise_err = split_buffered(frame, bytes(stdout), bytes(stderr))
        except FrameError as exc:
            if status != 0:  # the shell could not run it (a ForceCommand, a broken shell): say what it said
                message = " | ".join(t for t in (show(bytes(stdout), 300), show(bytes(stderr), 300)) if t)
                raise RemoteError(f"{_where(self.remote)} did not run {what}: its login shell exited with "
                                  f"status {status} before the command ran (it printed {message!r}); fix the "
                                  "shell's rc files (~/.bashrc, ~/.profile) or the account on the remote") from None
            raise self._no_frame(what, exc) from None
        return CommandResult(status if framed is None else framed, payload, err, noise_out, noise_err)


def _stderr_after(channel: Any, frame: Frame, limit: int = 1 << 16) -> bytes:
    """What an ended command left on stderr (after its frame marker, if it printed one)."""
    data = bytearray()
    try:
        while len(data) < limit and channel.recv_stderr_ready():
            chunk = channel.recv_stderr(limit)
            if not chunk:
                break
            data += chunk
    except (OSError, EOFError):
        pass
    return bytes(data).rpartition(frame.marker)[2]


def wait_status(channel: Any, timeout: float) -> int:
    """The command's exit status; -1 when the connection closed without one (it was cut)."""
    if not channel.status_event.wait(timeout):
        return -1
    return int(channel.exit_status)


def known_hosts_name(remote: Remote) -> str:
    return remote.host if remote.port == 22 else f"[{remote.host}]:{remote.port}"


def _pin(remote: Remote, fingerprint: str | None) -> tuple[str | None, str]:
    """The fingerprint the host's key must have (None: any recorded key), and where it comes from."""
    stored = f"the fingerprint pinned in workbench.toml (remotes.{remote.name})"
    if fingerprint is None:
        return remote.fingerprint, stored
    given = parse_fingerprint(fingerprint, "--fingerprint")
    if remote.fingerprint is not None and not same_fingerprint(given, remote.fingerprint):
        raise ConfigError(f"remote {remote.name!r} pins {remote.fingerprint} in workbench.toml, not {given}; "
                          f"to pin another key, run `workbench remote add {remote.name} ... --fingerprint {given}`")
    return given, "the fingerprint given (--fingerprint)"


def connect(remote: Remote, known_hosts: Path, *, trust_new_host: bool = False,
            fingerprint: str | None = None) -> Connection:
    """Open the connection to ``remote``, checking its host key against ``known_hosts``.

    A host not in ``known_hosts`` is refused with its ``SHA256:`` fingerprint, unless its key has the
    pinned fingerprint (``fingerprint``, else ``remote.fingerprint``) or ``trust_new_host`` is set
    (without a pin): then its key is recorded. A malformed or conflicting pin is a ConfigError,
    raised before connecting.
    """
    pin, pin_source = _pin(remote, fingerprint)
    fabric, paramiko = _import_ssh()
    where = _where(remote)
    host_name = known_hosts_name(remote)
    if remote.key and not Path(remote.key).expanduser().is_file():
        raise RemoteError(f"the key file {remote.key} of {where} does not exist; fix it with "
                          f"`workbench remote add {remote.name} ... --key /path/to/private_key`")
    try:
        sock = socket.create_connection((remote.host, remote.port), timeout=remote.timeout)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise RemoteError(f"cannot reach {where}: {reason}; check the host and port "
                          "(`workbench remote ls`) and that sshd runs there") from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    connect_kwargs: dict[str, Any] = {
        "sock": sock, "look_for_keys": False, "allow_agent": False,
        "banner_timeout": remote.timeout, "auth_timeout": remote.timeout, "channel_timeout": remote.timeout,
    }
    if remote.key:
        connect_kwargs["key_filename"] = str(Path(remote.key).expanduser())
    else:
        connect_kwargs["look_for_keys"] = True
        connect_kwargs["allow_agent"] = True
    config = fabric.Config(overrides={"load_ssh_configs": False})
    conn = fabric.Connection(remote.host, user=remote.user, port=remote.port, config=config,
                             connect_timeout=max(1, int(remote.timeout)), connect_kwargs=connect_kwargs)
    client = conn.client
    if known_hosts.exists():
        try:
            client.load_host_keys(str(known_hosts))
        except (OSError, ValueError, paramiko.SSHException, paramiko.hostkeys.InvalidHostKey) as exc:
            sock.close()  # ValueError: not UTF-8; InvalidHostKey: a key that is not base64
            raise RemoteError(f"cannot read the known hosts file {known_hosts}: {exc}; fix or remove the "
                              "line it names (each line is `HOST KEYTYPE BASE64`)") from exc
    try:
        check_pin(client.get_host_keys().lookup(host_name), pin, pin_source, where, host_name, known_hosts)
    except RemoteError:
        sock.close()
        raise
    client.set_missing_host_key_policy(HostKeyPolicy(remote.name, where, known_hosts, pin=pin,
                                                     pin_source=pin_source, trust_new_host=trust_new_host))

    def abort() -> None:
        client.close()  # stops paramiko's transport thread before the socket goes
        sock.close()

    try:
        conn.open()
    except RemoteError:  # the host key policy refused the key
        abort()
        raise
    except paramiko.BadHostKeyException as exc:
        abort()
        raise RemoteError(changed_message(where, remote.name, pin is not None, exc.key, exc.expected_key,
                                          host_name, known_hosts)) from exc
    except paramiko.AuthenticationException as exc:
        abort()
        raise RemoteError(f"{where} refused the login of user {remote.user or '(default)'} with key "
                          f"{remote.key or '(ssh agent and ~/.ssh keys)'}: {exc}; check --user and --key, "
                          "and that the key's .pub is in the remote's authorized_keys") from exc
    except paramiko.SSHException as exc:
        abort()
        raise RemoteError(f"cannot open an SSH session with {where}: {exc}; is sshd running on that "
                          "port?") from exc
    except (OSError, EOFError) as exc:
        abort()
        raise RemoteError(f"cannot open an SSH session with {where}: {str(exc) or type(exc).__name__}") from exc
    transport = client.get_transport()
    if transport is not None:
        transport.set_keepalive(max(1, int(remote.timeout)))
    return Connection(remote, conn)


#: the oldest Python workbench runs on (pyproject's requires-python)
MIN_PYTHON = (3, 10)


def python_program(frame: Frame, *, workbench: bool = False) -> str:
    """A program that Python 2 and 3 both run: the frame marker (after any banner the interpreter or
    its wrapper prints), its version, and with ``workbench`` whether it imports workbench."""
    lines = ["import sys", frame.python(), "sys.stdout.write('%d.%d.%d\\n' % tuple(sys.version_info[:3]))"]
    if workbench:
        lines += ["try:", " import workbench", " sys.stdout.write('workbench ok\\n')",
                  "except Exception as e:", " sys.stdout.write('workbench ' + repr(e)[:300] + '\\n')"]
    return "\n".join(lines)


def python_check(connection: Connection, *, workbench: bool = False) -> tuple[str, str | None, bytes]:
    """Run the remote's Python: ``(version, workbench, banner)``. ``workbench``: None when it
    imports (or was not asked), else why it does not; ``banner``: what the interpreter printed before
    the program ran. A RemoteError names a missing, failing or too old Python and the fix."""
    remote = connection.remote
    where = _where(remote)
    python = shlex.quote(remote.python)
    frame = new_frame()
    result = connection.run(f"[ -x {python} ] || exit 3; exec {python} -c "
                            f"{shlex.quote(python_program(frame, workbench=workbench))}",
                            what="the check of the remote's python", frame=frame)
    fix = (f"point the remote at a Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer with `workbench remote add "
           f"{remote.name} ... --python /absolute/path/to/python3`")
    if result.exit_status == 3:
        raise RemoteError(f"{where} has no Python at {remote.python} (no executable file there): {fix}")
    banner, marker, answer = result.stdout.partition(frame.marker)
    if not marker:
        said = show(result.stderr or result.stdout, 300) or "nothing"
        raise RemoteError(f"{where}: {remote.python} exits with status {result.exit_status} without running a "
                          f"Python 3 program (it said {said!r}): {fix}")
    words = answer.decode("utf-8", "replace").split("\n")
    version = words[0].strip()
    try:
        numbers = tuple(int(part) for part in version.split("."))
    except ValueError:
        numbers = ()
    if len(numbers) != 3 or numbers[:2] < MIN_PYTHON:
        raise RemoteError(f"{where}: {remote.python} is Python {version[:40]}, workbench needs "
                          f"{MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer: {fix}")
    if result.exit_status != 0:
        said = show(result.stderr, 300)
        raise RemoteError(f"{where}: {remote.python} (Python {version}) exits with status {result.exit_status} "
                          f"({said!r}): {fix}")
    missing = None
    if workbench:
        line = next((w for w in words[1:] if w.startswith("workbench ")), "workbench (no answer)")
        missing = None if line == "workbench ok" else line.removeprefix("workbench ")
    return version, missing, banner


def check(connection: Connection) -> dict[str, Any]:
    """Check the remote root and Python; round-trip time of a trivial command, in seconds."""
    remote = connection.remote
    start = time.perf_counter()
    connection.run("true", what="a round trip")
    rtt = time.perf_counter() - start
    version, _, _ = python_check(connection)
    root = shlex.quote(remote.root)
    result = connection.run(f"if ! [ -d {root} ]; then exit 4; fi; if ! [ -d {root}/runs ]; then exit 5; fi",
                            what="the check of the store")
    raise_for_checks(connection.remote, result)
    return {"rtt": rtt, "python_version": version}


def raise_for_checks(remote: Remote, result: CommandResult) -> None:
    where = _where(remote)
    if result.exit_status == 3:
        raise RemoteError(f"{where} has no Python at {remote.python}: install Python 3 there, or point "
                          f"the remote at it with `workbench remote add {remote.name} ... --python "
                          "/absolute/path/to/python3`")
    if result.exit_status == 4:
        raise RemoteError(f"{where} has no directory {remote.root}: fix --root, or create the store there "
                          f"(`workbench remote add {remote.name} ... --init`, or any workbench run with that root)")
    if result.exit_status == 5:
        raise RemoteError(f"{where}: {remote.root} is not a workbench store (it has no runs/ directory)")
    if result.exit_status != 0:
        message = result.stderr.decode(errors="replace").strip()[:500]
        raise RemoteError(f"a command on {where} failed with exit status {result.exit_status}: {message}")
