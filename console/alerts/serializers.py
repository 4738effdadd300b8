from __future__ import annotations

from django.contrib.auth.models import User
from rest_framework import serializers

from console.alerts.models import Alert, AlertRule, RuleKind, Severity


class AlertRuleSerializer(serializers.ModelSerializer):
    normal = serializers.CharField(read_only=True, help_text="The normal range, for display.")
    condition = serializers.CharField(read_only=True, help_text="When it fires, in words.")

    class Meta:
        model = AlertRule
        fields = [
            "id",
            "name",
            "kind",
            "metric",
            "low",
            "high",
            "factor",
            "window",
            "normal_low",
            "normal_high",
            "normal",
            "severity",
            "enabled",
            "condition",
            "created_at",
            "updated_at",
        ]


class AlertRuleInputSerializer(serializers.Serializer):
    """Types only; the service checks the rule as a whole (console.alerts.services)."""

    name = serializers.CharField(max_length=64)
    kind = serializers.ChoiceField(choices=RuleKind.choices)
    metric = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    low = serializers.FloatField(required=False, allow_null=True, default=None)
    high = serializers.FloatField(required=False, allow_null=True, default=None)
    factor = serializers.FloatField(required=False, allow_null=True, default=None)
    window = serializers.IntegerField(min_value=0, max_value=7 * 86400, required=False, default=0)
    normal_low = serializers.FloatField(required=False, allow_null=True, default=None)
    normal_high = serializers.FloatField(required=False, allow_null=True, default=None)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False, default="warning")
    enabled = serializers.BooleanField(required=False, default=True)


class AlertSerializer(serializers.ModelSerializer):
    rule: serializers.SlugRelatedField[AlertRule] = serializers.SlugRelatedField(
        slug_field="name", read_only=True
    )
    rule_id = serializers.IntegerField(read_only=True)
    acknowledged_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    open = serializers.BooleanField(source="is_open", read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "rule",
            "rule_id",
            "severity",
            "fired_at",
            "step",
            "value",
            "message",
            "open",
            "resolved_at",
            "acknowledged_at",
            "acknowledged_by",
            "notified_at",
            "notify_error",
        ]


class AlertSettingsSerializer(serializers.Serializer):
    webhook_url = serializers.CharField(
        max_length=500, allow_blank=True, help_text="Blank: the console's default webhook."
    )
