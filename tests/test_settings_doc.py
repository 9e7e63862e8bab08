"""Every setting is documented (STYLE.md): a ``## `name``` section of docs/settings.md per field of
``Settings``, with its default, and no section for a setting that does not exist."""

from __future__ import annotations

import dataclasses
import re

from conftest import REPO

from workbench.settings import Settings

DOC = REPO / "docs" / "settings.md"


def test_every_setting_has_a_section_and_every_section_a_setting() -> None:
    sections = re.findall(r"^## `([^`]+)`\s*$", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    fields = [f.name for f in dataclasses.fields(Settings) if f.name != "extra"]  # extra: tables of the rooms
    assert sorted(set(sections)) == sorted(fields)
    assert len(sections) == len(set(sections)), "a setting is documented twice"


def test_every_section_says_its_default() -> None:
    parts = re.split(r"^## `([^`]+)`\s*$", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    missing = [name for name, body in zip(parts[1::2], parts[2::2])
               if name != "root" and "default" not in body.lower()]
    assert not missing, f"say the default of: {missing}"
