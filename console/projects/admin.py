from django.contrib import admin

from console.audit.services import audit_record
from console.projects.models import Membership, Project


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    """Projects and their members; membership decides who sees what, so changes are audited."""

    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    def save_related(self, request, form, formsets, change):
        project = form.instance
        before = (
            sorted(project.memberships.values_list("user__username", flat=True)) if change else []
        )
        super().save_related(request, form, formsets, change)
        after = sorted(project.memberships.values_list("user__username", flat=True))
        audit_record(
            action="project.update" if change else "project.create",
            actor=request.user,
            obj=project,
            project_id=project.pk,
            before={"members": before} if change else None,
            after={"slug": project.slug, "name": project.name, "members": after},
        )

    def delete_model(self, request, obj):
        audit_record(action="project.delete", actor=request.user, obj=obj, project_id=obj.pk)
        super().delete_model(request, obj)
