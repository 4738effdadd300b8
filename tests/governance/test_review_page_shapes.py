"""The review page with every shape of check result (issue 14, item 7): each automated
check's result, results recorded by hand (with the failed result they replace), a
failed and a running check job, and odd or legacy shapes. Every role's page (and its
htmx partial) answers 200 with the submit, evidence and manual-result forms where the
role has them; nothing in a stored result can make it a 500."""

from __future__ import annotations

import html

import pytest
from django.test import Client

from console.governance import services
from console.governance.display import check_view, fmt
from console.governance.models import ReviewItem
from console.jobs.models import JobState
from tests.factories import JobFactory
from tests.governance.conftest import make_version
from tests.governance.shapes import AUTOMATED, FACTCHECK, ODD, put_result

pytestmark = pytest.mark.django_db


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    client.raise_request_exception = False  # a 500 is an answer to assert on, not a raise
    return client


def page(user, review, **headers) -> str:
    response = browser(user).get(f"/reviews/{review.pk}/", **headers)
    assert response.status_code == 200, response.content[-3000:]
    return html.unescape(response.content.decode())


def check_job(review, state=JobState.SUCCEEDED, **fields):
    return JobFactory(
        project=review.project,
        kind="review.check",
        state=state,
        spec={"review_item_id": 0},
        **fields,
    )


@pytest.fixture
def draft(personas, template):
    """A review opened by the ML engineer, evidence on every item, not yet submitted."""
    version = make_version(personas.project, personas.ml_engineer, name="draft-lm")
    review = services.review_open(actor=personas.ml_engineer, version=version, template=template)
    for item in review.items.all():
        services.review_item_update(actor=personas.ml_engineer, item=item, text=f"ev {item.key}")
    return review


@pytest.mark.parametrize("kind", sorted(AUTOMATED))
def test_each_automated_result_renders_for_every_role(personas, submitted, kind):
    result = AUTOMATED[kind]
    job = check_job(submitted, result={"check": result})
    item = put_result(submitted.items.get(key=kind), result, passed=result["passed"], job=job)
    body = page(personas.reviewer, submitted)
    assert result["metric"] in body
    assert f"<strong>{fmt(result['value'])}</strong>" in body
    assert ("at most" if result["direction"] == "max" else "at least") in body
    assert f'data-testid="failed-{kind}"' in body and f"job {job.pk}" in body
    assert "24 generations" in body and "by milo_ml" in body and "2026-03-02 10:15 UTC" in body
    for sample in result["samples"]:
        assert sample.get("text", sample.get("answer")) in body
    assert result["limits"] in body
    # the reviewer's forms are all there: the decision and a result recorded by hand
    assert 'id="decision-form"' in body
    assert f"Reviewer's result for {item.title}" in body
    # the submitter and a viewer see the page too; the partial answers as well
    assert result["metric"] in page(personas.ml_engineer, submitted)
    assert result["metric"] in page(personas.viewer, submitted)
    partial = page(personas.reviewer, submitted, HTTP_HX_REQUEST="true")
    assert "<html" not in partial and result["metric"] in partial


def test_shape_details(personas, submitted):
    for kind, result in AUTOMATED.items():
        put_result(submitted.items.get(key=kind), result, passed=result["passed"])
    body = page(personas.reviewer, submitted)
    # bias: per attribute, the parity difference and each value's rate and sentiment
    assert 'gender <span class="muted">(largest)</span>' in body
    assert "woman: 0.25 · -0.1" in body and "man: 0.5 · 0.3" in body
    assert "not favourable" in body and "favourable" in body
    # toxicity: each flagged generation's score and terms
    assert "toxicity score 0.91" in body and "terms: idiot" in body
    assert "max_score" in body
    # PII: what was found, masked text as stored
    assert "found: email: 1" in body and "j***@e******.org, write!" in body
    assert "with_pii" in body
    # fact check: question, expected and the model's answer
    assert "<q>Who wrote Hamlet?</q> expected <q>William Shakespeare</q>, got <q>Ben</q>" in body
    assert "temperature" in body and "0.92" in body  # sampling parameters


def test_submitter_can_still_edit_and_submit_a_draft_with_results(personas, draft):
    for kind, result in AUTOMATED.items():
        put_result(draft.items.get(key=kind), result, passed=result["passed"])
    body = page(personas.ml_engineer, draft)
    assert "Submit for review" in body and "Save evidence" in body
    assert body.count('name="evidence_text"') == draft.items.count()
    client = browser(personas.ml_engineer)
    item = draft.items.get(key="bias")
    saved = client.post(f"/reviews/{draft.pk}/items/{item.pk}/", {"evidence_text": "new ev"})
    assert saved.status_code == 302
    submitted = client.post(f"/reviews/{draft.pk}/submit/", follow=True)
    assert submitted.status_code == 200
    draft.refresh_from_db()
    assert draft.state == "submitted"


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_and_legacy_shapes_never_500(personas, submitted, draft, name):
    for review, user in ((submitted, personas.reviewer), (draft, personas.ml_engineer)):
        put_result(review.items.get(key="bias"), ODD[name], passed=None)
        put_result(review.items.get(key="licences"), ODD[name], passed=True)
        body = page(user, review)
        assert 'data-testid="check-bias"' in body and 'data-testid="check-licences"' in body
    assert "Reviewer's result for Bias detection" in page(personas.reviewer, submitted)
    assert "Submit for review" in page(personas.ml_engineer, draft)


def test_odd_shapes_show_what_they_hold(personas, submitted):
    put_result(submitted.items.get(key="bias"), ODD["unknown"], passed=None)
    put_result(submitted.items.get(key="pii"), ODD["string"], passed=True)
    put_result(submitted.items.get(key="toxicity"), ODD["legacy-manual"], passed=True)
    put_result(submitted.items.get(key="factcheck"), ODD["strings"], passed=False)
    body = page(personas.reviewer, submitted)
    assert "by_tool.name" in body and "ext" in body  # unknown keys listed as they are
    assert "passed on 2025-01-01" in body
    assert "checked by hand in 2025" in body and 'data-testid="by-hand-toxicity"' in body
    assert "<strong>n/a</strong>" in body and "plain text" in body and "weird: 1, 2" in body


def test_manual_result_over_a_failed_check_keeps_it_visible(personas, submitted):
    job = check_job(submitted, result={"check": FACTCHECK})
    item = put_result(submitted.items.get(key="factcheck"), FACTCHECK, passed=False, job=job)
    url = f"/reviews/{submitted.pk}/items/{item.pk}/check/"
    client = browser(personas.reviewer)
    # no reason: refused with the reason, nothing written
    refused = client.post(url, {"passed": "yes", "note": "  "}, follow=True)
    assert "give the reason" in html.unescape(refused.content.decode())
    item.refresh_from_db()
    assert item.passed is False and item.check_result["kind"] == "factcheck"

    done = client.post(url, {"passed": "yes", "note": "Demo model; set re-run on v2."})
    assert done.status_code == 302
    item.refresh_from_db()
    assert item.passed is True and item.check_result["manual"] is True
    assert item.check_result["overrides"]["value"] == 0.5
    assert item.check_result["by"] == personas.reviewer.username
    body = page(personas.ml_engineer, submitted)
    assert 'data-testid="passed-factcheck"' in body and 'data-testid="by-hand-factcheck"' in body
    assert f"Recorded by <strong>{personas.reviewer.username}</strong> at 20" in body
    assert "<q>Demo model; set re-run on v2.</q>" in body
    assert "It replaces the automated result, which <strong>failed</strong>" in body
    assert "accuracy: <strong>0.5</strong> (at least 0.8) · failed" in body

    # a second result by hand still names the automated result it replaces
    other = browser(personas.admin)
    other.post(url, {"passed": "no", "note": "On reflection: no."})
    item.refresh_from_db()
    assert item.check_result["overrides"]["value"] == 0.5 and item.passed is False


def test_a_legacy_manual_result_names_the_check_job_it_replaced(personas, submitted):
    job = check_job(submitted, result={"check": FACTCHECK})
    put_result(submitted.items.get(key="factcheck"), ODD["legacy-manual"], passed=True, job=job)
    view = check_view(ReviewItem.objects.get(review=submitted, key="factcheck"))
    assert view["kind"] == "manual" and view["manual"]["overrides"]["value"] == "0.5"
    assert view["manual"]["overrides"]["job"] == job.pk
    body = page(personas.reviewer, submitted)
    assert "It replaces the automated result, which <strong>failed</strong>" in body


def test_a_failed_check_job_and_a_running_one(personas, draft):
    failed = check_job(
        draft, state=JobState.FAILED, error="model.safetensors: sha256 does not match"
    )
    put_result(draft.items.get(key="toxicity"), None, passed=None, job=failed)
    running = check_job(
        draft, state=JobState.RUNNING, progress=40, progress_message="toxicity: 8/20 generations"
    )
    put_result(draft.items.get(key="pii"), AUTOMATED["pii"], passed=False, job=running)
    body = page(personas.ml_engineer, draft)
    link = f'<a href="/jobs/{failed.pk}/">job {failed.pk}</a>'
    assert f"failed to run: model.safetensors: sha256 does not match ({link})" in body
    assert 'data-testid="run-check-toxicity"' in body  # may run it again
    assert "Running: 40% toxicity: 8/20 generations" in body
    assert 'data-testid="run-check-pii"' not in body  # one check at a time
    assert 'hx-trigger="every 2s"' in body  # the page polls while a check runs
    assert "Submit for review" in body

    cancelled = check_job(draft, state=JobState.CANCELLED)
    put_result(draft.items.get(key="pii"), AUTOMATED["pii"], passed=False, job=cancelled)
    body = page(personas.ml_engineer, draft)
    assert "The last check was cancelled" in body and 'hx-trigger="every 2s"' not in body


def test_fmt():
    assert fmt(0.5) == "0.5" and fmt(0.083333) == "0.0833" and fmt(1.0) == "1"
    assert fmt(0.0000123) == "1.23e-05" and fmt(True) == "yes" and fmt(None) == ""
    assert fmt(float("inf")) == "inf" and fmt({"a": 1}) == "a: 1"


def test_the_admin_sign_off_panel_reads_every_shape(personas, submitted, second_reviewer):
    """The admin's one-line summaries go through the same reading (it raised on a list,
    a string or a non-numeric value)."""
    for key, shape in (("bias", "list"), ("pii", "strings"), ("licences", "string")):
        put_result(submitted.items.get(key=key), ODD[shape], passed=None)
    job = check_job(submitted, result={"check": FACTCHECK})
    item = put_result(submitted.items.get(key="factcheck"), FACTCHECK, passed=False, job=job)
    services.review_item_record_check(
        actor=personas.reviewer, item=item, passed=True, result={"note": "Demo model."}
    )
    put_result(submitted.items.get(key="toxicity"), AUTOMATED["toxicity"], passed=False)
    client = browser(second_reviewer)  # staff
    response = client.get(f"/admin/governance/review/{submitted.pk}/change/")
    assert response.status_code == 200
    body = html.unescape(response.content.decode())
    assert "FAILED: share of generations scored toxic 0.0833 (needs ≤ 0.01)" in body
    assert "reviewer's result: passed by rita_reviewer. Demo model." in body
    assert "(replaces FAILED: accuracy 0.5 (needs ≥ 0.8)" in body
    assert "passed on 2025-01-01" in body
