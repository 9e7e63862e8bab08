"""The HTML both RunDetail views show for the failure box and the Output tab, made with
:mod:`workbench.ui._safe` (every stored text escaped: a traceback is text, never markup)."""

from __future__ import annotations

from workbench.ui import _html
from workbench.ui._format import status_color
from workbench.ui._i18n import add_zh, tr
from workbench.ui._safe import Markup, join, markup
from workbench.ui.detail._failure import Failure

__all__ = ["failure_box", "output"]

_BOX = ("border:1px solid {border};border-left:5px solid {edge};background:{background};border-radius:4px;"
        "padding:8px 12px;margin:6px 0")
#: a block of text: monospace, scrolls inside itself, keeps its line breaks
_PRE = ("max-height:360px;overflow:auto;font-size:12px;margin:4px 0 8px 0;padding:6px 8px;background:#f6f6f6;"
        "border:1px solid #e3e3e3;white-space:pre;font-family:monospace")


def _block(label: str, text: str, css_class: str) -> Markup:
    return join([markup('<div style="font-weight:bold;margin-top:6px">{}</div>', label),
                 markup('<pre class="{}" style="{}">{}</pre>', css_class, _PRE, text)])


def failure_box(failure: Failure | None) -> Markup:
    """The box at the top of a run that did not complete (or recorded storage faults); empty for None."""
    if failure is None:
        return Markup("")
    bad = bool(failure.status)
    edge = status_color(failure.status) if bad else "#d39e00"
    style = _BOX.format(border="#f5c2c7" if bad else "#ffe69c", edge=edge, background="#fff8f8" if bad else "#fffbea")
    parts = [markup('<div class="wb-failure" style="{}">', style),
             markup('<div class="wb-failure-title" style="font-weight:bold;font-size:14px;color:{}">{}</div>',
                    edge, failure.title)]
    if failure.message:
        parts.append(markup('<div class="wb-failure-message" style="white-space:pre-wrap;word-break:break-word;'
                            'margin:4px 0">{}</div>', failure.message))
    for label, value in failure.facts():
        parts.append(markup('<div><b>{}</b>: {}</div>', label, value))
    if failure.traceback:
        parts.append(_block(tr("Traceback"), failure.traceback, "wb-traceback"))
    if failure.stderr:
        parts.append(_block(tr("stderr (last lines)"), failure.stderr, "wb-stderr"))
    if failure.warnings:
        parts.append(markup('<div style="font-weight:bold;margin-top:6px">{}</div>', tr("Storage warnings")))
        parts += [markup('<div class="wb-warning" style="white-space:pre-wrap;word-break:break-word">&#9888; {}'
                         '</div>', w) for w in failure.warnings]
    parts.append(Markup("</div>"))
    return join(parts)


def output(stdout: str, stderr: str, live: bool) -> Markup:
    """The Output tab: the tail of stdout, then of stderr; a note when the run printed nothing."""
    parts = []
    if live:
        parts.append(_html.note(tr("The run is going on: the output below follows it.")))
    if stdout:
        parts.append(_block(tr("stdout"), stdout, "wb-stdout"))
    if stderr:
        parts.append(_block(tr("stderr"), stderr, "wb-stderr"))
    if not stdout and not stderr:
        parts.append(_html.note(tr("No output")))
    return join(parts)


add_zh({
    "Traceback": "回溯", "stderr (last lines)": "标准错误（最后几行）", "stdout": "标准输出", "stderr": "标准错误",
    "Storage warnings": "存储警告", "No output": "无输出",
    "The run is going on: the output below follows it.": "运行仍在进行：下面的输出会随之更新。",
})
