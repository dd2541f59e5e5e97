"""The first-run pages, under /setup/ (not under a language prefix: they follow the browser's)."""

from django.urls import path

from tipline.setup.views import done_view, key_file_view, setup_view

app_name = "setup"

urlpatterns = [
    # Fixed names first: a token never equals them (it is 43 URL-safe characters).
    path("done/", done_view, name="done"),
    path("key-file/", key_file_view, name="key_file"),
    path("<str:token>/", setup_view, name="setup"),
]
