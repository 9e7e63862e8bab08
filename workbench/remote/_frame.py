"""Framed answers: a remote command's answer survives banners printed around it.

A login shell's rc files (environment modules on clusters, conda, motd scripts) and Python
wrappers print text on stdout and stderr before a command runs, and EXIT traps after it. Every
answer workbench reads is therefore framed:

* a **marker line** ``@@workbench-frame <nonce>@@`` (``nonce``: 16 random bytes in hex, new for
  every command, so no banner can hold it by chance) is printed by the innermost program just before
  its answer: by the shell after its rc files ran, by a Python program after the interpreter (and
  any wrapper) started. Everything before the marker is noise: it is kept (bounded) for
  ``remote test`` to show and otherwise ignored. The marker may follow banner text on the same
  line (a banner without a newline).
* the **payload** after the marker says how long it is: a buffered answer (:func:`wrap`) ends with
  a trailer line ``@@workbench-frame <nonce> end <status>@@`` that carries the command's exit status
  (its absence means the answer is incomplete); a streamed answer is length-prefixed itself (tar's
  512-byte headers with each member's size, the blob server's ``<digest> <start> <length>`` lines),
  so it is read exactly and whatever follows it is ignored.
* stderr gets the same marker and trailer, so error messages show the command's own words, not
  the banners.

Only ``printf``, a subshell and ``exit`` of a POSIX shell are used.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

__all__ = ["MAX_NOISE", "Frame", "FrameError", "new_frame", "skip_noise", "split_buffered"]

#: the most bytes of noise read before a marker (a banner bigger than this is not a banner)
MAX_NOISE = 1 << 20
#: how much of the noise is kept to show
_KEEP = 4096
_PREFIX = b"@@workbench-frame "


class FrameError(Exception):
    """No marker within :data:`MAX_NOISE` bytes, or none at all: the command did not run as sent."""

    def __init__(self, message: str, noise: bytes) -> None:
        super().__init__(message)
        self.noise = noise


@dataclasses.dataclass(frozen=True)
class Frame:
    """The framing of one command: its nonce and the lines it prints."""

    nonce: str

    @property
    def marker(self) -> bytes:
        """The marker line that precedes the answer (on stdout, and on stderr)."""
        return _PREFIX + self.nonce.encode() + b"@@\n"

    @property
    def trailer(self) -> bytes:
        """The start of the trailer line of a buffered answer; the exit status and ``@@`` follow."""
        return b"\n" + _PREFIX + self.nonce.encode() + b" end "

    def begin(self, *, stdout: bool = True) -> str:
        """Shell text printing the marker line on stdout (unless a program it runs prints it there
        itself) and stderr."""
        line = self.marker.decode().rstrip("\n")
        out = f"printf '%s\\n' '{line}'; " if stdout else ""
        return f"{out}printf '%s\\n' '{line}' >&2; "

    def python(self) -> str:
        """A Python expression (for 2 and 3) that writes the marker on stdout, for a program run by a
        Python that may print a banner of its own first."""
        return f"sys.stdout.write({self.marker.decode()!r}); sys.stdout.flush()"


def new_frame() -> Frame:
    return Frame(os.urandom(16).hex())


def wrap(frame: Frame, command: str) -> str:
    """``command`` framed for a buffered answer: the marker, its output, the trailer with its exit
    status. It runs in a subshell, so an ``exit`` in it ends only the subshell; the shell then
    prints the trailer and exits with the same status."""
    end = (_PREFIX + frame.nonce.encode()).decode()
    trailer = f"printf '\\n%s end %d@@\\n' '{end}' \"$s\""
    return f"{frame.begin()}(\n{command}\n); s=$?; {trailer}; {trailer} >&2; exit \"$s\""


def _split(data: bytes, marker: bytes) -> tuple[bytes, bytes] | None:
    at = data.find(marker)
    if at < 0:
        return None
    return data[:at], data[at + len(marker):]


def split_buffered(frame: Frame, stdout: bytes, stderr: bytes) -> tuple[bytes, bytes, int | None, bytes, bytes]:
    """``(payload, stderr, status, noise_out, noise_err)`` of a buffered answer.

    ``status`` is the exit status in the trailer, None when the trailer is missing (the answer
    was cut short). Raises FrameError when stdout has no marker.
    """
    found = _split(stdout, frame.marker)
    if found is None:
        raise FrameError("no frame marker in the answer", stdout[:_KEEP])
    noise_out, rest = found
    err = _split(stderr, frame.marker)
    noise_err, err_rest = err if err is not None else (b"", stderr)
    err_end = err_rest.rfind(frame.trailer)
    if err_end >= 0:  # what follows the trailer on stderr (an EXIT trap's goodbye) is noise too
        err_rest = err_rest[:err_end]
    at = rest.rfind(frame.trailer)
    status: int | None = None
    if at >= 0:
        tail = rest[at + len(frame.trailer):]
        digits = tail.split(b"@@", 1)[0]
        if digits.lstrip(b"-").isdigit() and b"@@" in tail:
            status = int(digits)
            rest = rest[:at]
    return rest, err_rest, status, noise_out[-_KEEP:], noise_err[-_KEEP:]


def skip_noise(stream: Any, frame: Frame, *, limit: int = MAX_NOISE) -> bytes:
    """Read ``stream`` (a buffered binary file) up to and including the marker line; the noise
    before it (its last 4 KiB). Raises FrameError at EOF or past ``limit`` bytes without a marker."""
    marker = frame.marker
    noise = bytearray()
    read = 0
    while True:
        line = stream.readline(1 << 16)
        if not line:
            raise FrameError("the answer ended before its frame marker", bytes(noise[-_KEEP:]))
        read += len(line)
        noise += line
        if line.endswith(b"\n") and noise.endswith(marker):
            return bytes(noise[: -len(marker)][-_KEEP:])
        if read > limit:
            raise FrameError(f"more than {limit} bytes came before the frame marker", bytes(noise[:_KEEP]))
        if len(noise) > 2 * _KEEP:  # keep what a marker split across reads needs, and a tail to show
            del noise[: len(noise) - _KEEP]


def show(noise: bytes, limit: int = 200) -> str:
    """Noise as one line of text to quote in a message."""
    text = noise.decode("utf-8", "replace").strip()
    text = " | ".join(part.strip() for part in text.splitlines() if part.strip())
    return text if len(text) <= limit else text[: limit - 3] + "..."
