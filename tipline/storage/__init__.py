"""Encrypted blobs in the configured storage, through Django's storage API only.

The same calls run on the local file system and on S3 (django-storages): the
pipeline never learns which. Blobs hold only ciphertext; their names are random
and say nothing about the tip.

Two things the storage API alone does not do are done here per backend:
deleting a blob on S3 removes *every version* of it (a versioned bucket keeps
old versions after a plain delete, and a purged tip must leave nothing), and
``stored_blobs`` lists what the storage holds, for the sweep of orphans.

**The spool** (docs/arrivals.md). Every blob is first written under the
storage's ``spool/`` prefix (``spool/<kind>-<32 hex>``), never at its name;
the batch (tipline/retention/settle.py) later copies it to its name as a new
object and deletes the spool copy, so the name's file or object is born, and
dated, with the batch, not with the tip. Rows always record the final name:
reading tries the spool copy first, then the final one (the batch copies
before it deletes, so one of them is always there). A deletion caused by an
arrival (``blob_forget``) removes the spool copy now and leaves a marker for
the batch to delete a final copy; ``delete_blob`` (purge, sweep) deletes both
at once.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, cast

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, default_storage

from tipline.private_files import folder_fsync, private_dir_ensure, private_file_create
from tipline.storage.local import (
    BlobFileSystemStorage,
    DurableFile,
    _local_blobs,
    _local_partials_delete,
    _local_settle,
    _local_spool_blobs,
    _local_spool_entries,
)
from tipline.storage.names import (
    BLOB_KINDS,
    PARTIAL_PREFIX,
    SPOOL_PREFIX,
    SpoolEntry,
    forget_marker_of,
    is_blob_name,
    new_blob_name,
    spool_name_of,
)
from tipline.storage.s3 import (
    _NOT_FOUND,
    S3_WRITE_PREFIXES,
    BlobDeleteError,
    InterruptedUploads,
    StoredBlob,
    _is_s3,
    _s3_blobs,
    _s3_delete_every_version,
    _s3_error_code,
    _s3_interrupted_uploads_abort,
    _s3_settle,
    _s3_spool_entries,
)

__all__ = [
    "BLOB_KINDS",
    "PARTIAL_PREFIX",
    "S3_WRITE_PREFIXES",
    "SPOOL_PREFIX",
    "BlobDeleteError",
    "BlobFileSystemStorage",
    "DurableFile",
    "InterruptedUploads",
    "SpoolEntry",
    "StoredBlob",
    "blob_adopt_file",
    "blob_exists",
    "blob_forget",
    "copy_stream",
    "delete_blob",
    "forget_marker_of",
    "interrupted_uploads_abort",
    "is_blob_name",
    "local_storage_root",
    "new_blob_name",
    "open_blob_for_read",
    "open_blob_for_write",
    "read_blob",
    "spool_entries",
    "spool_entry_settle",
    "spool_forget_settle",
    "spool_name_of",
    "spool_partials_delete",
    "storage_folders_prepare",
    "stored_blobs",
    "write_blob",
]

logger = logging.getLogger(__name__)


def open_blob_for_write(name: str) -> File:
    """A new blob always goes to the spool; its batch gives it its name (docs/arrivals.md)."""
    return default_storage.open(spool_name_of(name), "wb")


def open_blob_for_read(name: str) -> File:
    """The blob's spool copy while it waits for its batch, else the stored one.

    Spool first: a blob rewritten after its batch (a retried pipeline step)
    is newer there. A batch copies a blob before deleting its spool copy, so
    when the spool copy is gone the stored one is complete.
    """
    storage = default_storage
    try:
        return _open_existing(storage, spool_name_of(name))
    except FileNotFoundError:
        return _open_existing(storage, name)


def _open_existing(storage: Storage, name: str) -> File:
    handle = storage.open(name, "rb")
    if _is_s3(storage):
        from botocore.exceptions import ClientError

        # django-storages fetches the object at the first read: fetch it now, so
        # one a batch removed after the existence check reads as missing here.
        try:
            handle.file  # noqa: B018 - the property downloads
        except ClientError as exc:
            handle.close()
            if _s3_error_code(exc) in _NOT_FOUND:
                raise FileNotFoundError(name) from None
            raise
    return handle


def read_blob(name: str) -> bytes:
    with open_blob_for_read(name) as handle:
        return handle.read()


def write_blob(name: str, data: bytes) -> None:
    with open_blob_for_write(name) as handle:
        handle.write(data)


def delete_blob(name: str) -> bool:
    """Delete a blob now, every copy (spool, stored) and every version on S3.

    For the purge and the sweep, which run at fixed times; a deletion caused
    by an arrival goes through ``blob_forget``. ``True`` also when it was not
    there. ``False`` when the storage refused: logged without the name at
    WARNING (the random name at DEBUG only), and the caller retries later.
    """
    if not name:
        return True
    storage = default_storage
    try:
        # The spool copy first: a batch copying it meanwhile sees it vanish and
        # deletes its own copy (tipline/retention/settle.py).
        _delete_now(storage, spool_name_of(name), blind=False, also=(forget_marker_of(name),))
        _delete_now(storage, name)
    except Exception as exc:  # noqa: BLE001 - any backend error: the caller retries later
        logger.warning("a blob could not be deleted (%s); it will be retried", type(exc).__name__)
        logger.debug("blob not deleted: %s", name)
        return False
    return True


def blob_forget(name: str) -> bool:
    """Delete a blob because of an arrival (cleaned, refused, replaced) without dating it.

    Its spool copy (where it still is unless a batch has passed) is deleted
    now: the spool says when things arrive anyway, until the batch. A stored
    copy is left to the next batch, through a marker: deleting it now would
    date this moment in its folder's times (or the bucket's log). ``False``
    when the storage refused, as for ``delete_blob``.
    """
    if not name:
        return True
    storage = default_storage
    try:
        _delete_now(storage, spool_name_of(name), blind=False)
        if storage.exists(name):
            _marker_write(storage, forget_marker_of(name))
    except Exception as exc:  # noqa: BLE001 - any backend error: the caller retries later
        logger.warning("a blob could not be deleted (%s); it will be retried", type(exc).__name__)
        logger.debug("blob not forgotten: %s", name)
        return False
    return True


def _delete_now(
    storage: Storage, name: str, *, blind: bool = True, also: tuple[str, ...] = ()
) -> bool:
    """Delete one object or file now (and those named ``also``, whose names begin
    with its own); whether any was there (S3: every version, in one listing).

    ``blind``: on an S3 server that cannot list versions, send the DELETE
    without asking first (the stored copy, as always); else ask (HEAD) first.
    """
    if _is_s3(storage):
        return _s3_delete_every_version(storage, name, blind=blind, also=also)
    existed = False
    for each in (name, *also):
        try:
            os.unlink(storage.path(each))
        except FileNotFoundError:
            continue
        existed = True
    return existed


def _marker_write(storage: Storage, name: str) -> None:
    if _is_s3(storage):
        storage.save(name, ContentFile(b""))
        return
    path = Path(storage.path(name))
    private_dir_ensure(path.parent)
    os.close(private_file_create(path, replace=True))


def blob_exists(name: str) -> bool:
    """Whether the blob is stored, in the spool or under its name."""
    if not name:
        return False
    storage = default_storage
    return storage.exists(spool_name_of(name)) or storage.exists(name)


# --- Listing and the sweep --------------------------------------------------------------------


def stored_blobs() -> Iterator[StoredBlob]:
    """Every blob the storage holds (blob-shaped names only), in no particular order.

    A blob waiting in the spool is listed under its name, with the time it
    arrived there: the sweep then treats it as any other blob (one a row names,
    or one newer than the limit, is left alone). A blob both in the spool and
    stored (rewritten after its batch) is listed twice.
    """
    storage = default_storage
    if _is_s3(storage):
        yield from _s3_blobs(storage)
    elif isinstance(storage, FileSystemStorage):
        yield from _local_blobs(Path(storage.location))
        yield from _local_spool_blobs(Path(storage.location))
    else:  # pragma: no cover - the settings allow only the two above
        raise NotImplementedError(f"cannot list {type(storage).__name__}")


def interrupted_uploads_abort(*, started_before: datetime) -> InterruptedUploads:
    """Abort the unfinished multipart uploads of blobs begun before ``started_before``.

    Only keys of a blob's shape (or its spool copy's), under the tip line's
    prefixes: nothing else in a shared bucket is touched. Nothing to do off S3,
    or on a server that does not list multipart uploads.
    """
    storage = default_storage
    if not _is_s3(storage):
        return InterruptedUploads()
    return _s3_interrupted_uploads_abort(storage, started_before=started_before)


def blob_adopt_file(path: Path, name: str) -> None:
    """Store the finished ciphertext file at ``path`` as the blob ``name`` (a new one).

    Into the spool, like every new blob: its batch makes the stored copy, a
    new file (docs/arrivals.md). The file is gone afterwards. On the local
    storage it is moved (one rename on the same file system, no copy);
    elsewhere its ciphertext is copied in pieces (streamed to S3) and the file
    deleted. ``FileNotFoundError`` if there is no file at ``path``.
    """
    spool = spool_name_of(name)  # ValueError for anything but a blob name
    storage = default_storage
    if isinstance(storage, FileSystemStorage) and not _is_s3(storage):
        target = Path(storage.path(spool))
        private_dir_ensure(target.parent)
        try:
            os.replace(path, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
        else:
            folder_fsync(target.parent)
            return
    with open(path, "rb") as source, open_blob_for_write(name) as sink:
        copy_stream(source, cast(BinaryIO, sink))
    os.unlink(path)


def copy_stream(source: BinaryIO, sink: BinaryIO, chunk_size: int = 1024 * 1024) -> int:
    """Copy in fixed-size pieces, so memory does not grow with the file."""
    copied = 0
    while True:
        piece = source.read(chunk_size)
        if not piece:
            return copied
        sink.write(piece)
        copied += len(piece)


# --- The spool: what the batch takes (tipline/retention/settle.py) ----------------------------


def local_storage_root() -> Path | None:
    """The local storage's folder, or None on S3."""
    storage = default_storage
    if isinstance(storage, FileSystemStorage) and not _is_s3(storage):
        return Path(storage.location)
    return None


def storage_folders_prepare() -> None:
    """Make the local storage's folders before any tip does (their birth would date it)."""
    root = local_storage_root()
    if root is not None:
        for folder in (SPOOL_PREFIX, *BLOB_KINDS):
            private_dir_ensure(root / folder)


def spool_entries() -> list[SpoolEntry]:
    """What waits in the spool: blobs and markers, in no particular order."""
    storage = default_storage
    if _is_s3(storage):
        return list(_s3_spool_entries(storage))
    root = local_storage_root()
    return list(_local_spool_entries(root)) if root is not None else []


def spool_entry_settle(entry: SpoolEntry) -> bool:
    """Copy one waiting blob to its name as a new object, then delete its spool copy.

    ``False`` when the spool copy went meanwhile (a purge, a forgotten blob):
    then the copy just made is deleted too. Safe to cut off anywhere: until
    the spool copy is deleted, a reader takes it, and the next batch copies
    it again over whatever this one left.
    """
    storage = default_storage
    if _is_s3(storage):
        return _s3_settle(storage, entry.name)
    root = local_storage_root()
    if root is None:  # pragma: no cover - the settings allow only the two storages
        raise NotImplementedError(type(storage).__name__)
    return _local_settle(root, entry.name)


def spool_forget_settle(entry: SpoolEntry) -> None:
    """Delete the stored copy a marker names, then the marker."""
    storage = default_storage
    _delete_now(storage, entry.name)
    _delete_now(storage, forget_marker_of(entry.name), blind=False)


def spool_partials_delete(*, older_than: datetime) -> int:
    """Delete files a killed process left half-written in the local spool; how many."""
    root = local_storage_root()
    if root is None:
        return 0  # S3: an upload cut off is an unfinished multipart upload (the sweep's)
    return _local_partials_delete(root, older_than=older_than)
