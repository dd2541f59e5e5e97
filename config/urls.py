"""URL map: the source pages under a language prefix (/es/, /en/); staff under /staff/."""

from django.conf.urls.i18n import i18n_patterns
from django.urls import include, path

from tipline.views import root

urlpatterns = [
    path("", root, name="root"),
    # Not under a language prefix: staff pages follow the browser's language.
    path("staff/", include("tipline.triage.urls")),
    # The first-run page: a one-time link `make run` prints (tipline/setup/).
    path("setup/", include("tipline.setup.urls")),
]

urlpatterns += i18n_patterns(
    path("", include("tipline.intake.urls")),
    prefix_default_language=True,
)
