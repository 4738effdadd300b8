"""Review pages: /reviews/ (what waits for me as a reviewer, what I submitted) and a
review's page (the checklist with evidence forms for the submitter, the decisions, and
the Approve / Request changes / Reject buttons for reviewers). Every POST calls one
service; a refused self-approval is a 403 page and an audit event."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from console.audit.auth import forbidden, require_cap
from console.core.errors import Forbidden, ServiceError
from console.core.ids import InvalidId, parse_optional_id
from console.core.roles import Cap, has_cap
from console.core.types import HtmxHttpRequest
from console.governance import checks_input, selectors, services
from console.governance.models import Review
from console.jobs.services import SpecInvalid
from console.registry.selectors import model_version_get

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _review_or_404(request: HtmxHttpRequest, review_id: int) -> Review:
    review = selectors.review_get(user=request.user, review_id=review_id)
    if review is None:
        raise Http404("No such review.")
    return review


def _context(request: HtmxHttpRequest, review: Review) -> dict:
    user = request.user
    mine = review.submitted_by_id == user.pk
    creator = review.version.created_by_id == user.pk
    decided = review.decisions.filter(round=review.round, reviewer=cast("User", user)).exists()
    items = list(review.items.select_related("check_job", "checked_by"))
    reviewer = has_cap(user, Cap.REVIEW) and review.decidable and not (mine or creator)
    return {
        "review": review,
        "items": items,
        "checks_running": any(i.check_job and not i.check_job.is_terminal for i in items),
        "can_run_check": (mine and review.editable) or reviewer,
        "decisions": review.decisions.select_related("reviewer"),
        "approvals": review.decisions.filter(round=review.round, decision="approve").count(),
        "can_edit": mine and review.editable,
        "can_decide": has_cap(user, Cap.REVIEW) and review.decidable and not decided,
        "can_check": has_cap(user, Cap.REVIEW) and review.decidable and not (mine or creator),
        "own": mine or creator,
    }


@require_cap(Cap.VIEW)
def review_list(request: HtmxHttpRequest) -> HttpResponse:
    return render(
        request,
        "governance/list.html",
        {
            "pending": selectors.reviews_pending_for(user=request.user)[:200]
            if has_cap(request.user, Cap.REVIEW)
            else [],
            "mine": selectors.reviews_submitted_by(user=request.user)[:200],
            "recent": selectors.review_list(user=request.user)[:50],
            "can_review": has_cap(request.user, Cap.REVIEW),
        },
    )


@require_cap(Cap.VIEW)
def review_detail(request: HtmxHttpRequest, review_id: int) -> HttpResponse:
    review = _review_or_404(request, review_id)
    template = "governance/detail.html#panel" if request.htmx else "governance/detail.html"
    return render(request, template, _context(request, review))


@require_POST
@require_cap(Cap.TRAINING_WRITE)
def review_open(request: HtmxHttpRequest, version_id: int) -> HttpResponse:
    version = model_version_get(user=request.user, version_id=version_id)
    if version is None:
        raise Http404("No such model version.")
    templates = selectors.template_list()
    try:
        template_id = parse_optional_id(request.POST.get("template"))
    except InvalidId:
        template_id = 0  # names no template: the page says so below
    template = (
        templates.filter(pk=template_id).first()
        if template_id is not None
        else templates.filter(name="Model release").first() or templates.first()
    )
    if template is None:
        messages.error(request, "No active checklist template: ask an administrator.")
        return redirect("registry:detail", version_id=version.pk)
    try:
        review = services.review_open(actor=request.user, version=version, template=template)
    except Forbidden as exc:
        return forbidden(request, exc.message)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("registry:detail", version_id=version.pk)
    messages.success(request, f"Review {review.pk} opened: add the evidence, then submit.")
    return redirect("governance:detail", review_id=review.pk)


@require_POST
@require_cap(Cap.VIEW)
def review_item(request: HtmxHttpRequest, review_id: int, item_id: int) -> HttpResponse:
    item = selectors.review_item_get(user=request.user, review_id=review_id, item_id=item_id)
    if item is None:
        raise Http404("No such checklist item.")
    try:
        services.review_item_update(
            actor=request.user,
            item=item,
            text=request.POST.get("evidence_text"),
            link=request.POST.get("evidence_link"),
            file=request.FILES.get("evidence_file"),
            clear_file=request.POST.get("clear_file") == "on",
        )
    except Forbidden as exc:
        return forbidden(request, exc.message)
    except ServiceError as exc:
        messages.error(request, f"{item.title}: {exc.message}")
    else:
        messages.success(request, f"Evidence saved: {item.title}.")
    return redirect("governance:detail", review_id=review_id)


def _act(request: HtmxHttpRequest, review_id: int, action: str) -> HttpResponse:
    review = _review_or_404(request, review_id)
    comment = request.POST.get("comment", "")
    calls = {
        "submit": lambda: services.review_submit(actor=request.user, review=review),
        "start": lambda: services.review_start(actor=request.user, review=review),
        "approve": lambda: services.review_approve(
            actor=request.user, review=review, comment=comment
        ),
        "reject": lambda: services.review_reject(
            actor=request.user, review=review, comment=comment
        ),
        "request-changes": lambda: services.review_request_changes(
            actor=request.user, review=review, comment=comment
        ),
    }
    if action not in calls:
        raise Http404("No such action.")
    try:
        review = calls[action]()
    except Forbidden as exc:
        return forbidden(request, exc.message)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Review {review.pk}: {review.get_state_display()}.")
    if request.htmx:
        review.refresh_from_db()
        return render(request, "governance/detail.html#panel", _context(request, review))
    return redirect("governance:detail", review_id=review_id)


@require_POST
@require_cap(Cap.VIEW)
def review_action(request: HtmxHttpRequest, review_id: int, action: str) -> HttpResponse:
    return _act(request, review_id, action)


@require_POST
@require_cap(Cap.TRAINING_WRITE)
def model_promote(request: HtmxHttpRequest, version_id: int) -> HttpResponse:
    version = model_version_get(user=request.user, version_id=version_id)
    if version is None:
        raise Http404("No such model version.")
    try:
        services.model_promote(actor=request.user, version=version)
    except Forbidden as exc:
        return forbidden(request, exc.message)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{version} is in production.")
    return redirect("registry:detail", version_id=version.pk)


@require_cap(Cap.VIEW)
def review_item_file(request: HtmxHttpRequest, review_id: int, item_id: int) -> FileResponse:
    """An item's evidence file, as an attachment (never rendered inline)."""
    item = selectors.review_item_get(user=request.user, review_id=review_id, item_id=item_id)
    if item is None or not item.evidence_file:
        raise Http404("No such evidence file.")
    try:
        handle = item.evidence_file.open("rb")
    except OSError:
        raise Http404("The evidence file is missing.") from None
    return FileResponse(
        handle,
        as_attachment=True,
        filename=item.evidence_file.name.rsplit("/", 1)[-1],
        content_type="application/octet-stream",
    )


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return -1  # the spec's check names the field


@require_POST
@require_cap(Cap.VIEW)
def review_item_run_check(request: HtmxHttpRequest, review_id: int, item_id: int) -> HttpResponse:
    """Start an item's automated check (the fact check takes an uploaded Q/A set)."""
    item = selectors.review_item_get(user=request.user, review_id=review_id, item_id=item_id)
    if item is None:
        raise Http404("No such checklist item.")
    params: dict = {"samples": _int(request.POST.get("samples"), 2)}
    upload = request.FILES.get("qa_file")
    try:
        if upload is not None:
            params["qa"] = checks_input.qa_from_upload(upload)
            params["match"] = request.POST.get("match", "normalised")
        job = services.review_check_start(actor=request.user, item=item, params=params)
    except Forbidden as exc:
        return forbidden(request, exc.message)
    except SpecInvalid as exc:
        messages.error(request, f"{item.title}: " + checks_input.spec_errors(exc.errors))
    except ServiceError as exc:
        messages.error(request, f"{item.title}: {exc.message}")
    else:
        messages.success(request, f"{item.title}: check started (job {job.pk}).")
    return redirect("governance:detail", review_id=review_id)


@require_POST
@require_cap(Cap.REVIEW)
def review_item_check(request: HtmxHttpRequest, review_id: int, item_id: int) -> HttpResponse:
    """A reviewer records a manual check result (automated checks will fill it later)."""
    item = selectors.review_item_get(user=request.user, review_id=review_id, item_id=item_id)
    if item is None:
        raise Http404("No such checklist item.")
    passed = request.POST.get("passed", "")
    if passed not in ("yes", "no"):
        messages.error(request, "Say whether the check passed.")
        return redirect("governance:detail", review_id=review_id)
    note = request.POST.get("note", "").strip()[:2000]
    try:
        services.review_item_record_check(
            actor=request.user, item=item, passed=passed == "yes", result={"note": note}
        )
    except Forbidden as exc:
        return forbidden(request, exc.message)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Check recorded: {item.title}.")
    return redirect("governance:detail", review_id=review_id)
