"""Accounts that set up their own second factor at their next sign-in, and the session meanwhile.

An admin who makes an account in the interface, or resets someone's second
factor, never sees an authenticator secret or a backup code. The admin gets a
one-time *sign-in code* instead (``StaffEnrolment``, stored as a keyed hash,
valid ``SIGN_IN_CODE_DAYS``) to hand over with the password. At the next
sign-in that code stands in for the one-time code; the session that follows is
not signed in (no staff page opens; ``/staff/login/`` sends it to the
enrolment page) until the account has enrolled a new authenticator and, when
it is new, chosen its own password (tipline/accounts/services.py,
``editor_enrolment_complete``). Then the code, the admin's password and
anything the admin saw stop working.

Accounts that an admin made before sign-in codes existed are marked by
migration 0006 without a code: they sign in with their current second factor,
and are then led through the same change.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import logout
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from tipline.accounts.second_factor import code_digest, random_code, totp_secret_new
from tipline.accounts.selectors import editor_key
from tipline.accounts.session import (
    browser_key,
    browser_key_new,
    session_key_seal,
    session_private_key,
    session_secret,
    session_secret_store,
)
from tipline.crypto import PrivateKey
from tipline.models import StaffEnrolment

# Long enough to reach a colleague over a weekend, short enough not to lie around.
SIGN_IN_CODE_DAYS = 3
# From the sign-in with the code to the end of the enrolment page.
ENROLMENT_MINUTES = 30
SIGN_IN_CODE_PURPOSE = "sign-in-code"
_SIGN_IN_CODE_GROUPS = 3  # xxxx-xxxx-xxxx: ~59 bits, and fits the sign-in form's code field

_PENDING = "tipline_enrolment"
_PENDING_SECRET = "tipline_enrolment_totp"  # noqa: S105 - a session entry's name
_PENDING_SECRET_CONTEXT = "enrolment-totp-secret"  # noqa: S105 - a label


# --- Sign-in codes ------------------------------------------------------------------------


@dataclass(frozen=True)
class SignInCode:
    """The one-time code an admin hands over, shown once; only its keyed hash is stored."""

    user: User
    code: str
    expires_at: datetime


def enrolment_require(*, user: User, reason: str) -> SignInCode:
    """Make ``user`` enrol at the next sign-in, with a new sign-in code (returned, once).

    A code issued before for the account stops working, and so does a session
    that signed in with it to enrol.
    """
    code = "-".join(random_code(4) for _ in range(_SIGN_IN_CODE_GROUPS))
    expires_at = timezone.now() + timedelta(days=SIGN_IN_CODE_DAYS)
    StaffEnrolment.objects.update_or_create(
        user=user,
        defaults={
            "reason": reason,
            "code_digest": code_digest(user_id=user.pk, purpose=SIGN_IN_CODE_PURPOSE, code=code),
            "expires_at": expires_at,
        },
    )
    return SignInCode(user, code, expires_at)


def enrolment_due(user: User) -> StaffEnrolment | None:
    return StaffEnrolment.objects.filter(user=user).first()


def sign_in_code_accepted(*, enrolment: StaffEnrolment, code: str) -> bool:
    """The account's sign-in code, before it expires."""
    if not enrolment.code_digest:
        return False
    if enrolment.expires_at is not None and enrolment.expires_at <= timezone.now():
        return False
    digest = code_digest(user_id=enrolment.user_id, purpose=SIGN_IN_CODE_PURPOSE, code=code)
    return hmac.compare_digest(digest, enrolment.code_digest)


# --- The session between the sign-in and the end of the enrolment ----------------------------


@dataclass(frozen=True)
class PendingEnrolment:
    enrolment: StaffEnrolment
    # The account's current private key (None for a new account, which has none yet).
    private_key: PrivateKey | None

    @property
    def user(self) -> User:
        return self.enrolment.user

    @property
    def chooses_password(self) -> bool:
        return enrolment_chooses_password(self.enrolment)


def enrolment_chooses_password(enrolment: StaffEnrolment) -> bool:
    """A new account chooses its own password as it enrols (and so gets its key pair)."""
    return enrolment.reason == StaffEnrolment.Reason.NEW_ACCOUNT


def enrolment_session_begin(
    request: HttpRequest,
    response: HttpResponse,
    *,
    enrolment: StaffEnrolment,
    private_key: PrivateKey | None,
) -> None:
    """Start the enrolment session: a fresh session, signed in as nobody, with a deadline."""
    logout(request)  # whoever this browser was signed in as, and a new session id
    request.session[_PENDING] = {
        "user": enrolment.user_id,
        # A newer sign-in code (another reset) ends this session.
        "code": enrolment.code_digest,
        "until": time.time() + ENROLMENT_MINUTES * 60,
    }
    cookie_key = browser_key_new(response)
    if private_key is not None:
        session_key_seal(request, cookie_key=cookie_key, key=private_key)


def enrolment_session(request: HttpRequest) -> PendingEnrolment | None:
    """The enrolment this session is in, while everything about it still holds; else None."""
    pending = request.session.get(_PENDING)
    if not isinstance(pending, dict) or pending.get("until", 0) < time.time():
        return None
    if browser_key(request) is None:
        return None  # the secrets of the enrolment are sealed under it
    user_id = pending.get("user")
    enrolment = (
        StaffEnrolment.objects.select_related("user")
        .filter(user_id=user_id, user__is_active=True, user__is_staff=True)
        .first()
        if isinstance(user_id, int)
        else None
    )
    if enrolment is None or enrolment.code_digest != pending.get("code"):
        return None
    user = enrolment.user
    private_key = session_private_key(request)
    current = editor_key(user)
    if current is not None and (
        private_key is None or private_key.public_key().to_bytes() != bytes(current.public_key)
    ):
        return None  # the browser's key is lost, or the account's key changed meanwhile
    return PendingEnrolment(enrolment, private_key if current else None)


def enrolment_totp_secret(request: HttpRequest) -> bytes | None:
    """The authenticator secret being enrolled: made on the first visit, then kept sealed.

    Kept in the session under the browser's key, so reloading the page shows
    the same QR code and a database dump meanwhile does not hold it.
    """
    found = session_secret(request, name=_PENDING_SECRET, context=_PENDING_SECRET_CONTEXT)
    if found is not None:
        return found
    cookie_key = browser_key(request)
    if cookie_key is None:
        return None
    secret = totp_secret_new()
    session_secret_store(
        request,
        cookie_key=cookie_key,
        name=_PENDING_SECRET,
        secret=secret,
        context=_PENDING_SECRET_CONTEXT,
    )
    return secret


def enrolment_session_end(request: HttpRequest) -> None:
    for name in (_PENDING, _PENDING_SECRET):
        request.session.pop(name, None)
