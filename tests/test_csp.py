"""The Content-Security-Policy (issue 14, item 6): scripts from this origin or with the
response's nonce only, no 'unsafe-inline' or 'unsafe-eval' for scripts; nothing in
templates/ or static/js/ needs either. The browser side (no refusal on any page of any
browser test) is in tests/browser/test_csp.py and tests/browser/conftest.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))
SCRIPTS = sorted((ROOT / "static" / "js").glob("*.js"))
TAG = re.compile(r"<[a-zA-Z][^>]*>", re.S)
HANDLER = re.compile(r"\s(on[a-z]+|hx-on[:\w-]*|data-hx-on[:\w-]*)\s*=", re.I)
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I)


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}


@pytest.mark.django_db
def test_scripts_need_this_origin_or_the_nonce(personas):
    client = Client()
    client.force_login(personas.viewer)
    first, second = client.get("/"), client.get("/")
    script = directives(first)["script-src"]
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script
    nonces = [s for s in script if s.startswith("'nonce-")]
    assert script == ["'self'", *nonces] and len(nonces) == 1
    assert len(nonces[0]) > len("'nonce-'") + 20
    assert directives(second)["script-src"] != script  # a new nonce for each response
    # Templates get the same nonce as the header: <script nonce="{{ csp_nonce }}">.
    assert nonces[0] == f"'nonce-{first.context['csp_nonce']}'"
    assert directives(first)["object-src"] == ["'none'"]
    # Every answer carries it: an API answer, a 404, the login page.
    for response in (client.get("/api/v1/me/"), client.get("/nowhere/"), Client().get("/login/")):
        assert "'unsafe-eval'" not in response["Content-Security-Policy"]


@pytest.mark.parametrize("path", TEMPLATES, ids=[str(p.relative_to(ROOT)) for p in TEMPLATES])
def test_templates_have_no_inline_code_without_the_nonce(path):
    text = path.read_text()
    handlers = [m.group(1) for tag in TAG.findall(text) for m in HANDLER.finditer(tag)]
    assert handlers == [], f"event handler attributes (move them to static/js/): {handlers}"
    assert "javascript:" not in text.lower()
    for attrs in SCRIPT_TAG.findall(text):
        runs_inline = "src=" not in attrs and 'type="application/json"' not in attrs
        assert not runs_inline or 'nonce="{{ csp_nonce }}"' in attrs, attrs


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_forge_scripts_evaluate_no_strings(path):
    code = path.read_text()
    for pattern in (
        r"\beval\s*\(",
        r"\bnew\s+Function\b",
        r"\bFunction\s*\(",
        r"setTimeout\(\s*['\"`]",
    ):
        assert not re.search(pattern, code), (path.name, pattern)


def test_htmx_evaluates_nothing_and_plotly_is_the_strict_bundle():
    base = (ROOT / "templates" / "base.html").read_text()
    assert """<meta name="htmx-config" content='{"allowEval": false""" in base
    referenced = {
        m for path in TEMPLATES for m in re.findall(r"vendor/plotly[^'\"]*\.js", path.read_text())
    }
    assert referenced == {"vendor/plotly-strict-4.1.1.min.js"}, referenced
    bundle = ROOT / "static" / "vendor" / "plotly-strict-4.1.1.min.js"
    assert "plotly.js (strict - minified) v4.1.1" in bundle.read_text()[:200]
    assert not list((ROOT / "static" / "vendor").glob("plotly-[0-9]*.js"))  # the full bundle


@pytest.mark.django_db
def test_api_docs_load_their_start_up_script_as_a_file(personas):
    client = Client()
    client.force_login(personas.viewer)
    page = client.get("/api/docs/").content.decode()
    inline = [a for a in SCRIPT_TAG.findall(page) if "src=" not in a]
    assert inline == []
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content
