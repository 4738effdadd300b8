from django.urls import path

from console.alerts import views

app_name = "alerts"
urlpatterns = [
    path("runs/<id:run_id>/", views.run_panel, name="run_panel"),
    path("runs/<id:run_id>/rules/<id:rule_id>/edit/", views.rule_edit, name="rule_edit"),
    path("runs/<id:run_id>/settings/", views.settings_edit, name="settings"),
    path(
        "runs/<id:run_id>/alerts/<id:alert_id>/acknowledge/",
        views.alert_acknowledge,
        name="acknowledge",
    ),
]
