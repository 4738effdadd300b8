from __future__ import annotations

from django.contrib.auth.models import User
from rest_framework import serializers

from console.core.api import ErrorMessageField
from console.jobs import kinds
from console.jobs.models import Job
from console.projects.models import Project


class JobSerializer(serializers.ModelSerializer):
    project: serializers.SlugRelatedField[Project] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    # Null when nobody approved (yet) or the user was deleted (on_delete=SET_NULL).
    requested_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    approved_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    is_terminal = serializers.BooleanField(read_only=True)
    error = ErrorMessageField(
        read_only=True, help_text="Why the job failed: the message; a traceback is on its log."
    )

    class Meta:
        model = Job
        fields = [
            "id",
            "project",
            "kind",
            "name",
            "state",
            "is_terminal",
            "spec",
            "requested_by",
            "requires_approval",
            "approved_by",
            "approved_at",
            "not_before",
            "deadline",
            "carbon_aware",
            "carbon_interruptible",
            "expected_seconds",
            "carbon_plan",
            "attempt",
            "max_attempts",
            "progress",
            "progress_message",
            "result",
            "error",
            "created_at",
            "scheduled_at",
            "dispatched_at",
            "started_at",
            "heartbeat_at",
            "finished_at",
        ]
        read_only_fields = fields


class JobDetailSerializer(JobSerializer):
    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "log_tail", "checkpoint"]
        read_only_fields = fields


class JobSubmitSerializer(serializers.Serializer):
    project = serializers.SlugField(help_text="Slug of a project you are a member of.")
    kind = serializers.CharField(help_text="A job kind, see /api/v1/job-kinds/.")
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    params = serializers.DictField(
        required=False, default=dict, help_text="The kind's spec fields."
    )
    not_before = serializers.DateTimeField(required=False, allow_null=True)
    deadline = serializers.DateTimeField(required=False, allow_null=True)
    carbon_aware = serializers.BooleanField(
        default=False, help_text="Start in the lowest-carbon time before the deadline."
    )
    interruptible = serializers.BooleanField(
        default=False, help_text="Carbon-aware and pausable: run over low-carbon windows."
    )
    expected_seconds = serializers.IntegerField(
        required=False, allow_null=True, min_value=60, max_value=90 * 24 * 3600
    )

    def validate_kind(self, value: str) -> str:
        if kinds.get(value) is None:
            names = ", ".join(k.name for k in kinds.all_kinds())
            raise serializers.ValidationError(f"Unknown job kind. Known kinds: {names}.")
        return value


class JobRejectSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class JobKindSerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    queue = serializers.CharField()
    submit_permission = serializers.CharField(source="submit_cap.value")
    interruptible = serializers.BooleanField()
    requires_approval = serializers.BooleanField()
    service_endpoint = serializers.CharField(
        allow_null=True,
        help_text="Null for a generic kind (submit it to /api/v1/jobs/); otherwise the "
        "endpoint of the service that creates jobs of this kind.",
    )
    # the kind's spec fields; the name shadows Serializer.fields, as the API has it
    fields = serializers.ListField(child=serializers.DictField())  # type: ignore[assignment]
