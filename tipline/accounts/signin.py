"""Signing in (password, one-time code, key), the lock on failed attempts, and signing out.

Failures are counted per account and lock it for a time that doubles with
each further failure; no client address is ever kept (Tor users share exits,
and an address is a record of who came).

The lock counts before it checks. Each attempt is first counted as a failure,
in one atomic step that refuses it if the account is locked
(``login_attempt_begin``); only then are the password and the code checked,
and a success clears the count. So attempts that arrive together are counted
one after the other, and no more than ``TIPLINE_LOGIN_FAILURES_BEFORE_LOCK``
of them are ever checked, however many come at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model, logout
from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp.models import Device

from tipline.accounts.checks import password_check_imitate, password_verify, password_work
from tipline.accounts.enrolment import enrolment_due, sign_in_code_accepted
from tipline.accounts.second_factor import second_factor_match
from tipline.accounts.selectors import editor_key
from tipline.audit import NOBODY, Action, actor_of, audit_record
from tipline.crypto import CryptoError, PrivateKey, unseal_private_key
from tipline.models import StaffEnrolment, StaffLoginState

_MAX_LOCK = timedelta(days=1)


# --- The lock -------------------------------------------------------------------------------


def login_is_locked(user: User) -> bool:
    state = StaffLoginState.objects.filter(user=user).first()
    return bool(state and state.locked_until and state.locked_until > timezone.now())


def login_attempt_begin(*, user: User) -> bool:
    """Count an attempt as a failure before it is checked; False (nothing counted) if locked.

    One atomic step: the row is locked (``select_for_update`` on PostgreSQL; an
    IMMEDIATE transaction on SQLite serialises writers), so concurrent attempts
    are counted in turn and the one that reaches the threshold locks the
    account for all that follow. From the threshold on, each attempt locks
    for twice as long as the one before, up to a day; a success clears it all
    (``login_failures_reset``).
    """
    StaffLoginState.objects.get_or_create(user=user)
    with transaction.atomic():
        state = StaffLoginState.objects.select_for_update().get(user=user)
        now = timezone.now()
        if state.locked_until and state.locked_until > now:
            return False
        state.failures += 1
        over = state.failures - settings.TIPLINE_LOGIN_FAILURES_BEFORE_LOCK
        if over >= 0:
            lock = timedelta(minutes=settings.TIPLINE_LOGIN_LOCK_MINUTES) * (2 ** min(over, 10))
            state.locked_until = now + min(lock, _MAX_LOCK)
        state.save(update_fields=["failures", "locked_until"])
        return True


def login_failures_reset(*, user: User) -> None:
    StaffLoginState.objects.filter(user=user).update(failures=0, locked_until=None)


# --- Signing in -------------------------------------------------------------------------------


def private_key_unseal(*, user: User, password: str) -> PrivateKey | None:
    """The editor's private key, or None for an account without one (or a wrong password)."""
    recipient = editor_key(user)
    if recipient is None or not recipient.sealed_private_key:
        return None
    try:
        return unseal_private_key(bytes(recipient.sealed_private_key), password)
    except CryptoError:
        return None


@dataclass(frozen=True)
class SignIn:
    user: User
    device: Device  # the second factor that accepted the code
    private_key: PrivateKey


@dataclass(frozen=True)
class EnrolmentDue:
    """Right password and code, but the account must enrol before any staff page opens."""

    enrolment: StaffEnrolment
    # The account's current key (None for a new account, which has none yet).
    private_key: PrivateKey | None


def staff_authenticate(*, username: str, password: str, code: str) -> SignIn | EnrolmentDue | None:
    """Password, one-time code and key all right, for an unlocked staff account; else None.

    Every outcome is audited. Every refusal looks the same to the person at
    the form, so the page says nothing about which part was wrong or whether
    the account exists; the log names nobody for a refusal. Raises
    ``PasswordChecksBusy`` when the password checks stay taken too long.
    """
    outcome = _checked_sign_in(username=username, password=password, code=code)
    if outcome is None:
        audit_record(actor=NOBODY, action=Action.LOGIN_FAILED)
    elif isinstance(outcome, EnrolmentDue):
        user = outcome.enrolment.user
        audit_record(actor=actor_of(user), action=Action.ENROLMENT_BEGUN)
    else:
        audit_record(actor=actor_of(outcome.user), action=Action.LOGIN)
    return outcome


def _checked_sign_in(*, username: str, password: str, code: str) -> SignIn | EnrolmentDue | None:
    user = get_user_model().objects.filter(username=username, is_active=True, is_staff=True).first()
    if user is None or login_is_locked(user):
        # As long as a real check, and no Argon2: unknown names cost no memory.
        password_check_imitate()
        return None
    with password_work():
        if not login_attempt_begin(user=user):
            return None  # locked by an attempt that arrived at the same time
        right = password_verify(user, password)
        outcome = _second_step(user, password=password, code=code) if right else None
    if outcome is not None:
        login_failures_reset(user=user)
    return outcome


def _second_step(user: User, *, password: str, code: str) -> SignIn | EnrolmentDue | None:
    enrolment = enrolment_due(user)
    if enrolment is not None:
        return _enrolment_step(user, enrolment, password=password, code=code)
    device = second_factor_match(user=user, code=code)
    private_key = private_key_unseal(user=user, password=password) if device else None
    if device is None or private_key is None:
        return None
    return SignIn(user, device, private_key)


def _enrolment_step(
    user: User, enrolment: StaffEnrolment, *, password: str, code: str
) -> EnrolmentDue | None:
    # A sign-in code when an admin issued one; else (accounts marked by the
    # migration) the account's current second factor.
    if enrolment.code_digest:
        accepted = sign_in_code_accepted(enrolment=enrolment, code=code)
    else:
        accepted = second_factor_match(user=user, code=code) is not None
    if not accepted:
        return None
    if editor_key(user) is None:
        return EnrolmentDue(enrolment, None)
    private_key = private_key_unseal(user=user, password=password)
    return EnrolmentDue(enrolment, private_key) if private_key is not None else None


def staff_sign_out(*, request: HttpRequest) -> None:
    """End the session (and the sealed key it holds), on record."""
    if request.user.is_authenticated:
        audit_record(actor=actor_of(request.user), action=Action.LOGOUT)
    logout(request)
