from django.urls import path

from console.registry import views

app_name = "registry"
urlpatterns = [
    path("", views.model_list, name="list"),
    path("new/", views.model_new, name="new"),
    path("jobs/<id:job_id>/output/", views.job_output, name="job-output"),
    path("<id:version_id>/", views.model_detail, name="detail"),
    path("<id:version_id>/evaluate/", views.model_evaluate, name="evaluate"),
    path("<id:version_id>/quantize/", views.model_quantize, name="quantize"),
    path("<id:version_id>/export-onnx/", views.model_export_onnx, name="export-onnx"),
    path("<id:version_id>/status/", views.model_status, name="status"),
    path("<id:version_id>/download.zip", views.model_download, name="download"),
    path("<id:version_id>/files/<path:path>", views.model_file, name="file"),
    path("<id:version_id>/playground/", views.model_playground, name="playground"),
    path("<id:version_id>/feedback/", views.model_feedback, name="feedback"),
    path(
        "<id:version_id>/feedback/export.jsonl", views.model_feedback_export, name="feedback-export"
    ),
    path(
        "<id:version_id>/feedback/to-dataset/",
        views.model_feedback_to_dataset,
        name="feedback-to-dataset",
    ),
    path("<id:version_id>/feedback/new/", views.model_feedback_new, name="feedback-new"),
]
