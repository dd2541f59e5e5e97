"""The URLconf of refusals the server decides before Django sees the request.

A request body over ``TIPLINE_MAX_REQUEST_BODY_KB`` is refused without being
read; the answer still goes through every middleware (policy headers, CSP,
no-store) because the request is routed here (``bridge.refusal``) rather than
answered by hand.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt

TEXTS = {
    413: "The request is too large.\n",
    408: "The request arrived too slowly.\n",
}


@csrf_exempt  # refuses, changes nothing
def refused(request: HttpRequest) -> HttpResponse:
    status = getattr(request, "tipline_refusal", 400)
    return HttpResponse(
        TEXTS.get(status, "Bad request.\n"), status=status, content_type="text/plain; charset=utf-8"
    )


urlpatterns = [re_path(r"", refused)]
