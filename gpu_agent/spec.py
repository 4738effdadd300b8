"""Typed job specs and records: the one definition of what travels between the
console and the agents (and what the console stores for a job).

Specs are ``@dataclass(kw_only=True)``. ``spec_from_dict`` validates a plain dict
(from JSON) against a spec class and reports every bad field at once, so a bad
config fails at submission with field errors instead of on a GPU node (R10).
This module imports only the standard library.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, Union

T = TypeVar("T")


class SpecError(ValueError):
    """A spec that cannot run. ``errors`` maps field name to a list of messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))


def _check_type(value: Any, annotation: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            ok, coerced = _check_type(value, arg)
            if ok:
                return True, coerced
        return False, value
    if annotation is type(None):
        return value is None, value
    if annotation is bool:
        return isinstance(value, bool), value
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if annotation is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        try:
            return ok, float(value) if ok else value
        except OverflowError:  # a JSON integer beyond float's range: a field error, not a 500
            return False, value
    if annotation is str:
        return isinstance(value, str), value
    if origin is list:
        (item_type,) = typing.get_args(annotation) or (Any,)
        if not isinstance(value, list):
            return False, value
        out = []
        for item in value:
            ok, coerced = _check_type(item, item_type)
            if not ok:
                return False, value
            out.append(coerced)
        return True, out
    if origin is dict or annotation is dict:
        return isinstance(value, dict), value
    if annotation is Any:
        return True, value
    return isinstance(value, annotation), value


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def spec_from_dict(cls: type[T], data: Any) -> T:
    """Build a spec from JSON-like data, or raise SpecError listing every problem."""
    if not isinstance(data, dict):
        raise SpecError({"params": ["must be an object"]})
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name in data:
        if name not in fields:
            errors.setdefault(name, []).append("unknown field")
    for name, spec_field in fields.items():
        if name not in data:
            no_default = (
                spec_field.default is dataclasses.MISSING
                and spec_field.default_factory is dataclasses.MISSING
            )
            if no_default:
                errors.setdefault(name, []).append("this field is required")
            continue
        ok, coerced = _check_type(data[name], hints[name])
        if not ok:
            errors.setdefault(name, []).append(f"must be {_type_name(hints[name])}")
        else:
            values[name] = coerced
    if errors:
        raise SpecError(errors)
    spec = cls(**values)
    check = getattr(spec, "check", None)
    if check is not None:
        problems = check()
        if problems:
            raise SpecError(problems)
    return spec


def spec_to_dict(spec: Any) -> dict[str, Any]:
    return dataclasses.asdict(spec)


def spec_fields(cls: type) -> list[dict[str, Any]]:
    """Describe a spec's fields (name, type, default, help) for forms and the API."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        default = None if f.default is dataclasses.MISSING else f.default
        out.append(
            {
                "name": f.name,
                "type": _type_name(hints[f.name]),
                "default": default,
                "required": f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING,
                "help": f.metadata.get("help", ""),
            }
        )
    return out


# ------------------------------------------------------------------ job specs


@dataclass(kw_only=True)
class DemoCountSpec:
    """A short synthetic workload: counts steps, reports progress and a metric per step,
    checkpoints after each step so a paused or requeued job resumes where it stopped."""

    KIND: ClassVar[str] = "demo.count"

    steps: int = field(default=20, metadata={"help": "Number of steps (1 to 100,000)."})
    step_seconds: float = field(default=0.5, metadata={"help": "Seconds per step (0 to 60)."})
    fail_at_step: int | None = field(
        default=None, metadata={"help": "Fail on purpose at this step (to see a failure)."}
    )

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if not 1 <= self.steps <= 100_000:
            errors["steps"] = ["must be between 1 and 100000"]
        if not 0 <= self.step_seconds <= 60:
            errors["step_seconds"] = ["must be between 0 and 60"]
        if self.fail_at_step is not None and not 1 <= self.fail_at_step <= self.steps:
            errors["fail_at_step"] = ["must be between 1 and steps"]
        return errors


@dataclass(kw_only=True)
class DemoNodeSpec:
    """A synthetic workload run by a node's agent as a supervised subprocess: prints
    log lines, emits metrics every step and checkpoints, like a training run would."""

    KIND: ClassVar[str] = "demo.node"

    steps: int = field(default=30, metadata={"help": "Number of steps (1 to 1,000,000)."})
    step_seconds: float = field(default=0.5, metadata={"help": "Seconds per step (0 to 60)."})
    gpus: int = field(default=0, metadata={"help": "GPUs to allocate (0 runs on any node's CPU)."})
    metrics_per_step: int = field(default=2, metadata={"help": "Metric series to emit (1 to 64)."})
    fail_at_step: int | None = field(
        default=None, metadata={"help": "Exit with an error at this step (to see a failure)."}
    )

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if not 1 <= self.steps <= 1_000_000:
            errors["steps"] = ["must be between 1 and 1000000"]
        if not 0 <= self.step_seconds <= 60:
            errors["step_seconds"] = ["must be between 0 and 60"]
        if not 0 <= self.gpus <= 64:
            errors["gpus"] = ["must be between 0 and 64"]
        if not 1 <= self.metrics_per_step <= 64:
            errors["metrics_per_step"] = ["must be between 1 and 64"]
        if self.fail_at_step is not None and not 1 <= self.fail_at_step <= self.steps:
            errors["fail_at_step"] = ["must be between 1 and steps"]
        return errors


# ------------------------------------------------------------------ console <-> agent wire format
#
# Agent API (base /api/agent/v1/, header `Authorization: Node <token>`):
#   POST register  {name, agent_version, inventory}         -> RegisterReply
#   POST heartbeat {running: [{job, attempt}]}               -> HeartbeatReply
#   POST ingest    {records: [Record, ...]}  (<= MAX_BATCH_RECORDS, <= MAX_BATCH_BYTES)
#        200 {"accepted": n, "duplicates": n, "stop": [{job, attempt}]}
#        400 {"detail", "errors": [{"index", "seq", "error"}]}  nothing ingested
#        404 {"detail", "unknown": [{job, attempt}]}  a stream not on this node: nothing ingested
#        413 batch too large
# Launch: the console sends Celery task "agent.launch" with args [LaunchSpec as dict]
# to the queue "node.<name>". The task hands the job to the agent's supervisor and
# returns at once; from then on the job's life is reported through ingest.

AGENT_LAUNCH_TASK = "agent.launch"
MAX_BATCH_RECORDS = 10_000
MAX_BATCH_BYTES = 8 * 1024 * 1024
RECORD_TYPES = ("metric", "log", "progress", "status", "telemetry")
# Lines a workload prints on stdout that start with this marker carry a JSON
# record (metric or progress); every other line is a log line.
STDOUT_MARKER = "@forge "


@dataclass(kw_only=True)
class LaunchSpec:
    """What a node's agent receives to start one attempt of a job."""

    job_id: int
    attempt: int  # the lease (fencing token): an agent refuses one not newer than it has seen
    kind: str
    spec: dict[str, Any]
    gpus: list[int] = field(default_factory=list)  # GPU indices allocated on this node
    node: str = ""
    checkpoint: dict[str, Any] | None = None  # where the previous attempt stopped


@dataclass(kw_only=True)
class Record:
    """One record of a job's (or a node's) stream, in the order the agent produced it.

    ``seq`` increases by one per record within a stream: a job attempt's stream
    (job, attempt) or, for telemetry, the node's (job None, attempt 0). The console
    orders by seq, never by ``at`` (agent clocks may be skewed), and ingests each
    seq at most once.

    ``data`` by type:
      metric:    {"step": int, "values": {name: float, ...}}
      log:       {"stream": "stdout" | "stderr", "line": str}
      progress:  {"percent": float, "message": str, "checkpoint": dict | None}
      status:    {"state": "running" | "succeeded" | "failed" | "cancelled" | "interrupted",
                  "exit_code": int | None, "reason": str}
                 ("interrupted": stopped by the agent's own shutdown; the console
                 requeues the job, which resumes from its checkpoint)
      telemetry: {"gpus": [{"index", "util", "mem_used_mib", "power_w", "temp_c"}, ...]}
    """

    job: int | None
    attempt: int
    seq: int
    type: str
    at: float
    data: dict[str, Any]


@dataclass(kw_only=True)
class RegisterReply:
    node: str
    queue: str
    heartbeat_seconds: float
    broker_url: str
    broker_transport_options: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class HeartbeatReply:
    status: str  # the node's status as the console sees it
    stop: list[dict[str, int]] = field(default_factory=list)  # [{job, attempt}] to stop now
