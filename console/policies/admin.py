"""The admin panel: launch policies are edited here (held runs are approved or rejected
from console/runs/admin.py, with the same services as the run page and the API)."""

from __future__ import annotations

from django.contrib import admin

from console.policies.models import RunApprovalPolicy


@admin.register(RunApprovalPolicy)
class RunApprovalPolicyAdmin(admin.ModelAdmin):
    list_display = ("project", "enabled", "max_gpu_hours", "max_cost", "presets", "updated_at")
    list_filter = ("enabled",)
