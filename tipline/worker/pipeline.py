"""The worker's part: open a raw upload, clean it, store it encrypted, forget the raw blob.

A cleaned picture also gets a small encrypted thumbnail, made from the clean
blob (see thumbnails.py).

Every step is safe to repeat. A worker killed mid-file leaves the attachment
``received`` with its raw blob and the recorded names of its clean blob (and
thumbnail blob, if it got that far); the redelivered task rewrites those blobs
from the start. A worker killed after the commit finds the attachment ``done``
and only finishes the clean-up, so a file never gets a second thumbnail.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from tipline.crypto import DecryptionError, EncryptedScratchFile
from tipline.models import Attachment, Grant, RecipientKey, Tip
from tipline.pipeline_key import pipeline_tip_key_open
from tipline.sanitize import Report, sanitize
from tipline.sealed import (
    Part,
    attachment_blob_open,
    attachment_blob_write,
    attachment_report_seal,
)
from tipline.storage import blob_forget, new_blob_name
from tipline.worker.background import run_in_background
from tipline.worker.safe_copy import attachment_safe_copy_make, safe_copy_kind
from tipline.worker.thumbnails import attachment_thumbnail_forget, attachment_thumbnail_store

logger = logging.getLogger(__name__)

# Cleaning changes process-wide state (warning filters, decoder limits) and can
# use a lot of memory, so one process cleans one file at a time. Celery's
# prefork workers never contend for it; the in-process pipeline under
# the web server's threads (the embedded default) does, and waits its turn.
_ONE_FILE_AT_A_TIME = threading.Lock()


def attachment_process(*, attachment_id: int) -> None:
    attachment = Attachment.objects.select_related("tip").filter(pk=attachment_id).first()
    if attachment is None:
        return  # the tip was deleted meanwhile: nothing to do
    if attachment.state == Attachment.State.RECEIVED:
        _clean_and_store(attachment)
    _forget_raw_blob(attachment)
    tip_pipeline_finish(tip=attachment.tip)


def attachment_safe_copy_process(*, attachment_id: int) -> None:
    """Make a file's safe copy, then drop the pipeline's grant if the tip is now all done."""
    attachment_safe_copy_make(attachment_id=attachment_id)
    tip = Tip.objects.filter(attachments__pk=attachment_id).first()
    if tip is not None:
        tip_pipeline_finish(tip=tip)


def _record_clean_blob_name(attachment: Attachment) -> None:
    # Recorded before writing, so a retry rewrites the same blob instead of
    # leaving an orphan behind.
    attachment.attempts += 1
    if not attachment.clean_blob:
        attachment.clean_blob = new_blob_name(Part.CLEAN)
    attachment.save(update_fields=["attempts", "clean_blob"])


def _clean_and_store(attachment: Attachment) -> None:
    # Whichever pipeline key the grant is wrapped to by now: a rotation may have
    # moved it since the task was queued (KeyringError: the task retries).
    tip_key = pipeline_tip_key_open(tip=attachment.tip)
    _record_clean_blob_name(attachment)
    try:
        report, stored_size = _sanitize_into_clean_blob(attachment, tip_key)
    except DecryptionError:
        # The raw blob does not authenticate: tampered or cut off at rest.
        logger.warning("an upload failed authentication and was discarded")
        _mark_failed(attachment)
        return
    with _ONE_FILE_AT_A_TIME:  # decoding changes the same process-wide state as cleaning
        attachment_thumbnail_store(attachment=attachment, tip_key=tip_key, report=report)
    # The thumbnail name (or its absence) is saved with the ``done`` state, in one
    # transaction: an editor never sees a ``done`` file pointing at a blob still being written.
    _mark_done(attachment, tip_key=tip_key, report=report, stored_size=stored_size)


def _sanitize_into_clean_blob(attachment: Attachment, tip_key: bytes) -> tuple[Report, int]:
    with (
        attachment_blob_open(attachment, Part.RAW, tip_key=tip_key) as raw,
        # Left unfinished if cleaning raises: a cut-off blob never reads as complete.
        attachment_blob_write(attachment, Part.CLEAN, tip_key=tip_key) as clean,
        _ONE_FILE_AT_A_TIME,
    ):
        report = sanitize(raw, clean.writer, scratch_factory=EncryptedScratchFile)
    return report, clean.plaintext_size


@transaction.atomic
def _mark_done(attachment: Attachment, *, tip_key: bytes, report: Report, stored_size: int) -> None:
    attachment.state = Attachment.State.DONE
    attachment.stored_size = stored_size
    attachment.mime_type = report.mime[:100]
    attachment.sanitize_status = str(report.status)
    attachment_report_seal(attachment, report, tip_key=tip_key)
    if settings.TIPLINE_SAFE_COPIES and safe_copy_kind(report) is not None:
        # Made by a task of its own, so a slow conversion does not hold the cleaning;
        # the pipeline's grant stays until it is over (tip_pipeline_finish).
        attachment.safe_copy = Attachment.SafeCopy.PENDING
        _enqueue_safe_copy_on_commit(attachment.pk)
    attachment.save()


def _enqueue_safe_copy_on_commit(attachment_id: int) -> None:
    from tipline.worker.tasks import make_safe_copy

    if settings.CELERY_TASK_ALWAYS_EAGER:
        # No broker: not in the request that sent the file (tipline/worker/background.py).
        transaction.on_commit(lambda: run_in_background(make_safe_copy, attachment_id), robust=True)
        return
    transaction.on_commit(lambda: make_safe_copy.delay(attachment_id), robust=True)


def _mark_failed(attachment: Attachment) -> None:
    # Forgotten, not deleted now: a stored copy's folder would date this moment
    # (tipline/storage.py blob_forget; its batch deletes it).
    blob_forget(attachment.clean_blob)
    attachment_thumbnail_forget(attachment)  # one an earlier attempt may have written
    attachment.state = Attachment.State.FAILED
    attachment.clean_blob = ""
    attachment.save(update_fields=["state", "clean_blob", "thumbnail_blob"])


def _forget_raw_blob(attachment: Attachment) -> None:
    # Still in the spool (deleted there) unless a batch came first (then its
    # stored copy goes with the next batch): either way this moment is not dated.
    if attachment.raw_blob and blob_forget(attachment.raw_blob):
        attachment.raw_blob = ""
        attachment.save(update_fields=["raw_blob"])


@transaction.atomic
def tip_pipeline_finish(*, tip: Tip) -> bool:
    """Drop the pipeline's grant once every file of the tip is processed, safe copies included."""
    Tip.objects.select_for_update().filter(pk=tip.pk).first()
    if tip.attachments.filter(
        Q(state=Attachment.State.RECEIVED) | Q(safe_copy=Attachment.SafeCopy.PENDING)
    ).exists():
        return False
    Grant.objects.filter(tip=tip, recipient__kind=RecipientKey.Kind.PIPELINE).delete()
    return True
