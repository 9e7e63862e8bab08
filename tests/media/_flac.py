"""A real FLAC file written from the format specification (RFC 9639), for tests.

No FLAC encoder is on the test machines (no ``soundfile``, ``ffmpeg``, ``sox`` or ``flac``), so
this writes the simplest valid stream: a STREAMINFO block, then frames of VERBATIM subframes
(16-bit samples, fixed block size, frame header CRC-8 and frame CRC-16 as the format defines).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class _Bits:
    def __init__(self) -> None:
        self.value = 0
        self.count = 0

    def put(self, value: int, width: int) -> None:
        self.value = (self.value << width) | (value & ((1 << width) - 1))
        self.count += width

    def bytes(self) -> bytes:
        pad = (-self.count) % 8
        return (self.value << pad).to_bytes((self.count + pad) // 8, "big")


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def write_flac(path: Path, samples: Any, sample_rate: int, block: int = 1024) -> bytes:
    """Write int16 ``samples`` (1-D mono or samples x channels) to ``path`` as FLAC; its bytes."""
    import numpy as np

    array = np.asarray(samples, dtype=np.int16)
    if array.ndim == 1:
        array = array[:, None]
    frames_total, channels = array.shape
    info = _Bits()
    info.put(block, 16)
    info.put(block, 16)
    info.put(0, 24)  # min frame size: unknown
    info.put(0, 24)  # max frame size: unknown
    info.put(sample_rate, 20)
    info.put(channels - 1, 3)
    info.put(15, 5)  # 16 bits per sample
    info.put(frames_total, 36)
    info.put(0, 128)  # MD5 of the audio: 0 means not computed (allowed by the format)
    streaminfo = info.bytes()
    out = bytearray(b"fLaC")
    out += bytes([0x80]) + len(streaminfo).to_bytes(3, "big") + streaminfo  # last block, type 0
    for number, start in enumerate(range(0, frames_total, block)):
        chunk = array[start:start + block]
        assert number < 128  # one-byte UTF-8 frame number
        header = _Bits()
        header.put(0b11111111111110, 14)
        header.put(0, 1)
        header.put(0, 1)  # fixed block size
        header.put(0b0111, 4)  # block size - 1 in 16 bits after the frame number
        header.put(0b0000, 4)  # sample rate from STREAMINFO
        header.put(channels - 1, 4)  # independent channels
        header.put(0b100, 3)  # 16 bits per sample
        header.put(0, 1)
        header.put(number, 8)
        header.put(len(chunk) - 1, 16)
        head = header.bytes()
        frame = _Bits()
        for channel in range(channels):
            frame.put(0, 1)
            frame.put(0b000001, 6)  # VERBATIM
            frame.put(0, 1)  # no wasted bits
            for value in chunk[:, channel].tolist():
                frame.put(value, 16)
        body = head + bytes([_crc8(head)]) + frame.bytes()
        out += body + _crc16(body).to_bytes(2, "big")
    data = bytes(out)
    path.write_bytes(data)
    return data
