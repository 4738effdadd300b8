"""The model card's checklist (issue 14, item 12): every item of the version's review
with its check result, and a failed check that a reviewer then passed by hand listed as
such: which check failed and with what value, who recorded the result by hand, when and
why; in the page, card.md and card.html alike, with what reviewers typed escaped."""

from __future__ import annotations

import html

import pytest

from console.cards.render import md_escape
from console.cards.selectors import card_data
from console.governance import services
from console.jobs.models import JobState
from tests.factories import JobFactory
from tests.governance.conftest import fill_evidence, make_version, seed_templates
from tests.governance.shapes import FACTCHECK, ODD, TOXICITY, put_result

pytestmark = pytest.mark.django_db

REASON = "Random-weight demo model | set re-run on v2 <script>alert(1)</script>"


@pytest.fixture
def waived(personas):
    """A submitted review whose failed fact check a reviewer passed by hand, with a
    passed toxicity check beside it."""
    version = make_version(personas.project, personas.ml_engineer, name="card-lm")
    review = services.review_open(
        actor=personas.ml_engineer, version=version, template=seed_templates()
    )
    job = JobFactory(
        project=personas.project,
        kind="review.check",
        state=JobState.SUCCEEDED,
        result={"check": FACTCHECK},
    )
    fact = put_result(review.items.get(key="factcheck"), FACTCHECK, passed=False, job=job)
    passed_tox = {**TOXICITY, "value": 0.0, "passed": True, "samples": []}
    put_result(review.items.get(key="toxicity"), passed_tox, passed=True)
    fill_evidence(review, personas.ml_engineer)
    services.review_submit(actor=personas.ml_engineer, review=review)
    fact = services.review_item_record_check(
        actor=personas.reviewer, item=fact, passed=True, result={"note": REASON}
    )
    return {"version": version, "review": review, "job": job, "item": fact}


def test_card_lists_every_item_and_the_waived_failure(client, personas, waived):
    version, job, item = waived["version"], waived["job"], waived["item"]
    card = card_data(version)
    assert [r["key"] for r in card["checklist"]] == [
        "bias",
        "toxicity",
        "factcheck",
        "pii",
        "licences",
        "dp_budget",
    ]
    rows = {r["key"]: r for r in card["checklist"]}
    assert rows["toxicity"]["verdict"] == "passed"
    assert rows["bias"]["verdict"] == "evidence given, not checked"  # fill_evidence's text
    fact = rows["factcheck"]
    assert fact["verdict"] == "passed" and fact["by_hand"]["by"] == "rita_reviewer"
    assert fact["waived"]["result"] == "accuracy: 0.5 (at least 0.8)"
    assert f"job {job.pk}" in fact["waived"]["run"] and "milo_ml" in fact["waived"]["run"]
    assert [r["key"] for r in card["waived"]] == ["factcheck"]
    when = item.check_result["at"][:16].replace("T", " ")  # recorded by hand at, in UTC

    client.force_login(personas.viewer)
    md = client.get(f"/models/{version.pk}/card.md").content.decode()
    assert "### Checklist" in md
    for title in ("Bias detection", "PII leakage", "Differential-privacy budget (optional)"):
        assert f"| {title} |" in md
    assert "| Toxicity filtering | Toxicity | passed | share of generations scored toxic: 0" in md
    waived_line = next(line for line in md.splitlines() if line.startswith("- **Fact-checking"))
    assert "the automated check (fact check) failed, accuracy: 0.5 (at least 0.8)" in waived_line
    assert f"job {job.pk}, run by milo\\_ml, at 2026-03-02 10:15 UTC" in waived_line
    assert f"passed by rita\\_reviewer at {when} UTC" in waived_line
    assert md_escape(REASON) in waived_line and "<script>" not in md
    row = next(line for line in md.splitlines() if line.startswith("| Fact-checking"))
    assert row.count(" | ") == 4  # the reason's | cannot open a cell
    assert "automated: accuracy: 0.5 (at least 0.8) (failed) (job" in row
    assert "rita\\_reviewer" in row

    for url in (f"/models/{version.pk}/card/", f"/models/{version.pk}/card.html"):
        page = client.get(url).content.decode()
        assert "<script>alert(1)" not in page, url
        text = html.unescape(page)
        assert 'data-testid="card-check-factcheck"' in page and 'data-testid="card-waived"' in page
        assert "the automated check (fact check) failed, accuracy: 0.5 (at least 0.8)" in text
        assert f"by <strong>rita_reviewer</strong> at {when} UTC" in text, url
        assert REASON in text


def test_a_manual_result_recorded_before_results_kept_what_they_replaced(personas, waived):
    """Older rows: {"manual": True, "note"} only; the item's succeeded check job still
    holds the failed result, and the card names it."""
    item = waived["item"]
    put_result(item, ODD["legacy-manual"], passed=True, job=waived["job"])
    rows = {r["key"]: r for r in card_data(waived["version"])["checklist"]}
    assert rows["factcheck"]["waived"]["result"] == "accuracy: 0.5 (at least 0.8)"
    assert rows["factcheck"]["by_hand"]["note"] == "checked by hand in 2025"


def test_a_card_without_a_review_or_with_odd_results(client, personas, waived):
    bare = make_version(personas.project, personas.ml_engineer, name="bare-lm")
    client.force_login(personas.viewer)
    assert "_No checklist yet._" in client.get(f"/models/{bare.pk}/card.md").content.decode()
    review = waived["review"]
    for key, shape in zip(("bias", "pii", "licences"), ("strings", "list", "unknown"), strict=True):
        put_result(review.items.get(key=key), ODD[shape], passed=None)
    for suffix in ("card/", "card.md", "card.html"):
        assert client.get(f"/models/{waived['version'].pk}/{suffix}").status_code == 200
