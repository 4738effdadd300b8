from django.urls import path

from console.alerts import views

app_name = "alerts"
urlpatterns = [
    path("runs/<int:run_id>/", views.run_panel, name="run_panel"),
    path("runs/<int:run_id>/rules/<int:rule_id>/edit/", views.rule_edit, name="rule_edit"),
    path("runs/<int:run_id>/settings/", views.settings_edit, name="settings"),
    path(
        "runs/<int:run_id>/alerts/<int:alert_id>/acknowledge/",
        views.alert_acknowledge,
        name="acknowledge",
    ),
]
