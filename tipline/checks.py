"""System checks for what Django's own cannot see.

Django's ``security.W003`` looks for ``django.middleware.csrf.CsrfViewMiddleware``
by its exact name; ours is a subclass (tipline/csrf.py), so the settings
silence W003 and this check looks for the class instead. Once W003 is
silenced Django also skips ``security.W016`` (the CSRF cookie's Secure flag),
so that is checked here too.

The cookies must be ``__Host-`` cookies, or a page on a sibling subdomain can
plant its own and forge a post (tipline/csrf.py). These checks run with every
``manage.py`` command (``tipline_status`` and ``migrate`` in ``make run``
included), not only with ``check --deploy``: behind TLS, cookies without the
prefix stop the command; elsewhere they are warned about; and a ``__Host-``
cookie that browsers would refuse (not Secure, a Domain, a Path other than
``/``) stops it too, since every form would then fail.
"""

from __future__ import annotations

from typing import NamedTuple

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.module_loading import import_string

HOST_PREFIX = "__Host-"


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


class SiteCookie(NamedTuple):
    setting: str  # the settings' prefix: SESSION_COOKIE, CSRF_COOKIE
    name: str
    secure: bool
    path: str
    domain: str | None


def _site_cookies() -> list[SiteCookie]:
    """The cookies the site sets itself, as the settings describe them."""
    cookies = [
        SiteCookie(
            "SESSION_COOKIE",
            settings.SESSION_COOKIE_NAME,
            settings.SESSION_COOKIE_SECURE,
            settings.SESSION_COOKIE_PATH,
            settings.SESSION_COOKIE_DOMAIN,
        )
    ]
    if not settings.CSRF_USE_SESSIONS:
        cookies.append(
            SiteCookie(
                "CSRF_COOKIE",
                settings.CSRF_COOKIE_NAME,
                settings.CSRF_COOKIE_SECURE,
                settings.CSRF_COOKIE_PATH,
                settings.CSRF_COOKIE_DOMAIN,
            )
        )
    return cookies


def _browsers_keep(cookie: SiteCookie) -> bool:
    """What a browser requires of a `__Host-` cookie before it stores it."""
    return cookie.secure is True and cookie.path == "/" and cookie.domain is None


@register(Tags.security)
def check_host_only_cookies(app_configs, **kwargs) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    unprefixed = []
    for cookie in _site_cookies():
        setting = cookie.setting
        if not cookie.name.startswith(HOST_PREFIX):
            unprefixed.append(f"{setting}_NAME={cookie.name!r}")
        elif not _browsers_keep(cookie):
            messages.append(
                Error(
                    f"{setting}_NAME={cookie.name!r} needs {setting}_SECURE=True, "
                    f"{setting}_PATH='/' and no {setting}_DOMAIN: browsers drop any other "
                    f"`{HOST_PREFIX}` cookie, and every form would fail.",
                    id="tipline.E020",
                )
            )
    if unprefixed:
        text = (
            f"{', '.join(unprefixed)} lack the `{HOST_PREFIX}` prefix: a page on a sibling "
            "subdomain can plant these cookies and forge posts. Set TIPLINE_SECURE_COOKIES=true."
        )
        if settings.TIPLINE_HTTPS:
            messages.append(Error(text + " (Served over HTTPS.)", id="tipline.E021"))
        else:
            messages.append(Warning(text, id="tipline.W020"))
    return messages


@register(Tags.security, deploy=True)
def check_trusted_origins(app_configs, **kwargs) -> list[Warning]:
    wildcards = [origin for origin in settings.CSRF_TRUSTED_ORIGINS if "*" in origin]
    if not wildcards:
        return []
    return [
        Warning(
            f"CSRF_TRUSTED_ORIGINS trusts every subdomain of {', '.join(wildcards)}: a page on "
            "any of them can post to the tip line. List each origin instead.",
            id="tipline.W021",
        )
    ]
