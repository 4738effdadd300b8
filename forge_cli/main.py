"""``forge``: the Forge console from a terminal or a CI job.

    forge login --url https://forge.example.org --token TOKEN
    forge jobs submit demo.count --project alpha --param steps=5 --wait
    forge runs create --corpus 3 --preset tiny --steps 20 --gpus-per-node 0 --wait
    forge runs pause 7; forge runs resume 7; forge runs metrics 7; forge runs tensorboard 7

Exit codes: 0 success; 1 an error (API, network, configuration), or a waited-for
job that failed or was cancelled; 2 a usage error, or `jobs wait` timing out.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from forge_cli.client import (
    JOB_STATES,
    VERSION,
    ForgeClient,
    ForgeError,
    Job,
    WaitTimeout,
    normalize_url,
)
from forge_cli.config import ENV_TOKEN, ENV_URL, ConfigError, config_path, load_config, save_config

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_TIMEOUT = 2


class CliError(Exception):
    """A user-facing error: printed on stderr, exit code 1."""


# ------------------------------------------------------------------ output helpers


def out(text: str = "") -> None:
    print(text, flush=True)


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def print_json(data: Any) -> None:
    out(json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Plain-text columns, left-aligned, two spaces apart."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [headers, *rows]:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines)


def fmt_time(value: datetime | None) -> str:
    if value is None:
        return "-"
    try:
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except (ValueError, OSError):
        return value.isoformat()


def shorten(text: str, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 3] + "..."


def fmt_progress(job: Job) -> str:
    text = f"{job.progress}%"
    return f"{text} {job.progress_message}" if job.progress_message else text


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# ------------------------------------------------------------------ argument types


def parse_param(text: str) -> tuple[str, Any]:
    """``key=value``; the value is JSON when it parses (5, 0.1, true, null, [1]), else a string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return key, value


def parse_params_json(text: str) -> dict[str, Any]:
    """A JSON object, or @path to a file holding one."""
    source = "--params-json"
    if text.startswith("@"):
        source = text[1:]
        try:
            text = Path(source).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise argparse.ArgumentTypeError(f"cannot read {source}: {exc.strerror}") from None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{source} must be a JSON object")
    return value


def parse_job_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a job id is a number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"a job id is a positive number, got {text!r}")
    return value


def parse_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("seconds cannot be negative")
    return value


def parse_states(text: str) -> str:
    states = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in states if s not in JOB_STATES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown state {', '.join(unknown)} (states: {', '.join(JOB_STATES)})"
        )
    return ",".join(states)


# ------------------------------------------------------------------ commands


def connect() -> ForgeClient:
    config = load_config()
    return ForgeClient(config.url, config.token)


def cmd_login(args: argparse.Namespace) -> int:
    url = normalize_url(args.url or os.environ.get(ENV_URL, ""))
    if not url:
        raise CliError("Give the console's URL: forge login --url https://forge.example.org")
    token = args.token if args.token is not None else os.environ.get(ENV_TOKEN) or None
    if token is None or token == "-":
        if token is None and sys.stdin.isatty():
            token = getpass.getpass("API token (from the console's Tokens page): ")
        else:
            token = sys.stdin.readline()
    token = (token or "").strip()
    if not token:
        raise CliError("No API token given: forge login --url URL --token TOKEN")
    with ForgeClient(url, token) as client:
        me = client.me()
    try:
        path = save_config(url, token, username=me.username)
    except OSError as exc:
        raise CliError(f"Cannot save the login to {config_path()}: {exc}") from None
    roles = ", ".join(me.roles) or "no roles"
    out(f"Logged in to {url} as {me.username} ({roles}).")
    out(f"Saved to {path}.")
    overriding = [name for name in (ENV_URL, ENV_TOKEN) if os.environ.get(name, "").strip()]
    if overriding:
        err(f"Note: {' and '.join(overriding)} set in the environment override the saved login.")
    return EXIT_OK


def cmd_whoami(args: argparse.Namespace) -> int:
    config = load_config()
    with ForgeClient(config.url, config.token) as client:
        me = client.me()
    if args.json:
        print_json(me.raw)
        return EXIT_OK
    sources = sorted({config.url_source, config.token_source})
    out(f"{me.username} at {normalize_url(config.url)}")
    out(f"roles:       {', '.join(me.roles) or '-'}")
    out(f"permissions: {', '.join(me.permissions) or '-'}")
    out(f"config:      {', '.join(sources)}")
    return EXIT_OK


def cmd_projects_list(args: argparse.Namespace) -> int:
    with connect() as client:
        projects = client.projects()
    if args.json:
        print_json([p.raw for p in projects])
        return EXIT_OK
    if not projects:
        out("No projects (you are not a member of any).")
        return EXIT_OK
    rows = [[p.slug, p.name, shorten(p.description, 60)] for p in projects]
    out(table(["SLUG", "NAME", "DESCRIPTION"], rows))
    return EXIT_OK


def cmd_jobs_kinds(args: argparse.Namespace) -> int:
    with connect() as client:
        kinds = client.job_kinds()
    if args.json:
        print_json([k.raw for k in kinds])
        return EXIT_OK
    rows = []
    for kind in kinds:
        params = ", ".join(
            f"{f.name}:{f.type}" + ("" if f.required else f"={compact(f.default)}")
            for f in kind.fields
        )
        flags = [
            flag
            for flag, on in (("approval", kind.requires_approval), ("pausable", kind.interruptible))
            if on
        ]
        rows.append([kind.name, kind.title, kind.queue, ",".join(flags) or "-", params])
    out(table(["KIND", "TITLE", "QUEUE", "FLAGS", "PARAMS"], rows))
    return EXIT_OK


def cmd_jobs_list(args: argparse.Namespace) -> int:
    jobs: list[Job] = []
    more = False
    with connect() as client:
        for job in client.jobs(state=args.state, kind=args.kind, project=args.project):
            if args.limit and len(jobs) >= args.limit:
                more = True
                break
            jobs.append(job)
    if args.json:
        print_json([j.raw for j in jobs])
    elif not jobs:
        out("No jobs.")
    else:
        rows = [
            [
                str(j.id),
                j.state,
                j.kind,
                j.project,
                shorten(j.name, 40),
                shorten(fmt_progress(j), 30),
                j.requested_by or "-",
                fmt_time(j.created_at),
            ]
            for j in jobs
        ]
        headers = ["ID", "STATE", "KIND", "PROJECT", "NAME", "PROGRESS", "BY", "CREATED"]
        out(table(headers, rows))
    if more:
        err(f"(showing the newest {args.limit}; use --limit 0 for all)")
    return EXIT_OK


def describe_job(job: Job) -> str:
    rows: list[tuple[str, str]] = [
        ("name", job.name or "-"),
        ("kind", job.kind),
        ("project", job.project),
        ("state", job.state),
        ("progress", fmt_progress(job)),
        ("attempt", f"{job.attempt}/{job.max_attempts}"),
        ("requested by", job.requested_by or "-"),
    ]
    if job.requires_approval:
        approval = (
            f"approved by {job.approved_by or '?'} at {fmt_time(job.approved_at)}"
            if job.approved_at
            else "required, not given"
        )
        rows.append(("approval", approval))
    if job.not_before:
        rows.append(("not before", fmt_time(job.not_before)))
    if job.deadline:
        rows.append(("deadline", fmt_time(job.deadline)))
    for label, value in (
        ("created", job.created_at),
        ("scheduled", job.scheduled_at),
        ("dispatched", job.dispatched_at),
        ("started", job.started_at),
        ("heartbeat", job.heartbeat_at),
        ("finished", job.finished_at),
    ):
        if value is not None or label == "created":
            rows.append((label, fmt_time(value)))
    rows.append(("spec", compact(job.spec)))
    if job.result is not None:
        rows.append(("result", compact(job.result)))
    if job.checkpoint is not None:
        rows.append(("checkpoint", compact(job.checkpoint)))
    if job.error:
        rows.append(("error", job.error))
    width = max(len(label) for label, _ in rows) + 1
    lines = [f"Job {job.id}"]
    lines += [f"  {(label + ':').ljust(width)} {value}" for label, value in rows]
    return "\n".join(lines)


def cmd_jobs_show(args: argparse.Namespace) -> int:
    with connect() as client:
        job = client.job(args.id)
    if args.json:
        print_json(job.raw)
        return EXIT_OK
    out(describe_job(job))
    if args.log:
        out("")
        out("Log (tail):")
        out(job.log_tail.rstrip() if job.log_tail and job.log_tail.strip() else "(no log yet)")
    return EXIT_OK


def progress_printer() -> Callable[[Job], None]:
    def show(job: Job) -> None:
        now = datetime.now().strftime("%H:%M:%S")
        out(f"{now}  job {job.id}  {job.state:<17} {fmt_progress(job)}".rstrip())

    return show


def finish_wait(
    client: ForgeClient, job_id: int, *, timeout: float | None, interval: float, as_json: bool
) -> int:
    """Wait for a job; print its progress (or, with --json, only the final job)."""
    try:
        job = client.job_wait(
            job_id,
            timeout=timeout,
            interval=interval,
            on_update=None if as_json else progress_printer(),
        )
    except WaitTimeout as exc:
        if as_json:
            print_json(exc.job.raw)
        err(f"forge: {exc}")
        return EXIT_TIMEOUT
    if as_json:
        print_json(job.raw)
    elif job.state == "succeeded":
        result = f" Result: {compact(job.result)}" if job.result is not None else ""
        out(f"Job {job.id} succeeded.{result}")
    else:
        reason = f": {job.error}" if job.error else "."
        out(f"Job {job.id} {job.state}{reason}")
    return EXIT_OK if job.state == "succeeded" else EXIT_ERROR


def cmd_jobs_submit(args: argparse.Namespace) -> int:
    params: dict[str, Any] = dict(args.params_json or {})
    for key, value in args.param or []:
        params[key] = value
    with connect() as client:
        job = client.job_submit(
            project=args.project,
            kind=args.kind,
            params=params,
            name=args.name,
            not_before=args.not_before,
            deadline=args.deadline,
        )
        if not args.wait:
            if args.json:
                print_json(job.raw)
            else:
                out(f"Submitted job {job.id} ({job.kind}) in project {job.project}: {job.state}.")
                out(f"Follow it with: forge jobs wait {job.id}")
            return EXIT_OK
        if not args.json:
            out(f"Submitted job {job.id} ({job.kind}) in project {job.project}.")
        return finish_wait(
            client, job.id, timeout=args.timeout, interval=args.interval, as_json=args.json
        )


def cmd_jobs_wait(args: argparse.Namespace) -> int:
    with connect() as client:
        return finish_wait(
            client, args.id, timeout=args.timeout, interval=args.interval, as_json=args.json
        )


ACTION_DONE = {
    "cancel": "cancelled",
    "pause": "paused",
    "resume": "resumed",
    "approve": "approved",
    "reject": "rejected",
}


def cmd_jobs_action(args: argparse.Namespace) -> int:
    with connect() as client:
        if args.action == "reject":
            job = client.job_reject(args.id, reason=args.reason or "")
        else:
            job = getattr(client, f"job_{args.action}")(args.id)
    if args.json:
        print_json(job.raw)
    else:
        out(f"Job {job.id} {ACTION_DONE[args.action]}; it is now {job.state}.")
    return EXIT_OK


# ------------------------------------------------------------------ training runs


def cmd_runs_list(args: argparse.Namespace) -> int:
    with connect() as client:
        runs = list(client.runs(project=args.project))
    if args.json:
        print_json(runs)
    elif not runs:
        out("No runs.")
    else:
        rows = [
            [str(r["id"]), shorten(r["name"], 40), r["state"], r["preset"], str(r["job"] or "-")]
            for r in runs
        ]
        out(table(["ID", "NAME", "STATE", "PRESET", "JOB"], rows))
    return EXIT_OK


def cmd_runs_show(args: argparse.Namespace) -> int:
    with connect() as client:
        run = client.run(args.id)
    if args.json:
        print_json(run)
        return EXIT_OK
    out(f"Run {run['id']}: {run['name']} ({run['state']}, {run.get('progress', 0)}%)")
    out(f"  preset {run['preset']} ({run['params']:,} parameters), corpus {run['corpus']}")
    out(f"  job {run['job']}, project {run['project']}")
    if run.get("error"):
        out(f"  error: {run['error']}")
    for ckpt in run.get("checkpoints", []):
        out(f"  checkpoint step {ckpt['step']}: {ckpt['dir']}")
    return EXIT_OK


# `runs create --preset custom`: option dest -> the model field it sets.
CUSTOM_MODEL_ARGS = {
    "hidden": "hidden_size",
    "layers": "num_layers",
    "heads": "num_heads",
    "intermediate": "intermediate_size",
    "max_positions": "max_positions",
    "rope_theta": "rope_theta",
    "tie_embeddings": "tie_embeddings",
    "norm_eps": "norm_eps",
    "init_range": "initializer_range",
}


def cmd_runs_create(args: argparse.Namespace) -> int:
    payload: dict[str, Any] = {
        "corpus": args.corpus,
        "preset": args.preset,
        "steps": args.steps,
        "micro_batch": args.micro_batch,
        "grad_accum": args.grad_accum,
        "zero_stage": args.zero_stage,
        "nodes": args.nodes,
        "checkpoint_every": args.checkpoint_every,
        "max_restarts": args.max_restarts,
    }
    # Left out, the console chooses: GPUs follow the fleet, lr and schedule the preset.
    for key in ("gpus_per_node", "lr", "warmup_steps", "schedule_steps"):
        if getattr(args, key) is not None:
            payload[key] = getattr(args, key)
    if args.carbon_aware:
        payload["carbon_aware"] = True
        payload["interruptible"] = bool(args.interruptible)
    for key in ("deadline", "not_before", "expected_hours"):
        if getattr(args, key) is not None:
            payload[key] = getattr(args, key)
    if args.project:
        payload["project"] = args.project
    if args.name:
        payload["name"] = args.name
    if args.deepspeed_json is not None:
        payload["deepspeed"] = args.deepspeed_json
    model = {
        field: getattr(args, dest)
        for dest, field in CUSTOM_MODEL_ARGS.items()
        if getattr(args, dest) is not None
    }
    if model:  # the console refuses model fields with a named preset, and says so
        payload["model"] = model
    if args.base is not None:
        payload["base_preset"] = args.base
    with connect() as client:
        run = client.run_create(payload)
        if not args.json or not args.wait:
            if args.json:
                print_json(run)
            else:
                out(f"Launched run {run['id']} (job {run['job']}): {run['state']}.")
        if not args.wait:
            return EXIT_OK
        code = finish_wait(
            client, run["job"], timeout=args.timeout, interval=args.interval, as_json=args.json
        )
        if not args.json:
            for ckpt in client.run(run["id"]).get("checkpoints", [])[:1]:
                out(f"Latest checkpoint: step {ckpt['step']} in {ckpt['dir']}")
        return code


def cmd_runs_action(args: argparse.Namespace) -> int:
    with connect() as client:
        run = client.run(args.id)
        job = getattr(client, f"job_{args.action}")(run["job"])
    if args.json:
        print_json(job.raw)
    else:
        out(f"Run {run['id']} {ACTION_DONE[args.action]}; its job {job.id} is now {job.state}.")
    return EXIT_OK


def cmd_runs_metrics(args: argparse.Namespace) -> int:
    with connect() as client:
        run = client.run(args.id)
        series = client.job_metrics(run["job"], name=args.name, max_points=args.points)
    if args.json:
        print_json(series)
        return EXIT_OK
    if not series or not any(s.get("steps") for s in series):
        out(f"Run {run['id']} has no {args.name or 'metric'} points yet.")
        return EXIT_OK
    for s in series:
        note = f" ({s['total']:,} points, downsampled)" if s.get("downsampled") else ""
        out(f"{s['name']}{note}")
        rows = [
            [str(step), f"{value:.6g}"] for step, value in zip(s["steps"], s["values"], strict=True)
        ]
        out(table(["STEP", "VALUE"], rows))
    return EXIT_OK


def cmd_runs_tensorboard(args: argparse.Namespace) -> int:
    target = args.output or Path(f"run-{args.id}-tensorboard.zip")
    partial = target.with_name(target.name + ".part")
    with connect() as client:
        try:
            with partial.open("wb") as fh:
                size = client.run_tensorboard(args.id, fh)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
    out(f"Saved {target} ({size:,} bytes). View it: tensorboard --logdir <unzipped folder>")
    return EXIT_OK


# ------------------------------------------------------------------ the parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="forge",
        description="Drive a Forge console from the command line.",
        epilog=(
            "Configuration: FORGE_URL and FORGE_TOKEN, else the file written by `forge login` "
            f"(FORGE_CONFIG, default {config_path()})."
        ),
    )
    parser.add_argument("--version", action="version", version=f"forge {VERSION}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = commands.add_parser("login", help="verify a console URL and token, then save them")
    p.add_argument("--url", help="the console's base URL (default: $FORGE_URL)")
    p.add_argument(
        "--token", help="an API token (default: $FORGE_TOKEN, else prompt; '-' reads stdin)"
    )
    p.set_defaults(func=cmd_login)

    p = commands.add_parser("whoami", help="show the user, roles and permissions of the token")
    p.add_argument("--json", action="store_true", help="print the API's JSON")
    p.set_defaults(func=cmd_whoami)

    projects = commands.add_parser("projects", help="projects you are a member of")
    sub = projects.add_subparsers(dest="projects_command", metavar="COMMAND", required=True)
    p = sub.add_parser("list", help="list your projects")
    p.add_argument("--json", action="store_true", help="print the API's JSON")
    p.set_defaults(func=cmd_projects_list)

    jobs = commands.add_parser("jobs", help="submit, follow and control jobs")
    sub = jobs.add_subparsers(dest="jobs_command", metavar="COMMAND", required=True)

    p = sub.add_parser("list", help="list jobs, newest first")
    p.add_argument("--state", type=parse_states, help="comma-separated states, e.g. queued,running")
    p.add_argument("--kind", help="a job kind, e.g. demo.count")
    p.add_argument("--project", help="a project slug")
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50; 0: all)")
    p.add_argument("--json", action="store_true", help="print the API's JSON (a list)")
    p.set_defaults(func=cmd_jobs_list)

    p = sub.add_parser("show", help="show one job")
    p.add_argument("id", type=parse_job_id, metavar="ID")
    p.add_argument("--json", action="store_true", help="print the API's JSON")
    p.add_argument("--log", action="store_true", help="also print the tail of the job's log")
    p.set_defaults(func=cmd_jobs_show)

    p = sub.add_parser("kinds", help="list the job kinds and their parameters")
    p.add_argument("--json", action="store_true", help="print the API's JSON")
    p.set_defaults(func=cmd_jobs_kinds)

    p = sub.add_parser("submit", help="submit a job")
    p.add_argument("kind", metavar="KIND", help="a job kind (see `forge jobs kinds`)")
    p.add_argument("--project", required=True, help="the project's slug")
    p.add_argument("--name", help="a name for the job")
    p.add_argument(
        "--param",
        action="append",
        type=parse_param,
        metavar="KEY=VALUE",
        help="a parameter; the value is read as JSON when it parses (5, 0.1, null), "
        "else as a string; repeatable, wins over --params-json",
    )
    p.add_argument(
        "--params-json",
        type=parse_params_json,
        metavar="JSON",
        help="all parameters as a JSON object, or @FILE holding one",
    )
    p.add_argument("--not-before", metavar="ISO8601", help="do not start before this time")
    p.add_argument("--deadline", metavar="ISO8601", help="should finish by this time")
    p.add_argument("--wait", action="store_true", help="wait for the job to finish")
    p.add_argument(
        "--timeout", type=parse_seconds, help="with --wait: give up after this many seconds"
    )
    p.add_argument("--interval", type=parse_seconds, default=2.0, help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="print the job's JSON")
    p.set_defaults(func=cmd_jobs_submit)

    p = sub.add_parser(
        "wait",
        help="wait for a job to finish (exit 0 succeeded, 1 failed/cancelled, 2 timeout)",
    )
    p.add_argument("id", type=parse_job_id, metavar="ID")
    p.add_argument("--timeout", type=parse_seconds, help="give up after this many seconds")
    p.add_argument(
        "--interval", type=parse_seconds, default=2.0, help="seconds between polls (default 2)"
    )
    p.add_argument("--json", action="store_true", help="print only the final job's JSON")
    p.set_defaults(func=cmd_jobs_wait)

    for action, text in (
        ("cancel", "cancel a job"),
        ("pause", "pause a running job (kinds that can be interrupted)"),
        ("resume", "resume a paused job"),
        ("approve", "approve a job awaiting approval"),
        ("reject", "reject a job awaiting approval"),
    ):
        p = sub.add_parser(action, help=text)
        p.add_argument("id", type=parse_job_id, metavar="ID")
        if action == "reject":
            p.add_argument("--reason", help="why (recorded in the audit log)")
        p.add_argument("--json", action="store_true", help="print the job's JSON")
        p.set_defaults(func=cmd_jobs_action, action=action)

    runs = commands.add_parser("runs", help="launch and follow training runs")
    sub = runs.add_subparsers(dest="runs_command", metavar="COMMAND", required=True)
    p = sub.add_parser("list", help="list training runs, newest first")
    p.add_argument("--project", help="only this project's runs")
    p.add_argument("--json", action="store_true", help="print the runs' JSON")
    p.set_defaults(func=cmd_runs_list)
    p = sub.add_parser("show", help="show one run and its checkpoints")
    p.add_argument("id", type=parse_job_id, metavar="ID")
    p.add_argument("--json", action="store_true", help="print the run's JSON")
    p.set_defaults(func=cmd_runs_show)
    p = sub.add_parser("create", help="launch a training run")
    p.add_argument("--corpus", type=parse_job_id, required=True, help="a tokenized corpus id")
    p.add_argument(
        "--preset", required=True, help="tiny, 125m, 1b, deepseek-7b, or custom (see below)"
    )
    p.add_argument("--steps", type=int, required=True, help="optimizer steps")
    shape = p.add_argument_group(
        "custom model (--preset custom)",
        "Start from --base's values and change these; the vocabulary follows the corpus's "
        "tokenizer. The console checks the shape (GET /api/v1/presets/ lists the bounds).",
    )
    shape.add_argument("--base", metavar="PRESET", help="the preset to start from (default tiny)")
    shape.add_argument("--hidden", type=int, metavar="N", help="hidden size")
    shape.add_argument("--layers", type=int, metavar="N", help="decoder layers")
    shape.add_argument("--heads", type=int, metavar="N", help="attention heads")
    shape.add_argument("--intermediate", type=int, metavar="N", help="MLP intermediate size")
    shape.add_argument("--max-positions", type=int, metavar="N", help="longest sequence")
    shape.add_argument("--rope-theta", type=float, metavar="X", help="rotary embedding base")
    shape.add_argument("--norm-eps", type=float, metavar="X", help="RMSNorm epsilon")
    shape.add_argument("--init-range", type=float, metavar="X", help="initializer range")
    shape.add_argument(
        "--tie-embeddings",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="share the input embedding with the output head (default: the base's)",
    )
    p.add_argument("--project", help="the project's slug (default: the corpus's)")
    p.add_argument("--name", help="a name for the run")
    p.add_argument("--micro-batch", type=int, default=4, help="per GPU (default 4)")
    p.add_argument("--grad-accum", type=int, default=8, help="accumulation (default 8)")
    p.add_argument("--zero-stage", type=int, default=3, choices=(0, 1, 2, 3))
    p.add_argument(
        "--gpus-per-node",
        type=int,
        help="0 trains on CPU processes (default: 1 when an online node has a GPU, else 0)",
    )
    p.add_argument(
        "--lr", type=float, metavar="X", help="peak learning rate (default: the preset's)"
    )
    p.add_argument(
        "--warmup-steps",
        type=int,
        metavar="N",
        help="linear warm-up to the peak (default: a tenth of the steps, at most 1000)",
    )
    p.add_argument(
        "--schedule-steps",
        type=int,
        metavar="N",
        help="the learning rate decays linearly to 0 at this step (default: --steps)",
    )
    p.add_argument("--nodes", type=int, default=1)
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument(
        "--deepspeed-json",
        type=parse_params_json,
        metavar="JSON",
        help="the DeepSpeed config as a JSON object, or @FILE holding one",
    )
    p.add_argument(
        "--max-restarts",
        type=int,
        default=2,
        help="restarts from the latest checkpoint after a crash (default 2)",
    )
    p.add_argument(
        "--carbon-aware",
        action="store_true",
        help="start in the lowest-carbon time before --deadline",
    )
    p.add_argument(
        "--interruptible",
        action="store_true",
        help="with --carbon-aware: may pause and resume between low-carbon windows",
    )
    p.add_argument("--deadline", help="finish by this ISO 8601 time, with its zone")
    p.add_argument("--not-before", dest="not_before", help="ISO 8601 time, with its zone")
    p.add_argument("--expected-hours", type=float, help="expected duration (default: estimated)")
    p.add_argument("--wait", action="store_true", help="wait for the run to finish")
    p.add_argument("--timeout", type=parse_seconds, help="with --wait: give up after N seconds")
    p.add_argument("--interval", type=parse_seconds, default=2.0, help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_runs_create)

    for action, text in (
        ("pause", "pause a run (it saves a checkpoint, then stops)"),
        ("resume", "resume a paused run from its latest checkpoint"),
        ("cancel", "cancel a run"),
    ):
        p = sub.add_parser(action, help=text)
        p.add_argument("id", type=parse_job_id, metavar="RUN")
        p.add_argument("--json", action="store_true", help="print the run's job JSON")
        p.set_defaults(func=cmd_runs_action, action=action)

    p = sub.add_parser("metrics", help="print a run's metric series (loss by default)")
    p.add_argument("id", type=parse_job_id, metavar="RUN")
    p.add_argument("--name", default="loss", help="the series (default loss; '' for all)")
    p.add_argument("--points", type=int, default=50, help="at most this many points (default 50)")
    p.add_argument("--json", action="store_true", help="print the series' JSON")
    p.set_defaults(func=cmd_runs_metrics)

    p = sub.add_parser("tensorboard", help="download a run's TensorBoard event files (zip)")
    p.add_argument("id", type=parse_job_id, metavar="RUN")
    p.add_argument(
        "-o", "--output", type=Path, help="file to write (default run-<id>-tensorboard.zip)"
    )
    p.set_defaults(func=cmd_runs_tensorboard)

    add_models_commands(commands)
    return parser


# ------------------------------------------------------------------ models


def cmd_models_list(args: argparse.Namespace) -> int:
    with connect() as client:
        versions = list(client.models(project=args.project, name=args.name))
    if args.json:
        print_json(versions)
        return EXIT_OK
    if not versions:
        out("No model versions.")
        return EXIT_OK
    rows = [
        [
            str(v["id"]),
            shorten(v["label"], 40),
            v["status"],
            v["quant_method"] or v["precision"],
            f"{v['size_bytes']:,}",
            f"run {v['run']} step {v['step']}" if v["run"] else "-",
        ]
        for v in versions
    ]
    out(table(["ID", "MODEL", "STATUS", "PRECISION", "BYTES", "FROM"], rows))
    return EXIT_OK


def cmd_models_show(args: argparse.Namespace) -> int:
    with connect() as client:
        v = client.model(args.id)
    if args.json:
        print_json(v)
        return EXIT_OK
    out(f"Model version {v['id']}: {v['label']} ({v['status']}, {v['kind']})")
    out(f"  project {v['project']}, run {v['run']} step {v['step']}, parent {v['parent']}")
    out(f"  {v['size_bytes']:,} bytes in {len(v['files'])} files")
    for f in v["files"]:
        out(f"    {f['sha256']}  {f['path']} ({f['bytes']:,} bytes)")
    measured = v.get("measured") or {}
    if measured:
        out(f"  measured: {compact(measured)}")
    for e in v.get("evaluations", []):
        if e["kind"] == "perplexity":
            out(f"  evaluation {e['id']}: perplexity {e['result'].get('perplexity')}")
        else:
            texts = [o.get("text", "") for o in e["result"].get("outputs", [])]
            out(f"  evaluation {e['id']}: generation {compact(texts)}")
    if v.get("children"):
        out(f"  derived versions: {', '.join(map(str, v['children']))}")
    return EXIT_OK


def _models_job(client: ForgeClient, job: Job, args: argparse.Namespace, what: str) -> int:
    if not args.wait:
        if args.json:
            print_json(job.raw)
        else:
            out(f"{what}: job {job.id} ({job.state}). Follow it with: forge jobs wait {job.id}")
        return EXIT_OK
    if not args.json:
        out(f"{what}: job {job.id}.")
    return finish_wait(
        client, job.id, timeout=args.timeout, interval=args.interval, as_json=args.json
    )


def cmd_models_register(args: argparse.Namespace) -> int:
    with connect() as client:
        job = client.model_register(run=args.run, step=args.step, name=args.name)
        return _models_job(client, job, args, f"Registering {args.name}")


def cmd_models_evaluate(args: argparse.Namespace) -> int:
    payload: dict[str, Any] = {
        "kind": "generation" if args.prompt else args.kind,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "repetition_penalty": args.repetition_penalty,
        "max_new_tokens": args.max_new_tokens,
    }
    if args.prompt:
        payload["prompts"] = args.prompt
    if args.corpus is not None:
        payload["corpus"] = args.corpus
    with connect() as client:
        job = client.model_evaluate(args.id, payload)
        return _models_job(client, job, args, f"Evaluating model version {args.id}")


def cmd_models_quantize(args: argparse.Namespace) -> int:
    payload = {"method": args.method, "group_size": args.group_size, "algorithm": args.algorithm}
    if args.calibration_corpus is not None:
        payload["calibration_corpus"] = args.calibration_corpus
        payload["calibration_samples"] = args.calibration_samples
    with connect() as client:
        job = client.model_quantize(args.id, payload)
        return _models_job(
            client, job, args, f"Quantizing model version {args.id} to {args.method}"
        )


def cmd_models_export_onnx(args: argparse.Namespace) -> int:
    with connect() as client:
        job = client.model_export_onnx(args.id)
        return _models_job(client, job, args, f"Exporting model version {args.id} to ONNX")


def cmd_models_download(args: argparse.Namespace) -> int:
    target = args.output or Path(f"model-{args.id}.zip")
    partial = target.with_name(target.name + ".part")
    with connect() as client:
        try:
            with partial.open("wb") as fh:
                size = client.model_download(args.id, fh)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
    out(f"Saved {target} ({size:,} bytes); check it with: unzip, then sha256sum -c SHA256SUMS")
    return EXIT_OK


def _feedback_filters(args: argparse.Namespace) -> dict[str, str]:
    return {
        "sentiment": args.sentiment or "",
        "corrected": args.corrected or "",
        "flagged": args.flagged or "",
        "app": args.app or "",
    }


def cmd_models_feedback(args: argparse.Namespace) -> int:
    with connect() as client:
        items = list(client.model_feedback(args.id, _feedback_filters(args)))
    if args.json:
        out(json.dumps(items, indent=2))
        return EXIT_OK
    if not items:
        out("No feedback (with these filters).")
        return EXIT_OK
    for item in items:
        rating = (
            item["rating"] if item["scale"] == "stars" else ("+1" if item["rating"] > 0 else "-1")
        )
        marks = (" corrected" if item["correction"] else "") + (
            " FLAGGED" if item["flagged"] else ""
        )
        prompt = item["prompt"].replace("\n", " ")[:60]
        out(f"{item['id']:>6}  {item['created_at'][:16]}  {item['scale']:<6} {rating:>2}  "
            f"{item['sentiment']:<8}{marks}  {prompt}")  # fmt: skip
    return EXIT_OK


def cmd_models_rate(args: argparse.Namespace) -> int:
    payload: dict[str, Any] = {
        "prompt": args.prompt,
        "output": args.output,
        "scale": "stars" if args.stars is not None else "thumbs",
        "rating": args.stars if args.stars is not None else (1 if args.good else -1),
        "correction": args.correction or "",
        "flagged": args.flag,
        "app": args.app or "",
    }
    with connect() as client:
        item = client.model_rate(args.id, payload)
    masked = ", ".join(f"{k} x{v}" for k, v in item["pii_masked"].items())
    out(
        f"Feedback {item['id']} recorded ({item['sentiment']})"
        + (f"; masked: {masked}" if masked else "")
    )
    return EXIT_OK


def cmd_models_feedback_export(args: argparse.Namespace) -> int:
    target = args.output or Path(f"model-{args.id}-feedback-{args.layout}.jsonl")
    partial = target.with_name(target.name + ".part")
    with connect() as client:
        try:
            with partial.open("w", encoding="utf-8") as fh:
                rows = client.model_feedback_export(
                    args.id, args.layout, _feedback_filters(args), fh
                )
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
    out(f"Saved {target} ({rows:,} {args.layout} rows)")
    return EXIT_OK


def add_models_commands(commands: Any) -> None:
    models = commands.add_parser(
        "models", help="register, evaluate, quantize, download models; their feedback"
    )
    sub = models.add_subparsers(dest="models_command", metavar="COMMAND", required=True)

    def waits(p: argparse.ArgumentParser) -> None:
        p.add_argument("--wait", action="store_true", help="wait for the job to finish")
        p.add_argument("--timeout", type=parse_seconds, default=None, help="give up after")
        p.add_argument("--interval", type=parse_seconds, default=2.0, help="poll every (2s)")
        p.add_argument("--json", action="store_true", help="print the job's JSON")

    p = sub.add_parser("register", help="register a run's checkpoint as a model version")
    p.add_argument("--run", type=parse_job_id, required=True, metavar="RUN")
    p.add_argument("--step", type=int, required=True, help="the checkpoint's step")
    p.add_argument("--name", required=True, help="the model's name")
    waits(p)
    p.set_defaults(func=cmd_models_register)

    p = sub.add_parser("list", help="list model versions, newest first")
    p.add_argument("--project", help="project slug")
    p.add_argument("--name", help="only this model's versions")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_models_list)

    p = sub.add_parser("show", help="show a version: files with sha256, measurements, evaluations")
    p.add_argument("id", type=parse_job_id, metavar="ID")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_models_show)

    p = sub.add_parser("evaluate", help="perplexity (default) or generation with --prompt")
    p.add_argument("id", type=parse_job_id, metavar="ID")
    p.add_argument("--kind", choices=["perplexity", "generation"], default="perplexity")
    p.add_argument("--prompt", action="append", help="a prompt (repeat; implies generation)")
    p.add_argument("--corpus", type=int, help="tokenized corpus id (default: the run's)")
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--top-p", type=float, default=0.92)
    p.add_argument("--repetition-penalty", type=float, default=1.2)
    p.add_argument("--max-new-tokens", type=int, default=64)
    waits(p)
    p.set_defaults(func=cmd_models_evaluate)

    p = sub.add_parser(
        "quantize",
        help="make a derived version: w4a16 / w8a16 / fp8 (compressed-tensors), bf16 / fp16",
    )
    p.add_argument("id", type=parse_job_id, metavar="ID")
    p.add_argument("--method", required=True, choices=["w4a16", "w8a16", "fp8", "bf16", "fp16"])
    p.add_argument(
        "--algorithm",
        choices=["rtn", "gptq"],
        default="rtn",
        help="rtn: round to nearest (default); gptq: calibrated (needs --calibration-corpus)",
    )
    p.add_argument("--group-size", type=int, default=128, help="w4a16 group size (default 128)")
    p.add_argument(
        "--calibration-corpus",
        type=int,
        help="gptq: tokenized corpus id (a dataset version of the model's tokenizer)",
    )
    p.add_argument("--calibration-samples", type=int, default=128, help="gptq: sequences")
    waits(p)
    p.set_defaults(func=cmd_models_quantize)

    p = sub.add_parser(
        "export-onnx", help="export a full-precision version to ONNX (verified by onnxruntime)"
    )
    p.add_argument("id", type=parse_job_id, metavar="ID")
    waits(p)
    p.set_defaults(func=cmd_models_export_onnx)

    def feedback_filters(p: argparse.ArgumentParser) -> None:
        p.add_argument("--sentiment", choices=["positive", "neutral", "negative"])
        p.add_argument("--corrected", choices=["yes", "no"], help="with a better answer or not")
        p.add_argument("--flagged", choices=["yes", "no"])
        p.add_argument("--app", help="only what this application sent")

    p = sub.add_parser("feedback", help="list a version's rated answers, newest first")
    p.add_argument("id", type=parse_job_id, metavar="ID")
    feedback_filters(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_models_feedback)

    p = sub.add_parser("rate", help="record a rated answer (PII is masked before storing)")
    p.add_argument("id", type=parse_job_id, metavar="ID")
    p.add_argument("--prompt", required=True)
    p.add_argument("--output", required=True, help="the model's answer")
    rating = p.add_mutually_exclusive_group(required=True)
    rating.add_argument("--good", action="store_true", help="thumbs up")
    rating.add_argument("--bad", action="store_true", help="thumbs down")
    rating.add_argument("--stars", type=int, choices=range(1, 6), metavar="1-5")
    p.add_argument("--correction", help="the answer you wanted")
    p.add_argument("--flag", action="store_true", help="flag it for review")
    p.add_argument("--app", help="the application that served the answer")
    p.set_defaults(func=cmd_models_rate)

    p = sub.add_parser(
        "feedback-export", help="download feedback as JSONL training rows (sft or preference)"
    )
    p.add_argument("id", type=parse_job_id, metavar="ID")
    p.add_argument("--layout", choices=["sft", "preference"], required=True)
    feedback_filters(p)
    p.add_argument("-o", "--output", type=Path, help="default model-<id>-feedback-<layout>.jsonl")
    p.set_defaults(func=cmd_models_feedback_export)

    p = sub.add_parser("download", help="download a version's folder (zip with SHA256SUMS)")
    p.add_argument("id", type=parse_job_id, metavar="ID")
    p.add_argument("-o", "--output", type=Path, help="file to write (default model-<id>.zip)")
    p.set_defaults(func=cmd_models_download)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ForgeError, ConfigError, CliError) as exc:
        err(f"forge: error: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        err("forge: interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (`forge jobs list | head`): exit quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
