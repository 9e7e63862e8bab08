"""UI text in English and Chinese.

Every label goes through :func:`tr`: English is the key, and each view module registers its
Chinese text with :func:`add_zh` next to the code that uses it. The language comes from the
``ui_language`` setting; ``auto`` lets the web app pick per session from the browser's
``Accept-Language`` (:func:`use_language`), and means English elsewhere.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import weakref
from collections.abc import Iterator, Mapping
from typing import Any

LANGUAGES = ("en", "zh")

_ZH: dict[str, str] = {}
_default = "en"
_session: contextvars.ContextVar[str | None] = contextvars.ContextVar("workbench_ui_language", default=None)


def add_zh(texts: Mapping[str, str]) -> None:
    """Register Chinese text for English keys."""
    _ZH.update(texts)


#: Bokeh documents (one per web-app session) -> their language, for text made in callbacks
_documents: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def bind_document(document: Any, lang: str) -> None:
    """Make text in every callback of this Panel session (``pn.state.curdoc``) in ``lang``."""
    _documents[document] = _check(lang)


def language() -> str:
    """The language of text made now: the context's (:func:`use_language`), else the Panel
    session's (:func:`bind_document`; callbacks run with ``pn.state.curdoc`` set), else the default."""
    lang = _session.get()
    if lang:
        return lang
    panel = sys.modules.get("panel")
    if panel is not None and _documents:
        document = panel.state.curdoc
        if document is not None:
            return _documents.get(document) or _default
    return _default


def set_language(lang: str) -> None:
    """Set the default language (``en``, ``zh`` or ``auto`` = ``en``)."""
    global _default  # one process-wide default, like locale
    _default = _check(lang)


def _check(lang: str) -> str:
    lang = (lang or "auto").strip().lower()
    if lang == "auto":
        return "en"
    if lang not in LANGUAGES:
        from workbench.errors import ConfigError

        raise ConfigError(f"UI language {lang!r} is not available; use one of auto, {', '.join(LANGUAGES)}")
    return lang


def from_accept_language(header: str | None) -> str:
    """``zh`` when the browser prefers Chinese over English, else ``en``."""
    for part in (header or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "en"


@contextlib.contextmanager
def use_language(lang: str) -> Iterator[None]:
    """Make text in this context (a Panel session, a test) in ``lang``."""
    token = _session.set(_check(lang))
    try:
        yield
    finally:
        _session.reset(token)


def tr(text: str, **values: object) -> str:
    """``text`` in the current language, with ``{name}`` fields filled from ``values``."""
    out = _ZH.get(text, text) if language() == "zh" else text
    return out.format(**values) if values else out


add_zh(
    {
        "Refresh": "刷新",
        "Error": "错误",
        "Loading…": "加载中…",
        "No runs selected": "未选择运行",
        "running": "运行中",
        "completed": "已完成",
        "failed": "失败",
        "crashed": "崩溃",
        "cancelled": "已取消",
        "queued": "排队中",
    }
)
