"""Small HTML tables and text for the ipywidgets views (and Panel HTML panes): everything escaped."""

from __future__ import annotations

import html
from collections.abc import Sequence

__all__ = ["error_line", "facts", "pre", "status_badge", "table"]

_TABLE = "border-collapse:collapse;font-size:12px"
_CELL = "padding:2px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top"


def table(rows: Sequence[Sequence[str]], headers: Sequence[str] | None = None,
          highlight: Sequence[Sequence[bool]] | None = None, empty: str = "") -> str:
    """An HTML table of text cells; ``highlight[i][j]`` shades cell j of row i."""
    if not rows:
        return f"<i>{html.escape(empty)}</i>" if empty else ""
    out = [f'<table style="{_TABLE}">']
    if headers:
        out.append("<tr>" + "".join(f'<th style="{_CELL}">{html.escape(h)}</th>' for h in headers) + "</tr>")
    for i, row in enumerate(rows):
        cells = []
        for j, cell in enumerate(row):
            shade = ";background:#fff3b0" if highlight and highlight[i][j] else ""
            cells.append(f'<td style="{_CELL}{shade}">{html.escape(str(cell))}</td>')
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def status_badge(label: str, color: str) -> str:
    return f'<span style="color:{html.escape(color)};font-weight:bold">&#9679; {html.escape(label)}</span>'


def error_line(message: str | None) -> str:
    """The red line a view shows for ``model.error`` (empty when there is none)."""
    return f'<div style="color:#d62728">{html.escape(message)}</div>' if message else ""


def pre(text: str) -> str:
    return ('<pre style="max-height:320px;overflow:auto;font-size:12px;margin:0">'
            f"{html.escape(text)}</pre>")


def facts(rows: Sequence[tuple[str, str]], colors: dict[str, str] | None = None) -> str:
    """``label: value`` pairs on a wrapping line; values named in ``colors`` are shown as badges."""
    parts = []
    for label, value in rows:
        if not value:
            continue
        shown = status_badge(value, colors[label]) if colors and label in colors else html.escape(value)
        parts.append(f'<span style="margin-right:14px"><b>{html.escape(label)}</b>: {shown}</span>')
    return '<div style="line-height:1.8">' + "".join(parts) + "</div>"
