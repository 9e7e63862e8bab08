"""W&B's ``.wandb`` transaction log: its framing, read and checked record by record.

A ``.wandb`` file is a 7-byte header (``:W&B``, magic ``0xBEE1``, version 0) and then LevelDB's
log format: 32 KiB blocks of records, each ``crc32 | length | type | data``, a record longer than
a block split into FIRST/MIDDLE/LAST pieces. wandb 0.31 no longer ships its Python reader of that
format (``wandb.sdk.internal.datastore``, which its Go core replaced), so the framing is read here,
with the same checks (the CRC of every piece, zero padding); :func:`records` decodes each record
with W&B's own protobuf class ``wandb.proto.wandb_internal_pb2.Record``.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["Unreadable", "frames", "records"]

_BLOCK = 32768
_HEAD = 7  # both the file header and each record's header are 7 bytes
_IDENT, _MAGIC, _VERSION = b":W&B", 0xBEE1, 0
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
#: crc32 of each record type's byte: the seed of the record's checksum (as W&B's writer does)
_SEED = {t: zlib.crc32(bytes([t])) & 0xFFFFFFFF for t in (_FULL, _FIRST, _MIDDLE, _LAST)}


class Unreadable(Exception):
    """Nothing of this log can be read (not a .wandb file, no run record)."""


def frames(log: Path, problems: list[str] | None) -> Iterator[tuple[int, bytes]]:
    """(byte offset, data) of each whole record of ``log``; damage goes to ``problems`` (if given)
    and reading goes on at the next block, as LevelDB's reader does."""

    def problem(text: str) -> None:
        if problems is not None:
            problems.append(f"{log}: {text}")

    try:
        handle = open(log, "rb")  # noqa: SIM115 - closed below; a generator
    except OSError as exc:
        raise Unreadable(f"{log}: cannot be read ({exc.strerror}); nothing to import") from exc
    with handle:
        header = handle.read(_HEAD)
        if len(header) < _HEAD or struct.unpack("<4sHB", header) != (_IDENT, _MAGIC, _VERSION):
            raise Unreadable(f"{log}: not a W&B transaction log (its header is not ':W&B' version 0); "
                              "nothing to import")
        start, block = 0, header + handle.read(_BLOCK - _HEAD)
        pos = _HEAD
        pending: bytearray | None = None
        pending_at = 0
        while True:
            while pos + _HEAD <= len(block):
                at = start + pos
                checksum, length, kind = struct.unpack_from("<IHB", block, pos)
                if checksum == 0 and length == 0 and kind == 0:  # zero fill: nothing more in this block
                    break
                end = pos + _HEAD + length
                if end > len(block):
                    if len(block) < _BLOCK:
                        problem(f"truncated record at byte {at} (the file ends at byte {start + len(block)}); "
                                "read up to there")
                        return
                    problem(f"corrupt record at byte {at} (its length runs past its block); bytes {at}-"
                            f"{start + _BLOCK} skipped")
                    if pending is not None:
                        problem(f"the record that began at byte {pending_at} is lost with it")
                    pending = None
                    break
                data = bytes(block[pos + _HEAD:end])
                if kind not in _SEED or zlib.crc32(data, _SEED[kind]) & 0xFFFFFFFF != checksum:
                    problem(f"bad checksum in the record at byte {at}; bytes {at}-{start + len(block)} skipped")
                    if pending is not None:
                        problem(f"the record that began at byte {pending_at} is lost with it")
                    pending = None
                    break
                pos = end
                if kind == _FULL:
                    if pending is not None:
                        problem(f"the record that began at byte {pending_at} was never finished; skipped")
                        pending = None
                    yield at, data
                elif kind == _FIRST:
                    if pending is not None:
                        problem(f"the record that began at byte {pending_at} was never finished; skipped")
                    pending, pending_at = bytearray(data), at
                elif pending is not None:  # MIDDLE or LAST of a record begun before
                    pending += data
                    if kind == _LAST:
                        yield pending_at, bytes(pending)
                        pending = None
                # else: the rest of a record whose start was in a skipped block (already reported)
            if len(block) < _BLOCK:  # that was the last (partial) block
                tail = block[pos:]
                if pending is not None:
                    problem(f"truncated record at byte {pending_at} (the file ends at byte "
                            f"{start + len(block)}); read up to there")
                elif tail.strip(b"\0"):
                    problem(f"truncated record at byte {start + pos} (the file ends at byte "
                            f"{start + len(block)}); read up to there")
                return
            start += _BLOCK
            block, pos = handle.read(_BLOCK), 0
            if not block:
                if pending is not None:
                    problem(f"truncated record at byte {pending_at} (the file ends at byte {start}); "
                            "read up to there")
                return


def records(log: Path, pb: Any, problems: list[str] | None,
             only: set[int] | None = None) -> Iterator[tuple[int, Any]]:
    """(offset, Record) of each record of ``log`` (only those at the offsets ``only``, if given)."""
    from google.protobuf.message import DecodeError

    for at, data in frames(log, problems):
        if only is not None and at not in only:
            continue
        record = pb.Record()
        try:
            record.ParseFromString(data)
        except DecodeError:
            if problems is not None:
                problems.append(f"{log}: the record at byte {at} is not a W&B record; skipped")
            continue
        yield at, record
