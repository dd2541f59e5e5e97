"""Headers that keep every page from leaving traces or being framed.

Django's SecurityMiddleware sets nosniff, Referrer-Policy, COOP and HSTS; this
adds what it does not: no caching (a cached page is a trace of the visit on
the source's device; static files under hashed names excepted), a
Permissions-Policy that denies sensors,
Cross-Origin-Resource-Policy, and Onion-Location when the installation has an
onion address. The Content-Security-Policy comes from django-csp (settings).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from whitenoise.middleware import WhiteNoiseFileResponse

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "camera",
        "microphone",
        "geolocation",
        "payment",
        "usb",
        "interest-cohort",
        "browsing-topics",
    )
)
NO_STORE = "no-store, max-age=0"
# A year: a hashed name's content never changes (a new stylesheet is a new name).
HASHED_STATIC_FILE = "max-age=31536000, immutable"


def is_hashed_static_file(response: HttpResponse) -> bool:
    """A file WhiteNoise serves under a name carrying its content's hash: it never
    changes, so it is cached for a year, not revalidated. It says nothing
    about a tip, and the cache that holds it is partitioned by site in today's browsers
    and kept in memory only by Tor Browser (docs/decisions.md, issue 16)."""
    return isinstance(response, WhiteNoiseFileResponse) and "immutable" in response.get(
        "Cache-Control", ""
    )


class PrivacyHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        cacheable = is_hashed_static_file(response)
        response["Cache-Control"] = HASHED_STATIC_FILE if cacheable else NO_STORE
        response["Permissions-Policy"] = PERMISSIONS_POLICY
        response["Cross-Origin-Resource-Policy"] = "same-origin"
        response["X-Content-Type-Options"] = "nosniff"
        if settings.TIPLINE_ONION_URL:
            response["Onion-Location"] = (
                settings.TIPLINE_ONION_URL.rstrip("/") + request.get_full_path()
            )
        return response
