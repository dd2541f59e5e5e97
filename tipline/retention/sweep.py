"""The sweep of abandoned uploads: what the pipeline gave up on, and blobs no row knows.

Two kinds of leftovers, both older than ``TIPLINE_ABANDONED_UPLOAD_HOURS``:

- **Files the pipeline tried and failed on**: still ``received``, at least one
  attempt, the tip arrived long enough ago that no retry is coming (a file that
  kills the worker, one that runs out of time). The file is marked ``failed``
  and its raw blob (and any partial clean blob or thumbnail) deleted; the tip
  and its other files stay. Files never attempted mean the worker is not
  running: they are left alone, counted and logged, because deleting them would
  lose tips that only wait for the operator.
- **Orphan blobs**: stored, but no row names them, e.g. an upload cut off by a
  crash before its rows were committed. Only names of the blob shape are ever
  considered, and only when their newest write is older than the limit, so an
  upload still arriving is never touched.
- **Interrupted uploads on S3**: a blob's multipart upload that a killed
  process never finished, begun before the limit. Its parts are no object, so
  the orphans' listing never sees them; they are aborted (their parts deleted).

One ``uploads_swept`` audit entry per run, with counts only, when anything went.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tipline.audit import Action, audit_record
from tipline.models import ATTACHMENT_BLOB_FIELDS, Attachment, PendingUpload
from tipline.retention.purge import RETENTION_ACTOR
from tipline.storage import delete_blob, interrupted_uploads_abort, stored_blobs

logger = logging.getLogger(__name__)

# Names checked against the database per query (3 columns each: well under
# SQLite's limit on parameters).
_ORPHAN_CHECK_BATCH = 300


@dataclass
class SweepSummary:
    files_failed: int = 0  # files given up on: marked failed, blobs deleted
    files_waiting: int = 0  # never attempted: left for a worker
    orphans_deleted: int = 0
    blobs_refused: int = 0  # the storage said no: retried by the next run
    # Files a page sent ahead (tipline/intake/resumable.py) whose form never came.
    pending_uploads_deleted: int = 0
    # Unfinished S3 multipart uploads of blobs, aborted.
    interrupted_uploads_aborted: int = 0


def uploads_sweep(*, now: datetime | None = None, hours: int | None = None) -> SweepSummary:
    now = now or timezone.now()
    limit = timedelta(hours=settings.TIPLINE_ABANDONED_UPLOAD_HOURS if hours is None else hours)
    summary = SweepSummary()
    _abandoned_files_fail(cutoff=now - limit, summary=summary)
    _abandoned_pending_uploads_delete(cutoff=now - limit, summary=summary)
    _orphan_blobs_delete(cutoff=now - limit, summary=summary)
    _interrupted_uploads_abort(cutoff=now - limit, summary=summary)
    if (
        summary.files_failed
        or summary.orphans_deleted
        or summary.pending_uploads_deleted
        or summary.interrupted_uploads_aborted
    ):
        detail = {"files_failed": summary.files_failed, "orphans": summary.orphans_deleted}
        if summary.pending_uploads_deleted:
            detail["pending_uploads"] = summary.pending_uploads_deleted
        if summary.interrupted_uploads_aborted:
            detail["interrupted_uploads"] = summary.interrupted_uploads_aborted
        audit_record(actor=RETENTION_ACTOR, action=Action.UPLOADS_SWEPT, detail=detail)
        logger.info(
            "sweep: %d abandoned files marked failed, %d orphan blobs deleted",
            summary.files_failed,
            summary.orphans_deleted,
        )
    if summary.files_waiting:
        logger.warning(
            "sweep: %d files have waited more than %d hours and were never processed: "
            "is the worker running?",
            summary.files_waiting,
            limit // timedelta(hours=1),
        )
    if summary.blobs_refused:
        logger.warning("sweep: %d blobs not deleted; the next run retries", summary.blobs_refused)
    return summary


def _arrival_window() -> timedelta:
    """How much later than its recorded day (or hour) a tip may really have arrived."""
    hours = max(settings.TIPLINE_RECEIVED_GRANULARITY_HOURS, 1)
    return timedelta(hours=24 if hours >= 24 else hours)


def _abandoned_files_fail(*, cutoff: datetime, summary: SweepSummary) -> None:
    # ``received_on`` is rounded down (to the day by default): a tip counts as
    # old enough only if even the end of its recorded day is before the cutoff.
    abandoned = Attachment.objects.filter(
        state=Attachment.State.RECEIVED,
        tip__received_on__lte=cutoff - _arrival_window(),
        tip__purging=False,  # the purge deletes those whole
    )
    summary.files_waiting += abandoned.filter(attempts=0).count()
    # A list, not an iterator: the loop updates the rows the query selects.
    tried = list(abandoned.filter(attempts__gte=1).select_related("tip").order_by("pk"))
    for attachment in tried:
        if _attachment_give_up(attachment, summary=summary):
            summary.files_failed += 1
    _abandoned_safe_copies_fail(cutoff=cutoff)


def _abandoned_safe_copies_fail(*, cutoff: datetime) -> None:
    """Safe copies whose task was lost: "could not be made", so the pipeline's grant can go."""
    from tipline.worker.pipeline import tip_pipeline_finish
    from tipline.worker.safe_copy import attachment_safe_copy_give_up

    stuck = Attachment.objects.filter(
        safe_copy=Attachment.SafeCopy.PENDING,
        tip__received_on__lte=cutoff - _arrival_window(),
        tip__purging=False,
    )
    for attachment in list(stuck.select_related("tip").order_by("pk")):
        attachment_safe_copy_give_up(attachment)
        tip_pipeline_finish(tip=attachment.tip)


def _attachment_give_up(attachment: Attachment, *, summary: SweepSummary) -> bool:
    from tipline.worker.pipeline import tip_pipeline_finish

    blobs = [attachment.raw_blob, attachment.clean_blob, attachment.thumbnail_blob]
    blobs += [attachment.safe_pdf_blob, attachment.safe_pages_blob]
    # The row lets go of the names first, and only if the file is still waiting
    # (a late retry may just have finished it). A blob the storage then refuses
    # is an orphan, which the second half of the sweep retries: a row never
    # names a blob that is gone.
    with transaction.atomic():
        changed = Attachment.objects.filter(
            pk=attachment.pk, state=Attachment.State.RECEIVED
        ).update(
            state=Attachment.State.FAILED,
            **dict.fromkeys(ATTACHMENT_BLOB_FIELDS, ""),
            safe_copy=Attachment.SafeCopy.NONE,
        )
    if not changed:
        return False
    for name in blobs:
        if name and not delete_blob(name):
            summary.blobs_refused += 1
    # The last waiting file of the tip: the pipeline's grant goes, as when it finishes.
    tip_pipeline_finish(tip=attachment.tip)
    return True


def _abandoned_pending_uploads_delete(*, cutoff: datetime, summary: SweepSummary) -> None:
    """Files sent ahead in pieces whose page was closed: unreadable by anyone now, deleted."""
    from tipline.intake.resumable import pending_uploads_sweep

    summary.pending_uploads_deleted += pending_uploads_sweep(cutoff=cutoff)


def _orphan_blobs_delete(*, cutoff: datetime, summary: SweepSummary) -> None:
    candidates: list[str] = []
    for blob in stored_blobs():
        if blob.modified > cutoff:
            continue
        candidates.append(blob.name)
        if len(candidates) >= _ORPHAN_CHECK_BATCH:
            _unreferenced_delete(candidates, summary=summary)
            candidates = []
    if candidates:
        _unreferenced_delete(candidates, summary=summary)


def _interrupted_uploads_abort(*, cutoff: datetime, summary: SweepSummary) -> None:
    result = interrupted_uploads_abort(started_before=cutoff)
    summary.interrupted_uploads_aborted += result.aborted
    summary.blobs_refused += result.refused


def _unreferenced_delete(names: list[str], *, summary: SweepSummary) -> None:
    referenced: set[str] = set()
    named = Q()
    for field in ATTACHMENT_BLOB_FIELDS:
        named |= Q(**{f"{field}__in": names})
    rows = Attachment.objects.filter(named).values_list(*ATTACHMENT_BLOB_FIELDS)
    for row in rows:
        referenced.update(row)
    # A finished upload sent ahead, waiting for its form: swept with its row, not before.
    referenced.update(PendingUpload.objects.filter(blob__in=names).values_list("blob", flat=True))
    for name in names:
        if name in referenced:
            continue
        if delete_blob(name):
            summary.orphans_deleted += 1
            logger.debug("orphan blob deleted: %s", name)
        else:
            summary.blobs_refused += 1
