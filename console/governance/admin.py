"""The sign-off panel. Reviewers (staff with the 'review' capability) see the reviews of
their projects, the evidence and check results read-only, and decide through the admin
actions, which call the same services as the browser and the API. Nothing about a review
changes through the change form: a POST to it is refused (403) and audit-logged."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join

from console.core.errors import Forbidden, ServiceError
from console.core.roles import Cap, has_cap
from console.governance import selectors, services
from console.governance.display import check_view
from console.governance.models import (
    ChecklistItem,
    ChecklistTemplate,
    Decision,
    Review,
    ReviewItem,
)


class ChecklistItemInline(admin.TabularInline):
    model = ChecklistItem
    extra = 1
    fields = [
        "order",
        "key",
        "title",
        "guidance",
        "evidence_kinds",
        "check_kind",
        "threshold",
        "required",
    ]


@admin.register(ChecklistTemplate)
class ChecklistTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "required_approvers", "active", "created_at"]
    list_filter = ["active"]
    inlines = [ChecklistItemInline]


def check_summary(item: ReviewItem) -> str:
    """One line for the sign-off panel: what ran, its value against the threshold; a
    result recorded by hand with who, why and the automated result it replaced. Any
    stored shape (console.governance.display) reads without raising."""
    view = check_view(item)
    job = view["job"]
    if job is not None and job["running"]:
        return f"running (job {job['id']}, {job['progress']}%)"
    if view["kind"] == "automated":
        return _automated_summary(view["auto"])
    if view["kind"] == "manual":
        manual = view["manual"]
        verdict = "passed" if item.passed else "failed"
        text = f"reviewer's result: {verdict} by {manual['by'] or '?'}. {manual['note']}".strip()
        if manual["overrides"] is not None:
            text += f" (replaces {_automated_summary(manual['overrides'])})"
        return text
    if job is not None and job["state"] == "failed":
        return f"the check job {job['id']} failed: {job['error']}"
    if view["kind"] == "other":
        return "; ".join(f"{k}: {v}" for k, v in view["other"])[:300]
    return "—"


def _automated_summary(auto: dict) -> str:
    bound = {"at most": "≤", "at least": "≥"}.get(auto["direction"], "")
    verdict = "passed" if auto["passed"] else "FAILED"
    needs = f" (needs {bound} {auto['threshold']})" if auto["threshold"] else ""
    generations = f", {auto['generations']} generations" if auto["generations"] is not None else ""
    return (
        f"{verdict}: {auto['metric']} {auto['value']}{needs}{generations}, "
        f"job {auto['job'] or '?'} by {auto['run_by'] or '?'}"
    )


def _reviewer(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and has_cap(user, Cap.REVIEW))


class ReviewItemInline(admin.TabularInline):
    model = ReviewItem
    extra = 0
    can_delete = False
    fields = [
        "title",
        "required",
        "evidence_text",
        "evidence_link",
        "evidence_file",
        "check_kind",
        "threshold",
        "check_summary",
        "check_result",
        "passed",
    ]
    readonly_fields = fields

    @admin.display(description="check")
    def check_summary(self, obj: ReviewItem) -> str:
        return check_summary(obj)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return _reviewer(request)


class DecisionInline(admin.TabularInline):
    model = Decision
    extra = 0
    can_delete = False
    fields = ["round", "reviewer", "decision", "comment", "at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return _reviewer(request)


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "version",
        "project",
        "state",
        "round",
        "approvals",
        "submitted_by",
        "submitted_at",
    ]
    list_filter = ["state", "project"]
    search_fields = ["version__name", "template_name"]
    inlines = [ReviewItemInline, DecisionInline]
    actions = ["approve_reviews", "request_changes_reviews", "reject_reviews"]

    @admin.display(description="approvals")
    def approvals(self, obj: Review) -> str:
        n = obj.decisions.filter(round=obj.round, decision="approve").count()
        return f"{n}/{obj.required_approvers}"

    @admin.display(description="checklist")
    def checklist(self, obj: Review):
        rows = [
            (
                i.title,
                "yes" if i.has_evidence else "missing",
                check_summary(i),
            )
            for i in obj.items.select_related("check_job")
        ]
        return format_html(
            "<table>{}</table>",
            format_html_join(
                "", "<tr><td>{}</td><td>evidence: {}</td><td>check: {}</td></tr>", rows
            ),
        )

    # -- who sees what: reviewers of the review's project; nobody edits

    def get_queryset(self, request):
        return selectors.review_list(user=request.user)

    def has_module_permission(self, request) -> bool:
        return _reviewer(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return _reviewer(request)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Review._meta.fields] + ["checklist"]

    def save_model(self, request, obj, form, change) -> None:
        raise PermissionDenied("Reviews change only through the review actions.")

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST":
            review = selectors.review_get(user=request.user, review_id=int(object_id or 0))
            if review is not None:
                fields = [k for k in request.POST if k != "csrfmiddlewaretoken"]
                services.review_tamper_refused(
                    actor=request.user, review=review, via="admin change form", fields=fields
                )
            raise PermissionDenied(
                "Reviews change only through the Approve, Request changes and Reject actions."
            )
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        if not has_cap(request.user, Cap.REVIEW):
            return {}
        return actions

    # -- the sign-off actions (an intermediate page asks for the comment)

    def _decide(self, request, queryset, service, title: str, comment_required: bool):
        if "apply" not in request.POST:
            return self._confirm(request, queryset, title, comment_required, "")
        comment = request.POST.get("comment", "").strip()
        if comment_required and not comment:
            return self._confirm(
                request, queryset, title, comment_required, "Say why: a comment is required."
            )
        for review in queryset:
            try:
                service(actor=request.user, review=review, comment=comment)
            except Forbidden as exc:
                self.message_user(
                    request, f"Review {review.pk}: refused: {exc.message}", messages.ERROR
                )
            except ServiceError as exc:
                self.message_user(request, f"Review {review.pk}: {exc.message}", messages.WARNING)
            else:
                self.message_user(
                    request, f"Review {review.pk}: {title.lower()} recorded.", messages.SUCCESS
                )
        return None

    def _confirm(self, request, queryset, title: str, comment_required: bool, error: str):
        context = {
            **self.admin_site.each_context(request),
            "title": f"{title}: confirm",
            "action": request.POST.get("action", ""),
            "reviews": queryset,
            "checks": [
                (
                    review,
                    [(i.title, check_summary(i)) for i in review.items.select_related("check_job")],
                )
                for review in queryset
            ],
            "comment_required": comment_required,
            "error": error,
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "verb": title,
        }
        return TemplateResponse(request, "governance/admin/confirm.html", context)

    @admin.action(description="Approve selected reviews")
    def approve_reviews(self, request, queryset):
        return self._decide(request, queryset, services.review_approve, "Approve", False)

    @admin.action(description="Request changes on selected reviews")
    def request_changes_reviews(self, request, queryset):
        return self._decide(
            request, queryset, services.review_request_changes, "Request changes", True
        )

    @admin.action(description="Reject selected reviews")
    def reject_reviews(self, request, queryset):
        return self._decide(request, queryset, services.review_reject, "Reject", True)
