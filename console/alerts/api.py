"""Alert REST API, per run. Reads need a role in the run's project (another team's run
answers 404); changes need the 'training.write' capability (ML engineers, admins)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.alerts import selectors, services
from console.alerts.models import AlertSettings
from console.alerts.serializers import (
    AlertRuleInputSerializer,
    AlertRuleSerializer,
    AlertSerializer,
    AlertSettingsSerializer,
)
from console.core.permissions import IsMember, require
from console.core.roles import Cap
from console.runs.models import Run


class _RunScoped(APIView):
    """Reads for members; writes for 'training.write'. The run must be visible."""

    def get_permissions(self):
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return [IsMember()]
        return [IsMember(), require(Cap.TRAINING_WRITE)()]

    def run(self) -> Run:
        run = selectors.run_for_alerts(user=self.request.user, run_id=self.kwargs["run_id"])
        if run is None:
            raise Http404
        return run


def _no_unknown_fields(request: Request) -> None:
    known = set(AlertRuleInputSerializer().fields)
    if not hasattr(request.data, "keys"):
        raise serializers.ValidationError({"non_field_errors": ["expected a JSON object"]})
    unknown = sorted(set(request.data.keys()) - known)
    if unknown:
        raise serializers.ValidationError({name: ["unknown field"] for name in unknown})


class AlertRuleListApi(_RunScoped, ListAPIView):
    serializer_class = AlertRuleSerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.rule_list(run=self.run())

    @extend_schema(request=AlertRuleInputSerializer, responses={201: AlertRuleSerializer})
    def post(self, request: Request, run_id: int) -> Response:
        run = self.run()
        _no_unknown_fields(request)
        payload = AlertRuleInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        rule = services.rule_create(actor=request.user, run=run, data=payload.validated_data)
        return Response(AlertRuleSerializer(rule).data, status=status.HTTP_201_CREATED)


class AlertRuleDetailApi(_RunScoped):
    def rule(self):
        rule = selectors.rule_get(run=self.run(), rule_id=self.kwargs["rule_id"])
        if rule is None:
            raise Http404
        return rule

    @extend_schema(responses=AlertRuleSerializer)
    def get(self, request: Request, run_id: int, rule_id: int) -> Response:
        return Response(AlertRuleSerializer(self.rule()).data)

    def _update(self, request: Request, partial: bool) -> Response:
        rule = self.rule()
        _no_unknown_fields(request)
        payload = AlertRuleInputSerializer(data=request.data, partial=partial)
        payload.is_valid(raise_exception=True)
        data = {k: v for k, v in payload.validated_data.items() if k in request.data or not partial}
        rule = services.rule_update(actor=request.user, rule=rule, data=data)
        return Response(AlertRuleSerializer(rule).data)

    @extend_schema(request=AlertRuleInputSerializer, responses=AlertRuleSerializer)
    def put(self, request: Request, run_id: int, rule_id: int) -> Response:
        return self._update(request, partial=False)

    @extend_schema(request=AlertRuleInputSerializer, responses=AlertRuleSerializer)
    def patch(self, request: Request, run_id: int, rule_id: int) -> Response:
        return self._update(request, partial=True)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, run_id: int, rule_id: int) -> Response:
        services.rule_delete(actor=request.user, rule=self.rule())
        return Response(status=status.HTTP_204_NO_CONTENT)


class AlertListApi(_RunScoped, ListAPIView):
    serializer_class = AlertSerializer

    @extend_schema(
        parameters=[OpenApiParameter("open", bool, description="Only open alerts when true.")]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        only_open = self.request.query_params.get("open", "") in ("1", "true", "yes")
        return selectors.alert_list(run=self.run(), open_only=only_open)


class AlertAcknowledgeApi(_RunScoped):
    @extend_schema(request=None, responses=AlertSerializer)
    def post(self, request: Request, run_id: int, alert_id: int) -> Response:
        alert = selectors.alert_get(run=self.run(), alert_id=alert_id)
        if alert is None:
            raise Http404
        alert = services.alert_acknowledge(actor=request.user, alert=alert)
        return Response(AlertSerializer(alert).data)


class AlertSettingsApi(_RunScoped):
    @extend_schema(responses=AlertSettingsSerializer)
    def get(self, request: Request, run_id: int) -> Response:
        row = AlertSettings.objects.filter(run=self.run()).first()
        return Response({"webhook_url": row.webhook_url if row else ""})

    @extend_schema(request=AlertSettingsSerializer, responses=AlertSettingsSerializer)
    def put(self, request: Request, run_id: int) -> Response:
        run = self.run()
        payload = AlertSettingsSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        row = services.alert_settings_set(
            actor=request.user, run=run, webhook_url=payload.validated_data["webhook_url"]
        )
        return Response({"webhook_url": row.webhook_url})
