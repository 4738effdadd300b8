"""The admin panel: runs and checkpoints (read), and held runs' approvals, approved or
rejected with actions that call the same services as the run page and the API."""

from __future__ import annotations

from django.contrib import admin, messages

from console.audit.auth import forbidden
from console.core.errors import Forbidden, ServiceError
from console.policies.models import RunApproval
from console.runs import services
from console.runs.models import Checkpoint, Run


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "project", "preset", "job", "created_at")
    readonly_fields = ("spec", "deepspeed", "job", "corpus")


@admin.register(Checkpoint)
class CheckpointAdmin(admin.ModelAdmin):
    list_display = ("id", "run", "step", "tag", "created_at")


@admin.register(RunApproval)
class RunApprovalAdmin(admin.ModelAdmin):
    """Read-only; the decision is taken with the actions below (four-eyes enforced)."""

    list_display = ("run", "decision", "reasons", "decided_by", "decided_at", "created_at")
    list_filter = ("decision",)
    actions = ["approve_runs", "reject_runs"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in RunApproval._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _decide(self, request, queryset, service, done: str):
        refused = []
        for approval in queryset:
            try:
                service(actor=request.user, run_id=approval.run_id)
            except Forbidden as exc:
                refused.append(f"Run {approval.run_id}: {exc.message}")
            except ServiceError as exc:
                self.message_user(
                    request, f"Run {approval.run_id}: {exc.message}", messages.WARNING
                )
            else:
                self.message_user(request, f"Run {approval.run_id} {done}.")
        if refused:
            return forbidden(request, " ".join(refused))
        return None

    @admin.action(description="Approve selected runs")
    def approve_runs(self, request, queryset):
        return self._decide(request, queryset, services.run_approve, "approved")

    @admin.action(description="Reject selected runs")
    def reject_runs(self, request, queryset):
        return self._decide(request, queryset, services.run_reject, "rejected")
