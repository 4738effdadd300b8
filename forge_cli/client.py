"""A thin typed client for the Forge console's REST API (/api/v1/).

Every method returns dataclasses built from the JSON (extra fields are ignored, so a
newer console works with an older client; the untouched JSON stays in ``.raw``).
Every failure, HTTP or network, raises :class:`ForgeError`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import httpx

VERSION = "0.1.0"
API_PREFIX = "/api/v1/"
DEFAULT_TIMEOUT = 30.0
PAGE_SIZE = 200

JOB_STATES = (
    "queued",
    "awaiting_approval",
    "scheduled",
    "dispatched",
    "running",
    "paused",
    "succeeded",
    "failed",
    "cancelled",
)
TERMINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})

# Errors that a long `job_wait` rides out (a console restart, a proxy hiccup).
_TRANSIENT_STATUSES = frozenset({0, 502, 503, 504})
_WAIT_MAX_TRANSIENT = 5


# ------------------------------------------------------------------ errors


class ForgeError(Exception):
    """An API or network error.

    ``status`` is the HTTP status (0 when the console could not be reached),
    ``detail`` a human message, ``field_errors`` maps a field (dotted for nested
    ones, e.g. ``params.steps``) to its messages, ``code`` the API's error code.
    """

    def __init__(
        self,
        status: int,
        detail: str,
        field_errors: Mapping[str, list[str]] | None = None,
        *,
        code: str = "",
    ) -> None:
        self.status = status
        self.detail = detail
        self.field_errors: dict[str, list[str]] = dict(field_errors or {})
        self.code = code
        super().__init__(self.message)

    @property
    def message(self) -> str:
        head = self.detail if self.status == 0 else f"{self.detail} (HTTP {self.status})"
        if self.field_errors:
            head = head.rstrip(".:") + ":"
        lines = [head]
        for name, messages in self.field_errors.items():
            lines.append(f"  {name}: {'; '.join(messages)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.message


class WaitTimeout(Exception):
    """``job_wait`` gave up before the job finished; ``job`` is the last state seen."""

    def __init__(self, job: Job, timeout: float) -> None:
        self.job = job
        self.timeout = timeout
        super().__init__(
            f"Timed out after {timeout:g} s waiting for job {job.id} (still {job.state})."
        )


# ------------------------------------------------------------------ typed results


def _parse_datetime(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


T = TypeVar("T")


def _build(cls: type[T], data: Mapping[str, Any], **overrides: Any) -> T:
    """Build a dataclass from JSON: unknown keys are ignored, missing ones take defaults,
    fields typed ``datetime | None`` are parsed from ISO 8601."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name == "raw" or f.name not in data:
            continue
        value = data[f.name]
        if "datetime" in str(f.type):
            value = _parse_datetime(value)
        values[f.name] = value
    values.update(overrides)
    return cls(**values, raw=dict(data))  # type: ignore[call-arg]


@dataclass
class Me:
    username: str = ""
    roles: list[str] = field(default_factory=list)
    permissions: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class Project:
    slug: str = ""
    name: str = ""
    id: int | None = None
    description: str = ""
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class JobKindField:
    name: str = ""
    type: str = ""
    default: Any = None
    required: bool = False
    help: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class JobKind:
    name: str = ""
    title: str = ""
    description: str = ""
    queue: str = ""
    submit_permission: str = ""
    interruptible: bool = False
    requires_approval: bool = False
    fields: list[JobKindField] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobKind:
        fields = [_build(JobKindField, f) for f in data.get("fields") or []]
        return _build(cls, data, fields=fields)


@dataclass
class Job:
    id: int
    project: str = ""
    kind: str = ""
    name: str = ""
    state: str = ""
    is_terminal: bool = False
    spec: dict[str, Any] = field(default_factory=dict)
    requested_by: str | None = None
    requires_approval: bool = False
    approved_by: str | None = None
    approved_at: datetime | None = None
    not_before: datetime | None = None
    deadline: datetime | None = None
    attempt: int = 0
    max_attempts: int = 0
    progress: int = 0
    progress_message: str = ""
    result: Any = None
    error: str = ""
    created_at: datetime | None = None
    scheduled_at: datetime | None = None
    dispatched_at: datetime | None = None
    started_at: datetime | None = None
    heartbeat_at: datetime | None = None
    finished_at: datetime | None = None
    log_tail: str | None = None  # only in the detail view
    checkpoint: Any = None  # only in the detail view
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Job:
        return _build(cls, data)

    @property
    def terminal(self) -> bool:
        return self.is_terminal or self.state in TERMINAL_STATES

    @property
    def succeeded(self) -> bool:
        return self.state == "succeeded"


@dataclass
class AuditEvent:
    id: int
    created_at: datetime | None = None
    actor_name: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    object_repr: str = ""
    project_id: int | None = None
    before: Any = None
    after: Any = None
    request_id: str = ""
    ip: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


# ------------------------------------------------------------------ error decoding


def _flatten_errors(value: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF field errors, possibly nested ({"params": {"steps": ["..."]}}), as dotted names."""
    out: dict[str, list[str]] = {}
    if isinstance(value, Mapping):
        for key, sub in value.items():
            out.update(_flatten_errors(sub, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list) and all(not isinstance(v, Mapping | list) for v in value):
        out[prefix or "error"] = [str(v) for v in value]
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            out.update(_flatten_errors(sub, f"{prefix}[{i}]"))
    else:
        out[prefix or "error"] = [str(value)]
    return out


_STATUS_HINTS = {
    401: "Authentication failed",
    403: "Permission denied",
    404: "Not found",
    409: "Conflict",
}


def _error_from_response(response: httpx.Response, not_found: str = "") -> ForgeError:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = ""
    code = ""
    field_errors: dict[str, list[str]] = {}
    if isinstance(body, Mapping):
        body = dict(body)
        raw_detail = body.pop("detail", None)
        code = str(body.pop("code", "") or "")
        if raw_detail is not None:
            detail = str(raw_detail)
        field_errors = _flatten_errors(body) if body else {}
        non_field = field_errors.pop("non_field_errors", None)
        if non_field and not detail:
            detail = "; ".join(non_field)
    elif isinstance(body, list):
        detail = "; ".join(str(v) for v in body)
    if status == 401:
        detail = f"Authentication failed: {detail or 'no valid token'} Check your token "
        detail += "(run `forge login`, or set FORGE_TOKEN)."
    elif status == 404 and not_found:
        detail = not_found
    elif not detail and field_errors:
        detail = "Invalid request"
    elif not detail:
        hint = _STATUS_HINTS.get(status, response.reason_phrase or "Request failed")
        if status >= 500:
            detail = f"The console failed ({response.reason_phrase or 'server error'})."
        elif body is None:
            detail = (
                f"{hint}: {response.request.url} did not answer with Forge API JSON; "
                "is the URL the console's base URL?"
            )
        else:
            detail = hint
    return ForgeError(status, detail, field_errors, code=code)


# ------------------------------------------------------------------ the client


def normalize_url(url: str) -> str:
    """The console's base URL, without a trailing slash or an /api/v1 suffix."""
    url = (url or "").strip().rstrip("/")
    if "/api/v1" in url:  # an API address pasted whole: keep the console's base
        url = url[: url.index("/api/v1")].rstrip("/")
    if url and "://" not in url:
        url = f"https://{url}"
    return url


class ForgeClient:
    """``ForgeClient(url, token)``: ``url`` is the console's base URL (e.g.
    ``https://forge.example.org``), ``token`` an API token from the console's
    Tokens page. Use as a context manager, or call ``close()``."""

    def __init__(
        self,
        url: str,
        token: str,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = normalize_url(url)
        if not self.url:
            raise ForgeError(0, "No console URL given.")
        self._http = httpx.Client(
            base_url=self.url + API_PREFIX,
            headers={
                "Authorization": f"Token {token}",
                "Accept": "application/json",
                "User-Agent": f"forge-cli/{VERSION}",
            },
            timeout=timeout,
            transport=transport,
        )

    # -- plumbing

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ForgeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        not_found: str = "",
    ) -> Any:
        """Call ``/api/v1/<path>`` and return the decoded JSON, or raise ForgeError."""
        target = f"{self.url}{API_PREFIX}{path}"
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            response = self._http.request(method, path, params=clean or None, json=json)
        except httpx.TimeoutException as exc:
            raise ForgeError(
                0, f"Timed out talking to the Forge console at {self.url} ({exc})."
            ) from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise ForgeError(0, f"Invalid console URL {self.url!r}: {exc}.") from None
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise ForgeError(
                0,
                f"Cannot reach the Forge console at {self.url} ({reason}). "
                "Check the URL (FORGE_URL or `forge login --url`) and that the console is up.",
            ) from None
        if response.status_code >= 400:
            raise _error_from_response(response, not_found=not_found)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("content-type", "unknown content")
            raise ForgeError(
                response.status_code,
                f"Expected JSON from {target} but got {kind}; "
                "is this URL a Forge console (its base URL, not a page)?",
            ) from None

    def paginate(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[dict]:
        """Every item of a paginated list, page after page (by page number: the
        absolute ``next`` links may name an internal host behind a proxy)."""
        page = 1
        while True:
            body = self.request(
                "GET", path, params={**(params or {}), "page": page, "page_size": PAGE_SIZE}
            )
            if isinstance(body, list):  # an unpaginated list
                yield from body
                return
            yield from body.get("results") or []
            if not body.get("next"):
                return
            page += 1

    # -- account

    def me(self) -> Me:
        return _build(Me, self.request("GET", "me/"))

    # -- projects

    def projects(self) -> list[Project]:
        return [_build(Project, p) for p in self.paginate("projects/")]

    def project(self, slug: str) -> Project:
        data = self.request(
            "GET",
            f"projects/{slug}/",
            not_found=f"Project {slug!r} not found (or you are not a member).",
        )
        return _build(Project, data)

    # -- jobs

    def job_kinds(self) -> list[JobKind]:
        body = self.request("GET", "job-kinds/")
        items = body.get("results", []) if isinstance(body, Mapping) else body
        return [JobKind.from_json(k) for k in items or []]

    def jobs(
        self,
        state: str | Iterable[str] | None = None,
        kind: str | None = None,
        project: str | None = None,
    ) -> Iterator[Job]:
        """Jobs visible to you, newest first, across all pages."""
        if state is not None and not isinstance(state, str):
            state = ",".join(state)
        params = {"state": state, "kind": kind, "project": project}
        for item in self.paginate("jobs/", params):
            yield Job.from_json(item)

    def job(self, job_id: int) -> Job:
        return Job.from_json(
            self.request("GET", f"jobs/{int(job_id)}/", not_found=_job_not_found(job_id))
        )

    def job_submit(
        self,
        *,
        project: str,
        kind: str,
        params: Mapping[str, Any] | None = None,
        name: str | None = None,
        not_before: datetime | str | None = None,
        deadline: datetime | str | None = None,
    ) -> Job:
        payload: dict[str, Any] = {"project": project, "kind": kind, "params": dict(params or {})}
        if name:
            payload["name"] = name
        for key, value in (("not_before", not_before), ("deadline", deadline)):
            if value is not None:
                payload[key] = value.isoformat() if isinstance(value, datetime) else value
        return Job.from_json(self.request("POST", "jobs/", json=payload))

    # -- training runs

    def runs(self, project: str | None = None) -> Iterator[dict]:
        """Training runs visible to you, newest first (as the API returns them)."""
        yield from self.paginate("runs/", {"project": project})

    def run(self, run_id: int) -> dict:
        return self.request(
            "GET",
            f"runs/{int(run_id)}/",
            not_found=f"Run {run_id} not found (or not yours to see).",
        )

    def run_create(self, payload: Mapping[str, Any]) -> dict:
        return self.request("POST", "runs/", json=dict(payload))

    def job_metrics(self, job_id: int, name: str = "", max_points: int = 1000) -> list[dict]:
        """A job's series ({"name", "steps", "values", ...}), downsampled with spikes kept."""
        data = self.request(
            "GET",
            f"jobs/{int(job_id)}/metrics/",
            params={"name": name, "max_points": max_points},
            not_found=_job_not_found(job_id),
        )
        return list(data.get("series", []))

    def run_tensorboard(self, run_id: int, target: Any) -> int:
        """Stream the run's TensorBoard event files (a zip) into ``target`` (a binary
        file); returns the bytes written."""
        written = 0
        try:
            with self._http.stream("GET", f"runs/{int(run_id)}/tensorboard.zip") as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error_from_response(
                        response, not_found=f"Run {run_id} not found (or not yours to see)."
                    )
                for chunk in response.iter_bytes():
                    target.write(chunk)
                    written += len(chunk)
        except httpx.HTTPError as exc:
            raise ForgeError(0, f"Download from {self.url} failed: {exc}.") from None
        return written

    def _job_action(self, job_id: int, action: str, payload: Any = None) -> Job:
        data = self.request(
            "POST", f"jobs/{int(job_id)}/{action}/", json=payload, not_found=_job_not_found(job_id)
        )
        return Job.from_json(data)

    def job_cancel(self, job_id: int) -> Job:
        return self._job_action(job_id, "cancel")

    def job_pause(self, job_id: int) -> Job:
        return self._job_action(job_id, "pause")

    def job_resume(self, job_id: int) -> Job:
        return self._job_action(job_id, "resume")

    def job_approve(self, job_id: int) -> Job:
        return self._job_action(job_id, "approve")

    def job_reject(self, job_id: int, reason: str = "") -> Job:
        return self._job_action(job_id, "reject", {"reason": reason})

    def job_wait(
        self,
        job_id: int,
        timeout: float | None = None,
        interval: float = 2.0,
        on_update: Callable[[Job], None] | None = None,
    ) -> Job:
        """Poll a job until it is terminal and return it.

        ``on_update(job)`` is called on the first poll and whenever the state,
        progress or progress message changes. Raises :class:`WaitTimeout` after
        ``timeout`` seconds (None: wait forever). Brief network errors and 502/503/504
        answers are retried; other errors raise ForgeError.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        last_seen: tuple | None = None
        job: Job | None = None
        failures = 0
        while True:
            try:
                job = self.job(job_id)
                failures = 0
            except ForgeError as exc:
                failures += 1
                if job is None or exc.status not in _TRANSIENT_STATUSES:
                    raise
                if failures > _WAIT_MAX_TRANSIENT:
                    raise
            else:
                seen = (job.state, job.progress, job.progress_message)
                if seen != last_seen:
                    last_seen = seen
                    if on_update is not None:
                        on_update(job)
                if job.terminal:
                    return job
            pause = interval
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeout(job, timeout or 0.0)
                pause = min(interval, remaining)
            time.sleep(max(pause, 0.0))

    # -- audit

    def audit_events(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        object_type: str | None = None,
        object_id: str | int | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> Iterator[AuditEvent]:
        """Audit events, newest first (needs the audit permission)."""
        params: dict[str, Any] = {
            "action": action,
            "actor": actor,
            "object_type": object_type,
            "object_id": None if object_id is None else str(object_id),
        }
        for key, value in (("since", since), ("until", until)):
            if value is not None:
                params[key] = value.isoformat() if isinstance(value, datetime) else value
        for item in self.paginate("audit/", params):
            yield _build(AuditEvent, item)


def _job_not_found(job_id: int) -> str:
    return f"Job {job_id} not found (or not visible to you)."


# ------------------------------------------------------------------ model registry


def _model_not_found(version_id: int) -> str:
    return f"Model version {version_id} not found (or not yours to see)."


def _models_client_methods() -> None:
    """Model registry calls, added to ForgeClient (kept at the end of this module)."""

    def models(self, project: str | None = None, name: str | None = None) -> Iterator[dict]:
        yield from self.paginate("models/", {"project": project, "name": name})

    def model(self, version_id: int) -> dict:
        return self.request(
            "GET", f"models/{int(version_id)}/", not_found=_model_not_found(version_id)
        )

    def model_register(self, *, run: int, step: int, name: str) -> Job:
        data = self.request(
            "POST",
            "models/",
            json={"run": run, "step": step, "name": name},
            not_found=f"Run {run} not found (or not yours to see).",
        )
        return Job.from_json(data)

    def model_evaluate(self, version_id: int, payload: Mapping[str, Any]) -> Job:
        data = self.request(
            "POST",
            f"models/{int(version_id)}/evaluate/",
            json=dict(payload),
            not_found=_model_not_found(version_id),
        )
        return Job.from_json(data)

    def model_quantize(self, version_id: int, payload: Mapping[str, Any]) -> Job:
        data = self.request(
            "POST",
            f"models/{int(version_id)}/quantize/",
            json=dict(payload),
            not_found=_model_not_found(version_id),
        )
        return Job.from_json(data)

    def model_export_onnx(self, version_id: int) -> Job:
        data = self.request(
            "POST",
            f"models/{int(version_id)}/export-onnx/",
            json={},
            not_found=_model_not_found(version_id),
        )
        return Job.from_json(data)

    def model_download(self, version_id: int, target: Any) -> int:
        """Stream the version's zip (with SHA256SUMS) into ``target``; returns bytes."""
        written = 0
        try:
            with self._http.stream("GET", f"models/{int(version_id)}/download/") as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error_from_response(response, not_found=_model_not_found(version_id))
                for chunk in response.iter_bytes():
                    target.write(chunk)
                    written += len(chunk)
        except httpx.HTTPError as exc:
            raise ForgeError(0, f"Download from {self.url} failed: {exc}.") from None
        return written

    def model_feedback(self, version_id: int, filters: Mapping[str, Any]) -> Iterator[dict]:
        yield from self.paginate(f"models/{int(version_id)}/feedback/", filters)

    def model_rate(self, version_id: int, payload: Mapping[str, Any]) -> dict:
        return self.request(
            "POST",
            f"models/{int(version_id)}/feedback/",
            json=dict(payload),
            not_found=_model_not_found(version_id),
        )

    def model_feedback_export(
        self, version_id: int, layout: str, filters: Mapping[str, Any], target: Any
    ) -> int:
        """Stream the feedback's JSONL training rows into ``target``; returns rows."""
        rows = 0
        params = {k: v for k, v in {**filters, "layout": layout}.items() if v}
        path = f"models/{int(version_id)}/feedback/export/"
        try:
            with self._http.stream("GET", path, params=params) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error_from_response(response, not_found=_model_not_found(version_id))
                for line in response.iter_lines():
                    if line:
                        target.write(line + "\n")
                        rows += 1
        except httpx.HTTPError as exc:
            raise ForgeError(0, f"Download from {self.url} failed: {exc}.") from None
        return rows

    for method in (
        models,
        model,
        model_register,
        model_evaluate,
        model_quantize,
        model_export_onnx,
        model_download,
        model_feedback,
        model_rate,
        model_feedback_export,
    ):
        setattr(ForgeClient, method.__name__, method)


_models_client_methods()
