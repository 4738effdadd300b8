"""Page forms: types and ranges; the service checks the rule as a whole."""

from __future__ import annotations

from django import forms

from console.alerts.models import Severity


class AlertRuleForm(forms.Form):
    low = forms.FloatField(required=False, help_text="Alert below this.")
    high = forms.FloatField(required=False, help_text="Alert above this.")
    factor = forms.FloatField(required=False, help_text="Spike/drop: x the rolling median.")
    window = forms.IntegerField(
        required=False, min_value=0, max_value=7 * 86400, help_text="Points, or seconds."
    )
    normal_low = forms.FloatField(required=False, label="Normal from")
    normal_high = forms.FloatField(required=False, label="Normal to")
    severity = forms.ChoiceField(choices=Severity.choices)
    enabled = forms.BooleanField(required=False)


class AlertSettingsForm(forms.Form):
    webhook_url = forms.CharField(
        required=False, max_length=500, label="Webhook URL", help_text="Blank: the default."
    )
