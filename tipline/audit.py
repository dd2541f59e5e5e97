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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
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
# Entries per INSERT of ``audit_record_many`` (Django splits further where the
# database limits parameters, as SQLite does).
_INSERT_BATCH = 500


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
    # An admin lifted a revocation: the account may be given the tip again.
    REVOCATION_LIFTED = "revocation_lifted"
    EDITOR_CREATED = "editor_created"
    EDITOR_DEACTIVATED = "editor_deactivated"
    TIP_DELETED = "tip_deleted"
    RETENTION_CHANGED = "retention_changed"
    LEGAL_HOLD_SET = "legal_hold_set"
    LEGAL_HOLD_LIFTED = "legal_hold_lifted"
    UPLOADS_SWEPT = "uploads_swept"
    SECOND_FACTOR_RESET = "second_factor_reset"
    # Signed in with a sign-in code (or, once, the old second factor) to enrol.
    ENROLMENT_BEGUN = "enrolment_begun"
    # The account set up its own authenticator (and, if new, its own password).
    SECOND_FACTOR_ENROLLED = "second_factor_enrolled"
    RECOVERY_KEY_ROTATED = "recovery_key_rotated"
    RECOVERY_KEY_CREATED = "recovery_key_created"
    PIPELINE_KEY_REGISTERED = "pipeline_key_registered"
    # A new pipeline key replaced the old one, whose private half was destroyed.
    PIPELINE_KEY_ROTATED = "pipeline_key_rotated"
    FLOOD_DISCARDED = "flood_discarded"
    # The conversation with a tip's source (tipline/conversation/): never the text.
    # A source's own messages are not audited: an entry's exact time would date the visit.
    REPLY_SENT = "reply_sent"
    REPLY_DELETED = "reply_deleted"
    CONVERSATION_CLOSED = "conversation_closed"


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


@dataclass(frozen=True)
class NewEntry:
    """An entry to append with ``audit_record_many``: the fields ``audit_record`` takes."""

    actor: Actor
    action: str
    tip_reference: str = ""
    detail: dict[str, Any] | None = None


def _chained(*, previous_hash: str, at: datetime, new: NewEntry) -> AuditEntry:
    """The entry ``new`` chained to ``previous_hash``, hash computed, not saved yet."""
    entry = AuditEntry(
        at=at,
        actor=new.actor,
        action=new.action,
        tip_reference=new.tip_reference,
        detail=new.detail or {},
        previous_hash=previous_hash,
    )
    entry.entry_hash = entry_hash(previous_hash=previous_hash, fields=_hashed_fields(entry))
    return entry


def _last_hash() -> str:
    last = AuditEntry.objects.order_by("-id").values_list("entry_hash", flat=True).first()
    return last or GENESIS_HASH


def _now() -> datetime:
    # Microseconds are dropped so the stored value and the hashed one agree on
    # every database.
    return timezone.now().replace(microsecond=0)


@transaction.atomic
def audit_record(
    *, actor: Actor, action: str, tip_reference: str = "", detail: dict[str, Any] | None = None
) -> AuditEntry:
    """Append one entry to the chain."""
    _lock_the_chain()
    entry = _chained(
        previous_hash=_last_hash(),
        at=_now(),
        new=NewEntry(actor=actor, action=action, tip_reference=tip_reference, detail=detail),
    )
    entry.save()
    return entry


@transaction.atomic(savepoint=False)
def audit_record_many(entries: Iterable[NewEntry]) -> list[AuditEntry]:
    """Append several entries, in their order, as ``audit_record`` would one after the other.

    The chain is locked and its last hash read once; each entry is chained to
    the one before it (the first to the chain's last), and all are inserted
    together. They share one time: they are written in one transaction.

    Called inside a transaction, it takes no savepoint: if the append fails,
    the caller's transaction cannot commit either, so what the entries record
    (the purge's deletions) never commits without them.
    """
    news = list(entries)
    if not news:
        return []
    _lock_the_chain()
    previous = _last_hash()
    at = _now()
    chained = []
    for new in news:
        entry = _chained(previous_hash=previous, at=at, new=new)
        chained.append(entry)
        previous = entry.entry_hash
    # One INSERT per batch (SQLite's limit on parameters may split it): ids are
    # given in list order, which is the chain's order (``audit_verify`` walks ids).
    return AuditEntry.objects.bulk_create(chained, batch_size=_INSERT_BATCH)


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
