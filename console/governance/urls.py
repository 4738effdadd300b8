from django.urls import path

from console.governance import views

app_name = "governance"
urlpatterns = [
    path("", views.review_list, name="list"),
    path("<int:review_id>/", views.review_detail, name="detail"),
    path("<int:review_id>/items/<int:item_id>/", views.review_item, name="item"),
    path("<int:review_id>/items/<int:item_id>/file", views.review_item_file, name="item-file"),
    path("<int:review_id>/items/<int:item_id>/check/", views.review_item_check, name="item-check"),
    path(
        "<int:review_id>/items/<int:item_id>/run-check/",
        views.review_item_run_check,
        name="item-run-check",
    ),
    path("<int:review_id>/<slug:action>/", views.review_action, name="action"),
    path("models/<int:version_id>/open/", views.review_open, name="open"),
    path("models/<int:version_id>/promote/", views.model_promote, name="promote"),
]
