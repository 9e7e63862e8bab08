"""The HTML of media panels, built with :mod:`workbench.ui._safe` (both views use it).

Every caption, run name, cell and text is escaped; the only addresses are the ``data:`` URIs the
model made from stored bytes (checked here again: anything else is left out).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench.ui import _html
from workbench.ui._i18n import tr
from workbench.ui._safe import Markup, join, markup
from workbench.ui.media.model import Shown

__all__ = ["audio_list", "diff", "image_grid", "image_tag", "table_html", "text_list"]

_PRE = "white-space:pre-wrap;word-break:break-word;font-size:12px;margin:2px 0 8px 0"


def _data_uri(uri: str, kinds: tuple[str, ...]) -> str:
    return uri if uri.startswith(tuple(f"data:{k}/" for k in kinds)) and ";base64," in uri else ""


def image_tag(uri: str, *, width: int | None = None, css: str = "wb-media-img") -> Markup:
    src = _data_uri(uri, ("image",))
    if not src:
        return _html.note(tr("not a browser format"))
    size = f"width:{int(width)}px;" if width else "max-width:100%;"
    return markup('<img class="{}" src="{}" style="{}image-rendering:pixelated" alt="">', css, src, size)


def image_grid(items: Sequence[Shown], *, zoomed: bool = False) -> Markup:
    """One column per run: its name, the image (zoomed: twice as wide), the step and caption."""
    if not items:
        return _html.note(tr("No image at this step"))
    cells = []
    for item in items:
        cells.append(join([
            Markup('<div class="wb-media-cell" style="display:inline-block;vertical-align:top;margin:4px 8px">'),
            markup('<div class="wb-media-run"><b>{}</b> <small>{}</small></div>', item.run_name,
                   tr("step {step}", step=item.step)),
            image_tag(item.uri, width=512 if zoomed else 192),
            markup('<div class="wb-media-caption" style="{}">{}</div>', "font-size:12px;max-width:512px;"
                   "white-space:pre-wrap;word-break:break-word", item.caption),
            Markup("</div>"),
        ]))
    return join([Markup('<div class="wb-media-grid">'), *cells, Markup("</div>")])


def text_list(runs: Sequence[tuple[str, str, list[Shown]]]) -> Markup:
    """Per run, its texts newest first: step, caption, the text (pre-wrap)."""
    parts = []
    for _rid, name, items in runs:
        parts.append(markup('<div class="wb-media-run"><b>{}</b></div>', name))
        for item in items:
            parts.append(markup('<div class="wb-media-step"><small>{}</small> <i>{}</i></div>',
                                tr("step {step}", step=item.step), item.caption))
            parts.append(markup('<pre class="wb-media-text" style="{}">{}</pre>', _PRE, item.text))
    return join(parts)


_DIFF_STYLE = {"+": "background:#e6ffec;color:#1a7f37", "-": "background:#ffebe9;color:#cf222e", " ": "color:#555"}


def diff(lines: Sequence[tuple[str, str]], a: str, b: str) -> Markup:
    """A line diff (``-`` lines only in run ``a``, ``+`` only in ``b``), each line escaped."""
    if not lines:
        return _html.note(tr("No text to diff: log text under this key in two runs"))
    head = markup('<div><small><span style="{}">- {}</span> &nbsp; <span style="{}">+ {}</span></small></div>',
                  _DIFF_STYLE["-"], a, _DIFF_STYLE["+"], b)
    rows = [markup('<div class="wb-diff-line" style="font-family:monospace;font-size:12px;white-space:pre-wrap;{}">'
                   '{} {}</div>', _DIFF_STYLE.get(marker, ""), marker, line) for marker, line in lines]
    return join([head, Markup('<div class="wb-diff">'), *rows, Markup("</div>")])


def audio_list(items: Sequence[Shown]) -> Markup:
    """A player per sound: the run, the step, the caption."""
    parts = []
    for item in items:
        src = _data_uri(item.uri, ("audio",))
        player = markup('<audio class="wb-media-audio" controls preload="metadata" src="{}"></audio>', src) \
            if src else _html.note(tr("not a browser format"))
        parts.append(join([
            Markup('<div class="wb-media-sound" style="margin:4px 0">'),
            markup("<b>{}</b> <small>{}</small> <i>{}</i><br>", item.run_name, tr("step {step}", step=item.step),
                   item.caption),
            player, Markup("</div>")]))
    return join(parts)


def table_html(frame: Any, image_columns: Sequence[str]) -> Markup:
    """An HTML table of ``frame``: image columns as thumbnails, every other cell as text."""
    cell = "padding:2px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top"
    out = [Markup('<table class="wb-media-table" style="border-collapse:collapse;font-size:12px"><tr>')]
    out += [markup('<th style="{}">{}</th>', cell, c) for c in frame.columns]
    out.append(Markup("</tr>"))
    for row in frame.itertuples(index=False):
        out.append(Markup("<tr>"))
        for column, value in zip(frame.columns, row, strict=True):
            shown = image_tag(str(value), width=None, css="wb-media-thumb") if column in image_columns and value \
                else ("" if value is None else value)
            out.append(markup('<td style="{}">{}</td>', cell, shown))
        out.append(Markup("</tr>"))
    out.append(Markup("</table>"))
    return join(out)
