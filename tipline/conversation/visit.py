"""A source's visit: the private key held while the source is in, the way an editor's is.

Signing in with the receipt passphrase puts the source's private key in the
cache (a memory file system, or Redis: never the database, never a lasting
file), sealed under a random key that only the browser's cookie holds. The
cookie is a session cookie (no expiry: it dies with the browser), Strict,
HttpOnly, named ``__Host-...`` when cookies are Secure, and holds the visit's
id and that key. A database and cache dump alone open nothing; a stolen cookie
alone neither. "Leave" deletes the entry and the cookie; an idle visit
(``TIPLINE_CHECKBACK_IDLE_MINUTES`` without a request) expires in the cache.
No time is stored anywhere: the cache's own expiry is the idle clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Mapping

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from tipline.conversation.keys import SourceKeys, conversation_key_unwrap
from tipline.crypto import CryptoError, PrivateKey, new_tip_key, open_secret, seal_secret
from tipline.models import Conversation

_VISIT_ID_BYTES = 16
_CACHE_PREFIX = "tipline-visit:"


def visit_cookie_name() -> str:
    return settings.TIPLINE_COOKIE_PREFIX + "tipline_source"


def _cache_key(visit_id: bytes) -> str:
    # The cache holds a hash of the id: its listing does not hand out cookies.
    return _CACHE_PREFIX + hashlib.sha256(visit_id).hexdigest()


def _context(conversation_id: int) -> str:
    return f"source-visit:{conversation_id}"


def _idle_seconds() -> int:
    return settings.TIPLINE_CHECKBACK_IDLE_MINUTES * 60


def visit_start(response: HttpResponse, *, keys: SourceKeys) -> None:
    """Begin a visit: the private key sealed in the cache, the opening key in the cookie."""
    visit_id, browser_key = secrets.token_bytes(_VISIT_ID_BYTES), new_tip_key()
    entry = {
        "conversation": keys.conversation.pk,
        "sealed": seal_secret(
            browser_key, keys.private_key.to_bytes(), context=_context(keys.conversation.pk)
        ),
    }
    cache.set(_cache_key(visit_id), entry, timeout=_idle_seconds())
    response.set_cookie(
        visit_cookie_name(),
        base64.urlsafe_b64encode(visit_id + browser_key).decode("ascii"),
        path="/",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )


def _cookie(cookies: Mapping[str, str]) -> tuple[bytes, bytes] | None:
    value = cookies.get(visit_cookie_name(), "")
    try:
        raw = base64.urlsafe_b64decode(value.encode("ascii"))
    except (ValueError, binascii.Error, UnicodeEncodeError):
        return None
    if len(raw) != _VISIT_ID_BYTES + 32:
        return None
    return raw[:_VISIT_ID_BYTES], raw[_VISIT_ID_BYTES:]


def visit_keys(request: HttpRequest) -> SourceKeys | None:
    """The keys of the visit this request belongs to, or None (none, ended, idle, forged).

    Each request the visit answers restarts its idle time.
    """
    return visit_keys_of(request.COOKIES)


def visit_keys_of(cookies: Mapping[str, str]) -> SourceKeys | None:
    """``visit_keys`` from the cookies alone: the server resolves the visit of a POST
    with files before it reads the body (tipline/intake/later_files.py)."""
    cookie = _cookie(cookies)
    if cookie is None:
        return None
    visit_id, browser_key = cookie
    entry = cache.get(_cache_key(visit_id))
    if not isinstance(entry, dict) or not isinstance(entry.get("conversation"), int):
        return None
    conversation = (
        Conversation.objects.select_related("tip")
        .filter(pk=entry["conversation"], tip__purging=False)
        .first()
    )
    if conversation is None:
        return None
    try:
        private_key = PrivateKey.from_bytes(
            open_secret(browser_key, entry["sealed"], context=_context(conversation.pk))
        )
        conversation_key = conversation_key_unwrap(
            conversation=conversation, tip_key_id=conversation.tip.key_id, private_key=private_key
        )
    except (CryptoError, KeyError, TypeError):
        return None
    cache.touch(_cache_key(visit_id), timeout=_idle_seconds())
    return SourceKeys(conversation, private_key, conversation_key)


def visit_tag_of(cookies: Mapping[str, str]) -> str | None:
    """A name of the visit the cookies hold (hex), to bind its uploads to it; None if none.

    Not the cache key (another hash): a row bound to a visit does not point at
    its cache entry. Says nothing about whether the visit is still on: callers
    resolve ``visit_keys_of`` too.
    """
    cookie = _cookie(cookies)
    if cookie is None:
        return None
    return hashlib.sha256(b"tipline/visit-uploads/v1:" + cookie[0]).hexdigest()


def visit_end(request: HttpRequest, response: HttpResponse) -> None:
    """Leave: forget the sealed key and the cookie."""
    if visit_cookie_name() not in request.COOKIES:
        return  # nothing to forget: set no cookie at all
    cookie = _cookie(request.COOKIES)
    if cookie is not None:
        cache.delete(_cache_key(cookie[0]))
    response.delete_cookie(visit_cookie_name(), path="/", samesite="Strict")
