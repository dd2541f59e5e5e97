"""The purge: every tip whose retention period is over is deleted, so nothing of it stays readable.

Per tip, in this order (the reasons are in docs/retention.md):

1. ``purging`` is set and every grant deleted, in one transaction. From that
   commit on nobody can unwrap the tip key: whatever is still stored is
   ciphertext under a key that no longer exists anywhere (crypto-shredding).
2. Every blob of every file (raw, clean, thumbnail) is deleted through the
   storage API, every version on S3. A blob the storage refuses is left for
   the next run; the tip's other blobs, and the other tips, still go.
3. Only when none of its blobs remains: the rows (the tip and, by cascade, its
   files, notes, tags and what is left of its grants) are deleted and the audit
   entry written, in one transaction.

Tips are taken in batches of ``TIPLINE_PURGE_BATCH_SIZE``, steps 1 and 3 being
one transaction per batch. Every step is safe to repeat, and a tip whose purge
has begun is finished by the next run whatever its status, hold or the policy
say by then (``expired_tips`` always includes it). Nothing here logs tip
content, file names or blob contents; blob names (random) appear at DEBUG only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from tipline.audit import Action, audit_record
from tipline.models import Attachment, Grant, RetentionPolicy, Tip
from tipline.retention.policy import expired_tips, tip_deletion_date
from tipline.storage import delete_blob

logger = logging.getLogger(__name__)

# The audit log's actor for what the policy does. A space cannot occur in a
# Django username, so no staff account can ever be mistaken for it.
RETENTION_ACTOR = "retention policy"


@dataclass
class PurgeSummary:
    tips_deleted: int = 0
    # Grants gone (unreadable already) but a blob the storage refused: the next run finishes them.
    tips_pending: int = 0
    blobs_deleted: int = 0


@dataclass(frozen=True)
class DueTip:
    """A tip the purge would delete, for ``--dry-run``: no content, nothing decrypted."""

    reference: str
    status: str
    deletion_date: date
    purging: bool


def purge_today() -> date:
    """The purge's "today": the date in ``TIME_ZONE`` (UTC), like ``Tip.status_changed_on``."""
    return timezone.localdate()


def tips_purge_expired(*, as_of: date | None = None, batch_size: int | None = None) -> PurgeSummary:
    """Delete every tip due on ``as_of`` (today by default); see the module's docstring."""
    today = as_of or purge_today()
    size = max(batch_size or settings.TIPLINE_PURGE_BATCH_SIZE, 1)
    policy = RetentionPolicy.current()
    summary = PurgeSummary()
    last_id = 0
    with _sqlite_secure_delete():
        while True:
            # Walking up the ids means a tip left pending in this run is not taken
            # again until the next run, so a storage that refuses cannot loop us.
            batch = list(
                expired_tips(as_of=today, policy=policy)
                .filter(pk__gt=last_id)
                .values_list("pk", flat=True)[:size]
            )
            if not batch:
                break
            last_id = batch[-1]
            _batch_purge(batch, today=today, policy=policy, summary=summary)
    if summary.tips_deleted or summary.tips_pending:
        logger.info(
            "purge: %d tips deleted, %d blobs deleted, %d tips pending",
            summary.tips_deleted,
            summary.blobs_deleted,
            summary.tips_pending,
        )
    if summary.tips_pending:
        logger.warning(
            "purge: %d tips are unreadable already but still have a blob the storage "
            "did not delete; the next run retries",
            summary.tips_pending,
        )
    return summary


@contextmanager
def _sqlite_secure_delete() -> Iterator[None]:
    """On SQLite, overwrite what the purge deletes instead of leaving it in free pages.

    A deleted row stays in the database file until its space is reused; for a
    grant that is a wrapped tip key, which an editor's password (or the
    recovery key) opens again. ``secure_delete`` zeroes deleted content, and the
    checkpoint afterwards empties the write-ahead log of the older page images.
    PostgreSQL has no equivalent: see docs/retention.md.
    """
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA secure_delete")
        before = cursor.fetchone()[0]
        cursor.execute("PRAGMA secure_delete = ON")
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA secure_delete = {int(before)}")
                # Busy readers only make it partial; the next purge's checkpoint catches up.
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except DatabaseError as exc:  # never hide why the purge itself stopped
            logger.warning("purge: the database log was not checkpointed (%s)", type(exc).__name__)


def _batch_purge(
    tip_ids: list[int], *, today: date, policy: RetentionPolicy, summary: PurgeSummary
) -> None:
    details = _tips_shred(tip_ids=tip_ids, today=today, policy=policy)
    if not details:
        return
    deleted, refused = _tip_blobs_delete(tip_ids=list(details))
    summary.blobs_deleted += deleted
    summary.tips_pending += len(refused)
    finished = {pk: detail for pk, detail in details.items() if pk not in refused}
    if finished:
        summary.tips_deleted += _tip_rows_delete(details=finished)


@transaction.atomic
def _tips_shred(*, tip_ids: list[int], today: date, policy: RetentionPolicy) -> dict[int, dict]:
    """Step 1: mark ``purging`` and delete every grant. Returns each tip's audit detail.

    The expiry is checked again under the row locks: a legal hold set or a
    status changed since the batch was listed keeps the tip.
    """
    rows = list(
        expired_tips(as_of=today, policy=policy)
        .filter(pk__in=tip_ids)
        .select_for_update()
        .values_list("pk", "status", "purging")
    )
    starting = [pk for pk, _status, purging in rows if not purging]
    Tip.objects.filter(pk__in=starting).update(purging=True)
    Grant.objects.filter(tip_id__in=[row[0] for row in rows]).delete()
    return {
        pk: {"purge": "finished"} if purging else {"policy": f"{status}:{policy.days_for(status)}"}
        for pk, status, purging in rows
    }


def _tip_blobs_delete(*, tip_ids: list[int]) -> tuple[int, set[int]]:
    """Step 2: every blob of every file of these tips. Returns (deleted, tips with a refusal)."""
    deleted = 0
    refused: set[int] = set()
    names = Attachment.objects.filter(tip_id__in=tip_ids).values_list(
        "tip_id", "raw_blob", "clean_blob", "thumbnail_blob"
    )
    for tip_id, *blobs in names.iterator():
        for name in blobs:
            if not name:
                continue
            if delete_blob(name):
                deleted += 1
            else:
                refused.add(tip_id)
    return deleted, refused


@transaction.atomic
def _tip_rows_delete(*, details: dict[int, dict]) -> int:
    """Step 3: the rows and the audit entries, together. Returns how many tips went.

    Only tips still marked ``purging`` are taken, under their row locks, so two
    purges running at once delete (and audit) each tip once.
    """
    present = list(
        Tip.objects.select_for_update()
        .filter(pk__in=list(details), purging=True)
        .order_by("pk")
        .values_list("pk", "reference")
    )
    Tip.objects.filter(pk__in=[pk for pk, _reference in present]).delete()
    for pk, reference in present:
        audit_record(
            actor=RETENTION_ACTOR,
            action=Action.TIP_DELETED,
            tip_reference=reference,
            detail=details[pk],
        )
    return len(present)


def tips_due_for_purge(*, as_of: date | None = None) -> list[DueTip]:
    """What ``tips_purge_expired`` would delete on ``as_of``, without changing anything."""
    today = as_of or purge_today()
    policy = _policy_read_only()
    tips = expired_tips(as_of=today, policy=policy).only(
        "reference", "status", "status_changed_on", "legal_hold", "purging"
    )
    return [
        DueTip(tip.reference, tip.status, tip_deletion_date(tip, policy) or today, tip.purging)
        for tip in tips.iterator()
    ]


def _policy_read_only() -> RetentionPolicy:
    # ``current()`` creates the row with its defaults when there is none yet; a
    # dry run must leave the database as it found it, so that creation is rolled back.
    with transaction.atomic():
        policy = RetentionPolicy.current()
        transaction.set_rollback(True)
    return policy
