from django.urls import path

from console.energy import views

app_name = "energy"
urlpatterns = [
    path("", views.energy_home, name="home"),
    path("jobs/<id:job_id>/panel/", views.job_panel, name="job-panel"),
]
