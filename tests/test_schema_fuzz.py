"""RELIABILITY S4: every API operation x every role, fuzzed from the OpenAPI schema.

Schemathesis generates requests from the schema drf-spectacular serves at /api/schema/ and
sends them in-process to the real WSGI application (``console.wsgi.application``), as each
persona: anonymous, the outsider (logged in, no role), every role of project alpha, and a
GPU node (agent token). Every response must:

- never be a 5xx, nor an exception turned into one;
- conform to the schema where the schema documents it (content type, headers, body);
- be JSON, like every /api/ answer;
- on the user API: 401 (with WWW-Authenticate) for the anonymous client and for a node
  token, 403 for the outsider; for a member never a 401, never a 2xx without the
  capability the operation needs, and a 404 (not a 403) for another team's job or
  project or another user's token;
- on the agent API: 401 for every user token, and never a 401 for the node's own token.

Generated requests are steered, half of the time, to the seeded objects (alpha's jobs in
every state, beta's job, the node, the caller's and another user's token), and free-form
JSON bodies (a job's params, the agent's register/heartbeat/ingest payloads) follow their
documented shapes with values at the edges of the columns and of float.

Each generated request runs in a savepoint that is rolled back, so a request that succeeds
(a job submitted or cancelled, the caller's own token revoked, a node disabled) cannot change
what the next example sees. Examples are seeded and bounded: a run is reproducible and
takes well under a minute. FORGE_FUZZ_SCALE=10 runs ten times as many examples. What the
fuzz found is pinned in test_fuzz_findings_stay_fixed.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import zlib
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import schemathesis
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections, transaction
from django.urls import Resolver404, resolve
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)

from console import urls
from console.accounts.services import api_token_create
from console.core.api import api_not_found
from console.core.roles import Cap, caps_for
from console.fleet import services as fleet_services
from console.fleet.models import Gpu
from console.jobs.models import JobState
from console.wsgi import application
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db

RAW_SCHEMA: dict[str, Any] = json.loads(
    OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True))
)
SCHEMA = schemathesis.openapi.from_dict(RAW_SCHEMA)
OPERATIONS = sorted(
    (path, method.upper())
    for path, item in RAW_SCHEMA["paths"].items()
    for method in item
    if method in {"get", "post", "put", "patch", "delete"}
)
AGENT_PREFIX = "/api/agent/"
CHECKS = [
    not_a_server_error,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

MEMBERS = ["viewer", "data_engineer", "ml_engineer", "reviewer", "admin"]
PERSONAS = ["anonymous", "outsider", *MEMBERS, "node"]
# Examples per operation. Refusals need few; members get more, and negative (schema-
# violating) data too. The node persona fuzzes the agent API only (elsewhere it is refused).
SCALE = float(os.environ.get("FORGE_FUZZ_SCALE", "1"))
EXAMPLES = {"viewer": 6, "data_engineer": 3, "ml_engineer": 8, "reviewer": 4, "admin": 6}
REFUSED_EXAMPLES = 3
AGENT_EXAMPLES = 25
MEMBER_STATUSES = {200, 201, 400, 403, 404, 409, 415}
AGENT_STATUSES = {200, 400, 403, 404, 409, 413, 415}

# The capability without which an operation must never answer 2xx (seeded jobs were all
# requested by the ML engineer, so "cancel your own job" never applies to the others).
NEEDS: dict[tuple[str, str], Cap] = {
    ("/api/v1/audit/", "GET"): Cap.AUDIT_VIEW,
    ("/api/v1/jobs/", "POST"): Cap.JOBS_SUBMIT,
    ("/api/v1/jobs/{job_id}/cancel/", "POST"): Cap.JOBS_MANAGE,
    ("/api/v1/jobs/{job_id}/pause/", "POST"): Cap.JOBS_MANAGE,
    ("/api/v1/jobs/{job_id}/resume/", "POST"): Cap.JOBS_MANAGE,
    ("/api/v1/jobs/{job_id}/approve/", "POST"): Cap.REVIEW,
    ("/api/v1/jobs/{job_id}/reject/", "POST"): Cap.REVIEW,
    ("/api/v1/nodes/", "POST"): Cap.FLEET_MANAGE,
    ("/api/v1/nodes/{name}/token/", "POST"): Cap.FLEET_MANAGE,
    ("/api/v1/nodes/{name}/revoke/", "POST"): Cap.FLEET_MANAGE,
    ("/api/v1/nodes/{name}/enable/", "POST"): Cap.FLEET_MANAGE,
    ("/api/v1/nodes/{name}/disable/", "POST"): Cap.FLEET_MANAGE,
    ("/api/v1/reviews/{review_id}/approve/", "POST"): Cap.REVIEW,
    ("/api/v1/reviews/{review_id}/reject/", "POST"): Cap.REVIEW,
    ("/api/v1/reviews/{review_id}/request-changes/", "POST"): Cap.REVIEW,
    ("/api/v1/reviews/{review_id}/submit/", "POST"): Cap.TRAINING_WRITE,
}
# Of those, the ones a permission check guards before anything else: exactly 403.
GUARDED = {op for op in NEEDS if not op[0].startswith("/api/v1/jobs/")}

# Values at the edges of the columns and of float (the usual causes of a 500 here), or any
# other JSON. Mapped, so that one_of(x, HOSTILE) does not flatten HOSTILE's branches into x's.
EXTREME = st.sampled_from([-1, 0, 2**31, 2**63, 10**30, 10**400, 1e300, -1e300, "", "1"])
OTHER_JSON = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=4), st.integers(), max_size=2)
).map(lambda value: value)
HOSTILE = st.one_of(EXTREME, OTHER_JSON).map(lambda value: value)
INT = st.integers() | EXTREME.filter(lambda value: isinstance(value, int))


def _shaped(template) -> st.SearchStrategy:
    """Values of a template's shape (all keys or some, lists of one item shape), with a
    hostile value in place of a part now and then."""
    if isinstance(template, dict):
        fields = {key: _shaped(value) for key, value in template.items()}
        whole, some = st.fixed_dictionaries(fields), st.fixed_dictionaries({}, optional=fields)
        return st.one_of(whole, whole, some, HOSTILE)
    if isinstance(template, list):
        items = st.lists(_shaped(template[0]), min_size=1, max_size=3)
        return st.one_of(items, items, items, HOSTILE)
    return st.one_of(template, template, template, HOSTILE)


# The agent API's bodies are free-form objects in the schema; these follow their documented
# shape (gpu_agent.spec) with hostile values, so the fuzz reaches the code that reads them.
AGENT_BODIES = {
    "/api/agent/v1/register/": {
        "agent_version": st.text(max_size=8),
        "inventory": {
            "hostname": HOSTILE,
            "cpu_count": INT,
            "memory_mib": INT,
            "platform": HOSTILE,
            "nvml_error": HOSTILE,
            "gpus": [{"index": INT, "model": HOSTILE, "memory_mib": INT, "driver": HOSTILE}],
        },
    },
    "/api/agent/v1/heartbeat/": {
        "running": [{"job": INT, "attempt": INT}],
        "host": {"cpu_util": HOSTILE, "mem_used_mib": HOSTILE},
        "spool": {"pending": HOSTILE, "quarantined": HOSTILE},
    },
    "/api/agent/v1/ingest/": {
        "records": [
            {
                "job": st.none() | INT,  # None, attempt 0: the node's telemetry stream
                "attempt": st.just(0) | INT,
                "seq": INT,
                "type": st.sampled_from(["metric", "log", "progress", "status", "telemetry"]),
                "at": st.floats(allow_nan=False) | INT,
                "data": {
                    "step": INT,
                    "values": {"loss": HOSTILE},
                    "stream": HOSTILE,
                    "line": HOSTILE,
                    "percent": HOSTILE,
                    "message": HOSTILE,
                    "checkpoint": HOSTILE,
                    "state": st.sampled_from(["running", "succeeded", "failed", "interrupted"]),
                    "exit_code": HOSTILE,
                    "reason": HOSTILE,
                    "gpus": [
                        {
                            "index": st.integers(0, 1) | INT,
                            "util": HOSTILE,
                            "mem_used_mib": HOSTILE,
                            "power_w": HOSTILE,
                            "temp_c": HOSTILE,
                        }
                    ],
                },
            }
        ]
    },
}


# demo.count's spec (gpu_agent.spec.DemoCountSpec): mostly valid, so jobs get submitted.
DEMO_PARAMS = _shaped(
    {
        "steps": st.integers(1, 50),
        "step_seconds": st.floats(0, 1),
        "fail_at_step": st.none() | st.integers(1, 50),
    }
)


def _agent_body(path: str) -> st.SearchStrategy:
    fields = AGENT_BODIES.get(path, {})
    return st.fixed_dictionaries({key: _shaped(value) for key, value in fields.items()})


def test_every_api_route_is_in_the_schema():
    """What is not in the schema is not fuzzed: every route of both APIs must be there."""
    paths = RAW_SCHEMA["paths"]
    assert len([p for p in paths if p.startswith("/api/v1/")]) == len(urls.api_v1)
    assert len([p for p in paths if p.startswith(AGENT_PREFIX)]) == len(urls.agent_v1)


def test_served_schema_needs_a_member(personas, api):
    assert api().get("/api/schema/").status_code == 401
    assert api(personas.outsider).get("/api/schema/").status_code == 403
    served = api(personas.viewer).get("/api/schema/?format=json")
    assert served.status_code == 200
    assert set(json.loads(served.content)["paths"]) == set(RAW_SCHEMA["paths"])


@pytest.fixture
def wsgi_app():
    """The real WSGI app, called inside the test's transaction.

    Django closes the database connection at the start and end of every request when it is
    not in autocommit, which would throw the test's transaction away; Django's test client
    unhooks the same handler for the same reason. Exceptions that Django turned into a 500
    are kept so that a failure shows them.
    """
    errors: list[BaseException | None] = []

    def record(sender, **kwargs):
        errors.append(sys.exc_info()[1])

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    got_request_exception.connect(record)
    try:
        yield application, errors
    finally:
        got_request_exception.disconnect(record)
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def world(personas):
    """Jobs in every interesting state in alpha, one in beta, a node, another user's token."""
    ml, reviewer = personas.ml_engineer, personas.reviewer
    alpha, beta = personas.project, personas.other_project
    now = timezone.now()
    jobs = [
        JobFactory(project=alpha, requested_by=ml),
        JobFactory(
            project=alpha,
            requested_by=ml,
            state=JobState.AWAITING_APPROVAL,
            requires_approval=True,
        ),
        JobFactory(project=alpha, requested_by=ml, state=JobState.RUNNING, attempt=1),
        JobFactory(project=alpha, requested_by=ml, state=JobState.PAUSED, attempt=1),
        JobFactory(
            project=alpha,
            requested_by=ml,
            state=JobState.SUCCEEDED,
            requires_approval=True,
            approved_by=reviewer,
            approved_at=now,
            result={"steps": 3},
            finished_at=now,
        ),
        JobFactory(project=alpha, requested_by=None, state=JobState.FAILED, error="lost"),
    ]
    beta_job = JobFactory(project=beta, requested_by=personas.stranger)
    node = fleet_services.node_create(actor=personas.admin, name="gpu-01")
    Gpu.objects.create(node=node.node, index=0, model="H200", memory_mib=143_771)
    return {
        "job_ids": [job.pk for job in jobs],
        "beta_job_id": beta_job.pk,
        "their_token_id": api_token_create(user=personas.stranger, name="theirs").token.pk,
        "node_name": node.node.name,
        "node_key": node.key,
    }


def _login(personas, world, name: str) -> tuple[Any, dict[str, str], int | None]:
    """(user, headers, own token id) for a persona."""
    if name == "anonymous":
        return None, {}, None
    if name == "node":
        return None, {"Authorization": f"Node {world['node_key']}"}, None
    issued = api_token_create(user=getattr(personas, name), name="fuzz")
    return issued.token.user, {"Authorization": f"Token {issued.key}"}, issued.token.pk


def _cases(path: str, method: str, negative: bool, world: dict, own_token_id: int | None):
    """Generated cases, with overrides that steer them to the seeded objects half the time."""
    operation = SCHEMA[path][method]
    modes = [GenerationMode.POSITIVE]
    if negative and (operation.path_parameters or operation.query or operation.body):
        modes.append(GenerationMode.NEGATIVE)
    token_ids = [world["their_token_id"], *([own_token_id] if own_token_id else [])]
    agent_body = st.deferred(lambda: _agent_body(path))  # deferred: a short repr
    steer = st.fixed_dictionaries(
        {
            "job_id": st.none() | st.sampled_from([*world["job_ids"], world["beta_job_id"]]),
            "slug": st.none() | st.sampled_from(["alpha", "beta"]),
            "name": st.none() | st.just(world["node_name"]),
            "token_id": st.none() | st.sampled_from(token_ids),
            "submit": st.none()
            | st.fixed_dictionaries(
                {
                    "project": st.sampled_from(["alpha", "beta"]),
                    "kind": st.just("demo.count"),
                    "params": DEMO_PARAMS,
                }
            ),
            "agent_body": st.one_of(agent_body, agent_body, agent_body, st.none()),
            "first_page": st.booleans(),
            "drop_auth": st.booleans(),
        }
    )
    cases = st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in modes))
    return st.tuples(cases, steer)


def _steer(case, steer: dict) -> None:
    path = case.operation.path
    params = case.path_parameters or {}
    for key in ("job_id", "slug", "name", "token_id"):
        if key in params and steer[key] is not None:
            params[key] = steer[key]
    if steer["first_page"] and case.query and "page" in case.query:
        del case.query["page"]  # a random page number is mostly a 404 for a short list
    # Nested values (a job's params, an agent's records) only travel as JSON.
    body = case.body if isinstance(case.body, dict) else {}
    if path == "/api/v1/jobs/" and steer["submit"] is not None and body:
        case.body, case.media_type = {**body, **steer["submit"]}, "application/json"
    if path.startswith(AGENT_PREFIX) and steer["agent_body"] is not None:
        case.body, case.media_type = {**body, **steer["agent_body"]}, "application/json"
    if path == "/api/agent/v1/register/" and isinstance(case.body, dict) and steer["name"]:
        case.body = {**case.body, "name": steer["name"]}  # register as the token's node


def _routed(response) -> bool:
    """Whether the request reached an API view (a negative id, say, does not)."""
    try:
        match = resolve(unquote(urlsplit(response.request.url).path))
    except Resolver404:
        return False
    return match.func is not api_not_found


def _expect(name, user, path, method, case, response, world) -> None:
    """What this persona may get from this operation."""
    status = response.status_code
    url = response.request.url
    where = f"{name}: {method} {url} -> {status} {response.text[:300]}"
    content_type = (response.headers.get("content-type") or [""])[0]
    assert not response.content or content_type.startswith("application/json"), where
    if not _routed(response):
        assert status == 404, where
        return
    agent_api = path.startswith(AGENT_PREFIX)
    if name == "node":
        if agent_api:
            assert status in AGENT_STATUSES, where
            return
        name = "anonymous"  # a node token is no user credential
    elif agent_api:
        name = "anonymous"  # and a user credential is no node token
    if name == "anonymous":
        assert status == 401, where
        assert response.headers.get("www-authenticate"), where
        return
    if name == "outsider":
        assert status == 403, where
        return
    assert status in MEMBER_STATUSES, where
    caps = caps_for(user)
    need = NEEDS.get((path, method))
    if need is not None and need not in caps:
        assert status >= 400, f"{where} without {need.value}"
        if (path, method) in GUARDED:
            assert status == 403, where
    params = case.path_parameters or {}
    if Cap.ADMIN not in caps:
        if params.get("job_id") == world["beta_job_id"] or params.get("slug") == "beta":
            assert status == 404, f"{where}: another team's object must not be visible"
        body = case.body if isinstance(case.body, dict) else {}
        if path == "/api/v1/jobs/" and method == "POST" and body.get("project") == "beta":
            assert status in {400, 403}, f"{where}: submitted to another team's project"
    if params.get("token_id") == world["their_token_id"]:
        assert status == 404, f"{where}: another user's token"


def _budget(name: str, path: str) -> int:
    agent_api = path.startswith(AGENT_PREFIX)
    if name == "node":
        examples = AGENT_EXAMPLES if agent_api else REFUSED_EXAMPLES
    elif agent_api or name not in EXAMPLES:
        examples = REFUSED_EXAMPLES
    else:
        examples = EXAMPLES[name]
    return max(1, round(examples * SCALE))


def _fuzz(name, path, method, app, errors, personas, world) -> None:
    user, auth, own_token_id = _login(personas, world, name)
    examples = _budget(name, path)
    # Schema-violating data as well, where the persona gets past authentication and roles.
    negative = name == "node" if path.startswith(AGENT_PREFIX) else name in MEMBERS

    @seed(zlib.crc32(f"{name} {method} {path}".encode()))  # reproducible, varied by persona
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(drawn=_cases(path, method, negative, world, own_token_id))
    def run(drawn):
        case, steer = drawn
        _steer(case, steer)
        if steer["drop_auth"] and case.headers:  # the generated credential, or none at all
            case.headers.pop("Authorization", None)
        errors.clear()
        with transaction.atomic():
            response = case.call(app=app, headers=auth)
            sent = f"{case.path_parameters} {case.query} {case.media_type} {case.body!r:.500}"
            assert not errors, f"{method} {path} raised {errors[0]!r}; sent {sent}"
            case.validate_response(response, checks=CHECKS)
            _expect(name, user, path, method, case, response, world)
            transaction.set_rollback(True)

    run()


@pytest.mark.filterwarnings("error::django.core.paginator.UnorderedObjectListWarning")
# Schemathesis' strategies for free-form (negative) bodies have huge reprs; harmless.
@pytest.mark.filterwarnings("ignore:Generating overly large repr::hypothesis")
@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_fuzz(personas, world, wsgi_app, path, method):
    """One operation as every persona; every persona runs even when another fails."""
    app, errors = wsgi_app
    failures = []
    for name in PERSONAS:
        try:
            _fuzz(name, path, method, app, errors, personas, world)
        except Exception as exc:
            report = "".join(traceback.format_exception_only(exc))
            failures.append(f"--- as {name}:\n{report}")
    assert not failures, "\n".join(failures)


# What the fuzz found, pinned: each was a 500 (the first a 403 CSRF failure).
def _telemetry(**fields) -> dict:
    record = {"job": None, "attempt": 0, "seq": 1, "type": "telemetry", "at": 1.7e9}
    return {"records": [{**record, "data": {"gpus": [{"index": 0, "util": 50}]}, **fields}]}


HUGE, LINE = 10**400, {"line": "x"}  # an integer beyond float; a log record's data
FOUND = [
    ("ml_engineer", "/api/v1/jobs/-1/cancel/", None, 404),
    ("ml_engineer", "/api/v1/jobs/", {"params": {"step_seconds": HUGE}}, 400),
    ("node", "/api/agent/v1/register/", {"inventory": {"cpu_count": -1}}, 400),
    ("node", "/api/agent/v1/register/", {"inventory": {"memory_mib": "lots"}}, 400),
    ("node", "/api/agent/v1/register/", {"inventory": {"gpus": [{"index": 2**70}]}}, 400),
    ("node", "/api/agent/v1/heartbeat/", {"running": [{"job": None}]}, 400),
    ("node", "/api/agent/v1/ingest/", _telemetry(at=1e300), 400),
    ("node", "/api/agent/v1/ingest/", _telemetry(seq=2**70), 400),
    ("node", "/api/agent/v1/ingest/", _telemetry(data={"gpus": [{"index": 0, "util": HUGE}]}), 400),
    ("node", "/api/agent/v1/ingest/", _telemetry(type="log", job=1, attempt=2**70, data=LINE), 400),
    ("node", "/api/agent/v1/ingest/", _telemetry(), 200),  # and a sane record still goes in
]


@pytest.mark.parametrize(("name", "path", "body", "status"), FOUND)
def test_fuzz_findings_stay_fixed(personas, world, api, name, path, body, status):
    if name == "node":
        client = api()
        client.credentials(HTTP_AUTHORIZATION=f"Node {world['node_key']}")
    else:
        client = api(getattr(personas, name))
    if path == "/api/v1/jobs/":
        body = {"project": "alpha", "kind": "demo.count", **body}
    if path == "/api/agent/v1/register/":
        body = {"name": world["node_name"], **body}
    response = client.post(path, body, format="json")
    assert response.status_code == status, response.content
