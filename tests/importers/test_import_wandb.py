"""W&B offline runs written by the real ``wandb`` package, imported and compared value by value.

One module fixture writes the runs (``_wandb_runs.py`` in a subprocess, offline, about 5-9 s: wandb
starts its service process once and each ``wandb.init`` takes most of a second); every test copies
what it needs. The reader is checked on its own (the ImportedRun objects against what was given
to wandb), then end to end through ``workbench.importers.wandb`` and ``workbench import wandb``.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_module, require_program
from workbench.errors import ImportSourceError
from workbench.importers import _wandb, _wandb_log
from workbench.importers._model import ImportedRun

HERE = Path(__file__).parent


def _wandb_env(base: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "WORKBENCH_"))}
    env.update({
        "WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DIR": str(base),
        "WANDB_CONFIG_DIR": str(base / ".config"), "WANDB_CACHE_DIR": str(base / ".cache"),
        "WANDB_DATA_DIR": str(base / ".data"),
        # offline runs never connect; were one to try, it would fail at once on a closed local port
        "WANDB_BASE_URL": "http://127.0.0.1:9",
    })
    return env


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Real offline runs: ``wandb`` (alpha, beta, gamma's first part), ``later`` (gamma resumed)."""
    require_module("wandb")
    git = require_program("git")
    base = tmp_path_factory.mktemp("wandb-src")
    (base / "later").mkdir()
    subprocess.run([git, "init", "-q", "."], capture_output=True, check=True, cwd=base)
    subprocess.run([git, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x"],
                   capture_output=True, check=True, cwd=base)
    commit = subprocess.run([git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                            cwd=base).stdout.strip()
    script = HERE / "_wandb_runs.py"
    done = subprocess.run([sys.executable, str(script), str(base)], cwd=base, env=_wandb_env(base),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    folders = {p.name.rsplit("-", 1)[1]: p for p in (base / "wandb").iterdir() if p.name.startswith("offline-run-")}
    later = next(p for p in (base / "later" / "wandb").iterdir() if p.name.startswith("offline-run-"))
    return {"base": base, "wandb": base / "wandb", "folders": folders, "later": later, "commit": commit,
            "script": str(script), "expected": json.loads((base / "expected.json").read_text())}


def _copy_runs(written: dict[str, Any], target: Path, *ids: str) -> Path:
    """A wandb/ folder under ``target`` with copies of the named run folders (links kept as links)."""
    folder = target / "wandb"
    folder.mkdir(parents=True, exist_ok=True)
    for ident in ids:
        source = written["folders"][ident]
        shutil.copytree(source, folder / source.name, symlinks=True)
    return folder


def _runs(*sources: str | Path, **options: Any) -> dict[str, ImportedRun]:
    return {run.source_id: run for run in _wandb.read([str(s) for s in sources], **options)}


def _series(run: ImportedRun) -> dict[str, Any]:
    return {s.key: s for s in run.series()}


def _log(run_folder: Path) -> Path:
    return next(run_folder.glob("*.wandb"))


# -- the reader on its own ----------------------------------------------------------------------


def test_alpha_run_fields_and_config_types(written: dict[str, Any]) -> None:
    runs = _runs(written["wandb"])
    assert sorted(runs) == ["alpha01", "beta02", "gamma03"]
    run = runs["alpha01"]
    expected = written["expected"]["alpha01"]
    assert (run.kind, run.source_path) == ("wandb", str(written["wandb"]))
    assert (run.name, run.project) == ("alpha run", "imports")
    assert run.notes == "first line\nsecond line"
    assert run.tags == ["baseline", "tau-\u03c4"]
    assert run.group == "grp"
    assert run.status == "completed"
    assert run.error is None and run.problems == []
    assert run.config == expected["config"]  # _wandb dropped; the later config.update kept
    for key, kind in {"lr": float, "layers": int, "use_bn": bool, "optimizer": str, "betas": list,
                      "schedule": dict, "late": int, "big": int}.items():
        assert type(run.config[key]) is kind, key
    assert run.config["seed"] is None
    assert run.config["big"] == 2**53 + 1  # not squeezed through a float
    init_before, init_after = expected["init"]
    assert run.start_time is not None and init_before - 1 <= run.start_time <= init_after
    last_row = expected["rows"][-1]["after"]
    assert run.end_time is not None and last_row - 1 < run.end_time <= expected["end"] + 1
    assert run.command == [written["script"], str(written["base"])]
    assert run.git_commit == written["commit"]
    assert run.summary["best_acc"] == 0.975
    assert run.summary["nested"] == {"a": 1, "b": "two"}
    assert run.summary["loss"] == 1.0 / 40 and run.summary["count"] == 39
    assert not [k for k in run.summary if k.startswith("_")]
    assert "img" not in run.summary and "hist" not in run.summary  # media: in the media store
    assert any("'flag'" in line and "not imported" in line for line in run.skipped), run.skipped
    assert "1 value(s) of W&B type table-file (keys 'preds'): tables are not imported (their JSON files are " \
           "kept with the run's files)" in run.skipped, run.skipped
    assert "preds" not in run.summary


def test_alpha_series_steps_values_and_wall_times(written: dict[str, Any]) -> None:
    run = _runs(written["folders"]["alpha01"])["alpha01"]
    rows = written["expected"]["alpha01"]["rows"][:40]
    series = _series(run)
    user = sorted(k for k in series if not k.startswith("sys/"))
    assert user == ["acc", "count", "loss", "val.loss"]
    for key, value in {"loss": lambda i: 1.0 / (i + 1), "acc": lambda i: i / 40,
                       "val.loss": lambda i: 2.0 / (i + 1), "count": float}.items():
        s = series[key]
        assert list(s.steps) == [2 * i for i in range(40)], key
        assert list(s.values) == [value(i) for i in range(40)], key  # exact: W&B keeps doubles
        assert s.times is not None
        for i, (stamp, row) in enumerate(zip(s.times, rows, strict=True)):
            assert row["before"] <= stamp <= row["after"], (key, i)
    # one row, one wall time for all its keys
    assert list(series["loss"].times) == list(series["acc"].times)  # type: ignore[arg-type]
    for key, s in series.items():
        if key.startswith("sys/"):
            assert s.times is not None and not any(math.isnan(v) for v in s.values)
            assert all(0 <= step <= 80 for step in s.steps)
    assert not [k for k in _series(_runs(written["folders"]["alpha01"], system_metrics=False)["alpha01"])
                if k.startswith("sys/")]


def test_alpha_media_and_files(written: dict[str, Any]) -> None:
    pil = require_module("PIL.Image")
    run = _runs(written["folders"]["alpha01"])["alpha01"]
    expected = written["expected"]["alpha01"]
    media = {item.key: item for item in run.media()}
    assert sorted(media) == ["hist", "img", "note"]
    row = expected["rows"][-1]
    for item in media.values():
        assert item.step == 80
        assert item.time is not None and row["before"] <= item.time <= row["after"]
    image = media["img"]
    assert image.kind == "image"
    assert [list(map(list, r)) for r in __import__("numpy").asarray(pil.open(io.BytesIO(image.payload)))] \
        == expected["pixels"]
    on_disk = list((written["folders"]["alpha01"] / "files" / "media" / "images").glob("img_*.png"))
    assert len(on_disk) == 1 and on_disk[0].read_bytes() == image.payload
    assert media["hist"].kind == "histogram"
    assert [list(part) for part in media["hist"].payload] == expected["hist"]
    assert (media["note"].kind, media["note"].payload) == ("text", "text at step 80")
    files = {f.name: f.path for f in run.files}
    assert "notes.txt" in files and "requirements.txt" in files
    assert files["notes.txt"].read_text() == "saved with wandb.save\n"
    assert "console line from alpha" in files["output.log"].read_text()
    assert not [line for line in run.skipped if "console output" in line]  # carried by output.log
    assert not [name for name in files if name.startswith("media/images/")]  # images went to media
    assert [name for name in files if name.startswith("media/table/") and name.endswith(".table.json")]


def test_failed_run_and_resumed_run(written: dict[str, Any]) -> None:
    runs = _runs(written["wandb"], written["later"])
    beta = runs["beta02"]
    assert beta.status == "failed"
    assert (beta.name, beta.tags, beta.notes) == ("beta renamed", ["late-tag"], "late notes")  # the last say
    y = _series(beta)["y"]
    assert list(y.steps) == list(range(300))
    rows = written["expected"]["beta02"]["rows"]
    assert all(r["before"] <= t <= r["after"] for r, t in zip(rows, y.times or [], strict=True))
    gamma = runs["gamma03"]  # two folders, one run: the resumed part's steps follow the first part's
    g = _series(gamma)["g"]
    assert list(g.steps) == list(range(8))
    assert list(g.values) == [1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 11.0, 12.0]
    assert gamma.summary["g"] == 12.0 and gamma.status == "completed"


def test_sources_that_cannot_be_opened(written: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(ImportSourceError, match="no such file or folder"):
        list(_wandb.read([str(tmp_path / "missing")]))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImportSourceError, match="no W&B run folders"):
        list(_wandb.read([str(tmp_path / "empty")]))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ImportSourceError, match="not a W&B transaction log"):
        list(_wandb.read([str(tmp_path / "notes.txt")]))


def _damaged(written: dict[str, Any], target: Path) -> dict[str, Any]:
    """A wandb/ folder: alpha intact; beta with garbage inside its second 32 KiB block; a run
    folder with no .wandb file; a .wandb file that is not a W&B log. And ``other/``: a copy of beta
    cut in the middle of a record."""
    folder = _copy_runs(written, target, "alpha01", "beta02")
    beta = _log(next(folder.glob("*-beta02")))
    data = bytearray(beta.read_bytes())
    assert len(data) > 2 * 32768 + 4096  # a third block after the damaged second one
    # cut inside the last record that starts 1000 bytes or more before the end
    starts = [at for at, _ in _wandb_log.frames(beta, []) if at < len(data) - 1000]
    cut = bytes(data[:starts[-1] + 10])
    # garbage over the data of the first whole record past byte 36000 (in the second block)
    bad_at = next(at for at, d in _wandb_log.frames(beta, []) if at > 36000 and len(d) > 64)
    data[bad_at + 7 + 8:bad_at + 7 + 40] = b"\xab" * 32
    beta.write_bytes(bytes(data))
    trunc = target / "other" / "offline-run-20260101_000000-beta02"  # another source: same run id
    trunc.mkdir(parents=True)
    (trunc / "run-beta02.wandb").write_bytes(cut)
    (folder / "offline-run-20260101_000001-empty01").mkdir()
    bad = folder / "offline-run-20260101_000002-bad00001"
    bad.mkdir()
    (bad / "run-bad00001.wandb").write_bytes(b"not a log at all")
    return {"folder": folder, "beta": beta, "trunc": trunc / "run-beta02.wandb", "bad_at": bad_at}


def test_damaged_logs_import_what_is_readable(written: dict[str, Any], tmp_path: Path) -> None:
    paths = _damaged(written, tmp_path)
    runs = _runs(paths["folder"])
    assert runs["alpha01"].problems == [] and runs["alpha01"].error is None
    beta = runs["beta02"]
    assert beta.error is None and len(beta.problems) == 1
    assert beta.problems[0] == (f"{paths['beta']}: bad checksum in the record at byte {paths['bad_at']}; "
                                f"bytes {paths['bad_at']}-{2 * 32768} skipped")
    steps = list(_series(beta)["x"].steps)
    assert steps[0] == 0 and steps[-1] == 299  # rows before and after the damaged block
    assert 200 < len(steps) < 300 and steps == sorted(set(steps))
    assert beta.status == "failed"  # the exit record is after the damage, and read
    trunc = _runs(paths["trunc"].parent)["beta02"]
    assert trunc.error is None and trunc.status == "crashed"  # no exit record: it never finished
    assert len(trunc.problems) == 1 and str(paths["trunc"]) in trunc.problems[0]
    assert "truncated record at byte" in trunc.problems[0]
    assert 250 < len(_series(trunc)["x"].steps) < 300
    assert runs["empty01"].error is not None and "no .wandb file" in runs["empty01"].error
    assert runs["bad00001"].error is not None and "not a W&B transaction log" in runs["bad00001"].error


def test_hostile_names_stay_inside_the_run_folder(written: dict[str, Any], tmp_path: Path) -> None:
    """A files/ link the log does not list is not followed; an image path that climbs out of
    files/ is refused with a problem line."""
    folder = _copy_runs(written, tmp_path, "alpha01")
    run_folder = next(folder.iterdir())
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    (run_folder / "files" / "planted.txt").symlink_to(secret)
    image = next((run_folder / "files" / "media" / "images").glob("*.png"))
    outside = tmp_path / "outside.png"
    image.rename(outside)
    image.symlink_to(Path("..", "..", "..", "..", "..", "outside.png"))
    run = _runs(folder)["alpha01"]
    names = {f.name for f in run.files}
    assert "planted.txt" not in names
    assert any("planted.txt" in line and "not followed" in line for line in run.skipped)
    assert sorted(item.key for item in run.media()) == ["hist", "note"]
    assert any("image 'img'" in line and "outside files/" in line for line in run.problems)


def test_a_saved_link_is_followed_only_inside_the_folder_wandb_ran_in(written: dict[str, Any],
                                                                      tmp_path: Path) -> None:
    """The log lists files/notes.txt as saved (a link to the user's file): read from the original
    folder it is imported; from a copy whose link now points outside the copy's folder (as a
    hostile run folder's link to ~/.ssh/id_rsa would), it is not followed, and the report says so."""
    original = _runs(written["folders"]["alpha01"])["alpha01"]
    assert "notes.txt" in {f.name for f in original.files}
    folder = _copy_runs(written, tmp_path / "elsewhere", "alpha01")
    run = _runs(folder)["alpha01"]
    assert "notes.txt" not in {f.name for f in run.files}
    assert any("notes.txt" in line and "outside the folder W&B ran in" in line for line in run.skipped)


# -- end to end: workbench.importers.wandb and `workbench import wandb` -----------------------------


def _import(*sources: str | Path, root: Path) -> Any:
    from workbench import importers

    return importers.wandb(*[str(s) for s in sources], root=root, progress="never")


def _points(root: Path, run_id: str, key: str) -> list[tuple[int, float, float]]:
    import workbench as wb

    frame = wb.history(run_id, keys=[key], root=root).sort_values("step", kind="stable")
    return [(int(s), float(v), float(t)) for s, v, t in zip(frame["step"], frame["value"], frame["time"], strict=True)]


def test_import_end_to_end_then_again_is_a_no_op(written: dict[str, Any], tmp_path: Path) -> None:
    import hashlib

    import workbench as wb

    np = require_module("numpy")
    root = tmp_path / "store"
    report = _import(written["wandb"], root=root)
    assert report.exit_code == 0, report.render()
    by_id = {r.source_id: r for r in report.runs}
    assert {k: r.outcome for k, r in by_id.items()} == {"alpha01": "imported", "beta02": "imported",
                                                        "gamma03": "imported"}
    alpha = by_id["alpha01"]
    assert (alpha.media, alpha.files) == (3, 4)
    record = wb.get_run(alpha.run_id, root=root)
    expected = written["expected"]["alpha01"]
    assert (record["status"], record["name"], record["project"], record["group"]) == (
        "completed", "alpha run", "imports", "grp")
    assert record["tags"] == ["baseline", "tau-\u03c4"] and record["notes"] == "first line\nsecond line"
    assert record["config"] == expected["config"]
    assert type(record["config"]["layers"]) is int and type(record["config"]["use_bn"]) is bool
    assert record["summary"]["best_acc"] == 0.975 and record["summary"]["nested"] == {"a": 1, "b": "two"}
    assert record["git"]["commit"] == written["commit"]
    assert record["job_type"] == "train" and record["host"] == socket.gethostname()
    assert record["command"] == [written["script"], str(written["base"])]
    assert (record["source"]["kind"], record["source"]["id"]) == ("wandb", "alpha01")
    assert record["source"]["path"] == str(written["wandb"])
    assert record["status"] == "completed"
    assert wb.get_run(by_id["beta02"].run_id, root=root)["status"] == "failed"
    # every point: step, value, wall time (W&B's double, kept as is)
    loss = _points(root, alpha.run_id, "loss")
    assert [(s, v) for s, v, _ in loss] == [(2 * i, 1.0 / (i + 1)) for i in range(40)]
    for (_, _, stamp), row in zip(loss, expected["rows"], strict=False):
        assert row["before"] <= stamp <= row["after"]
    source_times = list(_series(_runs(written["wandb"])["alpha01"])["loss"].times or [])
    assert [t for _, _, t in loss] == source_times
    val_loss = _points(root, alpha.run_id, "val.loss")
    assert [(s, v) for s, v, _ in val_loss] == [(2 * i, 2.0 / (i + 1)) for i in range(40)]
    # media
    items = wb.media(alpha.run_id, root=root).sort_values("key")
    assert list(items["key"]) == ["hist", "img", "note"] and set(items["step"]) == {80}
    loaded = {key: wb.load_media(items.iloc[i], root=root) for i, key in enumerate(items["key"])}
    assert np.asarray(loaded["img"]).tolist() == expected["pixels"]
    assert [list(loaded["hist"]["edges"]), list(loaded["hist"]["counts"])] == expected["hist"]
    assert loaded["note"] == "text at step 80"
    # files, with lineage to the run
    produced = wb.run_artifacts(alpha.run_id, root=root)["produced"]
    assert len(produced) == 1
    artifact = wb.artifact(f"{produced[0]['name']}:v{produced[0]['version']}", root=root)
    assert artifact.producer == alpha.run_id
    files = {f.path: f.digest for f in artifact.files}
    assert files["notes.txt"] == hashlib.sha256(b"saved with wandb.save\n").hexdigest()
    assert "requirements.txt" in files and "output.log" in files
    assert not [p for p in files if p.startswith("media/images/")]

    again = _import(written["wandb"], root=root)
    assert again.exit_code == 0, again.render()
    assert {r.outcome for r in again.runs} == {"unchanged"}
    assert sum(r.points + r.media + r.files for r in again.runs) == 0
    assert _points(root, alpha.run_id, "loss") == loss


def test_import_after_the_source_grew_adds_exactly_the_new_data(written: dict[str, Any], tmp_path: Path) -> None:
    root = tmp_path / "store"
    # a run resumed offline: its second folder appears next to the first
    source = _copy_runs(written, tmp_path / "src", "gamma03")
    first = _import(source, root=root)
    assert [r.outcome for r in first.runs] == ["imported"]
    run_id = first.runs[0].run_id
    assert [v for _, v, _ in _points(root, run_id, "g")] == [1.0, 2.0, 3.0, 4.0, 5.0]
    # (both parts may have started in the same second, so the folder names could clash: the copy
    # gets a later one; the reader orders the parts by the start time inside their logs)
    shutil.copytree(written["later"], source / "offline-run-20991231_235959-gamma03", symlinks=True)
    total = sum(len(s.steps) for s in _runs(source)["gamma03"].series())
    second = _import(source, root=root)
    assert [r.outcome for r in second.runs] == ["updated"], second.render()
    assert second.runs[0].run_id == run_id
    assert second.runs[0].points == total - first.runs[0].points
    assert [(s, v) for s, v, _ in _points(root, run_id, "g")] == list(
        enumerate([1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 11.0, 12.0]))

    # a live run's log read halfway (cut at a record boundary), then whole
    live = _copy_runs(written, tmp_path / "live", "alpha01")
    log = _log(next(live.iterdir()))
    whole = log.read_bytes()
    boundary = next(at for at, _ in _wandb_log.frames(log, []) if at > len(whole) // 2)
    log.write_bytes(whole[:boundary])
    early = _import(live, root=root)
    assert early.exit_code == 0, early.render()  # a clean record boundary: nothing is damaged
    alpha = early.runs[0]
    import workbench as wb

    assert wb.get_run(alpha.run_id, root=root)["status"] == "crashed"  # no exit record yet
    before = _points(root, alpha.run_id, "loss")
    assert 0 < len(before) < 40
    log.write_bytes(whole)
    late = _import(live, root=root)
    assert [r.outcome for r in late.runs] == ["updated"], late.render()
    assert wb.get_run(alpha.run_id, root=root)["status"] == "completed"
    after = _points(root, alpha.run_id, "loss")
    assert after[:len(before)] == before
    assert [(s, v) for s, v, _ in after] == [(2 * i, 1.0 / (i + 1)) for i in range(40)]
    assert late.runs[0].media == 3


def _cli(*args: str, root: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "WORKBENCH_"))}
    env["WORKBENCH_ROOT"] = str(root)
    return subprocess.run([sys.executable, "-m", "workbench", "import", "wandb", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_cli_reports_damaged_runs_and_imports_the_good_ones(written: dict[str, Any], tmp_path: Path) -> None:
    paths = _damaged(written, tmp_path)
    root = tmp_path / "store"
    missing = tmp_path / "nowhere"
    done = _cli(str(paths["folder"]), str(paths["trunc"].parent), str(missing), "--progress", "never", root=root)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    out = done.stdout + done.stderr
    assert f"bad checksum in the record at byte {paths['bad_at']}" in out
    assert "no .wandb file" in out and "not a W&B transaction log" in out
    assert "truncated record at byte" in out and f"{missing}: no such file or folder" in out
    import workbench as wb

    records = [wb.get_run(r, root=root) for r in wb.runs(root=root)["run_id"]]
    by_source = {(r["source"]["path"], r["source"]["id"]): r["id"] for r in records}
    # the two runs with nothing readable are not written; the truncated copy is a run of its own source
    assert sorted(by_source) == sorted([(str(paths["folder"]), "alpha01"), (str(paths["folder"]), "beta02"),
                                        (str(paths["trunc"].parent), "beta02")])
    assert len(_points(root, by_source[(str(paths["folder"]), "alpha01")], "loss")) == 40
    kept = [s for s, _, _ in _points(root, by_source[(str(paths["folder"]), "beta02")], "x")]
    assert kept[0] == 0 and kept[-1] == 299 and 200 < len(kept) < 300
    assert wb.get_run(by_source[(str(paths["trunc"].parent), "beta02")], root=root)["status"] == "crashed"


def test_nothing_readable_exits_2(tmp_path: Path) -> None:
    report = _import(tmp_path / "nowhere", root=tmp_path / "store")
    assert report.exit_code == 2 and report.runs == []
    assert "no such file or folder" in report.failed_sources[0].error


def _framed(payloads: list[bytes]) -> bytes:
    """A .wandb file holding ``payloads``, framed as W&B's writer frames them (header, 32 KiB
    blocks, FULL or FIRST/MIDDLE/LAST pieces, each with the CRC-32 of its type and data)."""
    import struct
    import zlib

    out = bytearray(struct.pack("<4sHB", b":W&B", 0xBEE1, 0))
    for payload in payloads:
        rest, first = payload, True
        while True:
            room = 32768 - len(out) % 32768
            if room < 7:
                out += b"\0" * room
                room = 32768
            piece, rest = rest[:room - 7], rest[room - 7:]
            kind = (1 if first else 4) if not rest else (2 if first else 3)
            out += struct.pack("<IHB", zlib.crc32(piece, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF, len(piece), kind)
            out += piece
            first = False
            if not rest:
                break
    return bytes(out)


def test_crafted_log_hostile_values(tmp_path: Path) -> None:
    """Records built with W&B's protobuf classes: a run with hostile history values, a record too
    big for one block, and a checksummed piece that is not a W&B record at all."""
    pb = require_module("wandb.proto.wandb_internal_pb2")

    def record(**fields: Any) -> bytes:
        rec = pb.Record()
        for name, build in fields.items():
            build(getattr(rec, name))
        return bytes(rec.SerializeToString())

    def run(r: Any) -> None:
        r.run_id, r.project, r.display_name = "crafted1", "imports", "crafted \x1b[31m run"
        r.start_time.seconds = 1_700_000_000
        item = r.config.update.add()
        item.key, item.value_json = "deep", "[" * 100_000 + "]" * 100_000

    def row(step: str, **values: str) -> Callable[[Any], None]:
        def build(h: Any) -> None:
            for key, value in {"_step": step, "_timestamp": "1700000001.25", **values}.items():
                item = h.item.add()
                item.nested_key.append(key)
                item.value_json = value
        return build

    payloads = [
        record(run=run),
        record(history=row("0", loss="0.5", img='{"_type": "image-file", "path": "../../../etc/passwd"}')),
        record(history=row("1e300", loss="0.25")),  # no usable step
        record(history=row("1", loss="not json")),
        record(history=row("2", loss="0.125", blob=json.dumps("x" * 70_000))),  # FIRST, MIDDLE, LAST
        b"\x08\x96\x01garbage that is no Record",
        record(exit=lambda e: setattr(e, "exit_code", 3)),
    ]
    folder = tmp_path / "wandb" / "offline-run-20231114_221320-crafted1"
    folder.mkdir(parents=True)
    log = folder / "run-crafted1.wandb"
    log.write_bytes(_framed(payloads))
    got = _runs(tmp_path / "wandb")["crafted1"]
    assert got.error is None and got.status == "failed" and got.name == "crafted \x1b[31m run"
    assert "deep" not in got.config  # too deeply nested to parse: a problem line, not a crash
    assert any("config value(s) are not valid JSON" in p for p in got.problems), got.problems
    assert any("not a W&B record" in p for p in got.problems), got.problems
    loss = _series(got)["loss"]
    assert list(loss.steps) == [0, 2] and list(loss.values) == [0.5, 0.125]
    assert list(loss.times or []) == [1700000001.25, 1700000001.25]
    media = list(got.media())
    assert [(m.key, m.kind, len(m.payload)) for m in media] == [("blob", "text", 70_000)]
    assert any("history row(s) without a usable step" in line for line in got.skipped), got.skipped
    assert any("outside files/" in p for p in got.problems)


def test_series_spilled_to_disk_are_the_same(written: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    """With a tiny spill threshold every key goes through the temporary files: same points, and
    the temporary folder is gone once the series are read."""
    whole = {k: (list(s.steps), list(s.values), list(s.times or [])) for k, s in
             _series(_runs(written["folders"]["beta02"])["beta02"]).items()}
    monkeypatch.setattr(_wandb, "_SPILL", 7)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    run = _runs(written["folders"]["beta02"])["beta02"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("workbench-wandb-")]
    spilled = {k: (list(s.steps), list(s.values), list(s.times or [])) for k, s in _series(run).items()}
    assert spilled == whole and len(whole["y"][0]) == 300
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("workbench-wandb-")]


def test_a_copied_run_folder_is_read_once(written: dict[str, Any], tmp_path: Path) -> None:
    folder = _copy_runs(written, tmp_path, "alpha01")
    original = next(folder.iterdir())
    shutil.copytree(original, folder / "offline-run-20991231_235959-alpha01", symlinks=True)
    runs = list(_wandb.read([str(folder)]))
    assert [r.source_id for r in runs] == ["alpha01"]
    assert any("a copy of" in line for line in runs[0].skipped), runs[0].skipped
    assert list(_series(runs[0])["loss"].steps) == [2 * i for i in range(40)]  # not doubled, not shifted
