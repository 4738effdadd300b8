"""The registry of job kinds (and of the executors that run them off the workers). Each
app registers the kinds it owns in its AppConfig.ready().

A kind names its typed spec (from gpu_agent.spec), the queue that executes it,
the capability needed to submit it, and the handler a worker runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from console.core.roles import Cap

if TYPE_CHECKING:
    from console.jobs.models import Job


class JobContext(Protocol):
    """What a worker kind's handler is given: console.jobs.execution.JobContext, which
    reports the job's log and progress (this module only names the interface, so the
    registry of kinds sits below execution)."""

    job_id: int
    attempt: int
    checkpoint: dict[str, Any] | None

    def log(self, line: str) -> None: ...

    def progress(
        self, percent: float, message: str = "", *, checkpoint: dict[str, Any] | None = None
    ) -> None: ...


@dataclass(frozen=True, kw_only=True)
class JobKind:
    name: str
    title: str
    description: str
    spec: type[Any]
    queue: str
    submit_cap: Cap
    handler: Callable[[JobContext, Any], dict[str, Any]] | None
    interruptible: bool = False
    requires_approval: bool = False
    max_attempts: int = 3
    # "worker": a Celery worker runs `handler`. "node": a node's agent runs it as a
    # supervised subprocess; `gpus` says how many GPUs the spec asks for.
    runs_on: str = "worker"
    gpus: Callable[[Any], int] | None = None
    # How many nodes one attempt spans (default 1): a multi-node attempt is placed on
    # that many distinct nodes at once, each agent launching its part.
    nodes: Callable[[Any], int] | None = None
    # Processes per node of a multi-node attempt on nodes without GPUs (with GPUs: one
    # per allocated GPU).
    cpu_procs_per_node: Callable[[Any], int] | None = None
    # The record a decision on a held job of this kind also writes (a run's RunApproval),
    # called as approval_record(job=, actor=, approved=, comment=) by job_approve and
    # job_reject inside the transaction that moves the job: every path (jobs API and
    # page, run page and API, admin) makes one decision, and the two never disagree.
    approval_record: Callable[..., None] | None = None
    # Where jobs of this kind are created; every kind must say (no default, so a new
    # kind cannot forget). None: a generic kind, created from its spec by the jobs API
    # (POST /api/v1/jobs/) and the job form (/jobs/new/). Otherwise the kind has a
    # service of its own that builds the spec from ids it checked against the
    # requester's project (paths, the approval policy, the corpus's owner); the generic
    # paths refuse it with a 400 naming this endpoint (RELIABILITY.md S14).
    service_endpoint: str | None

    @property
    def generic(self) -> bool:
        return self.service_endpoint is None


_REGISTRY: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    if kind.name in _REGISTRY and _REGISTRY[kind.name] != kind:
        raise ValueError(f"job kind {kind.name!r} registered twice")
    _REGISTRY[kind.name] = kind
    return kind


def get(name: str) -> JobKind | None:
    return _REGISTRY.get(name)


def all_kinds() -> list[JobKind]:
    return sorted(_REGISTRY.values(), key=lambda k: k.name)


# ------------------------------------------------------------------ executors

# Where a kind's attempts run when not on a Celery worker (runs_on other than "worker"):
# the app that owns the executor registers it (console/fleet/services/dispatch.py: "node"),
# so this layer dispatches there without importing the layer above it.


@dataclass(frozen=True, kw_only=True)
class Executor:
    # dispatch(job, kind, attempt): inside the transaction that holds the scheduled job's
    # row lock, place the new attempt and move the job to dispatched (its launch sent on
    # commit), or leave it scheduled when there is no room now; returns the job or None.
    dispatch: Callable[[Job, JobKind, int], Job | None]
    # messages(job): the (task, args, queue) messages that start the job's current
    # attempt, sent again by the reconciler when they were lost.
    messages: Callable[[Job], list[tuple[str, list[Any], str]]]


_EXECUTORS: dict[str, Executor] = {}


def register_executor(runs_on: str, executor: Executor) -> Executor:
    if runs_on == "worker" or _EXECUTORS.get(runs_on, executor) != executor:
        raise ValueError(f"executor {runs_on!r} registered twice")
    _EXECUTORS[runs_on] = executor
    return executor


def executor(runs_on: str) -> Executor:
    found = _EXECUTORS.get(runs_on)
    if found is None:
        raise LookupError(f"no executor registered for runs_on={runs_on!r}")
    return found
