"""``workbench runs | show | sql | reindex``."""

from __future__ import annotations

import argparse
import math
from typing import Any

from workbench.cli._terminal import PROGRESS_CHOICES, confirm, dumps, echo, progress, visible

__all__ = ["register"]

_DEFAULT_COLUMNS = ["run_id", "project", "name", "status", "created", "duration"]


def register(sub: Any) -> None:
    p = sub.add_parser("runs", help="list runs, filtered and sorted")
    p.add_argument("--project", help="only runs of this project")
    p.add_argument("--where", help="filter, e.g. \"config.lr < 1e-3 and summary.acc > 0.8\"")
    p.add_argument("--order-by", help="sort, e.g. -summary.acc (default: newest first)")
    p.add_argument("--limit", type=int, default=None, help="at most this many runs")
    p.add_argument("--columns", help="comma-separated columns, e.g. name,config.lr,summary.acc")
    p.add_argument("--json", action="store_true", help="JSON lines, one run each")
    p.set_defaults(handler=cmd_runs)

    p = sub.add_parser("show", help="show one run's record (an id or a unique prefix)")
    p.add_argument("run", help="run id or unique prefix")
    p.add_argument("--json", action="store_true", help="the raw record as JSON")
    p.set_defaults(handler=cmd_show)

    p = sub.add_parser("sql", help="read-only DuckDB SQL over runs, params, summaries, metrics")
    p.add_argument("query")
    p.add_argument("--json", action="store_true", help="JSON lines, one row each")
    p.set_defaults(handler=cmd_sql)

    p = sub.add_parser("rm", help="delete a run; offers to delete the artifact versions only it made")
    p.add_argument("run", help="run id or unique prefix")
    p.add_argument("--yes", action="store_true", help="do not ask")
    p.add_argument("--artifacts", action="store_true",
                   help="also delete the artifact versions this run made that no other run used")
    p.add_argument("--gc", action="store_true", help="then remove the blobs nothing references any more")
    p.set_defaults(handler=cmd_rm)

    p = sub.add_parser("reindex", help="rebuild the catalog from run records; report corrupt files")
    p.add_argument("--progress", choices=PROGRESS_CHOICES, default="auto",
                   help="a progress line on stderr: auto (when stderr is a terminal), always, never")
    p.set_defaults(handler=cmd_reindex)


def _store(args: argparse.Namespace) -> Any:
    from workbench.store import open_store

    return open_store(args.root)


def _print_frame(frame: Any, as_json: bool) -> None:
    if as_json:
        for row in frame.to_dict(orient="records"):
            echo(dumps(row, default=_json_default))
        return
    if frame.empty:
        echo("(no rows)")
        return
    import pandas as pd

    frame = frame.copy()
    for i in range(frame.shape[1]):  # by position: a SQL result may repeat a column name
        column = frame.iloc[:, i]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            frame.isetitem(i, column.dt.tz_convert(None).dt.strftime("%Y-%m-%d %H:%M:%S"))
        elif frame.columns[i] == "duration" and column.dtype.kind == "f":
            frame.isetitem(i, column.map(_human_seconds))
        elif column.dtype.kind not in "biufcmM":  # text, lists, structs: stored values
            frame.isetitem(i, column.map(_cell))
    frame.columns = [visible(name) for name in frame.columns]
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200,
                           "display.max_colwidth", 40):
        echo(frame.to_string(index=False))


def _cell(value: Any) -> Any:
    """A table cell with every unprintable character of its text made visible; numbers unchanged."""
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, (list, tuple)) or getattr(value, "ndim", 0) == 1:  # DuckDB lists: numpy arrays
        return "[" + ", ".join(visible(item) for item in list(value)) + "]"
    if isinstance(value, (dict, bytes)):
        return visible(str(value))
    return value


def _human_seconds(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    value = float(value)
    if value < 60:
        return f"{value:.1f}s"
    if value < 3600:
        return f"{value / 60:.1f}m"
    return f"{value / 3600:.1f}h"


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def cmd_runs(args: argparse.Namespace) -> int:
    columns = None
    if args.columns:
        columns = [c.strip() for c in args.columns.split(",") if c.strip()]
    query = {"project": args.project, "where": args.where, "order_by": args.order_by, "limit": args.limit,
             "columns": columns}
    if args.json:
        _print_frame(_store(args).runs(**query), True)
        return 0
    # the table needs no pandas (importing it would be most of this command's time)
    labels, rows = _store(args).run_rows(**query)
    if columns is None:
        summary = [c for c in labels if c.startswith("summary.") and not c.startswith("summary.sys/")]
        keep = [labels.index(c) for c in _DEFAULT_COLUMNS + summary[:4]]
        labels, rows = [labels[i] for i in keep], [[row[i] for i in keep] for row in rows]
    _print_rows(labels, rows)
    return 0


_MAX_WIDTH = 40  # as pandas' display.max_colwidth above


def _print_rows(labels: list[str], rows: list[list[Any]]) -> None:
    """Rows of :meth:`Store.run_rows` as a text table like ``_print_frame``'s: times in UTC,
    durations made human, stored text made visible, each cell at most 40 characters."""
    if not rows:
        echo("(no rows)")
        return
    import datetime as dt

    def text(label: str, value: Any) -> str:
        if label in ("created", "started", "ended"):
            if value is None:
                return "NaT"
            return dt.datetime.fromtimestamp(value, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        if label == "duration":
            return _human_seconds(value)
        if isinstance(value, float):
            return "NaN" if math.isnan(value) else f"{value:.6g}"
        if isinstance(value, (bool, int)) or value is None:
            return str(value)
        out = str(_cell(value))
        return out if len(out) <= _MAX_WIDTH else out[:_MAX_WIDTH - 3] + "..."

    cells = [[text(label, value) for label, value in zip(labels, row)] for row in rows]
    heads = [visible(label) for label in labels]
    widths = [max(len(head), *(len(row[i]) for row in cells)) for i, head in enumerate(heads)]
    for line in [heads, *cells]:
        echo(" ".join(cell.rjust(width) for cell, width in zip(line, widths)).rstrip())


def cmd_show(args: argparse.Namespace) -> int:
    record = _store(args).get(args.run)
    if args.json:
        echo(dumps(record, indent=1))
        return 0
    import datetime as dt

    def when(value: Any) -> str:
        return dt.datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S") if value else "-"

    v = visible  # every stored value below goes through it: one line each, nothing a terminal obeys
    git = record.get("git") or {}
    lines = [
        f"run      {v(record['id'])}  {v(record.get('project'))}/{v(record.get('name'))}",
        f"status   {v(record.get('status'))}",
        f"created  {when(record.get('created'))}   ended {when(record.get('ended'))}",
        f"host     {v(record.get('host'))}  pid {v(record.get('pid'))}  python {v(record.get('python'))}",
        f"command  {' '.join(v(word) for word in _items(record.get('command')))}",
    ]
    if git:
        lines.append(f"git      {v(str(git.get('commit') or '')[:12])} {v(git.get('branch') or '')}"
                     f"{' (dirty)' if git.get('dirty') else ''}")
    if record.get("tags"):
        lines.append(f"tags     {', '.join(v(tag) for tag in _items(record['tags']))}")
    if record.get("notes"):
        lines.append(f"notes    {v(record['notes'])}")
    error = record.get("error")
    if error:
        if isinstance(error, dict):
            lines.append(f"error    {v(error.get('type'))}: {v(error.get('message'))}")
        else:
            lines.append(f"error    {v(error)}")
    from workbench.store.catalog import flatten

    config = flatten(record.get("config") or {})
    if config:
        lines.append("config")
        lines += [f"  {v(k)} = {dumps(value)}" for k, value in sorted(config.items())]
    stats = record.get("metrics") or {}
    summary = record.get("summary") or {}
    if summary:
        lines.append("summary                      last          min          max    count")
        for key in sorted(summary):
            s = stats.get(key) or {}
            lines.append(f"  {v(key):<24} {_num(summary[key]):>12} {_num(s.get('min')):>12} "
                         f"{_num(s.get('max')):>12} {v(s.get('count', '')):>8}")
    media = record.get("media") or {}
    if media and isinstance(media, dict):  # images, tables, ... (docs/media.md): where to look
        lines.append("media                        kind        items  last step")
        for key in sorted(media):
            m = media[key] if isinstance(media[key], dict) else {}
            lines.append(f"  {v(key):<24} {v(m.get('kind', '')):<10} {v(m.get('count', '')):>7}  "
                         f"{v(m.get('step', '')):>9}")
    if record.get("media_lost"):
        lines.append(f"media lost {v(record['media_lost'])} item(s): see the run's warnings")
    echo("\n".join(lines))
    return 0


def _items(value: Any) -> list[Any]:
    """A stored list as a list; anything else (a hostile record) as one item."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else visible(value)


def cmd_sql(args: argparse.Namespace) -> int:
    _print_frame(_store(args).sql(args.query), args.json)
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    with progress(args.progress):
        report = _store(args).reindex()
    echo(f"indexed {report.runs} runs in {report.seconds:.2f} s")
    for run_id, message in sorted(report.corrupt_records.items()):
        echo(f"corrupt run record: {visible(run_id)}: {visible(message)}", err=True)
    for path, message in sorted(report.corrupt_segments.items()):
        echo(f"corrupt metric segment: {visible(path)}: {visible(message)}", err=True)
    if report.corrupt_records or report.corrupt_segments:
        echo("move corrupt files out of the store (or restore them from a backup); "
             "everything else is indexed", err=True)
        return 1
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    from workbench._units import human_bytes
    from workbench.cli.artifacts import _print_gc
    from workbench.store._delete import delete_run
    from workbench.store.artifacts import open_artifacts

    store = _store(args)
    run_id = store.resolve(args.run)
    record = store.get(run_id)
    artifacts = open_artifacts(store.root)
    only_here = []  # versions this run made that no other run used
    for entry in (record.get("artifacts") or {}).get("produced") or []:
        ref = f"{entry['name']}:v{entry['version']}"
        try:
            users = {u["run"] for u in artifacts.used_by(ref)}
        except KeyError:
            continue  # deleted already
        if not users - {run_id}:
            only_here.append(ref)
    label = (f"run {visible(run_id)} ({visible(record.get('project'))}/{visible(record.get('name'))}, "
             f"{visible(record.get('status'))})")
    if not args.yes and not confirm(f"delete {label}?"):
        echo(f"not deleted: pass --yes to delete {label}", err=True)
        return 1
    delete_run(store.layout, store.settings, run_id)
    echo(f"deleted {label}")
    if only_here:
        refs = ", ".join(visible(ref) for ref in sorted(set(only_here)))
        if args.artifacts or confirm(f"delete the artifact versions only this run made ({refs})?"):
            for ref in sorted(set(only_here)):
                artifacts.delete(ref)
            echo(f"deleted {refs}")
        else:
            echo(f"kept {refs} (pass --artifacts to delete them with the run)")
    report = artifacts.gc(dry_run=True)
    if report.blobs:
        if args.gc or confirm(f"remove {report.blobs} blob(s) nothing references now ({human_bytes(report.bytes)})?"):
            _print_gc(artifacts.gc())
        else:
            echo(f"{report.blobs} blob(s), {human_bytes(report.bytes)}, are no longer referenced: "
                 "run `workbench gc` to free them")
    return 0
