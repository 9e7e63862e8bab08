"""A corpus of hostile text, and a store whose every text field holds it (issue 11).

Each payload, if it ever ran as markup or script, sets ``window.__wb_xss`` or opens a dialog; the
browser tests check that neither happened and that each payload is visible as the text it is.
"""

from __future__ import annotations

import html.parser
import io
import sys
from pathlib import Path
from typing import Any

import workbench as wb

SENTINEL = "__wb_xss"
_SET = f"window.{SENTINEL}=1"

#: at least 30 payloads: tags, attributes, javascript: URLs, markdown and template injection, unicode tricks
PAYLOADS: list[str] = [
    f'<img src=x onerror="{_SET}">',
    f"<script>{_SET}</script>",
    f'<svg onload="{_SET}">',
    f"<svg><script>{_SET}</script></svg>",
    f'"><img src=x onerror={_SET}>',
    f"'><img src=x onerror={_SET}>",
    f'<iframe src="javascript:parent.{SENTINEL}=1"></iframe>',
    f'<a href="javascript:{_SET}">click me</a>',
    f"javascript:{_SET}",
    f"[markdown link](javascript:{_SET})",
    f'![md image](x" onerror="{_SET})',
    f'<details open ontoggle="{_SET}">d</details>',
    f'<input autofocus onfocus="{_SET}">',
    f'<video><source onerror="{_SET}"></video>',
    f'<object data="javascript:{_SET}"></object>',
    f'<math><mtext><table><mglyph><style><img src=x onerror="{_SET}">',
    f"{{{{constructor.constructor('{_SET}')()}}}}",
    f"${{{_SET}}}",
    f"<%= {_SET} %>",
    "{{7*7}} {% raw %}jinja{% endraw %}",
    f"$$\\href{{javascript:{_SET}}}{{math}}$$",
    f'<div style="background:url(javascript:{_SET})">styled</div>',
    f"&lt;img src=x onerror={_SET}&gt;",
    f"\u202e<img src=x onerror={_SET}> rtl override",
    f"zero\u200bwidth<scr\u200bipt>{_SET}</script>",
    f"\uff1cimg src=x onerror={_SET}\uff1e fullwidth",
    f"<img src=x onerror=&#119;indow.{SENTINEL}=1>",
    f'<a href="&#106;avascript:{_SET}">entity url</a>',
    f'<form><button formaction="javascript:{_SET}">go</button></form>',
    f"</textarea><img src=x onerror={_SET}>",
    f"</title><img src=x onerror={_SET}>",
    f'<!--<img src="--><img src=x onerror={_SET}>',
    "**bold** _italic_ # heading `code` <b>tag</b>",
    "<img src=x onerror=alert(1)>",
    '<svg/onload=confirm("wb")>',
    "<style>*{display:none!important}</style>hidden?",
]

#: HTML a safe surface may contain (what the views write themselves)
SAFE_TAGS = {"b", "i", "div", "span", "table", "thead", "tbody", "tr", "td", "th", "pre", "code", "small", "h2",
             "h3", "br"}
SAFE_ATTRIBUTES = {"style", "class"}


class _Markup(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.bad: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in SAFE_TAGS:
            self.bad.append(f"<{tag}>")
        for name, value in attrs:
            if name not in SAFE_ATTRIBUTES or (value and ("javascript" in value.lower() or "url(" in value.lower())):
                self.bad.append(f"<{tag} {name}={value!r}>")

    def handle_comment(self, data: str) -> None:
        self.bad.append(f"<!--{data}-->")


def unsafe_markup(fragment: str) -> list[str]:
    """The elements and attributes in ``fragment`` (HTML a browser would parse) that no view writes."""
    parser = _Markup()
    parser.feed(fragment)
    parser.close()
    return parser.bad


def hostile_store(root: Path) -> dict[str, Any]:
    """A store whose every text field holds the payloads; returns ids and names made."""
    quiet = {"capture_output": False, "system_metrics": False}
    n = len(PAYLOADS)
    ids: list[str] = []
    for i, payload in enumerate(PAYLOADS):
        nxt = PAYLOADS[(i + 1) % n]
        run = wb.init(project=PAYLOADS[i % 3], name=payload, tags=[payload, nxt[:60]],
                      notes=f"notes {payload}",
                      config={payload: nxt, "lr": 0.01 * (i + 1), "text": payload}, root=root, **quiet)
        run.log({payload: float(i), "loss": 1.0 / (i + 1)}, step=0)
        run.log({payload: float(i) + 1, "loss": 0.5 / (i + 1)}, step=1)
        run.summary[payload] = nxt
        run.summary["acc"] = i / n
        ids.append(run.id)
        if i == 0:
            run.finish()
            continue
        if i % 4 == 1:
            try:  # a failed run whose error message is a payload
                raise RuntimeError(payload)
            except RuntimeError:
                run.finish("failed")
        else:
            run.finish()
    # captured output: a run whose stdout lines are payloads
    run = wb.init(project="logs", name="stdout", root=root, capture_output=True, system_metrics=False)
    saved = sys.stdout
    try:
        for payload in PAYLOADS:
            print(payload)
    finally:
        sys.stdout = saved
    run.finish()
    ids.append(run.id)
    # artifacts: names are restricted to [A-Za-z0-9._-]; file names, metadata and dataset cells are free
    files = root.parent / "hostile-files"
    files.mkdir(exist_ok=True)
    for i, payload in enumerate(p for p in PAYLOADS if "/" not in p):
        (files / f"{i:02d} {payload}.txt").write_text(payload)
    art = wb.log_artifact(files, name="hostile-model", type="model", metadata={"note": PAYLOADS[0]}, root=root)
    csv = io.StringIO()
    csv.write("id,text\n")
    for i, payload in enumerate(PAYLOADS):
        csv.write(f'{i},"{payload.replace(chr(34), chr(34) * 2)}"\n')
    dataset = wb.log_dataset(csv.getvalue().encode(), filename="hostile.csv", name="hostile-data", root=root)
    return {"runs": ids, "artifact": art.ref, "dataset": dataset.ref}
