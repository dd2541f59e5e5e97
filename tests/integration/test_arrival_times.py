"""Issue 13, item 1, on the real parts: S3 (SeaweedFS), PostgreSQL, a Celery worker on Redis.

A tip through the live server, cleaned by the real worker, is in the bucket
only under ``spool/`` until its batch; after ``manage.py settle_arrivals``
every object and every version in the bucket is dated by the batch, none by
the second the tip arrived or was cleaned, and the worker's log has no line
per task. tests/test_arrivals.py does the same for the local disk's four times.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.arrivals_support import settle_everything
from tests.conftest import RecoveryKey
from tests.http_client import Browser
from tests.integration.conftest import empty_bucket, s3_client, wait_until
from tests.triage.helpers import jpeg_bytes
from tipline.crypto import DecryptingReader
from tipline.keyring import tip_key_unwrap
from tipline.models import Attachment, Grant, RecipientKey, Tip
from tipline.sealed import Part, attachment_object_id
from tipline.storage import (
    blob_forget,
    forget_marker_of,
    new_blob_name,
    open_blob_for_read,
    spool_name_of,
    write_blob,
)
from tipline.storage import s3 as storage_module

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def processed(tip: Tip) -> bool:
    states = set(Attachment.objects.filter(tip=tip).values_list("state", flat=True))
    pipeline = Grant.objects.filter(tip=tip, recipient__kind=RecipientKey.Kind.PIPELINE)
    return states == {Attachment.State.DONE} and not pipeline.exists()


def every_version() -> list[tuple[str, datetime]]:
    """Every version and delete marker in the bucket, with its LastModified."""
    bucket = settings.STORAGES["default"]["OPTIONS"]["bucket_name"]
    found = []
    for page in s3_client().get_paginator("list_object_versions").paginate(Bucket=bucket):
        for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            found.append((entry["Key"], entry["LastModified"]))
    return found


def plaintext(attachment: Attachment, recovery: RecoveryKey) -> bytes:
    tip_key = tip_key_unwrap(
        tip=attachment.tip, recipient=recovery.recipient, private_key=recovery.private_key
    )
    object_id = attachment_object_id(attachment, Part.CLEAN)
    with (
        open_blob_for_read(attachment.clean_blob) as encrypted,
        DecryptingReader(encrypted, tip_key=tip_key, object_id=object_id) as reader,
    ):
        return reader.read()


def test_after_the_batch_no_object_in_the_bucket_is_dated_to_the_arrival(
    live_server, real_services, recovery_key: RecoveryKey
) -> None:
    text = f"CANARY{secrets.token_hex(8)} ".encode() * 3000
    first = int(time.time())
    response = Browser(live_server.url).submit_tip(
        note="nota", files=[("foto.jpg", jpeg_bytes()), ("notas.txt", text)]
    )
    assert response.status == 200, response.text
    tip = Tip.objects.get()
    wait_until(lambda: processed(tip), what="the worker\n" + real_services.log())
    last = int(time.time())
    arrival = set(range(first, last + 1))  # when it arrived, and when it was cleaned

    names = {
        name
        for a in Attachment.objects.filter(tip=tip)
        for name in (a.clean_blob, a.thumbnail_blob)
        if name
    }
    assert len(names) == 3
    before = {key for key, _when in every_version()}
    # Nothing is stored under its name before the batch; the spool says what waits.
    assert before and all(key.startswith("spool/") for key in before), before
    readable_before = plaintext(Attachment.objects.get(tip=tip, position=1), recovery_key)
    assert readable_before == text

    while time.time() < last + 2:
        time.sleep(0.1)
    batch_started = int(time.time())
    out = StringIO()
    call_command("settle_arrivals", stdout=out)
    assert "Settled 3 blob(s)" in out.getvalue()

    after = every_version()
    assert {key for key, _when in after} == names  # no spool object, no other version
    dated = [(key, when) for key, when in after if int(when.astimezone(UTC).timestamp()) in arrival]
    assert dated == [], "LastModified says when the tip arrived"
    assert all(when.timestamp() >= batch_started for _key, when in after)
    assert plaintext(Attachment.objects.get(tip=tip, position=1), recovery_key) == text

    log = real_services.log()
    per_file = re.compile(r" INFO (celery\.worker\.strategy|celery\.app\.trace|tipline)")
    assert [line for line in log.splitlines() if per_file.search(line)] == [], "a line per file"
    assert "CANARY" not in log


@pytest.fixture
def bucket(seaweedfs) -> Iterator[None]:
    empty_bucket()
    yield
    empty_bucket()


def keys() -> set[str]:
    return {key for key, _when in every_version()}


def test_a_stored_blob_an_arrival_lets_go_of_goes_with_the_next_batch(bucket) -> None:
    raw = new_blob_name("raw")
    write_blob(raw, b"an upload, ciphertext")
    settle_everything()  # the worker was down: the raw upload got stored under its name
    assert keys() == {raw}

    assert blob_forget(raw)  # cleaned now: deleting it now would date this moment
    assert keys() == {raw, forget_marker_of(raw)}
    assert settle_everything().forgotten == 1
    assert keys() == set()


def test_a_blob_deleted_while_its_batch_copies_it_leaves_no_copy_on_s3(bucket, monkeypatch) -> None:
    name = new_blob_name("clean")
    write_blob(name, b"a tip being purged")
    real_delete = storage_module._s3_delete_every_version

    def purged_right_after_the_copy(storage, key_name, **kwargs):
        if key_name == spool_name_of(name) and keys() >= {name}:
            real_delete(storage, key_name)  # the purge deleted the spool copy meanwhile
        return real_delete(storage, key_name, **kwargs)

    monkeypatch.setattr(storage_module, "_s3_delete_every_version", purged_right_after_the_copy)
    assert settle_everything().settled == 0
    assert keys() == set()
