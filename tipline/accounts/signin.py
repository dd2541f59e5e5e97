"""Signing in (password, one-time code, key), the lock on failed attempts, and signing out.

Failures are counted per account and lock it for a time that doubles with
each further failure; no client address is ever kept (Tor users share exits,
and an address is a record of who came).
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
from django_otp import match_token

from tipline.accounts.selectors import editor_key
from tipline.audit import NOBODY, Action, actor_of, audit_record
from tipline.crypto import CryptoError, PrivateKey, unseal_private_key
from tipline.models import StaffLoginState

_MAX_LOCK = timedelta(days=1)


def login_is_locked(user: User) -> bool:
    state = StaffLoginState.objects.filter(user=user).first()
    return bool(state and state.locked_until and state.locked_until > timezone.now())


def login_failure_record(*, user: User) -> None:
    """Count a failure; from the threshold on, lock for a time that doubles each failure."""
    with transaction.atomic():
        state, _ = StaffLoginState.objects.select_for_update().get_or_create(user=user)
        state.failures += 1
        over = state.failures - settings.TIPLINE_LOGIN_FAILURES_BEFORE_LOCK
        if over >= 0:
            lock = timedelta(minutes=settings.TIPLINE_LOGIN_LOCK_MINUTES) * (2 ** min(over, 10))
            state.locked_until = timezone.now() + min(lock, _MAX_LOCK)
        state.save()


def login_failures_reset(*, user: User) -> None:
    StaffLoginState.objects.filter(user=user).update(failures=0, locked_until=None)


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
    device: object  # the django-otp device whose code was accepted
    private_key: PrivateKey


def staff_authenticate(*, username: str, password: str, code: str) -> SignIn | None:
    """Password, one-time code and key all right, for an unlocked staff account; else None.

    Both outcomes are audited. Every refusal looks the same to the person at
    the form, so the page says nothing about which part was wrong or whether
    the account exists; the log names nobody for a refusal.
    """
    sign_in = _checked_sign_in(username=username, password=password, code=code)
    if sign_in is None:
        audit_record(actor=NOBODY, action=Action.LOGIN_FAILED)
    else:
        audit_record(actor=actor_of(sign_in.user), action=Action.LOGIN)
    return sign_in


def _checked_sign_in(*, username: str, password: str, code: str) -> SignIn | None:
    user = get_user_model().objects.filter(username=username, is_active=True, is_staff=True).first()
    if user is None:
        # Spend the time a real check would, so timing does not tell either.
        get_user_model()().set_password(password)
        return None
    if login_is_locked(user):
        return None
    if not user.check_password(password):
        login_failure_record(user=user)
        return None
    device = match_token(user, code.strip().replace(" ", ""))
    private_key = private_key_unseal(user=user, password=password) if device else None
    if device is None or private_key is None:
        login_failure_record(user=user)
        return None
    login_failures_reset(user=user)
    return SignIn(user, device, private_key)


def staff_sign_out(*, request: HttpRequest) -> None:
    """End the session (and the sealed key it holds), on record."""
    if request.user.is_authenticated:
        audit_record(actor=actor_of(request.user), action=Action.LOGOUT)
    logout(request)
