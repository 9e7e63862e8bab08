"""Sync benchmark of issue 5 (acceptance 2), on loopback against a real sshd.

    python benchmarks/bench_sync.py              # 1,000 remote runs (building them takes ~10-20 s)
    python benchmarks/bench_sync.py --runs 200   # a smaller store

The remote store holds real workbench runs (10 params, 5 metrics x 100 steps each). Each timing is
a whole ``workbench.sync`` call: connect (SSH handshake and key login included), list, transfer,
check, place, close.

S1  first sync of 1,000 runs into an empty store           target <= 2 s
S2  sync with nothing changed                              target <= 0.3 s
S3  sync after one remote run changed                      target <= 0.5 s
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests"), str(HERE.parent / "tests" / "remote")]
from _common import best_of, report  # noqa: E402 - found through sys.path above
from _sshd import configure, make_runs, start_sshd  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import workbench as wb
    from workbench.store._paths import Layout
    from workbench.store.records import update_record

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        server = start_sshd(tmp / "sshd")
        try:
            remote_root = tmp / "remote-store"
            start = time.perf_counter()
            ids = make_runs(remote_root, args.runs, params=10, metrics=5, steps=100)
            print(f"built {args.runs} remote runs in {time.perf_counter() - start:.1f} s", flush=True)

            firsts = []
            for i in range(args.repeat):
                local = tmp / f"local{i}"
                configure(local, server, remote_root)
                start = time.perf_counter()
                result = wb.sync("gpu", root=local, progress="never")
                firsts.append(time.perf_counter() - start)
                assert len(result.runs) == args.runs and not result.refused, result
            first = statistics.median(firsts)
            report(f"S1 first sync, {args.runs} runs ({result.files} files, {result.bytes / 1e6:.1f} MB)",
                   first, "s", "<= 2 s", first <= 2.0)

            def unchanged() -> None:
                assert wb.sync("gpu", root=local, progress="never").runs == []

            none = best_of(unchanged, repeat=args.repeat)
            report("S2 sync, nothing changed", none, "s", "<= 0.3 s", none <= 0.3)

            layout = Layout(remote_root)
            ones = []
            for i in range(args.repeat):
                update_record(layout, ids[i * 7 % len(ids)], lambda r, i=i: r.update(notes=f"changed {i}"),
                              fsync=False)
                start = time.perf_counter()
                result = wb.sync("gpu", root=local, progress="never")
                ones.append(time.perf_counter() - start)
                assert len(result.runs) == 1, result
            one = statistics.median(ones)
            report("S3 sync, one remote run changed", one, "s", "<= 0.5 s", one <= 0.5)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
