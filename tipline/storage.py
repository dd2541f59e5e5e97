"""Encrypted blobs in the configured storage, through Django's storage API only.

The same calls run on the local file system and on S3 (django-storages): the
pipeline never learns which. Blobs hold only ciphertext; their names are random
and say nothing about the tip.

Two things the storage API alone does not do are done here per backend:
deleting a blob on S3 removes *every version* of it (a versioned bucket keeps
old versions after a plain delete, and a purged tip must leave nothing), and
``stored_blobs`` lists what the storage holds, for the sweep of orphans.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, cast

from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, default_storage

from tipline.private_files import WritebackPacer, private_dir_ensure, private_file_create

logger = logging.getLogger(__name__)

# Every blob name is ``<kind>/<first two hex digits>/<32 hex digits>``. The sweep
# only ever considers names of this shape, so nothing else in the storage (another
# application's files in a shared bucket, an operator's notes) can be deleted.
BLOB_KINDS = ("raw", "clean", "thumbnail")
_BLOB_NAME = re.compile(r"^(?:raw|clean|thumbnail)/([0-9a-f]{2})/([0-9a-f]{32})$")
# S3's DeleteObjects takes at most this many keys (or versions) per request.
_S3_DELETE_BATCH = 1000
# Error codes of S3-compatible servers that do not implement ListObjectVersions.
_NO_VERSION_LISTING = {"NotImplemented", "XNotImplemented", "MethodNotAllowed"}


class BlobDeleteError(Exception):
    """The storage refused to delete some version of a blob."""


class DurableFile(File):
    """A blob being written that reaches the disk before ``close`` returns.

    The source is told "your tip has arrived" only after its blobs are closed:
    a crash a moment later must not lose what we said we had. The disk starts
    writing a long blob while it is still arriving (``WritebackPacer``).
    """

    def __init__(self, file: BinaryIO, name: str) -> None:
        super().__init__(file, name=name)
        self._raw = file
        self._writeback = WritebackPacer(file.fileno())

    def write(self, data: Any, /) -> int:
        written = self._raw.write(data)
        self._writeback.wrote(len(data))
        return written

    def close(self) -> None:
        if not self.closed and self.file is not None:  # not closed: a file is there
            self.file.flush()
            _coarsen_times(self.file.fileno())
            os.fsync(self.file.fileno())
        super().close()


def _coarsen_times(descriptor: int) -> None:
    """Set the file's access and modification times to the start of the day (UTC).

    A seized disk must not date an upload to the second any more than the
    database does (arrival is kept to the day). The sweep of abandoned blobs
    reads these times, so it works in whole days (see docs/retention.md).
    """
    midnight = int(time.time()) // 86400 * 86400
    os.utime(descriptor, (midnight, midnight))


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
        private_dir_ensure(os.path.dirname(path))
        fd = private_file_create(path, replace=True)
        return DurableFile(os.fdopen(fd, "wb"), name=name)


def new_blob_name(kind: str) -> str:
    """A fresh random blob name, fanned out into folders: ``raw/ab/<random>``."""
    if kind not in BLOB_KINDS:
        # A kind the sweep does not list would never be swept when orphaned.
        raise ValueError(f"unknown blob kind {kind!r}")
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


def is_blob_name(name: str) -> bool:
    match = _BLOB_NAME.match(name)
    return match is not None and match.group(2).startswith(match.group(1))


def delete_blob(name: str) -> bool:
    """Delete a blob, every version of it on S3; ``True`` also when it was not there.

    ``False`` when the storage refused: logged without the name at WARNING (the
    random name at DEBUG only), and the caller retries later.
    """
    if not name:
        return True
    try:
        if _is_s3(default_storage):
            _s3_delete_every_version(default_storage, name)
        else:
            default_storage.delete(name)
    except Exception as exc:  # noqa: BLE001 - any backend error: the caller retries later
        logger.warning("a blob could not be deleted (%s); it will be retried", type(exc).__name__)
        logger.debug("blob not deleted: %s", name)
        return False
    return True


def blob_exists(name: str) -> bool:
    return bool(name) and default_storage.exists(name)


# --- S3: every version ------------------------------------------------------------------------


def _is_s3(storage: Storage) -> bool:
    try:
        from storages.backends.s3 import S3Storage
    except ImportError:  # pragma: no cover - django-storages[s3] is a pinned dependency
        return False
    return isinstance(storage, S3Storage)


def _s3_key(storage: Any, name: str) -> str:
    from storages.utils import clean_name

    return storage._normalize_name(clean_name(name))


def _s3_error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _s3_delete_every_version(storage: Any, name: str) -> None:
    """Delete every version and delete marker of exactly this key.

    A plain DELETE on a versioned bucket only adds a delete marker and keeps
    every earlier version, readable by anyone with the bucket's credentials.
    Unversioned buckets list their objects with the version id ``null``, which
    deletes them like a plain DELETE, so one code path serves both.
    """
    from botocore.exceptions import ClientError

    key = _s3_key(storage, name)
    bucket = storage.bucket
    try:
        # The prefix also matches longer keys ("raw/ab/k1" lists "raw/ab/k10"): keep exact ones.
        versions = [
            {"Key": version.object_key, "VersionId": version.id}
            for version in bucket.object_versions.filter(Prefix=key)
            if version.object_key == key
        ]
    except ClientError as exc:
        if _s3_error_code(exc) not in _NO_VERSION_LISTING:
            raise
        # A server without versions at all: the plain delete is the whole job.
        storage.delete(name)
        return
    if not versions:
        # Nothing listed. A plain DELETE here would *add* a delete marker to a
        # versioned bucket, so only delete when a (non-compliant) server says it exists.
        if storage.exists(name):
            storage.delete(name)
        return
    for start in range(0, len(versions), _S3_DELETE_BATCH):
        response = bucket.delete_objects(
            Delete={"Objects": versions[start : start + _S3_DELETE_BATCH], "Quiet": True}
        )
        errors = response.get("Errors") or []
        if errors:
            raise BlobDeleteError(f"{len(errors)} version(s) not deleted ({errors[0].get('Code')})")


# --- Listing, for the sweep of orphans ------------------------------------------------------


@dataclass(frozen=True)
class StoredBlob:
    name: str
    # The newest write of any version: an upload still being written is recent.
    modified: datetime


def stored_blobs() -> Iterator[StoredBlob]:
    """Every blob the storage holds (blob-shaped names only), in no particular order."""
    storage = default_storage
    if _is_s3(storage):
        yield from _s3_blobs(storage)
    elif isinstance(storage, FileSystemStorage):
        yield from _local_blobs(Path(storage.location))
    else:  # pragma: no cover - the settings allow only the two above
        raise NotImplementedError(f"cannot list {type(storage).__name__}")


def _local_blobs(root: Path) -> Iterator[StoredBlob]:
    for kind in BLOB_KINDS:
        # os.walk does not follow symbolic links into other folders.
        for folder, _dirs, files in os.walk(root / kind):
            for file_name in files:
                path = Path(folder) / file_name
                name = path.relative_to(root).as_posix()
                if not is_blob_name(name):
                    continue
                try:
                    info = os.lstat(path)
                except FileNotFoundError:
                    continue  # deleted meanwhile
                if stat.S_ISREG(info.st_mode):
                    yield StoredBlob(name, datetime.fromtimestamp(info.st_mtime, tz=UTC))


def _s3_blobs(storage: Any) -> Iterator[StoredBlob]:
    from botocore.exceptions import ClientError

    client = storage.connection.meta.client
    # Keys carry the storage's location ("AWS_LOCATION/raw/ab/..."); names do not.
    prefix_length = len(_s3_key(storage, "raw")) - len("raw")
    for kind in BLOB_KINDS:
        prefix = _s3_key(storage, kind) + "/"
        try:
            entries = _s3_version_listing(client, storage.bucket_name, prefix)
            for key, modified in entries:
                name = key[prefix_length:]
                if is_blob_name(name):
                    yield StoredBlob(name, modified)
        except ClientError as exc:
            if _s3_error_code(exc) not in _NO_VERSION_LISTING:
                raise
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=storage.bucket_name, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"][prefix_length:]
                    if is_blob_name(name):
                        yield StoredBlob(name, item["LastModified"])


def _s3_version_listing(client: Any, bucket: str, prefix: str) -> Iterator[tuple[str, datetime]]:
    """Each key under ``prefix`` once, with the newest time of any of its versions or markers.

    Versions, not just current objects: a key whose current version is a
    delete marker still holds its older versions, and those must be swept too.
    The listing is in key order, so only the last key of a page can continue
    on the next one.
    """
    newest: dict[str, datetime] = {}
    pages = client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            key, when = entry["Key"], entry["LastModified"]
            newest[key] = max(newest.get(key, when), when)
        last = max(newest, default=None)
        for key in sorted(key for key in newest if key != last):
            yield key, newest.pop(key)
    yield from newest.items()


def blob_adopt_file(path: Path, name: str) -> None:
    """Store the finished ciphertext file at ``path`` as the blob ``name`` (a new one).

    The file is gone afterwards. On the local storage it is moved (one rename
    on the same file system, no copy); elsewhere its ciphertext is copied in
    pieces (streamed to S3) and the file deleted. ``FileNotFoundError`` if
    there is no file at ``path``.
    """
    if not is_blob_name(name):
        raise ValueError("not a blob name")
    storage = default_storage
    if isinstance(storage, FileSystemStorage) and not _is_s3(storage):
        target = Path(storage.path(name))
        private_dir_ensure(target.parent)
        try:
            os.replace(path, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
        else:
            _fsync_folder(target.parent)
            return
    with open(path, "rb") as source, open_blob_for_write(name) as sink:
        copy_stream(source, cast(BinaryIO, sink))
    os.unlink(path)


def _fsync_folder(folder: Path) -> None:
    """Make a rename into ``folder`` durable (the folder's entry, not only the file)."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def copy_stream(source: BinaryIO, sink: BinaryIO, chunk_size: int = 1024 * 1024) -> int:
    """Copy in fixed-size pieces, so memory does not grow with the file."""
    copied = 0
    while True:
        piece = source.read(chunk_size)
        if not piece:
            return copied
        sink.write(piece)
        copied += len(piece)
