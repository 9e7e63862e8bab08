"""TFRecord framing: the records of a TensorBoard event file, checked and resynchronised.

A TFRecord file is a sequence of ``length (u64) | masked CRC-32C of length (u32) | data | masked
CRC-32C of data (u32)``. :func:`records` yields each intact record with its byte offset and turns
damage into report lines: a record cut short at the end of the file, or a corrupt one after which
reading resumes at the next record whose checksums hold (within ``_RESYNC_WINDOW`` bytes).
TensorBoard's own ``EventFileLoader`` stops silently at the first bad record, hence this reader.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

__all__ = ["masked_crc", "records"]

#: how far past a corrupt record we look for the next valid one before giving up on the file
_RESYNC_WINDOW = 1 << 20
_HEADER = struct.Struct("<QI")
_CRC = struct.Struct("<I")

def masked_crc() -> Callable[[bytes], int]:
    """TFRecord's masked CRC-32C: a compiled CRC-32C where one is installed (``google-crc32c``,
    about half of the reading time otherwise), else TensorBoard's own pure-Python one."""
    try:
        import google_crc32c  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

        return masked_crc32c  # type: ignore[no-any-return]
    value = google_crc32c.value

    def masked(data: bytes) -> int:
        x = int(value(data))
        return (((x >> 15) | (x << 17)) + 0xA282EAD8) & 0xFFFFFFFF

    return masked


def records(path: Path, label: str, problems: list[str] | None,
             limit: int | None = None) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, payload)`` of each intact record of a TFRecord file, up to ``limit`` bytes.

    Damage becomes one line in ``problems`` (None: already reported by an earlier pass): a record
    cut short at the end of the file, or a corrupt one (bad checksum), after which reading resumes
    at the next record whose checksums hold, if one starts within ``_RESYNC_WINDOW`` bytes.
    """
    crc = masked_crc()

    def report(line: str) -> None:
        if problems is not None:
            problems.append(f"{label}: {line}")

    # not blocking: a FIFO named like an event file would wait for a writer forever
    with open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)), "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a FIFO, a device or a socket)", str(path))
        size = st.st_size if limit is None else limit
        offset = 0
        while offset < size:
            header = fh.read(12)
            if len(header) < 12 or offset + 12 > size:
                report(f"truncated record at byte {offset} (the last {size - offset} bytes are not a whole record)")
                return
            length, header_crc = _HEADER.unpack(header)
            if crc(header[:8]) != header_crc:
                offset = _resync(fh, offset, size, crc, report, "bad header checksum")
                fh.seek(offset)
                continue
            end = offset + 12 + length + 4
            if end > size:
                report(f"truncated record at byte {offset} (it needs {length + 16} bytes, "
                       f"{size - offset} are left)")
                return
            body = fh.read(length + 4)
            if len(body) < length + 4:  # the file shrank while we read it
                report(f"truncated record at byte {offset} (the file ended while it was read)")
                return
            data = body[:length]
            if crc(data) != _CRC.unpack_from(body, length)[0]:
                offset = _resync(fh, offset, size, crc, report, "bad data checksum")
                fh.seek(offset)
                continue
            yield offset, data
            offset = end


def _resync(fh: IO[bytes], bad: int, size: int, crc: Callable[[bytes], int], report: Callable[[str], None],
            why: str) -> int:
    """The offset of the next intact record after a corrupt one at ``bad`` (``size``: none)."""
    fh.seek(bad + 1)
    window = fh.read(min(_RESYNC_WINDOW, size - bad - 1) + 11)
    for i in range(len(window) - 11):
        length, header_crc = _HEADER.unpack_from(window, i)
        start = bad + 1 + i
        if start + 16 + length > size or crc(window[i:i + 8]) != header_crc:
            continue
        fh.seek(start + 12)
        data = fh.read(length)
        tail = fh.read(4)
        if len(tail) == 4 and crc(data) == _CRC.unpack(tail)[0]:
            report(f"corrupt record at byte {bad} ({why}); {start - bad} bytes skipped, "
                   f"reading resumed at byte {start}")
            return start
    report(f"corrupt record at byte {bad} ({why}); the rest of the file ({size - bad} bytes) skipped")
    return size
