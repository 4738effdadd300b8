"""RELIABILITY S4: every API operation x every role, fuzzed from the OpenAPI schema.

Schemathesis generates requests from the schema drf-spectacular serves at /api/schema/
and sends them in-process to the real WSGI application (``console.wsgi.application``),
as each persona: anonymous, the outsider (logged in, no role) and every role of project
alpha. Every response must:

- never be a 5xx;
- conform to the schema where it is documented (content type, headers, body schema);
- be JSON, like every /api/ answer;
- for the anonymous client: be a 401 asking for a token; for the outsider: a 403;
- for a member: never a 401, never a 2xx without the capability the operation needs,
  and a 404 (not a 403) for another team's job, project or token.

Each generated request runs in a savepoint that is rolled back, so a request that succeeds
(a job submitted, a job cancelled, the caller's own token revoked) cannot change what the
next example sees. Examples are derandomized and bounded, so a run is reproducible and fast.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections, transaction
from django.urls import Resolver404, resolve
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)

from console.accounts.roles import Cap, caps_for
from console.accounts.services import api_token_create
from console.jobs.models import JobState
from console.wsgi import application
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db

RAW_SCHEMA: dict[str, Any] = json.loads(
    OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True))
)
SCHEMA = schemathesis.openapi.from_dict(RAW_SCHEMA)
OPERATIONS = [
    (method.upper(), path)
    for path, item in RAW_SCHEMA["paths"].items()
    for method in item
    if method in {"get", "post", "put", "patch", "delete"}
]
CHECKS = [
    not_a_server_error,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
MEMBER_STATUSES = {200, 201, 400, 403, 404, 409}

# The capability without which an operation must never answer 2xx.
NEEDS: dict[tuple[str, str], Cap] = {
    ("GET", "/api/v1/audit/"): Cap.AUDIT_VIEW,
    ("POST", "/api/v1/jobs/"): Cap.JOBS_SUBMIT,
    ("POST", "/api/v1/jobs/{job_id}/cancel/"): Cap.JOBS_MANAGE,  # seeded jobs: not theirs
    ("POST", "/api/v1/jobs/{job_id}/pause/"): Cap.JOBS_MANAGE,
    ("POST", "/api/v1/jobs/{job_id}/resume/"): Cap.JOBS_MANAGE,
    ("POST", "/api/v1/jobs/{job_id}/approve/"): Cap.REVIEW,
    ("POST", "/api/v1/jobs/{job_id}/reject/"): Cap.REVIEW,
}
# Operations a permission class guards: without the capability, exactly 403.
GUARDED = {("GET", "/api/v1/audit/")}

PERSONAS = ["anonymous", "outsider", "viewer", "data_engineer", "ml_engineer", "reviewer", "admin"]
FEW = 8  # examples per operation for the anonymous client and the outsider: all refused
MANY = 20  # examples per operation for members

VALID_PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "steps": st.integers(1, 50),
        "step_seconds": st.floats(0, 1),
        "fail_at_step": st.none() | st.integers(1, 50),
    },
)


def test_schema_has_every_api_operation():
    assert len(OPERATIONS) == 16
    assert all(path.startswith("/api/v1/") for _, path in OPERATIONS)


def test_served_schema_needs_a_member(personas, api):
    assert api().get("/api/schema/").status_code == 401
    assert api(personas.outsider).get("/api/schema/").status_code == 403
    served = api(personas.viewer).get("/api/schema/?format=json")
    assert served.status_code == 200
    assert set(json.loads(served.content)["paths"]) == set(RAW_SCHEMA["paths"])


@pytest.fixture
def wsgi_app():
    """The real WSGI app, called in the test's transaction.

    Django closes the database connection at the start and end of each request unless it
    is in its autocommit default; inside the test's transaction that would lose it. Django's
    test client unhooks the same signals for the same reason. Exceptions that became a 500
    are collected so a failure can show the traceback.
    """
    errors: list[BaseException] = []

    def record(sender, request=None, **kwargs):
        import sys

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
    """Jobs in every interesting state in alpha, one in beta, and tokens to steal."""
    ml, reviewer = personas.ml_engineer, personas.reviewer
    alpha, beta = personas.project, personas.other_project
    now = timezone.now()
    jobs = {
        "queued": JobFactory(project=alpha, requested_by=ml),
        "awaiting": JobFactory(
            project=alpha,
            requested_by=ml,
            state=JobState.AWAITING_APPROVAL,
            requires_approval=True,
        ),
        "running": JobFactory(project=alpha, requested_by=ml, state=JobState.RUNNING, attempt=1),
        "paused": JobFactory(project=alpha, requested_by=ml, state=JobState.PAUSED, attempt=1),
        "succeeded": JobFactory(
            project=alpha,
            requested_by=ml,
            state=JobState.SUCCEEDED,
            requires_approval=True,
            approved_by=reviewer,
            approved_at=now,
            result={"steps": 3},
            finished_at=now,
        ),
        "orphan": JobFactory(project=alpha, requested_by=None, state=JobState.FAILED, error="x"),
        "beta": JobFactory(project=beta, requested_by=personas.stranger),
    }
    stranger_token = api_token_create(user=personas.stranger, name="theirs").token
    return jobs, stranger_token


def _identity(personas, name: str):
    if name == "anonymous":
        return None, {}
    user = getattr(personas, name)
    issued = api_token_create(user=user, name="fuzz")
    return user, {"Authorization": f"Token {issued.key}"}, issued.token


def _resolves_to_operation(path: str) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return match.url_name != "api_not_found" and match.func.__name__ != "api_not_found"


def _strategy(method: str, path: str, name: str, jobs: dict, own_token_id, their_token_id):
    """Cases for one operation, steered towards the seeded objects half of the time."""
    operation = SCHEMA[path][method]
    has_inputs = bool(operation.path_parameters or operation.query or operation.body)
    modes = [GenerationMode.POSITIVE]
    if name not in {"anonymous", "outsider"} and has_inputs:
        modes.append(GenerationMode.NEGATIVE)
    cases = st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in modes))
    job_ids = [job.pk for job in jobs.values()]
    overrides = st.fixed_dictionaries(
        {
            "job_id": st.none() | st.sampled_from(job_ids),
            "slug": st.none() | st.sampled_from(["alpha", "beta"]),
            "token_id": st.none() | st.sampled_from([own_token_id, their_token_id]),
            "submit": st.none()
            | st.fixed_dictionaries(
                {
                    "project": st.sampled_from(["alpha", "beta"]),
                    "kind": st.just("demo.count"),
                    "params": VALID_PARAMS,
                }
            ),
            "no_auth_header": st.booleans(),
        }
    )
    return st.tuples(cases, overrides)


def _steer(case, overrides: dict) -> None:
    params = case.path_parameters or {}
    for key in ("job_id", "slug", "token_id"):
        if key in params and overrides[key] is not None:
            params[key] = overrides[key]
    if overrides["submit"] is not None and isinstance(case.body, dict) and "kind" in case.body:
        case.body = {**case.body, **overrides["submit"]}


def _expect(name, user, method, path, case, response, jobs, their_token_id) -> None:
    """The access-control expectations for one response."""
    status = response.status_code
    url = response.request.url.split("?")[0].split("localhost", 1)[-1]
    routed = _resolves_to_operation(url)
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), (status, content_type, url)
    if not routed:  # e.g. a negative job id: the JSON 404 of unknown API routes
        assert status == 404, (status, url)
        return
    if name == "anonymous":
        assert status == 401, (status, url)
        assert response.headers.get("www-authenticate") == ["Token"]
        return
    if name == "outsider":
        assert status == 403, (status, url)
        return
    assert status in MEMBER_STATUSES, (status, url, response.text[:300])
    caps = caps_for(user)
    need = NEEDS.get((method, path))
    if need is not None and need not in caps:
        assert status >= 400, (f"{name} lacks {need.value} but got {status}", url)
        if (method, path) in GUARDED:
            assert status == 403, (status, url)
    params = case.path_parameters or {}
    if Cap.ADMIN not in caps:
        if params.get("job_id") == jobs["beta"].pk or params.get("slug") == "beta":
            assert status == 404, (f"{name} sees another team's object: {status}", url)
        if method == "POST" and path == "/api/v1/jobs/" and isinstance(case.body, dict):
            if case.body.get("project") == "beta":
                assert status in {400, 403}, (status, url)
    if params.get("token_id") == their_token_id:
        assert status == 404, (f"{name} reached another user's token: {status}", url)


@pytest.mark.parametrize("name", PERSONAS)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_fuzz(personas, world, wsgi_app, name, method, path):
    app, errors = wsgi_app
    jobs, their_token = world
    identity = _identity(personas, name)
    user, auth = identity[0], identity[1]
    own_token_id = identity[2].pk if len(identity) > 2 else their_token.pk
    strategy = _strategy(method, path, name, jobs, own_token_id, their_token.pk)
    examples = FEW if name in {"anonymous", "outsider"} else MANY

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(drawn=strategy)
    def run(drawn):
        case, overrides = drawn
        _steer(case, overrides)
        headers = dict(auth)
        if name == "anonymous" and overrides["no_auth_header"] and case.headers:
            case.headers.pop("Authorization", None)
        errors.clear()
        with transaction.atomic():
            response = case.call(app=app, headers=headers)
            assert not errors, f"unhandled exception: {errors[0]!r}"
            case.validate_response(response, checks=CHECKS)
            _expect(name, user, method, path, case, response, jobs, their_token.pk)
            transaction.set_rollback(True)

    run()
