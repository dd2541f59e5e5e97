from django.urls import path

from tipline.intake import views

app_name = "intake"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("send/", views.submit, name="submit"),
]
