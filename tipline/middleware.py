"""Headers that keep every page from leaving traces or being framed.

Django's SecurityMiddleware sets nosniff, Referrer-Policy, COOP and HSTS; this
adds what it does not: no caching anywhere (a cached page is a trace of the
visit on the source's device), a Permissions-Policy that denies sensors,
Cross-Origin-Resource-Policy, and Onion-Location when the installation has an
onion address. The Content-Security-Policy comes from django-csp (settings).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

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


class PrivacyHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response["Cache-Control"] = NO_STORE
        response["Permissions-Policy"] = PERMISSIONS_POLICY
        response["Cross-Origin-Resource-Policy"] = "same-origin"
        response["X-Content-Type-Options"] = "nosniff"
        if settings.TIPLINE_ONION_URL:
            response["Onion-Location"] = (
                settings.TIPLINE_ONION_URL.rstrip("/") + request.get_full_path()
            )
        return response
