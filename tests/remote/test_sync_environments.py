"""Environment files come along with synced runs (issue 13).

A real remote store (real sshd on 127.0.0.1, real `find` and `tar`) holds environment files
next to its runs: a good one that its runs name, a second good one, one whose content does not
hash to its name, one that is not JSON and a symbolic link. The good ones land in the local
``environments/`` (checked, canonical, private); each bad one is refused alone, by path and
reason, and never costs a run; a file the local store has already is not copied again.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from _sshd import Sshd, configure, make_runs, sshd_fixture  # noqa: F401 - a fixture

import workbench as wb
from workbench.store._paths import Layout
from workbench.store.environments import encode_environment, read_environment, write_environment
from workbench.store.records import update_record
from workbench.store.store import open_store
from workbench.tracking._environment import installed, save_environment


def test_sync_brings_the_environment_files_runs_name(sshd: Sshd, tmp_path: Path) -> None:
    remote_root = tmp_path / "remote-store"
    run_ids = make_runs(remote_root, 2)
    there = Layout(remote_root)
    digest, warning = save_environment(there)
    assert digest is not None and warning is None
    for run_id in run_ids:
        update_record(there, run_id, lambda r: r.update(environment=digest))
    other, other_data = encode_environment({"torch": "2.3.0+cu121", "numpy": "1.26.4"})
    write_environment(there, other, other_data)
    changed, changed_data = encode_environment({"torch": "2.3.0"})
    there.environment(changed).write_bytes(changed_data.replace(b"2.3.0", b"6.6.6"))
    broken = "b" * 64
    there.environment(broken).write_bytes(b"\x00not json")
    linked = "d" * 64
    os.symlink("/etc/passwd", there.environment(linked))

    local = tmp_path / "local"
    configure(local, sshd, remote_root)
    result = wb.sync("gpu", root=local)
    assert sorted(result.runs) == sorted(run_ids)  # no bad environment file costs a run
    here = Layout(local)
    assert sorted(os.listdir(here.environments)) == sorted([f"{digest}.json", f"{other}.json"])
    assert stat.S_IMODE(here.environment(other).stat().st_mode) == 0o600
    assert read_environment(here, other) == {"numpy": "1.26.4", "torch": "2.3.0+cu121"}
    store = open_store(local)
    assert store.environment(run_ids[0]) == installed()
    refused = "\n".join(result.refused)
    assert f"{changed}.json" in refused and "not the environment its name says" in refused
    assert f"{broken}.json" in refused and "not valid JSON" in refused
    assert f"{linked}.json" in refused and "not a regular file" in refused
    assert len(result.refused) == 3

    again = wb.sync("gpu", root=local)
    assert again.runs == [] and again.files == 0  # the environments are here: nothing copied
