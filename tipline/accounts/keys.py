"""An editor's key pair: made under a password, and replaced by a new one when the password changes.

Re-sealing the same private key under a new password would leave every copy
of the database taken before the change (a backup, a dump) holding that key
sealed under the old password: whoever knew the old password (an admin who set
it, someone who saw it typed) could open, with that old copy and any later
one, every tip that arrived after the change. So a change makes a new key
pair, wraps every tip the old key could open to the new one, and retires the
old key: its row stays (inactive, for the fingerprint history) with its sealed
private key wiped and no grant left. An old copy and the old password then
open only what that copy already held.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User

from tipline.crypto import Argon2Params, CryptoError, PrivateKey, seal_private_key
from tipline.keyring import KeyringError, grant_create, recipient_key_register, tip_key_open
from tipline.models import Grant, RecipientKey


@dataclass(frozen=True)
class NewEditorKey:
    private_key: PrivateKey
    sealed: bytes  # the private key sealed under the password


def editor_key_new(*, password: str, params: Argon2Params) -> NewEditorKey:
    """A new key pair sealed under ``password`` (Argon2id: run it in a ``password_work`` turn)."""
    private_key = PrivateKey.generate()
    return NewEditorKey(private_key, seal_private_key(private_key, password, params=params))


@dataclass(frozen=True)
class KeyReplaced:
    recipient: RecipientKey
    previous_fingerprint: str  # empty when the account had no key
    grants_moved: int
    # Grants the old key could not open (damaged): dropped with the old key.
    grants_dropped: int


def editor_key_register(*, user: User, new: NewEditorKey) -> RecipientKey:
    return recipient_key_register(
        kind=RecipientKey.Kind.EDITOR,
        public_key=new.private_key.public_key(),
        user=user,
        sealed_private_key=new.sealed,
    )


def editor_key_replace(
    *, user: User, old_private_key: PrivateKey | None, new: NewEditorKey
) -> KeyReplaced:
    """Make ``new`` the account's key, move every grant of the old one to it, retire the old.

    Call inside a transaction (the services do). ``old_private_key`` must be
    the current key's private half; an account without a key just gets ``new``.
    """
    old = (
        RecipientKey.objects.select_for_update()
        .filter(user=user, kind=RecipientKey.Kind.EDITOR, active=True)
        .first()
    )
    if old is not None:
        if old_private_key is None or (
            old_private_key.public_key().to_bytes() != bytes(old.public_key)
        ):
            raise KeyringError("this private key does not belong to the editor's key")
        # Retired before the new one is registered: one active key per editor.
        old.active = False
        old.sealed_private_key = None
        old.save(update_fields=["active", "sealed_private_key"])
    recipient = editor_key_register(user=user, new=new)
    if old is None or old_private_key is None:
        return KeyReplaced(recipient, "", 0, 0)
    moved, dropped = _grants_move(old=old, old_private_key=old_private_key, new=recipient)
    return KeyReplaced(recipient, old.fingerprint, moved, dropped)


def _grants_move(
    *, old: RecipientKey, old_private_key: PrivateKey, new: RecipientKey
) -> tuple[int, int]:
    moved = dropped = 0
    grants = Grant.objects.filter(recipient=old).select_related("tip").order_by("id")
    for grant in grants.iterator(chunk_size=200):
        try:
            tip_key = tip_key_open(
                tip=grant.tip, wrapped_key=grant.wrapped_key, private_key=old_private_key
            )
        except CryptoError:
            dropped += 1  # it opened nothing for the editor before either
            continue
        grant_create(tip=grant.tip, recipient=new, tip_key=tip_key)
        moved += 1
    Grant.objects.filter(recipient=old).delete()
    return moved, dropped
