"""Giving editors access to tips that arrived before them, and taking it back.

Granting needs the tip key, so only someone who can already read a tip can
share it: the granting editor unwraps with their own key and wraps to the
newcomer. Revoking deletes the grant row; the newcomer's key then opens nothing.
"""

from __future__ import annotations

from django.db import transaction

from tipline.audit import Action, audit_record
from tipline.keyring import grant_create, tip_key_unwrap
from tipline.models import Grant, RecipientKey, Tip
from tipline.triage.access import Editor


def editor_keys_without_grant(tip: Tip) -> list[RecipientKey]:
    """Active editors' keys that cannot read ``tip`` yet."""
    return list(
        RecipientKey.objects.filter(kind=RecipientKey.Kind.EDITOR, active=True)
        .exclude(grants__tip=tip)
        .select_related("user")
        .order_by("user__username")
    )


@transaction.atomic
def tip_grant_add(*, tip: Tip, tip_key: bytes, recipient: RecipientKey, actor: str) -> Grant:
    grant = Grant.objects.filter(tip=tip, recipient=recipient).first()
    if grant is not None:
        return grant
    grant = grant_create(tip=tip, recipient=recipient, tip_key=tip_key)
    audit_record(
        actor=actor,
        action=Action.GRANT_ADDED,
        tip_reference=tip.reference,
        detail={"to": recipient.user.get_username()},
    )
    return grant


@transaction.atomic
def tip_grant_revoke(*, tip: Tip, recipient: RecipientKey, actor: str) -> bool:
    """Remove an editor's grant; the recovery key's grant is never revoked here."""
    if recipient.kind != RecipientKey.Kind.EDITOR:
        return False
    removed, _ = Grant.objects.filter(tip=tip, recipient=recipient).delete()
    if removed:
        audit_record(
            actor=actor,
            action=Action.GRANT_REVOKED,
            tip_reference=tip.reference,
            detail={"from": recipient.user.get_username()},
        )
    return bool(removed)


@transaction.atomic
def grants_copy_to_editor(*, editor: Editor, newcomer: RecipientKey, actor: str) -> int:
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
