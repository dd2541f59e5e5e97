"""Creating a tip: rows, encrypted content and grants in one transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tipline.audit import SYSTEM_ACTOR
from tipline.intake.resumable import pending_uploads_consume
from tipline.intake.upload import EncryptedUpload
from tipline.keyring import (
    active_pipeline_key,
    grants_create_for_new_tip,
    pipeline_key_ensure,
    tipline_is_open,
)
from tipline.models import Attachment, Tip
from tipline.report_text import report_lines
from tipline.sanitize import SanitizeStatus
from tipline.sealed import attachment_name_seal, attachment_report_open, tip_content_seal

logger = logging.getLogger(__name__)

CLEANED = (SanitizeStatus.CLEANED, SanitizeStatus.CLEANED_REENCODED)


class TiplineClosed(Exception):
    """No one could read a tip yet (no recovery key, or no active editor), or no
    worker could clean its files (no pipeline key): refuse it."""


def coarse_now() -> datetime:
    """Now, rounded down to the configured granularity (the day by default)."""
    hours = max(settings.TIPLINE_RECEIVED_GRANULARITY_HOURS, 1)
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    if hours >= 24:
        return now.replace(hour=0)
    return now - timedelta(hours=now.hour % hours)


def _ensure_pipeline_recipient() -> None:
    # With no broker the web process is the worker, so it may create the key;
    # a separate worker host must have run `manage.py init_pipeline_key`.
    # Without it no file could be cleaned: refuse politely, tell the operator.
    if active_pipeline_key() is not None:
        return
    if settings.CELERY_TASK_ALWAYS_EAGER:
        pipeline_key_ensure(actor=SYSTEM_ACTOR)
        return
    logger.error("files cannot be accepted: run `manage.py init_pipeline_key` on the worker host")
    raise TiplineClosed()


@transaction.atomic
def tip_create(
    *,
    tip_key_id: uuid.UUID,
    tip_key: bytes,
    note: str,
    links: Sequence[str],
    uploads: Sequence[EncryptedUpload],
    arrived_in_flood: bool,
) -> Tip:
    """Store a tip whose files are already encrypted blobs, and queue their processing.

    ``arrived_in_flood`` sets the tip apart in the inbox (tipline.intake.flood):
    every door that stores a tip decides it, so there is no default.
    """
    if not tipline_is_open():
        raise TiplineClosed()
    if uploads:
        _ensure_pipeline_recipient()
    # Files the page sent ahead (tipline/intake/resumable.py): their rows go with this transaction.
    pending_uploads_consume(uploads)
    received_on = coarse_now()
    tip = Tip(
        key_id=tip_key_id,
        received_on=received_on,
        status_changed_on=received_on.date(),
        file_count=len(uploads),
        arrived_in_flood=arrived_in_flood,
    )
    tip.content_sealed = tip_content_seal(tip=tip, tip_key=tip_key, note=note, links=links)
    tip.save()
    attachments = [
        _attachment_create(tip=tip, tip_key=tip_key, upload=upload, position=index)
        for index, upload in enumerate(uploads)
    ]
    grants_create_for_new_tip(tip=tip, tip_key=tip_key, include_pipeline=bool(uploads))
    for attachment in attachments:
        _enqueue_processing_on_commit(attachment.pk)
    return tip


def _attachment_create(
    *, tip: Tip, tip_key: bytes, upload: EncryptedUpload, position: int
) -> Attachment:
    attachment = Attachment(
        tip=tip,
        key_id=upload.key_id,
        position=position,
        received_size=upload.size,
        raw_blob=upload.blob,
    )
    attachment_name_seal(attachment, upload.name, tip_key=tip_key)
    attachment.save()
    return attachment


def _enqueue_processing_on_commit(attachment_id: int) -> None:
    from tipline.worker.tasks import process_attachment

    # robust: a broker hiccup must not turn a stored tip into an error page.
    transaction.on_commit(lambda: process_attachment.delay(attachment_id), robust=True)


def received_files_summary(
    *, tip: Tip, tip_key: bytes, uploads: Sequence[EncryptedUpload]
) -> list[dict]:
    """Each file's size and, once it is cleaned, what was removed from it.

    With the in-process pipeline the files are already cleaned when the
    confirmation renders; with a separate worker they usually are not, and a
    file is then said to be kept as sent when its first bytes showed a kind no
    cleaner takes (``EncryptedUpload.cleanable``, known as it arrived).
    """
    summary = []
    attachments = tip.attachments.order_by("position")
    for attachment, upload in zip(attachments, uploads, strict=True):
        report = None
        if attachment.state == Attachment.State.DONE:
            report = attachment_report_open(attachment, tip_key=tip_key)
        kept_as_sent = (
            report.status not in CLEANED if report is not None else upload.cleanable is False
        )
        summary.append(
            {
                "size": attachment.received_size,
                "report": report_lines(report),
                # Stored as sent, hidden information and all: the page warns above the list.
                "kept_as_sent": kept_as_sent,
            }
        )
    return summary
