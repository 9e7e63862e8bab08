"""``workbench fsck [--repair]``: check the whole store; ``workbench artifacts fsck``: only artifacts.

Exit status 0 when nothing was found, 1 on any finding, repaired or not: ``--repair`` that
quarantined a blob exits 1, and so does every later ``fsck`` while a version lacks a blob that was
quarantined (that loss is a finding until the version is restored or deleted). Each finding is
printed on stderr with what to do about it.
"""

from __future__ import annotations

import argparse
from typing import Any

from workbench._units import human_bytes
from workbench.cli._terminal import PROGRESS_CHOICES, dumps, echo, progress, visible

__all__ = ["cmd_artifacts_fsck", "cmd_fsck", "register"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "fsck",
        help="check every file of the store (records, segments, catalog, artifacts, every blob); exit 1 on "
        "any problem",
    )
    add_arguments(p)
    p.set_defaults(handler=cmd_fsck)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--repair", action="store_true",
                   help="move corrupt blobs into <root>/quarantine/ (naming the versions that lost files) and "
                   "rebuild a damaged catalog; nothing is deleted")
    p.add_argument("--json", action="store_true", help="the findings as one JSON object")
    p.add_argument("--progress", choices=PROGRESS_CHOICES, default="auto",
                   help="a progress line on stderr: auto (when stderr is a terminal), always, never")


def _print(result: Any, as_json: bool) -> int:
    if as_json:
        echo(dumps(result.as_dict(), indent=1))
        return 0 if result.ok else 1
    checked = result.checked
    parts = [f"{checked[k]} {k}" for k in ("run records", "job records", "metric segments", "manifests")
             if k in checked]
    parts.append(f"{checked.get('blobs', 0)} blobs ({human_bytes(checked.get('blob_bytes', 0))})")
    echo(f"checked {', '.join(parts)}; {result.unreferenced} blob(s) no version references (`workbench gc`)")
    for item in result.quarantined:
        if item.get("restored_from"):
            after = f"its bytes were restored from {visible(item['restored_from'])}: no version lost a file"
        else:
            after = f"versions that lost files: {'; '.join(visible(u) for u in item['lost']) or 'none'}"
        echo(f"quarantined corrupt blob {visible(item['digest'])} -> {visible(item['path'])}; {after}", err=True)
    if result.catalog_rebuilt is not None:
        echo(f"moved the damaged catalog to {visible(result.catalog_rebuilt)} and rebuilt it", err=True)
    for finding in result.findings:
        echo(f"{visible(finding.kind)}: {visible(finding.problem)}", err=True)
        echo(f"  fix: {visible(finding.fix)}", err=True)
    if result.ok:
        echo("ok")
        return 0
    if not result.findings:
        echo("repaired; nothing else to report", err=True)
        return 1
    counts: dict[str, int] = {}
    for finding in result.findings:
        counts[finding.kind] = counts.get(finding.kind, 0) + 1
    summary = ", ".join(f"{n} {kind}{'s' if n > 1 else ''}" for kind, n in counts.items())
    repair = any(f.kind in ("corrupt blob", "catalog") for f in result.findings)
    echo(f"{len(result.findings)} problem(s): {summary}"
         + ("; `workbench fsck --repair` quarantines corrupt blobs and rebuilds the catalog" if repair else ""),
         err=True)
    return 1


def cmd_fsck(args: argparse.Namespace) -> int:
    import workbench

    with progress(args.progress):
        result = workbench.fsck(repair=args.repair, root=args.root)
    return _print(result, args.json)


def cmd_artifacts_fsck(args: argparse.Namespace) -> int:
    from workbench.settings import load_settings
    from workbench.store.fsck import check_artifacts_only

    with progress(args.progress):
        result = check_artifacts_only(load_settings(args.root), repair=args.repair)
    return _print(result, args.json)
