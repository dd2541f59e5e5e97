"""The sweep aborts interrupted multipart uploads on S3 (SeaweedFS).

django-storages writes every blob as a multipart upload; a process killed
mid-write leaves one unfinished. Its parts are ciphertext, but they stay in
the bucket, billed, dated to the second by their start, and invisible to the
object listings the orphan sweep reads. SeaweedFS implements
ListMultipartUploads and AbortMultipartUpload, so these run against it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from tests.integration.conftest import s3_client
from tipline.audit import Action
from tipline.models import AuditEntry
from tipline.retention.sweep import uploads_sweep
from tipline.storage import new_blob_name, spool_name_of
from tipline.storage.s3 import _s3_key

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def bucket() -> str:
    return settings.STORAGES["default"]["OPTIONS"]["bucket_name"]


def unfinished_uploads() -> dict[str, str]:
    """Key -> upload id of every multipart upload not completed nor aborted, whole bucket."""
    found = {}
    for page in s3_client().get_paginator("list_multipart_uploads").paginate(Bucket=bucket()):
        for upload in page.get("Uploads", []):
            found[upload["Key"]] = upload["UploadId"]
    return found


def upload_interrupted(key: str) -> str:
    """A multipart upload with one part sent, never completed: a write cut off."""
    client = s3_client()
    upload_id = client.create_multipart_upload(Bucket=bucket(), Key=key)["UploadId"]
    client.upload_part(
        Bucket=bucket(), Key=key, UploadId=upload_id, PartNumber=1, Body=secrets.token_bytes(4096)
    )
    return upload_id


@pytest.fixture
def no_unfinished_uploads(seaweedfs) -> Iterator[None]:
    def abort_all() -> None:
        for key, upload_id in unfinished_uploads().items():
            s3_client().abort_multipart_upload(Bucket=bucket(), Key=key, UploadId=upload_id)

    abort_all()
    yield
    abort_all()


def test_interrupted_uploads_of_blobs_are_aborted(no_unfinished_uploads) -> None:
    blob = _s3_key(default_storage, new_blob_name("raw"))
    spooled = _s3_key(default_storage, spool_name_of(new_blob_name("clean")))
    for key in (blob, spooled):
        upload_interrupted(key)
    assert set(unfinished_uploads()) == {blob, spooled}

    later = timezone.now() + timedelta(hours=settings.TIPLINE_ABANDONED_UPLOAD_HOURS + 1)
    summary = uploads_sweep(now=later)  # the cutoff is an hour from now: both are older

    assert unfinished_uploads() == {}
    assert summary.interrupted_uploads_aborted == 2
    entry = AuditEntry.objects.get(action=Action.UPLOADS_SWEPT)
    assert entry.detail["interrupted_uploads"] == 2


def test_a_fresh_upload_and_other_applications_uploads_are_left_alone(
    no_unfinished_uploads,
) -> None:
    fresh = _s3_key(default_storage, new_blob_name("raw"))
    upload_interrupted(fresh)
    summary = uploads_sweep()  # cutoff: TIPLINE_ABANDONED_UPLOAD_HOURS ago
    assert summary.interrupted_uploads_aborted == 0
    assert set(unfinished_uploads()) == {fresh}

    # Not of a blob's shape: someone else's in a shared bucket, however old.
    foreign = ["raw/notes.txt", "backups/raw/ab/" + "ab" + "0" * 30, "raw/ab/" + "cd" + "0" * 30]
    for key in foreign:
        upload_interrupted(key)
    later = timezone.now() + timedelta(hours=settings.TIPLINE_ABANDONED_UPLOAD_HOURS + 1)
    summary = uploads_sweep(now=later)
    assert summary.interrupted_uploads_aborted == 1  # the blob's, old by then
    assert set(unfinished_uploads()) == set(foreign)
