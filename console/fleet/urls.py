from django.urls import path

from console.fleet import views

app_name = "fleet"
urlpatterns = [
    path("", views.fleet_list, name="list"),
    path("new/", views.node_create, name="create"),
    path("<slug:name>/", views.node_detail, name="node"),
    path("<slug:name>/<slug:action>/", views.node_action, name="action"),
]
