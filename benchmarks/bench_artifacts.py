"""Artifacts: hashing throughput against ``sha256sum``, dedup of ten fine-tuned checkpoints, and
what verified placement costs.

    .venv/bin/python benchmarks/bench_artifacts.py [--hash-mb 1000] [--base-mb 256] [--chunk-sizes 262144]
        [--place-mb 1000] [--skip-hash] [--skip-dedup] [--skip-place]

(a) One 1 GB file (random bytes, in the page cache) hashed by workbench's digest (whole-file
    SHA-256 and the per-chunk digests, one read) and by ``sha256sum``, interleaved, best of 3.
    Target: workbench's throughput >= 80% of sha256sum's.
(b) Ten checkpoints of a safetensors-like model (tensors of 1-16 MiB, unaligned offsets): a base
    and nine fine-tunes that each change ~10% of its tensors, logged as ten versions. Target:
    the store (blobs, manifests, directories; each inode once, like ``du``) at most 1.1x the
    unique bytes. Also: time to log each version and to place one.
(c) Placing a 1 GB model (one file, random bytes, its blobs in the page cache) into a new
    directory with every blob's SHA-256 checked (the default) and without (its blobs trusted, as
    after a recent ``fsck``), interleaved, best of 3: as 256 KiB chunks reassembled (the default
    for large files) and as one whole-file blob placed by hard link. Reported: GB/s, and the share
    of placement time that verification takes. A cache hit (files as placed: one ``stat`` each)
    is timed too.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import report

from workbench.store.artifacts import open_artifacts
from workbench.store.artifacts.digest import digest_file
from workbench.store.artifacts.du import tree_bytes

MiB = 1024 * 1024


def _write_random(path: Path, size: int) -> None:
    with open(path, "wb") as handle:
        left = size
        while left:
            piece = min(left, 64 * MiB)
            handle.write(os.urandom(piece))
            left -= piece


def _best(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_hashing(work: Path, size_mb: int, chunk_size: int) -> None:
    path = work / "big.bin"
    size = size_mb * 1000 * 1000
    _write_random(path, size)
    sha256sum = shutil.which("sha256sum")
    if sha256sum is None:
        print("sha256sum not found: skipping the hashing comparison")
        return
    expected = subprocess.run(
        [sha256sum, str(path)], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    found = digest_file(path, chunk_size=chunk_size, threshold=4 * MiB)
    assert found.digest == expected, "digest differs from sha256sum"

    ours, theirs, plain = [], [], []
    for _ in range(3):  # interleaved, so both see the same machine
        theirs.append(
            _best(lambda: subprocess.run([sha256sum, str(path)], capture_output=True, check=True), 1)
        )
        ours.append(_best(lambda: digest_file(path, chunk_size=chunk_size, threshold=4 * MiB), 1))

        def single() -> None:
            h, buf = hashlib.sha256(), bytearray(8 * MiB)
            view = memoryview(buf)
            with open(path, "rb", buffering=0) as f:
                while n := f.readinto(buf):
                    h.update(view[:n])

        plain.append(_best(single, 1))
    t_ours, t_theirs, t_plain = min(ours), min(theirs), min(plain)
    mbps = lambda t: size / t / 1e6  # noqa: E731
    print(
        f"hashing {size / 1e9:.2f} GB file: workbench digest {t_ours:.2f} s ({mbps(t_ours):.0f} MB/s, "
        f"whole file + {len(found.chunks or ())} chunk digests), sha256sum {t_theirs:.2f} s "
        f"({mbps(t_theirs):.0f} MB/s), hashlib one pass {t_plain:.2f} s ({mbps(t_plain):.0f} MB/s)"
    )
    ratio = t_theirs / t_ours
    report(
        "hash throughput, workbench / sha256sum",
        ratio,
        "ratio",
        ">= 0.80",
        ratio >= 0.8,
        f"{mbps(t_ours):.0f} vs {mbps(t_theirs):.0f} MB/s",
    )
    path.unlink()


def _checkpoint(path: Path, tensors: list[bytes]) -> None:
    header = (
        "{"
        + ",".join(f'"t{i}":{{"dtype":"F32","shape":[{len(t) // 4}]}}' for i, t in enumerate(tensors))
        + "}"
    ).encode()
    with open(path, "wb") as handle:
        handle.write(len(header).to_bytes(8, "little"))
        handle.write(header)
        for tensor in tensors:
            handle.write(tensor)


def bench_dedup(work: Path, base_mb: int, chunk_size: int) -> None:
    rng = random.Random(7)
    sizes, total = [], 0
    while total < base_mb * MiB:  # tensors of 1-16 MiB, sizes multiple of 4 bytes (not of any chunk)
        size = rng.randrange(1 * MiB, 16 * MiB) // 4 * 4
        sizes.append(size)
        total += size
    base = [os.urandom(s) for s in sizes]
    store_root = work / f"store-{chunk_size}"
    store = open_artifacts(store_root, chunk_size=chunk_size, progress="never")
    unique = 0
    log_times, logical = [], 0
    for version in range(10):
        tensors = list(base)
        if version:
            changed_bytes = 0
            order = list(range(len(base)))
            rng.shuffle(order)
            for i in order:  # ~10% of the bytes, like a fine-tune of a few layers
                if changed_bytes >= total // 10:
                    break
                tensors[i] = os.urandom(sizes[i])
                changed_bytes += sizes[i]
            unique += changed_bytes
        src = work / "ckpt"
        src.mkdir(exist_ok=True)
        path = src / "model.safetensors"
        _checkpoint(path, tensors)
        (src / "config.json").write_text(f'{{"fine_tune": {version}}}')
        if version == 0:
            unique += path.stat().st_size
        unique += (src / "config.json").stat().st_size
        logical += path.stat().st_size + (src / "config.json").stat().st_size
        os.sync()
        start = time.perf_counter()
        art = store.log(src, "finetune", type="checkpoint")
        log_times.append(time.perf_counter() - start)
        assert art.version == version + 1
    on_disk = tree_bytes(store_root, set())  # like du -s: each inode once
    ratio = on_disk / unique
    print(
        f"ten checkpoints of {total / MiB:.0f} MiB ({len(sizes)} tensors), chunk size "
        f"{chunk_size // 1024} KiB: logical {logical / MiB:.0f} MiB, unique {unique / MiB:.0f} MiB, "
        f"store on disk {on_disk / MiB:.0f} MiB"
    )
    report(
        f"dedup, store on disk / unique bytes ({chunk_size // 1024} KiB chunks)",
        ratio,
        "ratio",
        "<= 1.10",
        ratio <= 1.1,
        f"{on_disk / MiB:.0f} / {unique / MiB:.0f} MiB",
    )
    mb = total / MiB
    median = sorted(log_times[1:])[4]
    print(
        f"log v1 (all new) {log_times[0]:.2f} s ({mb / log_times[0]:.0f} MiB/s); "
        f"log v2-v10 (90% shared) median {median:.2f} s ({mb / median:.0f} MiB/s)"
    )
    start = time.perf_counter()
    placed = store.use("finetune:v10", work / "placed")
    first = time.perf_counter() - start
    start = time.perf_counter()
    store.use("finetune:v10")
    cache_first = time.perf_counter() - start
    start = time.perf_counter()
    store.use("finetune:v10")
    cache_again = time.perf_counter() - start
    assert (placed / "model.safetensors").stat().st_size == path.stat().st_size
    print(
        f"place v10 into a new directory {first:.2f} s ({mb / first:.0f} MiB/s, chunks reassembled); "
        f"into the cache {cache_first:.2f} s; cache hit {cache_again * 1000:.1f} ms"
    )
    shutil.rmtree(work / "placed")
    shutil.rmtree(store_root)


def _place_once(store, manifest, dest: Path, trusted: frozenset[str]) -> float:  # type: ignore[no-untyped-def]
    from workbench.store.artifacts.materialise import materialise

    os.sync()
    start = time.perf_counter()
    materialise(store.layout, store.settings, manifest, dest, trusted=trusted)
    elapsed = time.perf_counter() - start
    shutil.rmtree(dest)
    return elapsed


def bench_placement(work: Path, size_mb: int) -> None:
    from workbench.store.artifacts.manifests import blob_digests

    size = size_mb * 1000 * 1000
    src = work / "model"
    src.mkdir()
    _write_random(src / "model.safetensors", size)
    for label, threshold in (("256 KiB chunks, reassembled", 4 * MiB), ("whole file, hard link", 2**62)):
        root = work / "store-place"
        store = open_artifacts(root, progress="never", chunk_threshold=threshold)
        manifest = store.manifest(store.log(src, "model", type="model").ref)
        everything = frozenset(blob_digests(manifest))
        verified, trusted = [], []
        for _ in range(3):  # interleaved, so both see the same machine
            verified.append(_place_once(store, manifest, work / "placed", frozenset()))
            trusted.append(_place_once(store, manifest, work / "placed", everything))
        t_v, t_t = min(verified), min(trusted)
        share = max(t_v - t_t, 0.0) / t_v * 100
        gbps = lambda t: size / t / 1e9  # noqa: E731
        print(f"place a {size / 1e9:.2f} GB model ({label}): verified {t_v:.3f} s ({gbps(t_v):.2f} GB/s), "
              f"unverified {t_t:.3f} s ({gbps(t_t):.2f} GB/s)")
        report(f"verification share of placement ({label})", share, "%", "-", True,
               f"{gbps(t_v):.2f} vs {gbps(t_t):.2f} GB/s")
        if threshold == 4 * MiB:
            store.use("model")  # placed into the cache and its marker written
            start = time.perf_counter()
            store.use("model")
            hit = time.perf_counter() - start
            print(f"cache hit of the {size / 1e9:.2f} GB model, files as placed: {hit * 1000:.1f} ms")
        shutil.rmtree(root)
    shutil.rmtree(src)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--hash-mb", type=int, default=1000, help="size of the hashed file in MB (default 1000)"
    )
    parser.add_argument(
        "--base-mb", type=int, default=256, help="size of each checkpoint in MiB (default 256)"
    )
    parser.add_argument(
        "--chunk-sizes",
        default="262144",
        help="comma-separated chunk sizes to measure dedup with (default: 262144, the default)",
    )
    parser.add_argument(
        "--place-mb", type=int, default=1000, help="size of the placed model in MB (default 1000)"
    )
    parser.add_argument("--skip-hash", action="store_true")
    parser.add_argument("--skip-dedup", action="store_true")
    parser.add_argument("--skip-place", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wb-bench-artifacts-"))
    try:
        if not args.skip_hash:
            bench_hashing(work, args.hash_mb, 256 * 1024)
        if not args.skip_dedup:
            for chunk in (int(c) for c in args.chunk_sizes.split(",")):
                bench_dedup(work, args.base_mb, chunk)
        if not args.skip_place:
            bench_placement(work, args.place_mb)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
