"""The pipeline key rotates under the real parts: a Celery worker on Redis, PostgreSQL, S3.

- A file the worker is cleaning while the key rotates, and one queued behind
  it, are both cleaned; the worker process had read the old key before.
- Beat's hourly check reaches a worker, which rotates the key it holds.
- On PostgreSQL a tip being created while the key rotates never ends up
  granted to the destroyed key (the rotation waits for it, or it sees the new key).
- After a rotation the grant table's pages hold no row with the old grant.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from tests.http_client import Browser
from tests.integration.conftest import wait_until
from tests.integration.key_races import tip_created_while
from tipline.audit import COMMAND_LINE_ACTOR, Action
from tipline.crypto import new_tip_key
from tipline.keyring import active_pipeline_key, grants_create_for_new_tip
from tipline.models import Attachment, AuditEntry, Grant, RecipientKey, Tip
from tipline.pipeline_key import pipeline_key_rotate, pipeline_tip_key_open

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BIG_FILE_BYTES = 160 * 1024 * 1024


def pipeline_grants() -> list[Grant]:
    return list(Grant.objects.filter(recipient__kind=RecipientKey.Kind.PIPELINE))


def cleaned(tip: Tip) -> bool:
    states = set(Attachment.objects.filter(tip=tip).values_list("state", flat=True))
    return states == {Attachment.State.DONE}


def test_files_being_cleaned_and_queued_during_a_rotation_are_cleaned_by_the_real_worker(
    live_server, real_services, recovery_key
) -> None:
    browser = Browser(live_server.url)
    key_file = Path(settings.TIPLINE_PIPELINE_KEY_FILE)
    # The worker process reads the current key once cleaning a first file.
    assert browser.submit_tip(files=[("first.txt", b"read the key")]).status == 200
    first = Tip.objects.get()
    wait_until(lambda: cleaned(first), what="the first file\n" + real_services.log())

    assert (
        browser.submit_tip(files=[("big.bin", secrets.token_bytes(BIG_FILE_BYTES))]).status == 200
    )
    big = Tip.objects.exclude(pk=first.pk).get()
    assert browser.submit_tip(files=[("behind.txt", b"queued behind it")]).status == 200
    behind = Tip.objects.exclude(pk__in=[first.pk, big.pk]).get()
    # ``attempts`` is counted once the worker holds the tip key (unwrapped with the old key).
    wait_until(
        lambda: Attachment.objects.get(tip=big).attempts >= 1,
        what="the worker to start on the big file\n" + real_services.log(),
    )
    old_bytes = key_file.read_bytes()
    rotated = pipeline_key_rotate(actor=COMMAND_LINE_ACTOR)  # where the key is: this host
    assert Attachment.objects.get(tip=big).state == Attachment.State.RECEIVED  # still cleaning
    assert rotated.grants_moved == 2  # the big file's tip and the one queued behind

    for tip in (big, behind):
        wait_until(lambda tip=tip: cleaned(tip), what="both files\n" + real_services.log())
    wait_until(lambda: pipeline_grants() == [], what="the pipeline grants to be dropped")
    assert old_bytes not in key_file.read_bytes()
    assert "KeyringError" not in real_services.log()


def test_beats_hourly_check_rotates_the_key_on_the_worker(real_services) -> None:
    from tipline.worker.tasks import pipeline_key_rotation

    before = active_pipeline_key()
    RecipientKey.objects.filter(pk=before.pk).update(created_at=timezone.now() - timedelta(days=2))
    pipeline_key_rotation.delay()  # what beat sends every hour
    wait_until(
        lambda: AuditEntry.objects.filter(action=Action.PIPELINE_KEY_ROTATED).exists(),
        what="the worker to rotate the key\n" + real_services.log(),
    )
    after = active_pipeline_key()
    assert after != before
    entry = AuditEntry.objects.get(action=Action.PIPELINE_KEY_ROTATED)
    assert entry.detail["previous"] == before.fingerprint
    assert entry.detail["fingerprint"] == after.fingerprint


def test_a_tip_created_while_the_key_rotates_is_granted_to_the_key_that_lives(
    recovery_key, pipeline_key, monkeypatch
) -> None:
    assert connection.vendor == "postgresql"
    tip, tip_key = tip_created_while(
        lambda: pipeline_key_rotate(actor=COMMAND_LINE_ACTOR),
        paused_at=RecipientKey.Kind.PIPELINE,
        include_pipeline=True,
        monkeypatch=monkeypatch,
    )
    [grant] = pipeline_grants()
    assert grant.recipient == active_pipeline_key() != pipeline_key
    assert pipeline_tip_key_open(tip=tip) == tip_key


def test_a_tip_whose_processing_ends_during_a_rotation_keeps_no_pipeline_grant(
    recovery_key, pipeline_key, monkeypatch
) -> None:
    from tipline import pipeline_key as pipeline_key_module
    from tipline.worker.pipeline import tip_pipeline_finish

    # A tip with no file left to clean: finishing it drops its pipeline grant.
    tip = Tip.objects.create(key_id=uuid.uuid4(), received_on=timezone.now(), content_sealed=b"x")
    grants_create_for_new_tip(tip=tip, tip_key=new_tip_key(), include_pipeline=True)
    read_the_grants = threading.Event()
    finish_over = threading.Event()
    errors: list[BaseException] = []
    real_grant_create = pipeline_key_module.grant_create

    def move_after_a_pause(*, tip, recipient, tip_key):
        read_the_grants.set()
        # Give the tip's processing every chance to end between the read and the move.
        finish_over.wait(timeout=3)
        return real_grant_create(tip=tip, recipient=recipient, tip_key=tip_key)

    monkeypatch.setattr(pipeline_key_module, "grant_create", move_after_a_pause)

    def rotate() -> None:
        try:
            pipeline_key_rotate(actor=COMMAND_LINE_ACTOR)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    def finish() -> None:
        try:
            read_the_grants.wait(timeout=30)
            tip_pipeline_finish(tip=Tip.objects.get(pk=tip.pk))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            finish_over.set()
            connection.close()

    threads = [threading.Thread(target=rotate), threading.Thread(target=finish)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert pipeline_grants() == []  # neither the old grant nor a moved one


def test_after_a_rotation_no_row_of_the_grant_table_holds_the_old_grant(
    recovery_key, pipeline_key
) -> None:
    assert connection.vendor == "postgresql"
    tip = Tip.objects.create(key_id=uuid.uuid4(), received_on=timezone.now(), content_sealed=b"x")
    grants_create_for_new_tip(tip=tip, tip_key=new_tip_key(), include_pipeline=True)
    [grant] = pipeline_grants()
    old_tail = bytes(grant.wrapped_key)[-48:]

    def rows_holding_it() -> int:
        with connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
            cursor.execute(
                "SELECT pg_relation_size('tipline_grant') / current_setting('block_size')::int"
            )
            blocks = cursor.fetchone()[0]
            found = 0
            for block in range(blocks):
                # Every line pointer of the page, live or dead, with the row's bytes.
                cursor.execute(
                    "SELECT count(*) FROM heap_page_items(get_raw_page('tipline_grant', %s)) "
                    "WHERE position(%s::bytea in t_data) > 0",
                    [block, old_tail],
                )
                found += cursor.fetchone()[0]
            return found

    assert rows_holding_it() == 1
    pipeline_key_rotate(actor=COMMAND_LINE_ACTOR)
    # Deleted and vacuumed: no row, live or dead, holds it any more.
    assert rows_holding_it() == 0
