"""Giving editors access to tips that arrived before them, and taking it back.

Granting needs the tip key, so only someone who can already read a tip can
share it: the granting editor unwraps with their own key and wraps to the
newcomer. Revoking deletes the grant row; the newcomer's key then opens nothing.
"""

from __future__ import annotations

from django.db import transaction

from tipline.accounts.session import Editor
from tipline.audit import Action, Actor, audit_record
from tipline.keyring import KeyringError, grant_create, tip_key_unwrap
from tipline.models import Grant, RecipientKey, Tip


def editor_keys_without_grant(tip: Tip) -> list[RecipientKey]:
    """Active editors' keys that cannot read ``tip`` yet."""
    return list(
        RecipientKey.objects.filter(kind=RecipientKey.Kind.EDITOR, active=True)
        .exclude(grants__tip=tip)
        .select_related("user")
        .order_by("user__username")
    )


def _editor_name(recipient: RecipientKey) -> str:
    """The username of the account an editor's key belongs to, for the audit log."""
    if recipient.user is None:  # editor keys always belong to an account
        raise KeyringError("an editor's key without an account")
    return recipient.user.get_username()


@transaction.atomic
def tip_grant_add(*, tip: Tip, tip_key: bytes, recipient: RecipientKey, actor: Actor) -> Grant:
    grant = Grant.objects.filter(tip=tip, recipient=recipient).first()
    if grant is not None:
        return grant
    grant = grant_create(tip=tip, recipient=recipient, tip_key=tip_key)
    audit_record(
        actor=actor,
        action=Action.GRANT_ADDED,
        tip_reference=tip.reference,
        detail={"to": _editor_name(recipient)},
    )
    return grant


@transaction.atomic
def tip_grant_revoke(*, tip: Tip, recipient: RecipientKey, actor: Actor) -> bool:
    """Remove an editor's grant; the recovery key's grant is never revoked here."""
    if recipient.kind != RecipientKey.Kind.EDITOR:
        return False
    removed, _ = Grant.objects.filter(tip=tip, recipient=recipient).delete()
    if removed:
        audit_record(
            actor=actor,
            action=Action.GRANT_REVOKED,
            tip_reference=tip.reference,
            detail={"from": _editor_name(recipient)},
        )
    return bool(removed)


@transaction.atomic
def grants_copy_to_editor(*, editor: Editor, newcomer: RecipientKey, actor: Actor) -> int:
    """Grant ``newcomer`` every tip ``editor`` can read and they cannot; returns how many."""
    count = 0
    readable = Grant.objects.filter(recipient=editor.recipient).exclude(
        tip__grants__recipient=newcomer
    )
    for grant in readable.select_related("tip").iterator(chunk_size=200):
        tip_key = tip_key_unwrap(
            tip=grant.tip, recipient=editor.recipient, private_key=editor.private_key
        )
        tip_grant_add(tip=grant.tip, tip_key=tip_key, recipient=newcomer, actor=actor)
        count += 1
    return count
