from django.urls import path

from console.governance import views

app_name = "governance"
urlpatterns = [
    path("", views.review_list, name="list"),
    path("<id:review_id>/", views.review_detail, name="detail"),
    path("<id:review_id>/items/<id:item_id>/", views.review_item, name="item"),
    path("<id:review_id>/items/<id:item_id>/file", views.review_item_file, name="item-file"),
    path("<id:review_id>/items/<id:item_id>/check/", views.review_item_check, name="item-check"),
    path(
        "<id:review_id>/items/<id:item_id>/run-check/",
        views.review_item_run_check,
        name="item-run-check",
    ),
    path("<id:review_id>/<slug:action>/", views.review_action, name="action"),
    path("models/<id:version_id>/open/", views.review_open, name="open"),
    path("models/<id:version_id>/promote/", views.model_promote, name="promote"),
]
