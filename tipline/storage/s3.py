"""What only S3 needs: every version deleted, versions listed, interrupted uploads, copies.

django-storages gives the storage API; a versioned bucket, its listings and its
unfinished multipart uploads need boto3 itself (imported here only when the
storage is S3, so the local default never loads it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.files.storage import Storage

from tipline.storage.names import (
    BLOB_KINDS,
    SPOOL_PREFIX,
    SpoolEntry,
    _listed_blob_name,
    _spool_entry_of,
    spool_name_of,
)

logger = logging.getLogger("tipline.storage")

# S3's DeleteObjects takes at most this many keys (or versions) per request.
_S3_DELETE_BATCH = 1000
# Error codes of S3-compatible servers that do not implement ListObjectVersions.
_NO_VERSION_LISTING = {"NotImplemented", "XNotImplemented", "MethodNotAllowed"}
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


class BlobDeleteError(Exception):
    """The storage refused to delete some version of a blob."""


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


@dataclass(frozen=True)
class StoredBlob:
    name: str
    # The newest write of any version: an upload still being written is recent.
    modified: datetime


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


def _s3_interrupted_uploads_abort(storage: Any, *, started_before: datetime) -> InterruptedUploads:
    from botocore.exceptions import ClientError

    result = InterruptedUploads()
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
