"""Wall times of the store-wide commands on a big store (issue 16: 100,000 runs).

    python benchmarks/bench_store_ops.py --root COPY              # reindex, fsck, gc --dry-run, gc
    python benchmarks/bench_store_ops.py --root COPY --sync       # also sync it over loopback SSH

Run it on a copy: ``reindex`` rewrites the catalog and ``gc`` deletes unreferenced blobs. Each
command is a whole ``python -m workbench`` process. ``--sync`` starts a real sshd on 127.0.0.1 (as
bench_sync.py does), adds the store as remote ``gpu`` of an empty store and times the first sync
and a second one with nothing changed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests"), str(HERE.parent / "tests" / "remote")]


def timed(*args: str) -> None:
    load = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "workbench", *args, "--progress", "never"],
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    out = " ".join(done.stdout.split())[-200:]
    print(f"workbench {' '.join(args):<60} {seconds:8.1f} s  exit {done.returncode}  load {load:.2f}  {out}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True, help="the store (a copy: reindex and gc change it)")
    parser.add_argument("--sync", action="store_true", help="also time sync of it into an empty store")
    args = parser.parse_args()
    root = str(Path(args.root).absolute())
    for command in (["reindex"], ["fsck"], ["gc", "--dry-run"], ["gc"]):
        timed(*command, "--root", root)
    if args.sync:
        from _sshd import configure, start_sshd

        work = Path(tempfile.mkdtemp(prefix="wb-bench-store-ops-"))
        server = start_sshd(work / "sshd")
        try:
            local = work / "local"
            configure(local, server, Path(root))
            timed("sync", "gpu", "--root", str(local))  # the first: every run
            timed("sync", "gpu", "--root", str(local))  # nothing changed
        finally:
            server.stop()
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
