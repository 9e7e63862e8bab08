"""W&B media through the compat layer (issue 15): a W&B script that logs ``wandb.Image``,
``Table``, ``Histogram``, ``Audio`` and ``Html`` runs unchanged but for its import line, as a
subprocess against a fresh store; then ``wb.media`` must hold each item, read back exactly.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import workbench as wb
from workbench.media import Media

# a W&B script as its users write it (the test swaps the first line only)
SCRIPT = textwrap.dedent('''\
    import wandb
    import numpy as np
    import pandas as pd
    import torch
    from PIL import Image as PILImage

    rng = np.random.default_rng(0)
    run = wandb.init(project="wandb-media", config={"epochs": 2})
    for epoch in range(2):
        pixels = rng.integers(0, 256, size=(8, 6, 3), dtype=np.uint8)
        wandb.log({
            "loss": 1.0 / (epoch + 1),
            "examples": [wandb.Image(pixels, caption=f"epoch {epoch}"),
                         wandb.Image(torch.from_numpy(pixels).permute(2, 0, 1).float() / 255)],
            "pil": wandb.Image(PILImage.fromarray(pixels), mode="RGB"),
            "weights": wandb.Histogram(torch.arange(100, dtype=torch.float32), num_bins=10),
        })

    table = wandb.Table(columns=["text", "label"])
    table.add_data("good", 1)
    table.add_data("bad", 0)
    table.add_column("score", [0.5, 0.25])
    table.add_data("late", 1, 0.75)  # after add_column: logged with the rest
    wandb.log({"eval": table, "frame": wandb.Table(dataframe=pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))})
    gallery = wandb.Table(columns=["id", "image"], data=[[0, wandb.Image(np.zeros((4, 4), np.uint8))]])
    wandb.log({"gallery": gallery})
    wandb.log({"given": wandb.Histogram(np_histogram=([1, 2, 3], [0.0, 1.0, 2.0, 3.0]))})
    wave = (np.sin(np.linspace(0, 100, 800)) * 0.5).astype(np.float32)
    run.log({"clip": wandb.Audio(wave, sample_rate=8000, caption="sine")})
    wandb.log({"page": wandb.Html("<h1>epoch 2</h1><script>alert(1)</script>")})
    run.summary["best"] = 0.9
    wandb.finish()
''')


@pytest.fixture
def logged(tmp_path: Path) -> tuple[Path, str]:
    work = tmp_path / "work"
    work.mkdir()
    script = work / "media.py"
    lines = SCRIPT.splitlines(keepends=True)
    assert lines[0] == "import wandb\n"
    script.write_text("import workbench.compat.wandb as wandb\n" + "".join(lines[1:]))
    store = tmp_path / "store"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "WORKBENCH_"))}
    env["WORKBENCH_ROOT"] = str(store)
    done = subprocess.run([sys.executable, str(script)], cwd=work, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "not stored" not in done.stderr, done.stderr
    runs = wb.runs(project="wandb-media", root=store)
    assert len(runs) == 1
    return store, str(runs["run_id"][0])


def test_a_wandb_script_logs_each_media_type(logged: tuple[Path, str]) -> None:
    store, run_id = logged
    record = wb.get_run(run_id, root=store)
    assert record["status"] == "completed" and record["summary"]["best"] == 0.9
    assert [int(s) for s in wb.history(run_id, keys=["loss"], root=store)["step"]] == [0, 1]
    items = wb.media(run_id, root=store)
    kinds = dict(zip(items["key"], items["kind"]))
    assert kinds == {"examples.0": "image", "examples.1": "image", "pil": "image", "weights": "histogram",
                     "eval": "table", "frame": "table", "gallery": "table", "given": "histogram",
                     "clip": "audio", "page": "text"}
    rng = np.random.default_rng(0)
    for epoch in range(2):
        pixels = rng.integers(0, 256, size=(8, 6, 3), dtype=np.uint8)
        at = items[items.step == epoch].set_index("key")
        assert at.loc["examples.0", "caption"] == f"epoch {epoch}"
        for key in ("examples.0", "examples.1", "pil"):
            assert np.array_equal(np.asarray(wb.load_media(at.loc[key], root=store)), pixels), (key, epoch)
        hist = wb.load_media(at.loc["weights"], root=store)
        assert hist["counts"].tolist() == [10.0] * 10 and hist["edges"][[0, -1]].tolist() == [0.0, 99.0]


def test_wandb_tables_keep_the_rows_they_have_when_logged(logged: tuple[Path, str]) -> None:
    store, run_id = logged
    items = wb.media(run_id, root=store).set_index("key")
    table = wb.load_media(items.loc["eval"], root=store)
    assert list(table.columns) == ["text", "label", "score"]
    assert table.values.tolist() == [["good", 1, 0.5], ["bad", 0, 0.25], ["late", 1, 0.75]]
    assert tuple(items.loc["eval", "shape"]) == (3, 3)
    frame = wb.load_media(items.loc["frame"], root=store)
    assert frame.to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}
    gallery = wb.load_media(items.loc["gallery"], root=store)
    assert gallery.attrs["image_columns"] == ["image"]
    cell = gallery["image"][0]
    image = wb.load_media({"kind": "image", "digest": cell.removeprefix("wb-media:image:")}, root=store)
    assert np.asarray(image).shape == (4, 4) and not np.asarray(image).any()


def test_wandb_histogram_audio_and_html(logged: tuple[Path, str]) -> None:
    store, run_id = logged
    items = wb.media(run_id, root=store).set_index("key")
    given = wb.load_media(items.loc["given"], root=store)
    assert given["counts"].tolist() == [1.0, 2.0, 3.0] and given["edges"].tolist() == [0.0, 1.0, 2.0, 3.0]
    samples, rate = wb.load_media(items.loc["clip"], root=store)
    wave = (np.sin(np.linspace(0, 100, 800)) * 0.5).astype(np.float32)
    assert rate == 8000 and items.loc["clip", "caption"] == "sine"
    assert np.abs(samples.astype(int) - np.round(wave * 32767)).max() <= 1
    page = items.loc["page"]
    assert wb.load_media(page, root=store) == "<h1>epoch 2</h1><script>alert(1)</script>"  # the source, as text
    assert page["format"] == "txt"
    assert page["meta"].get("html") is True  # the index says it is a page (shown as escaped text)


def test_compat_media_objects_in_process(tmp_path: Path) -> None:
    from workbench.compat import wandb

    table = wandb.Table(data=[[1, "a"]])
    assert table.columns == ["Column_1", "Column_2"]
    table.add_column("extra", [True])
    assert table.get_column("extra") == [True] and table.get_dataframe().shape == (1, 3)
    with pytest.raises(ValueError, match="2 values for 3 columns"):
        table.add_data(1, 2)
    empty = wandb.Table()
    empty.add_column("x", [1, 2, 3])
    assert empty.data == [[1], [2], [3]]
    page = tmp_path / "report.html"
    page.write_text("<p>from a file</p>")
    assert isinstance(wandb.Html(str(page)), wb.Text)
    for media in (wandb.Image, wandb.Table, wandb.Histogram, wandb.Audio):
        assert issubclass(media, Media)
    # the workbench run takes W&B media as they are
    with wb.init(project="p", root=tmp_path / "store", capture_output=False, system_metrics=False) as run:
        run.log({"page": wandb.Html(str(page)), "img": wandb.Image(np.ones((2, 2, 3)))}, step=0)
        with pytest.raises(ValueError, match="'bad'"):
            run.log({"bad": wandb.Image(np.zeros((2, 2, 5)))})
        with pytest.raises(TypeError, match="'html'"):
            run.log({"html": wandb.Html(42)})
    items = wb.media(run.id, root=tmp_path / "store").set_index("key")
    assert wb.load_media(items.loc["page"], root=tmp_path / "store") == "<p>from a file</p>"
    assert (np.asarray(wb.load_media(items.loc["img"], root=tmp_path / "store")) == 255).all()


def test_video_and_charts_still_say_they_are_missing() -> None:
    from workbench.compat import wandb

    for media in (wandb.Video, wandb.Object3D, wandb.Molecule, wandb.Plotly):
        with pytest.raises(wandb.MediaNotAvailable):
            media([1, 2, 3])
    with pytest.raises(wandb.MediaNotAvailable):
        wandb.plot.line_series(xs=[1], ys=[[1]])
