"""Governance writes: the only paths that change a review or move a model version into
review, approval, production or retirement. Browser, API and admin all call these.

Four-eyes: a decision needs Cap.REVIEW and a reviewer who is neither the review's
submitter nor the version's creator; a refused self-approval is audit-logged
(``review.self_approval_refused``) and raises Forbidden. Decisions lock the review row
(``select_for_update``), so two approvals at once produce exactly one final state, and a
decision after a final state (an approval replayed after a rejection) is a Conflict.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from django.contrib.auth.models import User

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone

from console.audit.services import audit_record
from console.core.errors import Conflict, Forbidden, InvalidInput
from console.core.roles import Cap, has_cap
from console.core.types import Actor
from console.governance.models import (
    OPEN_STATES,
    CheckKind,
    ChecklistTemplate,
    Decision,
    DecisionKind,
    Review,
    ReviewItem,
    ReviewState,
)
from console.governance.specs import ReviewCheckSpec
from console.jobs.models import TERMINAL_STATES, Job, JobState
from console.jobs.services import job_create
from console.registry.models import ModelVersion, Status
from console.registry.services import model_version_status_by_governance

MAX_EVIDENCE_BYTES = 20 * 1024 * 1024
REFUSED_SUFFIXES = frozenset(
    {
        ".exe", ".dll", ".so", ".dylib", ".bin", ".sh", ".bash", ".bat", ".cmd", ".com",
        ".ps1", ".msi", ".jar", ".py", ".pyc", ".pkl", ".pickle", ".pt", ".pth", ".ckpt",
        ".joblib", ".npy", ".npz", ".elf", ".app", ".scr", ".vbs", ".js",
    }
)  # fmt: skip
REFUSED_MAGIC = (b"MZ", b"\x7fELF", b"#!", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe", b"PK\x03\x04")
_links = URLValidator(schemes=["http", "https"])


def max_evidence_bytes() -> int:
    return int(getattr(settings, "FORGE_GOVERNANCE_MAX_FILE_BYTES", MAX_EVIDENCE_BYTES))


def _user_id(actor: Actor) -> int | None:
    return getattr(actor, "pk", None)


def _audit(action: str, actor: Actor | None, review: Review, **after: Any) -> None:
    audit_record(
        action=action,
        actor=actor,
        obj=review,
        project_id=review.project_id,
        after={"state": review.state, "version": review.version_id, **after},
    )


def _locked(review: Review) -> Review:
    return Review.objects.select_for_update().select_related("version").get(pk=review.pk)


# ------------------------------------------------------------------ submitter


def review_open(*, actor: Actor, version: ModelVersion, template: ChecklistTemplate) -> Review:
    """Open a review of ``version`` against ``template``, copying its items (one open
    review per version; the version must be a draft)."""
    if not has_cap(actor, Cap.TRAINING_WRITE):
        raise Forbidden("Requesting a review needs the 'training.write' permission.")
    if not template.active:
        raise InvalidInput(f"The checklist {template.name!r} is not active.")
    if version.status != Status.DRAFT:
        raise Conflict(f"{version} is {version.get_status_display()}; only a draft is reviewed.")
    try:
        with transaction.atomic():
            ModelVersion.objects.select_for_update().get(pk=version.pk)
            if Review.objects.filter(version=version, state__in=OPEN_STATES).exists():
                raise Conflict(f"{version} already has an open review.")
            review = Review.objects.create(
                version=version,
                project_id=version.project_id,
                template=template,
                template_name=template.name,
                required_approvers=template.required_approvers,
                submitted_by=cast("User", actor),  # capabilities checked: not anonymous
            )
            ReviewItem.objects.bulk_create(
                ReviewItem(
                    review=review,
                    key=item.key,
                    title=item.title,
                    guidance=item.guidance,
                    evidence_kinds=list(item.evidence_kinds),
                    check_kind=item.check_kind,
                    threshold=item.threshold,
                    required=item.required,
                    order=item.order,
                )
                for item in template.items.all()
            )
            _audit("review.open", actor, review, template=template.name)
    except IntegrityError:
        raise Conflict(f"{version} already has an open review.") from None
    return review


def _check_file(upload: UploadedFile) -> None:
    name = Path(upload.name or "").name
    if not name or name.startswith("."):
        raise InvalidInput("The evidence file needs a name.")
    if Path(name).suffix.lower() in REFUSED_SUFFIXES:
        raise InvalidInput(f"{name}: executable, script and pickle files are refused.")
    if upload.size is None or upload.size > max_evidence_bytes():
        raise InvalidInput(f"{name}: evidence files are limited to {max_evidence_bytes()} bytes.")
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    if head.startswith(REFUSED_MAGIC) or (head[:1] == b"\x80" and head[1:2] in b"\x02\x03\x04\x05"):
        raise InvalidInput(f"{name}: executables, archives and pickles are refused.")


def review_item_update(
    *,
    actor: Actor,
    item: ReviewItem,
    text: str | None = None,
    link: str | None = None,
    file: UploadedFile | None = None,
    clear_file: bool = False,
) -> ReviewItem:
    """Record evidence on an item: only the submitter, only while the review is a draft
    (or changes were requested)."""
    with transaction.atomic():
        review = _locked(item.review)
        if _user_id(actor) is None or review.submitted_by_id != _user_id(actor):
            raise Forbidden("Only the review's submitter records evidence.")
        if not review.editable:
            raise Conflict(
                f"Review {review.pk} is {review.get_state_display()}; evidence is frozen."
            )
        item = ReviewItem.objects.select_for_update().get(pk=item.pk, review=review)
        kinds = set(item.evidence_kinds or [])
        changed: dict[str, Any] = {}
        if text is not None:
            if text.strip() and "text" not in kinds:
                raise InvalidInput(f"{item.title}: text evidence is not accepted.")
            item.evidence_text = text.strip()[:20000]
            changed["text"] = bool(item.evidence_text)
        if link is not None:
            link = link.strip()
            if link:
                if "link" not in kinds:
                    raise InvalidInput(f"{item.title}: links are not accepted.")
                try:
                    _links(link)
                except ValidationError:
                    raise InvalidInput("Give an http:// or https:// link.") from None
            item.evidence_link = link
            changed["link"] = link
        if clear_file and item.evidence_file:
            item.evidence_file.delete(save=False)
            item.evidence_file = ""
            changed["file"] = None
        if file is not None:
            if "file" not in kinds:
                raise InvalidInput(f"{item.title}: files are not accepted.")
            _check_file(file)
            if item.evidence_file:
                item.evidence_file.delete(save=False)
            item.evidence_file.save(Path(cast("str", file.name)).name, file, save=False)
            changed["file"] = item.evidence_file.name
        item.save()
        _audit("review.evidence", actor, review, item=item.key, **changed)
    return item


def review_submit(*, actor: Actor, review: Review) -> Review:
    """Submit for review: every required item has evidence; the version goes in review."""
    with transaction.atomic():
        review = _locked(review)
        if review.submitted_by_id != _user_id(actor):
            raise Forbidden("Only the review's submitter submits it.")
        if not review.editable:
            raise Conflict(f"Review {review.pk} is {review.get_state_display()}.")
        missing = [i.title for i in review.items.all() if i.required and not i.has_evidence]
        if missing:
            raise InvalidInput("Evidence is missing for: " + "; ".join(missing) + ".")
        resubmit = review.state == ReviewState.CHANGES_REQUESTED
        Review.objects.filter(pk=review.pk, state=review.state).update(
            state=ReviewState.SUBMITTED,
            round=review.round + (1 if resubmit else 0),
            submitted_at=timezone.now(),
            started_at=None,
            decided_at=None,
        )
        model_version_status_by_governance(
            version=review.version, status=Status.IN_REVIEW, actor=actor
        )
        review.refresh_from_db()
        _audit("review.submit", actor, review, round=review.round)
    return review


# ------------------------------------------------------------------ reviewers


def _check_reviewer(actor: Actor, review: Review, what: str) -> None:
    if not has_cap(actor, Cap.REVIEW):
        raise Forbidden(f"{what} needs the 'review' permission.")
    me = _user_id(actor)
    if me is not None and me in (review.submitted_by_id, review.version.created_by_id):
        audit_record(
            action="review.self_approval_refused",
            actor=actor,
            obj=review,
            project_id=review.project_id,
            after={"attempted": what, "state": review.state, "version": review.version_id},
        )
        raise Forbidden("Four-eyes: you cannot review a model version you submitted or created.")


def review_start(*, actor: Actor, review: Review) -> Review:
    """A reviewer picks up a submitted review: submitted → in review."""
    _check_reviewer(actor, review, "Starting a review")
    with transaction.atomic():
        review = _locked(review)
        if review.state == ReviewState.IN_REVIEW:
            return review
        if review.state != ReviewState.SUBMITTED:
            raise Conflict(f"Review {review.pk} is {review.get_state_display()}.")
        _to_in_review(review)
        _audit("review.start", actor, review)
    return review


def _to_in_review(review: Review) -> None:
    now = timezone.now()
    Review.objects.filter(pk=review.pk, state=ReviewState.SUBMITTED).update(
        state=ReviewState.IN_REVIEW, started_at=now
    )
    review.state, review.started_at = ReviewState.IN_REVIEW, now


def _decision_refused(actor: Actor, review: Review, decision: str) -> Conflict | None:
    """A decision on a review that takes none (a final state, a draft): audit-logged
    outside the decision's transaction, so the refusal stays on record."""
    state = Review.objects.filter(pk=review.pk).values_list("state", flat=True).first()
    if state in (ReviewState.SUBMITTED, ReviewState.IN_REVIEW):
        return None
    audit_record(
        action="review.decision_refused",
        actor=actor,
        obj=review,
        project_id=review.project_id,
        after={"decision": decision, "state": state},
    )
    return Conflict(
        f"Review {review.pk} is {ReviewState(cast('str', state)).label}; it takes no decision now."
    )


def _decide(*, actor: Actor, review: Review, decision: str, comment: str) -> Review:
    label = DecisionKind(decision).label
    _check_reviewer(actor, review, f"{label.capitalize()}")
    reviewer = cast("User", actor)  # _check_reviewer refused anonymous actors
    comment = (comment or "").strip()
    if decision != DecisionKind.APPROVE and not comment:
        raise InvalidInput(f"Say why ({label} needs a comment).")
    refused = _decision_refused(actor, review, decision)
    if refused is not None:
        raise refused
    with transaction.atomic():
        review = _locked(review)
        if not review.decidable:  # it was decided between the check above and the lock
            raise Conflict(
                f"Review {review.pk} is {review.get_state_display()}; it takes no decision now."
            )
        if Decision.objects.filter(review=review, round=review.round, reviewer=reviewer).exists():
            raise Conflict("You already decided on this review.")
        if decision == DecisionKind.APPROVE:
            _check_items_allow_approval(review)
        if review.state == ReviewState.SUBMITTED:
            _to_in_review(review)
        Decision.objects.create(
            review=review,
            round=review.round,
            reviewer=reviewer,
            decision=decision,
            comment=comment,
        )
        _audit(f"review.{decision}", actor, review, comment=comment[:500])
        final = None
        if decision == DecisionKind.APPROVE:
            approvals = (
                Decision.objects.filter(
                    review=review, round=review.round, decision=DecisionKind.APPROVE
                )
                .values("reviewer")
                .distinct()
                .count()
            )
            if approvals >= review.required_approvers:
                final, status = ReviewState.APPROVED, Status.APPROVED
        elif decision == DecisionKind.REJECT:
            final, status = ReviewState.REJECTED, Status.DRAFT
        else:
            final, status = ReviewState.CHANGES_REQUESTED, Status.DRAFT
        if final is not None:
            now = timezone.now()
            done = Review.objects.filter(pk=review.pk, state=ReviewState.IN_REVIEW).update(
                state=final, decided_at=now
            )
            if done != 1:  # cannot happen under the row lock; refuse rather than guess
                raise Conflict(f"Review {review.pk} changed meanwhile.")
            review.state, review.decided_at = final, now
            model_version_status_by_governance(version=review.version, status=status, actor=actor)
            _audit(f"review.{final}", actor, review)
    return review


def _check_items_allow_approval(review: Review) -> None:
    """No approval while an automated check runs, or with a required item's check failed
    (request changes, or a reviewer records a result with a note)."""
    items = list(review.items.select_related("check_job"))
    running = [i.title for i in items if i.check_job and i.check_job.state not in TERMINAL_STATES]
    if running:
        raise Conflict("Checks are still running: " + "; ".join(running) + ".")
    failed = [i.title for i in items if i.required and i.passed is False]
    if failed:
        raise InvalidInput(
            "Failed checks: " + "; ".join(failed) + ". Request changes, or record a "
            "reviewer's check result with the reason."
        )


def review_approve(*, actor: Actor, review: Review, comment: str = "") -> Review:
    return _decide(actor=actor, review=review, decision=DecisionKind.APPROVE, comment=comment)


def review_reject(*, actor: Actor, review: Review, comment: str) -> Review:
    return _decide(actor=actor, review=review, decision=DecisionKind.REJECT, comment=comment)


def review_request_changes(*, actor: Actor, review: Review, comment: str) -> Review:
    return _decide(
        actor=actor, review=review, decision=DecisionKind.REQUEST_CHANGES, comment=comment
    )


def review_item_record_check(
    *, actor: Actor, item: ReviewItem, passed: bool, result: dict[str, Any] | None = None
) -> ReviewItem:
    """A reviewer records a check result by hand, with the reason (``result["note"]``).

    The automated result it replaces stays inside it (``overrides``) with who recorded
    it and when, so the review page and the model card show a waived failure as such."""
    _check_reviewer(actor, item.review, "Recording a check result")
    result = dict(result or {})
    note = str(result.get("note") or "").strip()
    if not note:
        raise InvalidInput(
            f"{item.title}: give the reason for the result recorded by hand "
            "(it is shown on the review and the model card)."
        )
    with transaction.atomic():
        review = _locked(item.review)
        if not review.decidable:
            raise Conflict(f"Review {review.pk} is {review.get_state_display()}.")
        item = ReviewItem.objects.select_for_update(of=("self",)).get(pk=item.pk)
        previous = item.check_result if isinstance(item.check_result, dict) else {}
        overrides = previous.get("overrides") if previous.get("manual") else previous
        now = timezone.now()
        ReviewItem.objects.filter(pk=item.pk).update(
            passed=passed,
            check_result={
                **result,
                "manual": True,
                "note": note,
                "by": getattr(actor, "username", ""),
                "at": now.isoformat(),
                **({"overrides": overrides} if overrides else {}),
            },
            checked_by=actor,
            updated_at=now,
        )
        item.refresh_from_db()
        _audit(
            "review.check",
            actor,
            review,
            item=item.key,
            passed=passed,
            note=note[:500],
            **({"overrides_passed": overrides.get("passed")} if overrides else {}),
        )
    return item


# ------------------------------------------------------------------ automated checks


def review_check_start(
    *, actor: Actor, item: ReviewItem, params: dict[str, Any] | None = None
) -> Job:
    """Queue an item's automated check (a ``review.check`` job on the version's folder).

    The submitter runs checks as evidence while the review is editable; a reviewer (not
    the submitter or the version's creator) runs them while it is under review. One
    check at a time per item; the result lands on the item when the job succeeds."""
    params = dict(params or {})
    if item.check_kind == CheckKind.NONE or "check" not in (item.evidence_kinds or []):
        raise InvalidInput(f"{item.title}: this item has no automated check.")
    review = Review.objects.select_related("version").get(pk=item.review_id)
    me = _user_id(actor)
    as_submitter = me is not None and me == review.submitted_by_id
    if not as_submitter:
        _check_reviewer(actor, review, "Running a check")
    if item.check_kind == CheckKind.FACTCHECK and not params.get("qa"):
        raise InvalidInput("The fact check needs a question/answer reference set (CSV or JSONL).")
    if item.check_kind != CheckKind.FACTCHECK:
        params.pop("qa", None)
    with transaction.atomic():
        review = _locked(review)
        if as_submitter and not review.editable:
            raise Conflict(
                f"Review {review.pk} is {review.get_state_display()}; the submitter runs "
                "checks before submitting."
            )
        if not as_submitter and not review.decidable:
            raise Conflict(f"Review {review.pk} is {review.get_state_display()}.")
        item = (
            ReviewItem.objects.select_for_update(of=("self",))
            .select_related("check_job")
            .get(pk=item.pk)
        )
        if item.check_job and item.check_job.state not in TERMINAL_STATES:
            raise Conflict(f"{item.title}: a check is already running (job {item.check_job_id}).")
        job = job_create(
            actor=actor,
            project=review.project,
            kind=ReviewCheckSpec.KIND,
            params={**params, "review_item_id": item.pk},
            name=f"Review {review.pk}: {item.get_check_kind_display()} check"[:200],
        )
        ReviewItem.objects.filter(pk=item.pk).update(check_job=job, updated_at=timezone.now())
        _audit("review.check_start", actor, review, item=item.key, job=job.pk)
    return job


def review_check_left_active(job_id: int) -> None:
    """A job_left_active effect (settings.LIFECYCLE_EFFECTS), inside the transaction that
    moves a job out of running: a succeeded ``review.check`` job's result goes onto its
    item (only the item's latest check job, and only while the review still takes
    evidence or decisions)."""
    job = Job.objects.filter(pk=job_id, kind=ReviewCheckSpec.KIND).first()
    if job is None or job.state != JobState.SUCCEEDED:
        return
    item = ReviewItem.objects.select_for_update().filter(check_job_id=job.pk).first()
    if item is None:
        return
    review = Review.objects.select_for_update().get(pk=item.review_id)
    result = (job.result or {}).get("check")
    if not isinstance(result, dict) or not (review.editable or review.decidable):
        return
    requester = job.requested_by
    item.check_result = {
        **result,
        "job": job.pk,
        "round": review.round,
        "run_by": getattr(requester, "username", ""),
        "at": timezone.now().isoformat(),
    }
    item.passed = bool(result.get("passed"))
    item.checked_by = requester
    item.save(update_fields=["check_result", "passed", "checked_by", "updated_at"])
    _audit(
        "review.check_result",
        requester,
        review,
        item=item.key,
        job=job.pk,
        value=result.get("value"),
        threshold=result.get("threshold"),
        passed=item.passed,
    )


def review_tamper_refused(*, actor: Actor, review: Review, via: str, fields: list[str]) -> None:
    """Audit an attempt to change a review's state or decisions outside these services
    (admin change form, API PATCH); the caller answers 403/409 and changes nothing."""
    audit_record(
        action="review.tamper_refused",
        actor=actor,
        obj=review,
        project_id=review.project_id,
        after={"via": via, "fields": sorted(fields)[:20], "state": review.state},
    )


# ------------------------------------------------------------------ promotion


def review_latest(version: ModelVersion) -> Review | None:
    return Review.objects.filter(version=version).order_by("-created_at", "-id").first()


def model_promote(*, actor: Actor, version: ModelVersion) -> ModelVersion:
    """Approved → production, only when the version's latest review is approved."""
    if not has_cap(actor, Cap.TRAINING_WRITE):
        raise Forbidden("Promoting needs the 'training.write' permission.")
    latest = review_latest(version)
    if latest is None or latest.state != ReviewState.APPROVED or version.status != Status.APPROVED:
        audit_record(
            action="model.promote_refused",
            actor=actor,
            obj=version,
            project_id=version.project_id,
            after={"status": version.status, "review": latest.pk if latest else None},
        )
        raise Conflict(f"{version} is not approved: promotion needs an approved review.")
    version = model_version_status_by_governance(
        version=version, status=Status.PRODUCTION, actor=actor
    )
    audit_record(
        action="model.promote",
        actor=actor,
        obj=version,
        project_id=version.project_id,
        after={"review": latest.pk},
    )
    return version


def model_archive(*, actor: Actor, version: ModelVersion) -> ModelVersion:
    """Retire an approved or production version."""
    if not has_cap(actor, Cap.TRAINING_WRITE):
        raise Forbidden("Archiving needs the 'training.write' permission.")
    return model_version_status_by_governance(version=version, status=Status.ARCHIVED, actor=actor)
