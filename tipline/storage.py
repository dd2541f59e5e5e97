"""Encrypted blobs in the configured storage, through Django's storage API only.

The same calls run on the local file system and on S3 (django-storages): the
pipeline never learns which. Blobs hold only ciphertext; their names are random
and say nothing about the tip.
"""

from __future__ import annotations

import logging
import os
import secrets
from typing import BinaryIO

from django.core.files import File
from django.core.files.storage import FileSystemStorage, default_storage

logger = logging.getLogger(__name__)


class DurableFile(File):
    """A blob being written that reaches the disk before ``close`` returns.

    The source is told "your tip has arrived" only after its blobs are closed:
    a crash a moment later must not lose what we said we had.
    """

    def close(self) -> None:
        if not self.closed:
            self.file.flush()
            os.fsync(self.file.fileno())
        super().close()


class BlobFileSystemStorage(FileSystemStorage):
    """File-system storage that can also open a new blob for streaming writes.

    Django's ``FileSystemStorage.open(name, "wb")`` does not create the parent
    folders and would follow a symbolic link; blobs are created mode 0600 and
    never through a link. Writing an existing name replaces it, as on S3, so a
    retried pipeline step can rewrite the blob it had started.
    """

    def open(self, name: str, mode: str = "rb") -> File:
        if "w" not in mode:
            return super().open(name, mode)
        path = self.path(name)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        return DurableFile(os.fdopen(fd, "wb"), name=name)


def new_blob_name(kind: str) -> str:
    """A fresh random blob name, fanned out into folders: ``raw/ab/<random>``."""
    token = secrets.token_hex(16)
    return f"{kind}/{token[:2]}/{token}"


def open_blob_for_write(name: str) -> File:
    return default_storage.open(name, "wb")


def open_blob_for_read(name: str) -> File:
    return default_storage.open(name, "rb")


def read_blob(name: str) -> bytes:
    with open_blob_for_read(name) as handle:
        return handle.read()


def write_blob(name: str, data: bytes) -> None:
    with open_blob_for_write(name) as handle:
        handle.write(data)


def delete_blob(name: str) -> bool:
    """Delete a blob if it exists; ``False`` (logged, no name) when the storage refused."""
    if not name:
        return True
    try:
        default_storage.delete(name)
    except Exception:  # noqa: BLE001 - any backend error: the caller retries later
        logger.warning("a blob could not be deleted; it will be retried")
        return False
    return True


def blob_exists(name: str) -> bool:
    return bool(name) and default_storage.exists(name)


def copy_stream(source: BinaryIO, sink: BinaryIO, chunk_size: int = 1024 * 1024) -> int:
    """Copy in fixed-size pieces, so memory does not grow with the file."""
    copied = 0
    while True:
        piece = source.read(chunk_size)
        if not piece:
            return copied
        sink.write(piece)
        copied += len(piece)
