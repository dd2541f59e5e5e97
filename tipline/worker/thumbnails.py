"""The worker's thumbnail step: a small encrypted JPEG of a cleaned picture.

It is made from the clean blob, never from the raw upload, so nothing the
sanitizer removed can come back through it, and it is encrypted under its own
object id (see tipline/sealed.py), so it cannot be swapped with another
object's blob. The plaintext JPEG lives only in memory.

A thumbnail is a convenience: if one cannot be made, for whatever reason, the
file is kept without one and a content-free warning is logged.
"""

from __future__ import annotations

import logging

from tipline.models import Attachment
from tipline.sanitize import Report, SanitizeStatus, thumbnail_jpeg
from tipline.sealed import Part, attachment_blob_open, attachment_thumbnail_write
from tipline.storage import blob_forget, new_blob_name

logger = logging.getLogger(__name__)

THUMBNAIL_MAX_SIDE = 320
# Only pictures whose cleaned copy is what editors see: a damaged or
# not-sanitized file is stored as the original and must never be decoded for show.
SHOWN_STATUSES = {SanitizeStatus.CLEANED, SanitizeStatus.CLEANED_REENCODED}


def thumbnail_wanted(report: Report) -> bool:
    return report.status in SHOWN_STATUSES and report.mime.startswith("image/")


def attachment_thumbnail_store(*, attachment: Attachment, tip_key: bytes, report: Report) -> None:
    """Write the encrypted thumbnail and set ``attachment.thumbnail_blob`` (or clear it).

    The caller saves the field with the ``done`` state, in one transaction, and
    holds the pipeline's one-file lock (decoding changes warning filters).
    Never raises: a failure means no thumbnail, not a failed file.
    """
    try:
        jpeg = _thumbnail_of_clean_blob(attachment, tip_key) if thumbnail_wanted(report) else None
        if jpeg is not None:
            _write_thumbnail_blob(attachment, tip_key, jpeg)
            return
    except Exception as exc:  # noqa: BLE001 - a thumbnail must never fail the file
        logger.warning(
            "a thumbnail could not be made (%s); the file is kept without one", type(exc).__name__
        )
    attachment_thumbnail_forget(attachment)


def attachment_thumbnail_forget(attachment: Attachment) -> None:
    """Delete a thumbnail blob (one left by an earlier attempt, or a half-written one).

    The name is cleared on the instance only, for the caller's save. If the
    storage refuses, the name stays on the row so the blob is not orphaned:
    whoever deletes the attachment's blobs later deletes it then.
    """
    if attachment.thumbnail_blob and blob_forget(attachment.thumbnail_blob):
        attachment.thumbnail_blob = ""


def _thumbnail_of_clean_blob(attachment: Attachment, tip_key: bytes) -> bytes | None:
    with attachment_blob_open(attachment, Part.CLEAN, tip_key=tip_key) as clean:
        return thumbnail_jpeg(clean, max_side=THUMBNAIL_MAX_SIDE)


def _write_thumbnail_blob(attachment: Attachment, tip_key: bytes, jpeg: bytes) -> None:
    if not attachment.thumbnail_blob:
        # Recorded before writing, like the clean blob: a worker killed after
        # this point leaves the file ``received`` with this name, and the retry
        # rewrites the same blob instead of leaving an orphan behind.
        attachment.thumbnail_blob = new_blob_name(Part.THUMBNAIL)
        attachment.save(update_fields=["thumbnail_blob"])
    attachment_thumbnail_write(attachment, jpeg, tip_key=tip_key)
