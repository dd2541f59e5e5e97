"""The editor's private key for the length of a session, and the ``Editor`` a request acts as.

At sign-in the key is unsealed (with the password) and put in the server-side
session encrypted under a random key that lives only in a cookie of the
editor's browser (``SESSION_KEY_COOKIE``): a database dump alone, or a stolen
cookie alone, opens nothing. Signing out or the session expiring forgets it.
A password change makes a new key pair and puts the new private key in the
session the same way, under a new browser key, so the editor stays signed in.

The same browser key seals the few other secrets a session holds for a while,
such as the authenticator secret being enrolled (tipline/accounts/enrolment.py).
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
_COOKIE_PATH = "/staff/"


@dataclass(frozen=True)
class Editor:
    """The signed-in editor's recipient key and, for this request only, its private half."""

    recipient: RecipientKey
    private_key: PrivateKey


def key_cookie_set(response: HttpResponse, *, name: str, path: str, key: bytes) -> None:
    """``key`` as a cookie of this browser only: never sent to scripts or other sites,
    dies with the browser (no expiry)."""
    response.set_cookie(
        name,
        base64.urlsafe_b64encode(key).decode("ascii"),
        path=path,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )


def browser_key_new(response: HttpResponse) -> bytes:
    """A new random key, set as the browser's cookie (dies with the browser); returned."""
    cookie_key = new_tip_key()
    key_cookie_set(response, name=SESSION_KEY_COOKIE, path=_COOKIE_PATH, key=cookie_key)
    return cookie_key


def browser_key(request: HttpRequest) -> bytes | None:
    """The key the browser's cookie holds, if it sent one."""
    cookie = request.COOKIES.get(SESSION_KEY_COOKIE)
    if not cookie:
        return None
    try:
        return base64.urlsafe_b64decode(cookie.encode("ascii"))
    except ValueError:
        return None


def session_secret_store(
    request: HttpRequest, *, cookie_key: bytes, name: str, secret: bytes, context: str
) -> None:
    """Keep ``secret`` in the session under ``name``, sealed under the browser's key."""
    sealed = seal_secret(cookie_key, secret, context=context)
    request.session[name] = base64.b64encode(sealed).decode("ascii")


def session_secret(request: HttpRequest, *, name: str, context: str) -> bytes | None:
    """A secret ``session_secret_store`` kept, or None without it or the browser's key."""
    sealed = request.session.get(name)
    cookie_key = browser_key(request)
    if not sealed or cookie_key is None:
        return None
    try:
        return open_secret(cookie_key, base64.b64decode(sealed), context=context)
    except (ValueError, CryptoError):
        return None


def session_key_store(request: HttpRequest, response: HttpResponse, key: PrivateKey) -> None:
    """Keep ``key`` in the session, encrypted under a new key that only the browser holds."""
    session_key_seal(request, cookie_key=browser_key_new(response), key=key)


def session_key_seal(request: HttpRequest, *, cookie_key: bytes, key: PrivateKey) -> None:
    """Keep ``key`` in the session, encrypted under the browser key ``cookie_key``."""
    session_secret_store(
        request,
        cookie_key=cookie_key,
        name=SESSION_SEALED_KEY,
        secret=key.to_bytes(),
        context=_SESSION_CONTEXT,
    )


def session_private_key(request: HttpRequest) -> PrivateKey | None:
    """The private key this session holds, or None if it does not (or the cookie is wrong)."""
    plaintext = session_secret(request, name=SESSION_SEALED_KEY, context=_SESSION_CONTEXT)
    if plaintext is None:
        return None
    try:
        return PrivateKey.from_bytes(plaintext)
    except CryptoError:
        return None


def session_key_forget(response: HttpResponse) -> None:
    response.delete_cookie(SESSION_KEY_COOKIE, path=_COOKIE_PATH, samesite="Strict")


def session_editor(request: HttpRequest) -> Editor | None:
    """The editor this request acts as, or None when the session cannot read anything."""
    recipient = editor_key(request.user)
    private_key = session_private_key(request)
    if recipient is None or private_key is None:
        return None
    if private_key.public_key().to_bytes() != bytes(recipient.public_key):
        return None  # the key was replaced since this session began
    return Editor(recipient, private_key)
