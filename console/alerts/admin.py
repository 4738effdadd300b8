from django import forms
from django.contrib import admin

from console.alerts.models import Alert, AlertRule, AlertSettings
from console.alerts.services import alert_settings_set
from console.alerts.webhooks import url_problem


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ("id", "run", "name", "kind", "metric", "low", "high", "enabled")
    list_filter = ("kind", "enabled", "severity")
    search_fields = ("name", "metric")
    raw_id_fields = ("run",)


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("id", "run", "rule", "severity", "fired_at", "step", "value", "resolved_at")
    list_filter = ("severity",)
    readonly_fields = ("run", "rule", "fired_at", "step", "value", "message", "notified_at")
    raw_id_fields = ("acknowledged_by",)


class AlertSettingsForm(forms.ModelForm):
    webhook_url = forms.URLField(required=False, max_length=500, assume_scheme="https")

    class Meta:
        model = AlertSettings
        fields = ["run", "webhook_url"]

    def clean_webhook_url(self) -> str:
        url = self.cleaned_data.get("webhook_url", "")
        problem = url_problem(url) if url else ""
        if problem:
            raise forms.ValidationError(problem)
        return url


@admin.register(AlertSettings)
class AlertSettingsAdmin(admin.ModelAdmin):
    form = AlertSettingsForm
    list_display = ("run", "webhook_url", "updated_at")
    raw_id_fields = ("run",)

    def save_model(self, request, obj, form, change) -> None:
        # Through the same service (and S9 check) as the page and the API.
        alert_settings_set(actor=request.user, run=obj.run, webhook_url=obj.webhook_url)
