"""Typed job specs and records: the one definition of what travels between the
console and the agents (and what the console stores for a job).

Specs are ``@dataclass(kw_only=True)``. ``spec_from_dict`` validates a plain dict
(from JSON) against a spec class and reports every bad field at once, so a bad
config fails at submission with field errors instead of on a GPU node (R10).
This module imports only the standard library.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, Union, cast

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
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        if isinstance(value, annotation):
            return True, value
        try:  # a nested spec: {"model": {...}, "optimizer": {...}}
            return True, spec_from_dict(annotation, value)
        except SpecError as exc:
            return False, exc
    return isinstance(value, annotation), value


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


@functools.cache
def _shape(cls: type) -> tuple[dict[str, Any], dict[str, dataclasses.Field[Any]]]:
    """A spec class's resolved annotations and fields, computed once per class
    (``get_type_hints`` re-evaluates string annotations on every call)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    return typing.get_type_hints(cls), fields


def spec_from_dict(cls: type[T], data: Any) -> T:
    """Build a spec from JSON-like data, or raise SpecError listing every problem."""
    if not isinstance(data, dict):
        raise SpecError({"params": ["must be an object"]})
    hints, fields = _shape(cast(type, cls))
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
        if not ok and isinstance(coerced, SpecError):  # a nested spec's own field errors
            for inner, messages in coerced.errors.items():
                errors.setdefault(f"{name}.{inner}", []).extend(messages)
        elif not ok:
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


# ------------------------------------------------------------------ data pipelines
#
# Run by console workers (queue "pipelines"); ids name the console's rows, which the
# handler reloads and checks against the job's project.

DATA_SOURCES = ("upload", "server", "sample")
_MAX_ID = 2**63 - 1


def _check_id(errors: dict[str, list[str]], name: str, value: int) -> None:
    if not 1 <= value <= _MAX_ID:
        errors[name] = ["must be a positive id"]


@dataclass(kw_only=True)
class DataIngestSpec:
    """Read an uploaded file, a server-side path or the shipped sample corpus into the
    first version of a dataset."""

    KIND: ClassVar[str] = "data.ingest"

    dataset_id: int = field(metadata={"help": "The dataset that gets the new version."})
    source: str = field(metadata={"help": "upload, server (a path) or sample."})
    upload: str = field(
        default="", metadata={"help": "Storage key of the uploaded file (source upload)."}
    )
    filename: str = field(default="", metadata={"help": "The uploaded file's name."})
    path: str = field(
        default="", metadata={"help": "Path under FORGE_DATA_IMPORT_ROOT (source server)."}
    )
    text_field: str = field(
        default="text", metadata={"help": "JSONL key / Parquet column holding the text."}
    )
    records: str = field(
        default="",
        metadata={"help": "chat or preference: a JSONL file of records; empty: text."},
    )
    prompt_field: str = field(default="", metadata={"help": "chat: the prompt column."})
    response_field: str = field(default="", metadata={"help": "chat: the response column."})
    system_field: str = field(default="", metadata={"help": "chat: the system column."})

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        _check_id(errors, "dataset_id", self.dataset_id)
        if self.records not in ("", "chat", "preference"):
            errors["records"] = ["must be chat, preference or empty (text)"]
        if bool(self.prompt_field) != bool(self.response_field):
            errors["prompt_field"] = ["prompt and response columns go together"]
        if self.prompt_field and self.records != "chat":
            errors["prompt_field"] = ["columns map to chat records only"]
        for name in ("prompt_field", "response_field", "system_field"):
            if len(getattr(self, name)) > 100:
                errors[name] = ["must be at most 100 characters"]
        if self.source not in DATA_SOURCES:
            errors["source"] = [f"must be one of: {', '.join(DATA_SOURCES)}"]
        if self.source == "upload" and not (self.upload and self.filename):
            errors["upload"] = ["an upload needs its storage key and file name"]
        if self.source == "server" and not self.path.strip():
            errors["path"] = ["a server path is required"]
        if not 1 <= len(self.text_field) <= 100:
            errors["text_field"] = ["must be 1 to 100 characters"]
        for name in ("upload", "filename", "path"):
            if len(getattr(self, name)) > 1000:
                errors[name] = ["must be at most 1000 characters"]
        return errors


@dataclass(kw_only=True)
class DataCleanSpec:
    """Run cleaning rules over a dataset version into a new version and a report."""

    KIND: ClassVar[str] = "data.clean"

    version_id: int = field(metadata={"help": "The dataset version to clean."})
    steps: list[dict[str, Any]] = field(
        metadata={"help": 'Rules in order: [{"rule": name, "params": {...}}, ...].'}
    )
    workers: int = field(default=1, metadata={"help": "Processes for the per-document rules."})

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        _check_id(errors, "version_id", self.version_id)
        if not 1 <= len(self.steps) <= 50:
            errors["steps"] = ["must hold 1 to 50 steps"]
        if not 1 <= self.workers <= 32:
            errors["workers"] = ["must be between 1 and 32"]
        return errors


@dataclass(kw_only=True)
class DataTokenizerTrainSpec:
    """Train a byte-level BPE tokenizer (special tokens <bos> <eos> <pad> <unk>)."""

    KIND: ClassVar[str] = "data.tokenizer_train"

    version_id: int = field(metadata={"help": "The dataset version to train on."})
    name: str = field(default="", metadata={"help": "A name for the tokenizer."})
    vocab_size: int = field(
        default=52_000, metadata={"help": "Tokens, bytes and special tokens included."}
    )
    min_frequency: int = field(default=2, metadata={"help": "Least count of a merged pair."})
    max_documents: int | None = field(
        default=None, metadata={"help": "Read at most this many documents."}
    )

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        _check_id(errors, "version_id", self.version_id)
        if len(self.name) > 100:
            errors["name"] = ["must be at most 100 characters"]
        if not 260 <= self.vocab_size <= 1_000_000:
            errors["vocab_size"] = ["must be between 260 and 1000000"]
        if not 1 <= self.min_frequency <= 1_000_000:
            errors["min_frequency"] = ["must be between 1 and 1000000"]
        if self.max_documents is not None and not 1 <= self.max_documents <= _MAX_ID:
            errors["max_documents"] = ["must be a positive number"]
        return errors


@dataclass(kw_only=True)
class DataTokenizeSpec:
    """Tokenize a dataset version into packed, memory-mappable train/val shards."""

    KIND: ClassVar[str] = "data.tokenize"

    version_id: int = field(metadata={"help": "The dataset version to tokenize."})
    tokenizer_id: int = field(metadata={"help": "The tokenizer to use."})
    seq_len: int = field(default=2048, metadata={"help": "Tokens per packed sequence."})
    val_fraction: float = field(
        default=0.01, metadata={"help": "Share of documents for validation (0 to 0.5)."}
    )
    seed: int = field(default=0, metadata={"help": "Seed of the train/val split."})
    add_bos: bool = field(default=False, metadata={"help": "Put <bos> before each document."})
    shard_tokens: int = field(default=2**26, metadata={"help": "Most tokens per shard file."})

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        _check_id(errors, "version_id", self.version_id)
        _check_id(errors, "tokenizer_id", self.tokenizer_id)
        if not 8 <= self.seq_len <= 1_048_576:
            errors["seq_len"] = ["must be between 8 and 1048576"]
        if not 0 <= self.val_fraction <= 0.5:
            errors["val_fraction"] = ["must be between 0 and 0.5"]
        if not -(2**63) <= self.seed <= _MAX_ID:
            errors["seed"] = ["must fit in 64 bits"]
        if not self.seq_len <= self.shard_tokens <= 2**34:
            errors["shard_tokens"] = ["must be at least seq_len and at most 2**34"]
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
# Read a running job's Python stacks and send them as a "stacks" record; one argument,
# {"job": int, "attempt": int, "reason": str} (sent when the job's metrics stalled).
AGENT_STACKS_TASK = "agent.stacks"
MAX_BATCH_RECORDS = 10_000
MAX_BATCH_BYTES = 8 * 1024 * 1024
RECORD_TYPES = ("metric", "log", "progress", "status", "telemetry", "stacks")
# Lines a workload prints on stdout that start with this marker carry a JSON
# record (metric or progress); every other line is a log line.
STDOUT_MARKER = "@forge "

# What one record may carry. The agent cuts what it sends to these; the console
# refuses a record past a limit it checks (metric names, stacks processes) and cuts
# the rest on ingest, so both sides read them from here.
LOG_LINE_CAP = 4096  # a log line (and a progress message): bytes the agent keeps, chars stored
MARKER_LINE_CAP = 64 * 1024  # bytes of a STDOUT_MARKER line; a longer one is a log line
METRIC_NAME_MAX = 64  # characters of a metric's name (1 to this)
STACKS_MAX_PROCESSES = 64  # processes in one stacks record
STACKS_TEXT_CHARS = 16 * 1024  # characters of one process's stack
STACKS_REASON_CHARS = 500  # characters of why the stacks were read (the console's request)
STATUS_REASON_CHARS = 2000  # characters of a status record's reason the console keeps


@dataclass(kw_only=True)
class Rendezvous:
    """Where the ranks of a multi-node attempt meet, chosen by the console: the
    address and port of node rank 0, this node's rank, and every node of the group
    in rank order with its number of processes (DeepSpeed's launcher derives the
    global ranks from that list)."""

    master_addr: str
    master_port: int
    node_rank: int
    hosts: list[str]
    procs: list[int]

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if len(self.hosts) < 2 or len(self.procs) != len(self.hosts):
            errors["hosts"] = ["needs two or more hosts, each with its process count"]
        elif not 0 <= self.node_rank < len(self.hosts):
            errors["node_rank"] = [f"must be between 0 and {len(self.hosts) - 1}"]
        if any(p < 1 for p in self.procs):
            errors["procs"] = ["every node runs at least one process"]
        if not 0 < self.master_port < 65536:
            errors["master_port"] = ["must be a TCP port"]
        if not self.master_addr:
            errors["master_addr"] = ["is required"]
        return errors


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
    rendezvous: Rendezvous | None = None  # a multi-node attempt's part on this node


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
      stacks:    {"reason": str, "processes": [{"pid", "label", "method", "text"}, ...]}
                 (the Python stacks of a job's processes: gpu_agent/stacks.py)
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
    # The console's storage folders (data, runs, models): where job specs' paths lie. An
    # agent started without --root takes them, beside its work dir, as its roots.
    storage_roots: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class HeartbeatReply:
    status: str  # the node's status as the console sees it
    stop: list[dict[str, int]] = field(default_factory=list)  # [{job, attempt}] to stop now
