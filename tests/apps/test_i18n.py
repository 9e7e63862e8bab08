"""English and Chinese UI text (issue 7): every label has Chinese, and the app picks the language
from the browser (Accept-Language) unless ``ui_language`` in workbench.toml forces one."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _browser import chromium, panel_app, shots  # noqa: F401 - shots is a fixture
from conftest import IN_CI, REPO, require_program

import workbench as wb

SCANNED = ("workbench/ui", "workbench/apps")
#: tr() calls whose text is data, not a literal: these are run and job statuses, checked below
STATUS_CALLS = {
    ("workbench/ui/detail/model.py", "tr(self.status)"),
    ("workbench/ui/launch/monitor_model.py", "tr(status)"),
    ("workbench/apps/pages.py", "tr(s)"),
    ("workbench/apps/pages.py", "tr(str(r.status))"),
    ("workbench/apps/pages.py", "tr(job.status)"),
}
STATUSES = ("queued", "running", "completed", "failed", "cancelled", "crashed")


def _modules() -> Iterator[tuple[str, Any, ast.Module]]:
    """Each module under workbench/ui and workbench/apps: path, the imported module (its add_zh
    calls have run), and its syntax tree."""
    for base in SCANNED:
        for path in sorted((REPO / base).rglob("*.py")):
            rel = path.relative_to(REPO)
            parts = rel.with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield rel.as_posix(), importlib.import_module(name), ast.parse(path.read_text(encoding="utf-8"))


def _is_tr(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Name) and node.func.id == "tr")
        or (isinstance(node.func, ast.Attribute) and node.func.attr == "tr")
    )


def _texts(module: Any, tree: ast.Module, call: ast.Call) -> list[str] | None:
    """The English texts a tr() call can be given, or None when they are not in the source."""
    if not call.args:
        return None
    arg = call.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return [arg.value]
    if isinstance(arg, ast.Subscript) and isinstance(arg.value, ast.Dict):  # tr({"a": "text", ...}[key])
        values = [v.value for v in arg.value.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
        return values if len(values) == len(arg.value.values) else None
    if isinstance(arg, ast.Name):  # tr(label) in a comprehension over a module constant
        return _loop_texts(module, tree, call, arg.id)
    return None


def _loop_texts(module: Any, tree: ast.Module, call: ast.Call, name: str) -> list[str] | None:
    for node in ast.walk(tree):
        if not isinstance(node, (ast.DictComp, ast.ListComp, ast.SetComp, ast.GeneratorExp)):
            continue
        if not any(inner is call for inner in ast.walk(node)):
            continue
        for gen in node.generators:
            if not isinstance(gen.iter, ast.Name) or not hasattr(module, gen.iter.id):
                continue
            items = list(getattr(module, gen.iter.id))
            if isinstance(gen.target, ast.Name) and gen.target.id == name:
                return [str(item) for item in items]
            if isinstance(gen.target, ast.Tuple):
                names = [t.id if isinstance(t, ast.Name) else None for t in gen.target.elts]
                if name in names:
                    return [str(item[names.index(name)]) for item in items]
    return None


def test_every_label_has_chinese() -> None:
    from workbench.ui import _i18n

    missing: list[str] = []
    unknown: list[str] = []
    calls = 0
    for rel, module, tree in list(_modules()):  # every module's add_zh has run before any check
        for node in ast.walk(tree):
            if not _is_tr(node):
                continue
            assert isinstance(node, ast.Call)
            calls += 1
            texts = _texts(module, tree, node)
            if texts is None:
                if (rel, ast.unparse(node)) not in STATUS_CALLS:
                    unknown.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
                continue
            missing += [f"{rel}:{node.lineno}: {text!r}" for text in texts if text not in _i18n._ZH]
    assert calls > 100, f"the scan found only {calls} tr() calls: is it looking in the right place?"
    assert not missing, "add Chinese for these with add_zh({...}) in the module that uses them:\n" + "\n".join(
        missing)
    assert not unknown, ("tr() of a text the scan cannot see: pass a literal, or list the call in STATUS_CALLS "
                         "if it is a status:\n" + "\n".join(unknown))


def test_statuses_have_chinese() -> None:
    from workbench.ui import _i18n

    assert {s: _i18n._ZH.get(s) for s in STATUSES} == {
        "queued": "排队中", "running": "运行中", "completed": "已完成", "failed": "失败",
        "cancelled": "已取消", "crashed": "崩溃",
    }


def test_chinese_text_keeps_its_fields() -> None:
    """A translation must keep every {field} of its English text, or tr(text, **values) raises."""
    from string import Formatter

    from workbench.ui import _i18n

    list(_modules())  # every add_zh has run
    broken = []
    for english, chinese in _i18n._ZH.items():
        fields = {f for _, f, _, _ in Formatter().parse(english) if f}
        if fields != {f for _, f, _, _ in Formatter().parse(chinese) if f}:
            broken.append(f"{english!r} -> {chinese!r}")
    assert not broken, "\n".join(broken)


# ---------------------------------------------------------------- in a browser
def _fill(root: Path) -> None:
    for i in range(3):
        run = wb.init(project="i18n", name=f"run-{i}", config={"lr": 0.1 * (i + 1)}, root=root)
        run.log({"loss": 1.0 / (i + 1)}, step=0)
        run.finish()


def _nav(page: Any) -> list[str]:
    page.wait_for_selector(".wb-nav button")
    return [text.strip() for text in page.locator(".wb-nav button").all_inner_texts()]


def _require_chinese_font() -> None:
    """Without a CJK font the zh screenshot shows boxes (the DOM text is still right)."""
    import subprocess

    fc_list = require_program("fc-list")
    found = subprocess.run([fc_list, ":lang=zh"], capture_output=True, text=True, timeout=30, check=False).stdout
    if not found.strip():
        message = "no Chinese font: apt-get install fonts-wqy-microhei"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def test_browser_language_picks_the_text(root: Path, tmp_path: Path, shots: Path) -> None:  # noqa: F811
    _require_chinese_font()
    _fill(root)
    with panel_app(root, tmp_path) as server:
        with chromium(shots, locale="zh-CN") as b:
            b.page.goto(server.link())
            b.page.wait_for_selector("text=3 个运行", timeout=60_000)
            nav = _nav(b.page)
            assert nav[:2] == ["概览", "运行"] and "设置" in nav and "Runs" not in nav
            b.page.wait_for_selector("text=最近的运行")
            b.shot("overview-zh")
            assert b.outside == []
        with chromium(shots, locale="en-US") as b:
            b.page.goto(server.link())
            b.page.wait_for_selector("text=3 runs", timeout=60_000)
            nav = _nav(b.page)
            assert nav[:2] == ["Overview", "Runs"] and "运行" not in nav
    assert (shots / "overview-zh.png").stat().st_size > 10_000


def test_ui_language_setting_forces_chinese(root: Path, tmp_path: Path, shots: Path) -> None:  # noqa: F811
    from workbench.settings import load_settings, save_settings

    _fill(root)
    save_settings(root, ui_language="zh")
    assert load_settings(root).ui_language == "zh"
    with panel_app(root, tmp_path) as server, chromium(shots, locale="en-US") as b:
        b.page.goto(server.link("page=runs"))
        b.page.wait_for_selector(".tabulator-row", timeout=60_000)
        nav = _nav(b.page)
        assert "运行" in nav and "Runs" not in nav
        b.page.wait_for_selector("text=比较所选")  # the Runs page's own button


def test_pages_opened_later_keep_the_language(root: Path, tmp_path: Path, shots: Path) -> None:  # noqa: F811
    _fill(root)
    with panel_app(root, tmp_path) as server, chromium(shots, locale="zh-CN") as b:
        b.page.goto(server.link())
        b.page.wait_for_selector("text=3 个运行", timeout=60_000)
        b.page.get_by_role("button", name="设置").click()
        b.page.wait_for_selector("text=任务槽位", timeout=15_000)
        b.page.get_by_role("button", name="概览").click()
        b.page.wait_for_timeout(3_000)  # one ui_refresh tick (2 s) re-renders the counts
        b.page.wait_for_selector("text=3 个运行", timeout=5_000)


@pytest.mark.parametrize("header, expected", [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh"), ("en-US,en;q=0.9,zh;q=0.5", "en"), ("zh-TW", "zh"), (None, "en"),
    ("fr-FR,fr", "en"),
])
def test_accept_language(header: str | None, expected: str) -> None:
    from workbench.ui import _i18n

    assert _i18n.from_accept_language(header) == expected
