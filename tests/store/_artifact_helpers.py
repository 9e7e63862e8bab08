"""Helpers for the artifact tests: fake checkpoints, store snapshots, du-like accounting."""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path


def write_checkpoint(path: Path, tensors: dict[str, bytes]) -> None:
    """A safetensors-like file: an 8-byte header length, a JSON header, then the tensors back to back."""
    offsets, start = {}, 0
    for name, data in tensors.items():
        offsets[name] = {
            "dtype": "F32",
            "shape": [len(data) // 4],
            "data_offsets": [start, start + len(data)],
        }
        start += len(data)
    header = json.dumps(offsets).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as handle:
        handle.write(len(header).to_bytes(8, "little"))
        handle.write(header)
        for data in tensors.values():
            handle.write(data)


def base_tensors(seed: int, count: int, low: int, high: int) -> dict[str, bytes]:
    rng = random.Random(seed)
    return {f"layer{i}.weight": rng.randbytes(rng.randrange(low, high) // 8 * 8) for i in range(count)}


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under ``root`` with its size, mode and mtime: equal snapshots, nothing written."""
    out = {}
    if not root.exists():
        return out
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            out[os.path.relpath(path, root)] = (st.st_size, st.st_mode, st.st_mtime_ns)
    return out


def allocated_bytes(root: Path) -> int:
    """Like ``du -s``: allocated blocks of every file and directory, each inode counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            st = os.lstat(os.path.join(folder, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()
    }
