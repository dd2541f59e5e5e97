"""The pipeline key's short life: it rotates, and the old private half is destroyed.

A seized worker must open no tip whose cleaning ended before the last rotation,
not even from a deleted grant recovered from the database's free pages or an
old copy of it. Files being cleaned while the key rotates are cleaned all the
same, through the real task path (Celery runs eagerly without a broker).
"""

from __future__ import annotations

import base64
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from tests.conftest import all_files_under
from tests.intake.helpers import submit_tip
from tests.test_settings import run_manage
from tipline import pipeline_key as pipeline_key_module
from tipline.audit import COMMAND_LINE_ACTOR, SYSTEM_ACTOR, Action
from tipline.crypto import CryptoError, PrivateKey
from tipline.keyring import (
    KeyringError,
    active_pipeline_key,
    pipeline_private_key,
    tip_key_open,
    tip_key_unwrap,
)
from tipline.models import Attachment, AuditEntry, Grant, RecipientKey
from tipline.pipeline_key import (
    pipeline_key_rotate,
    pipeline_key_rotate_if_due,
    pipeline_tip_key_open,
)
from tipline.sealed import Part, attachment_blob_open
from tipline.worker import pipeline
from tipline.worker.tasks import process_attachment

pytestmark = pytest.mark.django_db

NOTE_FILE = ("informe.txt", "los nombres están en la segunda página\n".encode() * 200)


@pytest.fixture
def key_file(pipeline_key, settings) -> Path:
    return Path(settings.TIPLINE_PIPELINE_KEY_FILE)


@pytest.fixture
def queued(client: Client, open_tipline) -> Attachment:
    """A tip whose file waits for the worker (its task not delivered yet)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("tipline.worker.tasks.process_attachment.delay", lambda *a, **k: None)
        submit_tip(client, note="n", files=[NOTE_FILE])
    attachment = Attachment.objects.get()
    assert attachment.state == Attachment.State.RECEIVED
    return attachment


def pipeline_grants() -> list[Grant]:
    return list(Grant.objects.filter(recipient__kind=RecipientKey.Kind.PIPELINE))


def cleaned_text(attachment: Attachment, recovery) -> bytes:
    tip_key = tip_key_unwrap(
        tip=attachment.tip, recipient=recovery.recipient, private_key=recovery.private_key
    )
    with attachment_blob_open(attachment, Part.CLEAN, tip_key=tip_key) as clean:
        return clean.read()


def assert_cleaned(attachment: Attachment, recovery) -> None:
    attachment.refresh_from_db()
    assert attachment.state == Attachment.State.DONE
    assert cleaned_text(attachment, recovery) == NOTE_FILE[1]
    assert pipeline_grants() == []


def files_holding(secret: bytes, *roots: Path) -> list[Path]:
    return [path for path in all_files_under(*roots) if secret in path.read_bytes()]


# --- The old private half is destroyed ------------------------------------------------------


def test_after_a_rotation_no_file_holds_the_old_private_key(key_file: Path, tmp_path) -> None:
    old_bytes = key_file.read_bytes()
    assert files_holding(old_bytes, tmp_path) == [key_file]
    old_recipient = active_pipeline_key()

    rotated = pipeline_key_rotate(actor=COMMAND_LINE_ACTOR)

    assert files_holding(old_bytes, tmp_path) == []
    # The same file holds the new key (overwritten in place), 0600; nothing is staged.
    new_key = PrivateKey.from_bytes(key_file.read_bytes())
    assert new_key.public_key().to_bytes() == bytes(rotated.recipient.public_key)
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert not key_file.with_name(key_file.name + ".next").exists()
    # The old public half is retired, the new one is the one tips are granted to.
    old_recipient.refresh_from_db()
    assert not old_recipient.active
    assert active_pipeline_key() == rotated.recipient
    assert rotated.previous_fingerprint == old_recipient.fingerprint


def test_the_old_key_opens_no_grant_of_a_tip_still_stored(
    client: Client, queued: Attachment, open_tipline, key_file: Path
) -> None:
    submit_tip(client, note="a tip already cleaned", files=[("b.txt", b"done before")])
    old_key = pipeline_private_key()
    pipeline_key_rotate(actor=COMMAND_LINE_ACTOR)

    grants = list(Grant.objects.select_related("tip"))
    # The recovery key's two, the editor's two (#16: an open tip line has one), the
    # waiting tip's pipeline grant.
    assert len(grants) == 5
    for grant in grants:
        with pytest.raises(CryptoError):
            tip_key_open(tip=grant.tip, wrapped_key=grant.wrapped_key, private_key=old_key)
    # The waiting tip's grant moved to the new key, which opens it.
    [moved] = pipeline_grants()
    assert moved.tip_id == queued.tip_id and moved.recipient == active_pipeline_key()
    assert pipeline_tip_key_open(tip=queued.tip)


def test_a_grant_from_an_old_database_copy_opens_with_no_key_left_on_the_server(
    queued: Attachment, open_tipline, key_file: Path
) -> None:
    # The attacker's copy: a backup, or the deleted row found in a free page.
    [grant] = pipeline_grants()
    recovered = bytes(grant.wrapped_key)
    assert tip_key_open(tip=queued.tip, wrapped_key=recovered, private_key=pipeline_private_key())

    process_attachment.apply(args=[queued.pk])  # cleaned: the pipeline grant is deleted
    assert pipeline_grants() == []
    pipeline_key_rotate(actor=COMMAND_LINE_ACTOR)

    # Every key file the server holds now (there is one) fails on it.
    key_files = [
        path for path in all_files_under(key_file.parent) if path.name.startswith("pipeline.key")
    ]
    for path in key_files:
        try:
            candidate = PrivateKey.from_bytes(path.read_bytes())
        except CryptoError:
            continue  # the lock file
        with pytest.raises(CryptoError):
            tip_key_open(tip=queued.tip, wrapped_key=recovered, private_key=candidate)


# --- Files being cleaned while the key rotates ----------------------------------------------


def test_a_file_being_cleaned_during_a_rotation_is_cleaned(
    client: Client, open_tipline, key_file: Path, monkeypatch
) -> None:
    real_sanitize = pipeline.sanitize
    rotations = []

    def rotate_midway(source, sink, **kwargs):
        rotations.append(pipeline_key_rotate(actor=COMMAND_LINE_ACTOR))
        return real_sanitize(source, sink, **kwargs)

    monkeypatch.setattr(pipeline, "sanitize", rotate_midway)
    submit_tip(client, note="n", files=[NOTE_FILE])  # the eager task runs the real worker path

    assert len(rotations) == 1 and rotations[0].grants_moved == 1
    assert_cleaned(Attachment.objects.get(), open_tipline)


def test_a_rotation_between_reading_the_grant_and_opening_it_is_followed(
    queued: Attachment, open_tipline, key_file: Path, monkeypatch
) -> None:
    # The worker has read the grant (wrapped to the old key) when the rotation
    # commits, moves it and destroys the old key: it reads the grant again.
    real_key_of = pipeline_key_module._pipeline_private_key_of
    calls = []

    def rotation_strikes_first(public_key: bytes):
        calls.append(public_key)
        if len(calls) == 1:
            pipeline_key_rotate(actor=COMMAND_LINE_ACTOR)
        return real_key_of(public_key)

    monkeypatch.setattr(pipeline_key_module, "_pipeline_private_key_of", rotation_strikes_first)
    process_attachment.apply(args=[queued.pk]).get()

    assert len(calls) == 2 and calls[0] != calls[1]  # the old key's grant, then the new one's
    assert_cleaned(queued, open_tipline)


def test_the_worker_follows_a_moved_grant_itself_without_a_retry(
    queued: Attachment, open_tipline, key_file: Path, monkeypatch
) -> None:
    real_key_of = pipeline_key_module._pipeline_private_key_of
    rotations = []

    def rotation_strikes_first(public_key: bytes):
        if not rotations:
            rotations.append(pipeline_key_rotate(actor=COMMAND_LINE_ACTOR))
        return real_key_of(public_key)

    monkeypatch.setattr(pipeline_key_module, "_pipeline_private_key_of", rotation_strikes_first)
    tip_key = pipeline_tip_key_open(tip=queued.tip)  # no KeyringError: no task retry needed
    assert tip_key == tip_key_unwrap(
        tip=queued.tip, recipient=open_tipline.recipient, private_key=open_tipline.private_key
    )


def test_a_file_queued_before_a_rotation_is_cleaned_after_it(
    queued: Attachment, open_tipline, key_file: Path
) -> None:
    pipeline_key_rotate(actor=COMMAND_LINE_ACTOR)
    pipeline_key_rotate(actor=COMMAND_LINE_ACTOR)  # moved twice
    process_attachment.apply(args=[queued.pk]).get()
    assert_cleaned(queued, open_tipline)


def test_a_worker_process_that_read_the_old_key_follows_a_rotation_made_elsewhere(
    queued: Attachment, open_tipline, key_file: Path
) -> None:
    stale = pipeline_private_key.load()  # what a long-lived worker process had read
    pipeline_key_rotate(actor=COMMAND_LINE_ACTOR)
    pipeline_private_key._loaded = stale  # as if the rotation ran in another process

    assert pipeline_private_key().public_key().to_bytes() == bytes(active_pipeline_key().public_key)
    process_attachment.apply(args=[queued.pk]).get()
    assert_cleaned(queued, open_tipline)


def test_a_rotation_cut_off_after_its_commit_is_finished_by_the_next_one_to_look(
    queued: Attachment, open_tipline, key_file: Path, tmp_path
) -> None:
    old_bytes = key_file.read_bytes()

    def killed(path, data):
        raise SystemExit("worker killed")

    with pytest.MonkeyPatch.context() as patch, pytest.raises(SystemExit):
        patch.setattr(pipeline_key_module, "_key_file_overwrite", killed)
        pipeline_key_rotate(actor=COMMAND_LINE_ACTOR)
    staged = key_file.with_name(key_file.name + ".next")
    assert staged.exists() and key_file.read_bytes() == old_bytes  # committed, not installed

    # The worker finds the new key where the rotation left it.
    assert pipeline_tip_key_open(tip=queued.tip)
    # And the next to take the lock (init_pipeline_key, or the next check) finishes the job.
    call_command("init_pipeline_key", stdout=io.StringIO())
    assert not staged.exists()
    assert files_holding(old_bytes, tmp_path) == []
    assert PrivateKey.from_bytes(key_file.read_bytes()).public_key().to_bytes() == bytes(
        active_pipeline_key().public_key
    )
    process_attachment.apply(args=[queued.pk]).get()
    assert_cleaned(queued, open_tipline)


def test_a_key_file_that_is_not_the_registered_key_changes_nothing(
    queued: Attachment, key_file: Path
) -> None:
    registered = active_pipeline_key()
    key_file.unlink()
    key_file.write_bytes(PrivateKey.generate().to_bytes())  # not the registered key
    with pytest.raises(KeyringError, match="not the registered pipeline key"):
        pipeline_key_rotate(actor=COMMAND_LINE_ACTOR)
    assert active_pipeline_key() == registered
    assert [grant.recipient for grant in pipeline_grants()] == [registered]
    assert not key_file.with_name(key_file.name + ".next").exists()
    assert not AuditEntry.objects.filter(action=Action.PIPELINE_KEY_ROTATED).exists()


def test_a_retired_key_put_back_is_refused_not_registered_again(key_file: Path) -> None:
    # A stale copy from another worker host, or a backup restored by mistake.
    old_bytes = key_file.read_bytes()
    pipeline_key_rotate(actor=COMMAND_LINE_ACTOR)
    current = active_pipeline_key()
    key_file.unlink()
    key_file.write_bytes(old_bytes)

    with pytest.raises(CommandError, match="retired"):
        call_command("init_pipeline_key", stdout=io.StringIO())
    assert active_pipeline_key() == current
    assert RecipientKey.objects.filter(active=True, kind=RecipientKey.Kind.PIPELINE).count() == 1


# --- The schedule -----------------------------------------------------------------------------


def test_the_key_rotates_once_it_is_as_old_as_the_setting_says(key_file: Path, settings) -> None:
    settings.TIPLINE_PIPELINE_KEY_HOURS = 6
    first = active_pipeline_key()
    assert first.created_at is not None and first.created_at.minute == 0  # to the hour only
    made = first.created_at

    assert pipeline_key_rotate_if_due(actor=SYSTEM_ACTOR, now=made + timedelta(hours=5)) is None
    assert active_pipeline_key() == first
    rotated = pipeline_key_rotate_if_due(actor=SYSTEM_ACTOR, now=made + timedelta(hours=6))
    assert rotated is not None and active_pipeline_key() == rotated.recipient
    # Checked again straight away (another worker process): not due.
    assert pipeline_key_rotate_if_due(actor=SYSTEM_ACTOR) is None


def test_a_key_made_before_rotation_existed_is_replaced_at_the_first_check(
    key_file: Path,
) -> None:
    legacy = active_pipeline_key()
    RecipientKey.objects.filter(pk=legacy.pk).update(created_at=None)
    assert pipeline_key_rotate_if_due(actor=SYSTEM_ACTOR) is not None
    assert active_pipeline_key() != legacy


def test_with_no_pipeline_key_yet_the_check_does_nothing(db) -> None:
    assert pipeline_key_rotate_if_due(actor=SYSTEM_ACTOR) is None
    assert not RecipientKey.objects.exists()


def test_the_embedded_runner_rotates_when_due(key_file: Path) -> None:
    from tipline.retention.scheduler import pipeline_key_rotation_check

    assert pipeline_key_rotation_check() is False  # a fresh key
    RecipientKey.objects.filter(active=True).update(created_at=timezone.now() - timedelta(hours=25))
    assert pipeline_key_rotation_check() is True


def test_beat_sends_the_hourly_check_to_the_workers_task() -> None:
    from config.celery import PIPELINE_KEY_ROTATION_TASK, app
    from tipline.worker.tasks import pipeline_key_rotation

    entries = [
        entry
        for entry in app.conf.beat_schedule.values()
        if entry["task"] == PIPELINE_KEY_ROTATION_TASK
    ]
    assert len(entries) == 1
    assert pipeline_key_rotation.name == PIPELINE_KEY_ROTATION_TASK
    assert PIPELINE_KEY_ROTATION_TASK in app.tasks


def test_the_workers_task_rotates_when_due(key_file: Path) -> None:
    from tipline.worker.tasks import pipeline_key_rotation

    first = active_pipeline_key()
    pipeline_key_rotation.apply().get()
    assert active_pipeline_key() == first
    RecipientKey.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=2))
    pipeline_key_rotation.apply().get()
    assert active_pipeline_key() != first


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "TIPLINE_PIPELINE_KEY_HOURS must be between 1 and 168, not 0"),
        ("169", "TIPLINE_PIPELINE_KEY_HOURS must be between 1 and 168, not 169"),
        ("daily", "TIPLINE_PIPELINE_KEY_HOURS must be a whole number, not 'daily'"),
    ],
)
def test_the_rotation_period_is_range_checked_at_start_up(tmp_path, value, message) -> None:
    result = run_manage(
        "check", env_extra={"TIPLINE_PIPELINE_KEY_HOURS": value}, data_dir=tmp_path / "d"
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [f"tipline: configuration error: {message}"]


# --- On record, with no key material -------------------------------------------------------


def test_the_rotation_is_audited_without_key_material(queued: Attachment, key_file: Path) -> None:
    old_private = key_file.read_bytes()
    old_public = bytes(active_pipeline_key().public_key)
    rotated = pipeline_key_rotate(actor=COMMAND_LINE_ACTOR)

    entry = AuditEntry.objects.get(action=Action.PIPELINE_KEY_ROTATED)
    assert entry.actor == COMMAND_LINE_ACTOR
    assert entry.detail == {
        "fingerprint": rotated.recipient.fingerprint,
        "previous": rotated.previous_fingerprint,
        "grants_moved": 1,
    }
    recorded = json.dumps(entry.detail)
    new_private = key_file.read_bytes()
    for secret in (old_private, new_private, old_public, bytes(rotated.recipient.public_key)):
        assert secret.hex() not in recorded
        assert base64.b64encode(secret).decode() not in recorded


def test_the_command_rotates_now_and_says_so(queued: Attachment, key_file: Path, tmp_path) -> None:
    old_bytes = key_file.read_bytes()
    out = io.StringIO()
    call_command("rotate_pipeline_key", stdout=out)
    text = out.getvalue()
    assert active_pipeline_key().fingerprint in text and "destroyed" in text
    assert files_holding(old_bytes, tmp_path) == []
    assert old_bytes.hex() not in text


def test_the_command_without_a_pipeline_key_says_what_to_run(db, settings, tmp_path) -> None:
    settings.TIPLINE_PIPELINE_KEY_FILE = tmp_path / "pipeline.key"
    with pytest.raises(CommandError):
        call_command("rotate_pipeline_key", stdout=io.StringIO())
    assert not RecipientKey.objects.exists()


def status() -> str:
    out = io.StringIO()
    call_command("tipline_status", stdout=out)
    return out.getvalue()


def test_tipline_status_shows_the_pipeline_keys_age_and_no_key_material(
    key_file: Path, settings
) -> None:
    settings.TIPLINE_PIPELINE_KEY_HOURS = 24
    key = active_pipeline_key()
    RecipientKey.objects.filter(pk=key.pk).update(created_at=timezone.now() - timedelta(hours=5))
    text = status()
    assert f"Pipeline key {key.fingerprint}: about 5 hours old (replaced every 24 hours)." in text
    private = key_file.read_bytes()
    for secret in (private, bytes(key.public_key)):
        assert secret.hex() not in text
        assert base64.b64encode(secret).decode() not in text

    RecipientKey.objects.filter(pk=key.pk).update(created_at=timezone.now() - timedelta(hours=49))
    assert "overdue" in status()
