from django.urls import path

from console.data import views

app_name = "data"
urlpatterns = [
    path("", views.data_list, name="list"),
    path("new/", views.dataset_create, name="create"),
    path("<id:dataset_id>/", views.dataset_detail, name="dataset"),
    path("<id:dataset_id>/upload/", views.dataset_upload, name="upload"),
    path("<id:dataset_id>/import/", views.dataset_import, name="import"),
    path("versions/<id:version_id>/", views.version_detail, name="version"),
    path("versions/<id:version_id>/clean/", views.version_clean, name="clean"),
    path("versions/<id:version_id>/tokenizer/", views.version_tokenizer, name="tokenizer_new"),
    path("tokenizers/<id:tokenizer_id>/", views.tokenizer_detail, name="tokenizer"),
    path(
        "tokenizers/<id:tokenizer_id>/chat-template/",
        views.tokenizer_chat_template,
        name="tokenizer_chat_template",
    ),
    path("tokenize/", views.corpus_new, name="tokenize"),
    path("corpora/<id:corpus_id>/", views.corpus_detail, name="corpus"),
    path("jobs/<id:job_id>/output/", views.job_output, name="job_output"),
]
