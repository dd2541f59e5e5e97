"""What the set-up page does: the first admin and the recovery key, through the usual services.

The page adds no way of making an account or a key of its own: the admin is
made by ``editor_create`` (as ``manage.py create_editor --admin``) and the
recovery key by ``recovery_key_create`` (as ``manage.py create_recovery_key``),
each with its audit entry. What is added here is what the page needs around
them: each step runs at most once, even when a form is sent twice at once, and
the link stops working when set-up is done.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.db import connection, transaction

from tipline.accounts.second_factor import authenticator_replace, totp_accepts
from tipline.accounts.services import EditorCreated, WrongCode, editor_create
from tipline.audit import Actor
from tipline.keyring import (
    RecoveryKeyCreated,
    active_editor_exists,
    active_recovery_key,
    recovery_key_create,
)
from tipline.setup.token import setup_token_discard

# A space cannot occur in a username: no account can pass for the page.
SETUP_ACTOR = Actor("setup page")
# pg_advisory_xact_lock's key: any fixed number no other lock of this database uses.
_ADVISORY_LOCK_KEY = 0x5E7A9
__all__ = [
    "SETUP_ACTOR",
    "SetupStep",
    "SetupStepDone",
    "WrongCode",
    "setup_step",
    "setup_complete",
    "setup_admin_create",
    "setup_recovery_key_create",
    "setup_link_retire_if_complete",
]


class SetupStepDone(Exception):
    """The step was done meanwhile (another request, or the command line): nothing was made."""


class SetupStep(enum.Enum):
    ADMIN = "admin"
    RECOVERY_KEY = "recovery-key"
    DONE = "done"


def setup_step() -> SetupStep:
    """What set-up still needs: an admin first, then the recovery key."""
    if not active_editor_exists():
        return SetupStep.ADMIN
    if active_recovery_key() is None:
        return SetupStep.RECOVERY_KEY
    return SetupStep.DONE


def setup_complete() -> bool:
    return setup_step() is SetupStep.DONE


def _steps_serialised() -> None:
    """Hold set-up's lock until the transaction ends: one step at a time, whoever sends it.

    SQLite's IMMEDIATE transactions already let one writer in at a time; on
    PostgreSQL two transactions could both find no admin and both make one.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])


def setup_admin_create(
    *, username: str, password: str, totp_secret: bytes, code: str
) -> EditorCreated:
    """The first admin, enrolled with the authenticator that produced ``code``; on record.

    Raises ``WrongCode`` if ``code`` is not the app's current one, and
    ``SetupStepDone`` if an editor exists by the time the lock is held.
    """
    accepted = totp_accepts(secret=totp_secret, code=code)
    if accepted is None:
        raise WrongCode("the code from the app is not right")
    with transaction.atomic():
        _steps_serialised()
        if active_editor_exists() or get_user_model().objects.filter(username=username).exists():
            raise SetupStepDone()
        created = editor_create(
            actor=SETUP_ACTOR, username=username, password=password, is_admin=True
        )
        # The authenticator the admin just proved to hold, in place of the one
        # editor_create made (whose secret no one has seen); its code is spent.
        authenticator_replace(user=created.user, secret=totp_secret, last_t=accepted.t())
        _retire_link_on_commit()
    return created


def setup_recovery_key_create(
    *, passphrase: str, deliver: Callable[[str], None]
) -> RecoveryKeyCreated:
    """The installation's recovery key, as ``create_recovery_key`` makes it; on record.

    ``deliver`` receives the sealed key file inside the transaction (see
    ``recovery_key_create``). Raises ``SetupStepDone`` if a recovery key exists.
    """
    with transaction.atomic():
        _steps_serialised()
        if active_recovery_key() is not None:
            raise SetupStepDone()
        created = recovery_key_create(actor=SETUP_ACTOR, passphrase=passphrase, deliver=deliver)
        _retire_link_on_commit()
    return created


def _retire_link_on_commit() -> None:
    transaction.on_commit(setup_link_retire_if_complete)


def setup_link_retire_if_complete() -> bool:
    """Delete the link's token once set-up is done (by the page or the command line)."""
    if not setup_complete():
        return False
    setup_token_discard()
    return True
