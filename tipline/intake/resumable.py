"""Large files that survive a broken connection: pending uploads, their spool files, the claim.

A 500 MB video over Tor takes an hour; a circuit that breaks at 90 % must not
send the source back to zero. With JavaScript, the page sends each file in
pieces (tus, ``tipline/intake/tus.py``) before it posts the form; this module
is everything behind that protocol that is not HTTP.

What is at rest while a file arrives, and why none of it is readable:

- a ``PendingUpload`` row: a random token (the upload's URL), the tip key and
  file key ids, the tip key **sealed under a secret only the source's open
  page holds** (32 random bytes, sent with every request, never stored), the
  file's name sealed under that tip key, the declared length, the offset
  durably written, a coarse day and a keyed hash binding it to its form;
- a spool file (``DATA_DIR/spool/uploads/<file key id>``, folders 0700, file
  0600): the raw blob's encrypted stream, written as the bytes arrive, header
  first, then whole chunks. Plaintext exists only in memory, one chunk at most.

The confirmed offset only ever counts whole chunks that are on disk (fsync'd):
a connection dropped mid-chunk loses that chunk's partial bytes and nothing
else, and the next request cuts the spool file back to its header and the
confirmed chunks and continues the stream (``EncryptingWriter.resume``), so
the finished file is exactly the stream one writer would have made. When the
last byte arrives the final chunk is written and the file is handed to the
storage as the attachment's raw blob (a rename on the local storage).

The form's POST then lists the upload tokens and the page's secret:
``pending_uploads_claim`` opens the tip key, checks that every upload is
complete and belongs to this form, and returns what ``tip_create`` needs;
``tip_create`` deletes the rows in the tip's own transaction. A source who
closes the page loses the partial file: nobody can open it any more, and the
daily sweep deletes rows and spool files older than
``TIPLINE_ABANDONED_UPLOAD_HOURS``.

All files of one form share one tip key: a second upload for the same form is
created only by the holder of the same secret (it must open the first one's
sealed tip key).
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hmac
import logging
import os
import secrets
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, cast

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from tipline.crypto import (
    DEFAULT_CHUNK_SIZE,
    STREAM_HEADER_LEN,
    CryptoError,
    DecryptionError,
    EncryptingWriter,
    new_tip_key,
    stream_prefix_length,
)
from tipline.intake.form_token import form_token_read
from tipline.intake.reserve import MIB, storage_reserve_short
from tipline.intake.upload import EncryptedUpload
from tipline.models import PendingUpload
from tipline.private_files import WritebackPacer, private_dir_ensure, private_file_create
from tipline.sealed import (
    pending_name_open,
    pending_name_seal,
    pending_stream_resume,
    pending_stream_start,
    pending_tip_key_open,
    pending_tip_key_seal,
)
from tipline.storage import blob_adopt_file, blob_exists, delete_blob, new_blob_name

logger = logging.getLogger(__name__)

# The spool's stream uses the default chunk size; offsets are counted in it.
CHUNK_SIZE = DEFAULT_CHUNK_SIZE
SECRET_BYTES = 32
# The form's fields when the page's script sent the files ahead: one ``upload``
# per file (its token), the page's secret and the page's random form id.
UPLOAD_FIELD = "upload"
SECRET_FIELD = "upload_secret"  # noqa: S105 - a field name
FORM_ID_FIELD = "upload_form"
# 256 random bits in the URL: the token is a capability, but opens nothing alone.
_TOKEN_BYTES = 32
_FORM_ID_CHARS = (16, 64)
_MAX_NAME_BYTES = 1024
_BINDING_SALT = "tipline.intake.resumable.form-binding"
_VISIT_BINDING_SALT = "tipline.intake.resumable.visit-binding"
# Seconds between attempts to hand a finished file to the storage.
_HAND_OVER_PAUSES = (1.0, 4.0)


class UploadError(Exception):
    """A refused upload request; ``status`` is the tus answer."""

    status = 400


class UploadNotFound(UploadError):
    status = 404


class UploadForbidden(UploadError):
    status = 403


class UploadTooLarge(UploadError):
    status = 413


class OffsetMismatch(UploadError):
    status = 409


class UploadBusy(UploadError):
    """Another process still writes this upload (its connection has not ended yet)."""

    status = 423


class UploadBroken(UploadError):
    """The spool file does not hold what the row says: the upload cannot continue."""

    status = 410


class UploadClaimRefused(SuspiciousOperation):
    """The form's POST named uploads it cannot have: missing, unfinished, another form's.

    A ``SuspiciousOperation``: the submit view answers it as a broken upload
    wherever it is raised, ``tip_create``'s transaction included.
    """


# --- Inputs -------------------------------------------------------------------------------------


def secret_parse(value: str) -> bytes | None:
    """The page's secret from its base64url header value, or None if malformed."""
    if not value or len(value) > 64:
        return None
    try:
        secret = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None
    return secret if len(secret) == SECRET_BYTES else None


def form_binding_of(*, form_token: str, form_id: str) -> str | None:
    """A keyed hash of the form's identity, or None if the form is not genuine.

    The identity is the single-use form token's nonce (``form_token``, signed by
    the server, so only a form the landing page served) together with a random
    id the page makes when it loads (``form_id``): a form shown again after a
    refused POST keeps its token but is a new page with a new secret, whose
    uploads must not be taken for the earlier page's. Keyed with the server's
    secret key, so a database dump cannot match a row to a form token.
    """
    token = form_token_read(form_token)
    low, high = _FORM_ID_CHARS
    if token is None or not low <= len(form_id) <= high or not _is_base64url(form_id):
        return None
    identity = f"{token.nonce}:{form_id}"
    return salted_hmac(_BINDING_SALT, identity, algorithm="sha256").hexdigest()


def visit_binding_of(*, visit_tag: str, form_id: str) -> str | None:
    """A keyed hash binding uploads to one source visit's page (files sent later).

    ``visit_tag`` names the visit (tipline/conversation/visit.py
    ``visit_tag_of``: from the cookie, which only the source's browser holds);
    ``form_id`` is the page's random id, as for a new tip's form. Another salt
    than ``form_binding_of``: a visit's binding never equals a form's.
    """
    low, high = _FORM_ID_CHARS
    if not visit_tag or not low <= len(form_id) <= high or not _is_base64url(form_id):
        return None
    identity = f"visit:{visit_tag}:{form_id}"
    return salted_hmac(_VISIT_BINDING_SALT, identity, algorithm="sha256").hexdigest()


def _is_base64url(value: str) -> bool:
    return all(c.isascii() and (c.isalnum() or c in "-_") for c in value)


def is_token(value: str) -> bool:
    return 40 <= len(value) <= 64 and _is_base64url(value)


# --- The spool ----------------------------------------------------------------------------------


def spool_dir() -> Path:
    """``DATA_DIR/spool/uploads``, both folders 0700."""
    spool = private_dir_ensure(Path(settings.DATA_DIR) / "spool")
    return private_dir_ensure(spool / "uploads")


def spool_path(pending: PendingUpload) -> Path:
    return spool_dir() / pending.file_key_id.hex


def spool_room_short(incoming: int = 0) -> bool:
    """True when ``incoming`` more bytes would leave less than the storage reserve free.

    Both disks count: the spool's (the data dir) and the blob storage's
    (tipline/intake/reserve.py), which are the same one by default.
    """
    reserve = settings.TIPLINE_STORAGE_RESERVE_MB * MIB
    if reserve <= 0:
        return False
    if shutil.disk_usage(spool_dir()).free - incoming < reserve:
        return True
    return storage_reserve_short(incoming)


def _coarsen_times(descriptor: int) -> None:
    # The disk must not date an upload more precisely than the day (as blobs).
    midnight = int(timezone.now().timestamp()) // 86400 * 86400
    os.utime(descriptor, (midnight, midnight))


def _sync(descriptor: int) -> None:
    _coarsen_times(descriptor)
    os.fsync(descriptor)


class SpoolStream:
    """One request's exclusive hold on a pending upload's spool file.

    Opening takes an ``flock`` on the file (``UploadBusy`` if another process
    holds it: two requests never write one upload at once). The caller then
    reads the confirmed offset again (only now is it final) and calls
    ``resume``, which cuts the file back to its header and the confirmed chunks
    and checks the last of them under the tip key (``UploadBroken`` if it does
    not open there). ``write`` encrypts as the bytes come (small writes, fine on
    an event loop); ``checkpoint`` writes out whole chunks and returns the
    offset they reach, which counts once ``sync`` (fsync, off the event loop)
    has returned. A partial chunk is dropped by ``close``.
    """

    def __init__(self, pending: PendingUpload) -> None:
        try:
            fd = os.open(spool_path(pending), os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            raise UploadBroken("the spool file is gone") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UploadBusy("another request writes this upload") from None
        self._file = os.fdopen(fd, "r+b", buffering=0)
        self._writeback: WritebackPacer | None = None
        self._writer: EncryptingWriter | None = None
        self.length = pending.length
        self.position = 0

    def resume(self, pending: PendingUpload, *, tip_key: bytes) -> None:
        """Continue after ``pending.offset`` (read again after the lock was taken)."""
        fd = self._file.fileno()
        chunks = pending.offset // CHUNK_SIZE
        keep = stream_prefix_length(CHUNK_SIZE, chunks)
        if os.fstat(fd).st_size < keep:
            raise UploadBroken("the spool file holds less than was confirmed")
        os.ftruncate(fd, keep)
        header = os.pread(fd, STREAM_HEADER_LEN, 0)
        last = None
        if chunks:
            start = stream_prefix_length(CHUNK_SIZE, chunks - 1)
            last = os.pread(fd, keep - start, start)
        self._file.seek(keep)
        self._writeback = WritebackPacer(fd, start=keep)
        try:
            self._writer = pending_stream_resume(
                cast(BinaryIO, self._file),
                pending,
                tip_key=tip_key,
                header=header,
                chunks_written=chunks,
                last_chunk=last,
            )
        except (DecryptionError, CryptoError):
            raise UploadBroken("the spool file does not continue under this key") from None
        self.position = chunks * CHUNK_SIZE

    @property
    def writer(self) -> EncryptingWriter:
        if self._writer is None:
            raise RuntimeError("resume() first")
        return self._writer

    def write(self, data: bytes) -> None:
        self.writer.write(data)
        self.position += len(data)
        if self._writeback is not None:
            # Plaintext counted: the ciphertext runs a little ahead of it, and
            # whatever the pacing leaves is written by the next sync.
            self._writeback.wrote(len(data))

    def checkpoint(self) -> int:
        """Write out whole chunks (more bytes must follow); the offset they reach."""
        return self.writer.checkpoint() * CHUNK_SIZE

    def sync(self) -> None:
        _sync(self._file.fileno())

    def finish(self) -> None:
        """Write the final chunk and make the stream durable (off the event loop)."""
        self.writer.close()
        self.sync()

    def close(self) -> None:
        """Drop any partial chunk and let the file go (the lock goes with it)."""
        if self._writer is not None:
            self._writer.abort()
        self._file.close()


# --- Creation and the requests that follow -------------------------------------------------------


def _coarse_day() -> datetime:
    return timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class FixedKey:
    """The key a visit's uploads go under: the conversation key, with the tip's key id
    (tipline/intake/later_files.py); a new tip's uploads get a fresh tip key instead."""

    tip_key_id: uuid.UUID
    key: bytes


def pending_upload_create(
    *,
    secret: bytes,
    form_binding: str,
    name: str,
    length: int,
    fixed_key: FixedKey | None = None,
) -> PendingUpload:
    """A new pending upload of ``length`` bytes for this form, with its spool file started."""
    if length > settings.TIPLINE_MAX_FILE_BYTES:
        raise UploadTooLarge("over the size limit of one file")
    if len(name.encode("utf-8", "replace")) > _MAX_NAME_BYTES:
        raise UploadError("the file name is too long")
    pending, tip_key = _pending_row_create(
        secret=secret, form_binding=form_binding, name=name, length=length, fixed_key=fixed_key
    )
    try:
        _spool_start(pending, tip_key=tip_key)
    except BaseException:
        PendingUpload.objects.filter(pk=pending.pk).delete()
        _spool_delete(pending)
        raise
    return pending


@transaction.atomic
def _pending_row_create(
    *, secret: bytes, form_binding: str, name: str, length: int, fixed_key: FixedKey | None
) -> tuple[PendingUpload, bytes]:
    siblings = list(
        PendingUpload.objects.select_for_update().filter(form_binding=form_binding).order_by("pk")
    )
    if siblings:
        # Only the page that made the form's first upload can add to its tip.
        tip_key = _tip_key_open(siblings[0], secret=secret)
        tip_key_id = siblings[0].tip_key_id
        if fixed_key is not None and (
            tip_key_id != fixed_key.tip_key_id or not hmac.compare_digest(tip_key, fixed_key.key)
        ):
            raise UploadForbidden("the page's earlier uploads are under another key")
    elif fixed_key is not None:
        tip_key, tip_key_id = fixed_key.key, fixed_key.tip_key_id
    else:
        tip_key, tip_key_id = new_tip_key(), uuid.uuid4()
    if len(siblings) >= settings.TIPLINE_MAX_FILES:
        raise UploadTooLarge("too many files for one tip")
    if sum(s.length for s in siblings) + length > settings.TIPLINE_MAX_TIP_BYTES:
        raise UploadTooLarge("over the size limit of one tip")
    pending = PendingUpload(
        token=secrets.token_urlsafe(_TOKEN_BYTES),
        tip_key_id=tip_key_id,
        file_key_id=uuid.uuid4(),
        form_binding=form_binding,
        length=length,
        created_on=_coarse_day().date(),
    )
    pending.tip_key_sealed = pending_tip_key_seal(
        secret=secret, tip_key=tip_key, form_binding=form_binding, tip_key_id=tip_key_id
    )
    pending.name_sealed = pending_name_seal(
        tip_key_id=tip_key_id, file_key_id=pending.file_key_id, name=name, tip_key=tip_key
    )
    pending.save()
    return pending, tip_key


def _tip_key_open(pending: PendingUpload, *, secret: bytes) -> bytes:
    try:
        return pending_tip_key_open(pending, secret=secret)
    except (DecryptionError, CryptoError):
        raise UploadForbidden("not the secret of the page that made this upload") from None


def _spool_start(pending: PendingUpload, *, tip_key: bytes) -> None:
    """The spool file with the stream's header; an empty file is finished at once."""
    with os.fdopen(private_file_create(spool_path(pending)), "wb", buffering=0) as spool:
        writer = pending_stream_start(cast(BinaryIO, spool), pending, tip_key=tip_key)
        if pending.length == 0:
            writer.close()
        else:
            writer.abort()  # the header only: chunks follow with the requests
        _sync(spool.fileno())
    if pending.length == 0:
        pending_upload_finished(pending=pending)
        pending_upload_hand_over(pending)


def pending_upload_open(*, token: str, secret: bytes) -> tuple[PendingUpload, bytes]:
    """The pending upload and its tip key: ``UploadNotFound`` or ``UploadForbidden``."""
    pending = PendingUpload.objects.filter(token=token).first()
    if pending is None:
        raise UploadNotFound("no such upload")
    return pending, _tip_key_open(pending, secret=secret)


def pending_upload_refresh(pending: PendingUpload) -> PendingUpload:
    fresh = PendingUpload.objects.filter(pk=pending.pk).first()
    if fresh is None:
        raise UploadNotFound("the upload is gone")
    return fresh


def pending_upload_confirm(*, pending: PendingUpload, offset: int) -> None:
    """Record ``offset`` as durably written (after the spool file was synced)."""
    if offset > pending.offset:
        PendingUpload.objects.filter(pk=pending.pk, offset__lt=offset).update(offset=offset)
        pending.offset = offset


def pending_upload_finished(*, pending: PendingUpload) -> None:
    """The stream is complete and synced: record it, and the name its blob will have.

    Then ``pending_upload_hand_over`` moves the file (it needs no database, so
    it runs apart). The name is recorded before the file moves, so a crash in
    between leaves a row that the claim completes, never a blob no row names.
    """
    name = new_blob_name("raw")
    PendingUpload.objects.filter(pk=pending.pk).update(offset=pending.length, blob=name)
    pending.offset, pending.blob = pending.length, name


def pending_upload_hand_over(pending: PendingUpload) -> bool:
    """Move the finished spool file to the storage as its raw blob (no database access).

    A storage error is tried again twice, after a pause (S3 asks for exactly
    that on an internal error); False if it still fails: the claim tries again.
    """
    path = spool_path(pending)
    for pause in (*_HAND_OVER_PAUSES, None):
        try:
            blob_adopt_file(path, pending.blob)
        except FileNotFoundError:
            return blob_exists(pending.blob)  # moved already
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            logger.warning(
                "a finished upload could not be stored yet (%s %s)", type(exc).__name__, code
            )
            logger.debug("storing a finished upload failed", exc_info=True)
            if pause is None:
                return False
            time.sleep(pause)
        else:
            return True
    return False


# --- The claim by the form's POST ---------------------------------------------------------------


@dataclass
class ClaimedUploads:
    tip_key_id: uuid.UUID
    tip_key: bytes
    uploads: list[EncryptedUpload]  # each ``pending``: tip_create deletes its row


def pending_uploads_claim(
    *, tokens: Sequence[str], secret: str, form_binding: str | None
) -> ClaimedUploads:
    """What ``tip_create`` needs for these finished uploads of this form, their blobs stored.

    ``UploadClaimRefused`` unless every token names a finished upload of this
    form whose tip key opens with ``secret``, all under one tip key. The rows
    stay until ``tip_create`` deletes them (``pending_uploads_consume``).
    """
    tokens = list(tokens)
    page_secret = secret_parse(secret)
    if (
        page_secret is None
        or form_binding is None
        or not tokens
        or len(tokens) > settings.TIPLINE_MAX_FILES
        or len(set(tokens)) != len(tokens)
    ):
        raise UploadClaimRefused("malformed claim")
    rows = {p.token: p for p in PendingUpload.objects.filter(token__in=list(tokens))}
    if len(rows) != len(tokens):
        raise UploadClaimRefused("an upload is unknown")
    pendings = [rows[token] for token in tokens]
    if any(not hmac.compare_digest(p.form_binding, form_binding) for p in pendings):
        raise UploadClaimRefused("an upload belongs to another form")
    if len({p.tip_key_id for p in pendings}) != 1:
        raise UploadClaimRefused("the uploads are not of one tip")
    if any(p.offset != p.length or not p.blob for p in pendings):
        raise UploadClaimRefused("an upload is not complete")
    if sum(p.length for p in pendings) > settings.TIPLINE_MAX_TIP_BYTES:
        raise UploadClaimRefused("over the size limit of one tip")
    try:
        tip_key = pending_tip_key_open(pendings[0], secret=page_secret)
        names = [pending_name_open(p, tip_key=tip_key) for p in pendings]
    except (DecryptionError, CryptoError):
        raise UploadClaimRefused("not the secret of the page that made these uploads") from None
    if not all(pending_upload_hand_over(p) for p in pendings):
        raise UploadClaimRefused("an upload could not be stored")
    uploads = [
        EncryptedUpload(name=name, size=p.length, key_id=p.file_key_id, blob=p.blob, pending=True)
        for p, name in zip(pendings, names, strict=True)
    ]
    return ClaimedUploads(tip_key_id=pendings[0].tip_key_id, tip_key=tip_key, uploads=uploads)


def pending_uploads_consume(uploads: Sequence[EncryptedUpload]) -> None:
    """Delete the rows of the claimed uploads, in the tip's transaction.

    ``UploadClaimRefused`` (the transaction then rolls back) if a row is gone:
    another submission took the uploads first, and only one tip may have them.
    """
    key_ids = {upload.key_id for upload in uploads if upload.pending}
    if not key_ids:
        return
    deleted, _ = PendingUpload.objects.filter(file_key_id__in=key_ids).delete()
    if deleted != len(key_ids):
        raise UploadClaimRefused("the uploads were claimed by another submission")


# --- The sweep ----------------------------------------------------------------------------------


def pending_uploads_sweep(*, cutoff: datetime) -> int:
    """Delete pending uploads older than ``cutoff``, their spool files and blobs; the count.

    A row's day is coarse: it counts as old only when even the end of its day
    is before the cutoff. Spool files that no row names (a crash between the
    row and the file) go too once they are as old.
    """
    last_day = (cutoff - timedelta(days=1)).date()
    deleted = 0
    for pending in PendingUpload.objects.filter(created_on__lte=last_day).order_by("pk"):
        # The row lets go first: a blob the storage then refuses is an orphan,
        # which the sweep of orphan blobs retries.
        if PendingUpload.objects.filter(pk=pending.pk).delete()[0]:
            deleted += 1
            _spool_delete(pending)
            if pending.blob:
                delete_blob(pending.blob)
    _orphan_spool_files_delete(cutoff=cutoff)
    return deleted


def _spool_delete(pending: PendingUpload) -> None:
    try:
        os.unlink(spool_path(pending))
    except FileNotFoundError:
        pass


def _orphan_spool_files_delete(*, cutoff: datetime) -> None:
    folder = spool_dir()
    known = {
        key.hex for key in PendingUpload.objects.values_list("file_key_id", flat=True).iterator()
    }
    for entry in os.scandir(folder):
        if entry.name in known or not entry.is_file(follow_symlinks=False):
            continue
        if entry.stat(follow_symlinks=False).st_mtime > cutoff.timestamp():
            continue
        try:
            os.unlink(entry.path)
        except FileNotFoundError:
            pass
