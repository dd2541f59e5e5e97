"""The editor's private key for the length of a session, and the ``Editor`` a request acts as.

At sign-in the key is unsealed (with the password) and put in the server-side
session encrypted under a random key that lives only in a cookie of the
editor's browser (``SESSION_KEY_COOKIE``): a database dump alone, or a stolen
cookie alone, opens nothing. Signing out or the session expiring forgets it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from tipline.accounts.selectors import editor_key
from tipline.crypto import CryptoError, PrivateKey, new_tip_key, open_secret, seal_secret
from tipline.models import RecipientKey

SESSION_KEY_COOKIE = "tipline_staff_key"
SESSION_SEALED_KEY = "tipline_sealed_private_key"
_SESSION_CONTEXT = "session-private-key"


@dataclass(frozen=True)
class Editor:
    """The signed-in editor's recipient key and, for this request only, its private half."""

    recipient: RecipientKey
    private_key: PrivateKey


def session_key_store(request: HttpRequest, response: HttpResponse, key: PrivateKey) -> None:
    """Keep ``key`` in the session, encrypted under a key that only the browser holds."""
    cookie_key = new_tip_key()
    sealed = seal_secret(cookie_key, key.to_bytes(), context=_SESSION_CONTEXT)
    request.session[SESSION_SEALED_KEY] = base64.b64encode(sealed).decode("ascii")
    response.set_cookie(
        SESSION_KEY_COOKIE,
        base64.urlsafe_b64encode(cookie_key).decode("ascii"),
        path="/staff/",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )


def session_private_key(request: HttpRequest) -> PrivateKey | None:
    """The editor's private key for this request, or None if the session does not hold it."""
    sealed = request.session.get(SESSION_SEALED_KEY)
    cookie = request.COOKIES.get(SESSION_KEY_COOKIE)
    if not sealed or not cookie:
        return None
    try:
        cookie_key = base64.urlsafe_b64decode(cookie.encode("ascii"))
        plaintext = open_secret(cookie_key, base64.b64decode(sealed), context=_SESSION_CONTEXT)
        return PrivateKey.from_bytes(plaintext)
    except (ValueError, CryptoError):
        return None


def session_key_forget(response: HttpResponse) -> None:
    response.delete_cookie(SESSION_KEY_COOKIE, path="/staff/", samesite="Strict")


def session_editor(request: HttpRequest) -> Editor | None:
    """The editor this request acts as, or None when the session cannot read anything."""
    recipient = editor_key(request.user)
    private_key = session_private_key(request)
    if recipient is None or private_key is None:
        return None
    if private_key.public_key().to_bytes() != bytes(recipient.public_key):
        return None  # the key was replaced since this session began
    return Editor(recipient, private_key)
