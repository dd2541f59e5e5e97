"""Views shared by every part of the site."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render


def root(request: HttpRequest) -> HttpResponse:
    """``/`` goes to the newsroom's first language, whatever the browser says.

    Choosing by the Accept-Language header would make the page differ by
    browser, a detail that helps fingerprint a source; the switch is on the page.
    """
    return HttpResponseRedirect(f"/{settings.LANGUAGE_CODE}/")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    # The reason is for developers; the person sees what to do.
    return render(request, "csrf_failure.html", status=403)
