"""Stored text on screens: always text, never markup. The one rule every view goes through.

Everything a view shows from a store (run names, ids, keys, values, tags, notes, errors, artifact
and file names, dataset cells and column names, remote names, log lines) is hostile: a training
script, a teammate or a synced remote wrote it. Views therefore never build HTML from it by hand:

- :func:`escape` turns any value into :class:`Markup` that shows it as text;
- :func:`markup` fills a template the code wrote with escaped values;
- :func:`html_pane` (Panel) and :func:`html_widget` (ipywidgets) are the only HTML surfaces the
  views use. They render :class:`Markup` as HTML and anything else *as text*: a view that forgets
  to escape shows ``<b>`` literally instead of running it.
- :func:`alert_pane` replaces Panel's ``Alert`` (a Markdown pane: it would render markdown and
  HTML in an error message);
- :func:`choice_options` and :func:`table_titles` are for the widgets whose labels are HTML
  (Bokeh's ``MultiChoice`` runs Choices.js with ``allowHTML``; Tabulator column titles);
  :func:`set_table` puts a frame into a Tabulator with escaped titles.

Surfaces that draw text themselves are safe as they are and take plain strings: Bokeh titles,
axis labels, legends and ``text`` glyphs (canvas), ``@field`` values in hover tooltips (Bokeh
escapes them), ``Select`` options, button labels, tab titles, ``pn.pane.Str``, ipywidgets
``Label``/``Select``/``Button``/``Tab`` titles, bqplot labels (SVG text) and ipydatagrid (canvas).

``tests/ui/test_structure.py`` fails when a view makes an HTML, Markdown or Alert pane, an
ipywidgets ``HTML`` widget or a Tabulator any other way, or calls :func:`html.escape` itself;
``tests/ui/test_hostile.py`` renders every component over a store full of markup and checks
every HTML-bearing property.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

__all__ = [
    "Markup",
    "alert_pane",
    "choice_options",
    "color_formatter",
    "escape",
    "heading",
    "html_pane",
    "html_widget",
    "join",
    "link_formatter",
    "markup",
    "set_html",
    "set_table",
    "show_alert",
    "table",
    "table_titles",
]


class Markup(str):
    """HTML that the code wrote, with every stored value in it escaped: safe to render.

    Make it with :func:`escape`, :func:`markup` or :func:`join`, never from a stored string.
    Concatenating it with a plain ``str`` gives a plain ``str``, which the safe surfaces show as
    text: a mistake shows up as visible tags, never as markup that runs.
    """

    __slots__ = ()

    def __html__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:  # Panel's HTML pane takes objects with this as HTML as they are
        return str(self)


def escape(value: Any) -> Markup:
    """``value`` as text inside HTML (``None`` is empty); :class:`Markup` passes unchanged."""
    if isinstance(value, Markup):
        return value
    if value is None:
        return Markup("")
    return Markup(html.escape(str(value), quote=True))


def markup(template: str, /, *args: Any, **values: Any) -> Markup:
    """Fill ``template`` (HTML the code wrote, ``str.format`` syntax) with escaped values.

    >>> markup("<b>{name}</b>", name="<img src=x onerror=alert(1)>")
    '<b>&lt;img src=x onerror=alert(1)&gt;</b>'
    """
    return Markup(template.format(*(escape(a) for a in args), **{k: escape(v) for k, v in values.items()}))


def join(parts: Iterable[Any], separator: str = "") -> Markup:
    """Join :class:`Markup` parts (plain strings among them are escaped)."""
    return Markup(escape(separator).join(escape(p) for p in parts))


def choice_options(values: Iterable[Any]) -> dict[str, Any]:
    """``{label: value}`` options for Panel's ``MultiChoice``, whose labels are HTML in the browser."""
    return {str(escape(v)): v for v in values}


def table_titles(columns: Iterable[Any], titles: Mapping[str, str] | None = None) -> dict[str, str]:
    """Tabulator column titles (HTML in the browser): the given title or the column's name, escaped."""
    named = dict(titles or {})
    return {str(c): str(escape(named.get(str(c), str(c)))) for c in columns}


# ---------------------------------------------------------------- Panel
@cache
def _pane_class() -> type:
    import panel as pn

    class TextUnlessMarkup(pn.pane.HTML):
        """An HTML pane that renders :class:`Markup` and shows anything else as text."""

        def _transform_object(self, obj: Any) -> dict[str, Any]:
            return super()._transform_object(str(escape(obj)))

    return TextUnlessMarkup


def html_pane(content: Any = "", **params: Any) -> Any:
    """A Panel HTML pane: :class:`Markup` renders as HTML, anything else shows as text."""
    return _pane_class()(escape(content), **params)


def heading(text: str, level: int = 2) -> Any:
    """A Panel heading pane (``<h2>`` by default) showing ``text`` as text."""
    return html_pane(markup(f"<h{int(level)}>{{}}</h{int(level)}>", text), sizing_mode="stretch_width")


def set_html(surface: Any, content: Any) -> None:
    """Show ``content`` in a pane or widget made by :func:`html_pane`, :func:`alert_pane` or :func:`html_widget`."""
    value = escape(content)
    if hasattr(surface, "object"):
        surface.object = value
    else:
        surface.value = value


_ALERT_STYLE = {
    "color": "#842029", "background-color": "#f8d7da", "border": "1px solid #f5c2c7", "border-radius": "4px",
    "padding": "8px 12px", "white-space": "pre-wrap", "word-break": "break-word",
}


def alert_pane(message: Any = "", **params: Any) -> Any:
    """A red message box (instead of Panel's ``Alert``, which renders Markdown); hidden while empty."""
    params.setdefault("visible", bool(message))
    params.setdefault("sizing_mode", "stretch_width")
    params["css_classes"] = ["wb-alert", *params.get("css_classes", ())]
    return html_pane(message, styles=_ALERT_STYLE, **params)


def show_alert(pane: Any, message: str | None) -> None:
    """Show ``message`` (as text) in an :func:`alert_pane`, or hide it when there is none."""
    pane.object = escape(message or "")
    pane.visible = bool(message)


@cache
def _table_class() -> type:
    import panel as pn

    class EscapedTitles(pn.widgets.Tabulator):
        """A Tabulator that keeps the code's own column titles, so :func:`set_table` can escape the rest."""

        own_titles: dict[str, str] = {}  # noqa: RUF012 - set per instance by table()

    return EscapedTitles


def table(frame: Any, titles: Mapping[str, str] | None = None, **params: Any) -> Any:
    """A Panel Tabulator of ``frame`` whose column titles are escaped (cells are text already)."""
    widget = _table_class()(frame, titles=table_titles(frame.columns, titles), **params)
    widget.own_titles = dict(titles or {})
    return widget


def color_formatter(colors: Mapping[str, str], default: str = "#444444") -> Any:
    """A Tabulator cell formatter showing the value as text, coloured by ``colors[value]``.

    Both the colour and the value go through ``<%- %>``, which escapes (``<%= %>`` would not).
    """
    import json

    from bokeh.models.widgets.tables import HTMLTemplateFormatter

    table = json.dumps({str(k): str(v) for k, v in colors.items()})
    return HTMLTemplateFormatter(
        template=f'<span style="color: <%- Object.prototype.hasOwnProperty.call({table}, value) ? ({table})[value] '
                 f': {json.dumps(default)} %>; font-weight: 600"><%- value %></span>')


def link_formatter(href: str, field: str) -> Any:
    """A Tabulator cell formatter showing the value as text inside a link to ``href`` followed by
    the row's ``field``, URL-encoded (``link_formatter("?page=detail&runs=", "run_id")``).

    ``href`` is the code's own text (escaped here, and it may not name a scheme); the value and the
    field go through ``<%- %>``, which escapes.
    """
    from bokeh.models.widgets.tables import HTMLTemplateFormatter

    if not field.isidentifier() or ":" in href.split("?", 1)[0]:
        raise ValueError(f"link_formatter takes a relative href and a field name, not {href!r}, {field!r}")
    return HTMLTemplateFormatter(
        template=f'<a href="{html.escape(href, quote=True)}<%- encodeURIComponent({field}) %>" '
                 f'class="wb-link"><%- value %></a>')


def set_table(widget: Any, frame: Any, group: str | None = None) -> None:
    """Put ``frame`` into a Tabulator made by :func:`table`, titles escaped for its columns.

    ``group``: a column of ``frame`` whose values group the rows. Tabulator writes each group's
    header as HTML (``"<column>: <value>"``), so the values are escaped here and the column hidden.
    """
    named = getattr(widget, "own_titles", {})
    titles = table_titles(frame.columns, named)
    groupby = [group] if group is not None and group in frame.columns else []
    if groupby:
        frame = frame.copy()
        frame[group] = [str(escape(v)) for v in frame[group]]
    if widget.titles != titles:
        widget.titles = titles
    if list(widget.hidden_columns) != groupby:
        widget.hidden_columns = groupby
    if list(widget.groupby) != groupby:
        widget.groupby = groupby
    widget.value = frame


# ---------------------------------------------------------------- ipywidgets
@cache
def _widget_class() -> type:
    import ipywidgets as widgets
    import traitlets

    class TextUnlessMarkupWidget(widgets.HTML):  # type: ignore[misc]  # ipywidgets ships no types
        """An ipywidgets HTML widget that renders :class:`Markup` and shows anything else as text."""

        @traitlets.validate("value")
        def _text_unless_markup(self, proposal: Any) -> Markup:
            return escape(proposal["value"])

    return TextUnlessMarkupWidget


def html_widget(content: Any = "", **params: Any) -> Any:
    """An ipywidgets HTML widget: :class:`Markup` renders as HTML, anything else shows as text."""
    return _widget_class()(value=escape(content), **params)
