from django.contrib import admin, messages

from console.core.errors import ServiceError
from console.jobs import services
from console.jobs.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """Read-only view of jobs; state changes go through the same services as the UI and API."""

    list_display = ["id", "kind", "project", "state", "progress", "requested_by", "created_at"]
    list_filter = ["state", "kind", "project"]
    search_fields = ["id", "name", "kind"]
    actions = ["cancel_jobs"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Job._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Cancel selected jobs")
    def cancel_jobs(self, request, queryset):
        for job in queryset:
            try:
                services.job_cancel(actor=request.user, job_id=job.pk)
            except ServiceError as exc:
                self.message_user(request, f"Job {job.pk}: {exc.message}", messages.WARNING)
