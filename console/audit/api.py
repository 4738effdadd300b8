from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView

from console.audit.models import AuditEvent
from console.audit.selectors import audit_event_list
from console.core.permissions import require
from console.core.roles import Cap


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "actor_name",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "project_id",
            "before",
            "after",
            "request_id",
            "ip",
        ]
        read_only_fields = fields


class AuditFilterSerializer(serializers.Serializer):
    action = serializers.CharField(required=False, allow_blank=True, max_length=64)
    actor = serializers.CharField(required=False, allow_blank=True, max_length=150)
    object_type = serializers.CharField(required=False, allow_blank=True, max_length=64)
    object_id = serializers.CharField(required=False, allow_blank=True, max_length=64)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)


class AuditEventListApi(ListAPIView):
    """Audit events, newest first (admin and reviewer roles). A reviewer reads the events
    of their own projects (and their own project-less ones); an admin reads all."""

    serializer_class = AuditEventSerializer
    permission_classes = [require(Cap.AUDIT_VIEW)]

    @extend_schema(parameters=[AuditFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = AuditFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return audit_event_list(reader=self.request.user, **filters.validated_data)
