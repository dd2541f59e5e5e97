"""Deleting every version of a blob on S3, and listing blobs there, against a stub of boto3's API.

The real server test is tests/integration/test_purge_s3.py (SeaweedFS, a
versioned bucket); these pin the edge cases a server will not show on demand:
a longer key under the same prefix, refused versions, more than one request's
worth of versions, servers without version listing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError
from storages.backends.s3 import S3Storage

from tipline import storage as blob_storage_module
from tipline.storage import delete_blob, new_blob_name, stored_blobs

LOCATION = "tipline"


class FakeBucket:
    """The parts of ``boto3``'s Bucket resource the code uses, over a list of (key, version)."""

    def __init__(self, versions: list[tuple[str, str]]) -> None:
        self.versions = list(versions)
        self.requests: list[list[dict]] = []
        self.refuse: set[str] = set()
        self.listing_error: str | None = None

    @property
    def object_versions(self):
        bucket = self

        class Versions:
            def filter(self, Prefix: str):
                if bucket.listing_error:
                    raise ClientError(
                        {"Error": {"Code": bucket.listing_error}}, "ListObjectVersions"
                    )
                return [
                    SimpleNamespace(object_key=key, id=version)
                    for key, version in bucket.versions
                    if key.startswith(Prefix)
                ]

        return Versions()

    def delete_objects(self, Delete: dict) -> dict:
        assert Delete["Quiet"] is True
        self.requests.append(Delete["Objects"])
        errors = []
        for item in Delete["Objects"]:
            if item["VersionId"] in self.refuse:
                errors.append({"Key": item["Key"], "Code": "AccessDenied"})
            else:
                self.versions.remove((item["Key"], item["VersionId"]))
        return {"Errors": errors} if errors else {}


class StubS3Storage(S3Storage):
    bucket = None  # replaces the property: no connection is ever made

    def __init__(self, bucket: FakeBucket) -> None:
        super().__init__(bucket_name="tips", location=LOCATION)
        self.bucket = bucket
        self.plain_deletes: list[str] = []
        self.existing: set[str] = set()

    def delete(self, name: str) -> None:
        self.plain_deletes.append(name)

    def exists(self, name: str) -> bool:
        return name in self.existing


@pytest.fixture
def s3(monkeypatch):
    def make(versions: list[tuple[str, str]]) -> StubS3Storage:
        stub = StubS3Storage(FakeBucket(versions))
        monkeypatch.setattr(blob_storage_module, "default_storage", stub)
        return stub

    return make


def test_every_version_and_delete_marker_of_exactly_that_key_goes(s3) -> None:
    name = new_blob_name("raw")
    key = f"{LOCATION}/{name}"
    storage = s3([(key, "v1"), (key, "v2"), (key, "marker"), (key + "0", "other")])
    assert delete_blob(name) is True
    assert storage.bucket.versions == [(key + "0", "other")]
    assert storage.bucket.requests == [
        [{"Key": key, "VersionId": v} for v in ("v1", "v2", "marker")]
    ]
    assert storage.plain_deletes == []


def test_a_refused_version_means_not_deleted_and_the_log_has_no_name(s3, caplog) -> None:
    name = new_blob_name("clean")
    storage = s3([(f"{LOCATION}/{name}", "v1"), (f"{LOCATION}/{name}", "v2")])
    storage.bucket.refuse = {"v2"}
    caplog.set_level(logging.INFO)
    assert delete_blob(name) is False
    assert "could not be deleted (BlobDeleteError)" in caplog.text
    assert name not in caplog.text


def test_thousands_of_versions_go_in_requests_of_a_thousand(s3) -> None:
    name = new_blob_name("thumbnail")
    storage = s3([(f"{LOCATION}/{name}", f"v{n}") for n in range(2500)])
    assert delete_blob(name) is True
    assert [len(request) for request in storage.bucket.requests] == [1000, 1000, 500]
    assert storage.bucket.versions == []


def test_nothing_listed_adds_no_delete_marker(s3) -> None:
    storage = s3([])
    assert delete_blob(new_blob_name("raw")) is True
    assert storage.plain_deletes == [] and storage.bucket.requests == []


def test_a_server_that_lists_nothing_but_has_the_object_gets_a_plain_delete(s3) -> None:
    name = new_blob_name("raw")
    storage = s3([])
    storage.existing = {name}
    assert delete_blob(name) is True
    assert storage.plain_deletes == [name]


def test_a_server_without_version_listing_gets_a_plain_delete(s3) -> None:
    name = new_blob_name("raw")
    storage = s3([])
    storage.bucket.listing_error = "NotImplemented"
    assert delete_blob(name) is True
    assert storage.plain_deletes == [name]


def test_any_other_listing_error_is_a_refusal(s3) -> None:
    storage = s3([])
    storage.bucket.listing_error = "AccessDenied"
    assert delete_blob(new_blob_name("raw")) is False
    assert storage.plain_deletes == []


def test_the_listing_names_each_blob_once_with_its_newest_write(s3) -> None:
    first, second = new_blob_name("raw"), new_blob_name("raw")
    first, second = sorted([first, second])
    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    pages = {
        f"{LOCATION}/raw/": [
            # A key's versions can straddle two pages; its delete marker is newest.
            {"Versions": [{"Key": f"{LOCATION}/{first}", "LastModified": early}]},
            {
                "Versions": [
                    {"Key": f"{LOCATION}/{first}", "LastModified": early},
                    {"Key": f"{LOCATION}/{second}", "LastModified": early},
                    {"Key": f"{LOCATION}/raw/ab/not-a-blob", "LastModified": early},
                ],
                "DeleteMarkers": [{"Key": f"{LOCATION}/{first}", "LastModified": late}],
            },
        ]
    }
    storage = s3([])

    class Paginator:
        def paginate(self, Bucket: str, Prefix: str):
            assert Bucket == "tips"
            return pages.get(Prefix, [])

    client = SimpleNamespace(get_paginator=lambda operation: Paginator())
    storage._connections.connection = SimpleNamespace(meta=SimpleNamespace(client=client))
    listed = {blob.name: blob.modified for blob in stored_blobs()}
    assert listed == {first: late, second: early}
