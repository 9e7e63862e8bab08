"""Media travel with sync (issue 15): the media index of a synced run comes with its record and
segments; the bytes stay on the remote until an item is read, then come over SSH, verified by
digest. A real sshd on 127.0.0.1 and real workbench runs on the remote store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _sshd import (
    Sshd,
    configure,
    sshd_fixture,  # noqa: F401 - a fixture
)

import workbench as wb
from workbench.store.artifacts.blobs import Blobs


def test_synced_media_list_at_once_and_their_bytes_come_on_demand(sshd: Sshd, tmp_path: Path) -> None:
    remote_root = tmp_path / "remote-store"
    image = (np.arange(32 * 48 * 3) % 251).astype(np.uint8).reshape(32, 48, 3)
    run = wb.init(project="remote", root=remote_root, capture_output=False, system_metrics=False, fsync=False)
    for step in range(3):
        run.log({"pred": wb.Image(image + step, caption=f"step {step}"), "loss": 1.0 / (step + 1)}, step=step)
    run.log({"sample": wb.Text("hello from the GPU box"), "w": wb.Histogram(np.arange(100.0))}, step=3)
    run.finish()
    local = tmp_path / "local"
    configure(local, sshd, remote_root)

    result = wb.sync("gpu", root=local)
    assert run.id in result.runs and result.refused == []
    items = wb.media(run.id, root=local)
    assert list(items["key"]) == ["pred", "pred", "pred", "sample", "w"]
    assert list(items["caption"][:3]) == ["step 0", "step 1", "step 2"]
    assert not any(Blobs(local / "blobs" / "sha256").has(d) for d in items["digest"][:4])  # bytes stayed there
    hist = wb.load_media(items.iloc[4], root=local)  # inline in the index: nothing to fetch
    assert hist["counts"].sum() == 100

    got = wb.load_media(items.iloc[1], root=local)  # fetched over SSH now
    assert np.array_equal(np.asarray(got), image + 1)
    assert wb.load_media(items.iloc[3], root=local) == "hello from the GPU box"
    assert Blobs(local / "blobs" / "sha256").has(items["digest"][1])
    assert wb.sql("select count(*) n from media", root=local)["n"][0] == 5

    again = wb.sync("gpu", root=local)  # nothing changed: the run is not copied again
    assert again.runs == []
