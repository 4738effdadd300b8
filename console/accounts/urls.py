from django.urls import path

from console.accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("account/tokens/", views.token_list, name="tokens"),
    path("account/tokens/<id:token_id>/revoke/", views.token_revoke, name="token_revoke"),
]
