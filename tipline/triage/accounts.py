"""Staff accounts, their one-time codes and their private keys.

An editor's private key is sealed under Argon2id over their password and
stored with their recipient key. At login it is unsealed and put in the
server-side session encrypted under a random key that lives only in a cookie
of the editor's browser (``SESSION_KEY_COOKIE``): a database dump alone, or a
stolen cookie alone, opens nothing. Logging out or the session expiring forgets
it; nothing else on the server can unwrap an editor's grants.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.sessions.models import Session
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django_otp import match_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tipline.audit import Action, audit_record
from tipline.crypto import (
    Argon2Params,
    CryptoError,
    PrivateKey,
    new_tip_key,
    open_secret,
    reseal_private_key,
    seal_private_key,
    seal_secret,
    unseal_private_key,
)
from tipline.keyring import recipient_key_register
from tipline.models import Grant, RecipientKey, StaffLoginState

SESSION_KEY_COOKIE = "tipline_staff_key"
SESSION_SEALED_KEY = "tipline_sealed_private_key"
_SESSION_CONTEXT = "session-private-key"
BACKUP_CODE_COUNT = 10
_MAX_LOCK = timedelta(days=1)


class AccountError(Exception):
    """A staff account operation that cannot be done; the message is safe to show."""


@dataclass(frozen=True)
class EditorCreated:
    user: AbstractBaseUser
    otpauth_uri: str
    backup_codes: list[str]


def editor_key_params() -> Argon2Params:
    return Argon2Params(**settings.TIPLINE_EDITOR_KEY_ARGON2)


# --- Creating and changing accounts ---------------------------------------------------


@transaction.atomic
def editor_create(
    *, username: str, password: str, is_admin: bool = False, email: str = ""
) -> EditorCreated:
    """A staff account with its key pair, an authenticator device and backup codes.

    ``email`` is optional and used only for the fixed daily notice (notify.py).
    """
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise AccountError("an account with this username already exists")
    user = User.objects.create_user(
        username=username, email=email, password=password, is_staff=True, is_superuser=is_admin
    )
    private_key = PrivateKey.generate()
    recipient_key_register(
        kind=RecipientKey.Kind.EDITOR,
        public_key=private_key.public_key(),
        user=user,
        sealed_private_key=seal_private_key(private_key, password, params=editor_key_params()),
    )
    return _second_factor_enrol(user)


def _second_factor_enrol(user: AbstractBaseUser) -> EditorCreated:
    """A new authenticator device and new backup codes; any older ones stop working."""
    TOTPDevice.objects.filter(user=user).delete()
    totp = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    return EditorCreated(user, totp.config_url, backup_codes_replace(user=user))


@transaction.atomic
def editor_second_factor_reset(*, user: AbstractBaseUser) -> EditorCreated:
    """Replace a lost authenticator: new device, new backup codes, every open session ended.

    The password and the key are untouched (the key is sealed under the
    password, which the admin does not know). The failed-login count is cleared
    too: a lost phone is the usual reason for both.
    """
    enrolment = _second_factor_enrol(user)
    editor_sessions_end(user=user)
    login_failures_reset(user=user)
    return enrolment


def editor_create_recorded(
    *, actor: str, username: str, password: str, is_admin: bool = False, email: str = ""
) -> EditorCreated:
    """``editor_create`` and its audit entry, in one transaction: never one without the other."""
    with transaction.atomic():
        created = editor_create(
            username=username, password=password, is_admin=is_admin, email=email
        )
        audit_record(
            actor=actor,
            action=Action.EDITOR_CREATED,
            detail={"editor": username, "admin": is_admin},
        )
    return created


def backup_codes_replace(*, user: AbstractBaseUser) -> list[str]:
    """New one-time backup codes for ``user``; the old ones stop working."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="backup codes", confirmed=True)
    codes = [_backup_code() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def _backup_code() -> str:
    # 10 characters from an unambiguous alphabet: ~50 bits, typed by hand.
    alphabet = "23456789abcdefghjkmnpqrstuvwxyz"
    return "".join(secrets.choice(alphabet) for _ in range(10))


def staff_account_choices() -> list[tuple[str, str]]:
    """(id, username) of every active staff account, for "assigned to" fields."""
    users = get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username")
    return [(str(user.pk), user.get_username()) for user in users]


def editor_key(user: AbstractBaseUser) -> RecipientKey | None:
    return RecipientKey.objects.filter(
        user=user, kind=RecipientKey.Kind.EDITOR, active=True
    ).first()


@transaction.atomic
def editor_password_change(*, user: AbstractBaseUser, old_password: str, new_password: str) -> None:
    """Set a new password and re-seal the private key under it."""
    if not user.check_password(old_password):
        raise AccountError("the current password is not right")
    recipient = editor_key(user)
    if recipient is not None:
        recipient.sealed_private_key = reseal_private_key(
            bytes(recipient.sealed_private_key),
            old_password,
            new_password,
            params=editor_key_params(),
        )
        recipient.save(update_fields=["sealed_private_key"])
    user.set_password(new_password)
    user.save(update_fields=["password"])


@transaction.atomic
def editor_deactivate(*, user: AbstractBaseUser) -> int:
    """Close an account and revoke every grant to its key; returns the grants removed."""
    user.is_active = False
    user.save(update_fields=["is_active"])
    keys = RecipientKey.objects.filter(user=user, kind=RecipientKey.Kind.EDITOR)
    removed, _ = Grant.objects.filter(recipient__in=keys).delete()
    keys.update(active=False)
    # An inactive user is already signed out on the next request (the auth
    # backend refuses inactive accounts); deleting the sessions also removes
    # the sealed keys they hold.
    editor_sessions_end(user=user)
    return removed


def editor_sessions_end(*, user: AbstractBaseUser) -> int:
    """End every open session of ``user``; returns how many there were.

    Sessions are not indexed by user, so this reads them all. Only staff have
    sessions (sources get none), so there are few. Works with the database
    session engines (the default).
    """
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get(SESSION_KEY) == str(user.pk):
            store_class(session_key=session.session_key).delete()
            ended += 1
    return ended


# --- Failed logins: slow down, then lock, by account -------------------------------------


def login_is_locked(user: AbstractBaseUser) -> bool:
    state = StaffLoginState.objects.filter(user=user).first()
    return bool(state and state.locked_until and state.locked_until > timezone.now())


def login_failure_record(*, user: AbstractBaseUser) -> None:
    """Count a failure; from the threshold on, lock for a time that doubles each failure."""
    with transaction.atomic():
        state, _ = StaffLoginState.objects.select_for_update().get_or_create(user=user)
        state.failures += 1
        over = state.failures - settings.TIPLINE_LOGIN_FAILURES_BEFORE_LOCK
        if over >= 0:
            lock = timedelta(minutes=settings.TIPLINE_LOGIN_LOCK_MINUTES) * (2 ** min(over, 10))
            state.locked_until = timezone.now() + min(lock, _MAX_LOCK)
        state.save()


def login_failures_reset(*, user: AbstractBaseUser) -> None:
    StaffLoginState.objects.filter(user=user).update(failures=0, locked_until=None)


# --- The private key for the length of a session -------------------------------------------


def private_key_unseal(*, user: AbstractBaseUser, password: str) -> PrivateKey | None:
    """The editor's private key, or None for an account without one (or a wrong password)."""
    recipient = editor_key(user)
    if recipient is None or not recipient.sealed_private_key:
        return None
    try:
        return unseal_private_key(bytes(recipient.sealed_private_key), password)
    except CryptoError:
        return None


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


# --- Logging in ---------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    user: AbstractBaseUser
    device: object  # the django-otp device whose code was accepted
    private_key: PrivateKey


def staff_authenticate(*, username: str, password: str, code: str) -> SignIn | None:
    """Password, one-time code and key all right, for an unlocked staff account; else None.

    Every refusal looks the same to the person at the form, so the page says
    nothing about which part was wrong or whether the account exists.
    """
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
