"""Small HTML tables and text for the ipywidgets views (and Panel HTML panes), built with
:mod:`workbench.ui._safe`: every value is escaped, the results are :class:`~workbench.ui._safe.Markup`."""

from __future__ import annotations

from collections.abc import Sequence

from workbench.ui._safe import Markup, join, markup

__all__ = ["error_line", "facts", "note", "pre", "status_badge", "table"]

_TABLE = "border-collapse:collapse;font-size:12px"
_CELL = "padding:2px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top"


def table(rows: Sequence[Sequence[object]], headers: Sequence[str] | None = None,
          highlight: Sequence[Sequence[bool]] | None = None, empty: str = "") -> Markup:
    """An HTML table of text cells; ``highlight[i][j]`` shades cell j of row i."""
    if not rows:
        return note(empty) if empty else Markup("")
    out = [markup('<table style="{}">', _TABLE)]
    if headers:
        out.append(join([Markup("<tr>"), *(markup('<th style="{}">{}</th>', _CELL, h) for h in headers),
                         Markup("</tr>")]))
    for i, row in enumerate(rows):
        cells = []
        for j, cell in enumerate(row):
            shade = ";background:#fff3b0" if highlight and highlight[i][j] else ""
            cells.append(markup('<td style="{}">{}</td>', _CELL + shade, cell))
        out.append(join([Markup("<tr>"), *cells, Markup("</tr>")]))
    out.append(Markup("</table>"))
    return join(out)


def note(text: str) -> Markup:
    """A quiet, italic line of text (an empty state)."""
    return markup("<i>{}</i>", text)


def status_badge(label: str, color: str) -> Markup:
    return markup('<span style="color:{};font-weight:bold">&#9679; {}</span>', color, label)


def error_line(message: str | None) -> Markup:
    """The red line a view shows for ``model.error`` (empty when there is none)."""
    return markup('<div style="color:#d62728;white-space:pre-wrap">{}</div>', message) if message else Markup("")


def pre(text: str) -> Markup:
    return markup('<pre style="max-height:320px;overflow:auto;font-size:12px;margin:0">{}</pre>', text)


def facts(rows: Sequence[tuple[str, str]], colors: dict[str, str] | None = None) -> Markup:
    """``label: value`` pairs on a wrapping line; values named in ``colors`` are shown as badges."""
    parts = []
    for label, value in rows:
        if not value:
            continue
        shown = status_badge(value, colors[label]) if colors and label in colors else value
        parts.append(markup('<span style="margin-right:14px"><b>{}</b>: {}</span>', label, shown))
    return join([Markup('<div style="line-height:1.8">'), *parts, Markup("</div>")])
