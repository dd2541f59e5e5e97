"""The single-use form token: each form the landing page serves makes one tip at most.

The token is a hidden field of the form, signed by the server (Django's
``Signer`` over ``SECRET_KEY``, salted for this use): a random nonce, the
minute the form was issued and the flood flag (``tipline.intake.flood``). It
lives only in the source's page and in the signature: nothing of it is stored
with the tip. At submission it must be genuine, not older than
``TIPLINE_FORM_TOKEN_HOURS`` (generous: a large video over Tor takes an hour,
and a source may write for a long time) and unused; storing the tip marks its
nonce used in the cache.

So reloading the confirmation (the browser sends the same POST again) or
replaying a token makes no second tip: the source reads "already received".
A missing, forged or expired token gets the form again, with what the source
typed, and a fresh token.

What the cache holds for a used form: a key made of a hash of the nonce, the
value 1, and an expiry at a whole hour that depends only on the hour the form
was issued (the token cannot be replayed after it expires anyway). With the
file cache (on a memory file system, tipline/intake/cache.py: never on disk),
the entry's file times are set to the start of that hour, so they do not say
when each tip was sent, to the second, for the tokens' lifetime.

A cache that fails never refuses: the tip is stored, a replay is not detected,
and a warning without content is logged. Django's file cache implements
``add`` as a check and then a write, so two copies of one form sent in the same
instant may both be stored; Redis's ``add`` is atomic.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.signing import BadSignature, Signer

from tipline.intake.flood import (
    HOUR,
    MINUTE,
    cache_file_times_coarsen,
    current_minute,
    form_issued_in_flood,
    seconds_now,
)

logger = logging.getLogger(__name__)

FIELD = "form_token"
_SALT = "tipline.intake.form-token"
_NONCE_BYTES = 16
# Longer values are not ours; read no further.
_MAX_CHARS = 200
# Forms issued by a web host whose clock is a little ahead are still genuine.
_SKEW_MINUTES = 5


@dataclass(frozen=True)
class FormToken:
    value: str  # the signed field, as it goes back into a form shown again
    nonce: str
    issued_minute: int  # minutes since the epoch
    flood: bool  # issued while this hour's forms were over the flood threshold


def _signer() -> Signer:
    return Signer(salt=_SALT)


def _lifetime_minutes() -> int:
    return settings.TIPLINE_FORM_TOKEN_HOURS * 60


def form_token_issue() -> str:
    """A new token for a form about to be shown (counts the form for the flood)."""
    flood = form_issued_in_flood()
    nonce = secrets.token_urlsafe(_NONCE_BYTES)
    return _signer().sign_object([nonce, current_minute(), int(flood)])


def form_token_read(value: str) -> FormToken | None:
    """The token in ``value`` if it is genuine and not expired, else None."""
    if not value or len(value) > _MAX_CHARS:
        return None
    try:
        payload = _signer().unsign_object(value)
    except (BadSignature, ValueError):
        return None
    match payload:
        case [str(nonce), int(minute), 0 | 1 as flood] if nonce:
            pass
        case _:
            return None
    now = current_minute()
    if minute > now + _SKEW_MINUTES or now - minute >= _lifetime_minutes():
        return None
    return FormToken(value=value, nonce=nonce, issued_minute=minute, flood=bool(flood))


def _used_key(token: FormToken) -> str:
    return "tipline:form-used:" + hashlib.sha256(token.nonce.encode()).hexdigest()


def _issued_hour_start(token: FormToken) -> int:
    return token.issued_minute * MINUTE // HOUR * HOUR


def _used_timeout(token: FormToken) -> int:
    """Seconds until the first whole hour after the token expires: at least one second."""
    expires = token.issued_minute * MINUTE + _lifetime_minutes() * MINUTE
    # From the precise now, so the expiry stored is the whole hour, not a moment
    # that says at which second of its minute the tip was sent.
    return max(int((expires // HOUR + 1) * HOUR - seconds_now()), 1)


def form_token_used(token: FormToken) -> bool:
    """True if a tip was already stored with this form (a look, not a claim)."""
    key = _used_key(token)
    try:
        used = cache.get(key) is not None
    except Exception:  # noqa: BLE001 - any backend error: never refuse, say so
        logger.warning("the used-form marks cannot be read; a repeated form is not detected")
        return False
    if used:  # reading set the file's access time: not when the form came back, either
        cache_file_times_coarsen(key, _issued_hour_start(token))
    return used


def form_token_use(token: FormToken) -> bool:
    """Claim the form for one tip: True if it was unused (or the cache cannot tell)."""
    key = _used_key(token)
    try:
        claimed = cache.add(key, 1, _used_timeout(token))
    except Exception:  # noqa: BLE001 - any backend error: never refuse, say so
        logger.warning("the used-form marks cannot be written; a repeated form is not detected")
        return True
    cache_file_times_coarsen(key, _issued_hour_start(token))
    return bool(claimed)


def form_token_release(token: FormToken) -> None:
    """Give the form back after the tip could not be stored, so sending again works."""
    try:
        cache.delete(_used_key(token))
    except Exception:  # noqa: BLE001 - any backend error: the mark expires by itself
        logger.warning("a used-form mark cannot be removed; it expires with the form")
