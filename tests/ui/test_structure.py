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
    "workbench.settings",
    "workbench.jobs",
    "workbench.remote",
    "workbench._extras",  # the one-line MissingExtra when ipywidgets or Panel is not installed
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
    for room in ("store", "tracking", "jobs", "remote", "settings.py", "errors.py"):
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


#: calls that make a surface rendering HTML; views make them only through workbench.ui._safe
_HTML_SURFACES = {
    ("pane", "HTML"), ("pane", "Markdown"), ("pane", "Alert"), ("pane", "HTMLTemplate"),
    ("widgets", "Tabulator"), ("widgets", "HTML"), ("widgets", "HTMLMath"), ("w", "HTML"), ("w", "HTMLMath"),
}
#: names whose use builds markup by hand instead of through the one helper
_HAND_MADE = {"escape", "HTMLTemplateFormatter", "Div", "Paragraph", "PreText"}
#: the helper itself, and the status formatter whose template escapes with <%- %> (checked below)
_EXEMPT = {"_safe.py"}


def _hand_made_markup(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
            if (node.value.attr, node.attr) in _HTML_SURFACES:
                bad.append(f"{path.name}:{node.lineno} uses {node.value.attr}.{node.attr}")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in _HTML_SURFACES or (node.value.id == "html" and node.attr == "escape"):
                bad.append(f"{path.name}:{node.lineno} uses {node.value.id}.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module in {"html", "bokeh.models", "bokeh.models.widgets",
                                                                  "bokeh.models.widgets.tables", "ipywidgets"}:
            bad += [f"{path.name}:{node.lineno} imports {a.name} from {node.module}"
                    for a in node.names if a.name in _HAND_MADE | {"HTML", "HTMLMath"}]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "<%=" in node.value:
            bad.append(f"{path.name}:{node.lineno} has an unescaped <%= %> template")
    return bad


def test_views_make_markup_only_through_the_safe_helper() -> None:
    """Issue 11: every view turns stored text into markup through workbench.ui._safe, nowhere else."""
    bad = []
    for folder in (UI, UI.parent / "apps"):
        for path in sorted(folder.rglob("*.py")):
            if path.name in _EXEMPT or path.name == "_auth.py":  # _auth writes its own fixed 401 page
                continue
            bad += [f"{path.relative_to(UI.parent)}: {b}" for b in _hand_made_markup(path)]
    assert not bad, ("views show stored text only through workbench.ui._safe (html_pane, html_widget, "
                     "alert_pane, table, choice_options, markup):\n" + "\n".join(bad))


def test_the_structure_check_catches_a_view_that_escapes_by_hand(tmp_path: Path) -> None:
    view = tmp_path / "view.py"
    view.write_text("import html\nimport panel as pn\n"
                    "def draw(name):\n    return pn.pane.HTML(f'<b>{html.escape(name)}</b>')\n"
                    "def alert(e):\n    return pn.pane.Alert(e)\n"
                    "def grid(f):\n    return pn.widgets.Tabulator(f)\n")
    found = _hand_made_markup(view)
    assert len(found) == 4, found
