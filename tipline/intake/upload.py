"""Upload handlers: a tip's files are encrypted chunk by chunk as they arrive.

Django's default handlers keep an upload in memory or in a plaintext temp
file. The tip line never lets them run: the project default refuses files, and
the source form installs ``EncryptingUploadHandler``, which streams each file
through the encrypting writer straight into a raw blob in the configured
storage. Memory stays at one chunk whatever the file's size.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.files.uploadhandler import FileUploadHandler, SkipFile, StopUpload

from tipline.crypto import new_tip_key
from tipline.intake.reserve import CHECK_EVERY_BYTES, storage_reserve_short
from tipline.sanitize import cleanable_by_head
from tipline.sanitize.sniff import HEAD
from tipline.sealed import BlobWriter, new_file_blob
from tipline.storage import blob_forget

FILES_FIELD = "files"


class RefuseUploadHandler(FileUploadHandler):
    """The project-wide default: any file sent to a view not built for it is dropped unread."""

    def new_file(self, *args, **kwargs) -> None:
        raise SkipFile()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        return None

    def file_complete(self, file_size: int) -> None:
        return None


@dataclass
class EncryptedUpload:
    """What request.FILES holds for a tip's file: where its ciphertext went, never its bytes."""

    name: str
    size: int
    key_id: uuid.UUID
    blob: str
    # Sent ahead in pieces by the page's script (tipline/intake/resumable.py):
    # its pending row goes in the tip's transaction.
    pending: bool = False
    # Known from its first bytes while it arrived: False when no cleaner takes
    # its kind, so the confirmation can warn before the worker has seen it.
    # None: not known (sent ahead, or the first bytes do not say).
    cleanable: bool | None = None

    def close(self) -> None:
        """Django's parser closes every received file when a later part fails; nothing is open."""
        return None


class UploadRefused(Exception):
    """Why an upload stopped; ``code`` picks the message the source reads."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class EncryptingUploadHandler(FileUploadHandler):
    """Encrypts every file of one tip under a fresh tip key as the bytes arrive."""

    chunk_size = 256 * 1024

    def __init__(self, request=None) -> None:
        super().__init__(request)
        self.tip_key = new_tip_key()
        self.tip_key_id = uuid.uuid4()
        self.uploads: list[EncryptedUpload] = []
        self.created_blobs: list[str] = []
        self.refusal: UploadRefused | None = None
        # Set once the tip's rows are committed; until then the blobs are discardable.
        self.committed = False
        self.total_bytes = 0
        self._writer: BlobWriter | None = None
        self._current: EncryptedUpload | None = None
        self._head = bytearray()

    def _refuse(self, code: str) -> None:
        self.refusal = UploadRefused(code)
        self._abort_current()
        # Read and drop the rest of the body, so the browser gets our answer.
        raise StopUpload(connection_reset=False)

    def new_file(self, field_name, file_name, *args, **kwargs) -> None:
        super().new_file(field_name, file_name, *args, **kwargs)
        if field_name != FILES_FIELD:
            raise SkipFile()
        if len(self.uploads) >= settings.TIPLINE_MAX_FILES:
            self._refuse("too_many_files")
        if storage_reserve_short():
            self._refuse("storage_full")
        key_id = uuid.uuid4()
        self._writer = new_file_blob(
            tip_key_id=self.tip_key_id, file_key_id=key_id, tip_key=self.tip_key
        )
        self.created_blobs.append(self._writer.name)
        self._current = EncryptedUpload(
            name=self.file_name or "", size=0, key_id=key_id, blob=self._writer.name
        )
        self._head.clear()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if self._writer is None or self._current is None:
            return None
        self._current.size += len(raw_data)
        self.total_bytes += len(raw_data)
        if self._current.size > settings.TIPLINE_MAX_FILE_BYTES:
            self._refuse("file_too_large")
        if self.total_bytes > settings.TIPLINE_MAX_TIP_BYTES:
            self._refuse("tip_too_large")
        # The disk again every few megabytes: other uploads are filling it too.
        before = self.total_bytes - len(raw_data)
        if before // CHECK_EVERY_BYTES < self.total_bytes // CHECK_EVERY_BYTES:
            if storage_reserve_short():
                self._refuse("storage_full")
        self._keep_head(raw_data)
        self._writer.write(raw_data)
        return None

    def _keep_head(self, raw_data: bytes) -> None:
        # The first few KiB stay in memory until the file is complete (never on disk).
        if len(self._head) < HEAD:
            self._head += raw_data[: HEAD - len(self._head)]

    # Django's parser puts whatever this returns in request.FILES and only ever
    # calls close() on it; django-stubs says UploadedFile, which would hold the bytes.
    def file_complete(self, file_size: int) -> EncryptedUpload | None:  # type: ignore[override]
        if self._writer is None or self._current is None:
            return None
        self._writer.close()
        upload = self._current
        upload.cleanable = cleanable_by_head(bytes(self._head))
        self._head.clear()
        self.uploads.append(upload)
        self._writer = self._current = None
        return upload

    def upload_interrupted(self) -> None:
        self._abort_current()

    def _abort_current(self) -> None:
        if self._writer is not None:
            self._writer.abort()
        self._writer = self._current = None

    def take_claimed(
        self, *, tip_key_id: uuid.UUID, tip_key: bytes, uploads: list[EncryptedUpload]
    ) -> None:
        """The files arrived ahead of the form (tipline/intake/resumable.py), under their
        own tip key: the tip is theirs. Only when this request's body brought no file."""
        if self.uploads or self.created_blobs:
            raise SuspiciousOperation("files in the form and sent ahead: no page sends both")
        self.tip_key_id, self.tip_key, self.uploads = tip_key_id, tip_key, list(uploads)

    def discard(self) -> None:
        """Delete every blob this request created: nothing partial is kept.

        Forgotten rather than deleted at once: a blob a batch already stored
        (the first file of a long upload) goes with the next batch, so its
        folder does not date this request.
        """
        self._abort_current()
        for blob in self.created_blobs:
            blob_forget(blob)
        self.created_blobs.clear()
        self.uploads.clear()
