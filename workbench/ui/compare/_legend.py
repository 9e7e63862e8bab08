"""The legend both renderings of MetricCompare show beside their charts (HTML through ``_safe``).

One scrollable list for all charts: every selected run (or group, with its run count) with its
colour, and in one-chart mode the dash of each key. Names and keys are stored text: they go in
only through :func:`workbench.ui._safe.markup`, escaped.
"""

from __future__ import annotations

from workbench.ui import _safe
from workbench.ui._i18n import tr
from workbench.ui.compare.model import MetricCompareModel

#: how each dash looks in the legend (text: no SVG needed)
DASH_SAMPLES = {"solid": "\u2014\u2014\u2014", "dashed": "- - -", "dotted": "\u00b7\u00b7\u00b7\u00b7\u00b7",
                "dotdash": "\u00b7-\u00b7-\u00b7", "dashdot": "-\u00b7-\u00b7-"}
BOX_STYLE = "max-height:640px;overflow-y:auto;font-size:12px;line-height:1.6;padding:4px 8px;min-width:180px"


def legend_markup(model: MetricCompareModel) -> _safe.Markup:
    """The legend of ``model`` as safe HTML (empty when there is nothing to show)."""
    entries = model.legend()
    if not entries:
        return _safe.Markup("")
    title = (tr("Runs ({n})", n=len(entries)) if model.group_by is None
             else tr("Groups by {key}", key=model.group_by))
    rows = [_safe.markup("<div style='font-weight:600'>{}</div>", title)]
    for entry in entries:
        if entry.count is None:
            text = entry.label
        elif entry.count == 1:
            text = tr("{label} (1 run)", label=entry.label)
        else:
            text = tr("{label} ({n} runs)", label=entry.label, n=entry.count)
        rows.append(_safe.markup(
            "<div class='wb-legend-item' style='white-space:nowrap'><span style='display:inline-block;width:12px;"
            "height:12px;margin-right:6px;vertical-align:middle;background:{color}'></span>{text}</div>",
            color=entry.color, text=text))
    dashes = model.key_dashes()
    if dashes:
        rows.append(_safe.markup("<div style='font-weight:600;margin-top:6px'>{}</div>", tr("Keys")))
        rows += [_safe.markup("<div style='white-space:nowrap'><span style='font-family:monospace;margin-right:6px'>"
                              "{sample}</span>{key}</div>", sample=DASH_SAMPLES[dash], key=key)
                 for key, dash in dashes]
    return _safe.markup(f"<div class='wb-legend' style='{BOX_STYLE}'>{{}}</div>", _safe.join(rows))
