"""Creating and changing staff accounts: key pair, second factor, password, deactivation.

An editor's private key is sealed under Argon2id over their password and
stored with their recipient key (see session.py for how a signed-in editor
holds it; keys.py for why a password change makes a new key pair). Every
change here is audited in the same transaction, whichever door it came
through: a staff page or a management command.

No admin ever knows a working secret of someone else's account: an account
made in the interface, or whose second factor an admin reset, gets a one-time
sign-in code (enrolment.py) and, at its next sign-in, enrols its own
authenticator and, if new, chooses its own password, which gives it its key
pair. ``manage.py create_editor``, which an operator runs for their own
account, still makes the key pair and prints the enrolment URI at once.

Argon2 work (hashing a password, sealing or unsealing a key) runs in a
``password_work`` turn (checks.py), before the transaction opens: a turn may
wait, and a transaction must not wait holding the database's write lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from tipline.accounts.checks import password_verify, password_work
from tipline.accounts.enrolment import (
    SignInCode,
    enrolment_chooses_password,
    enrolment_due,
    enrolment_require,
)
from tipline.accounts.keys import (
    KeyReplaced,
    NewEditorKey,
    editor_key_new,
    editor_key_register,
    editor_key_replace,
)
from tipline.accounts.second_factor import (
    BACKUP_CODE_COUNT,
    authenticator_replace,
    backup_codes_replace,
    second_factors_remove,
    totp_accepts,
    totp_secret_new,
    totp_uri,
)
from tipline.accounts.selectors import editor_key
from tipline.accounts.signin import login_attempt_begin, login_failures_reset, private_key_unseal
from tipline.audit import Action, Actor, actor_of, audit_record
from tipline.crypto import Argon2Params, PrivateKey
from tipline.keyring import KeyringError
from tipline.models import AuthenticatorDevice, Grant, RecipientKey, StaffEnrolment

__all__ = [
    "BACKUP_CODE_COUNT",
    "AccountError",
    "AccountLocked",
    "WrongCode",
    "PasswordNotNew",
    "EditorCreated",
    "SignInCode",
    "Enrolled",
    "editor_create",
    "editor_invite",
    "editor_second_factor_reset",
    "backup_codes_replace",
    "editor_password_change",
    "editor_enrolment_complete",
    "editor_deactivate",
    "editor_sessions_end",
]

# Argon2id cost of sealing an editor's private key under their password. Stored
# with each sealed key, so raising it later affects only keys sealed from then
# on (every password change makes a new key). Dearer than the login hash on
# purpose: a stolen database lets an attacker try passwords against it at leisure.
EDITOR_KEY_ARGON2 = Argon2Params(memory_cost=64 * 1024, iterations=3, lanes=4)


class AccountError(Exception):
    """A staff account operation that cannot be done; the message is safe to show."""


class AccountLocked(AccountError):
    """Too many wrong passwords: the account is locked for a while (signin.py)."""


class WrongCode(AccountError):
    """The code from the authenticator app being enrolled was not right."""


class PasswordNotNew(AccountError):
    """A new account's own password must not be the one its admin chose (and knows)."""


@dataclass(frozen=True)
class EditorCreated:
    user: User
    otpauth_uri: str
    backup_codes: list[str]


# --- Creating accounts ------------------------------------------------------------------------


def _staff_user_create(*, username: str, password_hash: str, is_admin: bool, email: str) -> User:
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise AccountError("an account with this username already exists")
    user = user_model.objects.create_user(
        username=username, email=email, is_staff=True, is_superuser=is_admin
    )
    user.password = password_hash
    user.save(update_fields=["password"])
    return user


@transaction.atomic
def editor_create(
    *, actor: Actor, username: str, password: str, is_admin: bool = False, email: str = ""
) -> EditorCreated:
    """A staff account with its key pair, an authenticator and backup codes, on record.

    For ``manage.py create_editor``, run by the operator for their own account:
    the enrolment URI and the codes are returned to print once. ``email`` is
    optional and used only for the fixed daily notice (tipline/retention/notify.py).
    """
    user = _staff_user_create(
        username=username, password_hash=make_password(password), is_admin=is_admin, email=email
    )
    editor_key_register(user=user, new=editor_key_new(password=password, params=EDITOR_KEY_ARGON2))
    audit_record(
        actor=actor, action=Action.EDITOR_CREATED, detail={"editor": username, "admin": is_admin}
    )
    secret = totp_secret_new()
    authenticator_replace(user=user, secret=secret)
    return EditorCreated(user, totp_uri(user=user, secret=secret), backup_codes_replace(user=user))


def editor_invite(
    *, actor: Actor, username: str, password: str, is_admin: bool = False, email: str = ""
) -> SignInCode:
    """An account an admin makes in the interface: no key and no second factor until it enrols.

    The admin chooses the first password and gets a one-time sign-in code to
    hand over with it. At the first sign-in the account must choose a new
    password (which makes its key pair) and enrol its own authenticator before
    any staff page opens; nothing is wrapped to it before that.
    """
    with password_work():
        password_hash = make_password(password)
    with transaction.atomic():
        user = _staff_user_create(
            username=username, password_hash=password_hash, is_admin=is_admin, email=email
        )
        audit_record(
            actor=actor,
            action=Action.EDITOR_CREATED,
            detail={"editor": username, "admin": is_admin, "sign_in_code": True},
        )
        return enrolment_require(user=user, reason=StaffEnrolment.Reason.NEW_ACCOUNT)


@transaction.atomic
def editor_second_factor_reset(*, user: User, actor: Actor) -> SignInCode:
    """Replace a lost authenticator: the old one and the backup codes stop working, every
    session ends, and the account enrols a new one at its next sign-in with a sign-in code.

    The admin never sees the new authenticator secret or backup codes. The
    password and the key are untouched (the key is sealed under the password,
    which the admin does not know). An account that has not finished its first
    sign-in still has to choose its password. The failed-login count is cleared
    too: a lost phone is the usual reason for both.
    """
    second_factors_remove(user=user)
    current = enrolment_due(user)
    new_account = current is not None and current.reason == StaffEnrolment.Reason.NEW_ACCOUNT
    reason = (
        StaffEnrolment.Reason.NEW_ACCOUNT
        if new_account or editor_key(user) is None
        else StaffEnrolment.Reason.SECOND_FACTOR_RESET
    )
    issued = enrolment_require(user=user, reason=reason)
    editor_sessions_end(user=user)
    login_failures_reset(user=user)
    audit_record(
        actor=actor, action=Action.SECOND_FACTOR_RESET, detail={"editor": user.get_username()}
    )
    return issued


# --- Changing a password: a new key pair ----------------------------------------------------


def editor_password_change(
    *, user: User, old_password: str, new_password: str, keep_session: str = ""
) -> PrivateKey:
    """A new password and a new key pair, every grant moved to it, the old key retired; on record.

    Returns the new private key, for the session that asked (``keep_session``,
    a session key), which stays signed in; every other session of the account
    ends. A wrong current password counts against the sign-in lock.
    """
    with password_work():
        if not login_attempt_begin(user=user):
            raise AccountLocked("too many failed attempts; try again later")
        if not password_verify(user, old_password):
            raise AccountError("the current password is not right")
        old_private_key = private_key_unseal(user=user, password=old_password)
        if old_private_key is None and editor_key(user) is not None:
            raise KeyringError("the editor's key does not open with the current password")
        new = editor_key_new(password=new_password, params=EDITOR_KEY_ARGON2)
        password_hash = make_password(new_password)
    login_failures_reset(user=user)
    with transaction.atomic():
        replaced = editor_key_replace(user=user, old_private_key=old_private_key, new=new)
        user.password = password_hash
        user.save(update_fields=["password"])
        editor_sessions_end(user=user, keep=keep_session)
        _password_changed_record(user, replaced)
    return new.private_key


def _password_changed_record(user: User, replaced: KeyReplaced) -> None:
    # Fingerprints and counts: never a password, never a key.
    audit_record(
        actor=actor_of(user),
        action=Action.PASSWORD_CHANGED,
        detail={
            "key": replaced.recipient.fingerprint,
            "previous": replaced.previous_fingerprint,
            "grants_moved": replaced.grants_moved,
            "grants_dropped": replaced.grants_dropped,
        },
    )


# --- Enrolling one's own second factor ------------------------------------------------------


@dataclass(frozen=True)
class Enrolled:
    device: AuthenticatorDevice
    private_key: PrivateKey
    backup_codes: list[str]  # shown once


def editor_enrolment_complete(
    *,
    enrolment: StaffEnrolment,
    totp_secret: bytes,
    code: str,
    private_key: PrivateKey | None,
    new_password: str = "",
) -> Enrolled:
    """The account's own authenticator (and, if new, password and key pair); on record.

    ``code`` must come from the authenticator app holding ``totp_secret``: it
    proves the enrolment worked, and is spent. A new account must choose a
    password other than the one the admin set; its key pair is made then (an
    account marked by migration 0006 gets a new one, its grants moved to it).
    Every session of the account ends. Raises ``WrongCode``, or
    ``AccountError`` when the enrolment cannot be finished.
    """
    user = enrolment.user
    accepted = totp_accepts(secret=totp_secret, code=code)
    if accepted is None:
        raise WrongCode("the code from the app is not right")
    chooses = enrolment_chooses_password(enrolment)
    new = _new_password_work(user, new_password) if chooses else None
    with transaction.atomic():
        # Deleting is the check: of two enrolments finishing at once, or one
        # racing a newer reset (another code), only one deletes this row.
        current = StaffEnrolment.objects.filter(pk=enrolment.pk, code_digest=enrolment.code_digest)
        if current.delete()[0] != 1:
            raise AccountError("this enrolment was finished or replaced meanwhile")
        key = _enrolment_key(user, private_key=private_key, new=new)
        device = authenticator_replace(user=user, secret=totp_secret, last_t=accepted.t())
        codes = backup_codes_replace(user=user)
        editor_sessions_end(user=user)
        login_failures_reset(user=user)
        audit_record(
            actor=actor_of(user),
            action=Action.SECOND_FACTOR_ENROLLED,
            detail={"password_changed": new is not None},
        )
    return Enrolled(device, key, codes)


@dataclass(frozen=True)
class _NewPassword:
    key: NewEditorKey
    password_hash: str


def _new_password_work(user: User, new_password: str) -> _NewPassword:
    if not new_password:
        raise AccountError("a new account must choose its own password")
    with password_work():
        if password_verify(user, new_password):
            raise PasswordNotNew("the new password must differ from the one the admin set")
        key = editor_key_new(password=new_password, params=EDITOR_KEY_ARGON2)
        return _NewPassword(key, make_password(new_password))


def _enrolment_key(
    user: User, *, private_key: PrivateKey | None, new: _NewPassword | None
) -> PrivateKey:
    """The account's private key once enrolled: the new one if it chose a password."""
    if new is None:
        if private_key is None:
            raise AccountError("this account has no key to sign in with")
        return private_key
    replaced = editor_key_replace(user=user, old_private_key=private_key, new=new.key)
    user.password = new.password_hash
    user.save(update_fields=["password"])
    _password_changed_record(user, replaced)
    return new.key.private_key


# --- Closing accounts and sessions ----------------------------------------------------------


@transaction.atomic
def editor_deactivate(*, user: User, actor: Actor) -> int:
    """Close an account and revoke every grant to its key, on record; returns the grants removed."""
    user.is_active = False
    user.save(update_fields=["is_active"])
    keys = RecipientKey.objects.filter(user=user, kind=RecipientKey.Kind.EDITOR)
    removed, _ = Grant.objects.filter(recipient__in=keys).delete()
    keys.update(active=False)
    StaffEnrolment.objects.filter(user=user).delete()
    # An inactive user is already signed out on the next request (the auth
    # backend refuses inactive accounts); deleting the sessions also removes
    # the sealed keys they hold.
    editor_sessions_end(user=user)
    audit_record(
        actor=actor,
        action=Action.EDITOR_DEACTIVATED,
        detail={"editor": user.get_username(), "grants_removed": removed},
    )
    return removed


def editor_sessions_end(*, user: User, keep: str = "") -> int:
    """End every open session of ``user`` but the one keyed ``keep``; returns how many ended.

    Sessions are not indexed by user, so this reads them all. Only staff have
    sessions (sources get none), so there are few. Works with the database
    session engines (the default).
    """
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.session_key == keep:
            continue
        if session.get_decoded().get(SESSION_KEY) == str(user.pk):
            store_class(session_key=session.session_key).delete()
            ended += 1
    return ended
