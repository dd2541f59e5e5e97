"""CSRF protection with no exception: a form post must come from one of our own pages.

Two checks decide, as in Django's middleware: the token must match the CSRF
cookie, and the ``Origin`` the browser sends must be ours (or, over HTTPS with
no ``Origin``, the ``Referer``). Neither is enough alone against a page on a
sibling subdomain (``evil.example.org`` next to ``tips.example.org``): it is
*same-site*, so ``SameSite=Strict`` cookies still come along, and it can plant
a cookie for the parent domain. So:

- the cookies are named ``__Host-...`` (settings, when they are Secure): a
  browser accepts such a cookie only from the host itself, without a
  ``Domain``, so no other host can plant or replace it;
- ``Origin: null`` is refused. Browsers send ``null`` when the sending page
  hides its origin (``no-referrer``), from sandboxed and ``data:`` documents,
  and after a redirect across origins: never for a form of ours, since every
  page is served with ``Referrer-Policy: same-origin`` (settings), which sends
  the real origin to us and nothing to other sites. The site used to send
  ``no-referrer`` and accept ``null``; a sibling page with
  ``<meta name=referrer content=no-referrer>`` and a planted cookie then
  passed both checks (issue 13). ``Sec-Fetch-Site: same-origin`` is not taken
  as a reason to accept ``null`` either: no page of ours produces that pair,
  and a rule that is never needed is one more thing to get wrong
  (docs/staff.md, "Cross-site request forgery").
"""

from __future__ import annotations

from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.decorators import decorator_from_middleware

# What browsers send for an origin they will not disclose.
OPAQUE_ORIGIN = "null"


class OwnOriginCsrfViewMiddleware(CsrfViewMiddleware):
    def _origin_verified(self, request: HttpRequest) -> bool:
        if request.META.get("HTTP_ORIGIN") == OPAQUE_ORIGIN:
            # Django refuses it too, unless CSRF_TRUSTED_ORIGINS were ever made to
            # match it: stated here so that no setting can bring it back.
            return False
        # A private method of Django's middleware, which django-stubs leaves out.
        return super()._origin_verified(request)  # type: ignore[misc]


csrf_protect = decorator_from_middleware(OwnOriginCsrfViewMiddleware)
