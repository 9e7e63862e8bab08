"""Sync benchmark of issue 5 (acceptance 2), on loopback against a real sshd.

    python benchmarks/bench_sync.py              # 1,000 remote runs (building them takes ~10-20 s)
    python benchmarks/bench_sync.py --runs 200   # a smaller store

The remote store holds real workbench runs (10 params, 5 metrics x 100 steps each). Each timing is
a whole ``workbench.sync`` call: connect (SSH handshake and key login included), list, transfer,
check, place, close.

S1  first sync of 1,000 runs into an empty store           target <= 2 s
S2  sync with nothing changed                              target <= 0.3 s
S3  sync after one remote run changed                      target <= 0.5 s

Each is also done by ``rsync -a`` of the same folders (``runs/``, ``environments/``) over the same
sshd in the same run (issue 18, acceptance 5): time, and the bytes the server sent, counted by a
TCP relay in front of sshd for both (tests/remote/test_sync_delta.py's Relay). S4 is a live run:
a second process logs 50,000 more points into one remote run between two syncs. There is no
``--watch`` yet, so the live-run watch of acceptance 5 is not measured.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests"), str(HERE.parent / "tests" / "remote")]
from _common import report  # noqa: E402 - found through sys.path above
from _sshd import configure, make_runs, start_sshd  # noqa: E402
from test_sync_delta import RSYNC, Relay  # noqa: E402 - the test's byte-counting relay


def _rsync(server: object, relay: Relay, known_hosts: Path, remote_root: Path, mirror: Path) -> tuple[float, int]:
    """``rsync -a`` of the remote store's runs/ and environments/ into ``mirror`` through the relay:
    (seconds, bytes the server sent)."""
    ssh = (f"ssh -F /dev/null -p {relay.port} -i {server.client_key} -o BatchMode=yes "  # type: ignore[attr-defined]
           f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={known_hosts}")
    where = f"{server.user}@127.0.0.1:"  # type: ignore[attr-defined]
    mirror.mkdir(exist_ok=True)
    relay.reset()
    start = time.perf_counter()
    subprocess.run([RSYNC, "-a", "-e", ssh, f"{where}{remote_root}/runs", f"{where}{remote_root}/environments",
                    f"{mirror}/"], check=True, capture_output=True, timeout=600)
    seconds = time.perf_counter() - start
    time.sleep(0.05)  # the relay's last counts
    return seconds, relay.received


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import workbench as wb
    from workbench.remote import known_hosts_path
    from workbench.store._paths import Layout
    from workbench.store.records import update_record

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        server = start_sshd(tmp / "sshd")
        relay = Relay(server.port)
        key_type, key_data = Path(f"{server.host_key}.pub").read_text().split()[:2]
        host_line = f"[127.0.0.1]:{relay.port} {key_type} {key_data}\n"
        known_hosts = tmp / "known_hosts"
        known_hosts.write_text(host_line)

        def through_relay(local: Path) -> None:
            configure(local, server, remote_root, port=relay.port, trusted=False, timeout=30.0)
            known_hosts_path(local).parent.mkdir(parents=True, exist_ok=True)
            known_hosts_path(local).write_text(host_line)

        def ours(local: Path) -> tuple[float, int, object]:
            relay.reset()
            start = time.perf_counter()
            result = wb.sync("gpu", root=local, progress="never")
            seconds = time.perf_counter() - start
            time.sleep(0.05)
            return seconds, relay.received, result

        def versus(label: str, mine: tuple[float, int], theirs: tuple[float, int]) -> str:
            return (f"{label}: rsync -a {theirs[0]:.3f} s, {theirs[1]:,} B; ratio time {mine[0] / theirs[0]:.2f}x, "
                    f"bytes {mine[1] / max(theirs[1], 1):.2f}x (ours {mine[1]:,} B at the transport)")

        try:
            remote_root = tmp / "remote-store"
            start = time.perf_counter()
            ids = make_runs(remote_root, args.runs, params=10, metrics=5, steps=100)
            print(f"built {args.runs} remote runs in {time.perf_counter() - start:.1f} s", flush=True)

            firsts, rsyncs = [], []
            for i in range(args.repeat):  # alternated: both see the same machine
                local = tmp / f"local{i}"
                through_relay(local)
                seconds, sent, result = ours(local)
                firsts.append((seconds, sent))
                assert len(result.runs) == args.runs and not result.refused, result  # type: ignore[attr-defined]
                rsyncs.append(_rsync(server, relay, known_hosts, remote_root, tmp / f"mirror{i}"))
            first, their_first = min(firsts), min(rsyncs)
            report(f"S1 first sync, {args.runs} runs ({result.files} files, "  # type: ignore[attr-defined]
                   f"{result.bytes / 1e6:.1f} MB)", first[0], "s", "<= 2 s", first[0] <= 2.0,
                   versus("best of each", first, their_first))
            mirror = tmp / f"mirror{args.repeat - 1}"

            nones = [ours(local) for _ in range(args.repeat)]
            assert all(n[2].runs == [] for n in nones)  # type: ignore[attr-defined]
            none = min((n[0], n[1]) for n in nones)
            their_none = min(_rsync(server, relay, known_hosts, remote_root, mirror) for _ in range(args.repeat))
            report("S2 sync, nothing changed", none[0], "s", "<= 0.3 s", none[0] <= 0.3,
                   versus("best of each", none, their_none))

            layout = Layout(remote_root)
            ones, their_ones = [], []
            for i in range(args.repeat):
                update_record(layout, ids[i * 7 % len(ids)], lambda r, i=i: r.update(notes=f"changed {i}"),
                              fsync=False)
                seconds, sent, result = ours(local)
                assert len(result.runs) == 1, result  # type: ignore[attr-defined]
                ones.append((seconds, sent))
                their_ones.append(_rsync(server, relay, known_hosts, remote_root, mirror))
            one, their_one = min(ones), min(their_ones)
            report("S3 sync, one remote run changed (its notes)", one[0], "s", "<= 0.5 s", one[0] <= 0.5,
                   versus("best of each", one, their_one))

            grower = (f"import workbench as wb\n"
                      f"run = wb.init(id={ids[1]!r}, resume='allow', root={str(remote_root)!r}, "
                      f"capture_output=False, system_metrics=False)\n"
                      f"for step in range(100, 10100):\n"
                      f"    run.log({{f'm{{k}}': step * 0.5 + k for k in range(5)}}, step=step)\n"
                      f"run.finish()\n")
            subprocess.run([sys.executable, "-c", grower], check=True, timeout=300)
            grown = ours(local)
            assert len(grown[2].runs) == 1, grown[2]  # type: ignore[attr-defined]
            their_grown = _rsync(server, relay, known_hosts, remote_root, mirror)
            report("S4 sync after a run logged 50,000 more points", grown[0], "s", "-", True,
                   versus("once each", (grown[0], grown[1]), their_grown))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
