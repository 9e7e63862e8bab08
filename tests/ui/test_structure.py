"""Issue 6, acceptance 5: views reach the store only through the rooms' public functions."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import workbench

UI = Path(workbench.__file__).parent / "ui"

#: workbench modules a view may import: the public API and the rooms' public packages
ALLOWED = {
    "workbench",
    "workbench.errors",
    "workbench.config",
    "workbench.jobs",
    "workbench.remote",
}
#: libraries that read the store directly: only the rooms below may use them
FORBIDDEN = {"duckdb", "pyarrow", "sqlite3", "fcntl", "shutil"}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_ui_imports_only_public_rooms() -> None:
    bad = []
    for path in sorted(UI.rglob("*.py")):
        for line, module in _imports(path):
            top = module.split(".")[0]
            if top in FORBIDDEN:
                bad.append(f"{path.relative_to(UI)}:{line} imports {module}")
            if top == "workbench" and module not in ALLOWED and not module.startswith("workbench.ui"):
                bad.append(f"{path.relative_to(UI)}:{line} imports {module}")
    assert not bad, "ui must use only the public functions of the rooms below:\n" + "\n".join(bad)


def test_ui_opens_no_files() -> None:
    bad = []
    for path in sorted(UI.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if name in {"open", "read_text", "read_bytes", "write_text", "write_bytes", "read_parquet", "connect"}:
                    bad.append(f"{path.relative_to(UI)}:{node.lineno} calls {name}()")
    assert not bad, "views must not open files or databases:\n" + "\n".join(bad)


def test_rooms_below_never_import_ui() -> None:
    root = UI.parent
    bad = []
    for room in ("store", "tracking", "jobs", "remote", "config.py", "errors.py"):
        for path in sorted((root / room).rglob("*.py")) if (root / room).is_dir() else [root / room]:
            found = _imports(path)
            bad += [f"{path.relative_to(root)}:{n} imports {m}" for n, m in found if m.startswith("workbench.ui")]
    assert not bad, "\n".join(bad)


def test_import_workbench_ui_is_light() -> None:
    code = (
        "import sys, workbench.ui; heavy = {'panel', 'ipywidgets', 'bokeh', 'bqplot', 'torch', 'duckdb'}"
        " & set(sys.modules); print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
