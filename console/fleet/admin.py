"""The admin panel for nodes: power policy, power model and prices are edited here,
through the same service as the API (admins only, audit-logged). Nodes are added on
the fleet page (that issues the agent's token); what agents report is read-only."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from console.core.errors import ServiceError
from console.fleet import selectors, services
from console.fleet.models import Node


class NodeAdminForm(forms.ModelForm):
    class Meta:
        model = Node
        fields = list(services.NODE_SETTINGS_FIELDS)

    def clean(self):
        data = super().clean()
        mode = data.get("power_cap_mode", self.instance.power_cap_mode)
        watts = data.get("power_cap_watts")
        if "power_cap_watts" in self.errors:
            return data
        try:
            services.node_power_policy_check(mode=mode, watts=watts)
        except ServiceError as exc:
            raise forms.ValidationError({"power_cap_watts": exc.message}) from None
        return data


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    form = NodeAdminForm
    list_display = (
        "name",
        "status",
        "enabled",
        "price_tier",
        "power_cap_mode",
        "power_cap_watts",
        "power_cap_reported_at",
    )
    list_filter = ("status", "price_tier", "power_cap_mode")
    search_fields = ("name", "hostname")
    fieldsets = (
        (None, {"fields": ("name", "status", "enabled", "hostname", "agent_version")}),
        (
            "Power model and prices",
            {
                "fields": (
                    "cpu_power_watts",
                    "power_model",
                    "price_tier",
                    "price_on_demand",
                    "price_spot",
                    "price_reserved",
                    "hourly_price",
                )
            },
        ),
        (
            "Power policy",
            {
                "fields": (
                    "power_cap_mode",
                    "power_cap_watts",
                    "power_cap_summary",
                    "power_cap_report",
                    "power_cap_reported_at",
                )
            },
        ),
    )
    readonly_fields = (
        "name",
        "status",
        "enabled",
        "hostname",
        "agent_version",
        "power_model",
        "hourly_price",
        "power_cap_summary",
        "power_cap_report",
        "power_cap_reported_at",
    )

    @admin.display(description="Power model in use (W)")
    def power_model(self, obj: Node) -> float:
        return selectors.node_power_model_watts(obj)

    @admin.display(description="Price per GPU-hour in use")
    def hourly_price(self, obj: Node) -> str:
        return str(selectors.node_hourly_price(obj, 1))

    @admin.display(description="Agent's last report")
    def power_cap_summary(self, obj: Node) -> str:
        return "; ".join(selectors.node_power_report_lines(obj)) or "—"

    def has_add_permission(self, request) -> bool:
        return False  # the fleet page adds nodes and shows their token once

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        changes = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name in services.NODE_SETTINGS_FIELDS
        }
        if not changes:
            return
        try:
            services.node_settings_update(actor=request.user, node=obj, **changes)
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
