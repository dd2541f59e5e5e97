"""The sealed recovery key file, held for the one browser that just made it, until it downloads it.

The file is already sealed under the admin's passphrase; it waits in the
session sealed once more, under a random key that only a cookie of that
browser holds (path ``/setup/``). So a copy of the database meanwhile holds
nothing that opens, another browser (even with the link) gets nothing, and the
first download takes it out of the session: there is no second one.
"""

from __future__ import annotations

import base64

from django.http import HttpRequest, HttpResponse

from tipline.accounts.session import key_cookie_set
from tipline.crypto import CryptoError, new_tip_key, open_secret, seal_secret

KEY_FILE_COOKIE = "tipline_setup_key"
_SESSION_ENTRY = "tipline_setup_key_file"
_CONTEXT = "setup-recovery-key-file"
_COOKIE_PATH = "/setup/"


def key_file_cookie_key() -> bytes:
    """A new random key for ``key_file_hold`` (set on the response by ``key_file_cookie_set``)."""
    return new_tip_key()


def key_file_hold(request: HttpRequest, *, cookie_key: bytes, armored: str) -> None:
    sealed = seal_secret(cookie_key, armored.encode("ascii"), context=_CONTEXT)
    request.session[_SESSION_ENTRY] = base64.b64encode(sealed).decode("ascii")


def key_file_cookie_set(response: HttpResponse, cookie_key: bytes) -> None:
    key_cookie_set(response, name=KEY_FILE_COOKIE, path=_COOKIE_PATH, key=cookie_key)


def key_file_waiting(request: HttpRequest) -> bool:
    return bool(request.session.get(_SESSION_ENTRY))


def key_file_take(request: HttpRequest) -> str | None:
    """The key file, once: it leaves the session whether or not this browser can open it."""
    sealed = request.session.pop(_SESSION_ENTRY, None)
    cookie = request.COOKIES.get(KEY_FILE_COOKIE, "")
    if not sealed or not cookie:
        return None
    try:
        cookie_key = base64.urlsafe_b64decode(cookie.encode("ascii"))
        armored = open_secret(cookie_key, base64.b64decode(sealed), context=_CONTEXT)
    except (ValueError, CryptoError):
        return None
    return armored.decode("ascii")


def key_file_cookie_forget(response: HttpResponse) -> None:
    response.delete_cookie(KEY_FILE_COOKIE, path=_COOKIE_PATH, samesite="Strict")
