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
import re
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, cast

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, default_storage

from tipline.private_files import (
    O_NOATIME,
    WritebackPacer,
    open_for_reading,
    private_dir_ensure,
    private_file_create,
)

logger = logging.getLogger(__name__)

# Every blob name is ``<kind>/<first two hex digits>/<32 hex digits>``. The sweep
# only ever considers names of this shape, so nothing else in the storage (another
# application's files in a shared bucket, an operator's notes) can be deleted.
BLOB_KINDS = ("raw", "clean", "thumbnail")
_BLOB_NAME = re.compile(r"^(?:raw|clean|thumbnail)/([0-9a-f]{2})/([0-9a-f]{32})$")
# Where every blob waits for its batch, ``spool/<kind>-<32 hex>``, and the batch's
# markers ``spool/<kind>-<32 hex>.forget`` (delete the stored copy; the key
# begins with the spool copy's, so one S3 listing finds both). One flat
# folder: fan-out folders made at arrival would date it after the batch.
SPOOL_PREFIX = "spool"
_SPOOL_BLOB = re.compile(r"^spool/(raw|clean|thumbnail)-([0-9a-f]{32})$")
_SPOOL_FORGET = re.compile(r"^spool/(raw|clean|thumbnail)-([0-9a-f]{32})\.forget$")
# A local file being written: it takes its name only when complete (a batch never
# moves half a blob). Left behind only by a killed process; the batch removes those.
PARTIAL_PREFIX = ".partial-"
# S3's DeleteObjects takes at most this many keys (or versions) per request.
_S3_DELETE_BATCH = 1000
# Error codes of S3-compatible servers that do not implement ListObjectVersions.
_NO_VERSION_LISTING = {"NotImplemented", "XNotImplemented", "MethodNotAllowed"}
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


class BlobDeleteError(Exception):
    """The storage refused to delete some version of a blob."""


class DurableFile(File):
    """A blob being written that reaches the disk, under its name, before ``close`` returns.

    The source is told "your tip has arrived" only after its blobs are closed:
    a crash a moment later must not lose what we said we had. The disk starts
    writing a long blob while it is still arriving (``WritebackPacer``). It is
    written under a partial name and renamed to its own when closed, so a blob
    still arriving is never taken for a whole one (by a batch, by a reader).
    ``close`` after an abandoned stream renames too: the stream's own format
    says it is unfinished, as it did when blobs were written in place.
    """

    def __init__(self, file: BinaryIO, name: str, *, partial: Path, target: Path) -> None:
        super().__init__(file, name=name)
        self._raw = file
        self._writeback = WritebackPacer(file.fileno())
        self._partial, self._target = partial, target

    def write(self, data: Any, /) -> int:
        written = self._raw.write(data)
        self._writeback.wrote(len(data))
        return written

    def close(self) -> None:
        if self.closed or self.file is None:
            super().close()
            return
        self.file.flush()
        os.fsync(self.file.fileno())
        super().close()
        os.replace(self._partial, self._target)
        _fsync_folder(self._target.parent)


class BlobFileSystemStorage(FileSystemStorage):
    """File-system storage that can also open a new blob for streaming writes.

    Django's ``FileSystemStorage.open(name, "wb")`` does not create the parent
    folders and would follow a symbolic link; blobs are created mode 0600 and
    never through a link. Writing an existing name replaces it (atomically, on
    close), as on S3, so a retried pipeline step can rewrite the blob it had
    started. Reading neither follows a link nor sets the access time.
    """

    def open(self, name: str, mode: str = "rb") -> File:
        if "w" not in mode:
            return File(open_for_reading(self.path(name)), name=name)
        target = Path(self.path(name))
        private_dir_ensure(target.parent)
        partial = target.with_name(f"{PARTIAL_PREFIX}{target.name}-{secrets.token_hex(4)}")
        fd = private_file_create(partial)
        return DurableFile(os.fdopen(fd, "wb"), name=name, partial=partial, target=target)


def new_blob_name(kind: str) -> str:
    """A fresh random blob name, fanned out into folders: ``raw/ab/<random>``."""
    if kind not in BLOB_KINDS:
        # A kind the sweep does not list would never be swept when orphaned.
        raise ValueError(f"unknown blob kind {kind!r}")
    token = secrets.token_hex(16)
    return f"{kind}/{token[:2]}/{token}"


def _blob_parts(name: str) -> tuple[str, str]:
    """(kind, token) of a blob name; ``ValueError`` for anything else."""
    if not is_blob_name(name):
        raise ValueError("not a blob name")
    kind, _fan_out, token = name.split("/")
    return kind, token


def spool_name_of(name: str) -> str:
    """Where the blob ``raw/ab/<token>`` waits for its batch: ``spool/raw-<token>``."""
    kind, token = _blob_parts(name)
    return f"{SPOOL_PREFIX}/{kind}-{token}"


def forget_marker_of(name: str) -> str:
    """The marker asking the next batch to delete the stored copy of ``name``."""
    return f"{spool_name_of(name)}.forget"


def _blob_name_of(kind: str, token: str) -> str:
    return f"{kind}/{token[:2]}/{token}"


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


def is_blob_name(name: str) -> bool:
    match = _BLOB_NAME.match(name)
    return match is not None and match.group(2).startswith(match.group(1))


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


def _s3_delete_every_version(
    storage: Any, name: str, *, blind: bool = True, also: tuple[str, ...] = ()
) -> bool:
    """Delete every version and delete marker of exactly this key; whether it had any.

    A plain DELETE on a versioned bucket only adds a delete marker and keeps
    every earlier version, readable by anyone with the bucket's credentials.
    Unversioned buckets list their objects with the version id ``null``, which
    deletes them like a plain DELETE, so one code path serves both. The keys
    of ``also`` (names beginning with ``name``) go in the same listing.
    """
    from botocore.exceptions import ClientError

    key = _s3_key(storage, name)
    exact = {key, *(_s3_key(storage, other) for other in also)}
    bucket = storage.bucket
    try:
        # The prefix also matches longer keys ("raw/ab/k1" lists "raw/ab/k10"): keep exact ones.
        versions = [
            {"Key": version.object_key, "VersionId": version.id}
            for version in bucket.object_versions.filter(Prefix=key)
            if version.object_key in exact
        ]
    except ClientError as exc:
        if _s3_error_code(exc) not in _NO_VERSION_LISTING:
            raise
        # A server without versions at all: the plain delete is the whole job.
        existed = False
        for index, each in enumerate((name, *also)):
            if (blind and index == 0) or storage.exists(each):
                storage.delete(each)
                existed = True
        return existed
    if not versions:
        # Nothing listed. A plain DELETE here would *add* a delete marker to a
        # versioned bucket, so only delete when a (non-compliant) server says it exists.
        existed = False
        for each in (name, *also):
            if storage.exists(each):
                storage.delete(each)
                existed = True
        return existed
    for start in range(0, len(versions), _S3_DELETE_BATCH):
        response = bucket.delete_objects(
            Delete={"Objects": versions[start : start + _S3_DELETE_BATCH], "Quiet": True}
        )
        errors = response.get("Errors") or []
        if errors:
            raise BlobDeleteError(f"{len(errors)} version(s) not deleted ({errors[0].get('Code')})")
    return True


# --- Listing, for the sweep of orphans ------------------------------------------------------


@dataclass(frozen=True)
class StoredBlob:
    name: str
    # The newest write of any version: an upload still being written is recent.
    modified: datetime


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


def _listed_blob_name(name: str) -> str | None:
    """The blob name of a listed name: a blob's own, or a spool copy's; else None."""
    if is_blob_name(name):
        return name
    match = _SPOOL_BLOB.match(name)
    return _blob_name_of(match.group(1), match.group(2)) if match else None


def _local_spool_blobs(root: Path) -> Iterator[StoredBlob]:
    for entry in _local_spool_entries(root):
        if not entry.forget:
            yield StoredBlob(entry.name, entry.modified)


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
    for kind in (*BLOB_KINDS, SPOOL_PREFIX):
        prefix = _s3_key(storage, kind) + "/"
        try:
            entries = _s3_version_listing(client, storage.bucket_name, prefix)
            for key, modified in entries:
                name = _listed_blob_name(key[prefix_length:])
                if name is not None:
                    yield StoredBlob(name, modified)
        except ClientError as exc:
            if _s3_error_code(exc) not in _NO_VERSION_LISTING:
                raise
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=storage.bucket_name, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    name = _listed_blob_name(item["Key"][prefix_length:])
                    if name is not None:
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


# --- S3: interrupted multipart uploads, for the sweep ----------------------------------------
#
# django-storages writes every blob to S3 as a multipart upload. A process killed
# mid-write leaves the upload unfinished: its parts stay in the bucket (ciphertext,
# billed, and dated by their start to the second) but no object listing shows them.

# Where the tip line writes objects: the blob folders and the spool. A new kind
# of object written under another prefix is one more entry here.
S3_WRITE_PREFIXES = (*BLOB_KINDS, SPOOL_PREFIX)


@dataclass
class InterruptedUploads:
    aborted: int = 0
    refused: int = 0  # the storage said no: the next sweep retries


def interrupted_uploads_abort(*, started_before: datetime) -> InterruptedUploads:
    """Abort the unfinished multipart uploads of blobs begun before ``started_before``.

    Only keys of a blob's shape (or its spool copy's), under the tip line's
    prefixes: nothing else in a shared bucket is touched. Nothing to do off S3,
    or on a server that does not list multipart uploads.
    """
    from botocore.exceptions import ClientError

    storage: Any = default_storage  # an S3Storage past the check below
    result = InterruptedUploads()
    if not _is_s3(storage):
        return result
    client = storage.connection.meta.client
    for key, upload_id in _s3_interrupted_uploads(storage, started_before):
        try:
            client.abort_multipart_upload(Bucket=storage.bucket_name, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if _s3_error_code(exc) == "NoSuchUpload":
                continue  # completed or aborted meanwhile
            logger.warning("an interrupted upload was not aborted (%s)", _s3_error_code(exc))
            result.refused += 1
        else:
            result.aborted += 1
    return result


def _s3_interrupted_uploads(storage: Any, started_before: datetime) -> list[tuple[str, str]]:
    """(key, upload id) of each unfinished upload to abort; listed whole before any abort."""
    from botocore.exceptions import ClientError

    client = storage.connection.meta.client
    location = _s3_key(storage, "raw")[: -len("raw")]  # the storage's AWS_LOCATION, if any
    found = []
    try:
        for folder in S3_WRITE_PREFIXES:
            pages = client.get_paginator("list_multipart_uploads").paginate(
                Bucket=storage.bucket_name, Prefix=_s3_key(storage, folder) + "/"
            )
            for page in pages:
                for upload in page.get("Uploads", []):
                    key = upload["Key"]
                    if (
                        upload["Initiated"] < started_before
                        and key.startswith(location)
                        and _listed_blob_name(key[len(location) :]) is not None
                    ):
                        found.append((key, upload["UploadId"]))
    except ClientError as exc:
        if _s3_error_code(exc) not in _NO_VERSION_LISTING:
            raise
    return found


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


# --- The spool: what the batch takes (tipline/retention/settle.py) ----------------------------


@dataclass(frozen=True)
class SpoolEntry:
    name: str  # the blob's own name (``raw/ab/<token>``)
    forget: bool  # a marker: the batch deletes the stored copy
    arrived: datetime  # when it came into the spool (its newest change there)
    # Its last write, for the sweep's age (a finished upload keeps its coarse
    # one when renamed in, and a row names it by then).
    modified: datetime


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
    deleted = 0
    with os.scandir(root / SPOOL_PREFIX) as entries:
        for entry in entries:
            if not entry.name.startswith(PARTIAL_PREFIX) or entry.is_symlink():
                continue
            try:
                if entry.stat(follow_symlinks=False).st_mtime < older_than.timestamp():
                    os.unlink(entry.path)
                    deleted += 1
            except FileNotFoundError:
                continue
    return deleted


def _spool_entry_of(
    name: str, arrived: datetime, modified: datetime | None = None
) -> SpoolEntry | None:
    for pattern, forget in ((_SPOOL_BLOB, False), (_SPOOL_FORGET, True)):
        if match := pattern.match(name):
            blob = _blob_name_of(match.group(1), match.group(2))
            return SpoolEntry(blob, forget, arrived, modified or arrived)
    return None


def _local_spool_entries(root: Path) -> Iterator[SpoolEntry]:
    try:
        listing = list(os.scandir(root / SPOOL_PREFIX))
    except FileNotFoundError:
        return
    for item in listing:
        try:
            info = item.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue  # settled or deleted meanwhile
        if not stat.S_ISREG(info.st_mode):
            continue
        # The change time too: a finished upload is renamed in with an old mtime.
        arrived = datetime.fromtimestamp(max(info.st_mtime, info.st_ctime), tz=UTC)
        modified = datetime.fromtimestamp(info.st_mtime, tz=UTC)
        entry = _spool_entry_of(f"{SPOOL_PREFIX}/{item.name}", arrived, modified)
        if entry is not None:
            yield entry


def _local_settle(root: Path, name: str) -> bool:
    source, target = root / spool_name_of(name), root / name
    # Written in the spool folder and renamed in, so the named file is whole at
    # once; a new file, never the spool's own (a rename would keep its birth time).
    partial = root / SPOOL_PREFIX / f"{PARTIAL_PREFIX}settle-{target.name}"
    try:
        reader = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | O_NOATIME)
    except FileNotFoundError:
        return False
    try:
        writer = private_file_create(partial, replace=True)
        try:
            _copy_file(reader, writer)
            os.fsync(writer)
        finally:
            os.close(writer)
    finally:
        os.close(reader)
    private_dir_ensure(target.parent)
    os.replace(partial, target)
    _fsync_folder(target.parent)
    try:
        os.unlink(source)
    except FileNotFoundError:
        _unlink_quietly(target)  # deleted while it was being copied: the copy goes too
        return False
    _fsync_folder(source.parent)
    return True


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _copy_file(reader: int, writer: int) -> None:
    """Copy a whole file between descriptors, in the kernel where it can."""
    size = os.fstat(reader).st_size
    offset = 0
    try:
        while offset < size:
            copied = os.copy_file_range(reader, writer, size - offset, offset, offset)
            if copied == 0:
                break
            offset += copied
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
    while piece := os.pread(reader, 1024 * 1024, offset):
        os.pwrite(writer, piece, offset)
        offset += len(piece)


def _s3_spool_entries(storage: Any) -> Iterator[SpoolEntry]:
    client = storage.connection.meta.client
    prefix_length = len(_s3_key(storage, SPOOL_PREFIX)) - len(SPOOL_PREFIX)
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=storage.bucket_name, Prefix=_s3_key(storage, SPOOL_PREFIX) + "/"
    )
    for page in pages:
        for item in page.get("Contents", []):
            entry = _spool_entry_of(item["Key"][prefix_length:], item["LastModified"])
            if entry is not None:
                yield entry


# Below 5 GiB one CopyObject (the new object's LastModified is the copy's);
# above, boto3 copies in parts, as it must.
_S3_SINGLE_COPY_BYTES = 5 * 1024**3 - 1


def _s3_settle(storage: Any, name: str) -> bool:
    from boto3.s3.transfer import TransferConfig
    from botocore.exceptions import ClientError

    client = storage.connection.meta.client
    source = {"Bucket": storage.bucket_name, "Key": _s3_key(storage, spool_name_of(name))}
    try:
        client.copy(
            source,
            storage.bucket_name,
            _s3_key(storage, name),
            Config=TransferConfig(multipart_threshold=_S3_SINGLE_COPY_BYTES),
        )
    except ClientError as exc:
        if _s3_error_code(exc) in _NOT_FOUND:
            return False  # gone meanwhile
        raise
    if not _s3_delete_every_version(storage, spool_name_of(name), blind=False):
        _s3_delete_every_version(storage, name)  # deleted while it was being copied
        return False
    return True
