"""The review workflow through its services: open (template snapshot), evidence, submit,
decisions by distinct reviewers, changes requested and resubmission, rejection,
promotion gated on approval, archive; every step audit-logged."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from console.audit.models import AuditEvent
from console.core.errors import Conflict, Forbidden, InvalidInput
from console.governance import services
from console.governance.models import ChecklistTemplate, Decision, ReviewState
from console.registry.models import Status
from tests.governance.conftest import fill_evidence

pytestmark = pytest.mark.django_db


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def test_seeded_template_is_present(template):
    assert template.required_approvers == 2 and template.active
    keys = list(template.items.values_list("key", flat=True))
    assert keys == ["bias", "toxicity", "factcheck", "pii", "licences", "dp_budget"]
    dp = template.items.get(key="dp_budget")
    assert dp.required is False
    assert template.items.get(key="bias").check_kind == "bias"
    assert template.items.get(key="factcheck").threshold == 0.8


def test_the_whole_workflow(personas, version, template, second_reviewer, settings, tmp_path):
    settings.FORGE_DATA_DIR = tmp_path
    ml = personas.ml_engineer
    review = services.review_open(actor=ml, version=version, template=template)
    assert review.state == ReviewState.DRAFT and review.required_approvers == 2
    assert review.items.count() == 6

    # A template edit after opening does not change the running review.
    template.items.filter(key="bias").update(title="Changed later")
    ChecklistTemplate.objects.filter(pk=template.pk).update(required_approvers=5)
    assert review.items.get(key="bias").title == "Bias detection"

    with pytest.raises(InvalidInput, match="Evidence is missing"):
        services.review_submit(actor=ml, review=review)
    fill_evidence(review, ml)
    item = review.items.get(key="licences")
    pdf = SimpleUploadedFile("licences.pdf", b"%PDF-1.4 evidence", content_type="application/pdf")
    services.review_item_update(actor=ml, item=item, link="https://example.org/lic", file=pdf)
    item.refresh_from_db()
    assert item.evidence_file.name.endswith("licences.pdf")
    assert (tmp_path / "governance" / item.evidence_file.name).is_file()

    review = services.review_submit(actor=ml, review=review)
    version.refresh_from_db()
    assert review.state == ReviewState.SUBMITTED and version.status == Status.IN_REVIEW
    with pytest.raises(Conflict):
        services.review_item_update(actor=ml, item=item, text="too late")

    review = services.review_approve(actor=personas.reviewer, review=review, comment="fine")
    assert review.state == ReviewState.IN_REVIEW  # 1 of 2
    with pytest.raises(Conflict, match="already decided"):
        services.review_approve(actor=personas.reviewer, review=review)
    with pytest.raises(Conflict, match="not approved"):
        services.model_promote(actor=ml, version=version)
    review = services.review_approve(actor=second_reviewer, review=review)
    version.refresh_from_db()
    assert review.state == ReviewState.APPROVED and version.status == Status.APPROVED

    version = services.model_promote(actor=ml, version=version)
    assert version.status == Status.PRODUCTION
    version = services.model_archive(actor=ml, version=version)
    assert version.status == Status.ARCHIVED
    got = actions()
    for action in (
        "review.open",
        "review.evidence",
        "review.submit",
        "review.approve",
        "review.approved",
        "model.promote",
        "model.status",
    ):
        assert action in got, action


def test_changes_requested_then_resubmitted(personas, submitted, second_reviewer):
    ml = personas.ml_engineer
    with pytest.raises(InvalidInput, match="comment"):
        services.review_request_changes(actor=personas.reviewer, review=submitted, comment="")
    review = services.review_request_changes(
        actor=personas.reviewer, review=submitted, comment="Add the bias numbers."
    )
    assert review.state == ReviewState.CHANGES_REQUESTED
    submitted.version.refresh_from_db()
    assert submitted.version.status == Status.DRAFT
    with pytest.raises(Conflict):
        services.review_approve(actor=second_reviewer, review=review)
    services.review_item_update(actor=ml, item=review.items.get(key="bias"), text="DPD 0.03")
    review = services.review_submit(actor=ml, review=review)
    assert review.state == ReviewState.SUBMITTED and review.round == 2
    # the reviewer who asked for changes decides again in the new round
    services.review_approve(actor=personas.reviewer, review=review)
    review = services.review_approve(actor=second_reviewer, review=review)
    assert review.state == ReviewState.APPROVED
    assert Decision.objects.filter(review=review).count() == 3


def test_rejection_sends_the_version_back_and_a_replayed_approval_is_refused(
    personas, submitted, second_reviewer
):
    """RELIABILITY S2: an approval replayed after a rejection is refused."""
    services.review_approve(actor=second_reviewer, review=submitted)
    review = services.review_reject(actor=personas.reviewer, review=submitted, comment="PII leaks")
    assert review.state == ReviewState.REJECTED
    review.version.refresh_from_db()
    assert review.version.status == Status.DRAFT
    with pytest.raises(Conflict):
        services.review_approve(actor=personas.admin, review=review)
    review.refresh_from_db()
    assert review.state == ReviewState.REJECTED
    assert AuditEvent.objects.filter(action="review.decision_refused").exists()
    with pytest.raises(Conflict):
        services.model_promote(actor=personas.ml_engineer, version=review.version)
    # a new review may be opened on the draft again
    again = services.review_open(
        actor=personas.ml_engineer, version=review.version, template=submitted.template
    )
    assert again.state == ReviewState.DRAFT


def test_one_open_review_per_version(personas, version, template):
    services.review_open(actor=personas.ml_engineer, version=version, template=template)
    with pytest.raises(Conflict, match="open review"):
        services.review_open(actor=personas.ml_engineer, version=version, template=template)


def test_who_may_do_what(personas, version, template):
    with pytest.raises(Forbidden):
        services.review_open(actor=personas.viewer, version=version, template=template)
    with pytest.raises(Forbidden):
        services.review_open(actor=personas.reviewer, version=version, template=template)
    review = services.review_open(actor=personas.ml_engineer, version=version, template=template)
    with pytest.raises(Forbidden):  # only the submitter records evidence
        services.review_item_update(actor=personas.admin, item=review.items.first(), text="x")
    fill_evidence(review, personas.ml_engineer)
    with pytest.raises(Forbidden):
        services.review_submit(actor=personas.data_engineer, review=review)
    review = services.review_submit(actor=personas.ml_engineer, review=review)
    with pytest.raises(Forbidden, match="review"):  # no Cap.REVIEW
        services.review_approve(actor=personas.data_engineer, review=review)


@pytest.mark.parametrize(
    "name,content,link",
    [
        ("tool.exe", b"MZ\x90\x00", None),
        ("weights.pkl", b"\x80\x04\x95", None),
        ("notes.txt", b"\x80\x04\x95 pickled", None),
        ("run.txt", b"#!/bin/sh\nrm -rf /", None),
        ("big.txt", b"x" * 2048, None),
        (None, None, "javascript:alert(1)"),
        (None, None, "file:///etc/passwd"),
        (None, None, "ftp://example.org/x"),
    ],
)
def test_bad_evidence_is_refused(
    personas, version, template, settings, tmp_path, name, content, link
):
    settings.FORGE_DATA_DIR = tmp_path
    settings.FORGE_GOVERNANCE_MAX_FILE_BYTES = 1024
    review = services.review_open(actor=personas.ml_engineer, version=version, template=template)
    item = review.items.get(key="bias")
    upload = SimpleUploadedFile(name, content) if name else None
    with pytest.raises(InvalidInput):
        services.review_item_update(actor=personas.ml_engineer, item=item, file=upload, link=link)
    item.refresh_from_db()
    assert not item.evidence_file and not item.evidence_link
    assert not (tmp_path / "governance").exists() or not any((tmp_path / "governance").rglob("*.*"))


def test_reviewer_records_a_manual_check(personas, submitted):
    item = submitted.items.get(key="toxicity")
    with pytest.raises(InvalidInput, match="give the reason"):
        services.review_item_record_check(
            actor=personas.reviewer, item=item, passed=True, result={"score": 0.002}
        )
    item = services.review_item_record_check(
        actor=personas.reviewer, item=item, passed=True, result={"score": 0.002, "note": "0.2%"}
    )
    assert item.passed is True and item.checked_by == personas.reviewer
    assert item.check_result["manual"] is True and item.check_result["score"] == 0.002
    assert item.check_result["note"] == "0.2%" and item.check_result["by"] == "rita_reviewer"
    with pytest.raises(Forbidden):
        services.review_item_record_check(actor=personas.ml_engineer, item=item, passed=False)
