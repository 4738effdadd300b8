"""API routes, included in console.urls' api_v1 list (namespace "api")."""

from django.urls import path

from console.alerts import api

urlpatterns = [
    path("runs/<id:run_id>/alert-rules/", api.AlertRuleListApi.as_view(), name="alert-rules"),
    path(
        "runs/<id:run_id>/alert-rules/<id:rule_id>/",
        api.AlertRuleDetailApi.as_view(),
        name="alert-rule-detail",
    ),
    path("runs/<id:run_id>/alerts/", api.AlertListApi.as_view(), name="run-alerts"),
    path(
        "runs/<id:run_id>/alerts/<id:alert_id>/acknowledge/",
        api.AlertAcknowledgeApi.as_view(),
        name="alert-acknowledge",
    ),
    path(
        "runs/<id:run_id>/alert-settings/",
        api.AlertSettingsApi.as_view(),
        name="alert-settings",
    ),
]
