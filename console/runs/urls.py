from django.urls import path

from console.runs import estimate, views

app_name = "runs"
urlpatterns = [
    path("", views.run_list, name="list"),
    path("new/", views.run_new, name="new"),
    path("new/estimate.json", estimate.run_estimate, name="estimate"),
    path("compare/", views.run_compare, name="compare"),
    path("compare/data.json", views.run_compare_data, name="compare-data"),
    path("<id:run_id>/", views.run_detail, name="detail"),
    path("<id:run_id>/pause/", views.run_pause, name="pause"),
    path("<id:run_id>/resume/", views.run_resume, name="resume"),
    path("<id:run_id>/cancel/", views.run_cancel, name="cancel"),
    path("<id:run_id>/run-now/", views.run_run_now, name="run-now"),
    path("<id:run_id>/approve/", views.run_approve, name="approve"),
    path("<id:run_id>/reject/", views.run_reject, name="reject"),
    path("<id:run_id>/tensorboard.zip", views.run_tensorboard, name="tensorboard"),
    path("<id:run_id>/gpus.json", views.run_gpus_data, name="gpus"),
]
