"""Creating and changing staff accounts: key pair, second factor, password, deactivation.

An editor's private key is sealed under Argon2id over their password and
stored with their recipient key (see session.py for how a signed-in editor
holds it). Every change here is audited in the same transaction, whichever
door it came through: a staff page or a management command.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tipline.accounts.selectors import editor_key
from tipline.accounts.signin import login_failures_reset
from tipline.audit import Action, Actor, actor_of, audit_record
from tipline.crypto import Argon2Params, PrivateKey, reseal_private_key, seal_private_key
from tipline.keyring import KeyringError, recipient_key_register
from tipline.models import Grant, RecipientKey

BACKUP_CODE_COUNT = 10
# Argon2id cost of sealing an editor's private key under their password. Stored
# with each sealed key, so raising it later affects only keys sealed from then
# on (a password change re-seals). Dearer than the login hash on purpose: a
# stolen database lets an attacker try passwords against it at leisure.
EDITOR_KEY_ARGON2 = Argon2Params(memory_cost=64 * 1024, iterations=3, lanes=4)


class AccountError(Exception):
    """A staff account operation that cannot be done; the message is safe to show."""


@dataclass(frozen=True)
class EditorCreated:
    user: User
    otpauth_uri: str
    backup_codes: list[str]


# --- Creating and changing accounts ---------------------------------------------------


@transaction.atomic
def editor_create(
    *, actor: Actor, username: str, password: str, is_admin: bool = False, email: str = ""
) -> EditorCreated:
    """A staff account with its key pair, an authenticator device and backup codes, on record.

    ``email`` is optional and used only for the fixed daily notice
    (tipline/retention/notify.py).
    """
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise AccountError("an account with this username already exists")
    user = user_model.objects.create_user(
        username=username, email=email, password=password, is_staff=True, is_superuser=is_admin
    )
    private_key = PrivateKey.generate()
    recipient_key_register(
        kind=RecipientKey.Kind.EDITOR,
        public_key=private_key.public_key(),
        user=user,
        sealed_private_key=seal_private_key(private_key, password, params=EDITOR_KEY_ARGON2),
    )
    audit_record(
        actor=actor, action=Action.EDITOR_CREATED, detail={"editor": username, "admin": is_admin}
    )
    return _second_factor_enrol(user)


def _second_factor_enrol(user: User) -> EditorCreated:
    """A new authenticator device and new backup codes; any older ones stop working."""
    TOTPDevice.objects.filter(user=user).delete()
    totp = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    return EditorCreated(user, totp.config_url, backup_codes_replace(user=user))


@transaction.atomic
def editor_second_factor_reset(*, user: User, actor: Actor) -> EditorCreated:
    """Replace a lost authenticator: new device, new backup codes, every open session ended.

    The password and the key are untouched (the key is sealed under the
    password, which the admin does not know). The failed-login count is cleared
    too: a lost phone is the usual reason for both.
    """
    enrolment = _second_factor_enrol(user)
    editor_sessions_end(user=user)
    login_failures_reset(user=user)
    audit_record(
        actor=actor, action=Action.SECOND_FACTOR_RESET, detail={"editor": user.get_username()}
    )
    return enrolment


def backup_codes_replace(*, user: User) -> list[str]:
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


@transaction.atomic
def editor_password_change(*, user: User, old_password: str, new_password: str) -> None:
    """Set a new password and re-seal the private key under it, on record."""
    if not user.check_password(old_password):
        raise AccountError("the current password is not right")
    recipient = editor_key(user)
    if recipient is not None:
        if recipient.sealed_private_key is None:  # every editor key is stored sealed
            raise KeyringError("the editor's key has no sealed private key")
        recipient.sealed_private_key = reseal_private_key(
            bytes(recipient.sealed_private_key),
            old_password,
            new_password,
            params=EDITOR_KEY_ARGON2,
        )
        recipient.save(update_fields=["sealed_private_key"])
    user.set_password(new_password)
    user.save(update_fields=["password"])
    audit_record(actor=actor_of(user), action=Action.PASSWORD_CHANGED)


@transaction.atomic
def editor_deactivate(*, user: User, actor: Actor) -> int:
    """Close an account and revoke every grant to its key, on record; returns the grants removed."""
    user.is_active = False
    user.save(update_fields=["is_active"])
    keys = RecipientKey.objects.filter(user=user, kind=RecipientKey.Kind.EDITOR)
    removed, _ = Grant.objects.filter(recipient__in=keys).delete()
    keys.update(active=False)
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


def editor_sessions_end(*, user: User) -> int:
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
