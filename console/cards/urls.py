from django.urls import path

from console.cards import views

app_name = "cards"
urlpatterns = [
    path("<id:version_id>/card/", views.card_page, name="card"),
    path("<id:version_id>/card.md", views.card_md, name="card-md"),
    path("<id:version_id>/card.html", views.card_html, name="card-html"),
    path("<id:version_id>/deployment.zip", views.deployment_bundle, name="deployment"),
]
