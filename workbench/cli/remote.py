"""``workbench remote add|ls|rm|test`` and ``workbench sync NAME``."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._terminal import echo, visible

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("remote", help="SSH remotes whose runs `workbench sync` copies here")
    rsub = p.add_subparsers(dest="remote_command", metavar="ACTION", required=True)

    a = rsub.add_parser("add", help="add a remote, or replace one of the same name")
    a.add_argument("name")
    a.add_argument("--host", required=True)
    a.add_argument("--port", type=int, default=22)
    a.add_argument("--user", help="login name (default: the local one)")
    a.add_argument("--key", help="private key file (default: ssh agent and ~/.ssh keys)")
    a.add_argument("--root", dest="remote_root", required=True, help="absolute path of the store on the remote")
    a.add_argument("--python", required=True, help="absolute path of Python on the remote")
    a.add_argument("--timeout", type=float, default=10.0, help="seconds for connect, commands, transfers")
    trust = a.add_mutually_exclusive_group()
    trust.add_argument("--trust-new-host", action="store_true",
                       help="connect now and record the host's key if it is unknown (trust on first use)")
    trust.add_argument("--fingerprint", metavar="SHA256:...",
                       help="pin the host's key: the fingerprint `ssh-keygen -lf` prints for it on the host; "
                            "the first connection records the key only if it matches")
    a.add_argument("--init", action="store_true",
                   help="connect now and create the remote root and a store layout there (runs/) if they "
                        "are missing: for a host used only for jobs")
    a.set_defaults(handler=cmd_add)

    ls = rsub.add_parser("ls", help="list the remotes")
    ls.set_defaults(handler=cmd_ls)

    rm = rsub.add_parser("rm", help="remove a remote (its synced runs stay)")
    rm.add_argument("name")
    rm.set_defaults(handler=cmd_rm)

    t = rsub.add_parser("test", help="connect, check the remote root and Python, report the round-trip time")
    t.add_argument("name")
    trust = t.add_mutually_exclusive_group()
    trust.add_argument("--trust-new-host", action="store_true", help="record the host's key if it is unknown")
    trust.add_argument("--fingerprint", metavar="SHA256:...",
                       help="record the host's key if it is unknown and has this fingerprint "
                            "(what `ssh-keygen -lf` prints for it on the host)")
    t.set_defaults(handler=cmd_test)

    s = sub.add_parser("sync", help="copy the runs that changed on a remote into this store",
                       description="Copy the runs that changed on a remote into this store. Runs that an "
                                   "ssh:NAME job here follows are skipped (the job keeps them current).",
                       epilog="exit status: 0 ok (nothing refused), 1 some runs or artifacts refused "
                              "(each named on stderr; the others were placed), 2 could not sync (the "
                              "error line on stderr says why)")
    s.add_argument("name")
    s.add_argument("--progress", choices=("auto", "always", "never"), default=None)
    s.set_defaults(handler=cmd_sync)

    f = sub.add_parser("fetch", help="fetch a synced remote's artifact version (its missing blobs) and place it")
    f.add_argument("ref", help="REMOTE:name:v3 or REMOTE:name:alias, e.g. gpu1:classifier:latest")
    f.add_argument("--dest", help="a new or empty directory (default: the store's cache)")
    f.add_argument("--progress", choices=("auto", "always", "never"), default=None)
    f.set_defaults(handler=cmd_fetch)


def _settings(args: argparse.Namespace) -> Any:
    from workbench.settings import load_settings

    return load_settings(args.root)


def _test(settings: Any, name: str, trust_new_host: bool, fingerprint: str | None = None) -> int:
    """Run the protocol end to end (``workbench/remote/_diagnose.py``): 0 when every check passed
    (tolerated banners are noted), 1 when a problem was found (each line names it and the fix); a
    remote that cannot be reached is one error line, exit status 1."""
    from workbench.remote import get_remote, known_hosts_path
    from workbench.remote._connection import connect
    from workbench.remote._diagnose import diagnose

    remote = get_remote(settings, name)
    with connect(remote, known_hosts_path(settings.root), trust_new_host=trust_new_host,
                 fingerprint=fingerprint) as conn:
        found = diagnose(conn)
    if not found.problems:
        echo(f"{visible(name)}: ok, Python {visible(found.python_version or '?')} at {visible(remote.python)}, "
             f"store {visible(remote.root)}, round trip {found.rtt * 1000:.1f} ms")
    else:
        count = len(found.problems)
        echo(f"{visible(name)}: {count} problem{'s' if count > 1 else ''} (round trip {found.rtt * 1000:.1f} ms)")
    for line in found.passed:
        echo(f"  ok: {visible(line)}")
    for line in found.problems:
        echo(f"  problem: {visible(line)}")
    for line in found.notes:
        echo(f"  note: {visible(line)}")
    return 1 if found.problems else 0


def cmd_add(args: argparse.Namespace) -> int:
    from workbench.remote import Remote, add_remote
    from workbench.settings import load_settings

    settings = _settings(args)
    if args.fingerprint is not None:
        from workbench.remote._hostkeys import parse_fingerprint

        parse_fingerprint(args.fingerprint, "--fingerprint")
    remote = Remote(name=args.name, host=args.host, port=args.port, user=args.user, key=args.key,
                    root=args.remote_root, python=args.python, timeout=args.timeout,
                    fingerprint=args.fingerprint)
    if args.trust_new_host or args.init:  # check before writing: a remote that cannot be reached is not added
        from workbench.remote import known_hosts_path
        from workbench.remote._config import prepare_root, validate_remote
        from workbench.remote._connection import check, connect

        validate_remote(remote)  # before its host goes into known_hosts
        with connect(remote, known_hosts_path(settings.root), trust_new_host=args.trust_new_host,
                     fingerprint=args.fingerprint) as conn:
            created = prepare_root(conn, init=args.init)
            check(conn)
        if created:
            echo(f"created the store {visible(remote.root)} on {visible(remote.host)}")
    add_remote(settings.root, remote)
    load_settings(settings.root)  # the file must still load
    echo(f"added remote {args.name!r} ({visible(remote.host)}:{remote.port})")
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    from workbench.remote import list_remotes

    for r in list_remotes(_settings(args)):
        user = f"{visible(r.user)}@" if r.user else ""
        echo(f"{visible(r.name)}\t{user}{visible(r.host)}:{visible(r.port)}\t{visible(r.root)}\t{visible(r.python)}")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    from workbench.remote import remove_remote

    remove_remote(_settings(args).root, args.name)
    echo(f"removed remote {args.name!r}")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    return _test(_settings(args), args.name, args.trust_new_host, args.fingerprint)


#: ``workbench sync``'s exit codes (docs/remote.md, "Sync")
SYNC_OK, SYNC_REFUSED, SYNC_FAILED = 0, 1, 2


def cmd_sync(args: argparse.Namespace) -> int:
    from workbench.remote import sync_remote

    try:
        result = sync_remote(_settings(args), args.name, progress=args.progress)
    except Exception as exc:  # could not sync at all: one line, exit 2 (1 means "some runs refused")
        import sys

        from workbench.cli._errors import debug_requested, describe
        from workbench.settings import default_root

        if debug_requested(sys.argv[1:])[1]:
            raise
        echo(f"workbench: error: {describe(exc, args.root or str(default_root()))}", err=True)
        return SYNC_FAILED
    echo(f"synced {len(result.runs)} runs from {args.name!r} ({result.files} files, {result.bytes} bytes) "
         f"in {result.seconds:.2f} s")
    if result.artifacts:
        echo(f"updated the manifests of {len(result.artifacts)} artifacts from {args.name!r}: "
             f"{', '.join(visible(name) for name in result.artifacts)} "
             f"(fetch one with `workbench fetch {args.name}:NAME:latest`)")
    for message in result.refused:
        echo(f"workbench: refused: {visible(message)}", err=True)
    return SYNC_REFUSED if result.refused else SYNC_OK


def cmd_fetch(args: argparse.Namespace) -> int:
    from workbench.remote._fetch import fetch_remote_artifact

    result = fetch_remote_artifact(_settings(args), args.ref, args.dest, progress=args.progress)
    echo(f"fetched {result.blobs} blobs of {visible(result.ref)} ({result.bytes} bytes, {result.present} already "
         f"here) in {result.seconds:.2f} s", err=True)
    echo(visible(result.path))
    return 0
