"""The purge: grants first, then every blob, then the rows and an audit entry; idempotent, resumable."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.conftest import all_files_under
from tests.retention.helpers import FILE_NAME, NOTE, tip_make
from tests.triage.helpers import jpeg_bytes, send_tip
from tipline.audit import Action, audit_verify
from tipline.models import Attachment, AuditEntry, EditorNote, Grant, RetentionPolicy, Tip
from tipline.retention import purge
from tipline.retention.purge import RETENTION_ACTOR, tips_purge_expired
from tipline.storage import blob_exists

pytestmark = pytest.mark.django_db

START = date(2026, 3, 10)
DISCARDED_DAYS = 30  # RetentionPolicy.current()'s default for "discarded"


def deletion_audit() -> list[tuple[str, str, dict]]:
    return list(
        AuditEntry.objects.filter(action=Action.TIP_DELETED).values_list(
            "actor", "tip_reference", "detail"
        )
    )


def test_a_tip_sent_through_the_form_leaves_nothing_behind(
    open_tipline, blob_storage: Path, caplog
) -> None:
    tip = send_tip(note=NOTE, files=[(FILE_NAME, jpeg_bytes()), ("ledger.txt", b"x" * 5000)])
    assert {a.state for a in tip.attachments.all()} == {Attachment.State.DONE}
    assert any(a.thumbnail_blob for a in tip.attachments.all())
    assert all_files_under(blob_storage)
    deletion = tip.status_changed_on + timedelta(days=365)

    caplog.set_level(logging.DEBUG)
    assert tips_purge_expired(as_of=deletion - timedelta(days=1)).tips_deleted == 0
    assert Tip.objects.filter(pk=tip.pk, purging=False).exists()
    summary = tips_purge_expired(as_of=deletion)

    assert (summary.tips_deleted, summary.tips_pending) == (1, 0)
    assert summary.blobs_deleted == 3  # two clean blobs and a thumbnail; raw blobs went earlier
    assert all_files_under(blob_storage) == []
    assert not Tip.objects.exists() and not Attachment.objects.exists()
    assert not Grant.objects.exists()
    assert deletion_audit() == [(RETENTION_ACTOR, tip.reference, {"policy": "new:365"})]
    assert audit_verify().intact
    logged = caplog.text
    assert NOTE not in logged and FILE_NAME not in logged


@pytest.mark.parametrize(
    ("status", "days"),
    [("new", 90), ("in_review", 120), ("verified", 400), ("published", 730), ("discarded", 7)],
)
def test_each_status_is_purged_on_its_day_and_not_before(recovery_key, status, days) -> None:
    policy = RetentionPolicy.current()
    policy.status_days = {
        "new": 90,
        "in_review": 120,
        "verified": 400,
        "published": 730,
        "discarded": 7,
    }
    policy.save()
    made = tip_make(changed_on=START, status=status)
    day = START + timedelta(days=days)
    assert tips_purge_expired(as_of=day - timedelta(days=1)).tips_deleted == 0
    assert all(blob_exists(name) for name in made.blobs)
    assert tips_purge_expired(as_of=day).tips_deleted == 1
    assert deletion_audit() == [
        (RETENTION_ACTOR, made.tip.reference, {"policy": f"{status}:{days}"})
    ]


def test_every_object_of_the_tip_goes_and_other_tips_stay(recovery_key, blob_storage) -> None:
    due = tip_make(changed_on=START, status="discarded", files=2, editor_note=True)
    kept = tip_make(changed_on=START + timedelta(days=1), status="discarded")
    summary = tips_purge_expired(as_of=START + timedelta(days=DISCARDED_DAYS))
    assert (summary.tips_deleted, summary.blobs_deleted) == (1, 4)
    assert not any(blob_exists(name) for name in due.blobs)
    assert not EditorNote.objects.exists()
    assert all(blob_exists(name) for name in kept.blobs)
    assert Grant.objects.filter(tip=kept.tip).exists()
    assert list(Tip.objects.values_list("pk", flat=True)) == [kept.tip.pk]
    assert deletion_audit() == [
        (RETENTION_ACTOR, due.tip.reference, {"policy": f"discarded:{DISCARDED_DAYS}"})
    ]


def test_a_legal_hold_survives(recovery_key) -> None:
    held = tip_make(changed_on=START, status="discarded", hold=True)
    summary = tips_purge_expired(as_of=START + timedelta(days=10 * 365))
    assert summary.tips_deleted == 0
    assert Tip.objects.filter(pk=held.tip.pk, purging=False).exists()
    assert Grant.objects.filter(tip=held.tip).exists()
    assert all(blob_exists(name) for name in held.blobs)


def test_a_hold_set_after_the_batch_was_listed_still_keeps_the_tip(recovery_key) -> None:
    made = tip_make(changed_on=START, status="discarded")
    Tip.objects.filter(pk=made.tip.pk).update(legal_hold=True)  # between listing and shredding
    policy = RetentionPolicy.current()
    shredded = purge._tips_shred(
        tip_ids=[made.tip.pk], today=START + timedelta(days=DISCARDED_DAYS), policy=policy
    )
    assert shredded == {}
    assert Grant.objects.filter(tip=made.tip).exists()


def test_running_twice_deletes_once(recovery_key) -> None:
    tip_make(changed_on=START, status="discarded")
    day = START + timedelta(days=DISCARDED_DAYS)
    assert tips_purge_expired(as_of=day).tips_deleted == 1
    again = tips_purge_expired(as_of=day)
    assert (again.tips_deleted, again.tips_pending, again.blobs_deleted) == (0, 0, 0)
    assert len(deletion_audit()) == 1


def test_batches_cover_every_tip(recovery_key) -> None:
    made = [tip_make(changed_on=START, status="discarded", files=1) for _ in range(5)]
    summary = tips_purge_expired(as_of=START + timedelta(days=DISCARDED_DAYS), batch_size=2)
    assert (summary.tips_deleted, summary.blobs_deleted) == (5, 10)
    assert not Tip.objects.exists()
    assert not any(blob_exists(name) for tip in made for name in tip.blobs)
    # Oldest first, one entry each, and the chain still verifies.
    assert [row[1] for row in deletion_audit()] == [tip.tip.reference for tip in made]
    assert audit_verify().intact


def test_a_blob_the_storage_refuses_does_not_stop_the_others(recovery_key, monkeypatch) -> None:
    stuck = tip_make(changed_on=START, status="discarded", files=2)
    other = tip_make(changed_on=START, status="discarded")
    refused = stuck.blobs[1]
    real_delete = purge.delete_blob
    monkeypatch.setattr(purge, "delete_blob", lambda name: name != refused and real_delete(name))
    day = START + timedelta(days=DISCARDED_DAYS)

    summary = tips_purge_expired(as_of=day)
    assert (summary.tips_deleted, summary.tips_pending, summary.blobs_deleted) == (1, 1, 5)
    assert not Tip.objects.filter(pk=other.tip.pk).exists()
    # The stuck tip is unreadable already: no grant, marked, only the refused blob left.
    assert Tip.objects.get(pk=stuck.tip.pk).purging
    assert not Grant.objects.filter(tip=stuck.tip).exists()
    assert [name for name in stuck.blobs if blob_exists(name)] == [refused]

    monkeypatch.setattr(purge, "delete_blob", real_delete)  # the storage is back
    retried = tips_purge_expired(as_of=day)
    assert (retried.tips_deleted, retried.tips_pending) == (1, 0)
    assert not Tip.objects.exists() and not blob_exists(refused)
    assert deletion_audit()[-1] == (RETENTION_ACTOR, stuck.tip.reference, {"purge": "finished"})


def test_a_purge_cut_off_between_the_blobs_and_the_rows_is_finished_next_time(
    recovery_key, monkeypatch, blob_storage: Path
) -> None:
    made = tip_make(changed_on=START, status="discarded", files=2, editor_note=True)

    def power_cut(**kwargs):
        raise SystemExit("killed")

    monkeypatch.setattr(purge, "_tip_rows_delete", power_cut)
    with pytest.raises(SystemExit):
        tips_purge_expired(as_of=START + timedelta(days=DISCARDED_DAYS))
    tip = Tip.objects.get(pk=made.tip.pk)
    assert tip.purging and not Grant.objects.filter(tip=tip).exists()
    assert all_files_under(blob_storage) == []
    assert Attachment.objects.filter(tip=tip).count() == 2 and not deletion_audit()

    # Whatever happens meanwhile (a hold, a new status, no time passing at all),
    # the next run finishes what was begun.
    Tip.objects.filter(pk=tip.pk).update(
        legal_hold=True, status="verified", status_changed_on=START
    )
    monkeypatch.undo()
    summary = tips_purge_expired(as_of=START)
    assert summary.tips_deleted == 1
    assert not Tip.objects.exists() and not Attachment.objects.exists()
    assert not EditorNote.objects.exists()
    assert deletion_audit() == [(RETENTION_ACTOR, made.tip.reference, {"purge": "finished"})]


def test_nothing_of_the_tip_is_logged(recovery_key, caplog) -> None:
    made = tip_make(changed_on=START, status="discarded")
    caplog.set_level(logging.INFO)
    tips_purge_expired(as_of=START + timedelta(days=DISCARDED_DAYS))
    assert "purge: 1 tips deleted" in caplog.text
    for forbidden in (NOTE, FILE_NAME, made.tip.reference, *made.blobs):
        assert forbidden not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_on_sqlite_the_wrapped_keys_do_not_stay_in_the_database_file(recovery_key) -> None:
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's secure_delete only")
    made = tip_make(changed_on=START, status="discarded")
    wrapped = [bytes(key)[-48:] for key in Grant.objects.values_list("wrapped_key", flat=True)]
    database = Path(connection.settings_dict["NAME"])

    def on_disk() -> bytes:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        wal = database.with_name(database.name + "-wal")
        return database.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

    assert all(key in on_disk() for key in wrapped)
    assert tips_purge_expired(as_of=START + timedelta(days=DISCARDED_DAYS)).tips_deleted == 1
    assert not any(key in on_disk() for key in wrapped)
    assert not Tip.objects.filter(pk=made.tip.pk).exists()
