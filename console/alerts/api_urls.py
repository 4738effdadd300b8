"""API routes, included in console.urls' api_v1 list (namespace "api")."""

from django.urls import path

from console.alerts import api

urlpatterns = [
    path("runs/<int:run_id>/alert-rules/", api.AlertRuleListApi.as_view(), name="alert-rules"),
    path(
        "runs/<int:run_id>/alert-rules/<int:rule_id>/",
        api.AlertRuleDetailApi.as_view(),
        name="alert-rule-detail",
    ),
    path("runs/<int:run_id>/alerts/", api.AlertListApi.as_view(), name="run-alerts"),
    path(
        "runs/<int:run_id>/alerts/<int:alert_id>/acknowledge/",
        api.AlertAcknowledgeApi.as_view(),
        name="alert-acknowledge",
    ),
    path(
        "runs/<int:run_id>/alert-settings/",
        api.AlertSettingsApi.as_view(),
        name="alert-settings",
    ),
]
