"""The sweep: files the pipeline gave up on, and blobs no row names, after the set hours."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.retention.helpers import MadeTip, tip_make
from tipline.audit import Action
from tipline.models import Attachment, AuditEntry, Grant, RecipientKey
from tipline.retention.sweep import uploads_sweep
from tipline.storage import blob_exists, new_blob_name, spool_name_of, write_blob

pytestmark = pytest.mark.django_db

HOURS = 72


def days_ago(days: int):
    return timezone.localdate() - timedelta(days=days)


def waiting_file(made: MadeTip, *, attempts: int) -> Attachment:
    """Turn the tip's first file back into one still waiting: a raw blob, maybe a partial clean one."""
    attachment = made.tip.attachments.first()
    attachment.raw_blob = new_blob_name("raw")
    write_blob(attachment.raw_blob, b"raw ciphertext")
    attachment.state, attachment.attempts, attachment.stored_size = "received", attempts, None
    attachment.save()
    return attachment


def age(blob_storage: Path, name: str, hours: float) -> None:
    then = (timezone.now() - timedelta(hours=hours)).timestamp()
    # Where the blob is: still in the spool (docs/arrivals.md) or stored under its name.
    for path in (blob_storage / name, blob_storage / spool_name_of(name)):
        if path.exists():
            os.utime(path, (then, then))


def swept_audit() -> list[dict]:
    return list(
        AuditEntry.objects.filter(action=Action.UPLOADS_SWEPT).values_list("detail", flat=True)
    )


def test_a_file_the_pipeline_failed_on_is_given_up_and_its_blobs_deleted(open_tipline) -> None:
    made = tip_make(changed_on=days_ago(10), files=2, pipeline=True)
    stuck = waiting_file(made, attempts=2)
    blobs = [stuck.raw_blob, stuck.clean_blob, stuck.thumbnail_blob]

    summary = uploads_sweep()

    assert (summary.files_failed, summary.files_waiting) == (1, 0)
    stuck.refresh_from_db()
    assert stuck.state == Attachment.State.FAILED
    assert (stuck.raw_blob, stuck.clean_blob, stuck.thumbnail_blob) == ("", "", "")
    assert not any(blob_exists(name) for name in blobs)
    # The tip and its other file stay; the pipeline's grant goes, nothing waits any more.
    other = made.tip.attachments.exclude(pk=stuck.pk).get()
    assert other.state == Attachment.State.DONE and blob_exists(other.clean_blob)
    assert Grant.objects.filter(tip=made.tip).exists()
    assert not Grant.objects.filter(
        tip=made.tip, recipient__kind=RecipientKey.Kind.PIPELINE
    ).exists()
    assert swept_audit() == [{"files_failed": 1, "orphans": 0}]


def test_a_file_never_attempted_waits_for_the_worker(open_tipline, caplog) -> None:
    made = tip_make(changed_on=days_ago(10), pipeline=True)
    waiting = waiting_file(made, attempts=0)
    caplog.set_level(logging.WARNING)
    summary = uploads_sweep()
    assert (summary.files_failed, summary.files_waiting) == (0, 1)
    waiting.refresh_from_db()
    assert waiting.state == Attachment.State.RECEIVED and blob_exists(waiting.raw_blob)
    assert "is the worker running?" in caplog.text
    assert swept_audit() == []  # nothing swept, nothing audited


def test_the_hours_count_from_the_end_of_the_recorded_arrival_day(recovery_key) -> None:
    arrival_day = days_ago(10)
    made = tip_make(changed_on=arrival_day)
    stuck = waiting_file(made, attempts=1)
    # Arrival is kept to the day: the tip may have come at 23:59, so 72 hours
    # are over only 96 hours after the day began.
    day_start = datetime.combine(arrival_day, time(0), tzinfo=UTC)
    too_early = uploads_sweep(now=day_start + timedelta(hours=HOURS + 24, minutes=-1), hours=HOURS)
    assert too_early.files_failed == 0
    assert uploads_sweep(now=day_start + timedelta(hours=HOURS + 24), hours=HOURS).files_failed == 1
    stuck.refresh_from_db()
    assert stuck.state == Attachment.State.FAILED


def test_a_recent_file_is_left_alone(recovery_key) -> None:
    made = tip_make(changed_on=timezone.localdate())
    recent = waiting_file(made, attempts=3)
    assert uploads_sweep().files_failed == 0
    recent.refresh_from_db()
    assert recent.state == Attachment.State.RECEIVED


def test_a_blob_the_storage_refuses_becomes_an_orphan_swept_later(
    recovery_key, monkeypatch
) -> None:
    made = tip_make(changed_on=days_ago(10))
    stuck = waiting_file(made, attempts=1)
    monkeypatch.setattr("tipline.retention.sweep.delete_blob", lambda name: False)
    first = uploads_sweep()
    assert (first.files_failed, first.blobs_refused, first.orphans_deleted) == (1, 3, 0)
    assert blob_exists(stuck.raw_blob)
    monkeypatch.undo()
    # Ten days later the orphans are old enough; nothing names them any more.
    second = uploads_sweep(now=timezone.now() + timedelta(days=10))
    assert second.orphans_deleted == 3 and not blob_exists(stuck.raw_blob)


def test_orphan_blobs_older_than_the_limit_are_deleted(recovery_key, blob_storage: Path) -> None:
    made = tip_make(changed_on=days_ago(10))
    old_orphan, new_orphan = new_blob_name("raw"), new_blob_name("clean")
    for name in (old_orphan, new_orphan):
        write_blob(name, b"cut-off upload")
    age(blob_storage, old_orphan, HOURS + 1)
    age(blob_storage, new_orphan, HOURS - 1)
    for name in made.blobs:
        age(blob_storage, name, 24 * 10)  # old, but a row names it
    stranger = blob_storage / "raw" / "ab" / "operator-notes.txt"
    stranger.parent.mkdir(parents=True, exist_ok=True)
    stranger.write_text("not a blob")
    os.utime(stranger, (0, 0))

    summary = uploads_sweep()

    assert summary.orphans_deleted == 1
    assert not blob_exists(old_orphan) and blob_exists(new_orphan)
    assert all(blob_exists(name) for name in made.blobs)
    assert stranger.exists()
    assert swept_audit() == [{"files_failed": 0, "orphans": 1}]


def test_the_hours_are_a_setting(recovery_key, blob_storage: Path, settings) -> None:
    orphan = new_blob_name("thumbnail")
    write_blob(orphan, b"x")
    age(blob_storage, orphan, 5)
    settings.TIPLINE_ABANDONED_UPLOAD_HOURS = 6
    assert uploads_sweep().orphans_deleted == 0
    settings.TIPLINE_ABANDONED_UPLOAD_HOURS = 4
    assert uploads_sweep().orphans_deleted == 1
