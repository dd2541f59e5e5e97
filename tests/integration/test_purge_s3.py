"""The purge and the sweep on S3 (SeaweedFS), with bucket versioning on.

A plain DELETE on a versioned bucket only hides an object behind a delete
marker; every earlier version stays readable with the bucket's credentials.
These tests turn versioning on for the suite's bucket (SeaweedFS implements
PutBucketVersioning and ListObjectVersions), and then look at every version
and delete marker, not only at the current objects.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.arrivals_support import settle_everything
from tests.http_client import Browser
from tests.integration.conftest import s3_client, wait_until
from tests.retention.helpers import tip_make
from tests.triage.helpers import jpeg_bytes
from tipline.audit import Action
from tipline.models import Attachment, AuditEntry, Grant, RecipientKey, Tip
from tipline.retention.sweep import uploads_sweep
from tipline.storage import read_blob, write_blob

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def bucket_name() -> str:
    return settings.STORAGES["default"]["OPTIONS"]["bucket_name"]


def every_version() -> list[tuple[str, str]]:
    """(key, version id) of every version and delete marker in the bucket."""
    found = []
    pages = s3_client().get_paginator("list_object_versions").paginate(Bucket=bucket_name())
    for page in pages:
        for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            found.append((entry["Key"], entry["VersionId"]))
    return found


def delete_every_version() -> None:
    client = s3_client()
    for key, version in every_version():
        client.delete_object(Bucket=bucket_name(), Key=key, VersionId=version)


@pytest.fixture
def versioned_bucket(seaweedfs):
    client = s3_client()
    delete_every_version()
    client.put_bucket_versioning(
        Bucket=bucket_name(), VersioningConfiguration={"Status": "Enabled"}
    )
    assert client.get_bucket_versioning(Bucket=bucket_name())["Status"] == "Enabled"
    yield
    # Leave the bucket as the rest of the suite expects it: empty, new writes unversioned.
    delete_every_version()
    client.put_bucket_versioning(
        Bucket=bucket_name(), VersioningConfiguration={"Status": "Suspended"}
    )


def blob_names(tip: Tip) -> set[str]:
    names = set()
    for attachment in Attachment.objects.filter(tip=tip):
        names |= {attachment.raw_blob, attachment.clean_blob, attachment.thumbnail_blob} - {""}
    return names


def processed(tip: Tip) -> bool:
    states = set(Attachment.objects.filter(tip=tip).values_list("state", flat=True))
    pipeline_grant = Grant.objects.filter(tip=tip, recipient__kind=RecipientKey.Kind.PIPELINE)
    return states == {Attachment.State.DONE} and not pipeline_grant.exists()


def test_a_purge_leaves_no_version_of_any_object_of_the_tip(
    live_server, real_services, versioned_bucket
) -> None:
    browser = Browser(live_server.url)
    canary = f"CANARY{secrets.token_hex(8)}"
    for files in (
        [("puerto.jpg", jpeg_bytes()), ("datos.txt", canary.encode() * 100)],
        [("otro.txt", b"a tip under legal hold")],
    ):
        assert browser.submit_tip(note=canary, files=files).status == 200
    due, held = Tip.objects.order_by("id")
    for tip in (due, held):
        wait_until(lambda tip=tip: processed(tip), what="the worker\n" + real_services.log())
    settle_everything()  # stored under their names (docs/arrivals.md)
    # The worker deleted each raw blob with every version: none is left at all.
    assert not [key for key, _version in every_version() if key.startswith("raw/")]

    due_blobs = blob_names(due)
    assert len(due_blobs) == 3  # two clean blobs and a thumbnail
    # A rewritten blob (as a retried pipeline step does) has an older version too.
    rewritten = Attachment.objects.filter(tip=due).exclude(clean_blob="").first().clean_blob
    write_blob(rewritten, read_blob(rewritten))
    settle_everything()
    assert [key for key, _version in every_version()].count(rewritten) == 2
    Tip.objects.filter(pk=held.pk).update(legal_hold=True)

    out = StringIO()
    as_of = due.status_changed_on + timedelta(days=365)
    call_command("purge_expired", "--as-of", as_of.isoformat(), stdout=out)

    assert "Deleted 1 tip(s) and 3 stored blob(s)." in out.getvalue()
    left = {key for key, _version in every_version()}
    assert not left & due_blobs, "a version or delete marker of the purged tip is left"
    assert left == blob_names(held)
    assert list(Tip.objects.values_list("pk", flat=True)) == [held.pk]
    assert AuditEntry.objects.filter(
        action=Action.TIP_DELETED, tip_reference=due.reference
    ).exists()


def test_the_sweep_finds_and_deletes_orphans_on_s3(versioned_bucket, recovery_key) -> None:
    kept = tip_make(files=1)
    settle_everything()
    orphan = "raw/5e/5e" + secrets.token_hex(15)
    client = s3_client()
    for body in (b"first try", b"second try"):  # two versions of a cut-off upload
        client.put_object(Bucket=bucket_name(), Key=orphan, Body=body)
    client.put_object(Bucket=bucket_name(), Key="raw/5e/operator-notes.txt", Body=b"not a blob")

    summary = uploads_sweep(hours=0)

    assert summary.orphans_deleted == 1
    left = {key for key, _version in every_version()}
    assert orphan not in left
    assert left == {"raw/5e/operator-notes.txt", *kept.blobs}
    assert AuditEntry.objects.get(action=Action.UPLOADS_SWEPT).detail == {
        "files_failed": 0,
        "orphans": 1,
    }
