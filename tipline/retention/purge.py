"""The purge: every tip whose retention period is over is deleted, so nothing of it stays readable.

Per tip, in this order (the reasons are in docs/retention.md):

1. ``purging`` is set and every grant deleted, in one transaction. From that
   commit on nobody can unwrap the tip key: whatever is still stored is
   ciphertext under a key that no longer exists anywhere (crypto-shredding).
2. Every blob of every file (raw, clean, thumbnail) is deleted through the
   storage API, every version on S3. A blob the storage refuses is left for
   the next run; the tip's other blobs, and the other tips, still go.
3. Only when none of its blobs remains: the rows (the tip and its files,
   notes, tags and what is left of its grants) are deleted and the audit entry
   written, in one transaction.

Tips are taken in batches of ``TIPLINE_PURGE_BATCH_SIZE``, steps 1 and 3 being
one transaction per batch, and every step works on the whole batch at once: a
few SQL queries per batch, however many tips it holds (one UPDATE, one DELETE
per table, the blob names in one SELECT, the audit entries appended together
with ``audit_record_many``). The order holds per batch; between batches the
work overlaps: while one thread deletes a batch's blobs (storage calls only,
never the database), the main thread finishes the batch before it (step 3) and
starts the next (step 1). Every step is safe to repeat, and a tip whose purge
has begun is finished by the next run whatever its status, hold or the policy
say by then (``expired_tips`` always includes it). Nothing here logs tip
content, file names or blob contents; blob names (random) appear at DEBUG only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import F, Lookup
from django.utils import timezone

# RETENTION_ACTOR, the audit log's name for what the policy does, is imported
# from here by the other retention modules.
from tipline.audit import RETENTION_ACTOR, Action, NewEntry, audit_record_many
from tipline.models import (
    ATTACHMENT_BLOB_FIELDS,
    Attachment,
    Conversation,
    EditorNote,
    Grant,
    GrantRevocation,
    Message,
    RetentionPolicy,
    Tip,
)
from tipline.pipeline_key import deleted_grants_scrub
from tipline.retention.policy import expired_tips, tip_deletion_date
from tipline.storage import delete_blob

logger = logging.getLogger(__name__)

# What refers to a tip, deleted explicitly in bulk before the tips themselves
# (one DELETE each, instead of Django's collector loading every tip row). A
# test checks that this names every relation of ``Tip``; a relation missing
# here would make the step's transaction fail on the foreign key, not leave rows.
_TIP_CHILDREN = (
    Tip.tags.through,
    EditorNote,
    Attachment,
    Grant,
    GrantRevocation,
    Message,
    Conversation,
)


class _IdIn(Lookup):
    """``column IN (ids)`` for a batch's ids, sent as one array on PostgreSQL.

    Django's ``__in`` prepares and binds a parameter per id, and the
    PostgreSQL driver then splits and quotes them one by one: with a few
    hundred ids in most of a batch's queries, that was half the purge's own
    CPU time there. On PostgreSQL this is ``= ANY(%s)`` with one array
    parameter; elsewhere a plain ``IN``. The ids are the database's own integers.
    """

    lookup_name = "id_in"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        if not self.rhs:
            raise EmptyResultSet
        column, params = self.process_lhs(compiler, connection)
        if connection.vendor == "postgresql":
            return f"{column} = ANY(%s)", (*params, list(self.rhs))
        return f"{column} IN ({', '.join(['%s'] * len(self.rhs))})", (*params, *self.rhs)


def _in(column: str, ids: list[int]) -> _IdIn:
    return _IdIn(F(column), ids)


@dataclass
class PurgeSummary:
    tips_deleted: int = 0
    # Grants gone (unreadable already) but a blob the storage refused: the next run finishes them.
    tips_pending: int = 0
    blobs_deleted: int = 0


@dataclass(frozen=True)
class _Shredded:
    """A batch past step 1: its tips' audit details, and step 2 under way."""

    details: dict[int, dict]
    blobs: Future[tuple[int, set[int]]]


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
    # One thread for the storage, so the blobs are deleted one at a time as
    # before (a storage client need not be thread-safe). Leaving the block
    # waits for it, also when the main thread fails: the blobs of a batch
    # whose grants are gone are deleted whatever happens to the rows.
    with (
        _deleted_grants_scrubbed(),
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="purge-blobs") as storage,
    ):
        previous: _Shredded | None = None
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
            shredded = _batch_start(batch, today=today, policy=policy, storage=storage)
            if previous is not None:
                _batch_finish(previous, summary=summary)
            previous = shredded
        if previous is not None:
            _batch_finish(previous, summary=summary)
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
def _deleted_grants_scrubbed() -> Iterator[None]:
    """After the purge, even one that stopped halfway: the deleted grants leave the database files.

    A deleted row stays in the database file until its space is reused; for a
    grant that is a wrapped tip key, which an editor's password (or the
    recovery key) opens again. On SQLite ``secure_delete`` zeroes deleted
    content (on for every connection, config/settings.py; set here as well, so
    a connection configured otherwise cannot skip it) and the write-ahead log
    is emptied afterwards; PostgreSQL's grant table is vacuumed, which is less
    (``deleted_grants_scrub``; docs/retention.md).
    """
    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA secure_delete = ON")
    try:
        yield
    finally:
        deleted_grants_scrub()


def _batch_start(
    tip_ids: list[int], *, today: date, policy: RetentionPolicy, storage: ThreadPoolExecutor
) -> _Shredded | None:
    """Step 1 here, then step 2 handed to the storage thread (only once step 1 is committed)."""
    details = _tips_shred(tip_ids=tip_ids, today=today, policy=policy)
    if not details:
        return None
    names = _tip_blob_names(tip_ids=list(details))
    return _Shredded(details, storage.submit(_tip_blobs_delete, names))


def _batch_finish(shredded: _Shredded, *, summary: PurgeSummary) -> None:
    """Once step 2 is over for the batch: step 3 for its tips that have no blob left."""
    deleted, refused = shredded.blobs.result()
    summary.blobs_deleted += deleted
    summary.tips_pending += len(refused)
    finished = {pk: detail for pk, detail in shredded.details.items() if pk not in refused}
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
        .filter(_in("pk", tip_ids))
        .select_for_update()
        .values_list("pk", "status", "purging")
    )
    starting = [pk for pk, _status, purging in rows if not purging]
    Tip.objects.filter(_in("pk", starting)).update(purging=True)
    Grant.objects.filter(_in("tip_id", [row[0] for row in rows])).delete()
    # The source's key goes with the grants: from now on their passphrase opens nothing.
    Conversation.objects.filter(_in("tip_id", [row[0] for row in rows])).delete()
    return {
        pk: {"purge": "finished"} if purging else {"policy": f"{status}:{policy.days_for(status)}"}
        for pk, status, purging in rows
    }


def _tip_blob_names(*, tip_ids: list[int]) -> list[tuple[int, str]]:
    """Every blob of every file of these tips, with its tip, in one query."""
    rows = Attachment.objects.filter(_in("tip_id", tip_ids)).values_list(
        "tip_id", *ATTACHMENT_BLOB_FIELDS
    )
    return [(tip_id, name) for tip_id, *names in rows for name in names if name]


def _tip_blobs_delete(names: list[tuple[int, str]]) -> tuple[int, set[int]]:
    """Step 2: delete these blobs. Returns (deleted, tips with a refusal).

    Runs in the storage thread: storage calls only, no database.
    """
    deleted = 0
    refused: set[int] = set()
    for tip_id, name in names:
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
        .filter(_in("pk", list(details)), purging=True)
        .order_by("pk")
        .values_list("pk", "reference")
    )
    if not present:
        return 0
    ids = [pk for pk, _reference in present]
    for child in _TIP_CHILDREN:
        # None of these has relations or signals of its own: one DELETE each.
        child._base_manager.filter(_in("tip_id", ids)).delete()
    # Nothing refers to these tips any more: a plain DELETE, without the
    # collector's SELECT of every row and its query per related table.
    Tip._base_manager.filter(_in("pk", ids))._raw_delete(Tip.objects.db)
    audit_record_many(
        NewEntry(
            actor=RETENTION_ACTOR,
            action=Action.TIP_DELETED,
            tip_reference=reference,
            detail=details[pk],
        )
        for pk, reference in present
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
