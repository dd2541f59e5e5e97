"""The append-only, hash-chained audit log of staff actions.

Each entry commits to the one before it:

    entry_hash = SHA-256( previous_hash || canonical JSON of the entry's fields )

with the first entry chained to 64 zeros. Editing, deleting, inserting or
reordering entries changes a hash that later entries committed to, so
``audit_verify`` (``manage.py verify_audit_log``) finds the first broken one.
Entries name the actor, the action and the tip's public reference, never tip
content, file names or client addresses. The chain proves the log was not
rewritten piecemeal; whoever can rewrite the whole table can also recompute it,
which is why the README says to copy the log off the server (the last hash is
enough to pin everything before it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, NewType

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from tipline.models import AuditEntry

GENESIS_HASH = "0" * 64

# Who did something, as the log names them: a staff account's username, or one
# of the fixed names below for what no account does. Every service that writes
# an entry takes an ``Actor``, whichever door (page, command, schedule) called it.
Actor = NewType("Actor", str)
# A space cannot occur in a Django username, so no account can pass for these.
RETENTION_ACTOR = Actor("retention policy")
COMMAND_LINE_ACTOR = Actor("command line")
SYSTEM_ACTOR = Actor("tip line")
# A failed sign-in names nobody: the username typed may not exist, or be a typo
# of a password, and either would be a secret in the log.
NOBODY = Actor("")


def actor_of(user: AbstractBaseUser) -> Actor:
    """The audit log's name for a staff account."""
    return Actor(user.get_username())


# An arbitrary constant naming the lock that serialises appends on PostgreSQL.
_PG_ADVISORY_LOCK_ID = 0x7419_A0D1


class Action:
    """What the log records. Values are stored; names are for code."""

    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an action name
    TIP_VIEWED = "tip_viewed"
    FILE_DOWNLOADED = "file_downloaded"
    STATUS_CHANGED = "status_changed"
    ASSIGNEE_CHANGED = "assignee_changed"
    TAGS_CHANGED = "tags_changed"
    NOTE_ADDED = "note_added"
    GRANT_ADDED = "grant_added"
    GRANT_REVOKED = "grant_revoked"
    EDITOR_CREATED = "editor_created"
    EDITOR_DEACTIVATED = "editor_deactivated"
    TIP_DELETED = "tip_deleted"
    RETENTION_CHANGED = "retention_changed"
    LEGAL_HOLD_SET = "legal_hold_set"
    LEGAL_HOLD_LIFTED = "legal_hold_lifted"
    UPLOADS_SWEPT = "uploads_swept"
    SECOND_FACTOR_RESET = "second_factor_reset"
    RECOVERY_KEY_ROTATED = "recovery_key_rotated"


def entry_hash(*, previous_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(previous_hash.encode("ascii") + canonical.encode("ascii")).hexdigest()


def _hashed_fields(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "tip": entry.tip_reference,
        "detail": entry.detail,
    }


def _lock_the_chain() -> None:
    # SQLite's IMMEDIATE transactions already serialise writers; PostgreSQL
    # needs a lock so two appends never chain to the same predecessor.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_ADVISORY_LOCK_ID])


@transaction.atomic
def audit_record(
    *, actor: Actor, action: str, tip_reference: str = "", detail: dict[str, Any] | None = None
) -> AuditEntry:
    """Append one entry to the chain."""
    _lock_the_chain()
    last = AuditEntry.objects.order_by("-id").values_list("entry_hash", flat=True).first()
    entry = AuditEntry(
        # Microseconds are dropped so the stored value and the hashed one agree
        # on every database.
        at=timezone.now().replace(microsecond=0),
        actor=actor,
        action=action,
        tip_reference=tip_reference,
        detail=detail or {},
        previous_hash=last or GENESIS_HASH,
    )
    entry.entry_hash = entry_hash(previous_hash=entry.previous_hash, fields=_hashed_fields(entry))
    entry.save()
    return entry


@dataclass(frozen=True)
class ChainCheck:
    entries: int
    first_broken_id: int | None
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.first_broken_id is None


def audit_verify() -> ChainCheck:
    """Walk the whole chain; report the first entry whose hash or link is wrong."""
    expected_previous = GENESIS_HASH
    count = 0
    for entry in AuditEntry.objects.order_by("id").iterator(chunk_size=2000):
        count += 1
        if entry.previous_hash != expected_previous:
            return ChainCheck(count, entry.id, "does not follow the entry before it")
        recomputed = entry_hash(previous_hash=entry.previous_hash, fields=_hashed_fields(entry))
        if recomputed != entry.entry_hash:
            return ChainCheck(count, entry.id, "was changed after it was written")
        expected_previous = entry.entry_hash
    return ChainCheck(count, None)
