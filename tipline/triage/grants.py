"""Giving editors access to tips that arrived before them, and taking it back.

Granting needs the tip key, so only someone who can already read a tip can
share it: the granting editor unwraps with their own key and wraps to the
newcomer. Revoking deletes the grant row; the newcomer's key then opens nothing.

An admin's revocation sticks: it leaves a ``GrantRevocation`` naming the
account (not the key, which a password change replaces), and every path that
shares a tip goes through ``tip_grant_add``, which refuses while it stands.
Only an admin lifts it (``tip_revocation_lift``). Both the revoke and the add
lock the tip's row first, so a share racing a revocation either lands before
it (and is deleted by it) or sees it (and is refused).
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from tipline.accounts.session import Editor
from tipline.audit import Action, Actor, actor_of, audit_record
from tipline.keyring import KeyringError, grant_create, tip_key_unwrap
from tipline.models import Grant, GrantRevocation, RecipientKey, Tip


class AccessRevoked(Exception):
    """An admin took this account's access to the tip away; only an admin can lift that."""


def editor_keys_without_grant(tip: Tip) -> list[RecipientKey]:
    """Active editors' keys that cannot read ``tip`` yet and may be given it (not revoked)."""
    return list(
        RecipientKey.objects.filter(kind=RecipientKey.Kind.EDITOR, active=True)
        .exclude(grants__tip=tip)
        .exclude(user__in=GrantRevocation.objects.filter(tip=tip).values("user"))
        .select_related("user")
        .order_by("user__username")
    )


def tip_revocations(tip: Tip) -> list[GrantRevocation]:
    """The revocations standing on ``tip``, for the admins' view of the tip page."""
    return list(
        GrantRevocation.objects.filter(tip=tip).select_related("user").order_by("user__username")
    )


def _editor_name(recipient: RecipientKey) -> str:
    """The username of the account an editor's key belongs to, for the audit log."""
    if recipient.user is None:  # editor keys always belong to an account
        raise KeyringError("an editor's key without an account")
    return recipient.user.get_username()


def _tip_lock(tip: Tip) -> None:
    # Serialises shares and revocations of one tip (SQLite's IMMEDIATE
    # transactions already do; PostgreSQL needs the row lock).
    Tip.objects.select_for_update().filter(pk=tip.pk).exists()


def _is_revoked(tip: Tip, recipient: RecipientKey) -> bool:
    if recipient.user_id is None:  # the recovery and pipeline keys: no account to revoke
        return False
    return GrantRevocation.objects.filter(tip=tip, user_id=recipient.user_id).exists()


@transaction.atomic
def tip_grant_add(*, tip: Tip, tip_key: bytes, recipient: RecipientKey, actor: Actor) -> Grant:
    """Wrap ``tip_key`` to ``recipient``; ``AccessRevoked`` if an admin took it away."""
    _tip_lock(tip)
    if _is_revoked(tip, recipient):
        raise AccessRevoked
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
    """Take an editor's access away until an admin lifts it; never the recovery key's.

    Deletes the grants of every key of the account (an older key, if a password
    change left one, included) and records the revocation. True if anything changed.
    """
    account_id = recipient.user_id
    if recipient.kind != RecipientKey.Kind.EDITOR or account_id is None:
        return False
    _tip_lock(tip)
    removed, _ = Grant.objects.filter(
        tip=tip, recipient__user_id=account_id, recipient__kind=RecipientKey.Kind.EDITOR
    ).delete()
    _, recorded = GrantRevocation.objects.get_or_create(
        tip=tip,
        user_id=account_id,
        defaults={"revoked_by": actor, "revoked_on": timezone.localdate()},
    )
    if removed or recorded:
        audit_record(
            actor=actor,
            action=Action.GRANT_REVOKED,
            tip_reference=tip.reference,
            detail={"from": _editor_name(recipient)},
        )
    return bool(removed or recorded)


@transaction.atomic
def tip_revocation_lift(*, tip: Tip, user: AbstractBaseUser, admin: User) -> bool:
    """Let ``user`` be given ``tip`` again (it gives no access by itself); on record.

    Only an active admin lifts a revocation (``PermissionDenied`` otherwise),
    whichever door calls this. True if a revocation was lifted.
    """
    if not (admin.is_active and admin.is_superuser):
        raise PermissionDenied
    actor = actor_of(admin)
    _tip_lock(tip)
    removed, _ = GrantRevocation.objects.filter(tip=tip, user_id=user.pk).delete()
    if removed:
        audit_record(
            actor=actor,
            action=Action.REVOCATION_LIFTED,
            tip_reference=tip.reference,
            detail={"for": user.get_username()},
        )
    return bool(removed)


@transaction.atomic
def grants_copy_to_editor(*, editor: Editor, newcomer: RecipientKey, actor: Actor) -> int:
    """Grant ``newcomer`` every tip ``editor`` can read and they cannot; returns how many.

    Tips an admin took away from the newcomer's account are left out.
    """
    if newcomer.user_id is None:  # editor keys always belong to an account
        raise KeyringError("an editor's key without an account")
    count = 0
    readable = (
        Grant.objects.filter(recipient=editor.recipient)
        .exclude(tip__grants__recipient=newcomer)
        .exclude(tip__revocations__user_id=newcomer.user_id)
    )
    for grant in readable.select_related("tip").iterator(chunk_size=200):
        tip_key = tip_key_unwrap(
            tip=grant.tip, recipient=editor.recipient, private_key=editor.private_key
        )
        try:
            tip_grant_add(tip=grant.tip, tip_key=tip_key, recipient=newcomer, actor=actor)
        except AccessRevoked:  # revoked since the query ran
            continue
        count += 1
    return count
