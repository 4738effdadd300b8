from django.urls import path

from console.jobs import views

app_name = "jobs"
urlpatterns = [
    path("", views.job_list, name="list"),
    path("new/", views.job_new, name="new"),
    path("<id:job_id>/", views.job_detail, name="detail"),
    path("<id:job_id>/<slug:action>/", views.job_action, name="action"),
]
