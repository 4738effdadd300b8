"""Ids out of the 64-bit range, on every route and in every id filter (issue 14, item 4).

``GET /data/jobs/99999999999999999999/output/`` was a 500: SQLite cannot bind an integer
past 2**63 - 1. Every id in a URL now goes through ``<id:...>`` (console.core.ids), which
matches 1 to 2**63 - 1 only, so such a URL is a 404 before any view runs; id filters in
query strings are a 400 naming the parameter. The walk below covers every route the
resolver knows (the admin's included), so a route added later is covered too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import PathConverter, SlugConverter
from django.urls.resolvers import RegexPattern

from console.core.ids import MAX_ID, IdConverter

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999"  # the id of the report: 20 digits
OUT_OF_RANGE = [HUGE, str(2**63), "0", "-1", "1" * 400]
IN_RANGE_NOWHERE = str(MAX_ID)  # a valid id that names no row: the view runs, finds nothing
ADMIN_IDS = {"object_id", "id"}
PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


@dataclass(frozen=True)
class Route:
    template: str  # "data/jobs/<id:job_id>/output/"
    converters: dict  # parameter name -> converter instance

    @property
    def id_params(self) -> list[str]:
        return [n for n, c in self.converters.items() if isinstance(c, IdConverter)]

    @property
    def admin_object(self) -> bool:
        """Django's admin names its objects <path:object_id> (or <id> for a user's password)."""
        return self.template.startswith("admin/") and bool(ADMIN_IDS & set(self.converters))

    def url(self, value: str) -> str:
        """The route with every id (and the admin's object_id) set to ``value``."""

        def fill(m: re.Match) -> str:
            name, converter = m["name"], self.converters[m["name"]]
            if isinstance(converter, IdConverter) or (self.admin_object and name in ADMIN_IDS):
                return value
            if isinstance(converter, SlugConverter):
                return "cancel" if name == "action" else "x"
            if isinstance(converter, PathConverter):
                return "config.json"
            return "x"

        return "/" + PARAM.sub(fill, self.template)


def _walk(patterns, prefix: str = "", converters: dict | None = None):
    for p in patterns:
        template = prefix + str(p.pattern)
        found = {**(converters or {}), **getattr(p.pattern, "converters", {})}
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, template, found)
        elif isinstance(p, URLPattern):
            yield p, Route(template, found)


ALL = list(_walk(get_resolver().url_patterns))
WITH_IDS = [route for _, route in ALL if route.id_params or route.admin_object]


def test_every_id_in_a_route_is_an_id_converter():
    """A new route written with <int:...>, <str:...> or a regex group for an id fails here."""
    wrong = []
    for pattern, route in ALL:
        if isinstance(pattern.pattern, RegexPattern) and re.search(
            r"\(\?P<\w*id>", pattern.pattern._regex
        ):
            wrong.append(route.template)
        for name, converter in route.converters.items():
            is_id = name == "id" or name.endswith("_id")
            if is_id and not isinstance(converter, IdConverter) and not route.admin_object:
                wrong.append(f"{route.template} ({name}: {type(converter).__name__})")
    assert wrong == []
    assert len(WITH_IDS) > 150  # the console's routes and the admin's object pages


@pytest.fixture
def admin_client(personas) -> Client:
    admin = personas.admin
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client = Client()
    client.force_login(admin)
    return client


@pytest.mark.parametrize("route", WITH_IDS, ids=[r.template for r in WITH_IDS])
def test_no_id_is_a_server_error(admin_client, route):
    """Every route with an id, as a logged-in admin (who passes every permission check),
    GET and POST, with ids past 64 bits, 0, -1 and the largest valid id."""
    for value in [*OUT_OF_RANGE, IN_RANGE_NOWHERE]:
        url = route.url(value)
        for method in ("get", "post"):
            response = getattr(admin_client, method)(url)
            assert response.status_code < 500, (method, url, response.status_code)
            if route.id_params and value in OUT_OF_RANGE:
                # The route does not match: 404 before any view (the API's own 404 is JSON).
                assert response.status_code == 404, (method, url, response.status_code)


def test_the_reported_url_is_a_404(admin_client):
    assert admin_client.get(f"/data/jobs/{HUGE}/output/").status_code == 404
    assert admin_client.get(f"/api/v1/jobs/{HUGE}/").json() == {
        "detail": f"No API route /api/v1/jobs/{HUGE}/."
    }


def test_reverse_refuses_an_id_out_of_range():
    from django.urls import NoReverseMatch, reverse

    assert reverse("data:job_output", kwargs={"job_id": MAX_ID}) == f"/data/jobs/{MAX_ID}/output/"
    for bad in (0, -1, 2**63):
        with pytest.raises(NoReverseMatch):
            reverse("data:job_output", kwargs={"job_id": bad})


# ------------------------------------------------------------------ query parameters

# The API's list filters that take ids: a bad id is a 400 naming the filter.
ID_FILTERS = [
    ("/api/v1/reviews/", "version"),
    ("/api/v1/dataset-versions/", "dataset"),
    ("/api/v1/tokenizers/", "version"),
    ("/api/v1/corpora/", "version"),
]
BAD_IDS = [HUGE, str(2**63), "0", "-1", "²", "1e3", " 1", "abc"]


@pytest.mark.parametrize(("path", "name"), ID_FILTERS)
def test_list_api_id_filters_refuse_a_bad_id(api, personas, path, name):
    client = api(personas.admin)
    for raw in BAD_IDS:
        response = client.get(path, {name: raw})
        assert response.status_code == 400, (path, name, raw, response.status_code)
        assert name in response.json(), response.json()
    assert client.get(path, {name: str(MAX_ID)}).status_code == 200  # valid, matches nothing
    assert client.get(path, {name: str(MAX_ID)}).json()["results"] == []


def _schema_query_params() -> list[tuple[str, str]]:
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    schema = json.loads(
        OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True))
    )
    found = []
    for path, item in schema["paths"].items():
        op = item.get("get")
        if op is None or "{" in path:  # paths with ids are covered by the route walk
            continue
        found += [(path, p["name"]) for p in op.get("parameters", []) if p["in"] == "query"]
    return sorted(found)


QUERY_PARAMS = _schema_query_params()


def test_the_id_filters_are_in_the_schema():
    assert set(ID_FILTERS) <= set(QUERY_PARAMS)


@pytest.mark.parametrize(("path", "name"), QUERY_PARAMS, ids=[f"{p}?{n}" for p, n in QUERY_PARAMS])
def test_no_query_parameter_is_a_server_error(api, personas, path, name):
    """Every documented query parameter of every list, set to numbers past 64 bits (and
    other non-ids): a 4xx or an answer, never a 5xx."""
    client = api(personas.admin)
    for raw in BAD_IDS:
        response = client.get(path, {name: raw})
        assert response.status_code < 500, (path, name, raw, response.status_code)


# Pages whose query strings carry ids or filters.
PAGE_QUERIES = [
    ("/models/new/", "run"),
    ("/runs/compare/", "runs"),
    ("/runs/compare/data.json", "runs"),
    ("/jobs/", "project"),
    ("/runs/", "project"),
    ("/models/", "project"),
    ("/data/", "project"),
    ("/audit/", "object_id"),
]


@pytest.mark.parametrize(("path", "name"), PAGE_QUERIES)
def test_no_page_query_parameter_is_a_server_error(admin_client, path, name):
    for raw in BAD_IDS:
        response = admin_client.get(path, {name: raw})
        assert response.status_code < 500, (path, name, raw, response.status_code)
