"""System checks for what Django's own cannot see.

Django's ``security.W003`` looks for ``django.middleware.csrf.CsrfViewMiddleware``
by its exact name; ours is a subclass (tipline/csrf.py), so the settings
silence W003 and this check looks for the class instead. Once W003 is
silenced Django also skips ``security.W016`` (the CSRF cookie's Secure flag),
so that is checked here too.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.module_loading import import_string


def _csrf_middleware_installed() -> bool:
    for path in settings.MIDDLEWARE:
        try:
            middleware = import_string(path)
        except ImportError:
            continue
        if isinstance(middleware, type) and issubclass(middleware, CsrfViewMiddleware):
            return True
    return False


@register(Tags.security, deploy=True)
def check_csrf_protection(app_configs, **kwargs) -> list[Warning]:
    if not _csrf_middleware_installed():
        return [
            Warning(
                "No CsrfViewMiddleware (or subclass) is in MIDDLEWARE: forms are unprotected.",
                id="tipline.W003",
            )
        ]
    if not settings.CSRF_USE_SESSIONS and settings.CSRF_COOKIE_SECURE is not True:
        return [
            Warning(
                "CSRF_COOKIE_SECURE is not True: set TIPLINE_SECURE_COOKIES=true.",
                id="tipline.W016",
            )
        ]
    return []
