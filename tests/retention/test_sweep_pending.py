"""The sweep of files sent ahead (tus) whose form never came: rows, spool files, blobs.

A source who closes the page loses the partial file: nobody holds the page's
secret any more, so nothing can open it, and the daily sweep deletes it once
it is older than ``TIPLINE_ABANDONED_UPLOAD_HOURS``.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.arrivals_support import blob_path
from tests.conftest import all_files_under
from tests.intake.tus_support import Disconnect, TusClient
from tipline.audit import Action
from tipline.crypto import DEFAULT_CHUNK_SIZE
from tipline.intake import resumable
from tipline.models import AuditEntry, PendingUpload
from tipline.retention.sweep import uploads_sweep
from tipline.storage import blob_exists

pytestmark = pytest.mark.django_db(transaction=True)

CS = DEFAULT_CHUNK_SIZE
HOURS = 72


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, settings) -> Path:
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    settings.TIPLINE_ABANDONED_UPLOAD_HOURS = HOURS
    return settings.DATA_DIR


def made_days_ago(token: str, days: int) -> PendingUpload:
    PendingUpload.objects.filter(token=token).update(
        created_on=timezone.now().date() - timedelta(days=days)
    )
    return PendingUpload.objects.get(token=token)


def unfinished(client: TusClient) -> str:
    location = client.create(4 * CS)["Location"]
    client.patch(location, 0, [secrets.token_bytes(2 * CS + 9), Disconnect()])
    return location.rsplit("/", 1)[1]


def age_file(path: Path, hours: float) -> None:
    then = (timezone.now() - timedelta(hours=hours)).timestamp()
    os.utime(path, (then, then))


def test_abandoned_uploads_go_with_their_spool_files_and_blobs(open_tipline) -> None:
    old_partial = made_days_ago(unfinished(TusClient()), 5)
    old_finished = made_days_ago(TusClient().upload(secrets.token_bytes(CS + 1)), 5)
    recent = made_days_ago(unfinished(TusClient()), 2)  # its day may end within the 72 hours
    assert blob_exists(old_finished.blob)
    assert len(all_files_under(resumable.spool_dir())) == 2

    summary = uploads_sweep()

    assert summary.pending_uploads_deleted == 2
    assert list(PendingUpload.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not blob_exists(old_finished.blob)
    assert [p.name for p in all_files_under(resumable.spool_dir())] == [recent.file_key_id.hex]
    detail = AuditEntry.objects.get(action=Action.UPLOADS_SWEPT).detail
    assert detail == {"files_failed": 0, "orphans": 0, "pending_uploads": 2}
    assert old_partial.token not in str(detail)


def test_a_spool_file_no_row_names_goes_once_it_is_old(open_tipline) -> None:
    folder = resumable.spool_dir()
    old, new = folder / ("a" * 32), folder / ("b" * 32)
    for path in (old, new):
        path.write_bytes(b"ciphertext")
    age_file(old, HOURS + 1)
    kept = unfinished(TusClient())
    age_file(folder / PendingUpload.objects.get(token=kept).file_key_id.hex, HOURS + 1)

    uploads_sweep()

    names = {p.name for p in all_files_under(folder)}
    assert "a" * 32 not in names and "b" * 32 in names
    assert PendingUpload.objects.get(token=kept).file_key_id.hex in names  # its row is young


def test_a_finished_upload_waiting_for_its_form_is_no_orphan(
    open_tipline, blob_storage: Path
) -> None:
    token = TusClient().upload(secrets.token_bytes(100))
    pending = PendingUpload.objects.get(token=token)
    age_file(blob_path(blob_storage, pending.blob), HOURS + 30)  # the blob looks old, not the row

    summary = uploads_sweep()

    assert summary.orphans_deleted == 0
    assert blob_exists(pending.blob)
