from django.urls import path

from tipline.intake import checkback, views

app_name = "intake"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("send/", views.submit, name="submit"),
    path("come-back/", checkback.come_back, name="come_back"),
    path("conversation/", checkback.conversation, name="conversation"),
    path("conversation/leave/", checkback.leave, name="leave"),
]
