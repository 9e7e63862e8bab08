"""`workbench.__all__` is the documented public API (acceptance 7), and nothing else of ours is
public by accident."""

from __future__ import annotations

import inspect
import re
import types

from conftest import REPO

import workbench

API_DOC = REPO / "docs" / "api.md"


def documented_names() -> list[str]:
    return re.findall(r"^## `([^`]+)`\s*$", API_DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)


def test_all_matches_the_documented_api() -> None:
    documented = documented_names()
    assert len(documented) == len(set(documented)), "a name is documented twice in docs/api.md"
    assert sorted(workbench.__all__) == sorted(documented)
    assert len(workbench.__all__) == len(set(workbench.__all__))


def test_every_documented_name_has_a_paragraph_and_an_example() -> None:
    sections = re.split(r"^## ", API_DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)[1:]
    for section in sections:
        name = section.split("`")[1]
        body = section.split("\n", 1)[1]
        assert body.strip(), f"docs/api.md: {name} has no description"
        assert "```python" in body, f"docs/api.md: {name} has no example"


def test_every_public_name_exists_and_has_a_docstring() -> None:
    for name in workbench.__all__:
        assert hasattr(workbench, name), f"workbench.__all__ names {name}, which does not exist"
        value = getattr(workbench, name)
        if name == "__version__":
            assert isinstance(value, str) and re.fullmatch(r"\d+\.\d+\.\d+\S*", value)
            continue
        if name == "run":  # the current run (None when there is none): documented in docs/api.md only
            assert value is None or isinstance(value, workbench.Run)
            continue
        doc = inspect.getdoc(value)
        assert doc and doc.strip(), f"workbench.{name} has no docstring"
        if not isinstance(value, type):
            assert value.__doc__ is not None, f"workbench.{name} inherits its docstring only"


def test_nothing_of_ours_is_public_by_accident() -> None:
    # like httpx: every public attribute of the package that workbench defines is in __all__
    # (submodules and names imported from elsewhere, such as typing helpers, do not count)
    ours = set()
    for name, value in vars(workbench).items():
        if name.startswith("_") or isinstance(value, types.ModuleType):
            continue
        module = getattr(value, "__module__", None)
        if isinstance(module, str) and (module == "workbench" or module.startswith("workbench.")):
            ours.add(name)
    # IPython's hook for `%load_ext workbench` must have this name; it is not API to call
    missing = sorted(ours - set(workbench.__all__) - {"load_ipython_extension"})
    assert not missing, f"public but not in __all__: {missing}"


def test_errors_share_one_root() -> None:
    for name in workbench.__all__:
        value = getattr(workbench, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, workbench.WorkbenchError), name
    assert issubclass(workbench.RunNotFound, KeyError)
    assert issubclass(workbench.FilterError, workbench.QueryError)
    assert issubclass(workbench.FilterError, ValueError)
