from django.urls import path

from console.carbon import views

app_name = "carbon"
urlpatterns = [path("", views.carbon_home, name="home")]
