"""The media index read back: a missing caption is None (never the text "nan" in a view)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import workbench as wb


def test_missing_captions_and_inline_payloads_read_back_as_none(tmp_path: Path) -> None:
    with wb.init(root=tmp_path, capture_output=False, system_metrics=False) as run:
        run.log({"a": wb.Image(np.zeros((2, 2), np.uint8)), "b": wb.Image(np.ones((2, 2), np.uint8), caption="x"),
                 "h": wb.Histogram(np.arange(5.0))}, step=0)
    items = wb.media(run.id, root=tmp_path).set_index("key")
    assert items.loc["a", "caption"] is None and items.loc["b", "caption"] == "x"
    assert items.loc["a", "inline"] is None and isinstance(items.loc["h", "inline"], str)
