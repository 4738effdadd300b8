from django.contrib import admin

from console.registry.models import Evaluation, Feedback, ModelVersion


class _ReadOnly(admin.ModelAdmin):
    """Versions and evaluations are made by their jobs and never edited here; a
    version's status changes through the registry's service (governance to come)."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ModelVersion)
class ModelVersionAdmin(_ReadOnly):
    list_display = ["__str__", "project", "status", "kind", "precision", "size_bytes", "created_at"]
    list_filter = ["status", "kind", "precision", "project"]
    search_fields = ["name"]


@admin.register(Evaluation)
class EvaluationAdmin(_ReadOnly):
    list_display = ["__str__", "kind", "created_by", "created_at"]
    list_filter = ["kind"]


@admin.register(Feedback)
class FeedbackAdmin(_ReadOnly):
    """Rated answers, stored with PII masked (registry.feedback); read-only here."""

    list_display = ["__str__", "scale", "rating", "flagged", "source", "app", "created_at"]
    list_filter = ["sentiment", "flagged", "source"]
    search_fields = ["prompt", "output", "correction", "app"]
