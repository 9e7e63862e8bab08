"""``workbench launch``, ``workbench jobs ls|show|cancel|logs|recipes`` and ``workbench scheduler``."""

from __future__ import annotations

import argparse
import codecs
import sys
import time
from typing import Any

from workbench.cli._terminal import dumps, echo, table, visible

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "launch",
        help="queue a job (a fine-tune or any command) and start a scheduler",
        description="Queue a job. For the script recipe, put the command after --: "
        "workbench launch script -- python train.py --lr 3e-4",
    )
    p.add_argument("recipe", help="text-classification, causal-lm, script, ... (workbench jobs recipes)")
    p.add_argument("command", nargs="*", help="after --: the command of a script job")
    _split_at_double_dash(p)
    p.add_argument("--dataset", help="a table file or directory, or a dataset artifact ref (reviews:latest)")
    p.add_argument("--base-model", help="a model directory, a model artifact ref or a hub id")
    p.add_argument(
        "--set",
        dest="values",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config value, e.g. --set lora=true --set epochs=1 (repeat it)",
    )
    p.add_argument("--priority", type=int, default=0, help="higher runs first (default 0)")
    p.add_argument(
        "--retries", type=int, default=0, help="times to queue it again after a failure (default 0)"
    )
    p.add_argument("--name", help="the run's name")
    p.add_argument("--project", help="the run's project")
    p.add_argument("--tag", dest="tags", action="append", help="a tag (repeat it)")
    p.add_argument("--executor", default="local", help="where it runs (default local)")
    p.add_argument("--wait", action="store_true", help="wait for the job to end; exit 1 unless it completed")
    p.set_defaults(handler=cmd_launch)

    jobs = sub.add_parser("jobs", help="list, inspect and cancel jobs")
    jsub = jobs.add_subparsers(dest="jobs_command", metavar="COMMAND")
    jobs.set_defaults(handler=lambda args: (jobs.print_help(), 2)[1])

    p = jsub.add_parser("ls", help="list jobs, newest first")
    p.add_argument("--status", help="only jobs with this status")
    p.add_argument("--limit", type=int, default=None, help="at most this many")
    p.add_argument("--json", action="store_true", help="JSON lines, one job each")
    p.set_defaults(handler=cmd_ls)

    p = jsub.add_parser("show", help="one job: spec, status, progress, error")
    p.add_argument("job", help="job (run) id or unique prefix")
    p.add_argument("--json", action="store_true", help="the raw run record")
    p.set_defaults(handler=cmd_show)

    p = jsub.add_parser(
        "cancel", help="cancel jobs: queued ones at once, running ones by SIGTERM, then SIGKILL"
    )
    p.add_argument("jobs", nargs="+", help="job ids or unique prefixes")
    p.add_argument("--no-wait", action="store_true", help="do not wait for running jobs to end")
    p.set_defaults(handler=cmd_cancel)

    p = jsub.add_parser(
        "logs",
        help="a job's output, as the job wrote it",
        description="Print a job's output as the job wrote it: unlike every other command, which shows "
        "control characters and escape sequences of stored text escaped (\\x1b), this passes the job's "
        "own bytes to the terminal, colours and progress bars included. Pipe it through `cat -v` "
        "(or `less`) to see a log you do not trust.",
    )
    p.add_argument("job", help="job id or unique prefix")
    stream = p.add_mutually_exclusive_group()
    stream.add_argument("--stdout", dest="stream", action="store_const", const="stdout", help="stdout only")
    stream.add_argument("--stderr", dest="stream", action="store_const", const="stderr", help="stderr only")
    p.add_argument("--tail", type=int, default=None, help="the last N lines")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing until the job ends")
    p.set_defaults(handler=cmd_logs, stream="both")

    p = jsub.add_parser("recipes", help="the installed recipes, or one recipe's config keys")
    p.add_argument("name", nargs="?", help="a recipe to describe")
    p.set_defaults(handler=cmd_recipes)

    p = sub.add_parser("scheduler", help="run the job scheduler of the store in the foreground")
    p.add_argument("--slots", type=int, help="jobs at once (default: the job_slots setting)")
    p.add_argument(
        "--idle-exit", type=float, default=0.0, help="exit after this many idle seconds (default: never)"
    )
    p.add_argument("--stop", action="store_true", help="stop the running scheduler instead")
    p.set_defaults(handler=cmd_scheduler)


def _split_at_double_dash(parser: argparse.ArgumentParser) -> None:
    """Everything after ``--`` is the command, wherever the options stand.

    argparse fills a ``*`` positional at its first chance (empty, right after the recipe), so
    ``launch script --priority 3 -- python train.py`` would leave the command unparsed.
    """
    parse = parser.parse_known_args

    def parse_known_args(args: Any = None, namespace: Any = None) -> Any:
        words = list(sys.argv[1:] if args is None else args)
        rest: list[str] | None = None
        if "--" in words:
            at = words.index("--")
            words, rest = words[:at], words[at + 1 :]
        parsed, extras = parse(words, namespace)
        if rest is not None:
            parsed.command = [*(parsed.command or []), *rest]
        return parsed, extras

    parser.parse_known_args = parse_known_args  # type: ignore[method-assign]


def _settings(args: argparse.Namespace) -> Any:
    from workbench.settings import load_settings

    return load_settings(args.root)


def _config(recipe: str, values: list[str], command: list[str]) -> dict[str, Any]:
    from workbench.errors import JobError
    from workbench.jobs.registry import get_recipe

    fields = {f.name: f for f in get_recipe(recipe).fields}
    config: dict[str, Any] = {}
    for item in values:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise JobError(f"--set {item!r}: write KEY=VALUE, e.g. --set epochs=2")
        config[key] = fields[key].parse(text) if key in fields else text  # unknown keys: refused by launch
    if command:
        if "command" not in fields:
            raise JobError(
                f"recipe {recipe!r} takes no command; only script jobs do (workbench launch script -- ...)"
            )
        config["command"] = command
    return config


def cmd_launch(args: argparse.Namespace) -> int:
    from workbench.jobs import launch

    config = _config(args.recipe, args.values, args.command)
    job = launch(
        args.recipe,
        config,
        dataset=args.dataset,
        base_model=args.base_model,
        priority=args.priority,
        executor=args.executor,
        name=args.name,
        project=args.project,
        retries=args.retries,
        tags=args.tags,
        root=args.root,
    )
    record = job.record
    spec = record["job"]
    echo(
        f"queued {job.run_id} ({visible(args.recipe)}, priority {visible(spec['priority'])}"
        f"{', dataset ' + visible(spec['dataset']['ref']) if spec.get('dataset') else ''})"
    )
    if not args.wait:
        echo(f"follow it: workbench jobs logs {job.run_id} -f")
        return 0
    status = job.wait()
    echo(f"{job.run_id} {visible(status)}")
    error = job.error
    if error and status != "completed":
        echo(f"error: {visible(error.get('message'))}", err=True)
    return 0 if status == "completed" else 1


def _when(value: Any) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def cmd_ls(args: argparse.Namespace) -> int:
    from workbench.jobs import list_jobs
    from workbench.jobs._paths import JobPaths
    from workbench.jobs.daemon import scheduler_info
    from workbench.jobs.job import _view_status, job_progress

    settings = _settings(args)
    rows = []
    for job in list_jobs(settings.root, status=args.status):
        record = job.record
        spec = record["job"]
        progress = job_progress(record)
        rows.append(
            {
                "run_id": job.run_id,
                "recipe": spec.get("recipe"),
                "status": _view_status(record, settings),
                "priority": spec.get("priority", 0),
                "progress": progress,
                "attempts": spec.get("attempts", 0),
                "created": record.get("created"),
                "name": record.get("name"),
            }
        )
        if args.limit is not None and len(rows) >= args.limit:
            break
    if args.json:
        for row in rows:
            echo(dumps(row))
        return 0
    info = scheduler_info(JobPaths(settings.root))
    echo(
        f"scheduler: pid {visible(info.get('pid'))}, {visible(info.get('slots'))} slot(s)"
        if info is not None
        else "scheduler: not running (launch starts one; or run `workbench scheduler`)"
    )
    table(
        [
            [
                row["run_id"],
                visible(str(row["recipe"])[:20]),
                row["status"],
                row["priority"],
                "" if not isinstance(row["progress"], (int, float)) else f"{row['progress']:.0%}",
                _when(row["created"]),
                row["name"],
            ]
            for row in rows
        ],
        ["run_id", "recipe", "status", "prio", "progress", "created", "name"],
        empty="(no jobs)",
    )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from workbench.jobs import Job
    from workbench.jobs.job import _view_status, job_progress

    job = Job(args.job, root=args.root)
    record = job.record
    if args.json:
        echo(dumps(record, indent=1))
        return 0
    spec = record["job"]
    progress = job_progress(record)
    v = visible  # every stored value below goes through it
    lines = [
        f"job       {job.run_id}  {v(record.get('project'))}/{v(record.get('name'))}",
        f"recipe    {v(spec.get('recipe'))}   executor {v(spec.get('executor'))}   priority "
        f"{v(spec.get('priority'))}   attempts {v(spec.get('attempts', 0))} (retries {v(spec.get('retries', 0))})",
        f"status    {v(_view_status(record, job._settings))}"
        + (
            f"   progress {progress:.0%} of {v(spec.get('planned_steps'))} steps" if progress is not None else ""
        ),
        f"created   {_when(record.get('created'))}   started {_when(record.get('started'))}   "
        f"ended {_when(record.get('ended'))}",
    ]
    if spec.get("dataset"):
        lines.append(
            f"dataset   {v(spec['dataset']['ref'])}  ({v(spec['dataset'].get('rows'))} rows; given "
            f"{v(spec['dataset'].get('given'))})"
        )
    if spec.get("base_model"):
        base = spec["base_model"]
        lines.append(
            f"base      {v(base.get('path') or base.get('ref') or base.get('id'))} ({v(base.get('kind'))})"
        )
    process = spec.get("process") or {}
    if process:
        argv = " ".join(v(word) for word in process.get("argv") or [])
        lines.append(f"process   pid {v(process.get('pid'))} on {v(process.get('host'))}: {argv}"[:300])
    exit_info = spec.get("exit") or {}
    if exit_info:
        lines.append(
            f"exit      code {v(exit_info.get('code'))}"
            + (f" ({v(exit_info['signal'])})" if exit_info.get("signal") else "")
        )
    config = record.get("config") or {}
    if config:
        lines.append(
            "config    " + ", ".join(f"{v(k)}={dumps(value)}" for k, value in sorted(config.items()))[:2000]
        )
    summary = {k: v for k, v in (record.get("summary") or {}).items() if not k.startswith("sys/")}
    if summary:
        lines.append(
            "summary   "
            + ", ".join(
                f"{v(k)}={value:.6g}" if isinstance(value, float) else f"{v(k)}={v(value)}"
                for k, value in sorted(summary.items())
            )
        )
    error = record.get("error")
    if error:
        lines.append(f"error     {v(error.get('type'))}: {v(error.get('message'))}")
        if error.get("exit"):
            lines.append(f"          {v(error['exit'])}")
        if error.get("stderr"):
            lines.append("stderr (tail; `workbench jobs logs` prints it as the job wrote it)")
            lines += ["  " + v(line) for line in str(error["stderr"]).splitlines()[-20:]]
    echo("\n".join(lines))
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from workbench.jobs import Job

    for ident in args.jobs:
        job = Job(ident, root=args.root)
        echo(f"{job.run_id} {visible(job.cancel(wait=not args.no_wait))}")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    from workbench.jobs import Job
    from workbench.store.records import TERMINAL

    job = Job(args.job, root=args.root)
    # the job's own output, raw on purpose (see the command's help): the one print not through echo()
    if not args.follow:
        sys.stdout.write(job.logs(args.stream, tail=args.tail))
        return 0
    names = ("stdout", "stderr") if args.stream == "both" else (args.stream,)
    logs = job._layout.logs_dir(job.run_id)
    offsets = dict.fromkeys(names, 0)
    # a character whose bytes arrive in two reads is decoded whole, not as two replacement marks
    decoders = {name: codecs.getincrementaldecoder("utf-8")(errors="replace") for name in names}
    if args.tail is not None:
        text = job.logs(args.stream, tail=args.tail)
        sys.stdout.write(text)
        for name in names:
            path = logs / f"{name}.log"
            offsets[name] = path.stat().st_size if path.exists() else 0
    while True:
        done = job.status in TERMINAL
        for name in names:
            path = logs / f"{name}.log"
            try:
                with open(path, "rb") as handle:
                    handle.seek(offsets[name])
                    data = handle.read()
            except FileNotFoundError:
                continue
            if data:
                offsets[name] += len(data)
                (sys.stdout if name == "stdout" else sys.stderr).write(decoders[name].decode(data, final=done))
                (sys.stdout if name == "stdout" else sys.stderr).flush()
        if done:
            return 0
        time.sleep(0.25)


def cmd_recipes(args: argparse.Namespace) -> int:
    from workbench.jobs.registry import get_recipe, recipe_names

    if args.name:
        recipe = get_recipe(args.name)
        echo(f"{recipe.name}: {recipe.description}")
        if recipe.columns is not None:
            defaults = {f.name: f.default for f in recipe.fields}
            columns = " or ".join("(" + ", ".join(c) + ")" for c in recipe.columns(defaults))
            echo(f"dataset: columns {columns}{' (required)' if recipe.dataset_required else ''}")
        if recipe.base_model != "none":
            default = recipe.default_base_model() if recipe.default_base_model else None
            echo(f"base model: {recipe.base_model}" + (f" (default {default})" if default else ""))
        echo("config:")
        for field in recipe.fields:
            echo(f"  {field.describe()}")
        return 0
    for name in recipe_names():
        try:
            echo(f"{visible(name):<22} {get_recipe(name).description}")
        except Exception as exc:  # noqa: BLE001 - a broken plug-in must not hide the others
            echo(f"{visible(name):<22} (cannot load: {exc})")
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    from workbench.jobs.daemon import stop_scheduler
    from workbench.jobs.scheduler import Scheduler

    settings = _settings(args)
    if args.stop:
        stopped = stop_scheduler(settings)
        echo("scheduler stopped" if stopped else "no scheduler was running")
        return 0
    return Scheduler(settings, slots=args.slots, idle_exit=args.idle_exit).run()
