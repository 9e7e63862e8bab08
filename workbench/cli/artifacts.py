"""``workbench artifacts ls|show|get|alias|rm|add|fsck``, ``datasets add|ls|show``, ``gc``, ``du``.

(``workbench fsck``, of the whole store, is in :mod:`workbench.cli.fsck`.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from workbench._units import human_bytes
from workbench.cli._terminal import PROGRESS_CHOICES, confirm, dumps, echo, progress, table, visible

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "artifacts", help="versioned models, checkpoints and files: ls, show, get, alias, rm, add"
    )
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)

    q = verbs.add_parser("ls", help="list artifacts, or the versions of one")
    q.add_argument("name", nargs="?", help="list the versions of this artifact")
    q.add_argument("--type", help="only artifacts of this type (model, dataset, ...)")
    q.add_argument("--json", action="store_true", help="JSON lines, one version each")
    q.set_defaults(handler=cmd_ls)

    q = verbs.add_parser("show", help="one version: files, metadata, aliases, lineage")
    q.add_argument("ref", help="name, name:v3 or name:alias")
    q.add_argument("--json", action="store_true", help="the manifest as JSON, with aliases and users")
    q.set_defaults(handler=cmd_show)

    q = verbs.add_parser("get", help="place a version's files in a directory and print its path")
    q.add_argument("ref", help="name, name:v3 or name:alias")
    q.add_argument("--dest", help="a new or empty directory (default: the store's cache)")
    q.add_argument("--run", help="record this run id as a user of the version")
    q.set_defaults(handler=cmd_get)

    q = verbs.add_parser("alias", help="point an alias at a version (or remove it with --delete)")
    q.add_argument("ref", help="the version, e.g. classifier:v3 (with --delete: the artifact name)")
    q.add_argument("alias", help="e.g. production, best")
    q.add_argument("--delete", action="store_true", help="remove the alias instead")
    q.set_defaults(handler=cmd_alias)

    q = verbs.add_parser("rm", help="delete a version (name:v3, name:alias) or a whole artifact (name)")
    q.add_argument("ref")
    q.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="do not ask; needed to delete a whole artifact when not in a terminal",
    )
    q.add_argument("--gc", action="store_true", help="then remove the blobs nothing else references")
    q.set_defaults(handler=cmd_rm)

    q = verbs.add_parser("add", help="log a file or directory as a new version")
    _add_log_arguments(q, default_type="artifact")
    q.set_defaults(handler=cmd_add)

    from workbench.cli.fsck import add_arguments, cmd_artifacts_fsck

    q = verbs.add_parser("fsck", help="re-hash every blob, read every manifest and alias file (exit 1 on any "
                         "problem); `workbench fsck` checks the whole store")
    add_arguments(q)
    q.set_defaults(handler=cmd_artifacts_fsck)

    p = sub.add_parser("datasets", help="datasets (CSV, JSON, JSONL, parquet), checked on the way in")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    q = verbs.add_parser("add", help="check a table (or a directory of them) and log it as a dataset")
    _add_log_arguments(q, default_type=None)
    q.add_argument("--require", help="comma-separated columns it must have, e.g. text,label")
    q.set_defaults(handler=cmd_add)
    q = verbs.add_parser("ls", help="list datasets with their rows and columns")
    q.add_argument("--json", action="store_true", help="JSON lines, one version each")
    q.set_defaults(handler=cmd_datasets_ls)
    q = verbs.add_parser("show", help="a dataset version: schema, rows and a preview")
    q.add_argument("ref")
    q.add_argument("--json", action="store_true")
    q.set_defaults(handler=cmd_datasets_show)

    p = sub.add_parser("gc", help="remove blobs that no artifact version references")
    p.add_argument("--dry-run", action="store_true", help="only report what would be removed")
    p.add_argument("--progress", choices=PROGRESS_CHOICES, default="auto",
                   help="a progress line on stderr: auto (when stderr is a terminal), always, never")
    p.set_defaults(handler=cmd_gc)
    p = sub.add_parser("du", help="logical size of all versions, size on disk, and dedup savings")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_du)


def _add_log_arguments(q: argparse.ArgumentParser, default_type: str | None) -> None:
    q.add_argument("path", help="a file or directory")
    q.add_argument("--name", required=True, help="artifact name (letters, digits, '.', '_', '-')")
    if default_type is not None:
        q.add_argument(
            "--type", default=default_type, help=f"model, checkpoint, ... (default {default_type})"
        )
    q.add_argument("--alias", action="append", default=[], help="an alias for the new version (repeatable)")
    q.add_argument("--metadata", help="a JSON object stored with the version")
    q.add_argument("--run", help="the run id that produced it")


def _store(args: argparse.Namespace) -> Any:
    from workbench.store.artifacts import open_artifacts

    return open_artifacts(args.root)


def _when(value: float) -> str:
    return dt.datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _row(a: Any) -> dict[str, Any]:
    return {
        "ref": a.ref,
        "name": a.name,
        "version": a.version,
        "type": a.type,
        "aliases": list(a.aliases),
        "size": a.size,
        "files": len(a.files),
        "created": a.created,
        "producer": a.producer,
        "digest": a.digest,
    }


def cmd_ls(args: argparse.Namespace) -> int:
    store = _store(args)
    if args.name is not None:
        versions = store.find(args.name, args.type)
        if args.json:
            for a in versions:
                echo(dumps(_row(a)))
            return 0
        table(
            [
                [
                    a.ref,
                    a.type,
                    ",".join(a.aliases),
                    human_bytes(a.size),
                    str(len(a.files)),
                    _when(a.created),
                    a.producer or "-",
                ]
                for a in versions
            ],
            ["REF", "TYPE", "ALIASES", "SIZE", "FILES", "CREATED", "RUN"],
        )
        return 0
    rows = []
    for name in store.names():
        versions = [a for a in store.versions(name) if args.type is None or a.type == args.type]
        if not versions:
            continue
        newest = versions[-1]
        if args.json:
            echo(dumps({**_row(newest), "versions": len(versions)}))
            continue
        aliases = sorted({f"{al}:v{a.version}" for a in versions for al in a.aliases if al != "latest"})
        rows.append(
            [
                name,
                newest.type,
                str(len(versions)),
                f"v{newest.version}",
                human_bytes(newest.size),
                ",".join(aliases),
                _when(newest.created),
            ]
        )
    if not args.json:
        table(rows, ["NAME", "TYPE", "VERSIONS", "LATEST", "SIZE", "ALIASES", "UPDATED"])
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    store = _store(args)
    art = store.get(args.ref)
    users = store.used_by(art.ref)
    if args.json:
        manifest = store.manifest(art.ref)
        manifest["aliases"] = list(art.aliases)
        manifest["used_by"] = users
        echo(dumps(manifest, indent=1))
        return 0
    v = visible  # every stored value below goes through it
    lines = [
        f"artifact {v(art.ref)}  ({v(art.type)})",
        f"aliases  {', '.join(v(alias) for alias in art.aliases) or '-'}",
        f"created  {_when(art.created)}",
        f"size     {human_bytes(art.size)} in {len(art.files)} file(s)",
        f"digest   {v(art.digest)}",
        f"made by  {v(art.producer or '-')}",
        f"used by  {', '.join(v(u['run']) for u in users) or '-'}",
    ]
    meta = {k: value for k, value in art.metadata.items() if k != "dataset"}
    if meta:
        lines.append("metadata")
        lines += [f"  {v(k)} = {dumps(value)}" for k, value in sorted(meta.items())]
    lines.append("files")
    for f in art.files[:50]:
        stored = f"{f.chunks} chunks" if f.chunks else "whole"
        lines.append(f"  {v(f.path):<40} {human_bytes(f.size):>10}  {v(f.digest[:12])}  {stored}")
    if len(art.files) > 50:
        lines.append(f"  ... and {len(art.files) - 50} more (--json lists all)")
    echo("\n".join(lines))
    if "dataset" in art.metadata:
        _print_dataset(art.metadata["dataset"])
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    echo(visible(_store(args).use(args.ref, args.dest, run_id=args.run)))
    return 0


def cmd_alias(args: argparse.Namespace) -> int:
    store = _store(args)
    if args.delete:
        name = args.ref.partition(":")[0]
        store.remove_alias(name, args.alias)
        echo(f"removed alias {args.alias!r} of {visible(name)}")
        return 0
    art = store.set_alias(args.ref, args.alias)
    echo(f"{visible(art.name)}:{visible(args.alias)} -> {visible(art.ref)}")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    store = _store(args)
    whole = ":" not in args.ref
    if whole and not args.yes:
        count = len(store.versions(args.ref)) if args.ref in store.names() else 0
        if not confirm(f"delete artifact {args.ref!r} and all {count} of its versions?"):
            echo(
                f"not deleted: pass --yes to delete every version of {args.ref!r} "
                f"(or name one version, e.g. {visible(args.ref)}:v1)",
                err=True,
            )
            return 1
    deleted = store.delete(args.ref)
    echo(f"deleted {', '.join(visible(ref) for ref in deleted)}")
    from workbench.errors import ArtifactError

    try:
        report = store.gc(dry_run=True)
    except ArtifactError as exc:  # a damaged manifest elsewhere: blobs stay, and the user is told why
        echo(f"workbench: warning: no blobs collected: {exc}", err=True)
        return 0
    if not report.blobs:
        return 0
    if args.gc or confirm(
        f"remove {report.blobs} blob(s) no version references now ({human_bytes(report.bytes)})?"
    ):
        _print_gc(store.gc())
    else:
        echo(
            f"{report.blobs} blob(s), {human_bytes(report.bytes)}, are no longer referenced: "
            "run `workbench gc` to free them"
        )
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    metadata = None
    if args.metadata:
        try:
            metadata = json.loads(args.metadata)
        except ValueError as exc:
            from workbench.errors import ArtifactError

            raise ArtifactError(f"--metadata is not valid JSON: {exc}") from None
    kind = getattr(args, "type", None) or "dataset"
    required = [c.strip() for c in (getattr(args, "require", None) or "").split(",") if c.strip()] or None
    art = _store(args).log(
        args.path, args.name, kind, aliases=args.alias, metadata=metadata, run_id=args.run, required=required
    )
    echo(
        f"{visible(art.ref)}  {human_bytes(art.size)} in {len(art.files)} file(s)"
        f"{'  aliases ' + ','.join(visible(alias) for alias in art.aliases) if art.aliases else ''}"
    )
    if kind == "dataset":
        info = art.metadata["dataset"]
        echo(f"{info['rows']:,} rows, columns: {', '.join(visible(c) for c in info['columns'])}")
    return 0


def cmd_datasets_ls(args: argparse.Namespace) -> int:
    store = _store(args)
    rows = []
    for name in store.names():
        versions = store.find(name, "dataset")
        if not versions:
            continue
        newest = versions[-1]
        info = newest.metadata.get("dataset", {})
        if args.json:
            echo(
                dumps(
                    {
                        **_row(newest),
                        "versions": len(versions),
                        "rows": info.get("rows"),
                        "columns": info.get("columns"),
                    }
                )
            )
            continue
        rows.append(
            [
                name,
                f"v{newest.version}",
                str(len(versions)),
                info.get("format", "-"),
                f"{info.get('rows', 0):,}",
                visible(", ".join(str(c) for c in info.get("columns", []))[:60]),
                human_bytes(newest.size),
            ]
        )
    if not args.json:
        table(rows, ["NAME", "LATEST", "VERSIONS", "FORMAT", "ROWS", "COLUMNS", "SIZE"])
    return 0


def _print_dataset(info: dict[str, Any]) -> None:
    v = visible  # a dataset's column names and cells come from the file that was logged
    echo(f"dataset  {v(info.get('format'))}  {info.get('rows', 0):,} rows")
    echo("schema")
    for column, kind in (info.get("schema") or {}).items():
        echo(f"  {v(column):<30} {v(kind)}")
    for rel, part in (info.get("tables") or {}).items():
        echo(f"table    {v(rel)}: {part.get('rows', 0):,} rows, {', '.join(v(c) for c in part.get('columns', []))}")
    preview = info.get("preview") or []
    if preview:
        echo("preview")
        columns = list(info.get("columns") or preview[0])
        table([[v(str(row.get(c, ""))[:40]) for c in columns] for row in preview], columns)


def cmd_datasets_show(args: argparse.Namespace) -> int:
    art = _store(args).get(args.ref)
    info = art.metadata.get("dataset")
    if art.type != "dataset" or info is None:
        from workbench.errors import ArtifactError

        raise ArtifactError(
            f"{art.ref} is a {art.type}, not a dataset; use `workbench artifacts show {art.ref}`"
        )
    if args.json:
        echo(dumps({"ref": art.ref, **info}, indent=1))
        return 0
    echo(f"dataset  {visible(art.ref)}  aliases {', '.join(visible(a) for a in art.aliases) or '-'}  "
         f"made by {visible(art.producer or '-')}")
    _print_dataset(info)
    return 0


def _print_gc(report: Any) -> None:
    verb = "would remove" if report.dry_run else "removed"
    echo(
        f"{verb} {report.blobs} blob(s), {human_bytes(report.bytes)}; kept {report.kept}"
        + (f"; {report.temp_files} stale temp file(s)" if report.temp_files else "")
        + (f"; {report.cache_dirs} cached placement(s) of deleted versions" if report.cache_dirs else "")
    )


def cmd_gc(args: argparse.Namespace) -> int:
    with progress(args.progress):
        report = _store(args).gc(dry_run=args.dry_run)
    _print_gc(report)
    return 0


def cmd_du(args: argparse.Namespace) -> int:
    report = _store(args).du()
    if args.json:
        data = {
            k: getattr(report, k)
            for k in (
                "artifacts",
                "versions",
                "files",
                "logical",
                "unique",
                "blobs_on_disk",
                "manifests_on_disk",
                "cache_on_disk",
            )
        }
        data.update(on_disk=report.on_disk, saved=report.saved, per_artifact=report.per_artifact)
        echo(dumps(data, indent=1))
        return 0
    ratio = report.logical / report.on_disk if report.on_disk else 1.0
    echo(f"{report.artifacts} artifact(s), {report.versions} version(s), {report.files} file(s)")
    echo(f"logical size    {human_bytes(report.logical):>12}   every version's files at full size")
    echo(f"unique content  {human_bytes(report.unique):>12}   distinct blobs referenced")
    echo(f"on disk         {human_bytes(report.on_disk):>12}   blobs and manifests, each inode once")
    echo(f"saved by dedup  {human_bytes(report.saved):>12}   ({ratio:.1f}x)")
    if report.cache_on_disk:
        echo(
            f"placed copies   {human_bytes(report.cache_on_disk):>12}   under cache/ (not shared with blobs)"
        )
    return 0
