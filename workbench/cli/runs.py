"""``workbench runs | show | sql | reindex``."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

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
    p.set_defaults(handler=cmd_reindex)


def _store(args: argparse.Namespace) -> Any:
    from workbench.store import open_store

    return open_store(args.root)


def _print_frame(frame: Any, as_json: bool) -> None:
    if as_json:
        for row in frame.to_dict(orient="records"):
            print(json.dumps(row, default=_json_default, ensure_ascii=False))
        return
    if frame.empty:
        print("(no rows)")
        return
    import pandas as pd

    frame = frame.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert(None).dt.strftime("%Y-%m-%d %H:%M:%S")
    if "duration" in frame.columns:
        frame["duration"] = frame["duration"].map(_human_seconds)
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200,
                           "display.max_colwidth", 40):
        print(frame.to_string(index=False))


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
    frame = _store(args).runs(project=args.project, where=args.where, order_by=args.order_by,
                              limit=args.limit, columns=columns)
    if columns is None and not args.json:
        summary = [c for c in frame.columns if c.startswith("summary.") and not c.startswith("summary.sys/")]
        frame = frame[_DEFAULT_COLUMNS + summary[:4]]
    _print_frame(frame, args.json)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    record = _store(args).get(args.run)
    if args.json:
        print(json.dumps(record, indent=1, ensure_ascii=False, default=str))
        return 0
    import datetime as dt

    def when(value: Any) -> str:
        return dt.datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S") if value else "-"

    git = record.get("git") or {}
    lines = [
        f"run      {record['id']}  {record.get('project')}/{record.get('name')}",
        f"status   {record.get('status')}",
        f"created  {when(record.get('created'))}   ended {when(record.get('ended'))}",
        f"host     {record.get('host')}  pid {record.get('pid')}  python {record.get('python')}",
        f"command  {' '.join(record.get('command') or [])}",
    ]
    if git:
        lines.append(f"git      {git.get('commit', '')[:12]} {git.get('branch') or ''}"
                     f"{' (dirty)' if git.get('dirty') else ''}")
    if record.get("tags"):
        lines.append(f"tags     {', '.join(record['tags'])}")
    if record.get("notes"):
        lines.append(f"notes    {record['notes']}")
    if record.get("error"):
        lines.append(f"error    {record['error'].get('type')}: {record['error'].get('message')}")
    from workbench.store.catalog import flatten

    config = flatten(record.get("config") or {})
    if config:
        lines.append("config")
        lines += [f"  {k} = {json.dumps(v, default=str)}" for k, v in sorted(config.items())]
    stats = record.get("metrics") or {}
    summary = record.get("summary") or {}
    if summary:
        lines.append("summary                      last          min          max    count")
        for key in sorted(summary):
            s = stats.get(key) or {}
            lines.append(f"  {key:<24} {_num(summary[key]):>12} {_num(s.get('min')):>12} "
                         f"{_num(s.get('max')):>12} {s.get('count', ''):>8}")
    print("\n".join(lines))
    return 0


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def cmd_sql(args: argparse.Namespace) -> int:
    _print_frame(_store(args).sql(args.query), args.json)
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    report = _store(args).reindex()
    print(f"indexed {report.runs} runs in {report.seconds:.2f} s")
    for run_id, message in sorted(report.corrupt_records.items()):
        print(f"corrupt run record: {run_id}: {message}", file=sys.stderr)
    for path, message in sorted(report.corrupt_segments.items()):
        print(f"corrupt metric segment: {path}: {message}", file=sys.stderr)
    if report.corrupt_records or report.corrupt_segments:
        print("move corrupt files out of the store (or restore them from a backup); "
              "everything else is indexed", file=sys.stderr)
        return 1
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    from workbench.cli.artifacts import _confirm, _print_gc, human_bytes
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
    label = f"run {run_id} ({record.get('project')}/{record.get('name')}, {record.get('status')})"
    if not args.yes and not _confirm(f"delete {label}?"):
        print(f"not deleted: pass --yes to delete {label}", file=sys.stderr)
        return 1
    delete_run(store.layout, store.settings, run_id)
    print(f"deleted {label}")
    if only_here:
        refs = ", ".join(sorted(set(only_here)))
        if args.artifacts or _confirm(f"delete the artifact versions only this run made ({refs})?"):
            for ref in sorted(set(only_here)):
                artifacts.delete(ref)
            print(f"deleted {refs}")
        else:
            print(f"kept {refs} (pass --artifacts to delete them with the run)")
    report = artifacts.gc(dry_run=True)
    if report.blobs:
        if args.gc or _confirm(f"remove {report.blobs} blob(s) nothing references now ({human_bytes(report.bytes)})?"):
            _print_gc(artifacts.gc())
        else:
            print(f"{report.blobs} blob(s), {human_bytes(report.bytes)}, are no longer referenced: "
                  "run `workbench gc` to free them")
    return 0
