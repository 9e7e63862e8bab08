"""Datasets: tables checked on the way in, described in the manifest; bad ones refused, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _artifact_helpers import snapshot

import workbench as wb
from workbench.errors import ArtifactError, DatasetError
from workbench.store.artifacts import open_artifacts

ROWS = [{"text": "great film", "label": 1}, {"text": "dull, long", "label": 0}, {"text": "ok", "label": 1}]


def _csv(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


@pytest.fixture
def seeded(root: Path, tmp_path: Path) -> Path:
    """A store that already holds a dataset, so a snapshot covers every kind of file."""
    src = _csv(tmp_path / "seed.csv", "text,label\nhello,1\n")
    wb.log_artifact(src, "seed", type="dataset")
    return root


def test_csv_is_described_in_the_manifest(root: Path, tmp_path: Path) -> None:
    src = _csv(tmp_path / "reviews.csv", 'text,label\ngreat film,1\n"dull, long",0\nok,1\n')
    art = wb.log_artifact(src, "reviews", type="dataset", required=["text", "label"])
    info = art.metadata["dataset"]
    assert info["format"] == "csv" and info["rows"] == 3
    assert info["columns"] == ["text", "label"]
    assert info["schema"] == {"text": "string", "label": "int64"}
    assert info["preview"] == ROWS
    assert info["required"] == ["text", "label"]
    stored = json.loads((root / "artifacts" / "reviews" / "v1.json").read_text())
    assert stored["metadata"]["dataset"]["rows"] == 3 and stored["type"] == "dataset"


@pytest.mark.parametrize("fmt", ["tsv", "json", "jsonl", "parquet"])
def test_other_formats(root: Path, tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"reviews.{fmt}"
    if fmt == "tsv":
        path.write_text("text\tlabel\n" + "".join(f"{r['text']}\t{r['label']}\n" for r in ROWS))
    elif fmt == "json":
        path.write_text(json.dumps(ROWS))
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(ROWS), path)
    info = wb.log_artifact(path, "reviews", type="dataset", required=["text", "label"]).metadata["dataset"]
    assert (info["format"], info["rows"], info["columns"]) == (fmt, 3, ["text", "label"])
    assert info["schema"]["label"] == "int64" and info["preview"] == ROWS


def test_directory_of_tables(root: Path, tmp_path: Path) -> None:
    folder = tmp_path / "splits"
    folder.mkdir()
    _csv(folder / "train.csv", "text,label\na,1\nb,0\n")
    (folder / "test.jsonl").write_text('{"text": "c", "label": 1}\n')
    (folder / "README.md").write_text("not a table: stored, not checked")
    info = wb.log_artifact(folder, "splits", type="dataset", required=["text"]).metadata["dataset"]
    assert info["rows"] == 3 and info["format"] == "mixed"
    assert info["tables"]["train.csv"]["rows"] == 2 and info["tables"]["test.jsonl"]["rows"] == 1


def test_long_values_are_cut_in_the_preview(root: Path, tmp_path: Path) -> None:
    src = _csv(tmp_path / "long.csv", "text,label\n" + "x" * 5000 + ",1\n")
    preview = wb.log_artifact(src, "long", type="dataset").metadata["dataset"]["preview"]
    assert len(preview[0]["text"]) < 300 and preview[0]["text"].endswith("...")


BAD = [
    (
        "ragged.csv",
        b"text,label\ngood,1\nbad,0,extra\n",
        "ragged rows: line 3 has 3 fields but the header has 2",
    ),
    ("short.csv", b"text,label\ngood,1\nbad\n", "ragged rows: line 3 has 1 fields"),
    (
        "latin1.csv",
        "text,label\ncaf\u00e9,1\n".encode("latin-1"),
        "not UTF-8: the byte at offset 14 (line 2) is b'\\xe9'",
    ),
    ("empty.csv", b"", "is empty"),
    ("header.csv", b"text,label\n", "no rows"),
    ("nolabel.csv", b"text,score\nhi,1\n", "lacks required column(s) 'label'"),
    ("dupe.csv", b"text,text,label\na,b,1\n", "repeats column name(s) 'text'"),
    ("noname.csv", b"text,,label\na,b,1\n", "column without a name"),
    (
        "keys.json",
        json.dumps([{"text": "a", "label": 1}, {"text": "b"}]).encode(),
        "row 2 has inconsistent columns",
    ),
    ("object.json", b'{"text": "a"}', "array of objects"),
    ("broken.json", b'[{"text": "a",', "not valid JSON"),
    (
        "keys.jsonl",
        b'{"text": "a", "label": 1}\n{"text": "b", "label": 0, "x": 2}\n',
        "row 2 has inconsistent",
    ),
    ("badline.jsonl", b'{"text": "a", "label": 1}\n{"text": \n', "line 2 is not valid JSON"),
    ("types.jsonl", b'{"text": "a", "label": 1}\n{"text": "b", "label": "one"}\n', "values of one type"),
    ("corrupt.parquet", b"PAR1 this is not parquet", "not a readable parquet file"),
]


@pytest.mark.parametrize(("filename", "content", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_tables_are_refused_and_nothing_is_written(
    seeded: Path, tmp_path: Path, filename: str, content: bytes, message: str
) -> None:
    src = tmp_path / filename
    src.write_bytes(content)
    before = snapshot(seeded)
    with pytest.raises(DatasetError) as info:
        wb.log_artifact(src, "reviews", type="dataset", required=["text", "label"])
    assert message in str(info.value)
    assert filename in str(info.value)  # names the file
    assert snapshot(seeded) == before


def test_limits_come_from_settings(seeded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _csv(tmp_path / "big.csv", "text,label\n" + "".join(f"row {i},{i % 2}\n" for i in range(100)))
    before = snapshot(seeded)
    with pytest.raises(
        DatasetError, match="over the dataset size limit of 500; raise the `dataset_max_bytes`"
    ):
        open_artifacts(seeded, dataset_max_bytes=500).log(src, "big", "dataset")
    monkeypatch.setenv("WORKBENCH_DATASET_MAX_ROWS", "50")
    with pytest.raises(DatasetError, match="100 rows, over the limit of 50"):
        wb.log_artifact(src, "big", type="dataset")
    assert snapshot(seeded) == before
    monkeypatch.delenv("WORKBENCH_DATASET_MAX_ROWS")
    assert wb.log_artifact(src, "big", type="dataset").metadata["dataset"]["rows"] == 100


def test_no_table_and_required_without_dataset(seeded: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    before = snapshot(seeded)
    with pytest.raises(DatasetError, match=r"no table among notes\.txt"):
        wb.log_artifact(notes, "notes", type="dataset")
    with pytest.raises(ArtifactError, match="pass type='dataset'"):
        wb.log_artifact(notes, "notes", type="text", required=["text"])
    assert snapshot(seeded) == before
